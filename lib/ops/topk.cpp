// TopK, CumSum and OneHot: ops that walk one axis of a tensor.
// TopK orders ties by lower index first for both largest and smallest (as
// ONNX Runtime does) and treats NaN as larger than every number.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/parallel.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"

namespace cvt {
namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

template <typename T>
inline bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

// Strict "a ranks before b" for TopK: by value, then by lower index.
template <typename T>
struct TopKOrder {
  const T* v;
  int64_t stride;
  bool largest;
  bool operator()(int64_t a, int64_t b) const {
    const T x = v[a * stride], y = v[b * stride];
    const bool nx = is_nan_value(x), ny = is_nan_value(y);
    if (nx || ny) {
      if (nx && ny) return a < b;
      return largest ? nx : ny;  // NaN counts as the largest value
    }
    if (x != y) return largest ? x > y : x < y;
    return a < b;
  }
};

struct TopKParams {
  bool k_from_input = true;
  int64_t k_attr = 0;
  int64_t axis = -1;
  bool largest = true;
};

Status topk_run(const TopKParams& p, KernelContext& ctx) {
  CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
  int64_t k = p.k_attr;
  if (p.k_from_input) {
    CVT_ASSIGN_OR_RETURN(const Tensor* kt, required_input(ctx, 1, "K"));
    CVT_ASSIGN_OR_RETURN(auto kv, int_list_input(*kt, "TopK K"));
    if (kv.size() != 1) return invalid_model("TopK K must hold one value");
    k = kv[0];
  }
  CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(p.axis, x->rank(), "TopK axis"));
  const int64_t n = x->dim(axis);
  if (k < 0 || k > n)
    return invalid_argument("TopK k " + std::to_string(k) + " is out of range for axis size " + std::to_string(n));
  Shape out_shape = x->shape();
  out_shape[axis] = k;
  CVT_ASSIGN_OR_RETURN(Tensor * values, ctx.output(0, x->dtype(), out_shape));
  Tensor* indices = nullptr;
  if (ctx.num_outputs() > 1) {
    CVT_ASSIGN_OR_RETURN(indices, ctx.output(1, DType::kInt64, out_shape));
  }
  if (values->numel() == 0) return Status::ok();
  const int64_t outer = dims_product(x->shape(), 0, axis);
  const int64_t inner = dims_product(x->shape(), axis + 1, x->rank());
  const bool ok = x->dtype() != DType::kBool && with_numeric_type(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x->data<T>();
    T* out_v = values->data<T>();
    int64_t* out_i = indices ? indices->data<int64_t>() : nullptr;
    parallel_for(0, outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
      std::vector<int64_t> order(n);
      for (int64_t s = lo; s < hi; ++s) {
        const int64_t o = s / inner, i = s % inner;
        const T* slice = src + o * n * inner + i;
        std::iota(order.begin(), order.end(), int64_t{0});
        std::partial_sort(order.begin(), order.begin() + k, order.end(), TopKOrder<T>{slice, inner, p.largest});
        for (int64_t j = 0; j < k; ++j) {
          const int64_t at = o * k * inner + j * inner + i;
          out_v[at] = slice[order[j] * inner];
          if (out_i) out_i[at] = order[j];
        }
      }
    });
  });
  return ok ? Status::ok() : unsupported_dtype("TopK", x->dtype());
}

KernelOr make_topk(const NodeDesc& node) {
  TopKParams p;
  p.k_from_input = node.opset >= 10;
  if (!p.k_from_input) {
    if (!node.attrs.has("k")) return invalid_model("TopK-1 needs the 'k' attribute");
    p.k_attr = node.attrs.get_int("k", 0);
  }
  p.axis = node.attrs.get_int("axis", -1);
  p.largest = node.opset < 11 || node.attrs.get_int("largest", 1) != 0;
  return make_kernel([p](KernelContext& ctx) { return topk_run(p, ctx); }, "topk_partial_sort");
}

// ---- CumSum ---------------------------------------------------------------------------------

