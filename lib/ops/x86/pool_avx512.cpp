// 2-D float MaxPool on AVX-512, one output row at a time, all in registers: each
// 16-column block of the padded row gets its window rows' max (masked loads give
// -inf outside the input), and the W taps are lane shifts of two neighbouring
// blocks (VPERMT2PS), at stride 2 of their even and odd columns. No scratch row:
// the earlier two-pass kernel stored every row's max and re-read it split in even
// and odd halves, and took twice ONNX Runtime's time on SqueezeNet's first pool.
// Small planes pooled to their own size go flat instead: whole planes as one run,
// the W taps' max into a scratch, then the H taps', 16 outputs a vector whatever
// the row width, with per-lane masks for taps that would leave a row or a plane.
// Narrow rows at W stride 2 go flat too, after an H pass: a 7-wide output row
// filled 7 of the row kernel's 16 lanes.
// Max is exact in any order; a NaN in the window wins, as in the generic path's MaxOp.
// GCC 12's 512-bit max passes an _mm512_undefined_ps() operand that trips a false
// -Wmaybe-uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "core/int_math.h"
#include "ops/pool.h"
#include "ops/x86/transpose_avx512.h"

namespace cvt {
namespace {

constexpr int64_t kV = 16;

// Running max that a NaN wins. MAXPS(v, acc) returns acc when either is NaN, so a
// NaN already in acc stays; a NaN tap is noted in a mask beside it, off the max
// chain (checking acc itself put a compare and a blend on the chain: 3x slower
// on 14x14 planes), and written in at the end.
struct NanMax {
  __m512 acc;
  __mmask16 nan = 0;
  explicit NanMax(__m512 first) : acc(first) {}
  void add(__m512 v) {
    acc = _mm512_max_ps(v, acc);
    nan = _kor_mask16(nan, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
  }
  // A tap that holds on lanes m only: the others keep their running max.
  void add(__m512 v, __mmask16 m) {
    acc = _mm512_mask_max_ps(acc, m, v, acc);
    nan = _kor_mask16(nan, _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q));
  }
  __m512 result() const {
    return _mm512_mask_mov_ps(acc, nan, _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()));
  }
};

// Lane indices i + t (t < 16) into the 32 lanes of two blocks: tap t of 16 outputs.
struct ShiftTable {
  alignas(64) int32_t idx[kV][kV];
  ShiftTable() {
    for (int t = 0; t < kV; ++t)
      for (int i = 0; i < kV; ++i) idx[t][i] = i + t;
  }
};
const ShiftTable kShift;

inline __m512 shifted(__m512 lo, __m512 hi, int64_t t) {
  return _mm512_permutex2var_ps(lo, _mm512_load_si512(kShift.idx[t]), hi);
}

// The padded row's 16-column blocks: block k holds padded columns 16k..16k+15,
// input columns 16k - pad_begin + lane, and lanes outside the input read -inf.
constexpr int64_t kMaxBlocks = 2 * 64 + 2;  // stride 2, 64 output blocks (1024 columns)
struct RowBlocks {
  int64_t width, pad_begin;
  std::array<__mmask16, kMaxBlocks> mask;
  RowBlocks(int64_t width_, int64_t pad_begin_, int64_t blocks) : width(width_), pad_begin(pad_begin_) {
    for (int64_t k = 0; k < blocks; ++k) {
      const int64_t c0 = k * kV - pad_begin;
      const int64_t lo = std::clamp<int64_t>(-c0, 0, kV), hi = std::clamp<int64_t>(width - c0, 0, kV);
      mask[k] = hi <= lo ? 0 : static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
    }
  }
};

// Block k of the max over window rows [r0, r1) (KH rows if KH > 0).
template <int KH>
inline __m512 window_block(const RowBlocks& b, const float* x, int64_t r0, int64_t r1, int64_t k) {
  const int64_t c0 = k * kV - b.pad_begin;
  const int64_t rows = KH > 0 ? KH : r1 - r0;
  const __mmask16 m = b.mask[k];
  if (m == 0xFFFF) {
    const float* p = x + r0 * b.width + c0;
    NanMax acc(_mm512_loadu_ps(p));
    for (int64_t r = 1; r < rows; ++r) acc.add(_mm512_loadu_ps(p + r * b.width));
    return acc.result();
  }
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  if (m == 0) return lowest;
  // Masked-off lanes are not read, so the address may lie before the row; it is
  // formed as an integer so no out-of-bounds pointer is ever computed.
  const uintptr_t first = reinterpret_cast<uintptr_t>(x) +
                         static_cast<uintptr_t>((r0 * b.width + c0) * int64_t{sizeof(float)});
  const uintptr_t step = static_cast<uintptr_t>(b.width) * sizeof(float);
  const auto row = [&](int64_t r) { return reinterpret_cast<const float*>(first + static_cast<uintptr_t>(r) * step); };
  NanMax acc(_mm512_mask_loadu_ps(lowest, m, row(0)));
  for (int64_t r = 1; r < rows; ++r) acc.add(_mm512_mask_loadu_ps(lowest, m, row(r)));
  return acc.result();
}

// One plane; KH / KW > 0 fix the window (3x3 unrolls), 0 reads it from the axes.
// KH holds only for rows whose window lies inside the input; the others take KH = 0.
template <int KH, int KW>
void maxpool_plane(const PoolAxis& ah, const PoolAxis& aw, const float* x, float* y) noexcept {
  const int64_t out_blocks = ceil_div(aw.out, kV);
  const int64_t kw = KW > 0 ? KW : aw.kernel;
  const RowBlocks blocks(aw.in, aw.pad_begin, aw.stride == 1 ? out_blocks + 1 : 2 * out_blocks + 2);
  const __mmask16 last = static_cast<__mmask16>((1u << (aw.out - (out_blocks - 1) * kV)) - 1u);
  alignas(64) static const int32_t kEven[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  alignas(64) static const int32_t kOdd[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
  const __m512i even = _mm512_load_si512(kEven), odd = _mm512_load_si512(kOdd);
  for (int64_t oh = 0; oh < ah.out; ++oh) {
    // Window rows inside the input (at least one: the caller checks every window holds a value).
    const int64_t r0 = std::max<int64_t>(0, ah.start(oh)), r1 = std::min(ah.in, ah.start(oh) + ah.kernel);
    const bool whole = KH > 0 && r1 - r0 == KH;
    auto block = [&](int64_t k) {
      return whole ? window_block<KH>(blocks, x, r0, r1, k) : window_block<0>(blocks, x, r0, r1, k);
    };
    // The next output row's new input rows: a plane's rows are a few cache lines
    // each, too short for the hardware prefetcher to follow 2-3 of them at once.
    const int64_t next_end = std::min(ah.in, ah.start(oh + 1) + ah.kernel);
    for (int64_t r = std::max(r1, ah.start(oh + 1)); r < next_end; ++r)
      for (int64_t iw = 0; iw < aw.in; iw += kV) _mm_prefetch(reinterpret_cast<const char*>(x + r * aw.in + iw), _MM_HINT_T0);
    float* out = y + oh * aw.out;
    if (aw.stride == 1) {
      __m512 cur = block(0);
      for (int64_t j = 0; j < out_blocks; ++j) {
        const __m512 next = block(j + 1);
        NanMax acc(cur);
        for (int64_t s = 1; s < kw; ++s) acc.add(shifted(cur, next, s));
        _mm512_mask_storeu_ps(out + j * kV, j + 1 < out_blocks ? __mmask16(0xFFFF) : last, acc.result());
        cur = next;
      }
      continue;
    }
    // Stride 2: output i of a block reads padded column 2i + s, which is even
    // column i + s/2 or odd column i + s/2 of the block pair's split halves.
    __m512 lo = block(0), hi = block(1);
    __m512 ev = _mm512_permutex2var_ps(lo, even, hi), od = _mm512_permutex2var_ps(lo, odd, hi);
    for (int64_t j = 0; j < out_blocks; ++j) {
      lo = block(2 * j + 2), hi = block(2 * j + 3);
      const __m512 ev_next = _mm512_permutex2var_ps(lo, even, hi), od_next = _mm512_permutex2var_ps(lo, odd, hi);
      NanMax acc(ev);
      for (int64_t s = 1; s < kw; ++s) acc.add(s % 2 == 0 ? shifted(ev, ev_next, s / 2) : shifted(od, od_next, s / 2));
      _mm512_mask_storeu_ps(out + j * kV, j + 1 < out_blocks ? __mmask16(0xFFFF) : last, acc.result());
      ev = ev_next, od = od_next;
    }
  }
}

// The address `offset` floats from p, formed as an integer: the masked loads that
// use it read no lane outside the data, but the pointer itself may lie before it.
inline const float* shifted_address(const float* p, int64_t offset) {
  const uintptr_t bytes = static_cast<uintptr_t>(offset * int64_t{sizeof(float)});
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(p) + bytes);
}

// One pass of the flat kernel: out[i] = max over taps d of in[i + d * step], each
// tap only on the lanes its mask table allows (taps that leave the plane's rows or
// columns); `masks` holds `taps` masks per vector, repeating every `period` vectors.
// kTaps > 0 fixes the tap count (3x3 windows unroll).
template <int kTaps>
void flat_pass(const float* in, float* out, int64_t n, int64_t step, int64_t taps, int64_t first_tap,
               const __mmask16* masks, int64_t period) noexcept {
  if constexpr (kTaps > 0) taps = kTaps;
  const __mmask16* m = masks;
  for (int64_t i = 0, v = 0; i < n; i += kV) {
    const __mmask16 tail = n - i >= kV ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 center = _mm512_maskz_loadu_ps(tail, in + i);
    NanMax acc(center);
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t d = first_tap + t;
      if (d != 0) acc.add(_mm512_mask_loadu_ps(center, _kand_mask16(m[t], tail), shifted_address(in + i, d * step)));
    }
    _mm512_mask_storeu_ps(out + i, tail, acc.result());
    m += taps;
    if (++v == period) v = 0, m = masks;
  }
}

void flat_pass_any(const float* in, float* out, int64_t n, int64_t step, int64_t taps, int64_t first_tap,
                   const __mmask16* masks, int64_t period) noexcept {
  if (taps == 3)
    flat_pass<3>(in, out, n, step, taps, first_tap, masks, period);
  else
    flat_pass<0>(in, out, n, step, taps, first_tap, masks, period);
}

// The stride-2 kernel's output columns a row: even rows of 2 * pitch in its scratch.
int64_t stride2_pitch(const PoolAxis& aw) { return std::max(aw.out, ceil_div(aw.in, int64_t{2})); }

// Output rows a W pass takes at once: their window rows' max fits in 16 KB (L1).
int64_t stride2_chunk_rows(const MaxPoolStride2Masks& m) { return std::max<int64_t>(1, 4096 / (2 * m.pitch_out)); }

// H pass of the stride-2 kernel: output row oh's window rows reduced into `row`
// (pitch columns; the columns past the input's width get 0, never read as a tap).
void window_rows_max(const PoolAxis& ah, int64_t width, int64_t pitch, const float* plane, int64_t oh, float* row) {
  const int64_t r0 = std::max<int64_t>(0, ah.start(oh)), r1 = std::min(ah.in, ah.start(oh) + ah.kernel);
  for (int64_t c = 0; c < pitch; c += kV) {
    const auto lanes = [&](int64_t end) {
      return end - c >= kV ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << std::max<int64_t>(0, end - c)) - 1u);
    };
    const __mmask16 load = lanes(width), store = lanes(pitch);
    if (load == 0) {
      _mm512_mask_storeu_ps(row + c, store, _mm512_setzero_ps());
      continue;
    }
    const float* p = plane + r0 * width + c;
    NanMax acc(_mm512_maskz_loadu_ps(load, p));
    for (int64_t r = 1; r < r1 - r0; ++r) acc.add(_mm512_maskz_loadu_ps(load, p + r * width));
    _mm512_mask_storeu_ps(row + c, store, acc.result());
  }
}

