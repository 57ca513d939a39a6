// A small shim over oneDNN's bf16 matmul, loaded at run time with dlopen so that Lantern builds and
// runs without oneDNN (Debian's libdnnl2 is needed only for `compute: bf16`). One primitive per GEMM
// shape: out[m,n] (fp32) = inp[m,k] (bf16) · W[n,k]ᵀ (bf16, nn.Linear layout), fp32 accumulation.
#ifndef LANTERN_COMPUTE_ONEDNN_H
#define LANTERN_COMPUTE_ONEDNN_H
#include <stddef.h>
#include <stdint.h>

/// Loads libdnnl.so.2 and makes its CPU engine (oneDNN's OpenMP runtime runs `threads` threads,
/// waiting passively between calls). Returns 0, or -1 with a message in `error`. Idempotent.
int lantern_onednn_open(int threads, char *error, size_t error_length);

/// A matmul primitive for one shape; NULL (with a message) if oneDNN cannot make one.
void *lantern_onednn_matmul_create(int64_t m, int64_t n, int64_t k, char *error, size_t error_length);

/// The implementation oneDNN chose for `matmul` (e.g. "brg:avx512_core_amx_bf16").
const char *lantern_onednn_matmul_implementation(void *matmul);

/// Runs `matmul` on bf16 `inp` [m,k] and bf16 `weight` [n,k] into fp32 `out` [m,n]. Returns 0 or -1.
int lantern_onednn_matmul_run(void *matmul, const uint16_t *inp, const uint16_t *weight, float *out);

#endif
