// Quantised (int8 / uint8) ops: QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger
// (ai.onnx) and ONNX Runtime's com.microsoft contrib ops QLinearAdd, QLinearMul,
// QLinearGlobalAveragePool, QLinearConcat, QLinearSigmoid, QLinearLeakyRelu.
//
// Arithmetic follows ONNX Runtime's CPU provider (MLAS) exactly, so results are
// bit-identical to it:
//  - integer products are accumulated exactly in int32;
//  - requantisation is y = clamp(rne(float(acc) * scale), qmin - zp, qmax - zp) + zp
//    with scale = x_scale * w_scale[k] / y_scale evaluated in float, in that order;
//  - QuantizeLinear is rne(x / scale) + zp, saturated; rne = round half to even.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/cpu_features.h"
#include "ops/conv.h"
#include "ops/kernel.h"

namespace cvt {

/// rne(v) as an int32 (the current rounding mode is round-to-nearest-even).
/// NaN and values beyond int32 behave like cvtps2dq: INT32_MIN.
inline int32_t round_to_int(float v) {
  if (!(v > -2147483648.f && v < 2147483648.f)) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(std::nearbyint(v));
}

template <typename T>
inline T saturate_to(int32_t v) {
  constexpr int32_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  return static_cast<T>(v < lo ? lo : (v > hi ? hi : v));
}

/// Requantises an int32 accumulator: MLAS's MlasRequantizeOutput. `lo` / `hi`
/// are the float bounds qmin - zp and qmax - zp.
inline int32_t requantize(int32_t acc, float scale, float lo, float hi, int32_t zp) {
  float v = static_cast<float>(acc) * scale;
  v = v > lo ? v : lo;  // MAXPS then MINPS, as MLAS: a NaN becomes `lo`
  v = v < hi ? v : hi;
  return static_cast<int32_t>(std::nearbyint(v)) + zp;
}

/// QuantizeLinear of one value (MLAS's MlasQuantizeLinear).
template <typename T>
inline T quantize_value(float x, float scale, int32_t zp) {
  const float lo = float(int32_t(std::numeric_limits<T>::min()) - zp);
  const float hi = float(int32_t(std::numeric_limits<T>::max()) - zp);
  float v = x / scale;
  v = v > lo ? v : lo;  // NaN -> lo, as MLAS's MAXPS
  v = v < hi ? v : hi;
  return static_cast<T>(static_cast<int32_t>(std::nearbyint(v)) + zp);
}

/// A scale / zero-point pair read from the op's inputs: one value per tensor or
/// one per channel along `axis`.
struct QuantParam {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;  // same length as scale (0 when omitted)
  DType dtype = DType::kUInt8;      // dtype of the zero point (= of the quantised tensor)
  bool per_tensor() const { return scale.size() == 1; }
  float s(int64_t i) const { return scale[per_tensor() ? 0 : i]; }
  int32_t z(int64_t i) const { return zero_point[per_tensor() ? 0 : i]; }
};

/// Reads scale (float32) and optional zero point (int8/uint8/int32) tensors.
/// `channels` > 0 allows a 1-D tensor of that length as well as a scalar.
/// `default_dtype` is used when the zero point is absent.
Result<QuantParam> read_quant_param(const Tensor* scale, const Tensor* zero_point, int64_t channels,
                                    const char* what, DType default_dtype = DType::kUInt8);

/// Geometry and quantisation of one QLinearConv / ConvInteger call.
struct QConvArgs {
  ConvParams p;
  DType x_type = DType::kUInt8, w_type = DType::kInt8;
  int32_t x_zp = 0;
  std::vector<int32_t> w_zp;      // one per output channel
  const int32_t* bias = nullptr;  // K values or null
  // Requantisation (QLinearConv only): one scale per output channel.
  std::vector<float> out_scale;
  int32_t y_zp = 0;
  DType y_type = DType::kUInt8;
  bool requant = true;  // false: ConvInteger, int32 output
};

/// Reference paths (quant_ref.cpp): plain loops, exact int32/int64 arithmetic.
void qconv_ref(const QConvArgs& a, const void* x, const void* w, void* y);
/// y[m][n] = sum_k (a[m][k] - a_zp[m]) * (b[k][n] - b_zp[n]) for one matrix.
void qgemm_ref(int64_t m, int64_t n, int64_t k, const void* a, DType a_type, const int32_t* a_zp, bool a_zp_per_row,
               const void* b, DType b_type, const int32_t* b_zp, bool b_zp_per_col, int32_t* y);

// ---- fast path (quant.cpp, x86/quant_avx2.cpp) -----------------------------------
//
// Activations and weights are widened to int16 with their zero points already
// subtracted, and multiplied with vpmaddwd (s16 x s16 -> s32 pairs). This is exact
// for every u8/s8 combination: a bare vpmaddubsw (u8 x s8 -> s16 pairs) saturates
// when a pair's |products| add up past 32767 (e.g. 255*127 + 255*127 = 64770).
// Subtracting the zero points before the products also makes padding simply 0.

constexpr int kQgemmMr = 4, kQgemmNr = 16;
/// c[i*ldc + j] = sum over kp < kpairs of a[kp][i][0..1] . b[kp][j][0..1], i < MR, j < NR:
/// `a` is an MR-row panel of int16 pairs; `b` holds NR columns of int16 pairs per
/// k pair, `ldb` int16 apart (2 * NR for a packed panel, 2 * pixels when B is the
/// pair-interleaved input itself).
void qgemm_s16_ukernel_4x16__avx2(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, int32_t* c,
                                  int64_t ldc) noexcept;
void qgemm_s16_ukernel_4x16__scalar(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, int32_t* c,
                                    int64_t ldc) noexcept;
/// The same product for the first 8 of the NR columns (a tile's narrow tail):
/// c[i * ldc + j], j < 8; `b` keeps the NR-column panel layout.
void qgemm_s16_ukernel_4x8__avx2(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, int32_t* c,
                                 int64_t ldc) noexcept;
void qgemm_s16_ukernel_4x8__scalar(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb, int32_t* c,
                                   int64_t ldc) noexcept;
/// One row of the 4x16 product (row `row` of the MR-row panel `a`): the GEMV case
/// (QLinearMatMul with one row), a quarter of the 4x16 kernel's multiplies.
void qgemm_s16_ukernel_1x16__avx2(int64_t kpairs, const int16_t* a, int row, const int16_t* b, int64_t ldb,
                                  int32_t* c) noexcept;
void qgemm_s16_ukernel_1x16__scalar(int64_t kpairs, const int16_t* a, int row, const int16_t* b, int64_t ldb,
                                    int32_t* c) noexcept;
/// The 1x16 row with B kept in int8 (the same panel layout, one byte a value,
/// widened in registers): half the weight bytes of a memory-bound GEMV. `b` holds
/// 2 * NR int8 per k pair, back to back. For B whose values (zero point removed) fit int8.
void qgemm_s8b_ukernel_1x16__avx2(int64_t kpairs, const int16_t* a, int row, const int8_t* b, int32_t* c) noexcept;
void qgemm_s8b_ukernel_1x16__scalar(int64_t kpairs, const int16_t* a, int row, const int8_t* b, int32_t* c) noexcept;
/// Requantisation of an MR-row strip: row i uses bias[i] (bias may be null) and scale[i].
struct QRequantRows {
  const int32_t* bias;
  const float* scale;
  int32_t zp;
  bool is_signed;
};
/// The micro-kernel with requantisation fused into its epilogue: a full MR x NR
/// tile goes straight to 8-bit outputs y[i * ldy + j] (no int32 tile in memory).
void qgemm_s16_requant_4x16__avx2(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb,
                                  const QRequantRows& rq, uint8_t* y, int64_t ldy) noexcept;
void qgemm_s16_requant_4x16__scalar(int64_t kpairs, const int16_t* a, const int16_t* b, int64_t ldb,
                                    const QRequantRows& rq, uint8_t* y, int64_t ldy) noexcept;
/// y[i] = requantize(acc[i] + bias, scale, ...) saturated to u8 (is_signed false) or s8.
void requantize_row__avx2(const int32_t* acc, int64_t n, int32_t bias, float scale, int32_t zp, bool is_signed,
                          void* y) noexcept;
void requantize_row__scalar(const int32_t* acc, int64_t n, int32_t bias, float scale, int32_t zp, bool is_signed,
                            void* y) noexcept;
/// The depthwise AVX2 row kernel reads up to this many int16 past the last output
/// of a row (results discarded): the padded plane must have that many readable extra values.
constexpr int64_t kQdwSlack = 16;
/// One output row of a depthwise conv on an int16 zero-point-free padded plane:
/// acc[ox] = sum_t w[t] * x[tap_offset[t] + ox], ox < q (taps read contiguously).
void qdw_row__avx2(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t q,
                   int32_t* acc) noexcept;
void qdw_row__scalar(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t q,
                     int32_t* acc) noexcept;
/// The requantisation of one depthwise channel's sums.
struct QDwRequant {
  int32_t bias;
  float scale;
  int32_t zp;
  bool is_signed;
};
/// qdw_row then requantize_row in one pass, the sums never stored: y[i] for
/// i < n, n a multiple of 16.
void qdw_requant_row__avx2(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t n,
                           const QDwRequant& rq, uint8_t* y) noexcept;
void qdw_requant_row__scalar(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t n,
                             const QDwRequant& rq, uint8_t* y) noexcept;
void qdw_requant_row__avx512(const int16_t* x, const int64_t* tap_offset, const int16_t* w, int taps, int64_t n,
                             const QDwRequant& rq, uint8_t* y) noexcept;

/// Depthwise 3x3 QLinearConv (stride 1 or 2, dilation 1) with 16 channels in the
/// vector lanes, for small maps: the 16 planes of a block are transposed into a
/// zero-padded [row][column][16] int16 copy of x minus its zero point (the caller
/// zeroes the padding once; every block writes the same inside places), each output pixel takes
/// 6 vpdpwssd of tap pairs, and 16 output pixels are transposed back into their
/// NCHW planes. No padded columns computed, no per-row calls or copies.
struct QDwBlock {
  const ConvParams* p;
  const uint8_t* x;  // one image, NCHW, 8-bit
  bool x_signed;
  int32_t x_zp;
  const int32_t* w_pairs;  // qdw3x3_block16_pairs()
  const int32_t* bias;  // C, or null
  const float* scale;   // C: x_scale * w_scale / y_scale
  int32_t y_zp;
  bool y_signed;
  uint8_t* y;  // one image
};
/// The padded copy's extent: rows x cols pixels of 16 int16.
struct QDwBlockGeometry {
  int64_t rows, cols;
  int64_t scratch_int16() const { return rows * cols * 16; }
};
QDwBlockGeometry qdw3x3_block16_geometry(const ConvParams& p);
/// The weights (C x 9, minus their zero points) as the block kernel reads them: per block of 16
/// channels and kernel row ky, 16 lanes of int16 pairs (w[ky][0], w[ky][1]), then 16 of (w[ky][2], 0).
std::vector<int32_t> qdw3x3_block16_pairs(const int16_t* w, int64_t channels);
/// Whether the block kernel takes this conv: 2-D depthwise 3x3, stride 1 or 2,
/// dilation 1, inputs of at most 1024 pixels (32x32; the padded copy stays in L1 / L2,
/// and 56x56 maps were slower than the row kernel), AVX-512 VNNI here and allowed.
bool use_qdw3x3_block16(const ConvParams& p);
/// Channels [c0, c0 + 16) (fewer at the end) of one image.
void qdw3x3_block16__avx512vnni(const QDwBlock& b, int64_t c0, int16_t* xpad) noexcept;

/// dst[i] = src[i] - zp as int16, i < n; src is int8 (is_signed) or uint8.
void qwiden_row__avx2(const void* src, bool is_signed, int32_t zp, int64_t n, int16_t* dst) noexcept;
void qwiden_row__scalar(const void* src, bool is_signed, int32_t zp, int64_t n, int16_t* dst) noexcept;
/// The same with the even and odd elements split (stride-2 column phases):
/// even[i] = src[2i] - zp, odd[i] = src[2i + 1] - zp, i < pairs.
void qwiden_deinterleave2__avx2(const void* src, bool is_signed, int32_t zp, int64_t pairs, int16_t* even,
                                int16_t* odd) noexcept;
void qwiden_deinterleave2__scalar(const void* src, bool is_signed, int32_t zp, int64_t pairs, int16_t* even,
                                  int16_t* odd) noexcept;

/// The inverse: two rows interleaved as (k, k + 1) pairs, dst[2i] = r0[i] - zp,
/// dst[2i + 1] = r1[i] - zp (0 when r1 is null: an odd last channel), i < n.
void qwiden_interleave2__avx2(const void* r0, const void* r1, bool is_signed, int32_t zp, int64_t n,
                              int16_t* dst) noexcept;
void qwiden_interleave2__scalar(const void* r0, const void* r1, bool is_signed, int32_t zp, int64_t n,
                                int16_t* dst) noexcept;

/// QuantizeLinear of one run sharing scale and zero point: y[i] = quantize_value(x[i]),
/// saturated to int8 (is_signed) or uint8.
void quantize_run__avx2(const float* x, int64_t n, float scale, int32_t zp, bool is_signed, void* y) noexcept;
void quantize_run__scalar(const float* x, int64_t n, float scale, int32_t zp, bool is_signed, void* y) noexcept;

/// QLinearAdd on one run of n elements, ONNX Runtime's AVX2 kernel formula:
/// c = clamp(rne((float(a - za) * sa + float(b - zb) * sb) / sc), qmin - zc, qmax - zc) + zc.
/// a_step / b_step are 1 (walk) or 0 (broadcast one value).
struct QAddParams {
  float sa, sb, sc;
  int32_t za, zb, zc;
  bool is_signed;
};
void qlinear_add_run__scalar(const void* a, int64_t a_step, const void* b, int64_t b_step, int64_t n,
                             const QAddParams& q, void* c) noexcept;
void qlinear_add_run__avx2(const void* a, int64_t a_step, const void* b, int64_t b_step, int64_t n,
                           const QAddParams& q, void* c) noexcept;

/// Registers every op of this family (ai.onnx and com.microsoft rows).
void register_quant_ops(std::vector<OpSchema>& t);

}  // namespace cvt
