// Conv: the fast path (attributes and shapes: conv_params.cpp): 1x1 stride-1 as a
// direct GEMM on NCHW, im2col packed straight into SGEMM panels otherwise (the
// packers: conv_im2col.cpp) or, for few taps and output channels on AVX-512,
// read in place by the micro-kernel (conv_direct_taps, same file), Winograd for
// 3x3 (conv_winograd.cpp), the transposed GEMM for small output planes
// (conv_pixel_major.cpp) and a direct depthwise kernel. ConvTranspose lives in
// conv_transpose.cpp.
#include "ops/conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>

#include "core/parallel.h"
#include "ops/activation.h"
#include "ops/broadcast.h"
#include "ops/conv_winograd.h"
#include "ops/pool.h"
#include "ops/registry.h"

namespace cvt {

// ---- fast path --------------------------------------------------------------------

namespace {

// CVT_CONV_WINOGRAD=0 turns Winograd off (A/B measurements, diagnosing accuracy).
bool winograd_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("CVT_CONV_WINOGRAD");
    return !(e && std::string(e) == "0");
  }();
  return on;
}

// 1x1, no padding, a stride above 1 somewhere: the output reads x only at every stride-th pixel.
bool is_strided_pointwise(const ConvParams& p) {
  bool strided = false;
  for (int i = 0; i < 3; ++i) {
    if (p.kernel[i] != 1 || p.pad_begin[i] != 0 || p.pad_end[i] != 0) return false;
    strided = strided || p.stride[i] > 1;
  }
  return strided;
}

// The same conv on those pixels alone (gather_strided_pixels): stride 1, input the output's size.
ConvParams pointwise_on_strided_pixels(const ConvParams& p) {
  ConvParams q = p;
  q.in = p.out;
  q.stride = {1, 1, 1};
  return q;
}

// The pixels a strided 1x1 conv reads, as a dense (N, C, out...) tensor on this
// thread's scratch slot 7 (the conv and GEMM paths under it use 0-6).
const float* gather_strided_pixels(const ConvParams& p, Isa isa, const float* x) {
  const int64_t out_d = p.out[0], out_h = p.out[1], out_w = p.out[2], in_h = p.in[1], in_w = p.in[2];
  const int64_t rows = p.batch * p.in_channels * out_d * out_h;
  float* xs = gemm_scratch(7, static_cast<size_t>(rows * out_w));
  const auto deint = isa >= Isa::kAvx2 ? deinterleave2_f32__avx2 : deinterleave2_f32__scalar;
  parallel_for(0, rows, std::max<int64_t>(1, 4096 / out_w), [&](int64_t lo, int64_t hi) {
    constexpr int64_t kChunk = 256;
    float odd[kChunk];  // the skipped columns of stride 2
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t plane = r / (out_d * out_h), od = r / out_h % out_d, oh = r % out_h;
      const float* src = x + plane * p.in_pixels() + (od * p.stride[0] * in_h + oh * p.stride[1]) * in_w;
      float* dst = xs + r * out_w;
      if (p.stride[2] == 2) {
        const int64_t pairs = in_w / 2;
        for (int64_t i = 0; i < pairs; i += kChunk) deint(src + 2 * i, std::min(kChunk, pairs - i), dst + i, odd);
        if (out_w > pairs) dst[pairs] = src[in_w - 1];
      } else {
        for (int64_t ow = 0; ow < out_w; ++ow) dst[ow] = src[ow * p.stride[2]];
      }
    }
  });
  return xs;
}

// The plane kernel covers H and W only: depth must be a single untouched plane.
bool use_direct_depthwise(const ConvParams& p) {
  return p.is_depthwise() && p.in[0] == 1 && p.kernel[0] == 1 && p.out[0] == 1 && p.pad_begin[0] == 0;
}

}  // namespace

namespace {

// Padded rows read, and PhaseLayout's phase_w and sub.
struct PhaseSizes {
  int64_t hp, phase_w, sub;
};
PhaseSizes phase_sizes(const ConvParams& p) {
  PhaseSizes z;
  z.hp = (p.out[1] - 1) * p.stride[1] + (p.kernel[1] - 1) * p.dilation[1] + 1;
  z.phase_w = p.out[2] + (p.kernel[2] - 1) * p.dilation[2] / p.stride[2];
  z.sub = (z.hp + p.stride[1] - 1) / p.stride[1] * z.phase_w;
  return z;
}

}  // namespace

