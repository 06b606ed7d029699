// Elementwise quantised ops: QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, and ONNX Runtime's com.microsoft contrib ops
// QLinearAdd, QLinearMul, QLinearGlobalAveragePool, QLinearConcat,
// QLinearSigmoid, QLinearLeakyRelu. Each formula is ONNX Runtime's x86 one
// (MLAS), written as a scalar loop, so results match it bit for bit; these
// loops are both the reference and the fast path (they are memory bound),
// except QuantizeLinear and QLinearAdd, whose float math has AVX2 twins.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "ops/broadcast.h"
#include "ops/quant.h"
#include "ops/quant_pack.h"
#include "ops/registry.h"

namespace cvt {

void register_quant_linear_ops(std::vector<OpSchema>& t);  // quant.cpp

namespace {

using qpack::is_q8;
using qpack::load_q8;
int32_t qmin_of(DType t) { return t == DType::kInt8 ? -128 : 0; }
int32_t qmax_of(DType t) { return t == DType::kInt8 ? 127 : 255; }
void store_q8(void* p, DType t, int64_t i, int32_t v) {
  if (t == DType::kUInt8) static_cast<uint8_t*>(p)[i] = saturate_to<uint8_t>(v);
  else static_cast<int8_t*>(p)[i] = saturate_to<int8_t>(v);
}

constexpr int64_t kGrain = 16384;

// Per-axis parameters: element i uses channel (i / inner) % channels.
struct AxisLayout {
  int64_t channels = 1, inner = 1;
};
Result<AxisLayout> axis_layout(const NodeDesc& node, const Tensor& x, const QuantParam& q, int opset) {
  AxisLayout l;
  if (q.per_tensor()) return l;
  int64_t axis = opset >= 13 ? node.attrs.get_int("axis", 1) : 1;
  if (axis < -x.rank() || axis >= x.rank())
    return invalid_argument("axis " + std::to_string(axis) + " is out of range for input " + shape_str(x.shape()));
  if (axis < 0) axis += x.rank();
  if (x.dim(static_cast<int>(axis)) != static_cast<int64_t>(q.scale.size()))
    return shape_mismatch("scale has " + std::to_string(q.scale.size()) + " values but input " + shape_str(x.shape()) +
                          " has " + std::to_string(x.dim(static_cast<int>(axis))) + " along axis " + std::to_string(axis));
  l.channels = x.dim(static_cast<int>(axis));
  for (int d = static_cast<int>(axis) + 1; d < x.rank(); ++d) l.inner *= x.dim(d);
  return l;
}

// ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear ----------------------

Status check_no_block_size(const NodeDesc& node) {
  if (node.attrs.get_int("block_size", 0) != 0) return unsupported("blocked quantisation (block_size) is not implemented");
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_quantize_linear(const NodeDesc& node) {
  CVT_RETURN_IF_ERROR(check_no_block_size(node));
  const int64_t out_attr = node.attrs.get_int("output_dtype", 0);  // TensorProto: 2 = uint8, 3 = int8
  if (out_attr != 0 && out_attr != 2 && out_attr != 3)
    return unsupported("output_dtype " + std::to_string(out_attr) + " is not implemented (uint8 and int8 are)");
  return make_kernel(
      [node, out_attr](KernelContext& ctx) -> Status {
        const Tensor* x = ctx.input(0);
        if (!x || x->dtype() != DType::kFloat32) return unsupported("QuantizeLinear input must be float32");
        const Tensor* zp = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
        const DType def = out_attr == 3 ? DType::kInt8 : DType::kUInt8;
        CVT_ASSIGN_OR_RETURN(QuantParam q, read_quant_param(ctx.input(1), zp, x->rank() > 0 ? -1 : 0, "y", def));
        if (!is_q8(q.dtype)) return unsupported(std::string("output dtype ") + dtype_name(q.dtype) + " is not implemented");
        if (q.scale.size() != 1 && x->rank() == 0) return shape_mismatch("per-axis scale on a scalar input");
        CVT_ASSIGN_OR_RETURN(AxisLayout l, axis_layout(node, *x, q, node.opset));
        CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, q.dtype, x->shape()));
        const float* xd = x->data<float>();
        auto run = ctx.use_reference() || active_isa() < Isa::kAvx2 ? quantize_run__scalar : quantize_run__avx2;
        const bool is_signed = q.dtype == DType::kInt8;
        uint8_t* yd = static_cast<uint8_t*>(y->raw());  // 1-byte elements
        parallel_for(0, x->numel(), kGrain, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi;) {  // runs of elements sharing one channel's parameters
            const int64_t c = (i / l.inner) % l.channels;
            const int64_t end = l.channels == 1 ? hi : std::min(hi, (i / l.inner + 1) * l.inner);
            run(xd + i, end - i, q.s(c), q.z(c), is_signed, yd + i);
            i = end;
          }
        });
        return Status::ok();
      },
      "quantize_linear");
}

