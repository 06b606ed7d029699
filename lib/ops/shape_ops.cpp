// Shape family: ops that change how a tensor is viewed (Reshape, Flatten,
// Squeeze, Unsqueeze, Identity, Dropout alias their input, never copy) and
// Transpose, Shape, Size. Constant-like ops and Expand live in shape_ops_fill.cpp.
#include <algorithm>
#include <cstring>

#include "ops/registry.h"
#include "ops/tensor_ops.h"
#include "ops/transpose.h"

namespace cvt {

void register_shape_fill_ops(std::vector<OpSchema>& t);  // shape_ops_fill.cpp

namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

// ---- Reshape ----------------------------------------------------------------

// Resolves 0 (copy input dim unless allow_zero) and one -1 (inferred) in `spec`.
Result<Shape> reshape_target(const Shape& in, const std::vector<int64_t>& spec, bool allow_zero) {
  const int64_t in_numel = shape_numel(in);
  Shape out(spec.size());
  int infer_at = -1;
  bool has_zero = false;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t v = spec[i];
    if (v == -1) {
      if (infer_at >= 0) return invalid_model("Reshape shape " + shape_str(spec) + " has more than one -1");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (v < -1) return invalid_model("Reshape shape " + shape_str(spec) + " has a negative dimension");
    if (v == 0) {
      has_zero = true;
      if (!allow_zero) {
        if (i >= in.size())
          return invalid_model("Reshape shape " + shape_str(spec) + ": 0 at index " + std::to_string(i) +
                               " has no input dimension to copy (input " + shape_str(in) + ")");
        v = in[i];
      }
    }
    out[i] = v;
    if (v != 0 && known > Limits::kMaxElements / v)
      return shape_mismatch("Reshape shape " + shape_str(spec) + " does not fit input " + shape_str(in));
    known *= v;
  }
  if (allow_zero && has_zero && infer_at >= 0)
    return invalid_model("Reshape shape " + shape_str(spec) + " mixes 0 and -1 with allowzero=1");
  if (infer_at >= 0) {
    if (known == 0 || in_numel % known != 0)
      return shape_mismatch("cannot infer -1 of Reshape shape " + shape_str(spec) + " from input " + shape_str(in));
    out[infer_at] = in_numel / known;
  } else if (known != in_numel) {
    return shape_mismatch("Reshape shape " + shape_str(spec) + " holds " + std::to_string(known) +
                          " elements, input " + shape_str(in) + " holds " + std::to_string(in_numel));
  }
  return out;
}

KernelOr make_reshape(const NodeDesc& node) {
  const bool allow_zero = node.opset >= 14 && node.attrs.get_int("allowzero", 0) != 0;
  if (node.opset < 5) {
    if (!node.attrs.has("shape")) return invalid_model("Reshape-1 needs the 'shape' attribute");
    std::vector<int64_t> spec = node.attrs.get_ints("shape");
    return make_kernel([spec](KernelContext& ctx) -> Status {
      CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
      CVT_ASSIGN_OR_RETURN(Shape out, reshape_target(x->shape(), spec, false));
      return ctx.alias_output(0, x->reshaped(out));
    }, "reshape_alias");
  }
  if (!node.has_input(1)) return invalid_model("Reshape needs the 'shape' input");
  return make_kernel([allow_zero](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    CVT_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 1, "shape"));
    CVT_ASSIGN_OR_RETURN(auto spec, int_list_input(*s, "Reshape 'shape'"));
    if (static_cast<int64_t>(spec.size()) > Limits::kMaxRank)
      return limit_exceeded("Reshape target rank " + std::to_string(spec.size()) + " exceeds the limit");
    CVT_ASSIGN_OR_RETURN(Shape out, reshape_target(x->shape(), spec, allow_zero));
    return ctx.alias_output(0, x->reshaped(out));
  }, "reshape_alias");
}

// ---- Flatten ----------------------------------------------------------------