int64_t phase_plane_len(const ConvParams& p) { return p.stride[1] * p.stride[2] * phase_sizes(p).sub; }

PhaseLayout phase_layout(const ConvParams& p) {
  PhaseLayout L;
  L.sh = p.stride[1], L.sw = p.stride[2], L.ph = p.pad_begin[1], L.in_h = p.in[1], L.in_w = p.in[2];
  const int64_t pw = p.pad_begin[2], s = p.kernel[2];
  const PhaseSizes z = phase_sizes(p);
  const int64_t row_len = (p.out[2] - 1) * L.sw + (s - 1) * p.dilation[2] + 1;  // padded columns read
  L.phase_w = z.phase_w, L.sub = z.sub;
  L.n_in = std::max<int64_t>(0, std::min(L.in_w, row_len - pw));
  L.yy_lo = std::min(L.ph, z.hp), L.yy_hi = std::min(z.hp, L.ph + L.in_h);
  L.phase_ix0.resize(L.sw), L.phase_dst0.resize(L.sw);
  for (int64_t phase = 0; phase < L.sw; ++phase) {
    L.phase_ix0[phase] = ((phase - pw) % L.sw + L.sw) % L.sw;  // first ix with (ix + pw) % sw == phase
    L.phase_dst0[phase] = phase * L.sub + (L.phase_ix0[phase] + pw) / L.sw;
  }
  for (int64_t yy = L.yy_lo; yy < L.yy_hi; ++yy) L.input_row_start.push_back(L.row_start(yy));
  return L;
}

void fill_phase_plane_f32(const PhaseLayout& L, Isa isa, const float* src, float* dst) {
  // What the row loop needs, in locals (around the calls the compiler would reload
  // every field per row; MobileNet's rows are 7 to 112 values).
  const int64_t rows = L.yy_hi - L.yy_lo, in_w = L.in_w, n_in = L.n_in;
  const int64_t* row_start = L.input_row_start.data();
  const float* in = src + (L.yy_lo - L.ph) * in_w;
  if (L.sw == 1) {
    const int64_t at = L.phase_dst0[0];
    for (int64_t r = 0; r < rows; ++r, in += in_w) copy_short(in, n_in, dst + row_start[r] + at);
  } else if (L.sw == 2) {  // even input columns go to the phase starting at ix 0, odd ones to the other
    const auto deint = isa >= Isa::kAvx2 ? deinterleave2_f32__avx2 : deinterleave2_f32__scalar;
    const int64_t even_at = L.phase_dst0[L.phase_ix0[0] == 0 ? 0 : 1];
    const int64_t odd_at = L.phase_dst0[L.phase_ix0[0] == 0 ? 1 : 0];
    const int64_t pairs = n_in / 2;
    for (int64_t r = 0; r < rows; ++r, in += in_w) {
      float* row = dst + row_start[r];
      deint(in, pairs, row + even_at, row + odd_at);
      if (n_in % 2) row[even_at + pairs] = in[n_in - 1];
    }
  } else {
    for (int64_t r = 0; r < rows; ++r, in += in_w)
      for (int64_t phase = 0; phase < L.sw; ++phase) {
        float* out = dst + row_start[r] + L.phase_dst0[phase];
        for (int64_t ix = L.phase_ix0[phase]; ix < n_in; ix += L.sw) *out++ = in[ix];
      }
  }
}

// SiLU's exp runs in SIMD (and gives the bits the fused kernels give), the others are cheap.
void apply_epilogue_inplace(const Epilogue& e, Isa isa, float* y, int64_t n) {
  if (e.kind == Epilogue::Kind::kNone) return;
  if (e.kind == Epilogue::Kind::kSilu) {
    if (const FloatMapKernel silu = float_map_kernel(FloatMap::kSilu, isa)) {
      silu.fn(y, y, n);
      return;
    }
  }
  for (int64_t i = 0; i < n; ++i) y[i] = e.apply(y[i]);
}

