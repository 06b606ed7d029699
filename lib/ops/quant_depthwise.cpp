// Depthwise QLinearConv / ConvInteger: 3x3 maps up to 32x32 with 16 channels a
// vector (x86/quant_dw_block16_avx512vnni.cpp), other kernels one phase-split plane
// at a time through the row kernels. The plain loop is qconv_ref (quant_ref.cpp).
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/conv.h"
#include "ops/gemm.h"
#include "ops/quant.h"
#include "ops/quant_pack.h"

namespace cvt {

using namespace qpack;

QDwBlockGeometry qdw3x3_block16_geometry(const ConvParams& p) {
  return {(p.out[1] - 1) * p.stride[1] + 3, (p.out[2] - 1) * p.stride[2] + 3};
}

std::vector<int32_t> qdw3x3_block16_pairs(const int16_t* w, int64_t channels) {
  std::vector<int32_t> pairs(static_cast<size_t>((channels + 15) / 16 * 96), 0);
  const auto pair = [](int16_t lo, int16_t hi) { return int32_t(uint32_t(uint16_t(lo)) | uint32_t(uint16_t(hi)) << 16); };
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t ky = 0; ky < 3; ++ky) {
      const int16_t* wc = w + c * 9 + ky * 3;
      int32_t* at = pairs.data() + (c / 16) * 96 + ky * 32 + c % 16;
      at[0] = pair(wc[0], wc[1]);
      at[16] = pair(wc[2], 0);
    }
  return pairs;
}

namespace {

// Zeroes the places of qdw3x3_block16's padded copy that hold no input pixel (a 28x28
// map's ring is 116 of 900 pixels: zeroing all of it per task cost ~1 us).
void zero_block16_padding(const ConvParams& p, int16_t* xpad) {
  const QDwBlockGeometry g = qdw3x3_block16_geometry(p);
  const int64_t top = std::min(g.rows, p.pad_begin[1]), bottom = std::min(g.rows, top + p.in[1]);
  const int64_t left = std::min(g.cols, p.pad_begin[2]), right = std::min(g.cols, left + p.in[2]);
  const auto zero = [&](int64_t row, int64_t c0, int64_t c1) {
    if (c1 > c0) std::memset(xpad + (row * g.cols + c0) * 16, 0, sizeof(int16_t) * 16 * (c1 - c0));
  };
  for (int64_t row = 0; row < g.rows; ++row) {
    if (row < top || row >= bottom) {
      zero(row, 0, g.cols);
    } else {
      zero(row, 0, left);
      zero(row, right, g.cols);
    }
  }
}

}  // namespace

bool use_qdw3x3_block16(const ConvParams& p) {
  return p.is_depthwise() && p.in[0] == 1 && p.kernel[0] == 1 && p.out[0] == 1 && p.pad_begin[0] == 0 &&
         p.kernel[1] == 3 && p.kernel[2] == 3 && p.dilation[1] == 1 && p.dilation[2] == 1 && p.stride[1] <= 2 &&
         p.stride[2] <= 2 && p.in[1] * p.in[2] <= 1024 && cpu_features().avx512vnni && active_isa() >= Isa::kAvx512;
}

bool use_direct_depthwise_q(const ConvParams& p) {
  return p.is_depthwise() && p.in[0] == 1 && p.kernel[0] == 1 && p.out[0] == 1 && p.pad_begin[0] == 0 &&
         p.kernel_size() <= 64;
}

QDwWeights prepare_qdw_weights(const QConvArgs& a, const void* w) {
  const ConvParams& p = a.p;
  const int64_t taps = p.kernel_size();
  QDwWeights pw;
  pw.taps.resize(static_cast<size_t>(p.in_channels * taps));
  for (int64_t c = 0; c < p.in_channels; ++c)
    for (int64_t t = 0; t < taps; ++t)
      pw.taps[c * taps + t] = static_cast<int16_t>(load_q8(w, a.w_type, c * taps + t) - a.w_zp[c]);
  if (a.requant && use_qdw3x3_block16(p)) pw.block16_pairs = qdw3x3_block16_pairs(pw.taps.data(), p.in_channels);
  return pw;
}

namespace {

// The requantising depthwise row: 32 outputs a step on AVX-512, else the table's.
decltype(&qdw_requant_row__avx2) dw_requant_row_kernel(const QKernels& k) {
  return active_isa() >= Isa::kAvx512 ? qdw_requant_row__avx512 : k.dw_requant_row;
}

}  // namespace