// W pass of the stride-2 kernel over n outputs (pitch_out a row) from rows of
// 2 * pitch_out in s: output i takes taps s[2i + t - pad], each on the lanes its mask
// allows; the columns past the output's width are dropped (compressed out).
void stride2_pass(const PoolAxis& aw, const MaxPoolStride2Masks& m, const float* s, int64_t n, float* y) noexcept {
  alignas(64) static const int32_t kEven[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  alignas(64) static const int32_t kOdd[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
  const __m512i even = _mm512_load_si512(kEven), odd = _mm512_load_si512(kOdd);
  const int64_t kw = aw.kernel;
  const bool compress = m.pitch_out != aw.out;
  const float* p = s - aw.pad_begin;  // the scratch has a guard before and after its rows
  __m512 lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + kV);
  __m512 ev = _mm512_permutex2var_ps(lo, even, hi), od = _mm512_permutex2var_ps(lo, odd, hi);
  const __mmask16* tap = m.tap.data();
  for (int64_t i = 0, v = 0; i < n; i += kV, p += 2 * kV) {
    __m512 ev_next = ev, od_next = od;
    if (kw > 2) {
      lo = _mm512_loadu_ps(p + 2 * kV), hi = _mm512_loadu_ps(p + 3 * kV);
      ev_next = _mm512_permutex2var_ps(lo, even, hi), od_next = _mm512_permutex2var_ps(lo, odd, hi);
    }
    NanMax acc(_mm512_set1_ps(-std::numeric_limits<float>::infinity()));
    acc.add(ev, tap[0]);
    if (kw > 1) acc.add(od, tap[1]);
    for (int64_t t = 2; t < kw; ++t)
      acc.add(t % 2 == 0 ? shifted(ev, ev_next, t / 2) : shifted(od, od_next, t / 2), tap[t]);
    const __mmask16 tail = n - i >= kV ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1u);
    if (compress) {
      const __mmask16 keep = _kand_mask16(m.keep[static_cast<size_t>(v)], tail);
      const int kept = __builtin_popcount(keep);
      const __m512 packed = _mm512_maskz_compress_ps(keep, acc.result());
      _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << kept) - 1u), packed);
      y += kept;
    } else {
      _mm512_mask_storeu_ps(y + i, tail, acc.result());
    }
    if (kw > 2) {
      ev = ev_next, od = od_next;
    } else {
      lo = _mm512_loadu_ps(p + 2 * kV), hi = _mm512_loadu_ps(p + 3 * kV);
      ev = _mm512_permutex2var_ps(lo, even, hi), od = _mm512_permutex2var_ps(lo, odd, hi);
    }
    tap += kw;
    if (++v == m.period) v = 0, tap = m.tap.data();
  }
}

}  // namespace