namespace {

// 3x3, stride 1, dilation 1, one pixel of padding all round: the output plane is the input's size.
bool is_dw3x3s1_same(const ConvParams& p) {
  return p.kernel[0] == 1 && p.kernel[1] == 3 && p.kernel[2] == 3 && p.stride[1] == 1 && p.stride[2] == 1 &&
         p.dilation[1] == 1 && p.dilation[2] == 1 && p.pad_begin[1] == 1 && p.pad_begin[2] == 1 &&
         p.out[0] == 1 && p.in[0] == 1 && p.out[1] == p.in[1] && p.out[2] == p.in[2];
}

// 3x3, stride 2, dilation 1, padding at most 2 before (the taps then start within 2 of the plane).
bool is_dw3x3s2(const ConvParams& p) {
  return p.kernel[0] == 1 && p.kernel[1] == 3 && p.kernel[2] == 3 && p.stride[1] == 2 && p.stride[2] == 2 &&
         p.dilation[1] == 1 && p.dilation[2] == 1 && p.pad_begin[1] <= 2 && p.pad_begin[2] <= 2 && p.in[0] == 1 &&
         p.out[0] == 1;
}

// Depthwise 2-D: each plane is copied into its phase-split padded form
// (PhaseLayout) and computed as one run of out_h * phase_w outputs, whatever the
// stride; MobileNet's 14x14 and 7x7 rows would otherwise be mostly vector tails.
void conv_depthwise(const ConvParams& p, Isa isa, const float* x, const float* w, const float* bias, float* y,
                    const float* residual) {
  // in (N,C,H,W), w (C,1,R,S), out (N,C,P,Q); D is 1.
  // The 3x3 plane kernels make each output vector at the end of one chain of 9
  // dependent FMAs; SiLU's exp and divide there would leave too few vectors in
  // flight (a 16-channel 104x104 plane took 0.16-0.21 ms with SiLU, 0.06-0.07
  // without). So they store conv + bias [+ residual] and SiLU runs afterwards over
  // the plane, still in cache: the same operations on the same values, same bits.
  const bool silu_after = p.activation.kind == Epilogue::Kind::kSilu;
  const Epilogue in_kernel = silu_after ? Epilogue::none() : p.activation;
  if (isa >= Isa::kAvx512 && is_dw3x3s1_same(p)) {
    const int64_t planes = p.batch * p.in_channels, h = p.in[1], wd = p.in[2];
    parallel_for(0, planes, std::max<int64_t>(1, planes / (4 * current_concurrency())), [&](int64_t lo, int64_t hi) {
      for (int64_t plane = lo; plane < hi; ++plane) {
        const int64_t c = plane % p.in_channels, at = plane * h * wd;
        conv_dw3x3s1_f32_plane__avx512(x + at, w + c * 9, bias ? bias[c] : 0.f, h, wd, residual ? residual + at : nullptr,
                                       y + at, in_kernel);
        if (silu_after) apply_epilogue_inplace(p.activation, isa, y + at, h * wd);
      }
    });
    return;
  }
  if (isa >= Isa::kAvx512 && is_dw3x3s2(p)) {
    const int64_t planes = p.batch * p.in_channels;
    const DwPlaneGeometry g{p.in[1], p.in[2], p.out[1], p.out[2], p.pad_begin[1], p.pad_begin[2]};
    parallel_for(0, planes, std::max<int64_t>(1, planes / (4 * current_concurrency())), [&](int64_t lo, int64_t hi) {
      for (int64_t plane = lo; plane < hi; ++plane) {
        const int64_t c = plane % p.in_channels, at = plane * p.out_pixels();
        conv_dw3x3s2_f32_plane__avx512(g, x + plane * p.in_pixels(), w + c * 9, bias ? bias[c] : 0.f,
                                       residual ? residual + at : nullptr, y + at, in_kernel);
        if (silu_after) apply_epilogue_inplace(p.activation, isa, y + at, p.out_pixels());
      }
    });
    return;
  }
  const PhaseLayout L = phase_layout(p);
  const int64_t r = p.kernel[1], s = p.kernel[2], q = p.out[2], out_h = p.out[1], taps = r * s;
  const std::vector<int64_t> offset = L.tap_offsets(r, s, p.dilation[1], p.dilation[2]);
  const int64_t n_run = out_h * L.phase_w;
  // The dropped columns of the last row read up to a row past the sub-planes, the tail a vector more.
  const int64_t plane_len = L.plane_len() + L.phase_w + 2 * kDepthwiseSlack;
  // With a residual the activation waits until it is added (the plane is still in cache).
  const Epilogue e = residual ? Epilogue::none() : p.activation;
  const int64_t planes = p.batch * p.in_channels;
  const int64_t grain = std::max<int64_t>(1, planes / (4 * current_concurrency()));
  parallel_for(0, planes, grain, [&](int64_t lo, int64_t hi) {
    float* xp = gemm_scratch(2, static_cast<size_t>(plane_len));
    std::memset(xp, 0, sizeof(float) * plane_len);
    float* run = gemm_scratch(1, static_cast<size_t>(n_run + kDepthwiseSlack));
    for (int64_t plane = lo; plane < hi; ++plane) {
      const int64_t c = plane % p.in_channels;
      fill_phase_plane_f32(L, isa, x + plane * L.in_h * L.in_w, xp);
      const DepthwisePlane d{xp, offset.data(), w + c * taps, taps, bias ? bias[c] : 0.f, run, n_run};
      if (isa >= Isa::kAvx512)
        conv_dw_f32_plane__avx512(d, e);
      else if (isa >= Isa::kAvx2)
        conv_dw_f32_plane__avx2(d, e);
      else
        conv_dw_f32_plane__scalar(d, e);
      float* yp = y + plane * p.out_pixels();
      for (int64_t oy = 0; oy < out_h; ++oy) copy_short(run + oy * L.phase_w, q, yp + oy * q);
      if (residual) {
        const float* rp = residual + plane * p.out_pixels();
        for (int64_t i = 0; i < p.out_pixels(); ++i) yp[i] += rp[i];
        apply_epilogue_inplace(p.activation, isa, yp, p.out_pixels());
      }
    }
  });
}

}  // namespace

