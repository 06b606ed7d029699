// AVX2 int8 kernels on int16 operands (zero points already subtracted).
//
// Why vpmaddwd and not a bare vpmaddubsw: vpmaddubsw multiplies u8 x s8 and adds
// adjacent pairs into a *saturating* int16, so 255*127 + 255*127 = 64770 clips to
// 32767 and the result is no longer the exact integer the ONNX ops define.
// ONNX Runtime accepts that on AVX2 (and recommends reduce_range / 7-bit weights);
// we keep exact semantics instead: both operands are widened to int16 and
// vpmaddwd adds pairs of s16 x s16 products into int32, which cannot overflow
// for 8-bit inputs (2 * 255 * 255 < 2^31). Subtracting zero points up front also
// makes padding 0 and handles u8/s8 activations and weights alike.
#include <immintrin.h>

#include <cstring>

#include "ops/quant.h"
#include "ops/x86/quant_requant_avx2.h"

namespace cvt {

namespace {

// The 4 x 16 int32 tile of sum_kp a[kp][i] . b[kp][j] in eight registers (row i: c[2i], c[2i + 1]).
inline void qgemm_s16_tile_4x16(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, __m256i c[8]) {
  static_assert(kQgemmMr == 4 && kQgemmNr == 16, "tile shape");
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const int32_t* a32 = reinterpret_cast<const int32_t*>(a);  // one int32 = one (k, k+1) pair of a row
  for (int64_t kp = 0; kp < kpairs; ++kp, a32 += kQgemmMr, b += ldb) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
    __m256i w = _mm256_set1_epi32(a32[0]);
    c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(b0, w));
    c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(b1, w));
    w = _mm256_set1_epi32(a32[1]);
    c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(b0, w));
    c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(b1, w));
    w = _mm256_set1_epi32(a32[2]);
    c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(b0, w));
    c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(b1, w));
    w = _mm256_set1_epi32(a32[3]);
    c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(b0, w));
    c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(b1, w));
  }
  c[0] = c00, c[1] = c01, c[2] = c10, c[3] = c11, c[4] = c20, c[5] = c21, c[6] = c30, c[7] = c31;
}

}  // namespace

void qgemm_s16_ukernel_4x16__avx2(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, int32_t* c,
                                  int64_t ldc) noexcept {
  __m256i t[8];
  qgemm_s16_tile_4x16(kpairs, a, b, ldb, t);
  for (int i = 0; i < kQgemmMr; ++i) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc), t[2 * i]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + 8), t[2 * i + 1]);
  }
}

void qgemm_s16_ukernel_4x8__avx2(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, int32_t* c,
                                 int64_t ldc) noexcept {
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
  const int32_t* a32 = reinterpret_cast<const int32_t*>(a);
  for (int64_t kp = 0; kp < kpairs; ++kp, a32 += kQgemmMr, b += ldb) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(b0, _mm256_set1_epi32(a32[0])));
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(b0, _mm256_set1_epi32(a32[1])));
    c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(b0, _mm256_set1_epi32(a32[2])));
    c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(b0, _mm256_set1_epi32(a32[3])));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), c0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + ldc), c1);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 2 * ldc), c2);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 3 * ldc), c3);
}

void qgemm_s16_ukernel_1x16__avx2(int64_t kpairs, const int16_t* a, int row, const int16_t* b, int64_t ldb,
                                  int32_t* c) noexcept {
  // Two accumulator pairs over even / odd k pairs, so consecutive adds do not wait on each other.
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
  const int32_t* a32 = reinterpret_cast<const int32_t*>(a) + row;
  int64_t kp = 0;
  for (; kp + 2 <= kpairs; kp += 2, a32 += 2 * kQgemmMr, b += 2 * ldb) {
    const __m256i w0 = _mm256_set1_epi32(a32[0]), w1 = _mm256_set1_epi32(a32[kQgemmMr]);
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), w0));
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16)), w0));
    c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + ldb)), w1));
    c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + ldb + 16)), w1));
  }
  if (kp < kpairs) {
    const __m256i w0 = _mm256_set1_epi32(a32[0]);
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), w0));
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16)), w0));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), _mm256_add_epi32(c0, c2));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), _mm256_add_epi32(c1, c3));
}

