// Depthwise conv plane kernel for AVX2+FMA: 8 output columns per vector, four
// vectors in flight to cover FMA latency. Input is pre-padded by the caller
// (ops/conv.cpp), so there are no bounds checks; the tail is scalar.
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

// 8 inputs at x[0], x[stride], ... x[7*stride]. Stride 2 reads 16 floats
// (the caller leaves slack after the plane).
template <int Stride>
inline __m256 load_strided(const float* x, int64_t stride) {
  if constexpr (Stride == 1) {
    return _mm256_loadu_ps(x);
  } else if constexpr (Stride == 2) {
    const __m256 a = _mm256_loadu_ps(x), b = _mm256_loadu_ps(x + 8);
    const __m256 evens = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(evens), _MM_SHUFFLE(3, 1, 2, 0)));
  } else {
    return _mm256_setr_ps(x[0], x[stride], x[2 * stride], x[3 * stride], x[4 * stride], x[5 * stride],
                          x[6 * stride], x[7 * stride]);
  }
}

template <int Stride>
void plane(const DepthwisePlane& d, const Epilogue& e) noexcept {
  const int64_t sw = Stride > 0 ? Stride : d.stride_w;
  const __m256 bias = _mm256_set1_ps(d.bias);
  for (int64_t oy = 0; oy < d.p; ++oy) {
    float* yrow = d.y + oy * d.q;
    const float* xrow0 = d.x_padded + oy * d.stride_h * d.padded_w;
    int64_t ox = 0;
    for (; ox + 32 <= d.q; ox += 32) {
      __m256 acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
      for (int64_t r = 0; r < d.r; ++r)
        for (int64_t s = 0; s < d.s; ++s) {
          const __m256 wv = _mm256_set1_ps(d.w[r * d.s + s]);
          const float* x = xrow0 + r * d.dilation_h * d.padded_w + s * d.dilation_w + ox * sw;
          acc0 = _mm256_fmadd_ps(load_strided<Stride>(x, sw), wv, acc0);
          acc1 = _mm256_fmadd_ps(load_strided<Stride>(x + 8 * sw, sw), wv, acc1);
          acc2 = _mm256_fmadd_ps(load_strided<Stride>(x + 16 * sw, sw), wv, acc2);
          acc3 = _mm256_fmadd_ps(load_strided<Stride>(x + 24 * sw, sw), wv, acc3);
        }
      _mm256_storeu_ps(yrow + ox, apply_epilogue(acc0, e));
      _mm256_storeu_ps(yrow + ox + 8, apply_epilogue(acc1, e));
      _mm256_storeu_ps(yrow + ox + 16, apply_epilogue(acc2, e));
      _mm256_storeu_ps(yrow + ox + 24, apply_epilogue(acc3, e));
    }
    for (; ox + 8 <= d.q; ox += 8) {
      __m256 acc = bias;
      for (int64_t r = 0; r < d.r; ++r)
        for (int64_t s = 0; s < d.s; ++s) {
          const float* x = xrow0 + r * d.dilation_h * d.padded_w + s * d.dilation_w + ox * sw;
          acc = _mm256_fmadd_ps(load_strided<Stride>(x, sw), _mm256_set1_ps(d.w[r * d.s + s]), acc);
        }
      _mm256_storeu_ps(yrow + ox, apply_epilogue(acc, e));
    }
    for (; ox < d.q; ++ox) {
      float acc = d.bias;
      for (int64_t r = 0; r < d.r; ++r)
        for (int64_t s = 0; s < d.s; ++s)
          acc = std::fma(xrow0[r * d.dilation_h * d.padded_w + s * d.dilation_w + ox * sw], d.w[r * d.s + s], acc);
      yrow[ox] = e.apply(acc);
    }
  }
}

}  // namespace

void conv_dw_f32_plane__avx2(const DepthwisePlane& d, const Epilogue& e) noexcept {
  if (d.stride_w == 1)
    plane<1>(d, e);
  else if (d.stride_w == 2)
    plane<2>(d, e);
  else
    plane<0>(d, e);
}

}  // namespace cvt
