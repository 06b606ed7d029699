// 2-D float MaxPool on AVX-512 in two passes over a plane: every output row's
// window rows are reduced first (contiguous vectors, into rows padded with -inf),
// then each row is pooled along W: at stride 1 with one unaligned load a tap, at
// stride 2 from its even and odd columns split apart once a row (tap s is
// E[j + s/2] or O[j + s/2]). Max is exact in any order; a NaN in the window wins,
// as in the generic path's MaxOp.
// GCC 12's 512-bit max passes an _mm512_undefined_ps() operand that trips a false
// -Wmaybe-uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "core/int_math.h"
#include "ops/pool.h"

namespace cvt {
namespace {

constexpr int64_t kV = 16;

// max(acc, v), and NaN if either is NaN (MAXPS alone returns v when acc is NaN).
inline __m512 max_nan(__m512 acc, __m512 v) {
  return _mm512_mask_mov_ps(_mm512_max_ps(acc, v), _mm512_cmp_ps_mask(acc, acc, _CMP_UNORD_Q), acc);
}

// Outputs computed a row (whole vectors) and the padded row's length: every tap of
// every computed output, at stride 2 split in two halves of half that length.
struct RowSizes {
  int64_t outputs, row;
};
RowSizes row_sizes(const PoolAxis& aw) {
  RowSizes r;
  r.outputs = round_up(aw.out, kV);
  r.row = round_up((r.outputs + aw.kernel) * aw.stride + aw.pad_begin + 2 * kV, 2 * kV);
  r.row = std::max(r.row, round_up(aw.pad_begin + aw.in + kV, 2 * kV));
  return r;
}

}  // namespace

bool maxpool2d_rows_supported(const PoolAxis& ah, const PoolAxis& aw) {
  return ah.dilation == 1 && aw.dilation == 1 && (aw.stride == 1 || aw.stride == 2);
}

int64_t maxpool2d_rows_scratch_floats(const PoolAxis& ah, const PoolAxis& aw) {
  const RowSizes sz = row_sizes(aw);
  return (ah.out + 1) * sz.row;
}

void maxpool2d_rows_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, const float* x, float* y,
                                float* scratch) noexcept {
  const RowSizes sz = row_sizes(aw);
  // Pass 1, every output row's window rows reduced into rows[oh][aw.pad_begin + iw].
  // Their padding stays -inf from the caller. Two passes, not one row at a time: the
  // W taps' unaligned loads right after the row's stores stalled on store forwarding.
  float* rows = scratch;
  const int64_t full = aw.in / kV * kV;
  const __mmask16 tail = static_cast<__mmask16>((1u << (aw.in - full)) - 1u);
  for (int64_t oh = 0; oh < ah.out; ++oh) {
    // Window rows inside the input (at least one: the caller checks every window holds a value).
    const int64_t r0 = std::max<int64_t>(0, ah.start(oh)), r1 = std::min(ah.in, ah.start(oh) + ah.kernel);
    float* dst = rows + oh * sz.row + aw.pad_begin;
    // The next output row's new input rows: a plane's rows are a few cache lines
    // each, too short for the hardware prefetcher to follow 2-3 of them at once.
    const int64_t next_end = std::min(ah.in, ah.start(oh + 1) + ah.kernel);
    for (int64_t r = std::max(r1, ah.start(oh + 1)); r < next_end; ++r)
      for (int64_t iw = 0; iw < aw.in; iw += kV) _mm_prefetch(reinterpret_cast<const char*>(x + r * aw.in + iw), _MM_HINT_T0);
    for (int64_t iw = 0; iw < aw.in; iw += kV) {
      const __mmask16 m = iw < full ? __mmask16(0xFFFF) : tail;
      __m512 acc = _mm512_maskz_loadu_ps(m, x + r0 * aw.in + iw);
      for (int64_t r = r0 + 1; r < r1; ++r) acc = max_nan(acc, _mm512_maskz_loadu_ps(m, x + r * aw.in + iw));
      _mm512_mask_storeu_ps(dst + iw, m, acc);
    }
  }
  // Pass 2, the taps along W.
  const __mmask16 last = static_cast<__mmask16>((1u << (aw.out - (sz.outputs - kV))) - 1u);
  alignas(64) static const int32_t kEven[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  alignas(64) static const int32_t kOdd[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
  const __m512i even = _mm512_load_si512(kEven), odd = _mm512_load_si512(kOdd);
  float* split = scratch + ah.out * sz.row;  // stride 2: a row's even columns, then its odd ones
  const int64_t half = sz.row / 2;
  for (int64_t oh = 0; oh < ah.out; ++oh) {
    const float* row = rows + oh * sz.row;
    float* out = y + oh * aw.out;
    const float* taps = row;
    if (aw.stride == 2) {
      for (int64_t i = 0; i < sz.row; i += 2 * kV) {
        const __m512 a = _mm512_loadu_ps(row + i), b = _mm512_loadu_ps(row + i + kV);
        _mm512_storeu_ps(split + i / 2, _mm512_permutex2var_ps(a, even, b));
        _mm512_storeu_ps(split + half + i / 2, _mm512_permutex2var_ps(a, odd, b));
      }
      taps = split;
    }
    for (int64_t j = 0; j < sz.outputs; j += kV) {
      __m512 acc = _mm512_loadu_ps(taps + j);
      for (int64_t s = 1; s < aw.kernel; ++s) {
        // Tap s at stride 2 is even column j + s/2 or odd column j + s/2 of the split row.
        const float* at = aw.stride == 1 ? taps + j + s : taps + (s % 2) * half + j + s / 2;
        acc = max_nan(acc, _mm512_loadu_ps(at));
      }
      _mm512_mask_storeu_ps(out + j, j + kV <= aw.out ? __mmask16(0xFFFF) : last, acc);
    }
  }
}

}  // namespace cvt
