// Activation ops: factories with per-opset attribute defaults, validation, and the
// fast path (one tight loop per function, parallel_for, AVX2 for exp-based float ones).
#include "ops/activation.h"

#include <limits>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/broadcast.h"
#include "ops/eltwise.h"
#include "ops/registry.h"

namespace cvt {
namespace {

constexpr int kMaxOpset = 22;
constexpr int64_t kGrain = int64_t(1) << 14;

FloatMapKernel simd_kernel(ActKind kind) {
  switch (kind) {
    case ActKind::kSigmoid: return float_map_kernel(FloatMap::kSigmoid, active_isa());
    case ActKind::kTanh: return float_map_kernel(FloatMap::kTanh, active_isa());
    case ActKind::kMish: return float_map_kernel(FloatMap::kMish, active_isa());
    default: return {};
  }
}

// The kind is a template argument (no switch per element) and the parameters are a
// local copy, so stores to y cannot alias them and simple kinds vectorise.
template <ActKind K, class T>
void activation_loop(const ActParams& p, const T* x, T* y, int64_t n) {
  const ActParams local = p;
  for (int64_t i = 0; i < n; ++i) y[i] = activation_of<K>(local, x[i]);
}

const char* act_name(ActKind k) {
  switch (k) {
    case ActKind::kRelu: return "Relu";
    case ActKind::kLeakyRelu: return "LeakyRelu";
    case ActKind::kSigmoid: return "Sigmoid";
    case ActKind::kTanh: return "Tanh";
    case ActKind::kHardSigmoid: return "HardSigmoid";
    case ActKind::kHardSwish: return "HardSwish";
    case ActKind::kElu: return "Elu";
    case ActKind::kSelu: return "Selu";
    case ActKind::kCelu: return "Celu";
    case ActKind::kSoftplus: return "Softplus";
    case ActKind::kSoftsign: return "Softsign";
    case ActKind::kMish: return "Mish";
    case ActKind::kGelu: return "Gelu";
    case ActKind::kGeluTanh: return "Gelu_tanh";
    case ActKind::kThresholdedRelu: return "ThresholdedRelu";
    case ActKind::kShrink: return "Shrink";
  }
  return "?";
}

Status run_activation(const ActParams& p, KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return invalid_model(std::string(act_name(p.kind)) + " needs an input");
  const bool ok = x->dtype() == DType::kFloat32 || x->dtype() == DType::kFloat64 ||
                  (activation_allows_integers(p.kind) &&
                   visit_dtype(x->dtype(), TypeList<int8_t, int16_t, int32_t, int64_t>{}, [](auto) {}));
  if (!ok) return dtype_unsupported(act_name(p.kind), x->dtype());
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), x->shape()));
  if (ctx.use_reference()) activation_ref(p, *x, *y);
  else activation_fast(p, *x, *y);
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_activation(const NodeDesc& node, ActKind kind) {
  ActParams p;
  p.kind = kind;
  const Attributes& a = node.attrs;
  switch (kind) {
    case ActKind::kLeakyRelu: p.alpha = a.get_float("alpha", 0.01f); break;
    case ActKind::kElu: p.alpha = a.get_float("alpha", 1.0f); break;
    case ActKind::kSelu:
      p.alpha = a.get_float("alpha", 1.67326319217681884765625f);
      p.gamma = a.get_float("gamma", 1.05070102214813232421875f);
      break;
    case ActKind::kCelu:
      p.alpha = a.get_float("alpha", 1.0f);
      if (p.alpha == 0) return invalid_model("Celu alpha must be non-zero");
      break;
    case ActKind::kHardSigmoid:
      p.alpha = a.get_float("alpha", 0.2f);
      p.beta = a.get_float("beta", 0.5f);
      break;
    case ActKind::kThresholdedRelu: p.alpha = a.get_float("alpha", 1.0f); break;
    case ActKind::kShrink:
      p.beta = a.get_float("bias", 0.0f);
      p.gamma = a.get_float("lambd", 0.5f);
      break;
    case ActKind::kGelu: {
      const std::string approx = a.get_string("approximate", "none");
      if (approx == "tanh") p.kind = ActKind::kGeluTanh;
      else if (approx != "none") return invalid_model("Gelu approximate must be \"none\" or \"tanh\", got \"" + approx + "\"");
      break;
    }
    default: break;
  }
  const FloatMapKernel simd = simd_kernel(p.kind);
  std::string impl = std::string(act_name(p.kind)) + (simd ? std::string("_f32__") + simd.name : "_flat");
  return make_kernel([p](KernelContext& ctx) { return run_activation(p, ctx); }, impl);
}