bool maxpool2d_flat_supported(const PoolAxis& ah, const PoolAxis& aw) {
  // Planes up to 32x32: the mask tables repeat every lcm(16, H * W) / 16 vectors.
  constexpr int64_t kMaxPlane = 1024;
  const auto same = [](const PoolAxis& a) {
    return a.stride == 1 && a.dilation == 1 && a.out == a.in && a.kernel <= kV && a.pad_begin < a.kernel;
  };
  return same(ah) && same(aw) && ah.in * aw.in <= kMaxPlane;
}

MaxPoolFlatMasks maxpool2d_flat_masks(const PoolAxis& ah, const PoolAxis& aw) {
  const int64_t h = ah.in, w = aw.in, plane = h * w;
  MaxPoolFlatMasks m;
  m.period = std::lcm(kV, plane) / kV;
  m.col.assign(static_cast<size_t>(m.period * aw.kernel), 0);
  m.row.assign(static_cast<size_t>(m.period * ah.kernel), 0);
  // Positions count from a plane's start, as every task's x does.
  for (int64_t i = 0, col = 0, row = 0; i < m.period * kV; ++i) {
    const int64_t v = i / kV;
    const uint16_t lane = static_cast<uint16_t>(1u << (i % kV));
    for (int64_t t = 0; t < aw.kernel; ++t) {
      const int64_t c = col + t - aw.pad_begin;
      if (c >= 0 && c < w) m.col[static_cast<size_t>(v * aw.kernel + t)] |= lane;
    }
    for (int64_t t = 0; t < ah.kernel; ++t) {
      const int64_t r = row + t - ah.pad_begin;
      if (r >= 0 && r < h) m.row[static_cast<size_t>(v * ah.kernel + t)] |= lane;
    }
    if (++col == w) col = 0, row = row + 1 == h ? 0 : row + 1;
  }
  return m;
}