Result<std::unique_ptr<Kernel>> make_dequantize_linear(const NodeDesc& node) {
  CVT_RETURN_IF_ERROR(check_no_block_size(node));
  return make_kernel(
      [node](KernelContext& ctx) -> Status {
        const Tensor* x = ctx.input(0);
        if (!x || (!is_q8(x->dtype()) && x->dtype() != DType::kInt32))
          return unsupported("DequantizeLinear input must be uint8, int8 or int32");
        const Tensor* zp = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
        CVT_ASSIGN_OR_RETURN(QuantParam q, read_quant_param(ctx.input(1), zp, -1, "x", x->dtype()));
        if (zp && q.dtype != x->dtype()) return invalid_argument("x_zero_point dtype must match x");
        if (x->dtype() == DType::kInt32)
          for (int32_t z : q.zero_point)
            if (z != 0) return invalid_argument("an int32 input must have zero point 0");
        CVT_ASSIGN_OR_RETURN(AxisLayout l, axis_layout(node, *x, q, node.opset));
        CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x->shape()));
        float* yd = y->data<float>();
        parallel_for(0, x->numel(), kGrain, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) {
            const int64_t c = (i / l.inner) % l.channels;
            const int32_t v = x->dtype() == DType::kInt32 ? x->data<int32_t>()[i] : load_q8(x->raw(), x->dtype(), i);
            yd[i] = static_cast<float>(v - q.z(c)) * q.s(c);
          }
        });
        return Status::ok();
      },
      "dequantize_linear");
}

Result<std::unique_ptr<Kernel>> make_dynamic_quantize_linear(const NodeDesc&) {
  return make_kernel(
      [](KernelContext& ctx) -> Status {
        const Tensor* x = ctx.input(0);
        if (!x || x->dtype() != DType::kFloat32) return unsupported("DynamicQuantizeLinear input must be float32");
        const float* xd = x->data<float>();
        float lo = 0.f, hi = 0.f;  // the range always includes 0
        for (int64_t i = 0; i < x->numel(); ++i) {
          lo = std::min(lo, xd[i]);
          hi = std::max(hi, xd[i]);
        }
        // ONNX Runtime's GetQuantizationParameter: qmin 0, qmax 255.
        const float scale = hi == lo ? 1.f : (hi - lo) / 255.f;
        const float zp_f = std::clamp(0.f - lo / scale, 0.f, 255.f);
        const int32_t zp = static_cast<int32_t>(std::nearbyint(zp_f));
        CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kUInt8, x->shape()));
        CVT_ASSIGN_OR_RETURN(Tensor * ys, ctx.output(1, DType::kFloat32, {}));
        CVT_ASSIGN_OR_RETURN(Tensor * yz, ctx.output(2, DType::kUInt8, {}));
        ys->data<float>()[0] = scale;
        yz->data<uint8_t>()[0] = static_cast<uint8_t>(zp);
        for (int64_t i = 0; i < x->numel(); ++i) y->data<uint8_t>()[i] = quantize_value<uint8_t>(xd[i], scale, zp);
        return Status::ok();
      },
      "dynamic_quantize_linear");
}

// ---- QLinearAdd / QLinearMul (com.microsoft) ---------------------------------------