void qgemm_s8b_ukernel_1x16__avx2(int64_t kpairs, const int16_t* a, int row, const int8_t* b, int32_t* c) noexcept {
  // As the int16 row above, each k pair's 32 weight bytes sign-extended to two vectors of int16 pairs.
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
  const int32_t* a32 = reinterpret_cast<const int32_t*>(a) + row;
  auto widen = [](const int8_t* p, __m256i& lo, __m256i& hi) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v));
    hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1));
  };
  int64_t kp = 0;
  __m256i lo, hi;
  for (; kp + 2 <= kpairs; kp += 2, a32 += 2 * kQgemmMr, b += 4 * kQgemmNr) {
    const __m256i w0 = _mm256_set1_epi32(a32[0]), w1 = _mm256_set1_epi32(a32[kQgemmMr]);
    widen(b, lo, hi);
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(lo, w0));
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(hi, w0));
    widen(b + 2 * kQgemmNr, lo, hi);
    c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(lo, w1));
    c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(hi, w1));
  }
  if (kp < kpairs) {
    const __m256i w0 = _mm256_set1_epi32(a32[0]);
    widen(b, lo, hi);
    c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(lo, w0));
    c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(hi, w0));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), _mm256_add_epi32(c0, c2));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), _mm256_add_epi32(c1, c3));
}

void qgemm_s16_requant_4x16__avx2(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb,
                                  const QRequantRows& rq, uint8_t* y, int64_t ldy) noexcept {
  __m256i t[8];
  qgemm_s16_tile_4x16(kpairs, a, b, ldb, t);
  x86::requant_store_4x16(t, rq, y, ldy);
}

void requantize_row__avx2(const int32_t* acc, int64_t n, int32_t bias, float scale, int32_t zp, bool is_signed,
                          void* y) noexcept {
  const int32_t qmin = is_signed ? -128 : 0, qmax = is_signed ? 127 : 255;
  const float lo = float(qmin - zp), hi = float(qmax - zp);
  const __m256i vbias = _mm256_set1_epi32(bias), vzp = _mm256_set1_epi32(zp);
  const __m256 vscale = _mm256_set1_ps(scale), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  uint8_t* out = static_cast<uint8_t*>(y);
  auto eight = [&](const int32_t* src) {
    const __m256i v = x86::requantize8(_mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), vbias),
                                  vscale, vlo, vhi, vzp);
    const __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return is_signed ? _mm_packs_epi16(s16, s16) : _mm_packus_epi16(s16, s16);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), eight(acc + i));
  if (i < n) {  // tail through a padded copy
    alignas(32) int32_t tmp[8] = {};
    alignas(16) uint8_t bytes[16];
    for (int64_t j = i; j < n; ++j) tmp[j - i] = acc[j];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes), eight(tmp));
    for (int64_t j = i; j < n; ++j) out[j] = bytes[j - i];
  }
}

namespace {

// A depthwise channel's taps as the kernels read them, set up once per channel
// rather than per 16 outputs: the weights paired (t, t + 1) and broadcast for
// vpmaddwd (an odd last tap pairs with 0), and the offsets. kTaps > 0 fixes the
// count at compile time (3x3: fully unrolled, the 5 pairs in registers).
template <int kTaps>
struct DwTaps {
  static constexpr int kMax = kTaps > 0 ? kTaps : 64;  // use_direct_depthwise_q caps taps at 64
  __m256i pair[(kMax + 1) / 2];
  int64_t offset[kMax];
  int taps;
  DwTaps(const int64_t* tap_offset, const int16_t* w, int n) : taps(kTaps > 0 ? kTaps : n) {
    for (int t = 0; t < taps; ++t) offset[t] = tap_offset[t];
    for (int t = 0; t < taps; t += 2) {
      const int32_t hi = t + 1 < taps ? int32_t(uint16_t(w[t + 1])) << 16 : 0;
      pair[t / 2] = _mm256_set1_epi32(int32_t(uint16_t(w[t])) | hi);
    }
  }
};

// Sixteen depthwise sums from ox on, in order (out[0]: ox..ox+7, out[1]: the next 8).
// Two taps per vpmaddwd, their inputs interleaved; unpacklo/hi work per 128-bit
// lane, so lo holds outputs 0-3 and 8-11, hi 4-7 and 12-15.
template <int kTaps>
inline void qdw_sums16(const int16_t* x, const DwTaps<kTaps>& d, int64_t ox, __m256i out[2]) {
  const int taps = kTaps > 0 ? kTaps : d.taps;
  __m256i lo = _mm256_setzero_si256(), hi = lo;
  for (int t = 0; t < taps; t += 2) {
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + d.offset[t] + ox));
    const __m256i x1 = t + 1 < taps ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + d.offset[t + 1] + ox))
                                    : _mm256_setzero_si256();
    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), d.pair[t / 2]));
    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), d.pair[t / 2]));
  }
  out[0] = _mm256_permute2x128_si256(lo, hi, 0x20);
  out[1] = _mm256_permute2x128_si256(lo, hi, 0x31);
}

