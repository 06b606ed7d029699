// Resize (opsets 10-21) and Upsample (1-9): per-opset parsing, then a kernel on
// the resize_plan.cpp plan: nearest gather (any dtype / rank), separable H/W blend
// (float, only the last two axes resized), else the N-D reference.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "ops/registry.h"
#include "ops/resize.h"
#include "ops/tensor_ops.h"

namespace cvt {
namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

// ---- fast kernels ------------------------------------------------------------------------

// The axis repeats each input twice in order (output j reads input j / 2): YOLO's
// and FPN's 2x nearest upsampling.
bool repeats_twice(const AxisTaps& a) {
  if (!a.outside.empty() || a.out_size != 2 * a.in_size) return false;
  for (int64_t j = 0; j < a.out_size; ++j)
    if (a.index[static_cast<size_t>(j)] != j / 2) return false;
  return true;
}

// One output row: each input value f times. A fixed f lets the compiler vectorize
// it; the index gather took 2-3 cycles a value.
template <class T, int F>
void repeat_row(const T* s, int64_t n, T* d) {
  for (int64_t i = 0; i < n; ++i)
    for (int t = 0; t < F; ++t) d[i * F + t] = s[i];
}

void resize_gather_fast(const Tensor& x, Tensor& y, const ResizePlan& plan) {
  const int r = x.rank();
  const size_t es = dtype_size(x.dtype());
  const std::vector<int64_t> strides = row_strides(x.shape());
  const AxisTaps& last = plan.axes[r - 1];
  const int64_t row_len = y.dim(r - 1);
  const int64_t rows = y.numel() / row_len;
  const size_t row_bytes = static_cast<size_t>(row_len) * es;
  uint64_t extrapolation = 0;
  store_double_as(x.dtype(), plan.extrapolation_value, &extrapolation);
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  const bool twice = repeats_twice(last);
  parallel_for(0, rows, std::max<int64_t>(1, 16384 / row_len), [&](int64_t lo, int64_t hi) {
    // The row's output coordinates on the leading axes, stepped like an odometer:
    // dividing them out of the row number every row cost 10-20% of the time on
    // YOLOX's short upsampled rows (26 and 52 values) once they were copied fast.
    std::vector<int64_t> pos(static_cast<size_t>(std::max(r - 1, 0)));
    int64_t first = lo;
    for (int k = r - 2; k >= 0; --k) {
      pos[static_cast<size_t>(k)] = first % plan.axes[k].out_size;
      first /= plan.axes[k].out_size;
    }
    int64_t prev_off = -1;
    for (int64_t row = lo; row < hi; ++row) {
      if (row > lo)
        for (int k = r - 2; k >= 0 && ++pos[static_cast<size_t>(k)] == plan.axes[k].out_size; --k)
          pos[static_cast<size_t>(k)] = 0;
      uint8_t* out = dst + row * static_cast<int64_t>(row_bytes);
      int64_t off = 0;
      bool outside = false;
      for (int k = 0; k <= r - 2; ++k) {
        const AxisTaps& a = plan.axes[k];
        const int64_t p = pos[static_cast<size_t>(k)];
        if (!a.outside.empty() && a.outside[p]) outside = true;
        off += a.index[p] * strides[k];
      }
      if (outside) {
        fill_bytes(out, row_len, &extrapolation, es);
        prev_off = -1;
        continue;
      }
      if (off == prev_off) {  // upsampled rows repeat the row above
        std::memcpy(out, out - row_bytes, row_bytes);
        continue;
      }
      prev_off = off;
      with_element_size(es, [&](auto tag) {
        using T = decltype(tag);
        const T* s = reinterpret_cast<const T*>(src) + off;
        T* d = reinterpret_cast<T*>(out);
        T extra;
        std::memcpy(&extra, &extrapolation, sizeof(T));
        const int64_t* idx = last.index.data();
        if (twice) {
          repeat_row<T, 2>(s, last.in_size, d);
        } else if (last.outside.empty()) {
          for (int64_t j = 0; j < row_len; ++j) d[j] = s[idx[j]];
        } else {
          for (int64_t j = 0; j < row_len; ++j) d[j] = last.outside[j] ? extra : s[idx[j]];
        }
      });
    }
  });
}

// True when only the last two axes move data (the rest are identity).
bool only_last_two_resized(const ResizePlan& plan) {
  const int r = static_cast<int>(plan.axes.size());
  for (int k = 0; k + 2 < r; ++k)
    if (!plan.axes[k].identity()) return false;
  return r >= 1;
}

// out[i] = sum_k w[i*kTaps+k] * row[idx[i*kTaps+k]] for one output row.
// kTaps = 0 means "taps given at run time"; fixed counts let the compiler
// keep the sum in registers and overlap consecutive outputs.
template <typename T, int kTaps>
void blend_columns(const T* __restrict row, T* __restrict out, const int64_t* __restrict idx,
                   const float* __restrict w, const uint8_t* outside, T extra, int64_t n, int taps) {
  const int t = kTaps > 0 ? kTaps : taps;
  for (int64_t i = 0; i < n; ++i) {
    T acc = T(0);
    for (int k = 0; k < t; ++k) acc += static_cast<T>(w[i * t + k]) * row[idx[i * t + k]];
    out[i] = acc;
  }
  if (outside)
    for (int64_t i = 0; i < n; ++i)
      if (outside[i]) out[i] = extra;
}

// in (P, Hin, Win) -> out (P, Hout, Wout): blend taps_y input rows into one
// row of Win, then blend taps_x columns of it per output pixel.
template <typename T>
void resize_separable_hw(const Tensor& x, Tensor& y, const ResizePlan& plan) {
  const int r = x.rank();
  AxisTaps unit_axis;  // rank-1 inputs: a height of 1 that is not resized
  unit_axis.in_size = unit_axis.out_size = 1;
  unit_axis.index = {0};
  unit_axis.weight = {1.f};
  const AxisTaps& ay = r >= 2 ? plan.axes[r - 2] : unit_axis;
  const AxisTaps& ax = plan.axes[r - 1];
  const int64_t Hin = ay.in_size, Win = ax.in_size, Hout = ay.out_size, Wout = ax.out_size;
  const int64_t planes = y.numel() / (Hout * Wout);
  const T extra = static_cast<T>(plan.extrapolation_value);
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  const int64_t* y_index = ay.index.data();
  const float* y_weight = ay.weight.data();
  const uint8_t* y_outside = ay.outside.empty() ? nullptr : ay.outside.data();
  const int64_t* x_index = ax.index.data();
  const float* x_weight = ax.weight.data();
  const uint8_t* x_outside = ax.outside.empty() ? nullptr : ax.outside.data();
  const int y_taps = ay.taps, x_taps = ax.taps;
  auto blend = x_taps == 1   ? &blend_columns<T, 1>
               : x_taps == 2 ? &blend_columns<T, 2>
               : x_taps == 4 ? &blend_columns<T, 4>
                             : &blend_columns<T, 0>;
  parallel_for(0, planes * Hout, std::max<int64_t>(1, 8192 / (Wout + Win)), [&](int64_t lo, int64_t hi) {
    std::vector<T> blended(static_cast<size_t>(Win));
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t plane = t / Hout, oy = t % Hout;
      T* out = dst + t * Wout;
      if (y_outside && y_outside[oy]) {
        std::fill_n(out, Wout, extra);
        continue;
      }
      const T* in_plane = src + plane * Hin * Win;
      const T* row = nullptr;
      if (y_taps == 1 && y_weight[oy] == 1.f) {
        row = in_plane + y_index[oy] * Win;
      } else {
        T* __restrict b = blended.data();
        std::fill_n(b, Win, T(0));
        for (int k = 0; k < y_taps; ++k) {
          const T w = static_cast<T>(y_weight[oy * y_taps + k]);
          if (w == T(0)) continue;
          const T* __restrict in_row = in_plane + y_index[oy * y_taps + k] * Win;
          for (int64_t i = 0; i < Win; ++i) b[i] += w * in_row[i];
        }
        row = b;
      }
      blend(row, out, x_index, x_weight, x_outside, extra, Wout, x_taps);
    }
  });
}

