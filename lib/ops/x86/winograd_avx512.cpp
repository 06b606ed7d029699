// The Winograd F(4x4, 3x3) input and output passes built for AVX-512, 16 tiles
// a vector. The input rows are split by column phase first (P_k[tx] = x[4 tx + k]),
// so tile tx's window columns 0..5 are P_0..P_3 at tx and P_0, P_1 at tx + 1:
// a lane vector is one unaligned load, where the 8-lane path gathers each tile's
// 36 values apart. Planes of at most 8 (4) tiles a row put 2 (4) tile rows in a
// vector, 8 (4) lanes each, so 28x28 and 14x14 maps do not run on half-empty
// vectors. The output interleaves the four column phases back into whole rows
// before bias, residual and activation.
// No FMA contraction: the results equal the baseline and AVX2 builds'.
#if defined(__clang__)
#pragma clang fp contract(off)
#else
#pragma GCC optimize("fp-contract=off")
// GCC 12's 512-bit max / min / shuffle pass an _mm512_undefined_ps() operand
// that trips a false -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "core/int_math.h"
#include "ops/conv_winograd.h"

namespace cvt {

namespace {

constexpr int kA = kWinogradAlpha, kT = kWinogradTile;
constexpr int kV = 16;     // tiles a vector
constexpr int kRing = 32;  // split rows kept: a group of 4 tile rows reads 18

// Phase entries a split row holds: every tile's tx + 1 and a whole vector past the last.
int64_t phase_width(const WinogradPlane& g) { return round_up(g.tiles_w, kV) + kV; }

// Lanes [lo, hi) of a 16-lane mask, clipped to the vector.
__mmask16 lane_range(int64_t lo, int64_t hi) {
  lo = std::max<int64_t>(lo, 0), hi = std::min<int64_t>(hi, kV);
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// Input row ih (zeros above, below and beside the plane) as 4 column phases of
// `width` entries each: dst[k * width + tx] = x[ih][4 tx + k - pad_w] for tx up to
// tiles_w (the last tile's window ends in entry tiles_w), zeros after that.
void split_row(const WinogradPlane& g, const float* x, int64_t ih, int64_t width, float* dst) {
  if (ih < 0 || ih >= g.in_h) {
    for (int64_t t = 0; t < 4 * width; t += kV) _mm512_storeu_ps(dst + t, _mm512_setzero_ps());
    return;
  }
  const float* row = x + ih * g.in_w;
  // Phase k of 16 tiles: lanes 4t + k of two vectors, for t < 8 from the first pair.
  alignas(64) static const int32_t kPick[4][16] = {
      {0, 4, 8, 12, 16, 20, 24, 28}, {1, 5, 9, 13, 17, 21, 25, 29}, {2, 6, 10, 14, 18, 22, 26, 30},
      {3, 7, 11, 15, 19, 23, 27, 31}};
  const int64_t filled = round_up(g.tiles_w + 1, kV);
  for (int64_t t0 = 0; t0 < filled; t0 += kV) {
    const int64_t col0 = 4 * t0 - g.pad_w;
    __m512 a[4];
    for (int q = 0; q < 4; ++q) {
      const int64_t at = col0 + 16 * q;
      const __mmask16 m = lane_range(-at, g.in_w - at);
      a[q] = m ? _mm512_maskz_loadu_ps(m, row + at) : _mm512_setzero_ps();
    }
    for (int k = 0; k < 4; ++k) {
      const __m512i pick = _mm512_load_si512(kPick[k]);
      const __m512 lo = _mm512_permutex2var_ps(a[0], pick, a[1]), hi = _mm512_permutex2var_ps(a[2], pick, a[3]);
      _mm512_storeu_ps(dst + k * width + t0, _mm512_shuffle_f32x4(lo, hi, _MM_SHUFFLE(1, 0, 1, 0)));
    }
  }
  for (int k = 0; k < 4; ++k)
    for (int64_t t = filled; t < width; t += kV) _mm512_storeu_ps(dst + k * width + t, _mm512_setzero_ps());
}

// B^T d on six vectors, in the operation order of ops/winograd_transforms.h.
inline void bt6(const __m512 (&d)[6], __m512 (&r)[6]) {
  const __m512 two = _mm512_set1_ps(2.f), four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f);
  const __m512 minus_four = _mm512_set1_ps(-4.f);
  r[0] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(four, d[0]), _mm512_mul_ps(five, d[2])), d[4]);
  r[1] = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(minus_four, _mm512_add_ps(d[1], d[2])), d[3]), d[4]);
  r[2] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(four, _mm512_sub_ps(d[1], d[2])), d[3]), d[4]);
  r[3] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1])), d[2]), d[4]);
  r[4] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(two, _mm512_sub_ps(d[1], d[3])), d[2]), d[4]);
  r[5] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(four, d[1]), _mm512_mul_ps(five, d[3])), d[5]);
}

