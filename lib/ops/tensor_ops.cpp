// Tensor family: ops that move whole elements without arithmetic (Concat,
// Split, Tile, Range, NonZero, DepthToSpace, SpaceToDepth) plus the family's
// registration. Copies go by element size, so every dtype shares one loop.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"
#include "ops/transpose.h"

namespace cvt {
namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

// Rows per parallel chunk so that each chunk moves about 64 KiB.
int64_t grain_for_bytes(int64_t bytes_per_row) {
  return std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, bytes_per_row));
}

// ---- Concat -------------------------------------------------------------------------

// When the memory plan put the inputs where they belong in the output (graph/
// memory_plan.h: producers of a Concat with nothing outside its axis write into
// its output), their chunks are already in place and only the others are copied.
class ConcatKernel final : public Kernel {
 public:
  explicit ConcatKernel(int64_t axis) : axis_(axis) {}
  Status run(KernelContext& ctx) override {
    std::vector<const Tensor*> ins;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      CVT_ASSIGN_OR_RETURN(const Tensor* t, required_input(ctx, i, "Concat input"));
      ins.push_back(t);
    }
    if (ins.empty()) return invalid_model("Concat has no inputs");
    const Tensor& first = *ins[0];
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_, first.rank(), "Concat axis"));
    Shape out_shape = first.shape();
    out_shape[axis] = 0;
    for (size_t i = 0; i < ins.size(); ++i) {
      const Tensor& t = *ins[i];
      if (t.dtype() != first.dtype())
        return invalid_model("Concat input " + std::to_string(i) + " is " + dtype_name(t.dtype()) + ", input 0 is " +
                             dtype_name(first.dtype()));
      bool fits = t.rank() == first.rank();
      for (int k = 0; fits && k < t.rank(); ++k) fits = k == axis || t.dim(k) == first.dim(k);
      if (!fits)
        return shape_mismatch("Concat input " + std::to_string(i) + " shape " + shape_str(t.shape()) +
                              " does not match input 0 shape " + shape_str(first.shape()) + " outside axis " +
                              std::to_string(axis));
      out_shape[axis] += t.dim(axis);
    }
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, first.dtype(), out_shape));
    const size_t es = dtype_size(first.dtype());
    const int64_t outer = dims_product(out_shape, 0, axis);
    const int64_t inner = dims_product(out_shape, axis + 1, first.rank());
    const int64_t out_row = out_shape[axis] * inner * static_cast<int64_t>(es);
    auto* dst = static_cast<uint8_t*>(y->raw());
    std::vector<int64_t> chunk(ins.size()), at(ins.size());
    for (size_t i = 0, pos = 0; i < ins.size(); ++i) {
      chunk[i] = ins[i]->dim(axis) * inner * static_cast<int64_t>(es);
      at[i] = static_cast<int64_t>(pos);
      pos += static_cast<size_t>(chunk[i]);
    }
    if (outer == 1) {  // one row: the chunks in parallel, those already in place skipped
      int64_t copied = 0;
      for (size_t i = 0; i < ins.size(); ++i) copied += ins[i]->raw() != dst + at[i] ? chunk[i] : 0;
      parallel_for(0, static_cast<int64_t>(ins.size()), 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
          if (chunk[i] > 0 && ins[i]->raw() != dst + at[i])
            std::memcpy(dst + at[i], ins[i]->raw(), static_cast<size_t>(chunk[i]));
      });
      path_ = copied == 0 ? "concat_in_place" : copied < out_row ? "concat_partly_in_place" : "concat_copy";
      return Status::ok();
    }
    parallel_for(0, outer, grain_for_bytes(out_row), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o)
        for (size_t i = 0; i < ins.size(); ++i)
          if (chunk[i] > 0)
            std::memcpy(dst + o * out_row + at[i], static_cast<const uint8_t*>(ins[i]->raw()) + o * chunk[i],
                        static_cast<size_t>(chunk[i]));
    });
    path_ = "concat_copy";
    return Status::ok();
  }
  std::string impl_name() const override { return path_; }

 private:
  int64_t axis_;
  const char* path_ = "concat_copy";
};

KernelOr make_concat(const NodeDesc& node) {
  if (node.opset >= 4 && !node.attrs.has("axis")) return invalid_model("Concat needs the 'axis' attribute");
  return std::unique_ptr<Kernel>(std::make_unique<ConcatKernel>(node.attrs.get_int("axis", 1)));
}

// ---- Split ------------------------------------------------------------------------------

struct SplitParams {
  int64_t axis = 0;
  bool split_from_input = false;  // opset 13+ (and opset 1's optional second input)
  std::vector<int64_t> split_attr;
  int64_t num_outputs = 0;        // opset 18
};

