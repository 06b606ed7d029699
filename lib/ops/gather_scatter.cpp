// Gather, GatherElements, GatherND, ScatterElements (+ old Scatter), ScatterND.
// Every index is validated before data moves, so a bad index is a Status; scatters
// run sequentially so duplicate indices apply in index order.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/parallel.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"

namespace cvt {
namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

Result<std::vector<int64_t>> index_values(const Tensor& idx, const char* op) {
  if (idx.dtype() != DType::kInt64 && idx.dtype() != DType::kInt32)
    return invalid_model(std::string(op) + " indices must be int32 or int64, got " + dtype_name(idx.dtype()));
  return idx.to_int64_vector();
}

// Maps v in [-dim, dim) to [0, dim).
Status wrap_index(int64_t& v, int64_t dim, const char* op) {
  if (v < -dim || v >= dim)
    return invalid_argument(std::string(op) + " index " + std::to_string(v) + " is out of range for a dimension of " +
                            std::to_string(dim));
  if (v < 0) v += dim;
  return Status::ok();
}

// ---- Gather -----------------------------------------------------------------------------

KernelOr make_gather(const NodeDesc& node) {
  const int64_t axis_attr = node.attrs.get_int("axis", 0);
  return make_kernel([axis_attr](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    CVT_ASSIGN_OR_RETURN(const Tensor* idx_t, required_input(ctx, 1, "indices"));
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_attr, x->rank(), "Gather axis"));
    CVT_ASSIGN_OR_RETURN(auto idx, index_values(*idx_t, "Gather"));
    const int64_t dim = x->dim(axis);
    for (int64_t& v : idx) CVT_RETURN_IF_ERROR(wrap_index(v, dim, "Gather"));
    Shape out_shape(x->shape().begin(), x->shape().begin() + axis);
    out_shape.insert(out_shape.end(), idx_t->shape().begin(), idx_t->shape().end());
    out_shape.insert(out_shape.end(), x->shape().begin() + axis + 1, x->shape().end());
    CVT_RETURN_IF_ERROR(check_shape(out_shape, x->dtype()).with_context("Gather"));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), out_shape));
    const size_t es = dtype_size(x->dtype());
    const int64_t outer = dims_product(x->shape(), 0, axis);
    const int64_t inner = dims_product(x->shape(), axis + 1, x->rank());
    const int64_t n = static_cast<int64_t>(idx.size());
    const auto* src = static_cast<const uint8_t*>(x->raw());
    auto* dst = static_cast<uint8_t*>(y->raw());
    const size_t block = static_cast<size_t>(inner) * es;
    if (y->numel() == 0) return Status::ok();
    parallel_for(0, outer * n, std::max<int64_t>(1, 4096 / inner), [&](int64_t lo, int64_t hi) {
      if (inner == 1) {
        // Gathering single elements: typed loads beat per-element memcpy.
        with_element_size(es, [&](auto tag) {
          using T = decltype(tag);
          const T* s = reinterpret_cast<const T*>(src);
          T* d = reinterpret_cast<T*>(dst);
          for (int64_t t = lo; t < hi; ++t) d[t] = s[(t / n) * dim + idx[t % n]];
        });
        return;
      }
      for (int64_t t = lo; t < hi; ++t)
        std::memcpy(dst + t * block, src + ((t / n) * dim + idx[t % n]) * block, block);
    });
    return Status::ok();
  }, "gather_copy");
}

// ---- GatherElements / ScatterElements shared checks --------------------------------------

// indices must have the data's rank and fit inside it off the axis.
Status check_elementwise_indices(const Tensor& data, const Tensor& idx, int axis, const char* op) {
  if (idx.rank() != data.rank())
    return shape_mismatch(std::string(op) + " indices rank " + std::to_string(idx.rank()) + " differs from data rank " +
                          std::to_string(data.rank()));
  for (int k = 0; k < data.rank(); ++k)
    if (k != axis && idx.dim(k) > data.dim(k))
      return shape_mismatch(std::string(op) + " indices shape " + shape_str(idx.shape()) + " exceeds data shape " +
                            shape_str(data.shape()) + " off the axis");
  return Status::ok();
}

// Flat data offset for every element of `idx` (odometer over the indices shape).
std::vector<int64_t> elementwise_offsets(const Tensor& data, const Shape& idx_shape, const std::vector<int64_t>& idx,
                                         int axis) {
  const std::vector<int64_t> strides = row_strides(data.shape());
  const int r = static_cast<int>(idx_shape.size());
  std::vector<int64_t> offsets(idx.size());
  std::vector<int64_t> pos(r, 0);
  for (size_t i = 0; i < idx.size(); ++i) {
    int64_t off = 0;
    for (int k = 0; k < r; ++k) off += (k == axis ? idx[i] : pos[k]) * strides[k];
    offsets[i] = off;
    for (int k = r - 1; k >= 0 && ++pos[k] == idx_shape[k]; --k) pos[k] = 0;
  }
  return offsets;
}