void maxpool2d_flat_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, const MaxPoolFlatMasks& m, const float* x,
                                int64_t planes, float* y, float* scratch) noexcept {
  const int64_t n = planes * ah.in * aw.in;
  flat_pass_any(x, scratch, n, 1, aw.kernel, -aw.pad_begin, m.col.data(), m.period);
  flat_pass_any(scratch, y, n, aw.in, ah.kernel, -ah.pad_begin, m.row.data(), m.period);
}

bool maxpool2d_rows_supported(const PoolAxis& ah, const PoolAxis& aw) {
  // A tap's lane shift stays inside the next block: kernel - 1 < 16 at stride 1,
  // (kernel - 1) / 2 < 16 at stride 2. Rows of up to 1024 outputs.
  return ah.dilation == 1 && aw.dilation == 1 && aw.out <= 1024 &&
         ((aw.stride == 1 && aw.kernel <= kV) || (aw.stride == 2 && aw.kernel <= 2 * kV));
}

void maxpool2d_rows_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, const float* x, float* y) noexcept {
  if (ah.kernel == 3 && aw.kernel == 3) return maxpool_plane<3, 3>(ah, aw, x, y);
  if (ah.kernel == 2 && aw.kernel == 2) return maxpool_plane<2, 2>(ah, aw, x, y);
  maxpool_plane<0, 0>(ah, aw, x, y);
}

