// Reduce* and ArgMax/ArgMin: factories (axes as attribute or, from opset 13 / 18,
// as input; keepdims; noop_with_empty_axes) and the fast path. After merging
// dims, most reductions are (outer, count, inner): rows when inner == 1, else a
// vector of accumulators across inner. Other patterns walk precomputed offsets.
#include "ops/reduce.h"

#include <algorithm>

#include "core/parallel.h"
#include "ops/eltwise.h"
#include "ops/registry.h"

namespace cvt {
namespace {

constexpr int kMaxOpset = 22;
constexpr int64_t kGrainElems = 16384;
constexpr int64_t kInnerBlock = 512;  // accumulators kept per work item when inner > 1

using ReduceTypes = TypeList<float, double, int8_t, uint8_t, int32_t, uint32_t, int64_t, uint64_t>;

int64_t grain_for(int64_t unit) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, unit)); }

// (outer, count, inner) with inner == 1: one contiguous row per output.
template <ReduceOp Op, class T>
void reduce_rows(const ReduceLayout& l, const T* x, T* y) {
  using R = Reduction<T>;
  parallel_for(0, l.outer, grain_for(l.count), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      const T* row = x + o * l.count;
      double shift = 0;
      if constexpr (Op == ReduceOp::kLogSumExp) {
        auto m = R::init(ReduceOp::kMax);
        for (int64_t r = 0; r < l.count; ++r) m = R::step(ReduceOp::kMax, m, row[r], 0);
        shift = static_cast<double>(m);
      }
      auto acc = R::init(Op);
      for (int64_t r = 0; r < l.count; ++r) acc = R::step(Op, acc, row[r], shift);
      y[o] = R::finish(Op, acc, l.count, shift);
    }
  });
}

// (outer, count, inner) with inner > 1: accumulate rows of `inner` elementwise.
template <ReduceOp Op, class T>
void reduce_columns(const ReduceLayout& l, const T* x, T* y) {
  using R = Reduction<T>;
  using Acc = typename R::Acc;
  const int64_t blocks = (l.inner + kInnerBlock - 1) / kInnerBlock;
  parallel_for(0, l.outer * blocks, grain_for(l.count * std::min(l.inner, kInnerBlock)), [&](int64_t lo, int64_t hi) {
    Acc acc[kInnerBlock];
    double shift[kInnerBlock];
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t o = item / blocks, i0 = (item % blocks) * kInnerBlock;
      const int64_t n = std::min(kInnerBlock, l.inner - i0);
      const T* base = x + o * l.count * l.inner + i0;
      std::fill(shift, shift + n, 0.0);
      if constexpr (Op == ReduceOp::kLogSumExp) {
        std::fill(acc, acc + n, R::init(ReduceOp::kMax));
        for (int64_t r = 0; r < l.count; ++r)
          for (int64_t i = 0; i < n; ++i) acc[i] = R::step(ReduceOp::kMax, acc[i], base[r * l.inner + i], 0);
        for (int64_t i = 0; i < n; ++i) shift[i] = static_cast<double>(acc[i]);
      }
      std::fill(acc, acc + n, R::init(Op));
      for (int64_t r = 0; r < l.count; ++r) {
        const T* row = base + r * l.inner;
        for (int64_t i = 0; i < n; ++i) acc[i] = R::step(Op, acc[i], row[i], shift[i]);
      }
      T* out = y + o * l.inner + i0;
      for (int64_t i = 0; i < n; ++i) out[i] = R::finish(Op, acc[i], l.count, shift[i]);
    }
  });
}