// A^T m on six vectors (four out), in the operation order of ops/winograd_transforms.h.
inline void at6(const __m512 (&m)[6], __m512 (&o)[4]) {
  const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
  o[1] = _mm512_add_ps(d12, _mm512_mul_ps(_mm512_set1_ps(2.f), d34));
  o[2] = _mm512_add_ps(s12, _mm512_mul_ps(_mm512_set1_ps(4.f), s34));
  o[3] = _mm512_add_ps(_mm512_add_ps(d12, _mm512_mul_ps(_mm512_set1_ps(8.f), d34)), m[5]);
}

// One vector of tiles: `rows` tile rows from ty (16 / rows lanes each, tile
// column tx0 + lane), of which the run's tiles are the `valid` lanes. Tile
// numbers count from the run's first: lane 0 is tile `lane0` (one tile row), the
// valid lanes are `count` consecutive tiles from `first`.
struct LaneGroup {
  int64_t ty, tx0;
  int rows, lanes_per_row;
  __mmask16 valid;
  int64_t lane0, first, count;
  // Where the lanes go in V / come from in M: squeezed to the valid ones over several tile rows.
  bool packed() const { return rows > 1; }
  int64_t at() const { return packed() ? first : lane0; }
  __mmask16 memory_lanes() const { return packed() ? static_cast<__mmask16>((1u << count) - 1u) : valid; }
};

int group_rows(const WinogradPlane& g) { return g.tiles_w <= 4 ? 4 : g.tiles_w <= 8 ? 2 : 1; }

template <class Body>
void for_each_lane_group(const WinogradPlane& g, int64_t t_first, int64_t count, Body body) {
  const int64_t t_end = t_first + count;
  const int rows = group_rows(g), per_row = kV / rows;
  for (int64_t ty = t_first / g.tiles_w; ty * g.tiles_w < t_end; ty += rows)
    for (int64_t tx0 = 0; tx0 < g.tiles_w; tx0 += per_row) {
      LaneGroup lg{ty, tx0, rows, per_row, 0, ty * g.tiles_w + tx0 - t_first, -1, 0};
      for (int r = 0; r < rows; ++r) {
        const int64_t row0 = (ty + r) * g.tiles_w;  // tile index of (ty + r, 0)
        const int64_t lo = std::max(t_first, row0 + tx0), hi = std::min({t_end, row0 + tx0 + per_row, row0 + g.tiles_w});
        if (hi <= lo) continue;
        lg.valid |= lane_range(r * per_row + lo - row0 - tx0, r * per_row + hi - row0 - tx0);
        if (lg.first < 0) lg.first = lo - t_first;
        lg.count += hi - lo;
      }
      if (lg.valid) body(lg);
    }
}

}  // namespace

int64_t winograd_input_scratch_floats(const WinogradPlane& g) { return kRing * 4 * phase_width(g); }