bool maxpool2d_stride2_supported(const PoolAxis& ah, const PoolAxis& aw) {
  // Taps reach (kernel - 1) / 2 < 16 lanes into the next block. Rows of up to 16
  // outputs: wider ones fill the row kernel's vectors, which then saves this kernel's
  // extra pass (1 thread, 56 and 28 outputs a row: 1.2-1.3x and 1.0-1.2x its time).
  return ah.dilation == 1 && aw.dilation == 1 && aw.stride == 2 && aw.kernel <= 2 * kV &&
         aw.pad_begin < aw.kernel && stride2_pitch(aw) <= kV;
}

MaxPoolStride2Masks maxpool2d_stride2_masks(const PoolAxis& aw) {
  MaxPoolStride2Masks m;
  m.pitch_out = stride2_pitch(aw);
  m.period = std::lcm(kV, m.pitch_out) / kV;
  m.tap.assign(static_cast<size_t>(m.period * aw.kernel), 0);
  m.keep.assign(static_cast<size_t>(m.period), 0);
  for (int64_t q = 0; q < m.period * kV; ++q) {
    const int64_t v = q / kV, ow = q % m.pitch_out;
    const uint16_t lane = static_cast<uint16_t>(1u << (q % kV));
    if (ow >= aw.out) continue;
    m.keep[static_cast<size_t>(v)] |= lane;
    for (int64_t t = 0; t < aw.kernel; ++t) {
      const int64_t c = 2 * ow + t - aw.pad_begin;
      if (c >= 0 && c < aw.in) m.tap[static_cast<size_t>(v * aw.kernel + t)] |= lane;
    }
  }
  return m;
}

size_t maxpool2d_stride2_scratch_floats(const MaxPoolStride2Masks& m) {
  return static_cast<size_t>(6 * kV + stride2_chunk_rows(m) * 2 * m.pitch_out);
}

void maxpool2d_stride2_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, const MaxPoolStride2Masks& m,
                                   const float* x, int64_t planes, float* y, float* scratch) noexcept {
  const int64_t pitch_in = 2 * m.pitch_out, in_plane = ah.in * aw.in;
  // A guard of 2 * 16 floats before the rows (a pad reads left of the first column)
  // and 4 * 16 after them (the next blocks' loads), zeroed and never a tap.
  float* rows = scratch + 2 * kV;
  const int64_t total = planes * ah.out, chunk = stride2_chunk_rows(m);
  std::fill(scratch, rows, 0.0f);
  for (int64_t r0 = 0; r0 < total; r0 += chunk) {
    const int64_t r1 = std::min(total, r0 + chunk);
    for (int64_t r = r0, plane = r0 / ah.out, oh = r0 % ah.out; r < r1; ++r) {
      window_rows_max(ah, aw.in, pitch_in, x + plane * in_plane, oh, rows + (r - r0) * pitch_in);
      if (++oh == ah.out) oh = 0, ++plane;
    }
    float* end = rows + (r1 - r0) * pitch_in;
    std::fill(end, end + 4 * kV, 0.0f);
    stride2_pass(aw, m, rows, (r1 - r0) * m.pitch_out, y + r0 * aw.out);
  }
}

