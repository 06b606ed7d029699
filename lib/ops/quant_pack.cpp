// The int8 kernel table, the weight-row packing and the phase-split input planes
// shared by quant.cpp, quant_depthwise.cpp and quant_matmul.cpp.
#include "ops/quant_pack.h"

#include <algorithm>

#include "core/parallel.h"
#include "ops/gemm.h"

namespace cvt::qpack {

QKernels qkernels() {
  if (active_isa() >= Isa::kAvx2)
    return {qgemm_s16_ukernel_4x16__avx2, qgemm_s16_requant_4x16__avx2,
            qgemm_s16_ukernel_4x8__avx2,  qgemm_s16_ukernel_1x16__avx2, qgemm_s8b_ukernel_1x16__avx2,
            requantize_row__avx2,         qdw_row__avx2,                qdw_requant_row__avx2,
            qwiden_row__avx2,             qwiden_deinterleave2__avx2,   qwiden_interleave2__avx2,
            "__avx2"};
  return {qgemm_s16_ukernel_4x16__scalar, qgemm_s16_requant_4x16__scalar,
          qgemm_s16_ukernel_4x8__scalar,  qgemm_s16_ukernel_1x16__scalar, qgemm_s8b_ukernel_1x16__scalar,
          requantize_row__scalar,         qdw_row__scalar,                qdw_requant_row__scalar,
          qwiden_row__scalar,             qwiden_deinterleave2__scalar,   qwiden_interleave2__scalar,
          "__scalar"};
}

std::vector<int16_t> pack_rows(const void* w, DType t, int64_t row0, int64_t rows, int64_t depth,
                               const std::vector<int32_t>& w_zp) {
  const int64_t prow = round_up(rows, kQgemmMr), pdepth = round_up(depth, 2);
  std::vector<int16_t> out(static_cast<size_t>(prow * pdepth), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < depth; ++d) {
      const int64_t panel = r / kQgemmMr, i = r % kQgemmMr;
      const int64_t at = panel * pdepth * kQgemmMr + (d / 2) * 2 * kQgemmMr + i * 2 + (d % 2);
      out[at] = static_cast<int16_t>(load_q8(w, t, (row0 + r) * depth + d) - w_zp[row0 + r]);
    }
  return out;
}

int64_t rows_per_task(int64_t rows, int64_t outer, int64_t step, int64_t max_rows) {
  const int64_t want = 4 * current_concurrency();
  const int64_t chunks_wanted = std::max<int64_t>(1, (want + outer - 1) / std::max<int64_t>(1, outer));
  return std::clamp<int64_t>(round_up((rows + chunks_wanted - 1) / chunks_wanted, step), step, max_rows);
}

int16_t* scratch16(int slot, size_t n) { return reinterpret_cast<int16_t*>(gemm_scratch(slot, (n + 1) / 2)); }

void fill_phase_plane(const PhaseLayout& L, const QKernels& k, const uint8_t* src, bool x_signed, int32_t x_zp,
                      int16_t* dst) {
  // What the row loop needs, in locals: around a call through a pointer the
  // compiler would reload every field per row, and MobileNet's stride-2 planes
  // have rows of 7 and 14 values.
  const int64_t rows = L.yy_hi - L.yy_lo, in_w = L.in_w, n_in = L.n_in;
  const int64_t* row_start = L.input_row_start.data();
  const uint8_t* in = src + (L.yy_lo - L.ph) * in_w;
  if (L.sw == 1) {
    const auto widen = k.widen_row;
    const int64_t at = L.phase_dst0[0];
    for (int64_t r = 0; r < rows; ++r, in += in_w) widen(in, x_signed, x_zp, n_in, dst + row_start[r] + at);
  } else if (L.sw == 2) {  // even input columns go to the phase starting at ix 0, odd ones to the other
    const auto deint = k.widen_deint2;
    const int64_t even_at = L.phase_dst0[L.phase_ix0[0] == 0 ? 0 : 1];
    const int64_t odd_at = L.phase_dst0[L.phase_ix0[0] == 0 ? 1 : 0];
    const int64_t pairs = n_in / 2;
    for (int64_t r = 0; r < rows; ++r, in += in_w) {
      int16_t* row = dst + row_start[r];
      deint(in, x_signed, x_zp, pairs, row + even_at, row + odd_at);
      if (n_in % 2) {  // the last, even column
        const int32_t v = x_signed ? int32_t(int8_t(in[n_in - 1])) : int32_t(in[n_in - 1]);
        row[even_at + pairs] = static_cast<int16_t>(v - x_zp);
      }
    }
  } else {
    for (int64_t r = 0; r < rows; ++r, in += in_w)
      for (int64_t phase = 0; phase < L.sw; ++phase) {
        int16_t* out = dst + row_start[r] + L.phase_dst0[phase];
        for (int64_t ix = L.phase_ix0[phase]; ix < n_in; ix += L.sw)
          *out++ = static_cast<int16_t>((x_signed ? int32_t(int8_t(in[ix])) : int32_t(in[ix])) - x_zp);
      }
  }
}

}  // namespace cvt::qpack