struct Scalar8 {
  float scale;
  int32_t zp;
};
Result<Scalar8> scalar_param(const Tensor* s, const Tensor* z, DType t, const char* what) {
  CVT_ASSIGN_OR_RETURN(QuantParam q, read_quant_param(s, z, 0, what, t));
  if (z && q.dtype != t) return invalid_argument(std::string(what) + " zero point dtype must match the data");
  return Scalar8{q.scale[0], q.zero_point[0]};
}

template <bool kMul>
Status run_qlinear_binary(KernelContext& ctx) {
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(3);
  if (!a || !b) return invalid_argument("missing input A or B");
  if (!is_q8(a->dtype()) || a->dtype() != b->dtype())
    return unsupported(std::string("A / B dtypes ") + dtype_name(a->dtype()) + " / " + dtype_name(b->dtype()) +
                       " must both be uint8 or both int8");
  const DType t = a->dtype();
  CVT_ASSIGN_OR_RETURN(Scalar8 qa, scalar_param(ctx.input(1), ctx.input(2), t, "A"));
  CVT_ASSIGN_OR_RETURN(Scalar8 qb, scalar_param(ctx.input(4), ctx.input(5), t, "B"));
  CVT_ASSIGN_OR_RETURN(Scalar8 qc, scalar_param(ctx.input(6), ctx.num_inputs() > 7 ? ctx.input(7) : nullptr, t, "C"));
  CVT_ASSIGN_OR_RETURN(Shape out, broadcast_shapes({a->shape(), b->shape()}));
  CVT_ASSIGN_OR_RETURN(Tensor * c, ctx.output(0, t, out));
  BroadcastPlan plan(out, {a->shape(), b->shape()});
  const float ratio = qa.scale * qb.scale / qc.scale;  // QLinearMul
  const bool use_avx2 = !kMul && !ctx.use_reference() && active_isa() >= Isa::kAvx2;
  const QAddParams qp{qa.scale, qb.scale, qc.scale, qa.zp, qb.zp, qc.zp, t == DType::kInt8};
  for_each_broadcast_block(plan, kGrain, [&](const BroadcastPlan::Cursor& cur, int64_t out_off, int64_t begin, int64_t n) {
    const int64_t a0 = cur.offset(0) + (plan.inner_stride(0) ? begin : 0), as = plan.inner_stride(0);
    const int64_t b0 = cur.offset(1) + (plan.inner_stride(1) ? begin : 0), bs = plan.inner_stride(1);
    if (!kMul) {
      // QLinearAdd: ONNX Runtime's AVX2 kernel formula (dequantise both, add, divide by C's scale).
      const uint8_t* ap = static_cast<const uint8_t*>(a->raw()) + a0;
      const uint8_t* bp = static_cast<const uint8_t*>(b->raw()) + b0;
      uint8_t* cp = static_cast<uint8_t*>(c->raw()) + out_off;
      if (use_avx2) qlinear_add_run__avx2(ap, as, bp, bs, n, qp, cp);
      else qlinear_add_run__scalar(ap, as, bp, bs, n, qp, cp);
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const int32_t av = load_q8(a->raw(), t, a0 + i * as) - qa.zp, bv = load_q8(b->raw(), t, b0 + i * bs) - qb.zp;
      // QLinearMul, MLAS (SSE2): exact product, one multiply by the combined ratio, + zero point, rne.
      const float prod = static_cast<float>(av * bv) * ratio;
      int32_t r = round_to_int(prod + static_cast<float>(qc.zp));
      r = std::clamp(r, qmin_of(t), qmax_of(t));
      store_q8(c->raw(), t, out_off + i, r);
    }
  });
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_qlinear_add(const NodeDesc& node) {
  if (node.inputs.size() < 7) return invalid_argument("QLinearAdd needs at least 7 inputs");
  return make_kernel([](KernelContext& ctx) { return run_qlinear_binary<false>(ctx); }, "qlinear_add");
}
Result<std::unique_ptr<Kernel>> make_qlinear_mul(const NodeDesc& node) {
  if (node.inputs.size() < 7) return invalid_argument("QLinearMul needs at least 7 inputs");
  return make_kernel([](KernelContext& ctx) { return run_qlinear_binary<true>(ctx); }, "qlinear_mul");
}

// ---- QLinearGlobalAveragePool (com.microsoft) -----------------------------------------

Result<std::unique_ptr<Kernel>> make_qlinear_gap(const NodeDesc& node) {
  const int64_t channels_last = node.attrs.get_int("channels_last", 0);
  if (channels_last != 0 && channels_last != 1) return invalid_argument("channels_last must be 0 or 1");
  return make_kernel(
      [channels_last](KernelContext& ctx) -> Status {
        const Tensor* x = ctx.input(0);
        if (!x || !is_q8(x->dtype())) return unsupported("QLinearGlobalAveragePool input must be uint8 or int8");
        if (x->rank() < 3) return shape_mismatch("input " + shape_str(x->shape()) + " needs rank >= 3 (N, C, spatial...)");
        const DType t = x->dtype();
        CVT_ASSIGN_OR_RETURN(Scalar8 qx, scalar_param(ctx.input(1), ctx.input(2), t, "x"));
        CVT_ASSIGN_OR_RETURN(Scalar8 qy, scalar_param(ctx.input(3), ctx.num_inputs() > 4 ? ctx.input(4) : nullptr, t, "y"));
        const int64_t n = x->dim(0), c = channels_last ? x->dim(-1) : x->dim(1);
        const int64_t image = x->numel() / std::max<int64_t>(1, n * c);
        if (image >= 0x1000000 || image == 0) return limit_exceeded("image size " + std::to_string(image) + " is out of range");
        Shape out = x->shape();
        for (int d = channels_last ? 1 : 2; d < x->rank() - (channels_last ? 1 : 0); ++d) out[d] = 1;
        CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, t, out));
        const float scale = qx.scale / (qy.scale * static_cast<float>(image));
        const float lo = float(qmin_of(t) - qy.zp), hi = float(qmax_of(t) - qy.zp);
        const int32_t bias = -qx.zp * static_cast<int32_t>(image);
        parallel_for(0, n * c, 64, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            const int64_t img = i / c, ch = i % c;
            int32_t acc = bias;
            for (int64_t p = 0; p < image; ++p)
              acc += load_q8(x->raw(), t, channels_last ? (img * image + p) * c + ch : i * image + p);
            store_q8(y->raw(), t, i, requantize(acc, scale, lo, hi, qy.zp));
          }
        });
        return Status::ok();
      },
      "qlinear_global_average_pool");
}