std::vector<PackedA> pack_conv_weights(const GemmKernelSet& ks, const Shape& w_shape, int64_t group, const float* w) {
  const int64_t kg = w_shape[0] / group, depth = shape_numel(w_shape) / w_shape[0];
  std::vector<PackedA> packed;
  for (int64_t g = 0; g < group; ++g) packed.emplace_back(ks, kg, depth, MatrixView{w + g * kg * depth, depth, false});
  return packed;
}

// With a residual the GEMM accumulates onto it (read in place of y's old value on
// the first K block), so the epilogue applies to conv + bias + residual.
void conv_gemm(const ConvParams& p, const GemmKernelSet& ks, const std::vector<PackedA>& w, const float* x,
               const float* bias, float* y, const float* residual) {
  const int64_t cg = p.in_channels / p.group, kg = p.out_channels / p.group;
  const int64_t batch = p.batch * p.group;
  const bool pointwise = p.is_pointwise();
  std::optional<Im2colPackers> im2col;
  if (!pointwise) im2col.emplace(p, ks.isa, x);
  GemmShape s;
  s.m = kg, s.n = p.out_pixels(), s.k = cg * p.kernel_size(), s.epilogue = p.activation;
  s.accumulate = residual != nullptr;  // read from the residual on the first K block, no copy into y
  s.c_streams_out = true;
  gemm_f32(ks, s, batch, [&](int64_t t, GemmOperands& op) {
    const int64_t n = t / p.group, g = t % p.group;
    op.packed_a = &w[g];
    if (pointwise)  // 1x1, stride 1: the NCHW input already is the (C, H*W) B matrix
      op.b = MatrixView{x + (n * p.in_channels + g * cg) * p.in_pixels(), p.in_pixels(), false};
    else
      op.pack_b = &(*im2col)[t];
    op.c = y + (n * p.out_channels + g * kg) * p.out_pixels();
    op.ldc = p.out_pixels();
    op.c_in = residual ? residual + (n * p.out_channels + g * kg) * p.out_pixels() : nullptr;
    op.row_bias = bias ? bias + g * kg : nullptr;
  });
}

