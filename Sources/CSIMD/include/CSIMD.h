// Small vector helpers Swift cannot express at full speed (a horizontal max reduction compiles to
// per-lane code from Swift's SIMD types; in C it is a few AVX2 intrinsics).
#ifndef LANTERN_CSIMD_H
#define LANTERN_CSIMD_H
#include <stdint.h>

/// The largest of `n` finite floats at `p` (n ≥ 1). NaNs are not allowed (callers check inputs).
float lantern_max_f32(const float *p, int64_t n);

#endif
