// Binary, variadic and Where elementwise ops: factories, validation, and the
// fast path (merged-dim broadcast plan, contiguous inner loops, parallel_for).
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/broadcast.h"
#include "ops/eltwise.h"
#include "ops/registry.h"

namespace cvt {
namespace {

constexpr int kMaxOpset = 22;
constexpr int64_t kGrain = int64_t(1) << 15;  // elements per parallel work item

template <class Body>
void for_each_row_block(const BroadcastPlan& plan, Body&& body) {
  for_each_broadcast_block(plan, kGrain, std::forward<Body>(body));
}

template <class Fn, class TA, class TB, class TO>
void binary_loop(Fn fn, const TA* a, const TB* b, TO* out, const BroadcastPlan& plan) {
  const bool walk_a = plan.inner_stride(0) != 0, walk_b = plan.inner_stride(1) != 0;
  for_each_row_block(plan, [&](const BroadcastPlan::Cursor& c, int64_t out_off, int64_t begin, int64_t n) {
    const TA* pa = a + c.offset(0) + (walk_a ? begin : 0);
    const TB* pb = b + c.offset(1) + (walk_b ? begin : 0);
    TO* po = out + out_off;
    if (walk_a && walk_b) {
      for (int64_t i = 0; i < n; ++i) po[i] = fn(pa[i], pb[i]);
    } else if (walk_a) {
      const TB bv = *pb;
      if constexpr (std::is_same_v<Fn, elt::Pow> && std::is_floating_point_v<TA> && std::is_floating_point_v<TB>) {
        if (bv == TB(2)) {  // x^2 is common (norm decompositions) and exact as x*x
          for (int64_t i = 0; i < n; ++i) po[i] = pa[i] * pa[i];
          return;
        }
      }
      for (int64_t i = 0; i < n; ++i) po[i] = fn(pa[i], bv);
    } else if (walk_b) {
      const TA av = *pa;
      for (int64_t i = 0; i < n; ++i) po[i] = fn(av, pb[i]);
    } else {
      std::fill(po, po + n, static_cast<TO>(fn(*pa, *pb)));
    }
  });
}

// Pre-opset-7 "broadcast"/"axis": B's shape is a contiguous run of A's dims starting
// at `axis` (default: aligned to the end). Returns B's shape padded to A's rank.
Result<Shape> legacy_operand_shape(const Shape& a, const Shape& b, bool broadcast, bool has_axis, int64_t axis) {
  if (!broadcast) {
    if (a != b)
      return shape_mismatch("shapes " + shape_str(a) + " and " + shape_str(b) +
                            " differ and broadcast=0 (opset < 7 has no implicit broadcasting)");
    return b;
  }
  const int64_t rank = static_cast<int64_t>(a.size()), b_rank = static_cast<int64_t>(b.size());
  int64_t start = has_axis ? (axis < 0 ? axis + rank : axis) : rank - b_rank;
  if (b_rank == 1 && b[0] == 1) start = rank - 1;  // a one-element B is a scalar whatever the axis
  if (b_rank > rank || start < 0 || start + b_rank > rank)
    return shape_mismatch("legacy broadcast of " + shape_str(b) + " onto " + shape_str(a) + " at axis " +
                          std::to_string(start) + " is out of range");
  Shape r(a.size(), 1);
  std::copy(b.begin(), b.end(), r.begin() + start);
  if (!broadcasts_to(r, a))
    return shape_mismatch("legacy broadcast: " + shape_str(b) + " does not match " + shape_str(a) + " at axis " +
                          std::to_string(start));
  return r;
}

struct BinaryNode {
  BinaryOp op;
  BinaryAttrs attrs;
  bool legacy = false;  // opset < 7 broadcast/axis rules
  bool legacy_broadcast = false;
  bool has_axis = false;
  int64_t axis = 0;
};

Status run_binary(const BinaryNode& p, KernelContext& ctx) {
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  if (!a || !b) return invalid_model(std::string(binary_op_name(p.op)) + " needs two inputs");
  Shape a_shape = a->shape(), b_shape = b->shape(), out_shape;
  if (p.legacy) {
    CVT_ASSIGN_OR_RETURN(b_shape, legacy_operand_shape(a_shape, b_shape, p.legacy_broadcast, p.has_axis, p.axis));
    out_shape = a_shape;
  } else {
    CVT_ASSIGN_OR_RETURN(out_shape, broadcast_shapes({a_shape, b_shape}));
  }
  CVT_ASSIGN_OR_RETURN(DType out_dtype, binary_out_dtype(p.op, p.attrs, a->dtype(), b->dtype()));
  CVT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, out_dtype, out_shape));
  return ctx.use_reference() ? binary_ref(p.op, p.attrs, *a, a_shape, *b, b_shape, *out)
                             : binary_fast(p.op, p.attrs, *a, a_shape, *b, b_shape, *out);
}