// ---- parameters ------------------------------------------------------------------------------

struct ResizeNode {
  ResizeParams params;
  bool legacy = false;        // Upsample / Resize-10: [X, scales]
  bool is_upsample = false;
  std::vector<float> scales_attr;  // Upsample 1-8
};

Result<std::vector<double>> float_values(const Tensor& t, const char* what) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  switch (t.dtype()) {
    case DType::kFloat32:
      for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.data<float>()[i];
      break;
    case DType::kFloat64:
      for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.data<double>()[i];
      break;
    case DType::kFloat16:
      for (int64_t i = 0; i < t.numel(); ++i) v[i] = half_to_float(t.data<uint16_t>()[i]);
      break;
    default: return invalid_model(std::string(what) + " must be a float tensor, got " + dtype_name(t.dtype()));
  }
  return v;
}

Result<ResizeNode> parse_resize(const NodeDesc& node) {
  ResizeNode n;
  ResizeParams& p = n.params;
  n.is_upsample = node.op_type == "Upsample";
  n.legacy = n.is_upsample || node.opset < 11;
  const std::string mode = node.attrs.get_string("mode", "nearest");
  if (mode == "nearest") p.mode = ResizeMode::kNearest;
  else if (mode == "linear" || (n.legacy && mode == "bilinear")) p.mode = ResizeMode::kLinear;
  else if (mode == "cubic" && !n.legacy) p.mode = ResizeMode::kCubic;
  else return invalid_model("mode '" + mode + "' is not supported");
  if (n.legacy) {
    p.coord = ResizeCoord::kAsymmetric;
    p.nearest = ResizeNearest::kSimple;
    if (n.is_upsample && node.opset < 7) {
      n.scales_attr = {1.f, 1.f, node.attrs.get_float("height_scale", 1.f), node.attrs.get_float("width_scale", 1.f)};
    } else if (n.is_upsample && node.opset < 9) {
      if (!node.attrs.has("scales")) return invalid_model("Upsample needs the 'scales' attribute");
      n.scales_attr = node.attrs.get_floats("scales");
    }
    return n;
  }
  static const std::pair<const char*, ResizeCoord> kCoords[] = {
      {"half_pixel", ResizeCoord::kHalfPixel},
      {"half_pixel_symmetric", ResizeCoord::kHalfPixelSymmetric},
      {"pytorch_half_pixel", ResizeCoord::kPytorchHalfPixel},
      {"align_corners", ResizeCoord::kAlignCorners},
      {"asymmetric", ResizeCoord::kAsymmetric},
      {"tf_half_pixel_for_nn", ResizeCoord::kTfHalfPixelForNn},
      {"tf_crop_and_resize", ResizeCoord::kTfCropAndResize}};
  const std::string coord = node.attrs.get_string("coordinate_transformation_mode", "half_pixel");
  bool found = false;
  for (const auto& [name, value] : kCoords)
    if (coord == name) {
      p.coord = value;
      found = true;
    }
  if (!found) return invalid_model("coordinate_transformation_mode '" + coord + "' is unknown");
  static const std::pair<const char*, ResizeNearest> kNearest[] = {
      {"round_prefer_floor", ResizeNearest::kRoundPreferFloor},
      {"round_prefer_ceil", ResizeNearest::kRoundPreferCeil},
      {"floor", ResizeNearest::kFloor},
      {"ceil", ResizeNearest::kCeil}};
  const std::string nearest = node.attrs.get_string("nearest_mode", "round_prefer_floor");
  found = false;
  for (const auto& [name, value] : kNearest)
    if (nearest == name) {
      p.nearest = value;
      found = true;
    }
  if (!found) return invalid_model("nearest_mode '" + nearest + "' is unknown");
  p.cubic_a = node.attrs.get_float("cubic_coeff_a", -0.75f);
  p.exclude_outside = node.attrs.get_int("exclude_outside", 0) != 0;
  p.extrapolation_value = node.attrs.get_float("extrapolation_value", 0.f);
  if (node.opset >= 18) {
    p.antialias = node.attrs.get_int("antialias", 0) != 0;
    p.axes = node.attrs.get_ints("axes");
    const std::string policy = node.attrs.get_string("keep_aspect_ratio_policy", "stretch");
    if (policy == "stretch") p.aspect = ResizeAspect::kStretch;
    else if (policy == "not_larger") p.aspect = ResizeAspect::kNotLarger;
    else if (policy == "not_smaller") p.aspect = ResizeAspect::kNotSmaller;
    else return invalid_model("keep_aspect_ratio_policy '" + policy + "' is unknown");
  }
  return n;
}

