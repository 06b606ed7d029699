// Depthwise conv plane kernel for AVX2+FMA: 8 output columns per vector, four
// vectors in flight to cover FMA latency. The caller (ops/conv.cpp) pre-pads
// and phase-splits the input, so every tap is a contiguous load; tail is scalar.
// Tap offsets are computed once per plane (tap() divides).
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

namespace {

// Up to this many taps (an 8x8 kernel) the tap offsets and weights are hoisted out of the loops.
constexpr int64_t kMaxHoistedTaps = 64;

// Offsets relative to the row of output oy (x_padded + oy * row_step); `tap()` has an integer
// division and a modulo, far too slow to evaluate per tap and per 8 outputs.
template <typename TapFn>
void dw_plane_rows(const DepthwisePlane& d, const Epilogue& e, int64_t taps, const float* w, int64_t row_step,
                   const TapFn& offset) noexcept {
  const __m256 bias = _mm256_set1_ps(d.bias);
  for (int64_t oy = 0; oy < d.p; ++oy) {
    float* yrow = d.y + oy * d.q;
    const float* xrow = d.x_padded + oy * row_step;
    int64_t ox = 0;
    for (; ox + 32 <= d.q; ox += 32) {
      __m256 acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
      for (int64_t t = 0; t < taps; ++t) {
        const __m256 wv = _mm256_set1_ps(w[t]);
        const float* x = xrow + offset(t) + ox;
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
      for (int64_t t = 0; t < taps; ++t)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(xrow + offset(t) + ox), _mm256_set1_ps(w[t]), acc);
      _mm256_storeu_ps(yrow + ox, apply_epilogue(acc, e));
    }
    for (; ox < d.q; ++ox) {
      float acc = d.bias;
      for (int64_t t = 0; t < taps; ++t) acc = std::fma(xrow[offset(t) + ox], w[t], acc);
      yrow[ox] = e.apply(acc);
    }
  }
}

}  // namespace

void conv_dw_f32_plane__avx2(const DepthwisePlane& d, const Epilogue& e) noexcept {
  const int64_t taps = d.r * d.s, row_step = d.stride_h * d.row_len;
  if (taps <= kMaxHoistedTaps) {
    int64_t off[kMaxHoistedTaps];
    for (int64_t r = 0; r < d.r; ++r)
      for (int64_t s = 0; s < d.s; ++s) off[r * d.s + s] = d.tap(0, r, s);
    dw_plane_rows(d, e, taps, d.w, row_step, [&](int64_t t) { return off[t]; });
  } else {
    dw_plane_rows(d, e, taps, d.w, row_step, [&](int64_t t) { return d.tap(0, t / d.s, t % d.s); });
  }
}

}  // namespace cvt