// ---- lookup-table ops: QLinearConcat, QLinearSigmoid, QLinearLeakyRelu ----------------

// table[byte] = quantize(f(dequantize(byte))) as ONNX Runtime's QlinearBuildLookupTable.
template <typename F>
std::array<uint8_t, 256> build_table(DType t, Scalar8 qx, Scalar8 qy, F f) {
  std::array<uint8_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    const int32_t v = t == DType::kInt8 ? int32_t(static_cast<int8_t>(i)) : i;
    const float y = f(qx.scale * static_cast<float>(v - qx.zp));
    table[i] = t == DType::kInt8 ? static_cast<uint8_t>(quantize_value<int8_t>(y, qy.scale, qy.zp))
                                 : quantize_value<uint8_t>(y, qy.scale, qy.zp);
  }
  return table;
}

// MLAS's logistic (Eigen's rational approximation) as its FMA3 kernel evaluates it.
float mlas_logistic(float x) {
  float v = x < -18.f ? -18.f : x;
  v = v > 18.f ? 18.f : v;
  const float v2 = v * v;
  float p = std::fma(v2, 4.37031012579801e-11f, 1.15627324459942e-07f);
  p = std::fma(p, v2, 6.08574864600143e-05f);
  p = std::fma(p, v2, 8.51377133304701e-03f);
  p = std::fma(p, v2, 2.48287947061529e-01f);
  p = p * v;
  float q = std::fma(v2, 6.10247389755681e-13f, 5.76102136993427e-09f);
  q = std::fma(q, v2, 6.29106785017040e-06f);
  q = std::fma(q, v2, 1.70198817374094e-03f);
  q = std::fma(q, v2, 1.16817656904453e-01f);
  q = std::fma(q, v2, 9.93151921023180e-01f);
  return std::clamp(p / q + 0.5f, 0.f, 1.f);
}

