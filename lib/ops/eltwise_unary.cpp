// Unary elementwise ops (math, Not, IsNaN, IsInf): factories and the fast path
// (flat parallel loop over the dense buffer; the functors live in eltwise.h).
#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/activation.h"
#include "ops/eltwise.h"
#include "ops/registry.h"

namespace cvt {
namespace {

constexpr int kMaxOpset = 22;
constexpr int64_t kGrain = int64_t(1) << 14;

Status run_unary(UnaryOp op, const UnaryAttrs& attrs, KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return invalid_model(std::string(unary_op_name(op)) + " needs an input");
  CVT_ASSIGN_OR_RETURN(DType out_dtype, unary_out_dtype(op, attrs, x->dtype()));
  CVT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, out_dtype, x->shape()));
  return ctx.use_reference() ? unary_ref(op, attrs, *x, *out) : unary_fast(op, attrs, *x, *out);
}

Result<std::unique_ptr<Kernel>> make_unary(const NodeDesc& node, UnaryOp op) {
  UnaryAttrs attrs;
  if (op == UnaryOp::kIsInf) {
    attrs.detect_negative = node.attrs.get_int("detect_negative", 1) != 0;
    attrs.detect_positive = node.attrs.get_int("detect_positive", 1) != 0;
  }
  return make_kernel([op, attrs](KernelContext& ctx) { return run_unary(op, attrs, ctx); },
                     std::string(unary_op_name(op)) + "_flat");
}

}  // namespace

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp: return "Exp";
    case UnaryOp::kLog: return "Log";
    case UnaryOp::kSqrt: return "Sqrt";
    case UnaryOp::kNeg: return "Neg";
    case UnaryOp::kAbs: return "Abs";
    case UnaryOp::kReciprocal: return "Reciprocal";
    case UnaryOp::kFloor: return "Floor";
    case UnaryOp::kCeil: return "Ceil";
    case UnaryOp::kRound: return "Round";
    case UnaryOp::kSign: return "Sign";
    case UnaryOp::kErf: return "Erf";
    case UnaryOp::kSin: return "Sin";
    case UnaryOp::kCos: return "Cos";
    case UnaryOp::kTan: return "Tan";
    case UnaryOp::kAsin: return "Asin";
    case UnaryOp::kAcos: return "Acos";
    case UnaryOp::kAtan: return "Atan";
    case UnaryOp::kSinh: return "Sinh";
    case UnaryOp::kCosh: return "Cosh";
    case UnaryOp::kAsinh: return "Asinh";
    case UnaryOp::kAcosh: return "Acosh";
    case UnaryOp::kAtanh: return "Atanh";
    case UnaryOp::kIsNaN: return "IsNaN";
    case UnaryOp::kIsInf: return "IsInf";
    case UnaryOp::kNot: return "Not";
  }
  return "?";
}

Result<DType> unary_out_dtype(UnaryOp op, const UnaryAttrs& attrs, DType t) {
  DType out = t;
  CVT_RETURN_IF_ERROR(visit_unary(op, attrs, t, [&](auto, auto, auto to) {
    out = dtype_of<typename decltype(to)::type>();
    return Status::ok();
  }));
  return out;
}

Status unary_fast(UnaryOp op, const UnaryAttrs& attrs, const Tensor& x, Tensor& out) {
  CVT_ASSERT(x.numel() == out.numel());
  if (op == UnaryOp::kExp && x.dtype() == DType::kFloat32) {
    if (const FloatMapKernel exp = float_map_kernel(FloatMap::kExp, active_isa())) {
      const float* in = x.data<float>();
      float* o = out.data<float>();
      parallel_for(0, x.numel(), kGrain, [&](int64_t lo, int64_t hi) { exp.fn(in + lo, o + lo, hi - lo); });
      return Status::ok();
    }
  }
  return visit_unary(op, attrs, x.dtype(), [&](auto fn, auto ti, auto to) {
    using TI = typename decltype(ti)::type;
    using TO = typename decltype(to)::type;
    const TI* in = x.data<TI>();
    TO* o = out.data<TO>();
    parallel_for(0, x.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) o[i] = fn(in[i]);
    });
    return Status::ok();
  });
}

void register_eltwise_unary_ops(std::vector<OpSchema>& t) {
#define CVT_UNARY(NAME, OP, MIN) \
  t.push_back({"", NAME, MIN, kMaxOpset, [](const NodeDesc& n) { return make_unary(n, UnaryOp::OP); }})
  CVT_UNARY("Exp", kExp, 1);
  CVT_UNARY("Log", kLog, 1);
  CVT_UNARY("Sqrt", kSqrt, 1);
  CVT_UNARY("Neg", kNeg, 1);
  CVT_UNARY("Abs", kAbs, 1);
  CVT_UNARY("Reciprocal", kReciprocal, 1);
  CVT_UNARY("Floor", kFloor, 1);
  CVT_UNARY("Ceil", kCeil, 1);
  CVT_UNARY("Round", kRound, 11);
  CVT_UNARY("Sign", kSign, 9);
  CVT_UNARY("Erf", kErf, 9);
  CVT_UNARY("Sin", kSin, 7);
  CVT_UNARY("Cos", kCos, 7);
  CVT_UNARY("Tan", kTan, 7);
  CVT_UNARY("Asin", kAsin, 7);
  CVT_UNARY("Acos", kAcos, 7);
  CVT_UNARY("Atan", kAtan, 7);
  CVT_UNARY("Sinh", kSinh, 9);
  CVT_UNARY("Cosh", kCosh, 9);
  CVT_UNARY("Asinh", kAsinh, 9);
  CVT_UNARY("Acosh", kAcosh, 9);
  CVT_UNARY("Atanh", kAtanh, 9);
  CVT_UNARY("IsNaN", kIsNaN, 9);
  CVT_UNARY("IsInf", kIsInf, 10);
  CVT_UNARY("Not", kNot, 1);
#undef CVT_UNARY
}

}  // namespace cvt