// Scales / sizes / roi for this run, expanded from `axes` to the full rank.
Result<ResizeRequest> read_request(const ResizeNode& n, const KernelContext& ctx, const Shape& in_shape,
                                   std::vector<int64_t>* axes_out) {
  const int r = static_cast<int>(in_shape.size());
  ResizeRequest req;
  if (n.legacy) {
    if (!n.scales_attr.empty()) {
      req.scales.assign(n.scales_attr.begin(), n.scales_attr.end());
    } else {
      CVT_ASSIGN_OR_RETURN(const Tensor* s, required_input(ctx, 1, "scales"));
      CVT_ASSIGN_OR_RETURN(req.scales, float_values(*s, "scales"));
    }
    if (n.is_upsample)
      for (double s : req.scales)
        if (s < 1) return invalid_model("Upsample scale " + std::to_string(s) + " is below 1");
    *axes_out = {};
    return req;
  }
  std::vector<int> axes(r);
  for (int k = 0; k < r; ++k) axes[k] = k;
  if (!n.params.axes.empty()) {
    CVT_ASSIGN_OR_RETURN(axes, normalize_axes(n.params.axes, r, "Resize axis"));
  }
  axes_out->assign(axes.begin(), axes.end());
  const size_t na = axes.size();
  const Tensor* scales = ctx.input(2);
  const Tensor* sizes = ctx.input(3);
  if (scales && scales->numel() > 0) {
    CVT_ASSIGN_OR_RETURN(auto v, float_values(*scales, "scales"));
    if (v.size() != na) return invalid_model("Resize scales has " + std::to_string(v.size()) + " values for " +
                                             std::to_string(na) + " axes");
    req.scales.assign(r, 1.0);
    for (size_t i = 0; i < na; ++i) req.scales[axes[i]] = v[i];
  }
  if (sizes && sizes->numel() > 0) {
    CVT_ASSIGN_OR_RETURN(auto v, int_list_input(*sizes, "Resize sizes"));
    if (v.size() != na) return invalid_model("Resize sizes has " + std::to_string(v.size()) + " values for " +
                                             std::to_string(na) + " axes");
    req.sizes = in_shape;
    for (size_t i = 0; i < na; ++i) req.sizes[axes[i]] = v[i];
  }
  const Tensor* roi = ctx.input(1);
  if (n.params.coord == ResizeCoord::kTfCropAndResize && roi && roi->numel() > 0) {
    CVT_ASSIGN_OR_RETURN(auto v, float_values(*roi, "roi"));
    if (v.size() != 2 * na) return invalid_model("Resize roi must hold 2 values per axis");
    req.roi.assign(2 * r, 0.0);
    for (int k = 0; k < r; ++k) req.roi[r + k] = 1.0;
    for (size_t i = 0; i < na; ++i) {
      req.roi[axes[i]] = v[i];
      req.roi[r + axes[i]] = v[na + i];
    }
  }
  return req;
}