// Several reduced blocks: offsets of every reduced element (row-major, the reference
// order) and of every output's first element, then one walk per output.
template <ReduceOp Op, class T>
void reduce_general(const ReduceLayout& l, const T* x, T* y) {
  using R = Reduction<T>;
  const int rank = static_cast<int>(l.dims.size());
  std::vector<int64_t> stride(rank, 1);
  for (int d = rank - 2; d >= 0; --d) stride[d] = stride[d + 1] * l.dims[d + 1];
  auto offsets_over = [&](bool reduced) {
    std::vector<int64_t> offs{0};
    for (int d = 0; d < rank; ++d) {
      if (l.reduced[d] != reduced) continue;
      std::vector<int64_t> next;
      next.reserve(offs.size() * l.dims[d]);
      for (int64_t base : offs)
        for (int64_t k = 0; k < l.dims[d]; ++k) next.push_back(base + k * stride[d]);
      offs.swap(next);
    }
    return offs;
  };
  const std::vector<int64_t> reduce_offs = offsets_over(true), out_offs = offsets_over(false);
  parallel_for(0, l.out_count, grain_for(l.reduce_count), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      const T* base = x + out_offs[o];
      double shift = 0;
      if constexpr (Op == ReduceOp::kLogSumExp) {
        auto m = R::init(ReduceOp::kMax);
        for (int64_t off : reduce_offs) m = R::step(ReduceOp::kMax, m, base[off], 0);
        shift = static_cast<double>(m);
      }
      auto acc = R::init(Op);
      for (int64_t off : reduce_offs) acc = R::step(Op, acc, base[off], shift);
      y[o] = R::finish(Op, acc, l.reduce_count, shift);
    }
  });
}

template <ReduceOp Op, class T>
void reduce_typed(const ReduceLayout& l, const Tensor& x, Tensor& y) {
  using R = Reduction<T>;
  T* yp = y.data<T>();
  if (l.out_count == 0) return;
  if (l.reduce_count == 0) {  // empty set: the op's identity (Sum 0, Max -inf, Mean NaN, ...)
    const double shift = Op == ReduceOp::kLogSumExp ? -std::numeric_limits<double>::infinity() : 0.0;
    std::fill(yp, yp + l.out_count, R::finish(Op, R::init(Op), 0, shift));
    return;
  }
  if (!l.single_block) reduce_general<Op>(l, x.data<T>(), yp);
  else if (l.inner == 1) reduce_rows<Op>(l, x.data<T>(), yp);
  else reduce_columns<Op>(l, x.data<T>(), yp);
}

struct ReduceNode {
  ReduceOp op = ReduceOp::kSum;
  const char* name = "";
  bool keepdims = true;
  bool noop_with_empty_axes = false;
  bool axes_from_input = false;
  std::vector<int64_t> axes;
};

Status run_reduce(const ReduceNode& n, KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return invalid_model(std::string(n.name) + " needs an input");
  const bool dtype_ok = reduce_needs_float(n.op) ? visit_dtype(x->dtype(), FloatTypes{}, [](auto) {})
                                                 : visit_dtype(x->dtype(), ReduceTypes{}, [](auto) {});
  if (!dtype_ok) return dtype_unsupported(n.name, x->dtype());
  std::vector<int64_t> axes = n.axes;
  if (n.axes_from_input && ctx.input(1)) {
    const Tensor* a = ctx.input(1);
    if (a->dtype() != DType::kInt64 && a->dtype() != DType::kInt32)
      return invalid_model(std::string(n.name) + ": axes must be int64, got " + dtype_name(a->dtype()));
    if (a->rank() > 1) return invalid_model(std::string(n.name) + ": axes must be 1-D, got " + shape_str(a->shape()));
    axes = a->to_int64_vector();
  }
  auto mask = reduce_axis_mask(x->rank(), axes, n.axes_from_input && n.noop_with_empty_axes);
  if (!mask.is_ok()) return mask.status().with_context(n.name);
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), reduce_out_shape(x->shape(), mask.value(), n.keepdims)));
  if (ctx.use_reference()) reduce_ref(n.op, mask.value(), *x, *y);
  else reduce_fast(n.op, make_reduce_layout(x->shape(), mask.value()), *x, *y);
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_reduce(const NodeDesc& node, ReduceOp op, const char* name) {
  ReduceNode n;
  n.op = op;
  n.name = name;
  const int64_t keepdims = node.attrs.get_int("keepdims", 1), noop = node.attrs.get_int("noop_with_empty_axes", 0);
  if (keepdims != 0 && keepdims != 1) return invalid_model("keepdims must be 0 or 1");
  if (noop != 0 && noop != 1) return invalid_model("noop_with_empty_axes must be 0 or 1");
  n.keepdims = keepdims == 1;
  n.noop_with_empty_axes = noop == 1;
  // ReduceSum took axes as an input from opset 13; the others from opset 18.
  n.axes_from_input = node.opset >= (op == ReduceOp::kSum ? 13 : 18);
  if (!n.axes_from_input) n.axes = node.attrs.get_ints("axes");
  else if (node.attrs.has("axes"))
    return invalid_model(std::string(name) + " takes axes as an input from opset " + (op == ReduceOp::kSum ? "13" : "18"));
  return make_kernel([n](KernelContext& ctx) { return run_reduce(n, ctx); }, std::string(name) + "_blocks");
}

