// vpdpbusd / vpdpwssd for the AVX-512 VNNI kernels (only files built with the VNNI
// flags include this). GCC 12 compiles the intrinsics with a register copy before
// and after most instructions in a tile loop (perf annotate: two moves per
// multiply-add); the asm forms tie the accumulator to its register.
#pragma once
#include <immintrin.h>

namespace cvt::x86 {

// acc += the four u8 x s8 products of each 32-bit lane.
inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
#if defined(__GNUC__) && !defined(__clang__)
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, u8, s8);
#endif
}

// acc += lo16(a) * lo16(b) + hi16(a) * hi16(b) per 32-bit lane (signed int16).
inline __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
#if defined(__GNUC__) && !defined(__clang__)
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
#else
  return _mm512_dpwssd_epi32(acc, a, b);
#endif
}

}  // namespace cvt::x86
