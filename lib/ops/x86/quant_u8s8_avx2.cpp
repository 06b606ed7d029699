// The exact u8 x s8 pointwise kernel on vpmaddubsw (see ops/quant_u8s8.h): per
// 4-channel quad, vpmaddubsw makes int16 pair sums that cannot saturate (the
// weights were split at load), vpmaddwd with ones adds the two pairs into int32.
// Three instructions per 32 products where the int16 path needs four, on bytes
// straight from the input instead of widened int16.
#include <immintrin.h>

#include "ops/quant_u8s8.h"
#include "ops/x86/quant_requant_avx2.h"

namespace cvt {

void qgemm_u8s8_requant_4x16__avx2(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy) noexcept {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const int32_t* a32 = reinterpret_cast<const int32_t*>(t.a);  // one int32 = one row's 4 weights of a quad
  const uint8_t* b = t.b;
  for (int64_t q = 0; q < t.quads; ++q, a32 += 4, b += t.ldb) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32));
    __m256i w = _mm256_set1_epi32(a32[0]);
    c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, w), ones));
    c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(_mm256_maddubs_epi16(b1, w), ones));
    w = _mm256_set1_epi32(a32[1]);
    c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, w), ones));
    c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(_mm256_maddubs_epi16(b1, w), ones));
    w = _mm256_set1_epi32(a32[2]);
    c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, w), ones));
    c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(_mm256_maddubs_epi16(b1, w), ones));
    w = _mm256_set1_epi32(a32[3]);
    c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, w), ones));
    c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(_mm256_maddubs_epi16(b1, w), ones));
  }
  __m256i c[8] = {c00, c01, c10, c11, c20, c21, c30, c31};
  // The remainders: a * r fits int16 (|r| <= 128), widened into the sums.
  for (int i = 0; i < 4; ++i)
    for (int32_t e = t.rem_start[i]; e < t.rem_start[i + 1]; ++e) {
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.x + t.rem[e].k * t.ldx));
      const __m256i p = _mm256_mullo_epi16(_mm256_cvtepu8_epi16(raw), _mm256_set1_epi16(static_cast<int16_t>(t.rem[e].r)));
      c[2 * i] = _mm256_add_epi32(c[2 * i], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
      c[2 * i + 1] = _mm256_add_epi32(c[2 * i + 1], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(p, 1)));
    }
  x86::requant_store_4x16(c, rq, y, ldy);
}

void qinterleave4_u8__avx2(const uint8_t* const rows[4], int64_t n, uint8_t* dst) noexcept {
  const __m128i zero = _mm_setzero_si128();
  auto load = [&](int i, int64_t j) {
    return rows[i] ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[i] + j)) : zero;
  };
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m128i r0 = load(0, j), r1 = load(1, j), r2 = load(2, j), r3 = load(3, j);
    const __m128i a_lo = _mm_unpacklo_epi8(r0, r1), a_hi = _mm_unpackhi_epi8(r0, r1);  // (r0, r1) byte pairs
    const __m128i b_lo = _mm_unpacklo_epi8(r2, r3), b_hi = _mm_unpackhi_epi8(r2, r3);
    __m128i* out = reinterpret_cast<__m128i*>(dst + 4 * j);
    _mm_storeu_si128(out, _mm_unpacklo_epi16(a_lo, b_lo));  // pixels 0-3 as 4-byte quads
    _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(a_lo, b_lo));
    _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(a_hi, b_hi));
    _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(a_hi, b_hi));
  }
  if (j < n) {
    const uint8_t* tail[4];
    for (int i = 0; i < 4; ++i) tail[i] = rows[i] ? rows[i] + j : nullptr;
    qinterleave4_u8__scalar(tail, n - j, dst + 4 * j);
  }
}

}  // namespace cvt
