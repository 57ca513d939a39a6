// See include/CSIMD.h. AVX2 (every machine Lantern targets: the package builds for Haswell): 8-lane
// vmaxps over the block, one horizontal reduction at the end; a scalar tail for n % 8.
#include "CSIMD.h"
#include <immintrin.h>

__attribute__((target("avx2"))) float lantern_max_f32(const float *p, int64_t n) {
  int64_t i = 0;
  float m = p[0];
  if (n >= 8) {
    __m256 a = _mm256_loadu_ps(p);
    for (i = 8; i + 8 <= n; i += 8) a = _mm256_max_ps(a, _mm256_loadu_ps(p + i));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    m = _mm_cvtss_f32(h);
  }
  for (; i < n; i++) m = p[i] > m ? p[i] : m;
  return m;
}