// Depthwise 2-D: each plane is copied once into its phase-split padded form
// (PhaseLayout), so the whole plane is one row-kernel call over out_h rows of
// phase_w values (the phase_w - out_w columns past each row's end are computed and
// dropped): MobileNet's 14x14 and 7x7 planes, and every stride-2 plane, would
// otherwise pay a call, a tail and a requantisation per 14, 7 or 56 outputs.
void qconv_depthwise(const QConvArgs& a, const QKernels& k, const QDwWeights& pw, const void* x, void* y) {
  const ConvParams& p = a.p;
  const int64_t r = p.kernel[1], s = p.kernel[2], q = p.out[2], out_h = p.out[1];
  const int taps = static_cast<int>(r * s);
  const std::vector<int16_t>& wv = pw.taps;
  if (a.requant && use_qdw3x3_block16(p)) {
    const std::vector<int32_t>& pairs = pw.block16_pairs;
    const int64_t blocks = (p.in_channels + 15) / 16, scratch = qdw3x3_block16_geometry(p).scratch_int16();
    const int64_t in_image = p.in_channels * p.in[1] * p.in[2], out_image = p.out_channels * p.out[1] * p.out[2];
    // ~4 chunks a thread: one TBB task per ~1 us block cost more than it saved on 2 threads.
    const int64_t grain = std::max<int64_t>(1, p.batch * blocks / (4 * current_concurrency()));
    parallel_for(0, p.batch * blocks, grain, [&](int64_t lo, int64_t hi) {
      int16_t* xpad = scratch16(0, static_cast<size_t>(scratch));
      zero_block16_padding(p, xpad);  // blocks write only the inside
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t n = t / blocks;
        const QDwBlock b{&p, static_cast<const uint8_t*>(x) + n * in_image, a.x_type == DType::kInt8, a.x_zp,
                         pairs.data(), a.bias, a.out_scale.data(), a.y_zp, a.y_type == DType::kInt8,
                         static_cast<uint8_t*>(y) + n * out_image};
        qdw3x3_block16__avx512vnni(b, (t % blocks) * 16, xpad);
      }
    });
    return;
  }
  const PhaseLayout L = phase_layout(p);
  const std::vector<int64_t> tap0 = L.tap_offsets(r, s, p.dilation[1], p.dilation[2]);
  // The run is rounded up to whole 16-wide chunks (the row kernel's and the
  // requantisation's vectors, no tails): the extra sums read the slack below and are dropped.
  const int64_t n_acc = round_up(out_h * L.phase_w, 16);
  // Past the sub-planes: the run's rounding up to 16 (kQdwSlack), plus the last
  // row's dropped columns reaching one row further.
  const int64_t plane_len = L.plane_len() + kQdwSlack + L.phase_w;
  const bool x_signed = a.x_type == DType::kInt8, y_signed = a.y_type == DType::kInt8;
  const uint8_t* xb = static_cast<const uint8_t*>(x);  // 8-bit input
  // A few tasks per thread: each zeroes its plane buffer once, and small planes
  // (7x7) cost less than a task each.
  const int64_t planes = p.batch * p.in_channels;
  const int64_t grain = std::max<int64_t>(1, planes / (4 * current_concurrency()));
  const auto dw_requant_row = dw_requant_row_kernel(k);
  parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
    // Zeroed once per task: every plane writes its values to the same places, so
    // the padding (and the slack) stays 0 from plane to plane.
    int16_t* xp = scratch16(0, static_cast<size_t>(plane_len));
    std::memset(xp, 0, sizeof(int16_t) * plane_len);
    int32_t* acc = a.requant ? nullptr : reinterpret_cast<int32_t*>(gemm_scratch(1, static_cast<size_t>(n_acc)));
    uint8_t* plane_q8 = a.requant ? reinterpret_cast<uint8_t*>(gemm_scratch(2, static_cast<size_t>(n_acc + 3) / 4)) : nullptr;
    for (int64_t plane = lo; plane < hi; ++plane) {
      const int64_t c = plane % p.in_channels;
      fill_phase_plane(L, k, xb + plane * L.in_h * L.in_w, x_signed, a.x_zp, xp);
      if (a.requant) {
        const QDwRequant rq{a.bias ? a.bias[c] : 0, a.out_scale[c], a.y_zp, y_signed};
        dw_requant_row(xp, tap0.data(), wv.data() + c * taps, taps, n_acc, rq, plane_q8);
        // Fixed-size moves per row: a byte loop here would reload every captured
        // value per byte (a uint8_t store may alias anything).
        uint8_t* yp = static_cast<uint8_t*>(y) + plane * out_h * q;
        for (int64_t oy = 0; oy < out_h; ++oy) copy_short(plane_q8 + oy * L.phase_w, q, yp + oy * q);
      } else {
        k.dw_row(xp, tap0.data(), wv.data() + c * taps, taps, n_acc, acc);
        int32_t* yp = static_cast<int32_t*>(y) + plane * out_h * q;
        for (int64_t oy = 0; oy < out_h; ++oy) std::memcpy(yp + oy * q, acc + oy * L.phase_w, sizeof(int32_t) * q);
      }
    }
  });
}

}  // namespace cvt