Result<std::vector<int64_t>> split_sizes(const SplitParams& p, const KernelContext& ctx, int64_t dim, int n) {
  std::vector<int64_t> sizes = p.split_attr;
  if (p.split_from_input && ctx.input(1)) {
    CVT_ASSIGN_OR_RETURN(sizes, int_list_input(*ctx.input(1), "Split 'split'"));
  }
  if (!sizes.empty()) {
    if (static_cast<int>(sizes.size()) != n)
      return invalid_model("Split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(n) + " outputs");
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 0) return invalid_model("Split size " + std::to_string(s) + " is negative");
      total += s;
    }
    if (total != dim)
      return shape_mismatch("Split sizes " + shape_str(sizes) + " sum to " + std::to_string(total) +
                            ", axis has " + std::to_string(dim));
    return sizes;
  }
  if (p.num_outputs > 0) {
    // Opset 18: ceil-sized chunks, the last one smaller when uneven.
    const int64_t chunk = (dim + n - 1) / n;
    const int64_t last = dim - chunk * (n - 1);
    if (last < 0)
      return shape_mismatch("Split num_outputs " + std::to_string(n) + " does not fit axis size " + std::to_string(dim));
    sizes.assign(n, chunk);
    sizes.back() = last;
    return sizes;
  }
  if (dim % n != 0)
    return shape_mismatch("Split axis size " + std::to_string(dim) + " is not divisible by " + std::to_string(n) +
                          " outputs");
  return std::vector<int64_t>(n, dim / n);
}

KernelOr make_split(const NodeDesc& node) {
  SplitParams p;
  p.axis = node.attrs.get_int("axis", 0);
  p.split_from_input = node.opset >= 13 || node.opset == 1;
  if (node.opset < 13) p.split_attr = node.attrs.get_ints("split");
  if (node.opset >= 18) {
    p.num_outputs = node.attrs.get_int("num_outputs", 0);
    if (p.num_outputs > 0 && node.has_input(1))
      return invalid_model("Split has both the 'split' input and 'num_outputs'");
    if (p.num_outputs > 0 && p.num_outputs != static_cast<int64_t>(node.outputs.size()))
      return invalid_model("Split num_outputs " + std::to_string(p.num_outputs) + " but the node has " +
                           std::to_string(node.outputs.size()) + " outputs");
  }
  return make_kernel([p](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(p.axis, x->rank(), "Split axis"));
    const int n = ctx.num_outputs();
    if (n < 1) return invalid_model("Split has no outputs");
    CVT_ASSIGN_OR_RETURN(auto sizes, split_sizes(p, ctx, x->dim(axis), n));
    const size_t es = dtype_size(x->dtype());
    const int64_t outer = dims_product(x->shape(), 0, axis);
    const int64_t inner = dims_product(x->shape(), axis + 1, x->rank()) * static_cast<int64_t>(es);
    const int64_t in_row = x->dim(axis) * inner;
    int64_t offset = 0;
    for (int i = 0; i < n; ++i) {
      Shape s = x->shape();
      s[axis] = sizes[i];
      CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(i, x->dtype(), s));
      const int64_t chunk = sizes[i] * inner;
      const auto* src = static_cast<const uint8_t*>(x->raw()) + offset;
      auto* dst = static_cast<uint8_t*>(y->raw());
      if (chunk > 0)
        parallel_for(0, outer, grain_for_bytes(chunk), [&](int64_t lo, int64_t hi) {
          for (int64_t o = lo; o < hi; ++o) std::memcpy(dst + o * chunk, src + o * in_row, static_cast<size_t>(chunk));
        });
      offset += chunk;
    }
    return Status::ok();
  }, "split_copy");
}

// ---- Tile ---------------------------------------------------------------------------------

Status tile_copy(const Tensor& x, const std::vector<int64_t>& reps, KernelContext& ctx) {
  const int r = x.rank();
  if (static_cast<int>(reps.size()) != r)
    return invalid_model("Tile repeats has " + std::to_string(reps.size()) + " values for rank " + std::to_string(r));
  Shape out_shape(r);
  for (int k = 0; k < r; ++k) {
    if (reps[k] < 0) return invalid_model("Tile repeat " + std::to_string(reps[k]) + " is negative");
    if (reps[k] != 0 && x.dim(k) > Limits::kMaxElements / reps[k])
      return limit_exceeded("Tile output dimension " + std::to_string(x.dim(k)) + " x " + std::to_string(reps[k]) +
                            " exceeds the element limit");
    out_shape[k] = x.dim(k) * reps[k];
  }
  CVT_RETURN_IF_ERROR(check_shape(out_shape, x.dtype()).with_context("Tile"));
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), out_shape));
  if (y->numel() == 0) return Status::ok();
  const size_t es = dtype_size(x.dtype());
  if (r == 0) {
    std::memcpy(y->raw(), x.raw(), es);
    return Status::ok();
  }
  // Each output row (all axes but the last) is one input row repeated reps[r-1] times.
  const int64_t in_row = x.dim(r - 1) * static_cast<int64_t>(es);
  const int64_t out_row = in_row * reps[r - 1];
  const int64_t rows = dims_product(out_shape, 0, r - 1);
  std::vector<int64_t> in_strides = row_strides(x.shape());
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y->raw());
  parallel_for(0, rows, grain_for_bytes(out_row), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t rem = row, off = 0;
      for (int k = r - 2; k >= 0; --k) {
        off += (rem % out_shape[k]) % x.dim(k) * in_strides[k];
        rem /= out_shape[k];
      }
      uint8_t* d = dst + row * out_row;
      for (int64_t t = 0; t < reps[r - 1]; ++t)
        std::memcpy(d + t * in_row, src + off * static_cast<int64_t>(es), static_cast<size_t>(in_row));
    }
  });
  return Status::ok();
}

