// QLinearConv and ConvInteger: validation, weight packing and the fast paths
// (u8 x s8 for 1x1 and VNNI im2col, int16 im2col GEMM, the depthwise driver of
// quant_depthwise.cpp), with the plain loops of quant_ref.cpp behind --kernels ref.
// Integer sums are exact, so any tiling or thread count gives the same bits.
// QLinearMatMul / MatMulInteger: quant_matmul.cpp.
#include "ops/quant.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/parallel.h"
#include "ops/gemm.h"
#include "ops/quant_pack.h"
#include "ops/quant_u8s8.h"
#include "ops/registry.h"

namespace cvt {

void register_quant_matmul_ops(std::vector<OpSchema>& t);  // quant_matmul.cpp

namespace {

using namespace qpack;

// ---- int16 packing ----------------------------------------------------------------

// The input with its zero point removed, as int16: padding is then plain 0.
void widen_input(const QKernels& k, const void* x, DType t, int32_t x_zp, int64_t n, int16_t* dst) {
  const size_t es = dtype_size(t);
  parallel_for(0, n, 1 << 16, [&](int64_t lo, int64_t hi) {
    k.widen_row(static_cast<const uint8_t*>(x) + lo * es, t == DType::kInt8, x_zp, hi - lo, dst + lo);
  });
}

// Pointwise convs read B straight from the input laid out as channel pairs:
// [image][C/2][pixels][2] (an odd last channel is paired with 0), plus slack so a
// 16-column tile may read past the last pixel (those sums are discarded).
constexpr int64_t kPairSlack = 2 * kQgemmNr;
void widen_input_pairs(const QKernels& k, const void* x, DType t, int32_t x_zp, int64_t n, int64_t c, int64_t hw,
                       int16_t* dst) {
  const int64_t cp = (c + 1) / 2;
  const uint8_t* xb = static_cast<const uint8_t*>(x);  // 1-byte elements
  parallel_for(0, n * cp, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, hw)), [&](int64_t lo, int64_t hi) {
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t img = item / cp, c0 = 2 * (item % cp);
      const uint8_t* r0 = xb + (img * c + c0) * hw;
      k.widen_interleave2(r0, c0 + 1 < c ? r0 + hw : nullptr, t == DType::kInt8, x_zp, hw, dst + item * hw * 2);
    }
  });
  std::memset(dst + n * cp * hw * 2, 0, sizeof(int16_t) * kPairSlack);
}

// Row d of one group's im2col matrix (3-D taps, the general case), columns
// [n0, n0 + nc): line[j] = the tapped input value, 0 in the padding.
void im2col_line_3d(const ConvParams& p, const int16_t* x, int64_t d, int64_t n0, int64_t nc, int16_t* line) {
  const int64_t ks = p.kernel_size(), c = d / ks, kidx = d % ks;
  const int64_t kd = kidx / (p.kernel[1] * p.kernel[2]), kh = (kidx / p.kernel[2]) % p.kernel[1], kw = kidx % p.kernel[2];
  const int16_t* xc = x + c * p.in_pixels();
  int64_t ow = n0 % p.out[2], oh = (n0 / p.out[2]) % p.out[1], od = n0 / (p.out[2] * p.out[1]);
  for (int64_t j = 0; j < nc; ++j) {
    const int64_t id = od * p.stride[0] + kd * p.dilation[0] - p.pad_begin[0];
    const int64_t ih = oh * p.stride[1] + kh * p.dilation[1] - p.pad_begin[1];
    const int64_t iw = ow * p.stride[2] + kw * p.dilation[2] - p.pad_begin[2];
    const bool inside = id >= 0 && id < p.in[0] && ih >= 0 && ih < p.in[1] && iw >= 0 && iw < p.in[2];
    line[j] = inside ? xc[(id * p.in[1] + ih) * p.in[2] + iw] : 0;
    if (++ow == p.out[2]) {
      ow = 0;
      if (++oh == p.out[1]) oh = 0, ++od;
    }
  }
}

