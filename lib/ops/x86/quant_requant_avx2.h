// Requantisation of eight int32 sums on AVX2, shared by the int16 and the u8 x s8
// kernels (both files are built with the AVX2 flags).
#pragma once
#include <immintrin.h>

namespace cvt::x86 {

// requantize() of eight int32 sums (bias already added): the float result minus
// the zero point, clamped, rounded half to even, plus the zero point.
inline __m256i requantize8(__m256i v, __m256 scale, __m256 lo, __m256 hi, __m256i zp) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), scale);
  f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);  // same order as the scalar requantize()
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);  // cvtps2dq rounds half to even
}

// Four rows of 16 sums (row i: c[2i], c[2i + 1]) + bias, requantised, to y rows ldy apart.
template <class Rows>
inline void requant_store_4x16(const __m256i c[8], const Rows& rq, uint8_t* y, int64_t ldy) {
  const float lo = float((rq.is_signed ? -128 : 0) - rq.zp), hi = float((rq.is_signed ? 127 : 255) - rq.zp);
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256i vzp = _mm256_set1_epi32(rq.zp);
  for (int i = 0; i < 4; ++i) {
    const __m256i bias = _mm256_set1_epi32(rq.bias ? rq.bias[i] : 0);
    const __m256 scale = _mm256_set1_ps(rq.scale[i]);
    const __m256i r0 = requantize8(_mm256_add_epi32(c[2 * i], bias), scale, vlo, vhi, vzp);
    const __m256i r1 = requantize8(_mm256_add_epi32(c[2 * i + 1], bias), scale, vlo, vhi, vzp);
    const __m256i s16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);  // 16 int16 in order
    const __m128i s16lo = _mm256_castsi256_si128(s16), s16hi = _mm256_extracti128_si256(s16, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i * ldy),
                     rq.is_signed ? _mm_packs_epi16(s16lo, s16hi) : _mm_packus_epi16(s16lo, s16hi));
  }
}

}  // namespace cvt::x86