namespace {

class ConvKernel final : public Kernel {
 public:
  ConvKernel(ConvAttrs attrs, Epilogue activation, bool residual, const Tensor* const_w,
             std::optional<PoolParams> maxpool = std::nullopt)
      : attrs_(std::move(attrs)), activation_(activation), residual_(residual), maxpool_(std::move(maxpool)),
        ks_(&gemm_kernels()) {
    impl_ = std::string("conv_f32_im2col_") + ks_->name;
    if (!const_w) return;
    const Shape& ws = const_w->shape();
    const bool dw_candidate = ws[1] == 1 && ws[0] == attrs_.group && ws.size() <= 4;
    packed_shape_ = ws;
    if (maxpool_ && shallow_weights_shape(ws, attrs_.group))
      shallow_w_ = pack_shallow_weights(const_w->data<float>(), ws);
    if (winograd_enabled() && winograd_eligible_weights(attrs_, ws)) {
      // Winograd or im2col depends on the output size: packed at the first run
      // that needs each form, from W, which therefore stays.
      winograd_candidate_ = true;
    } else if (!dw_candidate) {
      packed_w_ = pack_conv_weights(*ks_, ws, attrs_.group, const_w->data<float>());
      packed_at_load_ = true;
    }
  }

  Status run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    const Tensor* r = residual_ && ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    CVT_RETURN_IF_ERROR(require_f32_input(x, "X"));
    CVT_RETURN_IF_ERROR(require_f32_input(w, "W"));
    if (b) CVT_RETURN_IF_ERROR(require_f32_input(b, "B"));
    if (residual_) CVT_RETURN_IF_ERROR(require_f32_input(r, "R (fused residual Add)"));
    if (is_released(*w) && (ctx.use_reference() || !packed_at_load_ || packed_shape_ != w->shape()))
      return released_weights_error("W");
    CVT_ASSIGN_OR_RETURN(ConvParams p, resolve_conv(attrs_, x->shape(), w->shape()));
    // Each output value takes one multiply-add per weight of its filter.
    CVT_RETURN_IF_ERROR(check_node_work(double(shape_numel(p.output_shape())) * double(w->numel()) /
                                            double(std::max<int64_t>(1, w->dim(0))), "Conv"));
    if (b && b->shape() != Shape{p.out_channels})
      return shape_mismatch("bias B " + shape_str(b->shape()) + " must have shape (" +
                            std::to_string(p.out_channels) + ")");
    p.activation = activation_;
    const float* bias = b ? b->data<float>() : nullptr;
    broadcast_residual_ = false;
    if (maxpool_) return run_pooled(ctx, p, *w, x->data<float>(), bias);
    if (r && r->shape() != p.output_shape()) return run_broadcast_residual(ctx, p, *x, *w, bias, *r);
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, p.output_shape()));
    if (y->numel() == 0) return Status::ok();
    compute(p, ctx.use_reference(), x->data<float>(), *w, bias, r ? r->data<float>() : nullptr, y->data<float>());
    return Status::ok();
  }
  std::string impl_name() const override { return broadcast_residual_ ? impl_ + "+broadcast_add" : impl_; }
  bool reads_constant_input(int i) const override { return !(i == 1 && packed_at_load_); }

 private:
  // y = act(conv(x, w) + bias [+ residual]); residual is null or shaped like y.
  void compute(const ConvParams& p, bool reference, const float* x, const Tensor& w, const float* bias,
               const float* residual, float* y) {
    if (reference) {
      conv_ref(p, x, w.data<float>(), bias, y, residual);
      return;
    }
    if (use_direct_depthwise(p)) {
      impl_ = ks_->isa < Isa::kAvx512 ? std::string("conv_f32_dw__") + isa_name(ks_->isa)
              : is_dw3x3s1_same(p)      ? "conv_f32_dw3x3s1__avx512"
              : is_dw3x3s2(p)           ? "conv_f32_dw3x3s2__avx512"
                                        : "conv_f32_dw__avx512";
      conv_depthwise(p, ks_->isa, x, w.data<float>(), bias, y, residual);
      return;
    }
    if (is_strided_pointwise(p)) {
      // It reads only every stride-th pixel: those, gathered dense, make it a plain
      // 1x1 conv (B read in place or packed from whole rows, instead of phase copies
      // of the whole input and a strided im2col).
      compute(pointwise_on_strided_pixels(p), false, gather_strided_pixels(p, ks_->isa, x), w, bias, residual, y);
      impl_ = "strided_gather+" + impl_;
      return;
    }
    const bool constant_w = is_constant_w(w);
    if (constant_w && winograd_candidate_ && winograd_preferred(p, ks_->isa)) {
      std::call_once(winograd_packed_, [&] { winograd_w_ = winograd_pack_weights(*ks_, w.data<float>(), w.dim(0), w.dim(1)); });
      impl_ = std::string("conv_f32_winograd_f43_") + ks_->name;
      if (p.activation.kind == Epilogue::Kind::kSilu) {  // its output transform applies epilogues one value at a time
        ConvParams q = p;
        q.activation = Epilogue::none();
        conv_winograd_f43(q, *ks_, winograd_w_, x, bias, y, residual);
        apply_epilogue_inplace(p.activation, ks_->isa, y, shape_numel(p.output_shape()));
        return;
      }
      conv_winograd_f43(p, *ks_, winograd_w_, x, bias, y, residual);
      return;
    }
    if (constant_w && prefer_pixel_major(p, *ks_)) {
      impl_ = std::string("conv_f32_pixel_major_") + ks_->name;
      conv_gemm_pixel_major(p, *ks_, pixel_major_weights(w), x, bias, y, residual);
      return;
    }
    const bool direct_taps = !p.is_pointwise() && use_direct_taps(p, *ks_);
    impl_ = std::string(p.is_pointwise() ? "conv_f32_1x1_"
                        : direct_taps    ? "conv_f32_direct_taps_"
                                         : "conv_f32_im2col_") +
            ks_->name;
    const std::vector<PackedA> packed = gemm_weights(w, p.group);
    if (direct_taps)
      conv_direct_taps(p, *ks_, packed, x, bias, y, residual);
    else
      conv_gemm(p, *ks_, packed, x, bias, y, residual);
  }

  // W is the constant the kernel packed (at load, or Winograd's candidate kept).
  bool is_constant_w(const Tensor& w) const {
    return packed_shape_ == w.shape() && (packed_at_load_ || winograd_candidate_);
  }
  // The NCHW GEMM form of W: the kept one for a constant, else packed for this call only.
  std::vector<PackedA> gemm_weights(const Tensor& w, int64_t group) {
    return is_constant_w(w) ? nchw_weights(w) : pack_conv_weights(*ks_, w.shape(), group, w.data<float>());
  }

  // Constant weights in the form this run's GEMM takes. Weights packed at load
  // (W released) are kept in one form: the first run on a small plane turns them
  // pixel-major and frees the NCHW panels (ResNet-50: 38 MB); should a later run
  // need NCHW again, it is rebuilt from the pixel-major form and both stay.
  // Callers get shared handles, so a form dropped meanwhile stays valid for them.
  std::vector<PackedA> nchw_weights(const Tensor& w) {
    std::lock_guard<std::mutex> lock(weights_mu_);
    if (packed_w_.empty()) {
      packed_w_ = packed_at_load_ ? std::vector<PackedA>{pack_conv_weights_nchw(*ks_, packed_wt_)}
                                  : pack_conv_weights(*ks_, w.shape(), attrs_.group, w.data<float>());
      keep_both_forms_ = packed_at_load_;
    }
    return packed_w_;
  }
  PackedB pixel_major_weights(const Tensor& w) {
    std::lock_guard<std::mutex> lock(weights_mu_);
    if (packed_wt_.empty()) {
      if (packed_at_load_) {
        packed_wt_ = pack_conv_weights_pixel_major(*ks_, packed_w_[0]);
        if (!keep_both_forms_) packed_w_.clear();
      } else {
        packed_wt_ = pack_conv_weights_pixel_major(*ks_, w.data<float>(), w.dim(0), w.numel() / w.dim(0));
      }
    }
    return packed_wt_;
  }

  // The residual does not have the conv output's shape: compute the Add as the
  // unfused graph would, with numpy broadcasting, then the activation.
  Status run_broadcast_residual(KernelContext& ctx, ConvParams p, const Tensor& x, const Tensor& w,
                                const float* bias, const Tensor& r) {
    const Epilogue act = p.activation;
    p.activation = Epilogue::none();
    CVT_ASSIGN_OR_RETURN(Tensor conv_out, Tensor::try_alloc(DType::kFloat32, p.output_shape()));
    if (conv_out.numel() > 0) compute(p, ctx.use_reference(), x.data<float>(), w, bias, nullptr, conv_out.data<float>());
    auto out_shape = broadcast_shapes({conv_out.shape(), r.shape()});
    if (!out_shape.is_ok())
      return shape_mismatch("fused residual Add: conv output " + shape_str(conv_out.shape()) + " and R " +
                            shape_str(r.shape()) + " do not broadcast");
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, out_shape.value()));
    BroadcastPlan plan(y->shape(), {conv_out.shape(), r.shape()});
    const float* a = conv_out.data<float>();
    const float* b = r.data<float>();
    float* out = y->data<float>();
    const int64_t sa = plan.inner_stride(0), sb = plan.inner_stride(1);
    for_each_broadcast_block(plan, 16384, [&](const BroadcastPlan::Cursor& c, int64_t at, int64_t begin, int64_t n) {
      const float* pa = a + c.offset(0) + (sa ? begin : 0);
      const float* pb = b + c.offset(1) + (sb ? begin : 0);
      for (int64_t i = 0; i < n; ++i) out[at + i] = act.apply(pa[i * sa] + pb[i * sb]);
    });
    broadcast_residual_ = true;
    return Status::ok();
  }

  // The fused MaxPool: banded where conv_maxpool_banded_supported(), else the conv
  // into a scratch and the pool after it.
  Status run_pooled(KernelContext& ctx, const ConvParams& p, const Tensor& w, const float* x, const float* bias) {
    CVT_ASSIGN_OR_RETURN(PoolGeometry g, pool_geometry(*maxpool_, p.output_shape()));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, g.out_shape));
    if (y->numel() == 0) return Status::ok();
    if (!ctx.use_reference() && is_constant_w(w) && !shallow_w_.empty() &&
        conv_maxpool_shallow_supported(p, g, ks_->isa)) {
      impl_ = "conv_f32_shallow_rows__avx512+maxpool_banded__avx512";
      conv_maxpool_shallow(p, shallow_w_.data(), x, bias, g, y->data<float>());
      return Status::ok();
    }
    if (!ctx.use_reference() && conv_maxpool_banded_supported(p, g, *ks_)) {
      impl_ = std::string("conv_f32_direct_taps_") + ks_->name + "+maxpool_banded__avx512";
      conv_maxpool_banded(p, *ks_, gemm_weights(w, p.group), x, bias, g, y->data<float>());
      return Status::ok();
    }
    // The conv's output on the calling thread's slot 8 (the conv paths use 0-7):
    // kept for the next run, as the arena slot it replaces was.
    const Shape conv_shape = p.output_shape();
    Tensor conv_y = Tensor::wrap(DType::kFloat32, conv_shape,
                                 gemm_scratch(8, static_cast<size_t>(shape_numel(conv_shape))), nullptr);
    compute(p, ctx.use_reference(), x, w, bias, nullptr, conv_y.data<float>());
    if (ctx.use_reference()) {
      pool_ref(*maxpool_, g, conv_y, *y, nullptr);
      return Status::ok();
    }
    impl_ += std::string("+maxpool_") + pool_fast(*maxpool_, g, conv_y, *y, nullptr);
    return Status::ok();
  }

  ConvAttrs attrs_;
  Epilogue activation_;
  bool residual_;
  std::optional<PoolParams> maxpool_;
  bool broadcast_residual_ = false;  // last run took the unfused Add path
  const GemmKernelSet* ks_;
  std::mutex weights_mu_;          // guards packed_w_, packed_wt_, keep_both_forms_
  std::vector<PackedA> packed_w_;  // NCHW GEMM form, one per group
  std::vector<float> shallow_w_;  // RGB stems before a MaxPool: pack_shallow_weights(), at load
  WinogradWeights winograd_w_;  // 3x3 stride-1 convolutions with enough output tiles
  Shape packed_shape_;          // W's shape when W is a constant
  bool packed_at_load_ = false;      // packed_w_ made at load; W itself is not needed
  bool winograd_candidate_ = false;  // W kept; Winograd or im2col packed at first use
  PackedB packed_wt_;                // W^T for the pixel-major GEMM (group 1)
  bool keep_both_forms_ = false;     // runs have needed both forms: stop dropping one
  std::once_flag winograd_packed_;
  std::string impl_;
};

}  // namespace

