// Slice and Pad: per-axis index maps from output to input, then row copies.
// Slice clamps starts/ends the ONNX way (INT64_MIN/MAX included); Pad crops
// for negative pads first, then pads the cropped tensor (as ONNX Runtime does).
#include <algorithm>
#include <cstring>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"

namespace cvt {
namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

// ---- Slice ------------------------------------------------------------------------------

struct SliceArgs {
  std::vector<int64_t> starts, ends, axes, steps;
  bool has_axes = false, has_steps = false;
};

Status slice_copy(const Tensor& x, const SliceArgs& a, KernelContext& ctx) {
  const int r = x.rank();
  if (a.starts.size() != a.ends.size())
    return invalid_model("Slice starts has " + std::to_string(a.starts.size()) + " values, ends has " +
                         std::to_string(a.ends.size()));
  const size_t n = a.starts.size();
  if (a.has_axes && a.axes.size() != n) return invalid_model("Slice axes length differs from starts length");
  if (a.has_steps && a.steps.size() != n) return invalid_model("Slice steps length differs from starts length");
  std::vector<int64_t> start(r, 0), step(r, 1);
  Shape out_shape = x.shape();
  std::vector<bool> seen(r, false);
  for (size_t i = 0; i < n; ++i) {
    CVT_ASSIGN_OR_RETURN(int axis, normalize_axis(a.has_axes ? a.axes[i] : static_cast<int64_t>(i), r, "Slice axis"));
    if (seen[axis]) return invalid_model("Slice axes repeat axis " + std::to_string(axis));
    seen[axis] = true;
    const int64_t d = x.dim(axis);
    const int64_t st = a.has_steps ? a.steps[i] : 1;
    if (st == 0) return invalid_model("Slice step is 0");
    int64_t b = a.starts[i], e = a.ends[i];
    if (b < 0) b += d;
    if (e < 0) e += d;
    int64_t count = 0;
    if (d > 0 && st > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      if (e > b) count = (e - b + st - 1) / st;
    } else if (d > 0) {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      // -st cannot overflow usefully: a step of INT64_MIN takes one element.
      if (b > e) count = st == INT64_MIN ? 1 : (b - e + (-st) - 1) / (-st);
    }
    start[axis] = count > 0 ? b : 0;
    step[axis] = st;
    out_shape[axis] = count;
  }
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), out_shape));
  if (y->numel() == 0) return Status::ok();
  const size_t es = dtype_size(x.dtype());
  if (r == 0) {
    std::memcpy(y->raw(), x.raw(), es);
    return Status::ok();
  }
  std::vector<int64_t> strides = row_strides(x.shape());
  const int64_t row_len = out_shape[r - 1];
  const int64_t rows = y->numel() / row_len;
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y->raw());
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / row_len);
  const auto copy_stride2 = active_isa() >= Isa::kAvx2 ? copy_stride2_b32__avx2 : copy_stride2_b32__scalar;
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t rem = row, off = start[r - 1];
      for (int k = r - 2; k >= 0; --k) {
        off += (start[k] + (rem % out_shape[k]) * step[k]) * strides[k];
        rem /= out_shape[k];
      }
      uint8_t* d = dst + static_cast<size_t>(row * row_len) * es;
      if (step[r - 1] == 1) {
        std::memcpy(d, src + static_cast<size_t>(off) * es, static_cast<size_t>(row_len) * es);
      } else if (step[r - 1] == 2 && es == 4) {  // every other 4-byte element (YOLOX's Focus)
        copy_stride2(reinterpret_cast<const uint32_t*>(src) + off, row_len, reinterpret_cast<uint32_t*>(d));
      } else {
        with_element_size(es, [&](auto tag) {
          using T = decltype(tag);
          const T* s = reinterpret_cast<const T*>(src) + off;
          T* o = reinterpret_cast<T*>(d);
          for (int64_t j = 0; j < row_len; ++j) o[j] = s[j * step[r - 1]];
        });
      }
    }
  });
  return Status::ok();
}

}  // namespace

void copy_stride2_b32__scalar(const uint32_t* src, int64_t n, uint32_t* dst) noexcept {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[2 * i];
}