// ---- ArgMax / ArgMin ------------------------------------------------------------------
Status run_arg(bool is_max, int64_t axis_attr, bool keepdims, bool select_last, KernelContext& ctx) {
  const char* name = is_max ? "ArgMax" : "ArgMin";
  const Tensor* x = ctx.input(0);
  if (!x) return invalid_model(std::string(name) + " needs an input");
  if (!visit_dtype(x->dtype(), ReduceTypes{}, [](auto) {})) return dtype_unsupported(name, x->dtype());
  const int64_t r = x->rank();
  const int64_t axis = axis_attr < 0 ? axis_attr + r : axis_attr;
  if (axis < 0 || axis >= r)
    return invalid_model(std::string(name) + ": axis " + std::to_string(axis_attr) + " is out of range for rank " + std::to_string(r));
  const Shape& s = x->shape();
  if (s[axis] == 0) return shape_mismatch(std::string(name) + " over an empty axis in " + shape_str(s));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (int64_t d = axis + 1; d < r; ++d) inner *= s[d];
  Shape out = s;
  if (keepdims) out[axis] = 1;
  else out.erase(out.begin() + axis);
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kInt64, out));
  if (ctx.use_reference()) arg_reduce_ref(is_max, select_last, outer, s[axis], inner, *x, y->data<int64_t>());
  else arg_reduce_fast(is_max, select_last, outer, s[axis], inner, *x, y->data<int64_t>());
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_arg(const NodeDesc& node, bool is_max) {
  const int64_t axis = node.attrs.get_int("axis", 0);
  const int64_t keepdims = node.attrs.get_int("keepdims", 1), last = node.attrs.get_int("select_last_index", 0);
  if (keepdims != 0 && keepdims != 1) return invalid_model("keepdims must be 0 or 1");
  if (last != 0 && last != 1) return invalid_model("select_last_index must be 0 or 1");
  return make_kernel([=](KernelContext& ctx) { return run_arg(is_max, axis, keepdims == 1, last == 1, ctx); },
                     std::string(is_max ? "ArgMax" : "ArgMin") + "_blocks");
}

}  // namespace