bool has_legacy_broadcast(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: case BinaryOp::kSub: case BinaryOp::kMul: case BinaryOp::kDiv: case BinaryOp::kPow:
    case BinaryOp::kAnd: case BinaryOp::kOr: case BinaryOp::kXor:
    case BinaryOp::kEqual: case BinaryOp::kGreater: case BinaryOp::kLess:
      return true;
    default:
      return false;
  }
}

Result<std::unique_ptr<Kernel>> make_binary(const NodeDesc& node, BinaryOp op) {
  BinaryNode p{op, {}};
  if (op == BinaryOp::kMod) {
    const int64_t fmod = node.attrs.get_int("fmod", 0);
    if (fmod != 0 && fmod != 1) return invalid_model("fmod must be 0 or 1, got " + std::to_string(fmod));
    p.attrs.fmod = fmod == 1;
  }
  if (op == BinaryOp::kBitShift) {
    const std::string dir = node.attrs.get_string("direction", "");
    if (dir != "LEFT" && dir != "RIGHT")
      return invalid_model("direction must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
    p.attrs.shift_left = dir == "LEFT";
  }
  if (node.opset < 7 && has_legacy_broadcast(op)) {
    p.legacy = true;
    p.legacy_broadcast = node.attrs.get_int("broadcast", 0) != 0;
    p.has_axis = node.attrs.has("axis");
    p.axis = node.attrs.get_int("axis", 0);
  }
  std::string impl = std::string(binary_op_name(op)) + "_broadcast";
  return make_kernel([p](KernelContext& ctx) { return run_binary(p, ctx); }, impl);
}

// Sum / Mean / Max / Min over 1..n inputs: folded pairwise into the output, which
// already has the final broadcast shape, so every step after the first is in place.
Status run_variadic(BinaryOp op, bool mean, bool numpy_broadcast, KernelContext& ctx) {
  const char* name = mean ? "Mean" : (op == BinaryOp::kAdd ? "Sum" : binary_op_name(op));
  const int n = ctx.num_inputs();
  if (n < 1) return invalid_model(std::string(name) + " needs at least one input");
  std::vector<const Tensor*> in;
  std::vector<Shape> shapes;
  for (int i = 0; i < n; ++i) {
    const Tensor* t = ctx.input(i);
    if (!t) return invalid_model(std::string(name) + ": input " + std::to_string(i) + " is missing");
    if (t->dtype() != ctx.input(0)->dtype())
      return invalid_model(std::string(name) + ": inputs have different dtypes (" + dtype_name(t->dtype()) +
                           " vs " + dtype_name(ctx.input(0)->dtype()) + ")");
    if (!numpy_broadcast && t->shape() != ctx.input(0)->shape())
      return shape_mismatch(std::string(name) + ": opset < 8 needs equal shapes, got " + shape_str(t->shape()) +
                            " and " + shape_str(ctx.input(0)->shape()));
    in.push_back(t);
    shapes.push_back(t->shape());
  }
  const DType dt = in[0]->dtype();
  if (mean && dt != DType::kFloat32 && dt != DType::kFloat64) return dtype_unsupported(name, dt);
  CVT_ASSIGN_OR_RETURN(Shape out_shape, broadcast_shapes(shapes));
  CVT_ASSIGN_OR_RETURN(DType out_dtype, binary_out_dtype(op, {}, dt, dt));
  CVT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, out_dtype, out_shape));
  auto step = [&](const Tensor& a, const Shape& a_shape, const Tensor& b) {
    return ctx.use_reference() ? binary_ref(op, {}, a, a_shape, b, b.shape(), *out)
                               : binary_fast(op, {}, a, a_shape, b, b.shape(), *out);
  };
  if (n == 1) {
    if (out->nbytes()) std::memcpy(out->raw(), in[0]->raw(), out->nbytes());
  } else {
    CVT_RETURN_IF_ERROR(step(*in[0], in[0]->shape(), *in[1]));
    for (int i = 2; i < n; ++i) CVT_RETURN_IF_ERROR(step(*out, out_shape, *in[i]));
  }
  if (mean) {
    visit_dtype(dt, FloatTypes{}, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* d = out->data<T>();
      const T count = static_cast<T>(n);
      parallel_for(0, out->numel(), kGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) d[i] /= count;
      });
    });
  }
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_variadic(const NodeDesc& node, BinaryOp op, bool mean) {
  const bool numpy_broadcast = node.opset >= 8;
  return make_kernel([=](KernelContext& ctx) { return run_variadic(op, mean, numpy_broadcast, ctx); },
                     std::string(mean ? "Mean" : (op == BinaryOp::kAdd ? "Sum" : binary_op_name(op))) + "_variadic");
}

