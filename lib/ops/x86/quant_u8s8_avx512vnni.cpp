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
#include "ops/x86/quant_requant_avx512.h"
#include "ops/x86/vnni_avx512.h"

namespace cvt {
namespace {

template <int Vecs>
inline void tile(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy, int64_t pixels) {
  // One flat array, loops fully unrolled (as the float tile does): with c[4][Vecs]
  // GCC 12 kept the 16 sums in stack slots around the loop.
  __m512i c[4 * Vecs];
#pragma GCC unroll 16
  for (int e = 0; e < 4 * Vecs; ++e) c[e] = _mm512_set1_epi32(rq.bias ? rq.bias[e / Vecs] : 0);  // the bias first
  const int32_t* a32 = reinterpret_cast<const int32_t*>(t.a);  // one int32 = one row's 4 weights of a quad
  const uint8_t* b = t.b;
  for (int64_t q = 0; q < t.quads; ++q, a32 += 4, b += t.ldb) {
    __m512i bv[Vecs];
#pragma GCC unroll 4
    for (int v = 0; v < Vecs; ++v) bv[v] = _mm512_loadu_si512(b + 64 * v);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512i w = _mm512_set1_epi32(a32[i]);
#pragma GCC unroll 4
      for (int v = 0; v < Vecs; ++v) c[i * Vecs + v] = x86::dpbusd(c[i * Vecs + v], bv[v], w);
    }
  }
  // After requant16_zp_relative the zero point is added; the sum is then in the
  // output range, so narrowing (saturating or truncating) is exact.
  const float lo = float((rq.is_signed ? -128 : 0) - rq.zp), hi = float((rq.is_signed ? 127 : 255) - rq.zp);
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  if constexpr (Vecs == 4) {
    // 64 pixels a row: two int32 -> int16 packs, the zero point added in int16, one
    // int16 -> 8-bit pack; the packs work per 128-bit lane, so lane L holds dword L
    // of each of the 4 vectors, put back in order by one dword permute.
    const __m512i zp16 = _mm512_set1_epi16(static_cast<int16_t>(rq.zp));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __mmask64 keep = pixels >= 64 ? ~__mmask64(0) : (__mmask64(1) << pixels) - 1;
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512 scale = _mm512_set1_ps(rq.scale[i]);
      __m512i r[4];
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) r[v] = x86::requant16_zp_relative(c[i * 4 + v], scale, vlo, vhi);
      const __m512i h01 = _mm512_adds_epi16(_mm512_packs_epi32(r[0], r[1]), zp16);
      const __m512i h23 = _mm512_adds_epi16(_mm512_packs_epi32(r[2], r[3]), zp16);
      const __m512i bytes = rq.is_signed ? _mm512_packs_epi16(h01, h23) : _mm512_packus_epi16(h01, h23);
      const __m512i out = _mm512_permutexvar_epi32(order, bytes);
      if (pixels >= 64)
        _mm512_storeu_si512(y + i * ldy, out);
      else
        _mm512_mask_storeu_epi8(y + i * ldy, keep, out);
    }
  } else {
    const __m512i vzp = _mm512_set1_epi32(rq.zp);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m512 scale = _mm512_set1_ps(rq.scale[i]);
#pragma GCC unroll 4
      for (int v = 0; v < Vecs; ++v) {
        const __m128i bytes = x86::requant16_bytes(c[i * Vecs + v], scale, vlo, vhi, vzp);
        uint8_t* out = y + i * ldy + 16 * v;
        const int64_t n = std::min<int64_t>(16, pixels - 16 * v);
        if (n == 16)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
        else
          _mm_mask_storeu_epi8(out, static_cast<__mmask16>((1u << n) - 1), bytes);
      }
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