class ResizeKernel final : public Kernel {
 public:
  explicit ResizeKernel(ResizeNode node) : node_(std::move(node)) {}
  std::string impl_name() const override { return impl_.load(); }

  Status run(KernelContext& ctx) override {
    CVT_ASSIGN_OR_RETURN(const Tensor* x, required_input(ctx, 0, "X"));
    if (x->rank() == 0) return shape_mismatch("Resize input must have rank >= 1");
    const bool interpolate = node_.params.mode != ResizeMode::kNearest;
    if (interpolate && x->dtype() != DType::kFloat32 && x->dtype() != DType::kFloat64)
      return unsupported("Resize linear/cubic supports float32 and float64, got " + std::string(dtype_name(x->dtype())));
    ResizeParams params = node_.params;
    CVT_ASSIGN_OR_RETURN(ResizeRequest req, read_request(node_, ctx, x->shape(), &params.axes));
    CVT_ASSIGN_OR_RETURN(ResizePlan plan, plan_resize(params, x->shape(), req));
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), plan.out_shape));
    if (y->numel() == 0) return Status::ok();
    if (ctx.use_reference()) {
      impl_ = "resize_ref";
      resize_ref(*x, *y, plan);
    } else if (plan.nearest) {
      impl_ = "resize_nearest_gather";
      resize_gather_fast(*x, *y, plan);
    } else if (only_last_two_resized(plan)) {
      impl_ = x->dtype() == DType::kFloat32 ? "resize_separable_hw_f32" : "resize_separable_hw_f64";
      if (x->dtype() == DType::kFloat32)
        resize_separable_hw<float>(*x, *y, plan);
      else
        resize_separable_hw<double>(*x, *y, plan);
    } else {
      impl_ = "resize_ref_nd";
      resize_ref(*x, *y, plan);
    }
    return Status::ok();
  }

 private:
  ResizeNode node_;
  // The path depends on run-time shapes; atomic because one kernel may run
  // in several sessions at once.
  std::atomic<const char*> impl_{"resize"};
};

KernelOr make_resize(const NodeDesc& node) {
  CVT_ASSIGN_OR_RETURN(ResizeNode n, parse_resize(node));
  return std::unique_ptr<Kernel>(std::make_unique<ResizeKernel>(std::move(n)));
}

}  // namespace

void register_resize_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "Resize", 10, kTensorOpsMaxOpset, make_resize});
  t.push_back({"", "Upsample", 1, 9, make_resize});
}

}  // namespace cvt