Status run_where(KernelContext& ctx) {
  const Tensor* cond = ctx.input(0);
  const Tensor* x = ctx.input(1);
  const Tensor* y = ctx.input(2);
  if (!cond || !x || !y) return invalid_model("Where needs three inputs");
  if (cond->dtype() != DType::kBool) return invalid_model(std::string("Where: condition must be bool, got ") + dtype_name(cond->dtype()));
  if (x->dtype() != y->dtype())
    return invalid_model(std::string("Where: X and Y dtypes differ (") + dtype_name(x->dtype()) + " vs " +
                         dtype_name(y->dtype()) + ")");
  if (x->dtype() == DType::kFloat16) return dtype_unsupported("Where", x->dtype());
  CVT_ASSIGN_OR_RETURN(Shape out_shape, broadcast_shapes({cond->shape(), x->shape(), y->shape()}));
  CVT_ASSIGN_OR_RETURN(Tensor * out, ctx.output(0, x->dtype(), out_shape));
  if (ctx.use_reference()) where_ref(*cond, *x, *y, *out);
  else where_fast(*cond, *x, *y, *out);
  return Status::ok();
}

template <class T>
void where_loop(const bool* c, const T* x, const T* y, T* out, const BroadcastPlan& plan) {
  const bool walk_c = plan.inner_stride(0) != 0, walk_x = plan.inner_stride(1) != 0,
             walk_y = plan.inner_stride(2) != 0;
  for_each_row_block(plan, [&](const BroadcastPlan::Cursor& cur, int64_t out_off, int64_t begin, int64_t n) {
    const bool* pc = c + cur.offset(0) + (walk_c ? begin : 0);
    const T* px = x + cur.offset(1) + (walk_x ? begin : 0);
    const T* py = y + cur.offset(2) + (walk_y ? begin : 0);
    T* po = out + out_off;
    const int64_t sc = walk_c, sx = walk_x, sy = walk_y;
    for (int64_t i = 0; i < n; ++i) po[i] = pc[i * sc] ? px[i * sx] : py[i * sy];
  });
}

}  // namespace

void where_fast(const Tensor& cond, const Tensor& x, const Tensor& y, Tensor& out) {
  BroadcastPlan plan(out.shape(), {cond.shape(), x.shape(), y.shape()});
  // Where only moves values, so dispatch on the element size.
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    where_loop(cond.data<bool>(), static_cast<const T*>(x.raw()), static_cast<const T*>(y.raw()),
               static_cast<T*>(out.raw()), plan);
  };
  switch (dtype_size(x.dtype())) {
    case 1: run(TypeTag<uint8_t>{}); break;
    case 2: run(TypeTag<uint16_t>{}); break;
    case 4: run(TypeTag<uint32_t>{}); break;
    default: run(TypeTag<uint64_t>{}); break;
  }
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "Add";
    case BinaryOp::kSub: return "Sub";
    case BinaryOp::kMul: return "Mul";
    case BinaryOp::kDiv: return "Div";
    case BinaryOp::kPow: return "Pow";
    case BinaryOp::kMax: return "Max";
    case BinaryOp::kMin: return "Min";
    case BinaryOp::kMod: return "Mod";
    case BinaryOp::kBitShift: return "BitShift";
    case BinaryOp::kEqual: return "Equal";
    case BinaryOp::kGreater: return "Greater";
    case BinaryOp::kGreaterOrEqual: return "GreaterOrEqual";
    case BinaryOp::kLess: return "Less";
    case BinaryOp::kLessOrEqual: return "LessOrEqual";
    case BinaryOp::kAnd: return "And";
    case BinaryOp::kOr: return "Or";
    case BinaryOp::kXor: return "Xor";
  }
  return "?";
}