// ---- PRelu -------------------------------------------------------------------------
// Opset < 7 defines a 1-D slope as per-channel (axis 1); later opsets use numpy
// unidirectional broadcasting only.
Result<Shape> prelu_slope_shape(const Shape& x, const Shape& slope, int opset) {
  if (opset < 7 && slope.size() == 1 && x.size() >= 2 && slope[0] == x[1] && slope[0] != 1) {
    Shape s(x.size(), 1);
    s[1] = slope[0];
    return s;
  }
  if (!broadcasts_to(slope, x))
    return shape_mismatch("PRelu slope " + shape_str(slope) + " does not broadcast to input " + shape_str(x));
  return slope;
}

Status run_prelu(int opset, KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* slope = ctx.input(1);
  if (!x || !slope) return invalid_model("PRelu needs X and slope");
  if (x->dtype() != slope->dtype())
    return invalid_model(std::string("PRelu: X and slope dtypes differ (") + dtype_name(x->dtype()) + " vs " +
                         dtype_name(slope->dtype()) + ")");
  if (!visit_dtype(x->dtype(), NumericTypes{}, [](auto) {})) return dtype_unsupported("PRelu", x->dtype());
  CVT_ASSIGN_OR_RETURN(Shape slope_shape, prelu_slope_shape(x->shape(), slope->shape(), opset));
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), x->shape()));
  if (ctx.use_reference()) prelu_ref(*x, *slope, slope_shape, *y);
  else prelu_fast(*x, *slope, slope_shape, *y);
  return Status::ok();
}

// ---- Clip --------------------------------------------------------------------------
// Bounds come from attributes before opset 11 and from optional scalar inputs after.
Status run_clip(int opset, float attr_min, float attr_max, KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return invalid_model("Clip needs an input");
  const DType dt = x->dtype();
  if (!visit_dtype(dt, NumericTypes{}, [](auto) {})) return dtype_unsupported("Clip", dt);
  if (opset < 12 && dt != DType::kFloat32 && dt != DType::kFloat64) return dtype_unsupported("Clip (opset < 12)", dt);
  Tensor lo, hi;
  Status st;
  visit_dtype(dt, NumericTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr bool kFloat = std::is_floating_point_v<T>;
    T lo_v = kFloat ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    T hi_v = kFloat ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
    if (opset < 11) {
      lo_v = static_cast<T>(attr_min);
      hi_v = static_cast<T>(attr_max);
    } else {
      for (int i : {1, 2}) {
        const Tensor* b = ctx.input(i);
        if (!b) continue;
        if (b->dtype() != dt || b->numel() != 1) {
          st = invalid_model(std::string("Clip ") + (i == 1 ? "min" : "max") + " must be a one-element " +
                             dtype_name(dt) + " tensor, got " + dtype_name(b->dtype()) + " " + shape_str(b->shape()));
          return;
        }
        (i == 1 ? lo_v : hi_v) = b->data<T>()[0];
      }
    }
    lo = Tensor::scalar<T>(lo_v);
    hi = Tensor::scalar<T>(hi_v);
  });
  CVT_RETURN_IF_ERROR(st);
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, dt, x->shape()));
  if (ctx.use_reference()) clip_ref(*x, lo, hi, *y);
  else clip_fast(*x, lo, hi, *y);
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_clip(const NodeDesc& node) {
  // Opset 6-10 document +-FLT_MAX defaults; opset 1-5 leave an absent bound unclipped.
  const float inf = std::numeric_limits<float>::infinity();
  const float big = node.opset >= 6 ? std::numeric_limits<float>::max() : inf;
  const float lo = node.attrs.get_float("min", -big), hi = node.attrs.get_float("max", big);
  const int opset = node.opset;
  return make_kernel([=](KernelContext& ctx) { return run_clip(opset, lo, hi, ctx); }, "Clip_flat");
}

}  // namespace

