// The int8 kernel table and the weight-row packing shared by quant.cpp and quant_matmul.cpp.
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

}  // namespace cvt::qpack