namespace {

// One pooled pixel's NV vectors into out. The window's taps are clipped to the
// input once, not tested tap by tap (a test per tap took a quarter of
// SqueezeNet's fused stem).
template <int NV>
inline void pool_pixel(const PoolAxis& ah, const PoolAxis& aw, int64_t h0, int64_t i_lo, int64_t i_hi, int64_t ow,
                       const float* x, float* out) {
  constexpr int64_t cp = 16 * NV;
  const int64_t w0 = aw.start(ow);
  const int64_t j_lo = w0 >= 0 ? 0 : (-w0 + aw.dilation - 1) / aw.dilation;
  const int64_t j_hi = std::min(aw.kernel, (aw.in - w0 + aw.dilation - 1) / aw.dilation);
  __m512 acc[NV];
  __mmask16 nan[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_set1_ps(-std::numeric_limits<float>::infinity()), nan[v] = 0;
  for (int64_t i = i_lo; i < i_hi; ++i) {
    const float* row = x + ((h0 + i * ah.dilation) * aw.in + w0) * cp;
    for (int64_t j = j_lo; j < j_hi; ++j)
      for (int v = 0; v < NV; ++v) {
        const __m512 t = _mm512_loadu_ps(row + j * aw.dilation * cp + 16 * v);
        acc[v] = _mm512_max_ps(t, acc[v]);  // as NanMax
        nan[v] = _kor_mask16(nan[v], _mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q));
      }
  }
  for (int v = 0; v < NV; ++v)
    _mm512_storeu_ps(out + 16 * v,
                     _mm512_mask_mov_ps(acc[v], nan[v], _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN())));
}

// 16 pooled pixels at a time, then each vector's 16 x 16 block transposed into
// 16 channel rows.
template <int NV>
void pixel_major_row(const PoolAxis& ah, const PoolAxis& aw, int64_t o, const float* x, int64_t channels, float* y,
                     int64_t plane) {
  constexpr int64_t cp = 16 * NV;
  const int64_t h0 = ah.start(o);
  const int64_t i_lo = h0 >= 0 ? 0 : (-h0 + ah.dilation - 1) / ah.dilation;
  const int64_t i_hi = std::min(ah.kernel, (ah.in - h0 + ah.dilation - 1) / ah.dilation);
  alignas(64) float pooled[16 * cp];
  for (int64_t ow0 = 0; ow0 < aw.out; ow0 += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, aw.out - ow0));
    for (int q = 0; q < n; ++q) pool_pixel<NV>(ah, aw, h0, i_lo, i_hi, ow0 + q, x, pooled + q * cp);
    const __mmask16 pixels = static_cast<__mmask16>((1u << n) - 1);
    for (int v = 0; v < NV; ++v) {
      __m512 r[16];
      for (int q = 0; q < 16; ++q) r[q] = q < n ? _mm512_load_ps(pooled + q * cp + 16 * v) : _mm512_setzero_ps();
      x86::transpose16x16(r);
      const int64_t c_end = std::min<int64_t>(16, channels - 16 * v);
      for (int64_t c = 0; c < c_end; ++c) _mm512_mask_storeu_ps(y + (16 * v + c) * plane + ow0, pixels, r[c]);
    }
  }
}

}  // namespace

void maxpool2d_pixel_major_row_f32__avx512(const PoolAxis& ah, const PoolAxis& aw, int64_t o, int vectors,
                                           const float* x, int64_t channels, float* y, int64_t plane) noexcept {
  switch (vectors) {
    case 1: return pixel_major_row<1>(ah, aw, o, x, channels, y, plane);
    case 2: return pixel_major_row<2>(ah, aw, o, x, channels, y, plane);
    case 3: return pixel_major_row<3>(ah, aw, o, x, channels, y, plane);
    default: return pixel_major_row<4>(ah, aw, o, x, channels, y, plane);
  }
}

}  // namespace cvt