void deinterleave2_f32__scalar(const float* src, int64_t pairs, float* even, float* odd) noexcept {
  for (int64_t i = 0; i < pairs; ++i) even[i] = src[2 * i], odd[i] = src[2 * i + 1];
}

void conv_dw_f32_plane__scalar(const DepthwisePlane& d, const Epilogue& e) noexcept {
  for (int64_t i = 0; i < d.n; ++i) d.y[i] = d.bias;
  for (int64_t t = 0; t < d.taps; ++t) {
    const float wv = d.w[t];
    const float* xt = d.x + d.offset[t];
    for (int64_t i = 0; i < d.n; ++i) d.y[i] += xt[i] * wv;
  }
  for (int64_t i = 0; i < d.n; ++i) d.y[i] = e.apply(d.y[i]);
}

Result<std::unique_ptr<Kernel>> make_conv_kernel(const NodeDesc& node, const Epilogue& activation) {
  CVT_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node, false));
  if (node.inputs.size() < 2 || !node.has_input(0) || !node.has_input(1))
    return invalid_argument("Conv needs inputs X and W");
  const Tensor* w = node.constant(1);
  if (w) {
    if (w->dtype() != DType::kFloat32)
      return unsupported(std::string("weight W has dtype ") + dtype_name(w->dtype()) + "; only float32 is implemented");
    CVT_RETURN_IF_ERROR(check_conv_weight(attrs, w->shape(), false));
  }
  const Attribute* res = node.attrs.find(kResidualAttr);
  if (res && (res->kind != Attribute::Kind::kInt || res->i != 1 || node.inputs.size() != 4 || !node.has_input(3)))
    return invalid_argument(std::string("internal attribute ") + kResidualAttr + " needs value 1 and input 3");
  if (!res && node.inputs.size() > 3) return invalid_argument("Conv takes at most 3 inputs (X, W, B)");
  std::optional<PoolParams> maxpool;
  if (const Attribute* mp = node.attrs.find(kFusedMaxPoolAttr)) {
    if (mp->kind != Attribute::Kind::kInt || mp->i != 1 || res)
      return invalid_argument(std::string("internal attribute ") + kFusedMaxPoolAttr +
                              " needs value 1 and no fused residual");
    NodeDesc pool = node;  // the pool's attributes, under their own names
    pool.op_type = "MaxPool";
    pool.attrs = Attributes();
    const std::string prefix = std::string(kFusedMaxPoolAttr) + ".";
    for (const auto& [name, value] : node.attrs.all())
      if (name.compare(0, prefix.size(), prefix) == 0) pool.attrs.set(name.substr(prefix.size()), value);
    CVT_ASSIGN_OR_RETURN(maxpool, parse_pool_attrs(pool, PoolKind::kMax));
  }
  return std::unique_ptr<Kernel>(
      std::make_unique<ConvKernel>(std::move(attrs), activation, res != nullptr, w, std::move(maxpool)));
}