// Row d of one group's im2col matrix for 2-D convs, read from the phase-split
// planes `x` (plane_len apart): per output row one contiguous copy.
void im2col_line_phases(const ConvParams& p, const PhaseLayout& L, const int16_t* x, int64_t d, int64_t n0, int64_t nc,
                        int16_t* line) {
  const int64_t ks = p.kernel[1] * p.kernel[2], c = d / ks, kh = (d % ks) / p.kernel[2], kw = d % p.kernel[2];
  const int16_t* base = x + c * L.plane_len() + L.tap(kh * p.dilation[1], kw * p.dilation[2]);
  const int64_t out_w = p.out[2];
  int64_t oh = n0 / out_w, ow = n0 % out_w;
  for (int64_t j = 0; j < nc; ow = 0, ++oh) {
    const int64_t seg = std::min(out_w - ow, nc - j);
    std::memcpy(line + j, base + oh * L.phase_w + ow, sizeof(int16_t) * seg);
    j += seg;
  }
}

// Columns of the output packed and multiplied together (one task's share).
constexpr int64_t kQconvColBlock = 4 * kQgemmNr;

// im2col of columns [n0, n0 + nc <= kQconvColBlock) of one image and group (x16: zero point
// removed) into NR-column panels of int16 (k, k+1) pairs; padding and tails 0.
// Pointwise convs read their rows straight from x16 (plain planes); 2-D convs copy
// each row from phase-split planes (`phases`); 3-D ones gather it from plain planes.
void pack_cols(const ConvParams& p, const PhaseLayout* phases, const int16_t* x, int64_t depth, int64_t n0, int64_t nc,
               int16_t* dst) {
  const int64_t pdepth = round_up(depth, 2), panels = (nc + kQgemmNr - 1) / kQgemmNr;
  const int64_t panel_stride = pdepth * kQgemmNr;
  if (nc < panels * kQgemmNr || depth % 2) std::memset(dst, 0, sizeof(int16_t) * panels * panel_stride);
  const bool pointwise = p.is_pointwise();
  int16_t lines[2][kQconvColBlock];
  for (int64_t d = 0; d < depth; d += 2) {
    const int16_t* r[2] = {nullptr, nullptr};
    for (int h = 0; h < 2 && d + h < depth; ++h) {
      if (pointwise) {
        r[h] = x + (d + h) * p.in_pixels() + n0;
        continue;
      }
      if (phases) im2col_line_phases(p, *phases, x, d + h, n0, nc, lines[h]);
      else im2col_line_3d(p, x, d + h, n0, nc, lines[h]);
      r[h] = lines[h];
    }
    int16_t* out = dst + d * kQgemmNr;
    for (int64_t j0 = 0; j0 < nc; j0 += kQgemmNr, out += panel_stride) {
      const int64_t cnt = std::min<int64_t>(kQgemmNr, nc - j0);
      if (r[1])
        for (int64_t j = 0; j < cnt; ++j) out[2 * j] = r[0][j0 + j], out[2 * j + 1] = r[1][j0 + j];
      else
        for (int64_t j = 0; j < cnt; ++j) out[2 * j] = r[0][j0 + j];
    }
  }
}


// Writes rows [r0, r0 + mr) x cols [c0, c0 + nc) of a tile: requantised or raw int32.
// y_off is the element offset of channel 0 at the tile's first column.
void store_tile(const QConvArgs& a, const QKernels& k, const int32_t* tile, int64_t k0, int mr, int64_t nc,
                int64_t ldt, int64_t ldy, int64_t y_off, void* y) {
  for (int i = 0; i < mr; ++i) {
    const int64_t ko = k0 + i;
    if (a.requant) {
      const bool s = a.y_type == DType::kInt8;
      void* dst = static_cast<uint8_t*>(y) + (y_off + ko * ldy);
      k.requant(tile + i * ldt, nc, a.bias ? a.bias[ko] : 0, a.out_scale[ko], a.y_zp, s, dst);
    } else {
      std::memcpy(static_cast<int32_t*>(y) + y_off + ko * ldy, tile + i * ldt, sizeof(int32_t) * nc);
    }
  }
}

