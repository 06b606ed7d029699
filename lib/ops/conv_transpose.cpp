// ConvTranspose: shape rules (pads, auto_pad, output_padding, output_shape), the
// reference gather loop, and the fast path: per group, col = W^T * X with the
// packed SGEMM, then col2im scatter-add, chunked over input pixels.
#include <algorithm>
#include <cstring>

#include "core/int_math.h"
#include "core/parallel.h"
#include "ops/conv.h"

namespace cvt {

Result<ConvParams> resolve_conv_transpose(const ConvAttrs& a, const Shape& x, const Shape& w) {
  CVT_RETURN_IF_ERROR(check_conv_weight(a, w, true));  // ranks, lengths, W (C, M/group, ...) layout
  if (x.size() != w.size())
    return shape_mismatch("input X " + shape_str(x) + " and weight W " + shape_str(w) + " must have the same rank");
  if (x[1] != w[0])
    return shape_mismatch("weight " + shape_str(w) + " expects " + std::to_string(w[0]) + " input channels, input X " +
                          shape_str(x) + " has " + std::to_string(x[1]));
  const int sr = static_cast<int>(x.size()) - 2, off = 3 - sr;
  if (!a.output_shape.empty() && a.output_shape.size() != size_t(sr) && a.output_shape.size() != size_t(sr + 2))
    return invalid_argument("output_shape has " + std::to_string(a.output_shape.size()) + " values for " +
                            std::to_string(sr) + " spatial axes");
  ConvParams p;
  p.spatial_rank = sr;
  p.batch = x[0];
  p.in_channels = x[1];
  p.group = a.group;
  p.out_channels = w[1] * a.group;
  if (p.in_channels % p.group != 0)
    return shape_mismatch("input channels " + std::to_string(p.in_channels) + " are not divisible by group " +
                          std::to_string(p.group));
  for (int i = 0; i < sr; ++i) {
    const int j = off + i;
    p.in[j] = x[2 + i];
    p.kernel[j] = w[2 + i];
    p.stride[j] = a.strides.empty() ? 1 : a.strides[i];
    p.dilation[j] = a.dilations.empty() ? 1 : a.dilations[i];
    const int64_t adj = a.output_padding.empty() ? 0 : a.output_padding[i];
    if (adj > 0 && adj >= p.stride[j] && adj >= p.dilation[j])
      return invalid_argument("output_padding " + std::to_string(adj) + " must be smaller than the stride or the dilation");
    if (p.in[j] < 1 || p.in[j] > (int64_t(1) << 30)) return shape_mismatch("input X " + shape_str(x) + " has a bad spatial size");
    const int64_t dk = (p.kernel[j] - 1) * p.dilation[j] + 1;
    const int64_t natural = p.stride[j] * (p.in[j] - 1) + adj + dk;
    const bool same = a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower;
    if (!a.output_shape.empty() || same) {
      // Pads follow from the requested size; SAME_UPPER puts the odd pixel at the end.
      p.out[j] = !a.output_shape.empty() ? a.output_shape[a.output_shape.size() - sr + i] : p.in[j] * p.stride[j];
      const int64_t total = std::max<int64_t>(0, natural - p.out[j]);
      p.pad_begin[j] = a.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      p.pad_end[j] = total - p.pad_begin[j];
    } else {
      if (a.auto_pad == AutoPad::kNotSet && !a.pads.empty()) {
        p.pad_begin[j] = a.pads[i];
        p.pad_end[j] = a.pads[sr + i];
      }
      p.out[j] = natural - p.pad_begin[j] - p.pad_end[j];
      if (p.out[j] < 1)
        return shape_mismatch("pads " + std::to_string(p.pad_begin[j]) + "+" + std::to_string(p.pad_end[j]) +
                              " leave no output on spatial axis " + std::to_string(i));
    }
  }
  CVT_RETURN_IF_ERROR(check_shape(p.output_shape(), DType::kFloat32));
  return p;
}

void conv_transpose_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  // in (N,C,D,H,W), w (C,M/g,KD,KH,KW), out (N,M,OD,OH,OW); gathers every input that lands on an output.
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group, ks = p.kernel_size();
  const auto [kd_n, kh_n, kw_n] = p.kernel;
  auto source = [&](int64_t o, int64_t k, int axis, int64_t* i) {  // input index feeding output o via tap k
    const int64_t t = o + p.pad_begin[axis] - k * p.dilation[axis];
    if (t < 0 || t % p.stride[axis] != 0) return false;
    *i = t / p.stride[axis];
    return *i < p.in[axis];
  };
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t g = m / mg, ml = m % mg;
      float* ym = y + (n * p.out_channels + m) * p.out_pixels();
      for (int64_t od = 0; od < p.out[0]; ++od)
        for (int64_t oh = 0; oh < p.out[1]; ++oh)
          for (int64_t ow = 0; ow < p.out[2]; ++ow) {
            double sum = bias ? bias[m] : 0.0;
            for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
              const float* xc = x + (n * p.in_channels + c) * p.in_pixels();
              const float* wc = w + (c * mg + ml) * ks;
              int64_t id, ih, iw;
              for (int64_t kd = 0; kd < kd_n; ++kd) {
                if (!source(od, kd, 0, &id)) continue;
                for (int64_t kh = 0; kh < kh_n; ++kh) {
                  if (!source(oh, kh, 1, &ih)) continue;
                  for (int64_t kw = 0; kw < kw_n; ++kw) {
                    if (!source(ow, kw, 2, &iw)) continue;
                    sum += double(xc[(id * p.in[1] + ih) * p.in[2] + iw]) * double(wc[(kd * kh_n + kh) * kw_n + kw]);
                  }
                }
              }
            }
            ym[(od * p.out[1] + oh) * p.out[2] + ow] = p.activation.apply(static_cast<float>(sum));
          }
    }
}