Result<Epilogue> fused_activation_from_attrs(const NodeDesc& node) {
  const Attribute* a = node.attrs.find(kFusedActivationAttr);
  if (!a) return Epilogue::none();
  const std::vector<float> v = node.attrs.get_floats(kFusedActivationParamsAttr);
  if (a->s == "Relu" && v.empty()) return Epilogue::relu();
  if (a->s == "LeakyRelu" && v.size() == 1) return Epilogue::leaky_relu(v[0]);
  if (a->s == "Silu" && v.empty()) return Epilogue::silu();
  if (a->s == "Clip" && v.size() == 2 && v[0] <= v[1]) return Epilogue::clamp(v[0], v[1]);
  return invalid_argument(std::string("internal attribute ") + kFusedActivationAttr + " = '" + a->s + "' with " +
                          std::to_string(v.size()) + " parameters is not a fusable activation");
}

static Result<std::unique_ptr<Kernel>> make_conv(const NodeDesc& node) {
  CVT_ASSIGN_OR_RETURN(Epilogue act, fused_activation_from_attrs(node));
  return make_conv_kernel(node, act);
}

void register_conv_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "Conv", 1, 18, make_conv});
  t.push_back({"", "ConvTranspose", 1, 18, make_conv_transpose_kernel});
}

}  // namespace cvt