KernelOr make_cumsum(const NodeDesc& node) {
  const bool exclusive = node.attrs.get_int("exclusive", 0) != 0;
  const bool reverse = node.attrs.get_int("reverse", 0) != 0;
  return make_kernel([exclusive, reverse](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "x"));
    CVT_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 1, "axis"));
    if (a->dtype() != DType::kInt32 && a->dtype() != DType::kInt64) return invalid_model("CumSum axis must be int32/int64");
    CVT_ASSIGN_OR_RETURN(int64_t axis_raw, int_scalar_input(*a, "CumSum axis"));
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_raw, x->rank(), "CumSum axis"));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), x->shape()));
    const int64_t n = x->dim(axis);
    const int64_t outer = dims_product(x->shape(), 0, axis);
    const int64_t inner = dims_product(x->shape(), axis + 1, x->rank());
    const bool ok = x->dtype() != DType::kBool && with_numeric_type(x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* src = x->data<T>();
      T* dst = y->data<T>();
      parallel_for(0, outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t s = lo; s < hi; ++s) {
          const int64_t base = (s / inner) * n * inner + s % inner;
          T acc = T(0);
          for (int64_t j = 0; j < n; ++j) {
            const int64_t at = base + (reverse ? n - 1 - j : j) * inner;
            if (exclusive) {
              dst[at] = acc;
              acc = static_cast<T>(acc + src[at]);
            } else {
              acc = static_cast<T>(acc + src[at]);
              dst[at] = acc;
            }
          }
        }
      });
    });
    return ok ? Status::ok() : unsupported_dtype("CumSum", x->dtype());
  }, "cumsum");
}

// ---- OneHot -------------------------------------------------------------------------------------

KernelOr make_one_hot(const NodeDesc& node) {
  const int64_t axis_attr = node.attrs.get_int("axis", -1);
  return make_kernel([axis_attr](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* idx_t, required_input(ctx, 0, "indices"));
    CVT_ASSIGN_OR_RETURN(const Tensor* depth_t, required_input(ctx, 1, "depth"));
    CVT_ASSIGN_OR_RETURN(const Tensor* vals, required_input(ctx, 2, "values"));
    if (vals->numel() != 2) return invalid_model("OneHot values must hold [off, on]");
    CVT_ASSIGN_OR_RETURN(int64_t depth, int_scalar_input(*depth_t, "OneHot depth"));
    if (depth < 1) return invalid_argument("OneHot depth " + std::to_string(depth) + " must be positive");
    if (depth > Limits::kMaxElements) return limit_exceeded("OneHot depth exceeds the element limit");
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_attr, idx_t->rank() + 1, "OneHot axis"));
    Shape out_shape = idx_t->shape();
    out_shape.insert(out_shape.begin() + axis, depth);
    CVT_RETURN_IF_ERROR(check_shape(out_shape, vals->dtype()).with_context("OneHot"));
    if (idx_t->dtype() == DType::kFloat16) return unsupported_dtype("OneHot indices", idx_t->dtype());
    // Indices of any numeric type; floats truncate toward zero.
    std::vector<int64_t> idx;
    if (idx_t->dtype() == DType::kFloat32 || idx_t->dtype() == DType::kFloat64) {
      for (float f : idx_t->to_float_vector()) idx.push_back(std::isfinite(f) ? static_cast<int64_t>(f) : -depth - 1);
    } else {
      idx = idx_t->to_int64_vector();
    }
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, vals->dtype(), out_shape));
    const size_t es = dtype_size(vals->dtype());
    const auto* off_on = static_cast<const uint8_t*>(vals->raw());
    fill_bytes(y->raw(), y->numel(), off_on, es);
    const int64_t inner = dims_product(idx_t->shape(), axis, idx_t->rank());
    auto* dst = static_cast<uint8_t*>(y->raw());
    for (int64_t p = 0; p < static_cast<int64_t>(idx.size()); ++p) {
      int64_t v = idx[p];
      if (v < 0) v += depth;  // opset 11: negative indices count from the end
      if (v < 0 || v >= depth) continue;
      const int64_t o = p / inner, i = p % inner;
      std::memcpy(dst + ((o * depth + v) * inner + i) * static_cast<int64_t>(es), off_on + es, es);
    }
    return Status::ok();
  }, "one_hot");
}

}  // namespace

void register_topk_ops(std::vector<OpSchema>& t) {
  constexpr int kMax = kTensorOpsMaxOpset;
  t.push_back({"", "TopK", 1, kMax, make_topk});
  t.push_back({"", "CumSum", 11, kMax, make_cumsum});
  t.push_back({"", "OneHot", 9, kMax, make_one_hot});
}

}  // namespace cvt