KernelOr make_flatten(const NodeDesc& node) {
  const int64_t axis = node.attrs.get_int("axis", 1);
  const bool allow_negative = node.opset >= 11;
  return make_kernel([axis, allow_negative](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    const int rank = x->rank();
    if (axis > rank || axis < (allow_negative ? -rank : 0))
      return invalid_model("Flatten axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    const int a = static_cast<int>(axis < 0 ? axis + rank : axis);
    const Shape out{dims_product(x->shape(), 0, a), dims_product(x->shape(), a, rank)};
    return ctx.alias_output(0, x->reshaped(out));
  }, "flatten_alias");
}

// ---- Squeeze / Unsqueeze ------------------------------------------------------

// Axes from the attribute (opset < 13) or the optional input (opset >= 13).
Result<std::vector<int64_t>> axes_attr_or_input(const KernelContext& ctx, int input_index, bool from_input,
                                                const std::vector<int64_t>& attr_axes, bool* given) {
  if (!from_input) {
    *given = !attr_axes.empty();
    return attr_axes;
  }
  const Tensor* t = ctx.input(input_index);
  *given = t != nullptr;
  if (!t) return std::vector<int64_t>{};
  return int_list_input(*t, "axes");
}

KernelOr make_squeeze(const NodeDesc& node) {
  const bool from_input = node.opset >= 13;
  std::vector<int64_t> attr_axes = node.attrs.get_ints("axes");
  return make_kernel([from_input, attr_axes](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    bool given = false;
    CVT_ASSIGN_OR_RETURN(auto raw_axes, axes_attr_or_input(ctx, 1, from_input, attr_axes, &given));
    const int rank = x->rank();
    std::vector<bool> drop(rank, false);
    if (given) {
      CVT_ASSIGN_OR_RETURN(auto axes, normalize_axes(raw_axes, rank, "Squeeze axis"));
      for (int a : axes) {
        if (x->dim(a) != 1)
          return shape_mismatch("Squeeze axis " + std::to_string(a) + " has size " + std::to_string(x->dim(a)) +
                                " (input " + shape_str(x->shape()) + "), expected 1");
        drop[a] = true;
      }
    } else {
      for (int a = 0; a < rank; ++a) drop[a] = x->dim(a) == 1;
    }
    Shape out;
    for (int a = 0; a < rank; ++a)
      if (!drop[a]) out.push_back(x->dim(a));
    return ctx.alias_output(0, x->reshaped(out));
  }, "squeeze_alias");
}

KernelOr make_unsqueeze(const NodeDesc& node) {
  const bool from_input = node.opset >= 13;
  std::vector<int64_t> attr_axes = node.attrs.get_ints("axes");
  if (!from_input && attr_axes.empty()) return invalid_model("Unsqueeze needs the 'axes' attribute");
  if (from_input && !node.has_input(1)) return invalid_model("Unsqueeze needs the 'axes' input");
  return make_kernel([from_input, attr_axes](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    bool given = false;
    CVT_ASSIGN_OR_RETURN(auto raw_axes, axes_attr_or_input(ctx, 1, from_input, attr_axes, &given));
    const int64_t out_rank = x->rank() + static_cast<int64_t>(raw_axes.size());
    if (out_rank > Limits::kMaxRank)
      return limit_exceeded("Unsqueeze output rank " + std::to_string(out_rank) + " exceeds the limit");
    CVT_ASSIGN_OR_RETURN(auto axes, normalize_axes(raw_axes, static_cast<int>(out_rank), "Unsqueeze axis"));
    std::vector<bool> inserted(out_rank, false);
    for (int a : axes) inserted[a] = true;
    Shape out;
    int next = 0;
    for (int64_t a = 0; a < out_rank; ++a) out.push_back(inserted[a] ? 1 : x->dim(next++));
    return ctx.alias_output(0, x->reshaped(out));
  }, "unsqueeze_alias");
}

// ---- Identity / Dropout -------------------------------------------------------

KernelOr make_identity(const NodeDesc&) {
  return make_kernel([](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    return ctx.alias_output(0, *x);
  }, "identity_alias");
}

void fill_ones(Tensor& t) {
  uint64_t one = 0;
  store_one(t.dtype(), &one);
  fill_bytes(t.raw(), t.numel(), &one, dtype_size(t.dtype()));
}

// Inference only: the output is the input. Training mode with a non-zero
// ratio would need a random mask, which we do not produce.
KernelOr make_dropout(const NodeDesc& node) {
  const bool want_mask = node.outputs.size() > 1 && !node.outputs[1].empty();
  const bool mask_is_bool = node.opset >= 10;
  const bool inputs_control = node.opset >= 12;
  return make_kernel([want_mask, mask_is_bool, inputs_control](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    if (inputs_control && ctx.input(2)) {
      const Tensor* training = ctx.input(2);
      if (training->dtype() != DType::kBool || training->numel() != 1)
        return invalid_model("Dropout training_mode must be a bool scalar");
      double ratio = 0.5;
      if (ctx.input(1)) {
        CVT_ASSIGN_OR_RETURN(ratio, double_scalar_input(*ctx.input(1), "Dropout ratio"));
      }
      if (training->data<bool>()[0] && ratio != 0)
        return unsupported("Dropout in training mode (random mask) is not supported");
    }
    CVT_RETURN_IF_ERROR(ctx.alias_output(0, *x));
    if (want_mask && ctx.num_outputs() > 1) {
      CVT_ASSIGN_OR_RETURN(Tensor * mask, ctx.output(1, mask_is_bool ? DType::kBool : x->dtype(), x->shape()));
      fill_ones(*mask);
    }
    return Status::ok();
  }, "dropout_identity");
}

// ---- Transpose ----------------------------------------------------------------

KernelOr make_transpose(const NodeDesc& node) {
  std::vector<int64_t> attr_perm = node.attrs.get_ints("perm");
  return make_kernel([attr_perm](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    const int rank = x->rank();
    std::vector<int> perm(rank);
    if (attr_perm.empty()) {
      for (int k = 0; k < rank; ++k) perm[k] = rank - 1 - k;
    } else {
      if (static_cast<int>(attr_perm.size()) != rank)
        return invalid_model("Transpose perm " + shape_str(attr_perm) + " does not match input rank " +
                             std::to_string(rank));
      std::vector<bool> seen(rank, false);
      for (int k = 0; k < rank; ++k) {
        int64_t p = attr_perm[k];
        if (p < 0 || p >= rank || seen[p])
          return invalid_model("Transpose perm " + shape_str(attr_perm) + " is not a permutation");
        seen[p] = true;
        perm[k] = static_cast<int>(p);
      }
    }
    Shape out_shape(rank);
    for (int k = 0; k < rank; ++k) out_shape[k] = x->dim(perm[k]);
    if (!ctx.use_reference() && transpose_is_reshape(x->shape(), perm))
      return ctx.alias_output(0, x->reshaped(out_shape));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), out_shape));
    if (ctx.use_reference())
      transpose_ref(x->raw(), y->raw(), x->shape(), perm, dtype_size(x->dtype()));
    else
      transpose_fast(x->raw(), y->raw(), x->shape(), perm, dtype_size(x->dtype()));
    return Status::ok();
  }, "transpose");
}

