// 2-D float MaxPool on AVX2 over a phase-split plane padded with -inf: the whole
// plane is one run of outputs (PhaseLayout), every tap a contiguous load. NaN
// handling is the generic path's MaxOp: a NaN in the window wins.
#include <immintrin.h>

#include "ops/pool.h"

namespace cvt {
namespace {

inline float max_nan(float acc, float v) { return (acc > v || acc != acc) ? acc : v; }

inline __m256 max_nan(__m256 acc, __m256 v) {
  const __m256 m = _mm256_max_ps(acc, v);  // MAXPS: v when either is NaN
  return _mm256_blendv_ps(m, acc, _mm256_cmp_ps(acc, acc, _CMP_UNORD_Q));
}

}  // namespace

void maxpool_run_f32__avx2(const float* x, const int64_t* offset, int64_t taps, int64_t n, float* y) noexcept {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a0 = _mm256_loadu_ps(x + offset[0] + i), a1 = _mm256_loadu_ps(x + offset[0] + i + 8);
    for (int64_t t = 1; t < taps; ++t) {
      a0 = max_nan(a0, _mm256_loadu_ps(x + offset[t] + i));
      a1 = max_nan(a1, _mm256_loadu_ps(x + offset[t] + i + 8));
    }
    _mm256_storeu_ps(y + i, a0);
    _mm256_storeu_ps(y + i + 8, a1);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 a = _mm256_loadu_ps(x + offset[0] + i);
    for (int64_t t = 1; t < taps; ++t) a = max_nan(a, _mm256_loadu_ps(x + offset[t] + i));
    _mm256_storeu_ps(y + i, a);
  }
  for (; i < n; ++i) {
    float a = x[offset[0] + i];
    for (int64_t t = 1; t < taps; ++t) a = max_nan(a, x[offset[t] + i]);
    y[i] = a;
  }
}

}  // namespace cvt
