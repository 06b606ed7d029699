// Depthwise conv plane kernel for AVX2+FMA: 8 outputs per vector, four vectors
// in flight to cover FMA latency. The caller (ops/conv.cpp) pre-pads and
// phase-splits the input (PhaseLayout), so a whole plane is one run and every
// tap a contiguous load; the tail goes 8 wide into the run's slack, so a 7x7
// plane (63 outputs) costs 8 vectors, not 7 vectors and 63 scalar sums.
#include <immintrin.h>

#include "ops/conv.h"
#include "ops/x86/exp_avx2.h"

namespace cvt {
namespace {

inline __m256 apply_epilogue(__m256 v, const Epilogue& e) {
  if (e.kind == Epilogue::Kind::kClamp) {
    v = _mm256_max_ps(v, _mm256_set1_ps(e.lo));
    v = _mm256_min_ps(v, _mm256_set1_ps(e.hi));
  } else if (e.kind == Epilogue::Kind::kLeakyRelu) {
    const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    v = _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(e.slope)), neg);
  } else if (e.kind == Epilogue::Kind::kSilu) {
    v = x86::silu256(v);
  }
  return v;
}

}  // namespace

void deinterleave2_f32__avx2(const float* src, int64_t pairs, float* even, float* odd) noexcept {
  int64_t i = 0;
  for (; i + 8 <= pairs; i += 8) {
    const __m256 a = _mm256_loadu_ps(src + 2 * i), b = _mm256_loadu_ps(src + 2 * i + 8);
    // shuffle_ps picks per 128-bit lane (a0 a2 b0 b2 | a4 a6 b4 b6); the 64-bit permute restores the order.
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(even + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
    _mm256_storeu_ps(odd + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
  }
  for (; i < pairs; ++i) even[i] = src[2 * i], odd[i] = src[2 * i + 1];
}

void conv_dw_f32_plane__avx2(const DepthwisePlane& d, const Epilogue& e) noexcept {
  const __m256 bias = _mm256_set1_ps(d.bias);
  const int64_t taps = d.taps, n = d.n;
  const int64_t* off = d.offset;
  const float* w = d.w;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
    for (int64_t t = 0; t < taps; ++t) {
      const __m256 wv = _mm256_set1_ps(w[t]);
      const float* x = d.x + off[t] + i;
      acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x), wv, acc0);
      acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), wv, acc1);
      acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 16), wv, acc2);
      acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + 24), wv, acc3);
    }
    _mm256_storeu_ps(d.y + i, apply_epilogue(acc0, e));
    _mm256_storeu_ps(d.y + i + 8, apply_epilogue(acc1, e));
    _mm256_storeu_ps(d.y + i + 16, apply_epilogue(acc2, e));
    _mm256_storeu_ps(d.y + i + 24, apply_epilogue(acc3, e));
  }
  for (; i + 8 <= n; i += 8) {
    __m256 acc = bias;
    for (int64_t t = 0; t < taps; ++t) acc = _mm256_fmadd_ps(_mm256_loadu_ps(d.x + off[t] + i), _mm256_set1_ps(w[t]), acc);
    _mm256_storeu_ps(d.y + i, apply_epilogue(acc, e));
  }
  if (i < n) {  // the tail 8 wide: x and y have kDepthwiseSlack values past n
    __m256 acc = bias;
    for (int64_t t = 0; t < taps; ++t) acc = _mm256_fmadd_ps(_mm256_loadu_ps(d.x + off[t] + i), _mm256_set1_ps(w[t]), acc);
    _mm256_storeu_ps(d.y + i, apply_epilogue(acc, e));
  }
}

}  // namespace cvt