// ---- Shape / Size ---------------------------------------------------------------

KernelOr make_shape(const NodeDesc& node) {
  const bool has_range = node.opset >= 15;
  const int64_t start_attr = has_range ? node.attrs.get_int("start", 0) : 0;
  const bool has_end = has_range && node.attrs.has("end");
  const int64_t end_attr = has_end ? node.attrs.get_int("end", 0) : 0;
  return make_kernel([start_attr, has_end, end_attr](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    const int64_t rank = x->rank();
    auto clamp_dim = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
    const int64_t start = clamp_dim(start_attr);
    const int64_t end = has_end ? clamp_dim(end_attr) : rank;
    const int64_t n = std::max<int64_t>(0, end - start);
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kInt64, {n}));
    for (int64_t i = 0; i < n; ++i) y->data<int64_t>()[i] = x->dim(static_cast<int>(start + i));
    return Status::ok();
  }, "shape");
}

KernelOr make_size(const NodeDesc&) {
  return make_kernel([](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kInt64, {}));
    y->data<int64_t>()[0] = x->numel();
    return Status::ok();
  }, "size");
}

}  // namespace

void register_shape_ops(std::vector<OpSchema>& t) {
  constexpr int kMax = kTensorOpsMaxOpset;
  t.push_back({"", "Reshape", 1, kMax, make_reshape});
  t.push_back({"", "Flatten", 1, kMax, make_flatten});
  t.push_back({"", "Squeeze", 1, kMax, make_squeeze});
  t.push_back({"", "Unsqueeze", 1, kMax, make_unsqueeze});
  t.push_back({"", "Identity", 1, kMax, make_identity});
  t.push_back({"", "Dropout", 1, kMax, make_dropout});
  t.push_back({"", "Transpose", 1, kMax, make_transpose});
  t.push_back({"", "Shape", 1, kMax, make_shape});
  t.push_back({"", "Size", 1, kMax, make_size});
  register_shape_fill_ops(t);
}

}  // namespace cvt