KernelOr make_gather_elements(const NodeDesc& node) {
  const int64_t axis_attr = node.attrs.get_int("axis", 0);
  return make_kernel([axis_attr](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    CVT_ASSIGN_OR_RETURN(const Tensor* idx_t, required_input(ctx, 1, "indices"));
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_attr, x->rank(), "GatherElements axis"));
    CVT_RETURN_IF_ERROR(check_elementwise_indices(*x, *idx_t, axis, "GatherElements"));
    CVT_ASSIGN_OR_RETURN(auto idx, index_values(*idx_t, "GatherElements"));
    for (int64_t& v : idx) CVT_RETURN_IF_ERROR(wrap_index(v, x->dim(axis), "GatherElements"));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), idx_t->shape()));
    const std::vector<int64_t> offsets = elementwise_offsets(*x, idx_t->shape(), idx, axis);
    gather_elements_bytes(x->raw(), y->raw(), offsets.data(), y->numel(), dtype_size(x->dtype()));
    return Status::ok();
  }, "gather_elements");
}

// ---- GatherND -------------------------------------------------------------------------------

KernelOr make_gather_nd(const NodeDesc& node) {
  const int64_t batch_dims = node.opset >= 12 ? node.attrs.get_int("batch_dims", 0) : 0;
  return make_kernel([batch_dims](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    CVT_ASSIGN_OR_RETURN(const Tensor* idx_t, required_input(ctx, 1, "indices"));
    const int r = x->rank(), q = idx_t->rank();
    const int b = static_cast<int>(batch_dims);
    if (r < 1 || q < 1) return shape_mismatch("GatherND data and indices need rank >= 1");
    if (batch_dims < 0 || b >= std::min(r, q)) return invalid_model("GatherND batch_dims is out of range");
    const int64_t m = idx_t->dim(q - 1);
    if (m < 1 || m > r - b)
      return shape_mismatch("GatherND indices last dimension " + std::to_string(m) + " must be in [1, " +
                            std::to_string(r - b) + "]");
    for (int k = 0; k < b; ++k)
      if (x->dim(k) != idx_t->dim(k)) return shape_mismatch("GatherND batch dimensions of data and indices differ");
    CVT_ASSIGN_OR_RETURN(auto idx, index_values(*idx_t, "GatherND"));
    Shape out_shape(idx_t->shape().begin(), idx_t->shape().end() - 1);
    out_shape.insert(out_shape.end(), x->shape().begin() + b + m, x->shape().end());
    CVT_RETURN_IF_ERROR(check_shape(out_shape, x->dtype()).with_context("GatherND"));
    const int64_t slice = dims_product(x->shape(), b + static_cast<int>(m), r);
    const int64_t batches = dims_product(x->shape(), 0, b);
    const int64_t batch_stride = dims_product(x->shape(), b, r);
    const int64_t tuples = static_cast<int64_t>(idx.size()) / m;  // over all batches
    const int64_t tuples_per_batch = batches > 0 ? tuples / batches : 0;
    // Element offset of every tuple's slice.
    std::vector<int64_t> offsets(tuples);
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = (tuples_per_batch > 0 ? t / tuples_per_batch : 0) * batch_stride;
      int64_t stride = batch_stride;
      for (int64_t c = 0; c < m; ++c) {
        const int64_t dim = x->dim(b + static_cast<int>(c));
        stride /= std::max<int64_t>(dim, 1);
        int64_t v = idx[t * m + c];
        CVT_RETURN_IF_ERROR(wrap_index(v, dim, "GatherND"));
        off += v * stride;
      }
      offsets[t] = off;
    }
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), out_shape));
    const int64_t es = static_cast<int64_t>(dtype_size(x->dtype()));
    const size_t block = static_cast<size_t>(slice * es);
    const auto* src = static_cast<const uint8_t*>(x->raw());
    auto* dst = static_cast<uint8_t*>(y->raw());
    if (block > 0)
      for (int64_t t = 0; t < tuples; ++t) std::memcpy(dst + t * block, src + offsets[t] * es, block);
    return Status::ok();
  }, "gather_nd");
}