Result<DType> binary_out_dtype(BinaryOp op, const BinaryAttrs& attrs, DType ta, DType tb) {
  DType out = DType::kFloat32;
  CVT_RETURN_IF_ERROR(visit_binary(op, attrs, ta, tb, [&](auto, auto, auto, auto to) {
    out = dtype_of<typename decltype(to)::type>();
    return Status::ok();
  }));
  return out;
}

Status binary_fast(BinaryOp op, const BinaryAttrs& attrs, const Tensor& a, const Shape& a_shape, const Tensor& b,
                   const Shape& b_shape, Tensor& out) {
  if (!broadcasts_to(a_shape, out.shape()) || !broadcasts_to(b_shape, out.shape()))
    return shape_mismatch(std::string(binary_op_name(op)) + ": operands do not broadcast to " + shape_str(out.shape()));
  BroadcastPlan plan(out.shape(), {a_shape, b_shape});
  return visit_binary(op, attrs, a.dtype(), b.dtype(), [&](auto fn, auto ta, auto tb, auto to) {
    using TA = typename decltype(ta)::type;
    using TB = typename decltype(tb)::type;
    using TO = typename decltype(to)::type;
    CVT_ASSERT(out.dtype() == dtype_of<TO>());
    binary_loop(fn, a.data<TA>(), b.data<TB>(), out.data<TO>(), plan);
    return Status::ok();
  });
}

void register_eltwise_ops(std::vector<OpSchema>& t) {
#define CVT_BINARY(NAME, OP, MIN)                                                                     \
  t.push_back({"", NAME, MIN, kMaxOpset, [](const NodeDesc& n) { return make_binary(n, BinaryOp::OP); }})
  CVT_BINARY("Add", kAdd, 1);
  CVT_BINARY("Sub", kSub, 1);
  CVT_BINARY("Mul", kMul, 1);
  CVT_BINARY("Div", kDiv, 1);
  CVT_BINARY("Pow", kPow, 1);
  CVT_BINARY("Mod", kMod, 10);
  CVT_BINARY("BitShift", kBitShift, 11);
  CVT_BINARY("Equal", kEqual, 1);
  CVT_BINARY("Greater", kGreater, 1);
  CVT_BINARY("GreaterOrEqual", kGreaterOrEqual, 12);
  CVT_BINARY("Less", kLess, 1);
  CVT_BINARY("LessOrEqual", kLessOrEqual, 12);
  CVT_BINARY("And", kAnd, 1);
  CVT_BINARY("Or", kOr, 1);
  CVT_BINARY("Xor", kXor, 1);
#undef CVT_BINARY
  t.push_back({"", "Sum", 1, kMaxOpset, [](const NodeDesc& n) { return make_variadic(n, BinaryOp::kAdd, false); }});
  t.push_back({"", "Mean", 1, kMaxOpset, [](const NodeDesc& n) { return make_variadic(n, BinaryOp::kAdd, true); }});
  t.push_back({"", "Max", 1, kMaxOpset, [](const NodeDesc& n) { return make_variadic(n, BinaryOp::kMax, false); }});
  t.push_back({"", "Min", 1, kMaxOpset, [](const NodeDesc& n) { return make_variadic(n, BinaryOp::kMin, false); }});
  t.push_back({"", "Where", 9, kMaxOpset, [](const NodeDesc&) -> Result<std::unique_ptr<Kernel>> {
                 return make_kernel([](KernelContext& ctx) { return run_where(ctx); }, "Where_broadcast");
               }});
  register_eltwise_unary_ops(t);
}

}  // namespace cvt
