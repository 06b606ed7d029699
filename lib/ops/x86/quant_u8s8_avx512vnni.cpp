// The u8 x s8 pointwise tile on AVX-512 VNNI (see ops/quant_u8s8.h): per 4-channel
// quad, one vpdpbusd adds 16 pixels x 4 products into int32 for a row; 4 rows x 4
// vectors = 16 accumulators, the weights broadcast from the packed panel.
#include <immintrin.h>

// GCC 12's AVX-512 conversion and min/max intrinsics pass an undefined operand
// that trips a false -W(maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>

#include "ops/quant_u8s8.h"

namespace cvt {
namespace {

// acc += the four u8 x s8 products of each 32-bit lane. GCC 12 compiles the
// intrinsic with a register copy before and after every vpdpbusd (two moves per
// multiply-add in the tile loop, measured with perf annotate); the asm form ties
// the accumulator to its register.
inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
#if defined(__GNUC__) && !defined(__clang__)
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, u8, s8);
#endif
}

template <int Vecs>
inline void tile(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy, int64_t pixels) {
  __m512i c[4][Vecs];
  for (int i = 0; i < 4; ++i)
    for (int v = 0; v < Vecs; ++v) c[i][v] = _mm512_setzero_si512();
  const int32_t* a32 = reinterpret_cast<const int32_t*>(t.a);  // one int32 = one row's 4 weights of a quad
  const uint8_t* b = t.b;
  for (int64_t q = 0; q < t.quads; ++q, a32 += 4, b += t.ldb) {
    __m512i bv[Vecs];
    for (int v = 0; v < Vecs; ++v) bv[v] = _mm512_loadu_si512(b + 64 * v);
    for (int i = 0; i < 4; ++i) {
      const __m512i w = _mm512_set1_epi32(a32[i]);
      for (int v = 0; v < Vecs; ++v) c[i][v] = dpbusd(c[i][v], bv[v], w);
    }
  }
  // requantize(): the float product clamped to the range minus the zero point,
  // rounded half to even (vcvtps2dq), plus the zero point; then in range, so a
  // truncating narrow to bytes is exact.
  const float lo = float((rq.is_signed ? -128 : 0) - rq.zp), hi = float((rq.is_signed ? 127 : 255) - rq.zp);
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  const __m512i vzp = _mm512_set1_epi32(rq.zp);
  for (int i = 0; i < 4; ++i) {
    const __m512i bias = _mm512_set1_epi32(rq.bias ? rq.bias[i] : 0);
    const __m512 scale = _mm512_set1_ps(rq.scale[i]);
    for (int v = 0; v < Vecs; ++v) {
      __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(c[i][v], bias)), scale);
      f = _mm512_min_ps(_mm512_max_ps(f, vlo), vhi);
      const __m128i bytes = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), vzp));
      uint8_t* out = y + i * ldy + 16 * v;
      const int64_t n = std::min<int64_t>(16, pixels - 16 * v);
      if (n == 16)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
      else
        _mm_mask_storeu_epi8(out, static_cast<__mmask16>((1u << n) - 1), bytes);
    }
  }
}

}  // namespace

void qgemm_u8s8_requant_4x64__avx512vnni(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy,
                                         int64_t pixels) noexcept {
  switch ((pixels + 15) / 16) {
    case 1: tile<1>(t, rq, y, ldy, pixels); break;
    case 2: tile<2>(t, rq, y, ldy, pixels); break;
    case 3: tile<3>(t, rq, y, ldy, pixels); break;
    default: tile<4>(t, rq, y, ldy, pixels); break;
  }
}

}  // namespace cvt