// x16: the widened input, pair-interleaved (widen_input_pairs) when `pairs`
// (pointwise, one group), plain NCHW otherwise.
void qconv_gemm(const QConvArgs& a, const QKernels& k, const std::vector<std::vector<int16_t>>& packed_w,
                const int16_t* x16, bool pairs, const PhaseLayout* phases, void* y) {
  const ConvParams& p = a.p;
  const int64_t chan_stride = phases ? phases->plane_len() : p.in_pixels();  // x16 values per input channel
  const int64_t cg = p.in_channels / p.group, kg = p.out_channels / p.group;
  const int64_t depth = cg * p.kernel_size(), pdepth = round_up(depth, 2), cols = p.out_pixels();
  // Tasks: (image, group) x column block x row chunk, so small feature maps
  // with many channels still spread over threads.
  const int64_t block = kQconvColBlock, blocks = (cols + block - 1) / block;
  // Rows per task: up to 64, fewer when small maps (7x7: one column block) would
  // otherwise leave too few tasks to balance.
  const int64_t outer = p.batch * p.group * blocks;
  const int64_t row_chunk = rows_per_task(kg, outer, kQgemmMr, 64);
  const int64_t chunks = (kg + row_chunk - 1) / row_chunk;
  // Several row chunks per column block: pack every block once, up front, into the
  // calling thread's scratch slot 4, instead of once per task that uses it.
  const int64_t block_elems = pdepth * block;
  int16_t* prepacked = nullptr;
  if (!pairs && chunks > 1) {
    prepacked = scratch16(4, static_cast<size_t>(outer * block_elems));
    parallel_for(0, outer, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t tb = lo; tb < hi; ++tb) {
        const int64_t t = tb / blocks, n0 = (tb % blocks) * block, n = t / p.group, g = t % p.group;
        pack_cols(p, phases, x16 + (n * p.in_channels + g * cg) * chan_stride, depth, n0, std::min(block, cols - n0),
                  prepacked + tb * block_elems);
      }
    });
  }
  parallel_for(0, outer * chunks, 1, [&](int64_t lo, int64_t hi) {
    int16_t* b = scratch16(0, static_cast<size_t>(4 * pdepth * kQgemmNr));
    alignas(32) int32_t tile[kQgemmMr * 4 * kQgemmNr];  // MR rows x one column block
    int64_t packed_for = -1;
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t tb = task / chunks, chunk = task % chunks;
      const int64_t t = tb / blocks, n0 = (tb % blocks) * block, nc = std::min(block, cols - n0);
      const int64_t n = t / p.group, g = t % p.group;
      const int16_t* bsrc = b;
      int64_t ldb = 2 * kQgemmNr, panel_step = pdepth * kQgemmNr;
      if (pairs) {
        bsrc = x16 + n * pdepth * cols + 2 * n0;
        ldb = 2 * cols;
        panel_step = 2 * kQgemmNr;
      } else if (prepacked) {
        bsrc = prepacked + tb * block_elems;
      } else if (packed_for != tb) {  // consecutive tasks share the column block
        pack_cols(p, phases, x16 + (n * p.in_channels + g * cg) * chan_stride, depth, n0, nc, b);
        packed_for = tb;
      }
      const int16_t* aw = packed_w[g].data();
      const int64_t r_end = std::min(kg, (chunk + 1) * row_chunk);
      for (int64_t r0 = chunk * row_chunk; r0 < r_end; r0 += kQgemmMr) {
        const int mr = static_cast<int>(std::min<int64_t>(kQgemmMr, kg - r0));
        const int64_t ko = g * kg + r0, y_off = n * p.out_channels * cols + n0;
        int64_t j = 0;
        if (a.requant && mr == kQgemmMr) {  // full tiles requantised in registers
          const QRequantRows rq{a.bias ? a.bias + ko : nullptr, a.out_scale.data() + ko, a.y_zp, a.y_type == DType::kInt8};
          uint8_t* yrow = static_cast<uint8_t*>(y) + y_off + ko * cols;
          for (; j + kQgemmNr <= nc; j += kQgemmNr)
            k.ukernel_requant(pdepth / 2, aw + r0 * pdepth, bsrc + (j / kQgemmNr) * panel_step, ldb, rq, yrow + j, cols);
          if (j == nc) continue;
        }
        for (int64_t jj = j; jj < nc; jj += kQgemmNr) {
          const int16_t* bp = bsrc + (jj / kQgemmNr) * panel_step;
          if (nc - jj <= 8) k.ukernel_4x8(pdepth / 2, aw + r0 * pdepth, bp, ldb, tile + jj, block);  // 7x7 maps: 49 = 3 * 16 + 1
          else k.ukernel(pdepth / 2, aw + r0 * pdepth, bp, ldb, tile + jj, block);
        }
        // The rest of the MR x nc strip: requantised (or copied) one row per call.
        store_tile(a, k, tile + j, ko, mr, nc - j, block, cols, y_off + j, y);
      }
    }
  });
}

}  // namespace

