// 2-D float MaxPool on AVX2: the vertical pass takes the max of whole input rows
// (contiguous, 8 wide); the horizontal pass reads each of those rows padded with
// -inf and split by stride phase, so every tap is a contiguous load. NaN handling
// is the generic path's MaxOp: a NaN in the window wins.
#include <immintrin.h>

#include <cstring>
#include <limits>

#include "ops/conv.h"
#include "ops/pool.h"

namespace cvt {
namespace {

inline float max_nan(float acc, float v) { return (acc > v || acc != acc) ? acc : v; }

inline __m256 max_nan(__m256 acc, __m256 v) {
  const __m256 m = _mm256_max_ps(acc, v);  // MAXPS: v when either is NaN
  return _mm256_blendv_ps(m, acc, _mm256_cmp_ps(acc, acc, _CMP_UNORD_Q));
}

int64_t padded_row_len(const MaxPool2dPlane& p) { return (p.out_w - 1) * p.sw + (p.kw - 1) * p.dw + 1; }
int64_t phase_len(const MaxPool2dPlane& p) { return p.out_w + (p.kw - 1) * p.dw / p.sw; }

}  // namespace

int64_t maxpool2d_scratch_floats(const MaxPool2dPlane& p) {
  return p.out_h * p.in_w + padded_row_len(p) + p.sw * phase_len(p) + 8;
}

void maxpool2d_plane_f32__avx2(const MaxPool2dPlane& p) noexcept {
  const int64_t W = p.in_w, row_len = padded_row_len(p), phase_w = phase_len(p);
  float* vert = p.scratch;                 // out_h rows of W: the vertical maxima
  float* padded = vert + p.out_h * W;      // one row with its -inf padding
  float* phases = padded + row_len;        // the same row split by stride phase (sw == 1: unused)
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    float* t = vert + oh * W;
    bool first = true;
    for (int64_t j = 0; j < p.kh; ++j) {
      const int64_t ih = oh * p.sh - p.ph + j * p.dh;
      if (ih < 0 || ih >= p.in_h) continue;
      const float* r = p.x + ih * W;
      if (first) {
        std::memcpy(t, r, sizeof(float) * W);
        first = false;
        continue;
      }
      int64_t i = 0;
      for (; i + 8 <= W; i += 8) _mm256_storeu_ps(t + i, max_nan(_mm256_loadu_ps(t + i), _mm256_loadu_ps(r + i)));
      for (; i < W; ++i) t[i] = max_nan(t[i], r[i]);
    }
  }
  // Tap j of output ow reads padded column ow * sw + j * dw: phase (j * dw) % sw, index ow + (j * dw) / sw.
  int64_t off[64];
  const int64_t taps = p.kw;
  for (int64_t j = 0; j < taps; ++j) off[j] = p.sw == 1 ? j * p.dw : ((j * p.dw) % p.sw) * phase_w + (j * p.dw) / p.sw;
  const float ninf = -std::numeric_limits<float>::infinity();
  const int64_t lead = std::min(p.pw, row_len), body = std::max<int64_t>(0, std::min(W, row_len - lead));
  for (int64_t i = 0; i < lead; ++i) padded[i] = ninf;
  for (int64_t i = lead + body; i < row_len; ++i) padded[i] = ninf;
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    std::memcpy(padded + lead, vert + oh * W, sizeof(float) * body);
    const float* src = padded;
    if (p.sw > 1) {
      if (p.sw == 2) {
        deinterleave2_f32__avx2(padded, row_len / 2, phases, phases + phase_w);
        if (row_len % 2) phases[row_len / 2] = padded[row_len - 1];
      } else {
        for (int64_t ph = 0; ph < p.sw; ++ph)
          for (int64_t pc = ph, i = 0; pc < row_len; pc += p.sw, ++i) phases[ph * phase_w + i] = padded[pc];
      }
      src = phases;
    }
    float* yrow = p.y + oh * p.out_w;
    int64_t ow = 0;
    for (; ow + 8 <= p.out_w; ow += 8) {
      __m256 acc = _mm256_loadu_ps(src + off[0] + ow);
      for (int64_t j = 1; j < taps; ++j) acc = max_nan(acc, _mm256_loadu_ps(src + off[j] + ow));
      _mm256_storeu_ps(yrow + ow, acc);
    }
    for (; ow < p.out_w; ++ow) {
      float acc = src[off[0] + ow];
      for (int64_t j = 1; j < taps; ++j) acc = max_nan(acc, src[off[j] + ow]);
      yrow[ow] = acc;
    }
  }
}

}  // namespace cvt
