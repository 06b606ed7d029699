// The Winograd F(4x4, 3x3) tile transforms built for AVX2 (one 8-lane loop is one
// ymm operation), and the gather / scatter of 8 horizontally adjacent tiles.
// No FMA contraction, so the results equal the baseline build's.
#if defined(__clang__)
#pragma clang fp contract(off)
#else
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>

#include "ops/winograd_transforms.h"
#include "ops/x86/transpose_avx2.h"

namespace cvt {

void winograd_input_transform__avx2(const float (*d)[8], float (*v)[8]) noexcept { winograd::input_transform(d, v); }
void winograd_output_transform__avx2(const float (*m)[8], float (*o)[8]) noexcept { winograd::output_transform(m, o); }

// Tile l's window column j is x[4l + j] on every row: the four 4-float groups of
// two vectors transpose with unpacks and shuffles (per 128-bit lane, so the tiles
// come out as 0 2 4 6 1 3 5 7 and one permute puts them in order). Columns 4 and
// 5 are columns 0 and 1 one tile on, plus x[32] / x[33] for the last tile.
// Vector stores only: the transform's loads then forward from them; 288 scalar
// stores per group used to bound the input pass.
void winograd_gather8__avx2(const float* x, int64_t ld, float (*d)[8]) noexcept {
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i next = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
  for (int i = 0; i < winograd::kA; ++i, x += ld) {
    const __m256 a0 = _mm256_loadu_ps(x), a1 = _mm256_loadu_ps(x + 8);
    const __m256 a2 = _mm256_loadu_ps(x + 16), a3 = _mm256_loadu_ps(x + 24);
    const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
    const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
    const __m256 c0 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), order);
    const __m256 c1 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)), order);
    const __m256 c2 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), order);
    const __m256 c3 = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)), order);
    const __m256 c4 = _mm256_blend_ps(_mm256_permutevar8x32_ps(c0, next), _mm256_set1_ps(x[32]), 0x80);
    const __m256 c5 = _mm256_blend_ps(_mm256_permutevar8x32_ps(c1, next), _mm256_set1_ps(x[33]), 0x80);
    float(*row)[8] = d + i * winograd::kA;
    _mm256_store_ps(row[0], c0), _mm256_store_ps(row[1], c1), _mm256_store_ps(row[2], c2);
    _mm256_store_ps(row[3], c3), _mm256_store_ps(row[4], c4), _mm256_store_ps(row[5], c5);
  }
}

// The gather's shuffles run backwards: output row i of the 8 tiles is 32
// contiguous values. Then + bias (+ residual) and the activation, in the scalar
// path's order; clamp keeps a NaN as its comparisons do.
void winograd_scatter8__avx2(const float (*o)[8], float bias, const Epilogue& e, const float* residual, int64_t ld,
                             float* y) noexcept {
  const __m256i order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256 vb = _mm256_set1_ps(bias), lo = _mm256_set1_ps(e.lo), hi = _mm256_set1_ps(e.hi);
  const __m256 slope = _mm256_set1_ps(e.slope), zero = _mm256_setzero_ps();
  for (int i = 0; i < winograd::kT; ++i, y += ld) {
    const float(*row)[8] = o + i * winograd::kT;
    const __m256 u0 = _mm256_permutevar8x32_ps(_mm256_load_ps(row[0]), order);
    const __m256 u1 = _mm256_permutevar8x32_ps(_mm256_load_ps(row[1]), order);
    const __m256 u2 = _mm256_permutevar8x32_ps(_mm256_load_ps(row[2]), order);
    const __m256 u3 = _mm256_permutevar8x32_ps(_mm256_load_ps(row[3]), order);
    const __m256 t0 = _mm256_shuffle_ps(u0, u1, _MM_SHUFFLE(1, 0, 1, 0)), t2 = _mm256_shuffle_ps(u0, u1, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 t1 = _mm256_shuffle_ps(u2, u3, _MM_SHUFFLE(1, 0, 1, 0)), t3 = _mm256_shuffle_ps(u2, u3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 a[4] = {_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)),
                   _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(t2, t3, _MM_SHUFFLE(3, 1, 3, 1))};
    for (int q = 0; q < 4; ++q) {
      __m256 v = _mm256_add_ps(a[q], vb);
      if (residual) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + i * ld + 8 * q));
      if (e.kind == Epilogue::Kind::kClamp) {
        v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));  // MAXPS / MINPS return the second operand on NaN
      } else if (e.kind == Epilogue::Kind::kLeakyRelu) {
        v = _mm256_blendv_ps(v, _mm256_mul_ps(v, slope), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
      }
      _mm256_storeu_ps(y + 8 * q, v);
    }
  }
}

// Lanes to tiles with two 8x8 transposes (tile l's 16 outputs contiguous), then a
// tile row of 4 is one 128-bit operation, masked where the tile is cut short.
void winograd_scatter_tiles__avx2(const float (*o)[8], int lanes, const WinogradTileOut& t, float bias,
                                  const Epilogue& e, int64_t ld) noexcept {
  alignas(32) float tiles[8][16];
  for (int h = 0; h < 2; ++h) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_load_ps(o[8 * h + i]);
    x86::transpose8x8(r);
    for (int l = 0; l < 8; ++l) _mm256_store_ps(tiles[l] + 8 * h, r[l]);
  }
  const __m128 vb = _mm_set1_ps(bias), lo = _mm_set1_ps(e.lo), hi = _mm_set1_ps(e.hi);
  const __m128 slope = _mm_set1_ps(e.slope), zero = _mm_setzero_ps();
  for (int l = 0; l < lanes; ++l) {
    const bool whole = t.cols[l] == 4;
    const __m128i mask = _mm_cmpgt_epi32(_mm_set1_epi32(t.cols[l]), _mm_setr_epi32(0, 1, 2, 3));
    for (int i = 0; i < t.rows[l]; ++i) {
      __m128 v = _mm_add_ps(_mm_load_ps(tiles[l] + 4 * i), vb);
      if (t.residual[l]) {
        const float* r = t.residual[l] + i * ld;
        v = _mm_add_ps(v, whole ? _mm_loadu_ps(r) : _mm_maskload_ps(r, mask));
      }
      if (e.kind == Epilogue::Kind::kClamp) {
        v = _mm_min_ps(hi, _mm_max_ps(lo, v));  // MAXPS / MINPS return the second operand on NaN
      } else if (e.kind == Epilogue::Kind::kLeakyRelu) {
        v = _mm_blendv_ps(v, _mm_mul_ps(v, slope), _mm_cmplt_ps(v, zero));
      }
      float* y = t.y[l] + i * ld;
      if (whole) _mm_storeu_ps(y, v);
      else _mm_maskstore_ps(y, mask, v);
    }
  }
}

}  // namespace cvt