template <int kTaps>
void qdw_row(const int16_t* x, const DwTaps<kTaps>& d, int64_t q, int32_t* acc) {
  int64_t ox = 0;
  for (; ox + 16 <= q; ox += 16) {
    __m256i sums[2];
    qdw_sums16(x, d, ox, sums);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + ox), sums[0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + ox + 8), sums[1]);
  }
  if (ox < q) {
    // The plane has kQdwSlack readable values past every row (see quant.h), so the
    // last chunk is computed 16 wide and only its first q - ox sums are kept.
    __m256i sums[2];
    qdw_sums16(x, d, ox, sums);
    alignas(32) int32_t tmp[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), sums[0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8), sums[1]);
    for (int64_t i = 0; i < q - ox; ++i) acc[ox + i] = tmp[i];
  }
}

template <int kTaps>
void qdw_requant_row(const int16_t* x, const DwTaps<kTaps>& d, int64_t n, const QDwRequant& rq, uint8_t* y) {
  const float lo = float((rq.is_signed ? -128 : 0) - rq.zp), hi = float((rq.is_signed ? 127 : 255) - rq.zp);
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), scale = _mm256_set1_ps(rq.scale);
  const __m256i vzp = _mm256_set1_epi32(rq.zp), bias = _mm256_set1_epi32(rq.bias);
  for (int64_t ox = 0; ox < n; ox += 16) {
    __m256i sums[2];
    qdw_sums16(x, d, ox, sums);
    const __m256i r0 = x86::requantize8(_mm256_add_epi32(sums[0], bias), scale, vlo, vhi, vzp);
    const __m256i r1 = x86::requantize8(_mm256_add_epi32(sums[1], bias), scale, vlo, vhi, vzp);
    const __m256i s16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);  // 16 int16 in order
    const __m128i s16lo = _mm256_castsi256_si128(s16), s16hi = _mm256_extracti128_si256(s16, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + ox),
                     rq.is_signed ? _mm_packs_epi16(s16lo, s16hi) : _mm_packus_epi16(s16lo, s16hi));
  }
}

}  // namespace

void qdw_row__avx2(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t q,
                   int32_t* acc) noexcept {
  if (taps == 9) qdw_row(x, DwTaps<9>(tap_offset, w, 9), q, acc);
  else qdw_row(x, DwTaps<0>(tap_offset, w, taps), q, acc);
}

void qdw_requant_row__avx2(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t n,
                           const QDwRequant& rq, uint8_t* y) noexcept {
  if (taps == 9) qdw_requant_row(x, DwTaps<9>(tap_offset, w, 9), n, rq, y);
  else qdw_requant_row(x, DwTaps<0>(tap_offset, w, taps), n, rq, y);
}

namespace {
// 16 bytes widened to int16 (sign- or zero-extended).
inline __m256i widen16(const void* p, bool is_signed) {
  const __m128i raw = _mm_loadu_si128(static_cast<const __m128i*>(p));
  return is_signed ? _mm256_cvtepi8_epi16(raw) : _mm256_cvtepu8_epi16(raw);
}
}  // namespace