namespace {

// ---- QLinearConv / ConvInteger --------------------------------------------------------

class QConvKernel final : public Kernel {
 public:
  // `w` and `w_zp` are the constant weights and zero point, or null;
  // `params_constant`: every input but X is a constant (initializers).
  QConvKernel(ConvAttrs attrs, bool qlinear, const Tensor* w, const Tensor* w_zp, bool params_constant)
      : attrs_(std::move(attrs)), qlinear_(qlinear) {
    if (!w || !is_q8(w->dtype()) || w->rank() < 3 || (qlinear && !w_zp)) return;
    const int64_t K = w->dim(0);
    if (w_zp && (w_zp->dtype() != w->dtype() || (w_zp->numel() != 1 && w_zp->numel() != K))) return;
    for (int64_t k = 0; k < K; ++k)
      packed_zp_.push_back(w_zp ? load_q8(w_zp->raw(), w_zp->dtype(), w_zp->numel() == 1 ? 0 : k) : 0);
    packed_ = pack_weights(*w, attrs_.group, packed_zp_);
    packed_shape_ = w->shape();
    if (u8s8_candidate(*w, packed_zp_)) u8s8_ = pack_u8s8_weights(w->data<int8_t>(), K, w->numel() / K, !u8s8_use_vnni());
    params_constant_ = params_constant;
  }

