// Requantisation of 16 int32 sums on AVX-512, shared by the int8 depthwise and the
// u8 x s8 kernels (their files are built with the AVX-512 flags).
#pragma once
#include <immintrin.h>

namespace cvt::x86 {

// requantize() of 16 sums (bias already in them): the float product clamped to
// [lo, hi] (the output range minus the zero point), rounded half to even
// (vcvtps2dq); int32 in [-255, 255], the zero point not yet added.
inline __m512i requant16_zp_relative(__m512i sum, __m512 scale, __m512 lo, __m512 hi) {
  const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(sum), scale);
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(f, lo), hi));  // same order as the scalar requantize()
}

// The same plus the zero point, as 16 bytes: in range by then, so the truncating narrow is exact.
inline __m128i requant16_bytes(__m512i sum, __m512 scale, __m512 lo, __m512 hi, __m512i zp) {
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(requant16_zp_relative(sum, scale, lo, hi), zp));
}

}  // namespace cvt::x86