// The widening copies below finish a row with an overlapping last vector (the
// same values written twice) instead of a scalar tail: MobileNet's rows are 7,
// 14, 28 or 56 values, and its stride-2 rows 7 or 14 pairs. n items through
// steps of 16, 8 or 4 items (the widest that fits), the last one ending at n;
// fewer than 4 through `scalar`.
template <class Sixteen, class Eight, class Four, class Scalar>
inline void overlapping_steps(int64_t n, Sixteen sixteen, Eight eight, Four four, Scalar scalar) {
  if (n >= 16) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) sixteen(i);
    if (i < n) sixteen(n - 16);
  } else if (n >= 8) {
    eight(0), eight(n - 8);
  } else if (n >= 4) {
    four(0), four(n - 4);
  } else {
    scalar();
  }
}

void qwiden_row__avx2(const void* src, bool is_signed, int32_t zp, int64_t n, int16_t* dst) noexcept {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  const __m256i vzp = _mm256_set1_epi16(static_cast<int16_t>(zp));
  const __m128i vzp128 = _mm256_castsi256_si128(vzp);
  const auto sixteen = [&](int64_t i) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_sub_epi16(widen16(s + i, is_signed), vzp));
  };
  const auto eight = [&](int64_t i) {
    const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + i));
    const __m128i w = is_signed ? _mm_cvtepi8_epi16(raw) : _mm_cvtepu8_epi16(raw);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_sub_epi16(w, vzp128));
  };
  const auto four = [&](int64_t i) {
    int32_t bytes;
    std::memcpy(&bytes, s + i, 4);
    const __m128i raw = _mm_cvtsi32_si128(bytes);
    const __m128i w = is_signed ? _mm_cvtepi8_epi16(raw) : _mm_cvtepu8_epi16(raw);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + i), _mm_sub_epi16(w, vzp128));
  };
  overlapping_steps(n, sixteen, eight, four, [&] { qwiden_row__scalar(s, is_signed, zp, n, dst); });
}

void qwiden_deinterleave2__avx2(const void* src, bool is_signed, int32_t zp, int64_t pairs, int16_t* even,
                                int16_t* odd) noexcept {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  const __m256i vzp = _mm256_set1_epi16(static_cast<int16_t>(zp));
  const __m128i vzp128 = _mm256_castsi256_si128(vzp);
  // Each int32 lane of a widened vector holds one (even, odd) pair: shifts split
  // them with their sign, packs join the halves (packs works per 128-bit lane,
  // hence the 64-bit permute).
  const auto sixteen = [&](int64_t i) {
    const __m256i w0 = widen16(s + 2 * i, is_signed), w1 = widen16(s + 2 * i + 16, is_signed);
    const __m256i e = _mm256_packs_epi32(_mm256_srai_epi32(_mm256_slli_epi32(w0, 16), 16),
                                         _mm256_srai_epi32(_mm256_slli_epi32(w1, 16), 16));
    const __m256i o = _mm256_packs_epi32(_mm256_srai_epi32(w0, 16), _mm256_srai_epi32(w1, 16));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(even + i), _mm256_sub_epi16(_mm256_permute4x64_epi64(e, 0xD8), vzp));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(odd + i), _mm256_sub_epi16(_mm256_permute4x64_epi64(o, 0xD8), vzp));
  };
  const auto eight = [&](int64_t i) {  // the same split on one 128-bit lane
    const __m256i w = widen16(s + 2 * i, is_signed);
    const __m256i e = _mm256_srai_epi32(_mm256_slli_epi32(w, 16), 16), o = _mm256_srai_epi32(w, 16);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(even + i),
                     _mm_sub_epi16(_mm_packs_epi32(_mm256_castsi256_si128(e), _mm256_extracti128_si256(e, 1)), vzp128));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(odd + i),
                     _mm_sub_epi16(_mm_packs_epi32(_mm256_castsi256_si128(o), _mm256_extracti128_si256(o, 1)), vzp128));
  };
  const auto four = [&](int64_t i) {  // 8 bytes: four pairs
    const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + 2 * i));
    const __m128i w = is_signed ? _mm_cvtepi8_epi16(raw) : _mm_cvtepu8_epi16(raw);
    const __m128i e = _mm_srai_epi32(_mm_slli_epi32(w, 16), 16), o = _mm_srai_epi32(w, 16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(even + i), _mm_sub_epi16(_mm_packs_epi32(e, e), vzp128));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(odd + i), _mm_sub_epi16(_mm_packs_epi32(o, o), vzp128));
  };
  overlapping_steps(pairs, sixteen, eight, four,
                    [&] { qwiden_deinterleave2__scalar(s, is_signed, zp, pairs, even, odd); });
}