namespace {

// Per group g: op(A) = W_g^T, (M/g * KS) x (C/g), from W_g stored (C/g, M/g * KS).
std::vector<PackedA> pack_transposed_weights(const GemmKernelSet& ks, const ConvParams& p, const float* w) {
  const int64_t cg = p.in_channels / p.group, rows = (p.out_channels / p.group) * p.kernel_size();
  std::vector<PackedA> packed;
  for (int64_t g = 0; g < p.group; ++g) packed.emplace_back(ks, rows, cg, MatrixView{w + g * cg * rows, rows, true});
  return packed;
}

// Adds col rows of output channel plane `y` for input pixels [p0, p0+len):
// row (kd,kh,kw) of col lands at out = in*stride - pad + k*dilation.
void col2im_add(const ConvParams& p, const float* col, int64_t ldc, int64_t p0, int64_t len, float* y) {
  const auto [kd_n, kh_n, kw_n] = p.kernel;
  const int64_t sw = p.stride[2], in_w = p.in[2];
  for (int64_t kidx = 0; kidx < p.kernel_size(); ++kidx) {
    const int64_t kd = kidx / (kh_n * kw_n), kh = (kidx / kw_n) % kh_n, kw = kidx % kw_n;
    const float* src = col + kidx * ldc;
    int64_t iw = p0 % in_w, ih = (p0 / in_w) % p.in[1], id = p0 / (in_w * p.in[1]);
    for (int64_t t = 0; t < len;) {
      const int64_t run = std::min(in_w - iw, len - t);  // rest of this input row
      const int64_t od = id * p.stride[0] - p.pad_begin[0] + kd * p.dilation[0];
      const int64_t oh = ih * p.stride[1] - p.pad_begin[1] + kh * p.dilation[1];
      if (od >= 0 && od < p.out[0] && oh >= 0 && oh < p.out[1]) {
        // Inputs iw + u with u in [lo, hi) land inside the output row.
        const int64_t ow0 = iw * sw - p.pad_begin[2] + kw * p.dilation[2];
        const int64_t lo = std::min(run, ow0 >= 0 ? 0 : ceil_div(-ow0, sw));
        const int64_t hi = std::max(lo, std::min(run, ow0 >= p.out[2] ? 0 : ceil_div(p.out[2] - ow0, sw)));
        float* out_row = y + (od * p.out[1] + oh) * p.out[2];
        for (int64_t u = lo; u < hi; ++u) out_row[ow0 + u * sw] += src[t + u];
      }
      t += run;
      iw += run;
      if (iw == in_w) {
        iw = 0;
        if (++ih == p.in[1]) ih = 0, ++id;
      }
    }
  }
}

void conv_transpose_fast(const ConvParams& p, const GemmKernelSet& ks, const std::vector<PackedA>& w,
                         const float* x, const float* bias, float* y) {
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group, ks_size = p.kernel_size();
  const int64_t rows = mg * ks_size, in_pix = p.in_pixels(), out_pix = p.out_pixels();
  for (int64_t m = 0; m < p.batch * p.out_channels; ++m)
    std::fill(y + m * out_pix, y + (m + 1) * out_pix, bias ? bias[m % p.out_channels] : 0.f);
  // Bound the col buffer (rows x chunk floats) to ~1 MiB by chunking input pixels:
  // the GEMM writes it and col2im reads it back while it is still in cache. At 16 MiB
  // the style net's second ConvTranspose (288 rows x 12544 pixels, 14 MiB) set its peak
  // RSS (152 -> 144 MiB) and ran 10% slower.
  constexpr int64_t kColBudget = int64_t(1) << 18;
  const int64_t chunk = std::clamp<int64_t>(kColBudget / std::max<int64_t>(rows, 1), 64, in_pix);
  auto col_mem = aligned_buffer(sizeof(float) * rows * chunk, false);
  float* col = static_cast<float*>(col_mem.get());
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t g = 0; g < p.group; ++g)
      for (int64_t p0 = 0; p0 < in_pix; p0 += chunk) {
        const int64_t len = std::min(chunk, in_pix - p0);
        GemmShape s;
        s.m = rows, s.n = len, s.k = cg;
        gemm_f32(ks, s, 1, [&](int64_t, GemmOperands& op) {
          op.packed_a = &w[g];
          op.b = MatrixView{x + (n * p.in_channels + g * cg) * in_pix + p0, in_pix, false};
          op.c = col;
          op.ldc = len;
        });
        // Output channels own disjoint planes: scatter in parallel, same order for any thread count.
        parallel_for(0, mg, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t ml = lo; ml < hi; ++ml)
            col2im_add(p, col + ml * ks_size * len, len, p0, len,
                       y + (n * p.out_channels + g * mg + ml) * out_pix);
        });
      }
  if (p.activation.kind != Epilogue::Kind::kNone)
    for (int64_t i = 0; i < p.batch * p.out_channels * out_pix; ++i) y[i] = p.activation.apply(y[i]);
}