namespace {

KernelOr make_slice(const NodeDesc& node) {
  if (node.opset < 10) {
    SliceArgs a;
    if (!node.attrs.has("starts") || !node.attrs.has("ends"))
      return invalid_model("Slice-1 needs the 'starts' and 'ends' attributes");
    a.starts = node.attrs.get_ints("starts");
    a.ends = node.attrs.get_ints("ends");
    a.has_axes = node.attrs.has("axes");
    a.axes = node.attrs.get_ints("axes");
    return make_kernel([a](KernelContext& ctx) -> Status {
      CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
      return slice_copy(*x, a, ctx);
    }, "slice_copy");
  }
  return make_kernel([](KernelContext& ctx) -> Status {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
    CVT_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 1, "starts"));
    CVT_ASSIGN_OR_RETURN(const Tensor* e, required_input(ctx, 2, "ends"));
    SliceArgs a;
    CVT_ASSIGN_OR_RETURN(a.starts, int_list_input(*s, "Slice starts"));
    CVT_ASSIGN_OR_RETURN(a.ends, int_list_input(*e, "Slice ends"));
    if (const Tensor* axes = ctx.input(3)) {
      a.has_axes = true;
      CVT_ASSIGN_OR_RETURN(a.axes, int_list_input(*axes, "Slice axes"));
    }
    if (const Tensor* steps = ctx.input(4)) {
      a.has_steps = true;
      CVT_ASSIGN_OR_RETURN(a.steps, int_list_input(*steps, "Slice steps"));
    }
    return slice_copy(*x, a, ctx);
  }, "slice_copy");
}

// ---- Pad ----------------------------------------------------------------------------------

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// Index into a cropped axis of length m for a position i outside [0, m).
int64_t pad_source(int64_t i, int64_t m, PadMode mode) {
  switch (mode) {
    case PadMode::kEdge: return std::clamp<int64_t>(i, 0, m - 1);
    case PadMode::kWrap: return ((i % m) + m) % m;
    case PadMode::kReflect: {
      if (m == 1) return 0;
      const int64_t period = 2 * (m - 1);  // numpy 'reflect' repeats with this period
      int64_t j = ((i % period) + period) % period;
      return j < m ? j : period - j;
    }
    case PadMode::kConstant: break;
  }
  return -1;
}

struct PadParams {
  PadMode mode = PadMode::kConstant;
  bool pads_from_input = true;     // opset 11+
  std::vector<int64_t> pads_attr;  // opset < 11
  float value_attr = 0.f;
};