Result<std::vector<bool>> reduce_axis_mask(int rank, const std::vector<int64_t>& axes, bool noop_with_empty_axes) {
  std::vector<bool> mask(rank, axes.empty() && !noop_with_empty_axes);
  for (int64_t a : axes) {
    const int64_t k = a < 0 ? a + rank : a;
    if (k < 0 || k >= rank)
      return invalid_model("axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    if (mask[k]) return invalid_model("axis " + std::to_string(a) + " is repeated");
    mask[k] = true;
  }
  return mask;
}

Shape reduce_out_shape(const Shape& x, const std::vector<bool>& mask, bool keepdims) {
  Shape out;
  for (size_t d = 0; d < x.size(); ++d) {
    if (!mask[d]) out.push_back(x[d]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

ReduceLayout make_reduce_layout(const Shape& x, const std::vector<bool>& mask) {
  ReduceLayout l;
  for (size_t d = 0; d < x.size(); ++d) {
    (mask[d] ? l.reduce_count : l.out_count) *= x[d];
    if (x[d] == 1) continue;
    if (!l.dims.empty() && l.reduced.back() == mask[d]) {
      l.dims.back() *= x[d];
    } else {
      l.dims.push_back(x[d]);
      l.reduced.push_back(mask[d]);
    }
  }
  const int blocks = static_cast<int>(std::count(l.reduced.begin(), l.reduced.end(), true));
  l.single_block = blocks <= 1;
  if (blocks == 0) {  // nothing reduced: each output reduces one element
    l.outer = 1;
    l.count = 1;
    l.inner = l.out_count;
  } else if (l.single_block) {
    l.outer = l.inner = 1;
    bool after = false;
    for (size_t i = 0; i < l.dims.size(); ++i) {
      if (l.reduced[i]) {
        l.count = l.dims[i];
        after = true;
      } else {
        (after ? l.inner : l.outer) *= l.dims[i];
      }
    }
  }
  return l;
}

void reduce_fast(ReduceOp op, const ReduceLayout& l, const Tensor& x, Tensor& y) {
  visit_dtype(x.dtype(), ReduceTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {
#define CVT_REDUCE_CASE(OP) \
  case ReduceOp::OP: return reduce_typed<ReduceOp::OP, T>(l, x, y);
      CVT_REDUCE_CASE(kSum) CVT_REDUCE_CASE(kMean) CVT_REDUCE_CASE(kMax) CVT_REDUCE_CASE(kMin)
      CVT_REDUCE_CASE(kProd) CVT_REDUCE_CASE(kL1) CVT_REDUCE_CASE(kSumSquare)
#undef CVT_REDUCE_CASE
      case ReduceOp::kL2: case ReduceOp::kLogSum: case ReduceOp::kLogSumExp:
        if constexpr (std::is_floating_point_v<T>) {
          if (op == ReduceOp::kL2) return reduce_typed<ReduceOp::kL2, T>(l, x, y);
          if (op == ReduceOp::kLogSum) return reduce_typed<ReduceOp::kLogSum, T>(l, x, y);
          return reduce_typed<ReduceOp::kLogSumExp, T>(l, x, y);
        }
        return;
    }
  });
}

void arg_reduce_fast(bool is_max, bool select_last, int64_t outer, int64_t count, int64_t inner, const Tensor& x,
                     int64_t* out) {
  visit_dtype(x.dtype(), ReduceTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
    parallel_for(0, outer * blocks, grain_for(count * std::min(inner, kInnerBlock)), [&](int64_t lo, int64_t hi) {
      T best[kInnerBlock];
      for (int64_t item = lo; item < hi; ++item) {
        const int64_t o = item / blocks, i0 = (item % blocks) * kInnerBlock;
        const int64_t n = std::min(kInnerBlock, inner - i0);
        const T* base = xp + o * count * inner + i0;
        int64_t* idx = out + o * inner + i0;
        std::copy(base, base + n, best);
        std::fill(idx, idx + n, 0);
        for (int64_t r = 1; r < count; ++r) {
          const T* row = base + r * inner;
          for (int64_t i = 0; i < n; ++i)
            if (arg_better(is_max, select_last, row[i], best[i])) {
              best[i] = row[i];
              idx[i] = r;
            }
        }
      }
    });
  });
}

void register_reduce_ops(std::vector<OpSchema>& t) {
#define CVT_REDUCE(NAME, OP) \
  t.push_back({"", NAME, 1, kMaxOpset, [](const NodeDesc& n) { return make_reduce(n, ReduceOp::OP, NAME); }})
  CVT_REDUCE("ReduceSum", kSum);
  CVT_REDUCE("ReduceMean", kMean);
  CVT_REDUCE("ReduceMax", kMax);
  CVT_REDUCE("ReduceMin", kMin);
  CVT_REDUCE("ReduceProd", kProd);
  CVT_REDUCE("ReduceL1", kL1);
  CVT_REDUCE("ReduceL2", kL2);
  CVT_REDUCE("ReduceLogSum", kLogSum);
  CVT_REDUCE("ReduceLogSumExp", kLogSumExp);
  CVT_REDUCE("ReduceSumSquare", kSumSquare);
#undef CVT_REDUCE
  t.push_back({"", "ArgMax", 1, kMaxOpset, [](const NodeDesc& n) { return make_arg(n, true); }});
  t.push_back({"", "ArgMin", 1, kMaxOpset, [](const NodeDesc& n) { return make_arg(n, false); }});
  register_softmax_ops(t);
}

}  // namespace cvt
