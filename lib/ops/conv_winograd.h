// Winograd F(4x4, 3x3) convolution (Lavin & Gray 2015) for 3x3, stride-1,
// undilated, ungrouped 2-D convolutions: each 4x4 output tile costs 36
// multiplies per (input, output) channel pair instead of 144. The 36 products
// are 36 GEMMs (K x C) * (C x tiles) on the packed SGEMM; the transforms run
// on 8 tiles at a time (16 on AVX-512). Error grows with the transform constants (up to 8 and
// 1/24): tests/ops/test_conv_winograd.cpp bounds it against the reference.
#pragma once
#include <vector>

#include "ops/conv.h"
#include "ops/gemm.h"

namespace cvt {

inline constexpr int kWinogradAlpha = 6;  // input tile side (4 + 3 - 1)
inline constexpr int kWinogradTile = 4;   // output tile side

/// 3x3, stride 1, dilation 1, group 1, 2-D, with enough channels to pay for the transforms.
bool winograd_eligible(const ConvParams& p);
/// Eligible and with at least 9 output tiles: below that (e.g. a 7x7 output) the
/// 36 GEMMs are too narrow and im2col is faster (ResNet-18 layer4: 7.0 vs 4.7 ms).
/// The channels it takes to pay for the transforms depend on the ISA (the GEMM
/// kernel set's, whose passes the conv runs).
bool winograd_preferred(const ConvParams& p, Isa isa);
/// Same test from the weight shape and attributes alone (for packing at load).
bool winograd_eligible_weights(const ConvAttrs& a, const Shape& w);

/// U = G g G^T for every (k, c), stored as 36 packed (K x C) GEMM operands.
struct WinogradWeights {
  std::vector<PackedA> u;  // one per position of the 6x6 transformed tile
  int64_t k = 0, c = 0;
  bool empty() const { return u.empty(); }
};
WinogradWeights winograd_pack_weights(const GemmKernelSet& ks, const float* w, int64_t k, int64_t c);

/// y = conv(x, w) + bias (+ residual, shaped like y, when not null) through the
/// epilogue in p.activation. x (N, C, H, W), y (N, K, P, Q).
void conv_winograd_f43(const ConvParams& p, const GemmKernelSet& ks, const WinogradWeights& u, const float* x,
                       const float* bias, float* y, const float* residual = nullptr);

/// The tile transforms on 8 tiles, [position][tile], built for AVX2 (x86/winograd_avx2.cpp).
void winograd_input_transform__avx2(const float (*d)[8], float (*v)[8]) noexcept;    // 36 -> 36
void winograd_output_transform__avx2(const float (*m)[8], float (*o)[8]) noexcept;  // 36 -> 16
/// The 6x6 windows of 8 tiles side by side on one tile row (x at the first one's
/// top-left, rows ld apart, 34 values read per row) as d[position][tile].
void winograd_gather8__avx2(const float* x, int64_t ld, float (*d)[8]) noexcept;
/// Their 4x4 outputs o[position][tile] + bias (+ residual, laid out like y) through
/// e (none, clamp or leaky relu) into rows of 32 values, ld apart.
void winograd_scatter8__avx2(const float (*o)[8], float bias, const Epilogue& e, const float* residual, int64_t ld,
                             float* y) noexcept;
/// Any `lanes` (<= 8) tiles, each its own place: tile l's rows[l] x cols[l] outputs
/// o[i * 4 + j][l] + bias (+ residual[l], laid out like y) through e (none, clamp or
/// leaky relu) to y[l], rows ld apart. Same arithmetic as the scalar scatter.
struct WinogradTileOut {
  float* y[8];
  const float* residual[8];  // all null without a residual
  int rows[8], cols[8];
};
void winograd_scatter_tiles__avx2(const float (*o)[8], int lanes, const WinogradTileOut& t, float bias,
                                  const Epilogue& e, int64_t ld) noexcept;

/// One image's planes as the AVX-512 passes see them: tiles in row-major order,
/// tiles_w to a tile row.
struct WinogradPlane {
  int64_t in_h, in_w, pad_h, pad_w;  // input plane and its top / left padding
  int64_t out_h, out_w, tiles_w;
};
/// Input pass, 16 tiles of a tile row a vector: tiles [t_first, t_first + count)
/// of the input plane x, transformed, into v[xi * v_pos + (t - t_first)].
/// scratch: winograd_input_scratch_floats(g) floats, this thread's own.
void winograd_input_run__avx512(const WinogradPlane& g, const float* x, int64_t t_first, int64_t count, float* v,
                                int64_t v_pos, float* scratch) noexcept;
int64_t winograd_input_scratch_floats(const WinogradPlane& g);
/// Output pass for one output channel: m[xi * m_pos + (t - t_first)] of those
/// tiles, transformed, + bias (+ residual, laid out like y) through e (none,
/// clamp or leaky relu) into the output plane y.
void winograd_output_run__avx512(const WinogradPlane& g, const float* m, int64_t m_pos, int64_t t_first,
                                 int64_t count, float bias, const Epilogue& e, const float* residual,
                                 float* y) noexcept;

/// The single-tile transforms, exposed for tests: 3x3 -> 6x6 (weights), 6x6 -> 6x6 (input), 6x6 -> 4x4 (output).
void winograd_f43_weight_tile(const float* g, float* u);
void winograd_f43_input_tile(const float* d, float* v);
void winograd_f43_output_tile(const float* m, float* o);

}  // namespace cvt