namespace {

// The 16 tiles of one lane group (kRows tile rows) from the split rows into V.
template <int kRows>
void input_group(const LaneGroup& lg, const float* const (&split)[kT * (kRows - 1) + kA], int64_t width, float* v,
                 int64_t v_pos) {
  constexpr int kPerRow = kV / kRows;
  // Columns first (t = B^T d), then rows (v = t B), as the lane-array transform.
  __m512 t[kA][kA];  // t[row][column]
#pragma GCC unroll 6
  for (int j = 0; j < kA; ++j) {
    __m512 d[kA], r[kA];
    const int64_t at = (j % 4) * width + lg.tx0 + j / 4;
#pragma GCC unroll 6
    for (int i = 0; i < kA; ++i) {
      // Tile row r's lanes read window row i from split row 4 r + i.
      d[i] = _mm512_loadu_ps(split[i] + at);
#pragma GCC unroll 4
      for (int r = 1; r < kRows; ++r)
        d[i] = _mm512_mask_loadu_ps(d[i], static_cast<__mmask16>(0xFFFFu << (r * kPerRow)), split[kT * r + i] + at - r * kPerRow);
    }
    bt6(d, r);
#pragma GCC unroll 6
    for (int i = 0; i < kA; ++i) t[i][j] = r[i];
  }
  const __mmask16 store = lg.memory_lanes();
  float* out = v + lg.at();
#pragma GCC unroll 6
  for (int i = 0; i < kA; ++i) {
    __m512 r[kA];
    bt6(t[i], r);
#pragma GCC unroll 6
    for (int j = 0; j < kA; ++j) {
      // Several tile rows: the lanes between their runs are squeezed out.
      const __m512 val = kRows > 1 ? _mm512_maskz_compress_ps(lg.valid, r[j]) : r[j];
      _mm512_mask_storeu_ps(out + (i * kA + j) * v_pos, store, val);
    }
  }
}

template <int kRows>
void input_run(const WinogradPlane& g, const float* x, int64_t t_first, int64_t count, float* v, int64_t v_pos,
               float* scratch) {
  const int64_t width = phase_width(g);
  auto slot = [&](int64_t ih) { return scratch + (ih & (kRing - 1)) * 4 * width; };
  int64_t next_row = INT64_MIN;
  for_each_lane_group(g, t_first, count, [&](const LaneGroup& lg) {
    constexpr int kSplitRows = kT * (kRows - 1) + kA;
    const int64_t ih0 = lg.ty * kT - g.pad_h;
    for (int64_t ih = std::max(ih0, next_row); ih < ih0 + kSplitRows; ++ih) split_row(g, x, ih, width, slot(ih));
    next_row = std::max(next_row, ih0 + kSplitRows);
    const float* split[kSplitRows];
    for (int i = 0; i < kSplitRows; ++i) split[i] = slot(ih0 + i);
    input_group<kRows>(lg, split, width, v, v_pos);
  });
}

}  // namespace

void winograd_input_run__avx512(const WinogradPlane& g, const float* x, int64_t t_first, int64_t count, float* v,
                                int64_t v_pos, float* scratch) noexcept {
  if (count <= 0) return;
  switch (group_rows(g)) {
    case 1: return input_run<1>(g, x, t_first, count, v, v_pos, scratch);
    case 2: return input_run<2>(g, x, t_first, count, v, v_pos, scratch);
    default: return input_run<4>(g, x, t_first, count, v, v_pos, scratch);
  }
}

