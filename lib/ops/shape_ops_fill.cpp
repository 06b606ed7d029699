// Shape family, part 2: ops that create or broadcast values (Constant,
// ConstantOfShape, EyeLike, Expand). Sizes read from tensors are checked
// against Limits before anything is allocated.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"

namespace cvt {

void register_shape_fill_ops(std::vector<OpSchema>& t);

namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

// ---- Constant ---------------------------------------------------------------------

// The value attribute as an owned tensor (the kernel aliases it on every run).
Result<Tensor> constant_value(const NodeDesc& node) {
  static const char* const kValueAttrs[] = {"value", "value_float", "value_floats", "value_int",
                                            "value_ints", "value_string", "value_strings", "sparse_value"};
  const char* found = nullptr;
  for (const char* name : kValueAttrs) {
    if (!node.attrs.has(name)) continue;
    if (found) return invalid_model(std::string("Constant has both '") + found + "' and '" + name + "'");
    found = name;
  }
  if (!found) return invalid_model("Constant has no value attribute");
  const std::string name = found;
  const Attribute* a = node.attrs.find(name);
  if (name == "value") {
    if (a->kind != Attribute::Kind::kTensor || !a->tensor) return invalid_model("Constant 'value' is not a tensor");
    return a->tensor->clone();
  }
  if (name == "value_float" && a->kind == Attribute::Kind::kFloat) return Tensor::scalar<float>(a->f);
  if (name == "value_int" && a->kind == Attribute::Kind::kInt) return Tensor::scalar<int64_t>(a->i);
  if (name == "value_floats" && a->kind == Attribute::Kind::kFloats)
    return Tensor::from_vector<float>({static_cast<int64_t>(a->floats.size())}, a->floats);
  if (name == "value_ints" && a->kind == Attribute::Kind::kInts)
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(a->ints.size())}, a->ints);
  if (name == "value_string" || name == "value_strings" || name == "sparse_value")
    return unsupported("Constant '" + name + "' is not supported");
  return invalid_model("Constant '" + name + "' has the wrong attribute type");
}

KernelOr make_constant(const NodeDesc& node) {
  CVT_ASSIGN_OR_RETURN(Tensor value, constant_value(node));
  return make_kernel([value](KernelContext& ctx) -> Status { return ctx.alias_output(0, value); },
                     "constant_alias");
}

// ---- ConstantOfShape ---------------------------------------------------------------

// Output shape from a 1-D int64 shape tensor, validated before allocation.
Result<Shape> shape_from_input(const Tensor& t, DType dtype, const char* op) {
  CVT_ASSIGN_OR_RETURN(auto dims, int_list_input(t, std::string(op) + " shape"));
  if (static_cast<int64_t>(dims.size()) > Limits::kMaxRank)
    return limit_exceeded(std::string(op) + " shape rank " + std::to_string(dims.size()) + " exceeds the limit");
  Shape s(dims.begin(), dims.end());
  CVT_RETURN_IF_ERROR(check_shape(s, dtype).with_context(op));
  return s;
}

KernelOr make_constant_of_shape(const NodeDesc& node) {
  Tensor value = Tensor::scalar<float>(0.f);
  if (auto v = node.attrs.get_tensor("value")) {
    if (v->numel() != 1) return invalid_model("ConstantOfShape 'value' must hold exactly one element");
    value = v->clone();
  }
  return make_kernel([value](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 0, "input"));
    CVT_ASSIGN_OR_RETURN(Shape shape, shape_from_input(*s, value.dtype(), "ConstantOfShape"));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, value.dtype(), shape));
    fill_bytes(y->raw(), y->numel(), value.raw(), dtype_size(value.dtype()));
    return Status::ok();
  }, "constant_of_shape");
}

// ---- EyeLike ------------------------------------------------------------------------