  Status run(KernelContext& ctx) override {
    // QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B. ConvInteger: x, w, x_zp, w_zp.
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(qlinear_ ? 3 : 1);
    if (!x || !w) return invalid_argument("missing input X or W");
    if (!is_q8(x->dtype()) || !is_q8(w->dtype()))
      return unsupported(std::string("X / W have dtypes ") + dtype_name(x->dtype()) + " / " + dtype_name(w->dtype()) +
                         "; uint8 and int8 are implemented");
    // With constant parameters the last call's arguments stand while X's shape and
    // type and the ISA do (rebuilding them was ~5% of an int8 MobileNetV2 run).
    if (!(args_valid_ && x->shape() == args_x_shape_ && x->dtype() == args_.x_type && active_isa() == args_isa_)) {
      args_valid_ = false;
      CVT_RETURN_IF_ERROR(prepare(ctx, *x, *w));
      args_valid_ = params_constant_;
      args_x_shape_ = x->shape();
      args_isa_ = active_isa();
    }
    const QConvArgs& a = args_;
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, a.requant ? a.y_type : DType::kInt32, a.p.output_shape()));
    if (y->numel() == 0) return Status::ok();
    if (ctx.use_reference()) {
      impl_ = "qconv_ref";
      qconv_ref(a, x->raw(), w->raw(), y->raw());
      return Status::ok();
    }
    if (u8s8_path_) {
      QU8S8Weights per_call;
      const bool vnni = u8s8_use_vnni();
      if (!u8s8_at_load_) per_call = pack_u8s8_weights(w->data<int8_t>(), w->dim(0), w->numel() / w->dim(0), !vnni);
      const QU8S8Weights& uw = u8s8_at_load_ ? u8s8_ : per_call;
      const int32_t* folded_bias = u8s8_at_load_ ? u8s8_bias_.data() : nullptr;
      if (!uw.empty()) {
        if (!a.p.is_pointwise()) {
          // 2-D kernels with VNNI: im2col of the u8 input (slot 5 of this thread; the
          // pointwise driver uses 3 and 4), then the same driver over C * R * S rows.
          impl_ = "qconv_im2col_u8s8_4x64__avx512vnni";
          QConvArgs cols_args = a;
          cols_args.p.in_channels = w->numel() / w->dim(0);
          uint8_t* cols = reinterpret_cast<uint8_t*>(
              gemm_scratch(5, static_cast<size_t>(a.p.batch * cols_args.p.in_channels * a.p.out_pixels() / 4 + 1)));
          im2col_u8(a.p, x->data<uint8_t>(), static_cast<uint8_t>(a.x_zp), cols);
          qconv_pointwise_u8s8(cols_args, uw, cols, static_cast<uint8_t*>(y->raw()), folded_bias);
          return Status::ok();
        }
        impl_ = vnni ? "qconv_1x1_u8s8_4x64__avx512vnni" : "qconv_1x1_u8s8_4x16__avx2";
        qconv_pointwise_u8s8(a, uw, x->data<uint8_t>(), static_cast<uint8_t*>(y->raw()), folded_bias);
        return Status::ok();
      }
    }
    const QKernels k = qkernels();
    if (use_direct_depthwise_q(a.p)) {
      impl_ = a.requant && use_qdw3x3_block16(a.p)
                  ? "qconv_dw3x3_block16__avx512vnni"
                  : std::string("qconv_dw_s16") + (a.requant && active_isa() >= Isa::kAvx512 ? "__avx512" : k.suffix);
      qconv_depthwise(a, k, dw_weights_, x->raw(), y->raw());
      return Status::ok();
    }
    // Big pointwise maps read B straight from the pair-interleaved input; small ones
    // (14x14, 7x7) are packed: there a k pair's 16 columns would sit 2 * pixels
    // int16 apart, across cache lines, for every tile of every row panel.
    const bool pairs = a.p.is_pointwise() && a.p.group == 1 && a.p.out_pixels() >= 256;
    // The widened input lives in the calling thread's scratch slot 3: the tasks
    // below use slots 0-2 (and qconv_gemm slot 4), and nothing else runs inside this kernel.
    int16_t* x16 = nullptr;
    const bool flat = a.p.kernel[0] == 1 && a.p.in[0] == 1 && a.p.out[0] == 1 && a.p.pad_begin[0] == 0;
    std::optional<PhaseLayout> phases;
    if (pairs) {
      x16 = scratch16(3, static_cast<size_t>(a.p.batch * ((a.p.in_channels + 1) / 2) * a.p.in_pixels() * 2 + kPairSlack));
      widen_input_pairs(k, x->raw(), a.x_type, a.x_zp, a.p.batch, a.p.in_channels, a.p.in_pixels(), x16);
    } else if (flat && !a.p.is_pointwise()) {  // 2-D kernels: padded phase-split planes, im2col rows are copies
      phases = phase_layout(a.p);
      const int64_t planes = a.p.batch * a.p.in_channels, len = phases->plane_len();
      x16 = scratch16(3, static_cast<size_t>(planes * len));
      const uint8_t* xb = static_cast<const uint8_t*>(x->raw());
      parallel_for(0, planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, len)), [&](int64_t lo, int64_t hi) {
        std::memset(x16 + lo * len, 0, sizeof(int16_t) * (hi - lo) * len);
        for (int64_t i = lo; i < hi; ++i)
          fill_phase_plane(*phases, k, xb + i * a.p.in_pixels(), a.x_type == DType::kInt8, a.x_zp, x16 + i * len);
      });
    } else {
      x16 = scratch16(3, static_cast<size_t>(x->numel()));
      widen_input(k, x->raw(), a.x_type, a.x_zp, x->numel(), x16);
    }
    const PhaseLayout* ph = phases ? &*phases : nullptr;
    impl_ = std::string("qconv_im2col_s16_4x16") + k.suffix;
    // Constant weights (initializers) were packed at load time; others are packed per call.
    if (gemm_at_load_) {
      qconv_gemm(a, k, packed_, x16, pairs, ph, y->raw());
      return Status::ok();
    }
    qconv_gemm(a, k, pack_weights(*w, a.p.group, a.w_zp), x16, pairs, ph, y->raw());
    return Status::ok();
  }
  std::string impl_name() const override { return impl_; }

 private:
  // args_ for X, and the per-path weights that go with them.
  Status prepare(KernelContext& ctx, const Tensor& x, const Tensor& w) {
    QConvArgs& a = args_;
    CVT_ASSIGN_OR_RETURN(a.p, resolve_conv(attrs_, x.shape(), w.shape()));
    a.x_type = x.dtype();
    a.w_type = w.dtype();
    a.w_zp.clear();
    a.out_scale.clear();
    a.bias = nullptr;
    const int64_t K = a.p.out_channels;
    const Tensor* xzp_t = ctx.input(2);
    const Tensor* wzp_t = ctx.input(qlinear_ ? 5 : 3);
    if (qlinear_) {
      CVT_ASSIGN_OR_RETURN(QuantParam xq, read_quant_param(ctx.input(1), xzp_t, 0, "x", x.dtype()));
      CVT_ASSIGN_OR_RETURN(QuantParam wq, read_quant_param(ctx.input(4), wzp_t, K, "w", w.dtype()));
      CVT_ASSIGN_OR_RETURN(QuantParam yq, read_quant_param(ctx.input(6), ctx.input(7), 0, "y", x.dtype()));
      if (xq.dtype != x.dtype() || wq.dtype != w.dtype() || !is_q8(yq.dtype))
        return invalid_argument("zero point dtypes must match X and W");
      a.requant = true;
      a.x_zp = xq.zero_point[0];
      for (int64_t k = 0; k < K; ++k) {
        a.w_zp.push_back(wq.z(k));
        a.out_scale.push_back(xq.scale[0] * wq.s(k) / yq.scale[0]);  // MLAS's order of operations
      }
      a.y_zp = yq.zero_point[0];
      a.y_type = yq.dtype;
      const Tensor* b = ctx.num_inputs() > 8 ? ctx.input(8) : nullptr;
      if (b) {
        if (b->dtype() != DType::kInt32 || b->shape() != Shape{K})
          return shape_mismatch("bias B " + shape_str(b->shape()) + " (" + dtype_name(b->dtype()) +
                                ") must be int32 with shape (" + std::to_string(K) + ")");
        a.bias = b->data<int32_t>();
      }
    } else {
      a.requant = false;
      if (xzp_t && (xzp_t->numel() != 1 || xzp_t->dtype() != x.dtype()))
        return invalid_argument("x_zero_point must be a scalar of X's dtype");
      a.x_zp = xzp_t ? load_q8(xzp_t->raw(), xzp_t->dtype(), 0) : 0;
      if (wzp_t && ((wzp_t->numel() != 1 && wzp_t->numel() != K) || wzp_t->dtype() != w.dtype()))
        return invalid_argument("w_zero_point must be a scalar or have one value per output channel, of W's dtype");
      for (int64_t k = 0; k < K; ++k)
        a.w_zp.push_back(wzp_t ? load_q8(wzp_t->raw(), wzp_t->dtype(), wzp_t->numel() == 1 ? 0 : k) : 0);
    }
    // The u8 x s8 path: 1x1 convs, and 2-D kernels through im2col with VNNI.
    const bool vnni = u8s8_use_vnni();
    const bool im2col = !a.p.is_pointwise() && vnni && a.p.spatial_rank == 2;
    u8s8_path_ = qlinear_ && a.x_type == DType::kUInt8 && (a.p.is_pointwise() || im2col) &&
                 active_isa() >= Isa::kAvx2 && u8s8_candidate(w, a.w_zp);
    u8s8_at_load_ = u8s8_path_ && !u8s8_.empty() && u8s8_.split == !vnni && packed_zp_ == a.w_zp &&
                    packed_shape_ == w.shape();
    u8s8_bias_.clear();
    if (u8s8_at_load_)  // x's zero point through the row sums: sum (a - zx) w = sum a w - zx sum w
      for (int64_t k = 0; k < K; ++k) u8s8_bias_.push_back((a.bias ? a.bias[k] : 0) - a.x_zp * u8s8_.row_sum[k]);
    // Made here, so once for constant parameters and on every call otherwise.
    if (!u8s8_path_ && use_direct_depthwise_q(a.p)) dw_weights_ = prepare_qdw_weights(a, w.raw());
    gemm_at_load_ = !packed_.empty() && packed_zp_ == a.w_zp && packed_shape_ == w.shape();
    return Status::ok();
  }

  static std::vector<std::vector<int16_t>> pack_weights(const Tensor& w, int64_t group, const std::vector<int32_t>& zp) {
    const int64_t K = w.dim(0), kg = K / group, depth = w.numel() / K;
    std::vector<std::vector<int16_t>> packed;
    for (int64_t g = 0; g < group; ++g) packed.push_back(pack_rows(w.raw(), w.dtype(), g * kg, kg, depth, zp));
    return packed;
  }

  // s8 weights with zero points 0, one group, a 1x1 kernel: the u8 x s8 path (quant_u8s8.h)
  // applies. With split weights (AVX2) it pays off where the depth is large against
  // the rows: MobileNetV2's projections (576 -> 96: -30%) gain, its expansions
  // (24 -> 144: +15%) lose, as the remainders and the epilogue weigh more on a short
  // depth. With VNNI's whole weights it takes them all.
  bool u8s8_candidate(const Tensor& w, const std::vector<int32_t>& w_zp) const {
    if (!qlinear_ || w.dtype() != DType::kInt8 || attrs_.group != 1 || w.dim(0) % 4 != 0) return false;
    const bool vnni = u8s8_use_vnni();
    if (w.rank() < 2 || (w.dim(0) > 2 * w.dim(1) && !vnni)) return false;
    for (int64_t d = 2; d < w.rank(); ++d)
      if (w.dim(d) != 1 && !(vnni && w.rank() == 4)) return false;  // 2-D kernels: im2col, VNNI only
    return std::all_of(w_zp.begin(), w_zp.end(), [](int32_t z) { return z == 0; });
  }

  ConvAttrs attrs_;
  bool qlinear_;
  QU8S8Weights u8s8_;  // constant weights split for the u8 x s8 path, or empty
  std::vector<std::vector<int16_t>> packed_;
  std::vector<int32_t> packed_zp_;
  Shape packed_shape_;
  std::string impl_ = "qconv";
  // The last call's arguments (prepare); kept across calls when params_constant_.
  bool params_constant_ = false, args_valid_ = false;
  QConvArgs args_;
  Shape args_x_shape_;
  Isa args_isa_ = Isa::kScalar;
  bool u8s8_path_ = false, u8s8_at_load_ = false, gemm_at_load_ = false;
  std::vector<int32_t> u8s8_bias_;  // bias - x_zp * row sums, with u8s8_
  QDwWeights dw_weights_;
};

