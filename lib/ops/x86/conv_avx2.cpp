// Depthwise conv plane kernel for AVX2+FMA: 8 outputs per vector, up to four
// vectors in flight to cover FMA latency, the remainder included. The caller
// (ops/conv.cpp) pre-pads and phase-splits the input (PhaseLayout), so a whole
// plane is one run and every tap a contiguous load; the tail goes 8 wide into
// the run's slack, so a 7x7 plane (63 outputs) costs 8 vectors, not 7 vectors
// and 63 scalar sums.
#include <immintrin.h>

#include <algorithm>

#include "ops/conv.h"
#include "ops/x86/epilogue_avx2.h"
#include "ops/x86/transpose_avx2.h"

namespace cvt {

using x86::apply_epilogue;
using x86::transpose8x8;

void deinterleave2_f32__avx2(const float* src, int64_t pairs, float* even, float* odd) noexcept {
  // The last vector overlaps the one before it (same values rewritten), so a
  // row of 28 or 7 pairs has no scalar tail.
  if (pairs >= 8) {
    const auto eight = [&](int64_t i) {
      const __m256 a = _mm256_loadu_ps(src + 2 * i), b = _mm256_loadu_ps(src + 2 * i + 8);
      // shuffle_ps picks per 128-bit lane (a0 a2 b0 b2 | a4 a6 b4 b6); the 64-bit permute restores the order.
      const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
      const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
      _mm256_storeu_ps(even + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
      _mm256_storeu_ps(odd + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
    };
    int64_t i = 0;
    for (; i + 8 <= pairs; i += 8) eight(i);
    if (i < pairs) eight(pairs - 8);
  } else if (pairs >= 4) {
    const auto four = [&](int64_t i) {
      const __m128 a = _mm_loadu_ps(src + 2 * i), b = _mm_loadu_ps(src + 2 * i + 4);
      _mm_storeu_ps(even + i, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
      _mm_storeu_ps(odd + i, _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    };
    four(0);
    four(pairs - 4);
  } else {
    for (int64_t i = 0; i < pairs; ++i) even[i] = src[2 * i], odd[i] = src[2 * i + 1];
  }
}

namespace {

// NV vectors of outputs from i on, NV independent FMA chains.
template <int NV>
inline void dw_vectors(const DepthwisePlane& d, int64_t i, const Epilogue& e) {
  __m256 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_set1_ps(d.bias);
  for (int64_t t = 0; t < d.taps; ++t) {
    const __m256 wv = _mm256_set1_ps(d.w[t]);
    const float* x = d.x + d.offset[t] + i;
    for (int v = 0; v < NV; ++v) acc[v] = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8 * v), wv, acc[v]);
  }
  for (int v = 0; v < NV; ++v) _mm256_storeu_ps(d.y + i + 8 * v, apply_epilogue(acc[v], e));
}

}  // namespace

void conv_dw_f32_plane__avx2(const DepthwisePlane& d, const Epilogue& e) noexcept {
  int64_t i = 0;
  for (; i + 32 <= d.n; i += 32) dw_vectors<4>(d, i, e);
  // The rest (up to 31 outputs) as independent chains too: one chain of 9 taps
  // per vector would wait on FMA latency. The last vector runs into the slack.
  switch ((d.n - i + 7) / 8) {
    case 4: dw_vectors<4>(d, i, e); break;
    case 3: dw_vectors<3>(d, i, e); break;
    case 2: dw_vectors<2>(d, i, e); break;
    case 1: dw_vectors<1>(d, i, e); break;
    default: break;
  }
}

namespace {

inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

void pixel_major_to_nchw_f32__avx2(const PixelMajorOut& o, int64_t c0, int64_t c1, const Epilogue& e) noexcept {
  // 8 channels x 8 pixels at a time, ragged edges through masks, so every value
  // takes the same vector arithmetic.
  for (int64_t c = c0; c < c1; c += 8) {
    const int64_t nc = std::min<int64_t>(8, c1 - c);
    const __m256i channel_mask = first_lanes(nc);
    for (int64_t i = o.i0; i < o.i1; i += 8) {
      const int64_t np = std::min<int64_t>(8, o.i1 - i);
      const __m256i pixel_mask = first_lanes(np);
      __m256 r[8];
      for (int j = 0; j < 8; ++j)
        r[j] = j < np ? _mm256_maskload_ps(o.yt + (i - o.i0 + j) * o.ldc + c, channel_mask) : _mm256_setzero_ps();
      transpose8x8(r);
      for (int j = 0; j < nc; ++j) {
        __m256 v = r[j];
        if (o.bias) v = _mm256_add_ps(v, _mm256_set1_ps(o.bias[c + j]));
        if (o.residual) v = _mm256_add_ps(v, _mm256_maskload_ps(o.residual + (c + j) * o.pixels + i, pixel_mask));
        _mm256_maskstore_ps(o.y + (c + j) * o.pixels + i, pixel_mask, apply_epilogue(v, e));
      }
    }
  }
}

}  // namespace cvt