// ---- Scatter reductions ------------------------------------------------------------------------

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Result<Reduction> parse_reduction(const NodeDesc& node) {
  const std::string r = node.attrs.get_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (node.opset >= 16 && r == "add") return Reduction::kAdd;
  if (node.opset >= 16 && r == "mul") return Reduction::kMul;
  if (node.opset >= 18 && r == "max") return Reduction::kMax;
  if (node.opset >= 18 && r == "min") return Reduction::kMin;
  return invalid_model("reduction '" + r + "' is not valid at opset " + std::to_string(node.opset));
}

// out[dst_off[i] + j] (op)= upd[i * block + j] for every i, j, in order.
Status scatter_apply(Tensor& out, const Tensor& updates, const std::vector<int64_t>& dst_off, int64_t block,
                     Reduction red, const char* op) {
  const size_t es = dtype_size(out.dtype());
  if (red == Reduction::kNone) {
    auto* d = static_cast<uint8_t*>(out.raw());
    const auto* u = static_cast<const uint8_t*>(updates.raw());
    for (size_t i = 0; i < dst_off.size(); ++i)
      std::memcpy(d + dst_off[i] * static_cast<int64_t>(es), u + static_cast<int64_t>(i) * block * static_cast<int64_t>(es),
                  static_cast<size_t>(block) * es);
    return Status::ok();
  }
  const bool ok = out.dtype() != DType::kBool && with_numeric_type(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = out.data<T>();
    const T* u = updates.data<T>();
    for (size_t i = 0; i < dst_off.size(); ++i)
      for (int64_t j = 0; j < block; ++j) {
        T& o = d[dst_off[i] + j];
        const T v = u[static_cast<int64_t>(i) * block + j];
        switch (red) {
          case Reduction::kAdd: o = static_cast<T>(o + v); break;
          case Reduction::kMul: o = static_cast<T>(o * v); break;
          case Reduction::kMax: o = std::max(o, v); break;
          case Reduction::kMin: o = std::min(o, v); break;
          case Reduction::kNone: break;
        }
      }
  });
  return ok ? Status::ok() : unsupported_dtype(op, out.dtype());
}

// ---- ScatterElements / Scatter ----------------------------------------------------------------

// Fast path for axis 0 when every index row is one value broadcast over full data rows (torchvision's
// MultiScaleRoIAlign merges its per-level results this way): whole-row copies, in the same order
// (so the same last-write-wins result) as the element loop. False: not that pattern, nothing written.
// ScatterElements on axis 0 whose index is constant along each updates row (the
// R-CNN RoI poolers scatter whole (C, H, W) slabs, the index an Expand of one value
// per row): y = x with those rows replaced, one memcpy per row. Reads the int64
// indices in place (no copy of what is mostly a broadcast); false if any row is not
// constant or the indices are not int64, and the general path takes it (it also
// reports out-of-range values).
bool scatter_whole_rows(const Tensor& x, const Tensor& idx_t, const Tensor& updates, Tensor& out) {
  if (idx_t.dtype() != DType::kInt64 || x.rank() < 1 || updates.rank() != x.rank()) return false;
  for (int k = 1; k < x.rank(); ++k)
    if (updates.dim(k) != x.dim(k)) return false;
  const int64_t row = dims_product(x.shape(), 1, x.rank()), rows = updates.dim(0), dim0 = x.dim(0);
  if (row == 0) return false;
  const int64_t* iv = idx_t.data<int64_t>();
  std::vector<int64_t> target(static_cast<size_t>(rows));
  std::atomic<bool> uniform{true};
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / row);  // rows per task: ~64K values
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi && uniform.load(std::memory_order_relaxed); ++r) {
      const int64_t* ir = iv + r * row;
      const int64_t v = ir[0];
      bool ok = v >= -dim0 && v < dim0;
      for (int64_t j = 1; ok && j < row; ++j) ok = ir[j] == v;
      if (!ok) uniform.store(false, std::memory_order_relaxed);
      target[r] = v < 0 ? v + dim0 : v;
    }
  });
  if (!uniform.load()) return false;
  // The copy of x, then the rows in order (a repeated target row: the last write wins).
  const size_t bytes = static_cast<size_t>(row) * dtype_size(out.dtype());
  auto* d = static_cast<uint8_t*>(out.raw());
  const auto* xs = static_cast<const uint8_t*>(x.raw());
  parallel_for(0, dim0, grain, [&](int64_t lo, int64_t hi) {
    std::memcpy(d + lo * bytes, xs + lo * bytes, static_cast<size_t>(hi - lo) * bytes);
  });
  const auto* u = static_cast<const uint8_t*>(updates.raw());
  for (int64_t r = 0; r < rows; ++r) std::memcpy(d + target[r] * bytes, u + r * bytes, bytes);
  return true;
}

