// Shared by the int8 conv (quant.cpp) and matmul (quant_matmul.cpp) fast paths:
// the per-ISA kernel table, 8-bit loads and the weight-row packing for the
// int16 micro-kernels declared in quant.h.
#pragma once
#include <cstdint>
#include <vector>

#include "core/int_math.h"
#include "ops/conv.h"
#include "ops/quant.h"

namespace cvt::qpack {

inline bool is_q8(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

inline int32_t load_q8(const void* p, DType t, int64_t i) {
  return t == DType::kUInt8 ? int32_t(static_cast<const uint8_t*>(p)[i]) : int32_t(static_cast<const int8_t*>(p)[i]);
}

/// Rows of A per task when `outer` column blocks alone would give fewer than ~4
/// tasks per thread: a multiple of `step`, at most `max_rows` (small maps with
/// many channels, e.g. 160 rows of a 7x7 map, would otherwise be 3 tasks on 2 threads).
int64_t rows_per_task(int64_t rows, int64_t outer, int64_t step, int64_t max_rows);

// The kernels of one ISA (x86/quant_avx2.cpp, or the loops of quant_ref.cpp).
struct QKernels {
  decltype(&qgemm_s16_ukernel_4x16__avx2) ukernel;
  decltype(&qgemm_s16_requant_4x16__avx2) ukernel_requant;
  decltype(&qgemm_s16_ukernel_4x8__avx2) ukernel_4x8;
  decltype(&qgemm_s16_ukernel_1x16__avx2) ukernel_1x16;
  decltype(&qgemm_s8b_ukernel_1x16__avx2) ukernel_1x16_s8b;
  decltype(&requantize_row__avx2) requant;
  decltype(&qdw_row__avx2) dw_row;
  decltype(&qdw_requant_row__avx2) dw_requant_row;
  decltype(&qwiden_row__avx2) widen_row;
  decltype(&qwiden_deinterleave2__avx2) widen_deint2;
  decltype(&qwiden_interleave2__avx2) widen_interleave2;
  const char* suffix;
};
/// The best table for the CPU (and --isa cap).
QKernels qkernels();

/// Rows [row0, row0 + rows) of a (rows x depth) 8-bit matrix, zero point w_zp[row]
/// removed, as MR-row panels of int16 (k, k + 1) pairs: the micro-kernels' A operand.
std::vector<int16_t> pack_rows(const void* w, DType t, int64_t row0, int64_t rows, int64_t depth,
                               const std::vector<int32_t>& w_zp);

/// Thread-local scratch (gemm_scratch) counted in int16.
int16_t* scratch16(int slot, size_t n);

/// Writes one 8-bit input plane, zero point removed, into its phase-split int16
/// copy (PhaseLayout, ops/conv.h); the padding is left as it is (the caller zeroes
/// it once: every plane writes the same places).
void fill_phase_plane(const PhaseLayout& L, const QKernels& k, const uint8_t* src, bool x_signed, int32_t x_zp,
                      int16_t* dst);

}  // namespace cvt::qpack

namespace cvt {

/// The depthwise driver (quant_depthwise.cpp), for 2-D depthwise convs of up to 64 taps.
bool use_direct_depthwise_q(const ConvParams& p);
/// Its weights: C x taps int16 minus their zero points, and the block kernel's pairs
/// where it applies (qdw3x3_block16_pairs). Made once for constant weights.
struct QDwWeights {
  std::vector<int16_t> taps;
  std::vector<int32_t> block16_pairs;
};
QDwWeights prepare_qdw_weights(const QConvArgs& a, const void* w);
/// y = x conv w, requantised (a.requant) or int32.
void qconv_depthwise(const QConvArgs& a, const qpack::QKernels& k, const QDwWeights& w, const void* x, void* y);

}  // namespace cvt
