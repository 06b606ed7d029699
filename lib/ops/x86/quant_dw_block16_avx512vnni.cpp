// Depthwise 3x3 QLinearConv with 16 channels in the vector lanes (see ops/quant.h,
// qdw3x3_block16__avx512vnni): the block's NCHW planes go through 16x16 byte
// transposes into a zero-padded [row][column][16 channels] int16 copy, each output
// pixel is 6 vpdpwssd, and 16 output pixels go back through the same transpose.
#include <immintrin.h>

// GCC 12's AVX-512 conversion and min/max intrinsics pass an undefined operand
// that trips a false -W(maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>

#include "ops/quant.h"
#include "ops/x86/quant_requant_avx512.h"
#include "ops/x86/vnni_avx512.h"

namespace cvt {
namespace {

void transpose16x16_u8(const __m128i in[16], __m128i out[16]) {
  // Four unpack stages: bytes, words, dwords, qwords; afterwards out[j] byte i = in[i] byte j.
  __m128i a[16], b[16], c[16];
  for (int i = 0; i < 8; ++i) {  // a[i] / a[i + 8]: rows 2i, 2i+1 at columns 0-7 / 8-15, a word per column
    a[i] = _mm_unpacklo_epi8(in[2 * i], in[2 * i + 1]);
    a[i + 8] = _mm_unpackhi_epi8(in[2 * i], in[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // b[4g + i]: rows 4i..4i+3 at columns 4g..4g+3, a dword per column
    b[i] = _mm_unpacklo_epi16(a[2 * i], a[2 * i + 1]);
    b[i + 4] = _mm_unpackhi_epi16(a[2 * i], a[2 * i + 1]);
    b[i + 8] = _mm_unpacklo_epi16(a[2 * i + 8], a[2 * i + 9]);
    b[i + 12] = _mm_unpackhi_epi16(a[2 * i + 8], a[2 * i + 9]);
  }
  for (int g = 0; g < 4; ++g)  // c[4g + 2h + e]: rows 8h..8h+7 at columns 4g+2e, 4g+2e+1, a qword per column
    for (int h = 0; h < 2; ++h) {
      c[4 * g + 2 * h] = _mm_unpacklo_epi32(b[4 * g + 2 * h], b[4 * g + 2 * h + 1]);
      c[4 * g + 2 * h + 1] = _mm_unpackhi_epi32(b[4 * g + 2 * h], b[4 * g + 2 * h + 1]);
    }
  for (int g = 0; g < 4; ++g)
    for (int e = 0; e < 2; ++e) {
      out[4 * g + 2 * e] = _mm_unpacklo_epi64(c[4 * g + e], c[4 * g + 2 + e]);
      out[4 * g + 2 * e + 1] = _mm_unpackhi_epi64(c[4 * g + e], c[4 * g + 2 + e]);
    }
}

}  // namespace

void qdw3x3_block16__avx512vnni(const QDwBlock& blk, int64_t c0, int16_t* xpad) noexcept {
  const ConvParams& p = *blk.p;
  const int64_t C = p.in_channels, H = p.in[1], W = p.in[2], Ho = p.out[1], Wo = p.out[2];
  const int64_t sh = p.stride[1], sw = p.stride[2], pt = p.pad_begin[1], pl = p.pad_begin[2];
  const QDwBlockGeometry g = qdw3x3_block16_geometry(p);
  const int nc = static_cast<int>(std::min<int64_t>(16, C - c0));
  const __mmask16 lanes = static_cast<__mmask16>((1u << nc) - 1);

  // 1. The padded copy: 16 pixels of the 16 planes a step, transposed to 16 pixel vectors.
  const __m256i x_zp = _mm256_set1_epi16(static_cast<int16_t>(blk.x_zp));
  const int64_t pixels_in = H * W;
  for (int64_t p0 = 0; p0 < pixels_in; p0 += 16) {
    const int np = static_cast<int>(std::min<int64_t>(16, pixels_in - p0));
    const __mmask16 load = static_cast<__mmask16>((1u << np) - 1);
    __m128i rows[16], px[16];
    for (int i = 0; i < 16; ++i)
      rows[i] = i < nc ? _mm_maskz_loadu_epi8(load, blk.x + (c0 + i) * pixels_in + p0) : _mm_setzero_si128();
    transpose16x16_u8(rows, px);
    int64_t iy = p0 / W, ix = p0 % W;
    for (int j = 0; j < np; ++j) {
      const int64_t yy = iy + pt, xx = ix + pl;
      if (yy < g.rows && xx < g.cols) {
        const __m256i wide = blk.x_signed ? _mm256_cvtepi8_epi16(px[j]) : _mm256_cvtepu8_epi16(px[j]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(xpad + (yy * g.cols + xx) * 16), _mm256_sub_epi16(wide, x_zp));
      }
      if (++ix == W) ix = 0, ++iy;
    }
  }

  // 2. The block's weights: per kernel row, int16 pairs (kx 0, 1) and (kx 2, 0) per lane.
  __m512i w01[3], w2[3];
  const int32_t* pairs = blk.w_pairs + (c0 / 16) * 96;
  for (int ky = 0; ky < 3; ++ky) {
    w01[ky] = _mm512_loadu_si512(pairs + ky * 32);
    w2[ky] = _mm512_loadu_si512(pairs + ky * 32 + 16);
  }
  const __m512i bias = blk.bias ? _mm512_maskz_loadu_epi32(lanes, blk.bias + c0) : _mm512_setzero_si512();
  const __m512 scale = _mm512_maskz_loadu_ps(lanes, blk.scale + c0);
  const __m512 lo = _mm512_set1_ps(float((blk.y_signed ? -128 : 0) - blk.y_zp));
  const __m512 hi = _mm512_set1_ps(float((blk.y_signed ? 127 : 255) - blk.y_zp));
  const __m512i y_zp = _mm512_set1_epi32(blk.y_zp);
  // Words k and 16 + k side by side: the dword of lane k pairs pixel ix with ix + 1.
  alignas(64) int16_t pair_index[32];
  for (int k = 0; k < 16; ++k) pair_index[2 * k] = static_cast<int16_t>(k), pair_index[2 * k + 1] = static_cast<int16_t>(16 + k);
  const __m512i pair_words = _mm512_load_si512(pair_index);

  // 3. 16 output pixels a step, transposed back into the 16 output planes.
  const int64_t pixels_out = Ho * Wo;
  for (int64_t o0 = 0; o0 < pixels_out; o0 += 16) {
    const int no = static_cast<int>(std::min<int64_t>(16, pixels_out - o0));
    __m128i px[16], planes[16];
    int64_t oy = o0 / Wo, ox = o0 % Wo;
    for (int j = 0; j < 16; ++j) {
      if (j >= no) {
        px[j] = _mm_setzero_si128();
        continue;
      }
      const int16_t* at = xpad + (oy * sh * g.cols + ox * sw) * 16;
      // One short chain per kernel row (vpdpwssd waits on its accumulator), summed at the end.
      __m512i row_sum[3];
      for (int ky = 0; ky < 3; ++ky) {
        const int16_t* r = at + ky * g.cols * 16;
        const __m512i x01 = _mm512_permutexvar_epi16(pair_words, _mm512_loadu_si512(r));
        const __m512i x2 = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + 32)));
        row_sum[ky] = x86::dpwssd(x86::dpwssd(ky == 0 ? bias : _mm512_setzero_si512(), x01, w01[ky]), x2, w2[ky]);
      }  // x2's zero high half pairs with w2's 0
      const __m512i acc = _mm512_add_epi32(_mm512_add_epi32(row_sum[0], row_sum[1]), row_sum[2]);
      px[j] = x86::requant16_bytes(acc, scale, lo, hi, y_zp);
      if (++ox == Wo) ox = 0, ++oy;
    }
    transpose16x16_u8(px, planes);
    const __mmask16 store = static_cast<__mmask16>((1u << no) - 1);
    for (int i = 0; i < nc; ++i) _mm_mask_storeu_epi8(blk.y + (c0 + i) * pixels_out + o0, store, planes[i]);
  }
}

}  // namespace cvt