class ConvTransposeKernel final : public Kernel {
 public:
  ConvTransposeKernel(ConvAttrs attrs, std::shared_ptr<const Tensor> const_w)
      : attrs_(std::move(attrs)), const_w_(std::move(const_w)), ks_(&gemm_kernels()) {}

  Status run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    CVT_RETURN_IF_ERROR(require_f32_input(x, "X"));
    CVT_RETURN_IF_ERROR(require_f32_input(w, "W"));
    if (b) CVT_RETURN_IF_ERROR(require_f32_input(b, "B"));
    CVT_ASSIGN_OR_RETURN(ConvParams p, resolve_conv_transpose(attrs_, x->shape(), w->shape()));
    // Each input value is scattered through one filter of W.
    CVT_RETURN_IF_ERROR(check_node_work(double(x->numel()) * double(w->numel()) /
                                            double(std::max<int64_t>(1, w->dim(0))), "ConvTranspose"));
    if (b && b->shape() != Shape{p.out_channels})
      return shape_mismatch("bias B " + shape_str(b->shape()) + " must have shape (" +
                            std::to_string(p.out_channels) + ")");
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, p.output_shape()));
    const float* bias = b ? b->data<float>() : nullptr;
    if (y->numel() == 0) return Status::ok();
    if (ctx.use_reference()) {
      conv_transpose_ref(p, x->data<float>(), w->data<float>(), bias, y->data<float>());
      return Status::ok();
    }
    // Packing depends only on W and group, so a constant W is packed on first use.
    if (const_w_ && w->shape() == const_w_->shape() && w->data<float>() == const_w_->data<float>()) {
      if (packed_w_.empty()) packed_w_ = pack_transposed_weights(*ks_, p, w->data<float>());
      conv_transpose_fast(p, *ks_, packed_w_, x->data<float>(), bias, y->data<float>());
    } else {
      conv_transpose_fast(p, *ks_, pack_transposed_weights(*ks_, p, w->data<float>()), x->data<float>(), bias,
                          y->data<float>());
    }
    return Status::ok();
  }
  std::string impl_name() const override { return std::string("conv_transpose_f32_col2im_") + ks_->name; }

 private:
  ConvAttrs attrs_;
  std::shared_ptr<const Tensor> const_w_;
  const GemmKernelSet* ks_;
  std::vector<PackedA> packed_w_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> make_conv_transpose_kernel(const NodeDesc& node) {
  CVT_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node, true));
  if (node.inputs.size() < 2 || !node.has_input(0) || !node.has_input(1))
    return invalid_argument("ConvTranspose needs inputs X and W");
  std::shared_ptr<const Tensor> w = node.constant_inputs.size() > 1 ? node.constant_inputs[1] : nullptr;
  if (w) {
    if (w->dtype() != DType::kFloat32)
      return unsupported(std::string("weight W has dtype ") + dtype_name(w->dtype()) + "; only float32 is implemented");
    CVT_RETURN_IF_ERROR(check_conv_weight(attrs, w->shape(), true));
  }
  return std::unique_ptr<Kernel>(std::make_unique<ConvTransposeKernel>(std::move(attrs), std::move(w)));
}

}  // namespace cvt