KernelOr make_tile(const NodeDesc& node) {
  const bool legacy = node.opset < 6;  // Tile-1: scalar 'tiles' and 'axis' inputs
  return make_kernel([legacy](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    CVT_ASSIGN_OR_RETURN(const Tensor* r, required_input(ctx, 1, "repeats"));
    if (!legacy) {
      CVT_ASSIGN_OR_RETURN(auto reps, int_list_input(*r, "Tile repeats"));
      return tile_copy(*x, reps, ctx);
    }
    CVT_ASSIGN_OR_RETURN(const Tensor* a, required_input(ctx, 2, "axis"));
    CVT_ASSIGN_OR_RETURN(int64_t tiles, int_scalar_input(*r, "Tile tiles"));
    CVT_ASSIGN_OR_RETURN(int64_t axis_raw, int_scalar_input(*a, "Tile axis"));
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(axis_raw, x->rank(), "Tile axis"));
    std::vector<int64_t> reps(x->rank(), 1);
    reps[axis] = tiles;
    return tile_copy(*x, reps, ctx);
  }, "tile_copy");
}

// ---- Range ---------------------------------------------------------------------------------

template <typename T>
Status range_fill(const Tensor& start_t, const Tensor& limit_t, const Tensor& delta_t, KernelContext& ctx) {
  const T start = start_t.data<T>()[0], limit = limit_t.data<T>()[0], delta = delta_t.data<T>()[0];
  if (delta == 0) return invalid_argument("Range delta is zero");
  int64_t count = 0;
  if constexpr (std::is_floating_point_v<T>) {
    const double c = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta));
    if (std::isnan(c)) return invalid_argument("Range start/limit/delta give no finite element count");
    if (c > static_cast<double>(Limits::kMaxElements))
      return limit_exceeded("Range would produce " + std::to_string(c) + " elements");
    count = c > 0 ? static_cast<int64_t>(c) : 0;
  } else {
    const __int128 diff = static_cast<__int128>(limit) - static_cast<__int128>(start);
    __int128 q = diff / delta;
    if (diff % delta != 0 && ((diff > 0) == (delta > 0))) ++q;
    if (q > Limits::kMaxElements) return limit_exceeded("Range would produce more than the element limit");
    count = q > 0 ? static_cast<int64_t>(q) : 0;
  }
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, dtype_of<T>(), {count}));
  T* out = y->data<T>();
  for (int64_t i = 0; i < count; ++i) {
    if constexpr (std::is_floating_point_v<T>)
      out[i] = static_cast<T>(static_cast<double>(start) + static_cast<double>(i) * static_cast<double>(delta));
    else
      out[i] = static_cast<T>(start + static_cast<T>(i) * delta);
  }
  return Status::ok();
}

KernelOr make_range(const NodeDesc&) {
  return make_kernel([](KernelContext& ctx) -> Status {
    const Tensor* in[3];
    const char* names[3] = {"start", "limit", "delta"};
    for (int i = 0; i < 3; ++i) {
      CVT_ASSIGN_OR_RETURN(in[i], required_input(ctx, i, names[i]));
      if (in[i]->numel() != 1) return invalid_model(std::string("Range ") + names[i] + " must be a scalar");
      if (in[i]->dtype() != in[0]->dtype()) return invalid_model("Range inputs have different dtypes");
    }
    switch (in[0]->dtype()) {
      case DType::kFloat32: return range_fill<float>(*in[0], *in[1], *in[2], ctx);
      case DType::kFloat64: return range_fill<double>(*in[0], *in[1], *in[2], ctx);
      case DType::kInt16: return range_fill<int16_t>(*in[0], *in[1], *in[2], ctx);
      case DType::kInt32: return range_fill<int32_t>(*in[0], *in[1], *in[2], ctx);
      case DType::kInt64: return range_fill<int64_t>(*in[0], *in[1], *in[2], ctx);
      default: return unsupported_dtype("Range", in[0]->dtype());
    }
  }, "range");
}