Status pad_run(const PadParams& p, KernelContext& ctx) {
  CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "data"));
  const int r = x->rank();
  const size_t es = dtype_size(x->dtype());
  std::vector<int64_t> raw = p.pads_attr;
  std::vector<int> axes(r);
  for (int k = 0; k < r; ++k) axes[k] = k;
  uint64_t value_bytes = 0;
  if (p.pads_from_input) {
    CVT_ASSIGN_OR_RETURN(const Tensor* pads, required_input(ctx, 1, "pads"));
    CVT_ASSIGN_OR_RETURN(raw, int_list_input(*pads, "Pad pads"));
    if (const Tensor* v = ctx.input(2); v && v->numel() > 0) {
      if (v->dtype() != x->dtype()) return invalid_model("Pad constant_value dtype differs from data");
      std::memcpy(&value_bytes, v->raw(), es);
    }
    if (const Tensor* ax = ctx.input(3)) {
      CVT_ASSIGN_OR_RETURN(auto raw_axes, int_list_input(*ax, "Pad axes"));
      CVT_ASSIGN_OR_RETURN(axes, normalize_axes(raw_axes, r, "Pad axis"));
    }
  } else {
    store_double_as(x->dtype(), p.value_attr, &value_bytes);
  }
  const size_t na = axes.size();
  if (raw.size() != 2 * na)
    return invalid_model("Pad pads has " + std::to_string(raw.size()) + " values, expected " + std::to_string(2 * na));
  std::vector<int64_t> before(r, 0), after(r, 0);
  for (size_t i = 0; i < na; ++i) {
    before[axes[i]] = raw[i];
    after[axes[i]] = raw[i + na];
  }
  // Per axis: crop [crop_begin, crop_begin + kept), then pad around it.
  Shape out_shape(r);
  std::vector<std::vector<int64_t>> maps(r);  // output index -> input index, -1 = constant
  for (int k = 0; k < r; ++k) {
    const int64_t d = x->dim(k);
    const int64_t crop_begin = std::max<int64_t>(0, -before[k]);
    const int64_t kept = d - crop_begin - std::max<int64_t>(0, -after[k]);
    const int64_t pad_b = std::max<int64_t>(0, before[k]), pad_e = std::max<int64_t>(0, after[k]);
    if (kept < 0) return shape_mismatch("Pad crops more than axis " + std::to_string(k) + " holds");
    if (pad_b > Limits::kMaxElements || pad_e > Limits::kMaxElements || kept + pad_b + pad_e > Limits::kMaxElements)
      return limit_exceeded("Pad output dimension exceeds the element limit");
    out_shape[k] = kept + pad_b + pad_e;
    if (kept == 0 && p.mode != PadMode::kConstant && out_shape[k] > 0)
      return shape_mismatch("Pad cannot use a non-constant mode on an empty axis " + std::to_string(k));
  }
  CVT_RETURN_IF_ERROR(check_shape(out_shape, x->dtype()).with_context("Pad"));
  for (int k = 0; k < r; ++k) {
    const int64_t crop_begin = std::max<int64_t>(0, -before[k]);
    const int64_t pad_b = std::max<int64_t>(0, before[k]);
    const int64_t kept = out_shape[k] - pad_b - std::max<int64_t>(0, after[k]);
    maps[k].resize(out_shape[k]);
    for (int64_t o = 0; o < out_shape[k]; ++o) {
      const int64_t i = o - pad_b;
      const int64_t j = i >= 0 && i < kept ? i : pad_source(i, kept, p.mode);
      maps[k][o] = j < 0 ? -1 : crop_begin + j;
    }
  }
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), out_shape));
  if (y->numel() == 0) return Status::ok();
  if (r == 0) {
    std::memcpy(y->raw(), x->raw(), es);
    return Status::ok();
  }
  const std::vector<int64_t> strides = row_strides(x->shape());
  const int64_t row_len = out_shape[r - 1];
  const int64_t rows = y->numel() / row_len;
  const std::vector<int64_t>& last_map = maps[r - 1];
  // The run of last-axis outputs that copies contiguously from the input.
  const int64_t mid_begin = std::max<int64_t>(0, before[r - 1]);
  const int64_t mid_len = row_len - mid_begin - std::max<int64_t>(0, after[r - 1]);
  const auto* src = static_cast<const uint8_t*>(x->raw());
  auto* dst = static_cast<uint8_t*>(y->raw());
  parallel_for(0, rows, std::max<int64_t>(1, (int64_t(1) << 15) / row_len), [&](int64_t lo, int64_t hi) {
    with_element_size(es, [&](auto tag) {
      using T = decltype(tag);
      T value;
      std::memcpy(&value, &value_bytes, sizeof(T));
      const T* s = reinterpret_cast<const T*>(src);
      for (int64_t row = lo; row < hi; ++row) {
        T* o = reinterpret_cast<T*>(dst) + row * row_len;
        int64_t rem = row, off = 0;
        bool outside = false;
        for (int k = r - 2; k >= 0; --k) {
          const int64_t m = maps[k][rem % out_shape[k]];
          rem /= out_shape[k];
          if (m < 0) outside = true;
          off += m * strides[k];
        }
        if (outside) {
          std::fill_n(o, row_len, value);
          continue;
        }
        for (int64_t j = 0; j < mid_begin; ++j) o[j] = last_map[j] < 0 ? value : s[off + last_map[j]];
        if (mid_len > 0) std::memcpy(o + mid_begin, s + off + last_map[mid_begin], static_cast<size_t>(mid_len) * sizeof(T));
        for (int64_t j = mid_begin + std::max<int64_t>(0, mid_len); j < row_len; ++j)
          o[j] = last_map[j] < 0 ? value : s[off + last_map[j]];
      }
    });
  });
  return Status::ok();
}

KernelOr make_pad(const NodeDesc& node) {
  PadParams p;
  const std::string mode = node.attrs.get_string("mode", "constant");
  if (mode == "constant") p.mode = PadMode::kConstant;
  else if (mode == "reflect") p.mode = PadMode::kReflect;
  else if (mode == "edge") p.mode = PadMode::kEdge;
  else if (mode == "wrap") p.mode = PadMode::kWrap;
  else return invalid_model("Pad mode '" + mode + "' is unknown");
  p.pads_from_input = node.opset >= 11;
  if (!p.pads_from_input) {
    const char* name = node.opset < 2 ? "paddings" : "pads";
    if (!node.attrs.has(name)) return invalid_model(std::string("Pad needs the '") + name + "' attribute");
    p.pads_attr = node.attrs.get_ints(name);
    p.value_attr = node.attrs.get_float("value", 0.f);
  }
  return make_kernel([p](KernelContext& ctx) { return pad_run(p, ctx); }, "pad_copy");
}

}  // namespace

void register_slice_pad_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "Slice", 1, kTensorOpsMaxOpset, make_slice});
  t.push_back({"", "Pad", 1, kTensorOpsMaxOpset, make_pad});
}

}  // namespace cvt