Result<std::unique_ptr<Kernel>> make_qconv(const NodeDesc& node, bool qlinear) {
  CVT_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node, false));
  const size_t need = qlinear ? 8 : 2;
  if (node.inputs.size() < need) return invalid_argument(node.op_type + " needs at least " + std::to_string(need) + " inputs");
  const Tensor* w = node.constant(qlinear ? 3 : 1);
  if (w) CVT_RETURN_IF_ERROR(check_conv_weight(attrs, w->shape(), false));
  const size_t zp_index = qlinear ? 5 : 3;
  const Tensor* w_zp = node.constant(zp_index);
  if (!qlinear && !node.has_input(zp_index)) w_zp = nullptr;  // absent: zero
  else if (!w_zp) w = nullptr;                                 // computed zero point: pack per call
  bool params_constant = w != nullptr;
  for (size_t i = 1; i < node.inputs.size(); ++i)
    if (node.has_input(i) && !node.constant(i)) params_constant = false;
  return std::unique_ptr<Kernel>(std::make_unique<QConvKernel>(std::move(attrs), qlinear, w, w_zp, params_constant));
}
Result<std::unique_ptr<Kernel>> make_qlinear_conv(const NodeDesc& node) { return make_qconv(node, true); }
Result<std::unique_ptr<Kernel>> make_conv_integer(const NodeDesc& node) { return make_qconv(node, false); }

}  // namespace

void register_quant_linear_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "QLinearConv", 10, 21, make_qlinear_conv});
  t.push_back({"", "ConvInteger", 10, 21, make_conv_integer});
  register_quant_matmul_ops(t);
}

}  // namespace cvt