KernelOr make_scatter_elements(const NodeDesc& node) {
  const int64_t axis_attr = node.attrs.get_int("axis", 0);
  CVT_ASSIGN_OR_RETURN(Reduction red, parse_reduction(node));
  return make_kernel([axis_attr, red](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    CVT_ASSIGN_OR_RETURN(const Tensor* idx_t, required_input(ctx, 1, "indices"));
    CVT_ASSIGN_OR_RETURN(const Tensor* upd, required_input(ctx, 2, "updates"));
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_attr, x->rank(), "ScatterElements axis"));
    CVT_RETURN_IF_ERROR(check_elementwise_indices(*x, *idx_t, axis, "ScatterElements"));
    if (upd->shape() != idx_t->shape() || upd->dtype() != x->dtype())
      return shape_mismatch("ScatterElements updates " + shape_str(upd->shape()) + " must match indices " +
                            shape_str(idx_t->shape()) + " and have the data dtype");
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), x->shape()));
    if (!ctx.use_reference() && red == Reduction::kNone && axis == 0 && scatter_whole_rows(*x, *idx_t, *upd, *y))
      return Status::ok();
    CVT_ASSIGN_OR_RETURN(auto idx, index_values(*idx_t, "ScatterElements"));
    for (int64_t& v : idx) CVT_RETURN_IF_ERROR(wrap_index(v, x->dim(axis), "ScatterElements"));
    std::memcpy(y->raw(), x->raw(), x->nbytes());
    return scatter_apply(*y, *upd, elementwise_offsets(*x, idx_t->shape(), idx, axis), 1, red, "ScatterElements");
  }, "scatter_elements");
}

// ---- ScatterND -----------------------------------------------------------------------------------

KernelOr make_scatter_nd(const NodeDesc& node) {
  CVT_ASSIGN_OR_RETURN(Reduction red, parse_reduction(node));
  return make_kernel([red](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    CVT_ASSIGN_OR_RETURN(const Tensor* idx_t, required_input(ctx, 1, "indices"));
    CVT_ASSIGN_OR_RETURN(const Tensor* upd, required_input(ctx, 2, "updates"));
    const int r = x->rank(), q = idx_t->rank();
    if (r < 1 || q < 1) return shape_mismatch("ScatterND data and indices need rank >= 1");
    const int64_t k = idx_t->dim(q - 1);
    if (k < 1 || k > r) return shape_mismatch("ScatterND indices last dimension must be in [1, data rank]");
    Shape want(idx_t->shape().begin(), idx_t->shape().end() - 1);
    want.insert(want.end(), x->shape().begin() + k, x->shape().end());
    if (upd->shape() != want || upd->dtype() != x->dtype())
      return shape_mismatch("ScatterND updates shape " + shape_str(upd->shape()) + " should be " + shape_str(want) +
                            " with the data dtype");
    CVT_ASSIGN_OR_RETURN(auto idx, index_values(*idx_t, "ScatterND"));
    const std::vector<int64_t> strides = row_strides(x->shape());
    const int64_t tuples = k > 0 ? static_cast<int64_t>(idx.size()) / k : 0;
    std::vector<int64_t> offsets(tuples);
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = 0;
      for (int64_t c = 0; c < k; ++c) {
        int64_t v = idx[t * k + c];
        CVT_RETURN_IF_ERROR(wrap_index(v, x->dim(static_cast<int>(c)), "ScatterND"));
        off += v * strides[c];
      }
      offsets[t] = off;
    }
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), x->shape()));
    std::memcpy(y->raw(), x->raw(), x->nbytes());
    return scatter_apply(*y, *upd, offsets, dims_product(x->shape(), static_cast<int>(k), r), red, "ScatterND");
  }, "scatter_nd");
}

}  // namespace

void register_gather_scatter_ops(std::vector<OpSchema>& t) {
  constexpr int kMax = kTensorOpsMaxOpset;
  t.push_back({"", "Gather", 1, kMax, make_gather});
  t.push_back({"", "GatherElements", 11, kMax, make_gather_elements});
  t.push_back({"", "GatherND", 11, kMax, make_gather_nd});
  t.push_back({"", "Scatter", 9, 10, make_scatter_elements});
  t.push_back({"", "ScatterElements", 11, kMax, make_scatter_elements});
  t.push_back({"", "ScatterND", 11, kMax, make_scatter_nd});
}

}  // namespace cvt