FloatMapKernel float_map_kernel(FloatMap f, Isa isa) {
  using Fn = void (*)(const float*, float*, int64_t) noexcept;
  struct Pair {
    Fn avx2, avx512;
  };
  static constexpr Pair kTable[] = {
      {exp_f32__avx2, exp_f32__avx512},   {sigmoid_f32__avx2, sigmoid_f32__avx512},
      {silu_f32__avx2, silu_f32__avx512}, {tanh_f32__avx2, tanh_f32__avx512},
      {mish_f32__avx2, mish_f32__avx512},
  };
  const Pair& k = kTable[static_cast<int>(f)];
  if (isa >= Isa::kAvx512) return {k.avx512, "avx512"};
  if (isa >= Isa::kAvx2) return {k.avx2, "avx2"};
  return {};
}

void activation_fast(const ActParams& p, const Tensor& x, Tensor& y) {
  if (x.dtype() == DType::kFloat32) {
    if (const FloatMapKernel k = simd_kernel(p.kind)) {
      const float* xp = x.data<float>();
      float* yp = y.data<float>();
      parallel_for(0, x.numel(), kGrain, [&](int64_t lo, int64_t hi) { k.fn(xp + lo, yp + lo, hi - lo); });
      return;
    }
  }
  visit_dtype(x.dtype(), SignedTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    parallel_for(0, x.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      if constexpr (std::is_integral_v<T>) {
        for (int64_t i = lo; i < hi; ++i) yp[i] = xp[i] < T(0) ? T(0) : xp[i];
      } else {
        visit_act_kind(p.kind, [&](auto k) { activation_loop<decltype(k)::value>(p, xp + lo, yp + lo, hi - lo); });
      }
    });
  });
}

void prelu_fast(const Tensor& x, const Tensor& slope, const Shape& slope_shape, Tensor& y) {
  BroadcastPlan plan(x.shape(), {x.shape(), slope_shape});
  const bool walk_slope = plan.inner_stride(1) != 0;
  visit_dtype(x.dtype(), NumericTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* sp = slope.data<T>();
    T* yp = y.data<T>();
    for_each_broadcast_block(plan, kGrain, [&](const BroadcastPlan::Cursor& c, int64_t off, int64_t begin, int64_t n) {
      const T* xi = xp + off;
      const T* si = sp + c.offset(1) + (walk_slope ? begin : 0);
      T* yi = yp + off;
      if constexpr (std::is_unsigned_v<T>) {
        std::copy(xi, xi + n, yi);
      } else if (walk_slope) {
        for (int64_t i = 0; i < n; ++i) yi[i] = leaky_value(xi[i], si[i]);
      } else {
        const T s = *si;
        for (int64_t i = 0; i < n; ++i) yi[i] = leaky_value(xi[i], s);
      }
    });
  });
}

void clip_fast(const Tensor& x, const Tensor& lo, const Tensor& hi, Tensor& y) {
  visit_dtype(x.dtype(), NumericTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T l = lo.data<T>()[0], h = hi.data<T>()[0];
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    parallel_for(0, x.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) yp[i] = clip_value(xp[i], l, h);
    });
  });
}

void register_activation_ops(std::vector<OpSchema>& t) {
#define CVT_ACT(NAME, KIND, MIN) \
  t.push_back({"", NAME, MIN, kMaxOpset, [](const NodeDesc& n) { return make_activation(n, ActKind::KIND); }})
  CVT_ACT("Relu", kRelu, 1);
  CVT_ACT("LeakyRelu", kLeakyRelu, 1);
  CVT_ACT("Sigmoid", kSigmoid, 1);
  CVT_ACT("Tanh", kTanh, 1);
  CVT_ACT("HardSigmoid", kHardSigmoid, 1);
  CVT_ACT("HardSwish", kHardSwish, 14);
  CVT_ACT("Elu", kElu, 1);
  CVT_ACT("Selu", kSelu, 1);
  CVT_ACT("Celu", kCelu, 12);
  CVT_ACT("Softplus", kSoftplus, 1);
  CVT_ACT("Softsign", kSoftsign, 1);
  CVT_ACT("Mish", kMish, 18);
  CVT_ACT("Gelu", kGelu, 20);
  CVT_ACT("ThresholdedRelu", kThresholdedRelu, 10);
  CVT_ACT("Shrink", kShrink, 9);
#undef CVT_ACT
  t.push_back({"", "PRelu", 1, kMaxOpset, [](const NodeDesc& n) -> Result<std::unique_ptr<Kernel>> {
                 const int opset = n.opset;
                 return make_kernel([opset](KernelContext& ctx) { return run_prelu(opset, ctx); }, "PRelu_broadcast");
               }});
  t.push_back({"", "Clip", 1, kMaxOpset, make_clip});
}

}  // namespace cvt