void qwiden_interleave2__avx2(const void* r0, const void* r1, bool is_signed, int32_t zp, int64_t n,
                              int16_t* dst) noexcept {
  const uint8_t* s0 = static_cast<const uint8_t*>(r0);
  const uint8_t* s1 = static_cast<const uint8_t*>(r1);
  const __m256i vzp = _mm256_set1_epi16(static_cast<int16_t>(zp)), zero = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = _mm256_sub_epi16(widen16(s0 + i, is_signed), vzp);
    const __m256i b = s1 ? _mm256_sub_epi16(widen16(s1 + i, is_signed), vzp) : zero;
    // unpack works per 128-bit lane: lo = pairs 0-3 | 8-11, hi = 4-7 | 12-15.
    const __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * i), _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * i + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
  }
  if (i < n) qwiden_interleave2__scalar(s0 + i, s1 ? s1 + i : nullptr, is_signed, zp, n - i, dst + 2 * i);
}

void quantize_run__avx2(const float* x, int64_t n, float scale, int32_t zp, bool is_signed, void* y) noexcept {
  // quantize_value(): x / scale (a true division, as MLAS), MAXPS / MINPS against
  // the bounds minus the zero point (a NaN becomes the lower bound), cvtps2dq (half to even), + zp.
  const float lo = float((is_signed ? -128 : 0) - zp), hi = float((is_signed ? 127 : 255) - zp);
  const __m256 vs = _mm256_set1_ps(scale), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256i vzp = _mm256_set1_epi32(zp);
  uint8_t* out = static_cast<uint8_t*>(y);
  auto eight = [&](const float* p) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(p), vs);
    v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);  // max(v, lo): NaN in v gives lo, as the scalar form
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), vzp);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i s16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(eight(x + i), eight(x + i + 8)), 0xD8);
    const __m128i q = is_signed ? _mm_packs_epi16(_mm256_castsi256_si128(s16), _mm256_extracti128_si256(s16, 1))
                                : _mm_packus_epi16(_mm256_castsi256_si128(s16), _mm256_extracti128_si256(s16, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), q);
  }
  if (i < n) quantize_run__scalar(x + i, n - i, scale, zp, is_signed, out + i);
}

// No FMA contraction here: ONNX Runtime rounds the two products separately.
__attribute__((optimize("fp-contract=off"))) void qlinear_add_run__avx2(const void* a, int64_t a_step, const void* b,
                                                                       int64_t b_step, int64_t n, const QAddParams& q,
                                                                       void* c) noexcept {
  const __m256 sa = _mm256_set1_ps(q.sa), sb = _mm256_set1_ps(q.sb), sc = _mm256_set1_ps(q.sc);
  const __m256i za = _mm256_set1_epi32(q.za), zb = _mm256_set1_epi32(q.zb), zc = _mm256_set1_epi32(q.zc);
  const __m256i lo = _mm256_set1_epi32((q.is_signed ? -128 : 0) - q.zc), hi = _mm256_set1_epi32((q.is_signed ? 127 : 255) - q.zc);
  auto load8 = [&](const void* p, int64_t step, int64_t i) {
    if (step == 0) {
      const int32_t v = q.is_signed ? int32_t(static_cast<const int8_t*>(p)[0]) : int32_t(static_cast<const uint8_t*>(p)[0]);
      return _mm256_set1_epi32(v);
    }
    const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const uint8_t*>(p) + i));
    return q.is_signed ? _mm256_cvtepi8_epi32(raw) : _mm256_cvtepu8_epi32(raw);
  };
  uint8_t* out = static_cast<uint8_t*>(c);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 va = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(a, a_step, i), za)), sa);
    const __m256 vb = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8(b, b_step, i), zb)), sb);
    __m256i r = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_add_ps(va, vb), sc));
    r = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(r, lo), hi), zc);
    const __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), q.is_signed ? _mm_packs_epi16(s16, s16) : _mm_packus_epi16(s16, s16));
  }
  if (i < n)
    qlinear_add_run__scalar(static_cast<const uint8_t*>(a) + i * a_step, a_step, static_cast<const uint8_t*>(b) + i * b_step,
                            b_step, n - i, q, out + i);
}

}  // namespace cvt
