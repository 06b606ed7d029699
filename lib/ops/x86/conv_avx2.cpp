// Depthwise conv plane kernel for AVX2+FMA: 8 output columns per vector, four
// vectors in flight to cover FMA latency. The caller (ops/conv.cpp) pre-pads
// and phase-splits the input, so every tap is a contiguous load; tail is scalar.
#include <immintrin.h>

#include <cmath>

#include "ops/conv.h"

namespace cvt {
namespace {

inline __m256 apply_epilogue(__m256 v, const Epilogue& e) {
  if (e.kind == Epilogue::Kind::kClamp) {
    v = _mm256_max_ps(v, _mm256_set1_ps(e.lo));
    v = _mm256_min_ps(v, _mm256_set1_ps(e.hi));
  } else if (e.kind == Epilogue::Kind::kLeakyRelu) {
    const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    v = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(e.slope)), neg);
  }
  return v;
}

}  // namespace

void conv_dw_f32_plane__avx2(const DepthwisePlane& d, const Epilogue& e) noexcept {
  const __m256 bias = _mm256_set1_ps(d.bias);
  for (int64_t oy = 0; oy < d.p; ++oy) {
    float* yrow = d.y + oy * d.q;
    int64_t ox = 0;
    for (; ox + 32 <= d.q; ox += 32) {
      __m256 acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
      for (int64_t r = 0; r < d.r; ++r)
        for (int64_t s = 0; s < d.s; ++s) {
          const __m256 wv = _mm256_set1_ps(d.w[r * d.s + s]);
          const float* x = d.x_padded + d.tap(oy, r, s) + ox;
          acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x), wv, acc0);
          acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), wv, acc1);
          acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), wv, acc2);
          acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), wv, acc3);
        }
      _mm256_storeu_ps(yrow + ox, apply_epilogue(acc0, e));
      _mm256_storeu_ps(yrow + ox + 8, apply_epilogue(acc1, e));
      _mm256_storeu_ps(yrow + ox + 16, apply_epilogue(acc2, e));
      _mm256_storeu_ps(yrow + ox + 24, apply_epilogue(acc3, e));
    }
    for (; ox + 8 <= d.q; ox += 8) {
      __m256 acc = bias;
      for (int64_t r = 0; r < d.r; ++r)
        for (int64_t s = 0; s < d.s; ++s)
          acc = _mm256_fmadd_ps(_mm256_loadu_ps(d.x_padded + d.tap(oy, r, s) + ox),
                                _mm256_set1_ps(d.w[r * d.s + s]), acc);
      _mm256_storeu_ps(yrow + ox, apply_epilogue(acc, e));
    }
    for (; ox < d.q; ++ox) {
      float acc = d.bias;
      for (int64_t r = 0; r < d.r; ++r)
        for (int64_t s = 0; s < d.s; ++s) acc = std::fma(d.x_padded[d.tap(oy, r, s) + ox], d.w[r * d.s + s], acc);
      yrow[ox] = e.apply(acc);
    }
  }
}

}  // namespace cvt
