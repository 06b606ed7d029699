// im2col packers of the Conv fast path (ops/conv.cpp): rows (c, kd, kh, kw) of
// one image and group, columns output pixels, straight into SGEMM B panels of NR
// columns. Two sources: the input planes themselves (any rank, bounds tested per
// piece) or phase-split padded copies of them (2-D, PhaseLayout: plain copies).
// conv_direct_taps skips the packing: the micro-kernel reads those copies in place.
#include <algorithm>
#include <cstring>

#include "ops/conv.h"

#include "core/int_math.h"
#include "core/parallel.h"

namespace cvt {

namespace {

// im2col of one image and group, straight into packed B panels of NR
// columns: rows are (c, kd, kh, kw), columns output pixels (od, oh, ow).
template <int NR>
void im2col_pack_nr(const ConvParams& p, const float* x, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                    float* dst) {
  const auto [kd_n, kh_n, kw_n] = p.kernel;
  const auto [od_n, oh_n, ow_n] = p.out;
  const int64_t ks = p.kernel_size(), in_w = p.in[2], sw = p.stride[2];
  for (int64_t r = 0; r < kc; ++r) {
    const int64_t row = k0 + r, c = row / ks, kidx = row % ks;
    const int64_t kd = kidx / (kh_n * kw_n), kh = (kidx / kw_n) % kh_n, kw = kidx % kw_n;
    const float* xc = x + c * p.in_pixels();
    const int64_t d_off = kd * p.dilation[0] - p.pad_begin[0], h_off = kh * p.dilation[1] - p.pad_begin[1];
    const int64_t w_off = kw * p.dilation[2] - p.pad_begin[2];
    int64_t ow = n0 % ow_n, oh = (n0 / ow_n) % oh_n, od = n0 / (ow_n * oh_n);
    float* out = dst + r * NR;
    for (int64_t j = 0; j < nc; j += NR, out += kc * NR) {
      const int64_t cnt = std::min<int64_t>(NR, nc - j);
      const int64_t id = od * p.stride[0] + d_off, ih = oh * p.stride[1] + h_off, iw0 = ow * sw + w_off;
      const bool rows_inside = id >= 0 && id < p.in[0] && ih >= 0 && ih < p.in[1];
      if (cnt == NR && ow + NR <= ow_n && rows_inside && iw0 >= 0 && iw0 + (NR - 1) * sw < in_w) {
        // Common case: the whole panel is one stretch of one input row.
        const float* src = xc + (id * p.in[1] + ih) * in_w + iw0;
        if (sw == 1)
          std::memcpy(out, src, sizeof(float) * NR);
        else
          for (int t = 0; t < NR; ++t) out[t] = src[t * sw];
        ow += NR;
      } else {
        // Split the panel at output-row ends; each piece reads one input row or padding.
        for (int64_t t = 0; t < cnt;) {
          const int64_t len = std::min(ow_n - ow, cnt - t);
          const int64_t xd = od * p.stride[0] + d_off, xh = oh * p.stride[1] + h_off, xw0 = ow * sw + w_off;
          int64_t lo = len, hi = len;  // pieces [lo, hi) read inside the row
          if (xd >= 0 && xd < p.in[0] && xh >= 0 && xh < p.in[1]) {
            lo = std::min(len, xw0 >= 0 ? 0 : ceil_div(-xw0, sw));
            hi = std::max(lo, std::min(len, xw0 >= in_w ? 0 : ceil_div(in_w - xw0, sw)));
          }
          const float* src = xc + (xd * p.in[1] + xh) * in_w + xw0;
          for (int64_t u = 0; u < lo; ++u) out[t + u] = 0.f;
          for (int64_t u = lo; u < hi; ++u) out[t + u] = src[u * sw];
          for (int64_t u = hi; u < len; ++u) out[t + u] = 0.f;
          t += len;
          ow += len;
          if (ow == ow_n) {
            ow = 0;
            if (++oh == oh_n) oh = 0, ++od;
          }
        }
        for (int64_t t = cnt; t < NR; ++t) out[t] = 0.f;
      }
      while (ow >= ow_n) {
        ow -= ow_n;
        if (++oh == oh_n) oh = 0, ++od;
      }
    }
  }
}

}  // namespace

void im2col_pack(const ConvParams& p, const float* x, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,
                 float* dst) {
  switch (nr) {
    case 4: return im2col_pack_nr<4>(p, x, k0, kc, n0, nc, dst);  // the scalar and AVX2 A panels (pixel-major GEMM)
    case 6: return im2col_pack_nr<6>(p, x, k0, kc, n0, nc, dst);
    case 8: return im2col_pack_nr<8>(p, x, k0, kc, n0, nc, dst);
    case 16: return im2col_pack_nr<16>(p, x, k0, kc, n0, nc, dst);
    case 14: return im2col_pack_nr<14>(p, x, k0, kc, n0, nc, dst);  // the AVX-512 A panel
    case 32: return im2col_pack_nr<32>(p, x, k0, kc, n0, nc, dst);
    default: CVT_ASSERT(false && "unexpected GEMM panel width");
  }
}

namespace {

template <int NR>
void phase_im2col_pack_nr(const PhaseIm2col& s, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) {
  const int64_t taps = s.p->kernel[1] * s.p->kernel[2], ow_n = s.p->out[2], phase_w = s.layout->phase_w;
  // A panel's pieces within output rows are the same for every depth row: found
  // once a panel, then copied row after row. Walking them per element per row cost
  // 17% of ResNet-50's layer2.0 conv2 (28-wide outputs: every panel crosses a row).
  struct Run {
    int64_t src, t, len;
  };
  Run runs[NR];
  int64_t oh = n0 / ow_n, ow = n0 % ow_n;
  for (int64_t j = 0; j < nc; j += NR, dst += kc * NR) {
    const int64_t cnt = std::min<int64_t>(NR, nc - j);
    int n_runs = 0;
    for_each_panel_piece(oh, ow, ow_n, phase_w, cnt,
                         [&](int64_t src, int64_t t, int64_t len) { runs[n_runs++] = Run{src, t, len}; });
    int64_t c = k0 / taps, tap = k0 % taps;
    for (int64_t r = 0; r < kc; ++r) {
      const float* base = s.planes + c * s.plane_stride + s.tap_offset[tap];
      float* out = dst + r * NR;
      if (n_runs == 1 && cnt == NR) {
        std::memcpy(out, base + runs[0].src, sizeof(float) * NR);
      } else {
        for (int i = 0; i < n_runs; ++i) copy_short(base + runs[i].src, runs[i].len, out + runs[i].t);
        for (int64_t t = cnt; t < NR; ++t) out[t] = 0.f;
      }
      if (++tap == taps) tap = 0, ++c;
    }
  }
}

}  // namespace

void phase_im2col_pack(const PhaseIm2col& s, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
  switch (nr) {
    case 4: return phase_im2col_pack_nr<4>(s, k0, kc, n0, nc, dst);  // the scalar and AVX2 A panels (pixel-major GEMM)
    case 6: return phase_im2col_pack_nr<6>(s, k0, kc, n0, nc, dst);
    case 8: return phase_im2col_pack_nr<8>(s, k0, kc, n0, nc, dst);
    case 16: return phase_im2col_pack_nr<16>(s, k0, kc, n0, nc, dst);
    case 14: return phase_im2col_pack_nr<14>(s, k0, kc, n0, nc, dst);  // the AVX-512 A panel
    case 32: return phase_im2col_pack_nr<32>(s, k0, kc, n0, nc, dst);
    default: CVT_ASSERT(false && "unexpected GEMM panel width");
  }
}

namespace {

// Whether the phase-split padded copies of a 2-D conv's input planes fit: they
// stay allocated with the thread, so they are capped at 4 MB (the style net's last
// 9x9 conv, 32 x 232 x 232, raised its peak RSS by 14 MB).
bool phase_copies_fit(const ConvParams& p) {
  constexpr int64_t kMaxPhaseFloats = int64_t(1) << 20;
  const bool flat = p.kernel[0] == 1 && p.in[0] == 1 && p.out[0] == 1 && p.pad_begin[0] == 0;
  return flat && p.batch * p.in_channels * phase_plane_len(p) <= kMaxPhaseFloats;
}

// Every input plane's copy, plane_len() floats apart, on the calling thread's scratch slot 5.
const float* make_phase_copies(const ConvParams& p, const PhaseLayout& layout, Isa isa, const float* x) {
  const int64_t stride = layout.plane_len(), planes = p.batch * p.in_channels;
  float* xp = gemm_scratch(5, static_cast<size_t>(planes * stride));
  parallel_for(0, planes, std::max<int64_t>(1, 16384 / stride), [&](int64_t lo, int64_t hi) {
    std::memset(xp + lo * stride, 0, sizeof(float) * (hi - lo) * stride);
    for (int64_t i = lo; i < hi; ++i) fill_phase_plane_f32(layout, isa, x + i * p.in_pixels(), xp + i * stride);
  });
  return xp;
}

}  // namespace

Im2colPackers::Im2colPackers(const ConvParams& p, Isa isa, const float* x) {
  const int64_t cg = p.in_channels / p.group, batch = p.batch * p.group;
  if (phase_copies_fit(p)) layout_ = phase_layout(p);
  packers_.reserve(static_cast<size_t>(batch));
  if (!layout_) {
    for (int64_t t = 0; t < batch; ++t) {
      const float* xg = x + ((t / p.group) * p.in_channels + (t % p.group) * cg) * p.in_pixels();
      packers_.emplace_back([&p, xg](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
        im2col_pack(p, xg, k0, kc, n0, nc, nr, dst);
      });
    }
    return;
  }
  const int64_t stride = layout_->plane_len();
  const float* xp = make_phase_copies(p, *layout_, isa, x);
  tap_offset_ = layout_->tap_offsets(p.kernel[1], p.kernel[2], p.dilation[1], p.dilation[2]);
  phase_src_.reserve(static_cast<size_t>(batch));  // the packers keep pointers into it
  for (int64_t t = 0; t < batch; ++t) {
    phase_src_.push_back(PhaseIm2col{&p, &*layout_, xp + ((t / p.group) * p.in_channels + (t % p.group) * cg) * stride,
                                     stride, tap_offset_.data()});
    const PhaseIm2col* src = &phase_src_.back();
    const bool avx512 = isa >= Isa::kAvx512;
    packers_.emplace_back([src, avx512](int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst) {
      if (avx512 && nr == 32)
        phase_im2col_pack32_f32__avx512(*src, k0, kc, n0, nc, dst);
      else
        phase_im2col_pack(*src, k0, kc, n0, nc, nr, dst);
    });
  }
}

bool direct_taps_possible(const ConvParams& p, const GemmKernelSet& ks) {
  const int64_t rows = p.out_channels / p.group, depth = p.in_channels / p.group * p.kernel_size();
  return ks.ukernel_indirect_b && !p.is_pointwise() && depth <= ks.kc && rows <= kDirectTapsMaxRows &&
         phase_copies_fit(p);
}

bool use_direct_taps(const ConvParams& p, const GemmKernelSet& ks) {
  // Packing costs the same per output whatever M, so leaving it out pays most for
  // few output channels: YOLOX-nano's 16-channel focus conv 1.9 -> 1.5 ms, the
  // style net's 9x9 one 5.7 -> 4.5 (1 thread). With 512 (ResNet-50's stride-2
  // downsample) the taps, read once per row tile, no longer stay in L1: 1.25 ->
  // 1.4 ms. RGB 3x3 stride-2 stems (27 taps) ran slower at 2 threads (SqueezeNet's
  // 0.30 -> 0.35 ms) and no faster at 1.
  constexpr int64_t kMinStridedDepth = 64;
  const int64_t depth = p.in_channels / p.group * p.kernel_size();
  const bool strided = p.stride[1] > 1 || p.stride[2] > 1;
  return direct_taps_possible(p, ks) && (!strided || depth >= kMinStridedDepth);
}

DirectTaps::DirectTaps(const ConvParams& p, const GemmKernelSet& ks, const float* x)
    : p_(p), ks_(ks), layout_(phase_layout(p)) {
  CVT_ASSERT(phase_copies_fit(p));
  xp_ = make_phase_copies(p, layout_, ks.isa, x);
  const int64_t taps = p.kernel_size(), depth = p.in_channels / p.group * taps, stride = layout_.plane_len();
  // B's row k = (channel, tap), as in the weights: that tap of the channel's copy,
  // relative to the output pixel's place in it.
  const std::vector<int64_t> tap = layout_.tap_offsets(p.kernel[1], p.kernel[2], p.dilation[1], p.dilation[2]);
  offsets_.resize(static_cast<size_t>(depth));
  for (int64_t k = 0; k < depth; ++k)
    offsets_[static_cast<size_t>(k)] = (k / taps) * stride + tap[static_cast<size_t>(k % taps)];
}

void DirectTaps::rows(const std::vector<PackedA>& w, const float* bias, int64_t n, int64_t g, int64_t oh0,
                      int64_t oh1, float* y, int64_t plane, const float* residual) const {
  const int64_t cg = p_.in_channels / p_.group, kg = p_.out_channels / p_.group, out_w = p_.out[2];
  const int64_t depth = cg * p_.kernel_size();
  UkernelParams up;
  up.load_c = residual != nullptr;  // the residual read in C's place
  up.finish = true;
  up.epilogue = p_.activation;
  const float* planes = xp_ + (n * p_.in_channels + g * cg) * layout_.plane_len();
  // Each row tile of A over all the rows before the next, so C is written as mr
  // channel streams, each running on from row to row, where row by row it wrote
  // all the group's channels (64 for the 7x7 stems) a few lines at a time. The
  // taps are then read once per row tile, from L2. One process alternating runs,
  // in model, node medians: ResNet-18's stem 12% faster at 1 thread (6% and 12% in
  // two more rounds with bands of 4 rows), 11% at 2; GoogLeNet's 4%.
  for (int64_t i = 0; i < kg; i += ks_.mr)
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const int64_t at = i * plane + (oh - oh0) * out_w;
      for (int64_t ow = 0; ow < out_w; ow += ks_.nr) {
        UkernelParams tile = up;
        tile.row_bias = bias ? bias + g * kg + i : nullptr;
        tile.c_in = residual ? residual + at + ow : nullptr;
        ks_.ukernel_indirect_b(depth, w[static_cast<size_t>(g)].panel(0, depth, i),
                               planes + oh * layout_.phase_w + ow, offsets_.data(), y + at + ow, plane,
                               static_cast<int>(std::min<int64_t>(ks_.mr, kg - i)),
                               static_cast<int>(std::min<int64_t>(ks_.nr, out_w - ow)), tile);
      }
    }
}

void conv_direct_taps(const ConvParams& p, const GemmKernelSet& ks, const std::vector<PackedA>& w, const float* x,
                      const float* bias, float* y, const float* residual) {
  const DirectTaps taps(p, ks, x);
  const int64_t kg = p.out_channels / p.group, out_h = p.out[1], out_w = p.out[2];
  // Tasks of output rows, each run split where the (image, group) changes.
  const int64_t rows = p.batch * p.group * out_h;
  const int64_t grain = std::max<int64_t>(1, rows / (4 * int64_t(current_concurrency())));
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi;) {
      const int64_t t = r / out_h, oh = r % out_h, n = t / p.group, g = t % p.group;
      const int64_t oh1 = std::min(out_h, oh + (hi - r));
      const int64_t at = (n * p.out_channels + g * kg) * p.out_pixels() + oh * out_w;
      taps.rows(w, bias, n, g, oh, oh1, y + at, p.out_pixels(), residual ? residual + at : nullptr);
      r += oh1 - oh;
    }
  });
}

}  // namespace cvt