void winograd_output_run__avx512(const WinogradPlane& g, const float* m, int64_t m_pos, int64_t t_first,
                                 int64_t count, float bias, const Epilogue& e, const float* residual,
                                 float* y) noexcept {
  if (count <= 0) return;
  // Stage 1 pairs phases (0,1) and (2,3) tile by tile; stage 2 puts the pairs side by side.
  alignas(64) static const int32_t kPair[2][16] = {{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23},
                                                   {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}};
  alignas(64) static const int32_t kQuad[2][16] = {{0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23},
                                                   {8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31}};
  const __m512i pair_lo = _mm512_load_si512(kPair[0]), pair_hi = _mm512_load_si512(kPair[1]);
  const __m512i quad_lo = _mm512_load_si512(kQuad[0]), quad_hi = _mm512_load_si512(kQuad[1]);
  const __m512 vb = _mm512_set1_ps(bias), lo = _mm512_set1_ps(e.lo), hi = _mm512_set1_ps(e.hi);
  const __m512 slope = _mm512_set1_ps(e.slope), zero = _mm512_setzero_ps();
  for_each_lane_group(g, t_first, count, [&](const LaneGroup& lg) {
    const __mmask16 load = lg.memory_lanes();
    const float* in = m + lg.at();
    // Columns first (t = A^T m), then rows (o = t A), as the lane-array transform.
    __m512 t[kT][kA];  // t[row][column]
    for (int j = 0; j < kA; ++j) {
      __m512 c[kA], r[kT];
      for (int i = 0; i < kA; ++i) {
        const __m512 val = _mm512_maskz_loadu_ps(load, in + (i * kA + j) * m_pos);
        c[i] = lg.packed() ? _mm512_maskz_expand_ps(lg.valid, val) : val;
      }
      at6(c, r);
      for (int i = 0; i < kT; ++i) t[i][j] = r[i];
    }
    for (int i = 0; i < kT; ++i) {
      __m512 o[kT];
      at6(t[i], o);
      const __m512 p01_lo = _mm512_permutex2var_ps(o[0], pair_lo, o[1]), p01_hi = _mm512_permutex2var_ps(o[0], pair_hi, o[1]);
      const __m512 p23_lo = _mm512_permutex2var_ps(o[2], pair_lo, o[3]), p23_hi = _mm512_permutex2var_ps(o[2], pair_hi, o[3]);
      const __m512 row[4] = {_mm512_permutex2var_ps(p01_lo, quad_lo, p23_lo),
                             _mm512_permutex2var_ps(p01_lo, quad_hi, p23_lo),
                             _mm512_permutex2var_ps(p01_hi, quad_lo, p23_hi),
                             _mm512_permutex2var_ps(p01_hi, quad_hi, p23_hi)};
      // row[q] holds lanes 4q..4q+3: 16 output columns of one tile row.
      for (int q = 0; q < 4; ++q) {
        const int lane = 4 * q, r = lane / lg.lanes_per_row;
        const int64_t oy = (lg.ty + r) * kT + i, x0 = kT * (lg.tx0 + lane - r * lg.lanes_per_row);
        const unsigned tiles = (lg.valid >> lane) & 0xFu;
        if (!tiles || oy >= g.out_h) continue;
        // Each valid tile lane stands for its 4 columns; none past the plane's edge.
        unsigned cols = 0;
        for (int l = 0; l < 4; ++l)
          if (tiles >> l & 1u) cols |= 0xFu << (4 * l);
        const __mmask16 mask = static_cast<__mmask16>(cols) & lane_range(0, g.out_w - x0);
        const int64_t at = oy * g.out_w + x0;
        __m512 val = _mm512_add_ps(row[q], vb);
        if (residual) val = _mm512_add_ps(val, _mm512_maskz_loadu_ps(mask, residual + at));
        if (e.kind == Epilogue::Kind::kClamp) {
          val = _mm512_min_ps(hi, _mm512_max_ps(lo, val));  // MAXPS / MINPS return the second operand on NaN
        } else if (e.kind == Epilogue::Kind::kLeakyRelu) {
          val = _mm512_mask_mul_ps(val, _mm512_cmp_ps_mask(val, zero, _CMP_LT_OQ), val, slope);
        }
        _mm512_mask_storeu_ps(y + at, mask, val);
      }
    }
  });
}

}  // namespace cvt