// ---- NonZero ----------------------------------------------------------------------------------

KernelOr make_non_zero(const NodeDesc&) {
  return make_kernel([](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    const int64_t n = x->numel();
    std::vector<uint8_t> nonzero(static_cast<size_t>(n));
    if (x->dtype() == DType::kFloat16) {
      for (int64_t i = 0; i < n; ++i) nonzero[i] = (x->data<uint16_t>()[i] & 0x7fff) != 0;
    } else {
      with_numeric_type(x->dtype(), [&](auto tag) {
        using T = decltype(tag);
        for (int64_t i = 0; i < n; ++i) nonzero[i] = x->data<T>()[i] != T(0);
      });
    }
    int64_t count = 0;
    for (uint8_t v : nonzero) count += v;
    // A scalar is treated as shape [1], as ONNX Runtime does.
    const Shape in_shape = x->rank() == 0 ? Shape{1} : x->shape();
    const int rank = static_cast<int>(in_shape.size());
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kInt64, {rank, count}));
    int64_t* out = y->data<int64_t>();
    std::vector<int64_t> idx(rank, 0);
    int64_t col = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (nonzero[i]) {
        for (int k = 0; k < rank; ++k) out[k * count + col] = idx[k];
        ++col;
      }
      for (int k = rank - 1; k >= 0 && ++idx[k] == in_shape[k]; --k) idx[k] = 0;
    }
    return Status::ok();
  }, "non_zero");
}

// ---- DepthToSpace / SpaceToDepth ---------------------------------------------------------------

// Both are a reshape to 6-D, a fixed permutation and a reshape back.
KernelOr make_depth_space(const NodeDesc& node, bool to_space) {
  const int64_t b = node.attrs.get_int("blocksize", 0);
  if (b <= 0) return invalid_model("'blocksize' must be positive, got " + std::to_string(b));
  const std::string mode = node.attrs.get_string("mode", "DCR");
  if (to_space && mode != "DCR" && mode != "CRD") return invalid_model("DepthToSpace mode '" + mode + "' is unknown");
  const bool crd = to_space && node.opset >= 11 && mode == "CRD";
  return make_kernel([b, to_space, crd](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "input"));
    if (x->rank() != 4) return shape_mismatch("input must be 4-D NCHW, got " + shape_str(x->shape()));
    const int64_t N = x->dim(0), C = x->dim(1), H = x->dim(2), W = x->dim(3);
    Shape six, out_shape;
    std::vector<int> perm;
    if (to_space) {
      if (C % (b * b) != 0)
        return shape_mismatch("DepthToSpace channels " + std::to_string(C) + " not divisible by blocksize^2");
      const int64_t c = C / (b * b);
      six = crd ? Shape{N, c, b, b, H, W} : Shape{N, b, b, c, H, W};
      perm = crd ? std::vector<int>{0, 1, 4, 2, 5, 3} : std::vector<int>{0, 3, 4, 1, 5, 2};
      out_shape = {N, c, H * b, W * b};
    } else {
      if (H % b != 0 || W % b != 0)
        return shape_mismatch("SpaceToDepth spatial size " + std::to_string(H) + "x" + std::to_string(W) +
                              " not divisible by blocksize");
      six = {N, C, H / b, b, W / b, b};
      perm = {0, 3, 5, 1, 2, 4};
      out_shape = {N, C * b * b, H / b, W / b};
    }
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), out_shape));
    if (ctx.use_reference())
      transpose_ref(x->raw(), y->raw(), six, perm, dtype_size(x->dtype()));
    else
      transpose_fast(x->raw(), y->raw(), six, perm, dtype_size(x->dtype()));
    return Status::ok();
  }, to_space ? "depth_to_space" : "space_to_depth");
}

KernelOr make_depth_to_space(const NodeDesc& node) { return make_depth_space(node, true); }
KernelOr make_space_to_depth(const NodeDesc& node) { return make_depth_space(node, false); }

}  // namespace

void register_tensor_ops(std::vector<OpSchema>& t) {
  constexpr int kMax = kTensorOpsMaxOpset;
  t.push_back({"", "Concat", 1, kMax, make_concat});
  t.push_back({"", "Split", 1, kMax, make_split});
  t.push_back({"", "Tile", 1, kMax, make_tile});
  t.push_back({"", "Range", 11, kMax, make_range});
  t.push_back({"", "NonZero", 9, kMax, make_non_zero});
  t.push_back({"", "DepthToSpace", 1, kMax, make_depth_to_space});
  t.push_back({"", "SpaceToDepth", 1, kMax, make_space_to_depth});
  register_slice_pad_ops(t);
  register_gather_scatter_ops(t);
  register_cast_ops(t);
  register_topk_ops(t);
}

}  // namespace cvt
