// Exact u8 x s8 pointwise QLinearConv on vpmaddubsw (x86/quant_u8s8_avx2.cpp).
//
// vpmaddubsw adds two u8 x s8 products into a saturating int16. With activations
// a <= 255 a pair a0*w0 + a1*w1 stays inside int16 whenever the weights of the
// same sign in it add up to at most 128 in magnitude (255 * 128 = 32640), and a
// pair of opposite signs always does. So each weight row is split at load time:
// the "main" weights, where a same-sign pair over 128 gives its second weight only
// what is left of 128, and a short list of (k, remainder) corrections, |r| <= 128,
// added exactly afterwards (a * r fits int16). On MobileNetV2-int8 ~1.5% of the
// weights carry a remainder. The zero point of x comes out through column sums:
// sum (a - zx) w = sum a w - zx sum w. Results equal the int16 path bit for bit.
//
// With AVX-512 VNNI, vpdpbusd adds the four u8 x s8 products of a quad straight
// into int32, which cannot saturate: the weights stay whole (no remainders) and
// one instruction does the work of three, on 64-pixel tiles.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/quant.h"

namespace cvt {

struct QRemainder {
  int32_t k;  // input channel
  int32_t r;  // the weight's part left out of the main pair
};

/// One conv's weights (rows = output channels, a multiple of 4; depth = input channels).
struct QU8S8Weights {
  int64_t rows = 0, depth = 0, quads = 0;  // quads = ceil(depth / 4)
  std::vector<int8_t> main;                // [rows / 4][quads][4 rows][4 k]
  std::vector<int32_t> row_sum;            // sum_k w[row][k] of the full weights
  std::vector<int32_t> rem_start;          // rows + 1 offsets into rem
  std::vector<QRemainder> rem;
  bool split = true;  // false: whole weights, no remainders (the vpdpbusd kernel's form)
  bool empty() const { return main.empty(); }
};
/// Splits (unless `split` is false) and packs s8 weights (rows x depth, row-major);
/// empty if rows % 4 != 0.
QU8S8Weights pack_u8s8_weights(const int8_t* w, int64_t rows, int64_t depth, bool split = true);

/// Whether the whole-weight vpdpbusd kernel runs here (CPU has AVX-512 VNNI, ISA cap allows AVX-512).
bool u8s8_use_vnni();

/// 4 rows x 16 pixels: acc = sum_q maddubs(b[q], a[q]) over the main weights plus
/// the remainders of the 4 rows (rem[rem_start[i] .. rem_start[i + 1]) for row i,
/// read from x rows ldx apart, 16 readable pixels), then requantised with
/// rq.bias (x's zero point already folded in) into y rows ldy apart.
/// `b` holds, per quad q, 16 pixels x 4 bytes (the 4 channels of the quad) at b + q * ldb.
struct QU8S8Tile {
  int64_t quads;
  const int8_t* a;  // the 4-row panel: [quads][4 rows][4 k]
  const uint8_t* b;
  int64_t ldb;
  const QRemainder* rem;
  const int32_t* rem_start;  // 5 offsets
  const uint8_t* x;
  int64_t ldx;
};
void qgemm_u8s8_requant_4x16__avx2(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy) noexcept;
void qgemm_u8s8_requant_4x16__scalar(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy) noexcept;
/// The same for the first `pixels` (1..64) columns of a 64-pixel tile: b readable up to
/// pixels rounded up to 16; only `pixels` columns of y are written. The VNNI kernel
/// takes whole weights (t.rem_start all equal); the scalar twin also adds remainders.
void qgemm_u8s8_requant_4x64__avx512vnni(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy,
                                         int64_t pixels) noexcept;
void qgemm_u8s8_requant_4x64__scalar(const QU8S8Tile& t, const QRequantRows& rq, uint8_t* y, int64_t ldy,
                                     int64_t pixels) noexcept;

/// dst[q * ld + 4 * j + i] = rows[i][j] for the 4 rows of quad q (null rows are 0), j < n:
/// the B operand above from 4 NCHW channel rows.
void qinterleave4_u8__avx2(const uint8_t* const rows[4], int64_t n, uint8_t* dst) noexcept;
void qinterleave4_u8__scalar(const uint8_t* const rows[4], int64_t n, uint8_t* dst) noexcept;

/// A 2-D, ungrouped conv's u8 input as im2col rows for the pointwise driver below:
/// cols (N, C * R * S, P) with row c * R * S + ky * S + kx holding x at each output
/// pixel's tap, or the zero point where the tap falls in the padding (so x - zp is 0).
void im2col_u8(const ConvParams& p, const uint8_t* x, uint8_t zp, uint8_t* cols);

/// The fast path for a pointwise, ungrouped QLinearConv with u8 x, s8 w (zero
/// points 0) and 8-bit y, on AVX2 (split weights) or AVX-512 VNNI (whole ones).
/// x (N, C, P) u8, y (N, K, P).
/// folded_bias: bias - x_zp * w.row_sum per row, when the caller keeps it (else made here).
void qconv_pointwise_u8s8(const QConvArgs& a, const QU8S8Weights& w, const uint8_t* x, uint8_t* y,
                          const int32_t* folded_bias = nullptr);

}  // namespace cvt