template <typename F>
Status run_table_op(KernelContext& ctx, F f) {
  const Tensor* x = ctx.input(0);
  if (!x || !is_q8(x->dtype())) return unsupported("input must be uint8 or int8");
  const DType t = x->dtype();
  CVT_ASSIGN_OR_RETURN(Scalar8 qx, scalar_param(ctx.input(1), ctx.input(2), t, "X"));
  CVT_ASSIGN_OR_RETURN(Scalar8 qy, scalar_param(ctx.input(3), ctx.num_inputs() > 4 ? ctx.input(4) : nullptr, t, "Y"));
  const auto table = build_table(t, qx, qy, f);
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, t, x->shape()));
  const uint8_t* xd = static_cast<const uint8_t*>(x->raw());
  uint8_t* yd = static_cast<uint8_t*>(y->raw());
  parallel_for(0, x->numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) yd[i] = table[xd[i]];
  });
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_qlinear_sigmoid(const NodeDesc&) {
  return make_kernel([](KernelContext& ctx) { return run_table_op(ctx, mlas_logistic); }, "qlinear_sigmoid_lut");
}
Result<std::unique_ptr<Kernel>> make_qlinear_leaky_relu(const NodeDesc& node) {
  const float alpha = node.attrs.get_float("alpha", 0.01f);
  return make_kernel(
      [alpha](KernelContext& ctx) { return run_table_op(ctx, [alpha](float v) { return v >= 0.f ? v : v * alpha; }); },
      "qlinear_leaky_relu_lut");
}

Result<std::unique_ptr<Kernel>> make_qlinear_concat(const NodeDesc& node) {
  const int64_t axis_attr = node.attrs.get_int("axis", 0);
  if (node.inputs.size() < 5 || (node.inputs.size() - 2) % 3 != 0)
    return invalid_argument("QLinearConcat takes Y_scale, Y_zero_point and then (X, X_scale, X_zero_point) triples");
  return make_kernel(
      [axis_attr](KernelContext& ctx) -> Status {
        const int count = (ctx.num_inputs() - 2) / 3;
        const Tensor* x0 = ctx.input(2);
        if (!x0 || !is_q8(x0->dtype())) return unsupported("QLinearConcat inputs must be uint8 or int8");
        const DType t = x0->dtype();
        CVT_ASSIGN_OR_RETURN(Scalar8 qy, scalar_param(ctx.input(0), ctx.input(1), t, "Y"));
        const int rank = x0->rank();
        int64_t axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
        if (axis < 0 || axis >= rank) return invalid_argument("axis " + std::to_string(axis_attr) + " is out of range");
        Shape out = x0->shape();
        out[axis] = 0;
        for (int i = 0; i < count; ++i) {
          const Tensor* xi = ctx.input(2 + 3 * i);
          if (!xi || xi->dtype() != t || xi->rank() != rank) return shape_mismatch("QLinearConcat inputs must share dtype and rank");
          for (int d = 0; d < rank; ++d)
            if (d != axis && xi->dim(d) != x0->dim(d))
              return shape_mismatch("input " + shape_str(xi->shape()) + " does not match " + shape_str(x0->shape()) + " off the axis");
          out[axis] += xi->dim(static_cast<int>(axis));
        }
        CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, t, out));
        int64_t outer = 1, inner = 1;
        for (int d = 0; d < axis; ++d) outer *= out[d];
        for (int d = static_cast<int>(axis) + 1; d < rank; ++d) inner *= out[d];
        int64_t offset = 0;
        uint8_t* yd = static_cast<uint8_t*>(y->raw());
        for (int i = 0; i < count; ++i) {
          const Tensor* xi = ctx.input(2 + 3 * i);
          CVT_ASSIGN_OR_RETURN(Scalar8 qx, scalar_param(ctx.input(3 + 3 * i), ctx.input(4 + 3 * i), t, "X"));
          const bool same = qx.scale == qy.scale && qx.zp == qy.zp;
          const auto table = build_table(t, qx, qy, [](float v) { return v; });
          const int64_t span = xi->dim(static_cast<int>(axis)) * inner, row = out[axis] * inner;
          const uint8_t* xd = static_cast<const uint8_t*>(xi->raw());
          for (int64_t o = 0; o < outer; ++o)
            for (int64_t j = 0; j < span; ++j) yd[o * row + offset + j] = same ? xd[o * span + j] : table[xd[o * span + j]];
          offset += span;
        }
        return Status::ok();
      },
      "qlinear_concat");
}

}  // namespace

