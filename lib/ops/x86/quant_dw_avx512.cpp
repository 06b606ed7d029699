// The int8 depthwise row with fused requantisation on AVX-512BW: 32 outputs per
// step where the AVX2 kernel (x86/quant_avx2.cpp) makes 16, same arithmetic
// (tap pairs through vpmaddwd, int32 sums, then requantize()).
#include <immintrin.h>

// GCC 12's AVX-512 conversion and min/max intrinsics pass an undefined operand
// that trips a false -W(maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "ops/quant.h"
#include "ops/x86/quant_requant_avx512.h"

namespace cvt {
namespace {

// A channel's taps set up once: weights paired (t, t + 1) for vpmaddwd (an odd
// last tap pairs with 0) and broadcast; kTaps > 0 fixes the count (3x3 unrolled).
template <int kTaps>
struct DwTaps512 {
  static constexpr int kMax = kTaps > 0 ? kTaps : 64;  // use_direct_depthwise_q caps taps at 64
  __m512i pair[(kMax + 1) / 2];
  int64_t offset[kMax];
  int taps;
  DwTaps512(const int64_t* tap_offset, const int16_t* w, int n) : taps(kTaps > 0 ? kTaps : n) {
    for (int t = 0; t < taps; ++t) offset[t] = tap_offset[t];
    for (int t = 0; t < taps; t += 2) {
      const int32_t hi = t + 1 < taps ? int32_t(uint16_t(w[t + 1])) << 16 : 0;
      pair[t / 2] = _mm512_set1_epi32(int32_t(uint16_t(w[t])) | hi);
    }
  }
};

// The sums of outputs ox..ox+31 (only the first 16 loaded when `half`): unpacklo/hi
// work per 128-bit lane, so lo holds outputs 0-3, 8-11, 16-19, 24-27 and hi 4-7,
// 12-15, 20-23, 28-31.
template <int kTaps>
inline void sums32(const int16_t* x, const DwTaps512<kTaps>& d, int64_t ox, __mmask32 load, __m512i& lo, __m512i& hi) {
  const int taps = kTaps > 0 ? kTaps : d.taps;
  lo = _mm512_setzero_si512(), hi = lo;
  for (int t = 0; t < taps; t += 2) {
    const __m512i x0 = _mm512_maskz_loadu_epi16(load, x + d.offset[t] + ox);
    const __m512i x1 = t + 1 < taps ? _mm512_maskz_loadu_epi16(load, x + d.offset[t + 1] + ox) : _mm512_setzero_si512();
    lo = _mm512_add_epi32(lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(x0, x1), d.pair[t / 2]));
    hi = _mm512_add_epi32(hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(x0, x1), d.pair[t / 2]));
  }
}

template <int kTaps>
void dw_requant_row(const int16_t* x, const DwTaps512<kTaps>& d, int64_t n, const QDwRequant& rq, uint8_t* y) {
  const float lo = float((rq.is_signed ? -128 : 0) - rq.zp), hi = float((rq.is_signed ? 127 : 255) - rq.zp);
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), scale = _mm512_set1_ps(rq.scale);
  const __m512i vzp = _mm512_set1_epi32(rq.zp), bias = _mm512_set1_epi32(rq.bias);
  for (int64_t ox = 0; ox < n; ox += 32) {
    const bool half = ox + 32 > n;  // n is a multiple of 16: the last step may hold 16
    __m512i s_lo, s_hi;
    sums32(x, d, ox, half ? __mmask32(0xFFFF) : ~__mmask32(0), s_lo, s_hi);
    const __m128i b_lo = x86::requant16_bytes(_mm512_add_epi32(s_lo, bias), scale, vlo, vhi, vzp);  // 0-3, 8-11, 16-19, 24-27
    const __m128i b_hi = x86::requant16_bytes(_mm512_add_epi32(s_hi, bias), scale, vlo, vhi, vzp);  // 4-7, 12-15, 20-23, 28-31
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + ox), _mm_unpacklo_epi32(b_lo, b_hi));
    if (!half) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + ox + 16), _mm_unpackhi_epi32(b_lo, b_hi));
  }
}

}  // namespace

void qdw_requant_row__avx512(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t n,
                             const QDwRequant& rq, uint8_t* y) noexcept {
  if (taps == 9) dw_requant_row(x, DwTaps512<9>(tap_offset, w, 9), n, rq, y);
  else dw_requant_row(x, DwTaps512<0>(tap_offset, w, taps), n, rq, y);
}

}  // namespace cvt