KernelOr make_eye_like(const NodeDesc& node) {
  const int64_t k = node.attrs.get_int("k", 0);
  const bool has_dtype = node.attrs.has("dtype");
  DType dtype = DType::kFloat32;
  if (has_dtype) {
    CVT_ASSIGN_OR_RETURN(dtype, dtype_from_onnx(node.attrs.get_int("dtype", 1)));
  }
  return make_kernel([k, has_dtype, dtype](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    if (x->rank() != 2) return shape_mismatch("EyeLike input must be 2-D, got " + shape_str(x->shape()));
    const DType out_dtype = has_dtype ? dtype : x->dtype();
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, out_dtype, x->shape()));
    std::memset(y->raw(), 0, y->nbytes());
    const int64_t rows = x->dim(0), cols = x->dim(1);
    const size_t es = dtype_size(out_dtype);
    auto* base = static_cast<uint8_t*>(y->raw());
    for (int64_t i = std::max<int64_t>(0, -k); i < rows && i + k < cols; ++i)
      store_one(out_dtype, base + static_cast<size_t>(i * cols + i + k) * es);
    return Status::ok();
  }, "eye_like");
}

// ---- Expand -----------------------------------------------------------------------------

// Bidirectional broadcast of two shapes (numpy rules).
Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (db < 0) return invalid_model("Expand shape " + shape_str(b) + " has a negative dimension");
    if (da != db && da != 1 && db != 1)
      return shape_mismatch("Expand cannot broadcast input " + shape_str(a) + " to shape " + shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Copies src into dst, repeating it along the axes where src has size 1.
// Rows are either a contiguous block (trailing dims equal) or a run of one
// repeated element (trailing dims broadcast).
void broadcast_copy(const Tensor& src, Tensor& dst) {
  const int r = dst.rank();
  const size_t es = dtype_size(src.dtype());
  if (dst.numel() == 0) return;
  if (r == 0) {
    std::memcpy(dst.raw(), src.raw(), es);
    return;
  }
  Shape sd(r, 1);
  for (int i = 0; i < src.rank(); ++i) sd[r - src.rank() + i] = src.dim(i);
  const Shape& od = dst.shape();
  std::vector<int64_t> strides = row_strides(sd);
  for (int i = 0; i < r; ++i)
    if (sd[i] == 1) strides[i] = 0;
  int split = r;
  while (split > 0 && sd[split - 1] == od[split - 1]) --split;
  int64_t block = dims_product(od, split, r);
  const bool fill_rows = block == 1;  // last axis is broadcast: repeat single elements
  if (fill_rows) {
    while (split > 0 && sd[split - 1] == 1) --split;
    block = dims_product(od, split, r);
  }
  const int64_t rows = dims_product(od, 0, split);
  const auto* s = static_cast<const uint8_t*>(src.raw());
  auto* d = static_cast<uint8_t*>(dst.raw());
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / (block * static_cast<int64_t>(es)));
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t rem = row, off = 0;
      for (int k = split - 1; k >= 0; --k) {
        off += (rem % od[k]) * strides[k];
        rem /= od[k];
      }
      uint8_t* out = d + static_cast<size_t>(row * block) * es;
      if (fill_rows)
        fill_bytes(out, block, s + static_cast<size_t>(off) * es, es);
      else
        std::memcpy(out, s + static_cast<size_t>(off) * es, static_cast<size_t>(block) * es);
    }
  });
}

KernelOr make_expand(const NodeDesc&) {
  return make_kernel([](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    CVT_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 1, "shape"));
    CVT_ASSIGN_OR_RETURN(auto dims, int_list_input(*s, "Expand shape"));
    if (static_cast<int64_t>(dims.size()) > Limits::kMaxRank)
      return limit_exceeded("Expand shape rank " + std::to_string(dims.size()) + " exceeds the limit");
    CVT_ASSIGN_OR_RETURN(Shape out_shape, broadcast_shapes(x->shape(), Shape(dims.begin(), dims.end())));
    CVT_RETURN_IF_ERROR(check_shape(out_shape, x->dtype()).with_context("Expand"));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), out_shape));
    broadcast_copy(*x, *y);
    return Status::ok();
  }, "expand_broadcast_copy");
}

}  // namespace

void register_shape_fill_ops(std::vector<OpSchema>& t) {
  constexpr int kMax = kTensorOpsMaxOpset;
  t.push_back({"", "Constant", 1, kMax, make_constant});
  t.push_back({"", "ConstantOfShape", 9, kMax, make_constant_of_shape});
  t.push_back({"", "EyeLike", 9, kMax, make_eye_like});
  t.push_back({"", "Expand", 8, kMax, make_expand});
}

}  // namespace cvt