Result<QuantParam> read_quant_param(const Tensor* scale, const Tensor* zero_point, int64_t channels, const char* what,
                                    DType default_dtype) {
  QuantParam q;
  q.dtype = default_dtype;
  if (!scale) return invalid_argument(std::string("missing ") + what + " scale");
  if (scale->dtype() != DType::kFloat32)
    return unsupported(std::string(what) + " scale has dtype " + dtype_name(scale->dtype()) + "; only float32 is implemented");
  const bool scalar = scale->numel() == 1 && scale->rank() <= 1;
  // channels > 0: a 1-D scale must have that length; < 0: any length (checked by the caller).
  const bool per_channel = channels != 0 && scale->rank() == 1 && (channels < 0 || scale->dim(0) == channels);
  if (!scalar && !per_channel)
    return shape_mismatch(std::string(what) + " scale " + shape_str(scale->shape()) + " must be a scalar" +
                          (channels > 0 ? " or have " + std::to_string(channels) + " values" : std::string()));
  q.scale.assign(scale->data<float>(), scale->data<float>() + scale->numel());
  for (float s : q.scale)
    if (!(s > 0.f) || !std::isfinite(s))
      return invalid_argument(std::string(what) + " scale " + std::to_string(s) + " must be positive and finite");
  if (zero_point) {
    if (zero_point->shape() != scale->shape() && !(zero_point->numel() == 1 && scalar))
      return shape_mismatch(std::string(what) + " zero point " + shape_str(zero_point->shape()) +
                            " does not match its scale " + shape_str(scale->shape()));
    if (!is_q8(zero_point->dtype()) && zero_point->dtype() != DType::kInt32)
      return unsupported(std::string(what) + " zero point has dtype " + dtype_name(zero_point->dtype()) +
                         "; uint8, int8 and int32 are implemented");
    q.dtype = zero_point->dtype();
    for (int64_t i = 0; i < zero_point->numel(); ++i)
      q.zero_point.push_back(zero_point->dtype() == DType::kInt32 ? zero_point->data<int32_t>()[i]
                                                                   : load_q8(zero_point->raw(), zero_point->dtype(), i));
  } else {
    q.zero_point.assign(q.scale.size(), 0);
  }
  return q;
}

void register_quant_ops(std::vector<OpSchema>& t) {
  register_quant_linear_ops(t);
  t.push_back({"", "QuantizeLinear", 10, 21, make_quantize_linear});
  t.push_back({"", "DequantizeLinear", 10, 21, make_dequantize_linear});
  t.push_back({"", "DynamicQuantizeLinear", 11, 21, make_dynamic_quantize_linear});
  t.push_back({"com.microsoft", "QuantizeLinear", 1, 1, make_quantize_linear});
  t.push_back({"com.microsoft", "DequantizeLinear", 1, 1, make_dequantize_linear});
  t.push_back({"com.microsoft", "QLinearAdd", 1, 1, make_qlinear_add});
  t.push_back({"com.microsoft", "QLinearMul", 1, 1, make_qlinear_mul});
  t.push_back({"com.microsoft", "QLinearGlobalAveragePool", 1, 1, make_qlinear_gap});
  t.push_back({"com.microsoft", "QLinearConcat", 1, 1, make_qlinear_concat});
  t.push_back({"com.microsoft", "QLinearSigmoid", 1, 1, make_qlinear_sigmoid});
  t.push_back({"com.microsoft", "QLinearLeakyRelu", 1, 1, make_qlinear_leaky_relu});
}

}  // namespace cvt
