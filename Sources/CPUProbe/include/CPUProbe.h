// Timed FMA loops for the machine's nominal peak: register-only vfmadd chains with enough
// independent accumulators to hide FMA latency on every x86-64 core since Haswell. Each function is
// compiled for its own ISA (target attribute), so it may only be called when the CPU has it.
#ifndef LANTERN_CPU_PROBE_H
#define LANTERN_CPU_PROBE_H
#include <stdint.h>

/// Runs `iterations` rounds of 12 independent 8-wide FMAs (AVX2+FMA). Returns a value that
/// depends on every accumulator (so the loop cannot be removed). FLOPs = iterations × 12 × 8 × 2.
float lantern_fma_loop_avx2(int64_t iterations);

/// Runs `iterations` rounds of 12 independent 16-wide FMAs (AVX-512F). FLOPs = iterations × 12 × 16 × 2.
float lantern_fma_loop_avx512(int64_t iterations);

#endif
