// Resize planning: output sizes and per-axis tap tables (see resize.h).
// Coordinates are computed in double from the float scales, as the ONNX
// reference does, so rounding ties in nearest mode land the same way.
#include <algorithm>
#include <cmath>

#include "ops/resize.h"

namespace cvt {

bool AxisTaps::identity() const {
  if (in_size != out_size || taps != 1) return false;
  for (int64_t o = 0; o < out_size; ++o)
    if (index[o] != o || weight[o] != 1.f || (!outside.empty() && outside[o])) return false;
  return true;
}

namespace {

// Input coordinate of output index `o`. `out_width` is scale * in_size (not
// rounded), which is what align_corners and tf_crop_and_resize divide by.
double source_coordinate(ResizeCoord coord, double o, double scale, int64_t in_size, int64_t out_size,
                         double roi_start, double roi_end) {
  const double in = static_cast<double>(in_size);
  const double out_width = scale * in;
  switch (coord) {
    case ResizeCoord::kHalfPixel: return (o + 0.5) / scale - 0.5;
    case ResizeCoord::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out_size) / out_width;
      const double offset = in / 2 * (1 - adjustment);
      return offset + (o + 0.5) / scale - 0.5;
    }
    case ResizeCoord::kPytorchHalfPixel: return out_size > 1 ? (o + 0.5) / scale - 0.5 : 0.0;
    case ResizeCoord::kAlignCorners: return out_width == 1 ? 0.0 : o * (in - 1) / (out_width - 1);
    case ResizeCoord::kAsymmetric: return o / scale;
    case ResizeCoord::kTfHalfPixelForNn: return (o + 0.5) / scale;
    case ResizeCoord::kTfCropAndResize: {
      // Same operation order as the ONNX reference, so boundary tests agree.
      const double x = out_width == 1 ? (roi_end - roi_start) * (in - 1) / 2
                                      : o * (roi_end - roi_start) * (in - 1) / (out_width - 1);
      return x + roi_start * (in - 1);
    }
  }
  return 0.0;
}

int64_t nearest_index(ResizeNearest mode, double x, double scale) {
  switch (mode) {
    case ResizeNearest::kRoundPreferFloor: return static_cast<int64_t>(std::ceil(x - 0.5));
    case ResizeNearest::kRoundPreferCeil: return static_cast<int64_t>(std::floor(x + 0.5));
    case ResizeNearest::kFloor: return static_cast<int64_t>(std::floor(x));
    case ResizeNearest::kCeil: return static_cast<int64_t>(std::ceil(x));
    case ResizeNearest::kSimple:
      return static_cast<int64_t>(scale < 1 ? std::ceil(x) : std::floor(x));
  }
  return 0;
}

double cubic_kernel(double d, double a) {
  d = std::fabs(d);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0.0;
}

// Weights of taps base+first .. base+first+count-1 for a point `ratio` past
// `base`. Without antialias these are the classic 2 (linear) / 4 (cubic)
// taps; with it, the kernel is stretched by 1/scale when downsampling.
void filter_taps(const ResizeParams& p, double ratio, double scale, int* first, std::vector<double>* w) {
  const bool stretch = p.antialias && scale < 1;
  const double s = stretch ? scale : 1.0;
  w->clear();
  if (p.mode == ResizeMode::kLinear) {
    const int start = stretch ? static_cast<int>(std::floor(-1 / s)) + 1 : 0;
    const int count = 2 - 2 * start;
    for (int i = start; i < start + count; ++i) w->push_back(std::max(0.0, 1 - std::fabs((i - ratio) * s)));
    *first = start;
  } else {
    const int start = stretch ? static_cast<int>(std::floor(-2 / s)) + 1 : -1;
    const int end = 2 - start;
    for (int i = start; i < end; ++i) w->push_back(cubic_kernel((i - ratio) * s, p.cubic_a));
    *first = start;
  }
  if (stretch) {
    double sum = 0;
    for (double v : *w) sum += v;
    if (sum != 0)
      for (double& v : *w) v /= sum;
  }
}

AxisTaps build_axis(const ResizeParams& p, int64_t in, int64_t out, double scale, double roi_start, double roi_end) {
  AxisTaps a;
  a.in_size = in;
  a.out_size = out;
  if (out == 0 || in == 0) return a;
  const bool crop = p.coord == ResizeCoord::kTfCropAndResize;
  std::vector<double> w;
  int first = 0;
  if (p.mode != ResizeMode::kNearest) filter_taps(p, 0.5, scale, &first, &w);  // tap count only
  a.taps = p.mode == ResizeMode::kNearest ? 1 : static_cast<int>(w.size());
  a.index.assign(static_cast<size_t>(out * a.taps), 0);
  a.weight.assign(static_cast<size_t>(out * a.taps), 0.f);
  if (crop) a.outside.assign(static_cast<size_t>(out), 0);
  for (int64_t o = 0; o < out; ++o) {
    const double x = source_coordinate(p.coord, static_cast<double>(o), scale, in, out, roi_start, roi_end);
    if (crop && (x < 0 || x > static_cast<double>(in - 1))) {
      a.outside[o] = 1;
      continue;
    }
    int64_t* idx = &a.index[o * a.taps];
    float* wt = &a.weight[o * a.taps];
    if (p.mode == ResizeMode::kNearest) {
      idx[0] = std::clamp<int64_t>(nearest_index(p.nearest, x, scale), 0, in - 1);
      wt[0] = 1.f;
      continue;
    }
    // The point sits in (base, base+1]: an integral x uses base = x-1 and
    // ratio 1, which keeps the tap window the ONNX reference picks.
    const double fl = std::floor(x);
    const bool integral = fl == x;
    const int64_t base = static_cast<int64_t>(fl) - (integral ? 1 : 0);
    const double ratio = integral ? 1.0 : x - fl;
    filter_taps(p, ratio, scale, &first, &w);
    if (p.exclude_outside) {
      double sum = 0;
      for (int t = 0; t < a.taps; ++t) {
        const int64_t raw = base + first + t;
        if (raw < 0 || raw >= in) w[t] = 0;
        sum += w[t];
      }
      if (sum != 0)
        for (double& v : w) v /= sum;
    }
    for (int t = 0; t < a.taps; ++t) {
      idx[t] = std::clamp<int64_t>(base + first + t, 0, in - 1);
      wt[t] = static_cast<float>(w[t]);
    }
  }
  // Collapse to one tap when every output has at most one non-zero weight
  // (unresized axes, integral coordinates): the kernels then skip zeros.
  if (a.taps > 1) {
    bool single = true;
    for (int64_t o = 0; o < out && single; ++o) {
      int nonzero = 0;
      for (int t = 0; t < a.taps; ++t) nonzero += a.weight[o * a.taps + t] != 0.f;
      single = nonzero <= 1;
    }
    if (single) {
      std::vector<int64_t> idx(out);
      std::vector<float> wt(out, 0.f);
      for (int64_t o = 0; o < out; ++o) {
        idx[o] = a.index[o * a.taps];
        for (int t = 0; t < a.taps; ++t)
          if (a.weight[o * a.taps + t] != 0.f) {
            idx[o] = a.index[o * a.taps + t];
            wt[o] = a.weight[o * a.taps + t];
          }
      }
      a.taps = 1;
      a.index = std::move(idx);
      a.weight = std::move(wt);
    }
  }
  return a;
}

}  // namespace

Result<ResizePlan> plan_resize(const ResizeParams& p, const Shape& in_shape, const ResizeRequest& req) {
  const int r = static_cast<int>(in_shape.size());
  const bool has_scales = !req.scales.empty(), has_sizes = !req.sizes.empty();
  if (has_scales == has_sizes) return invalid_model("Resize needs exactly one of 'scales' and 'sizes'");
  if ((has_scales && static_cast<int>(req.scales.size()) != r) || (has_sizes && static_cast<int>(req.sizes.size()) != r))
    return invalid_model("Resize scales/sizes length does not match input rank " + std::to_string(r));
  if (!req.roi.empty() && static_cast<int>(req.roi.size()) != 2 * r)
    return invalid_model("Resize roi must hold 2 * rank values");
  std::vector<bool> resized(r, p.axes.empty());
  for (int64_t a : p.axes) resized[a] = true;
  std::vector<double> scale(r, 1.0);
  ResizePlan plan;
  plan.out_shape = in_shape;
  plan.extrapolation_value = p.extrapolation_value;
  if (has_scales) {
    for (int i = 0; i < r; ++i) {
      if (!(req.scales[i] > 0) || !std::isfinite(req.scales[i]))
        return invalid_model("Resize scale " + std::to_string(req.scales[i]) + " must be positive");
      const double out = std::floor(static_cast<double>(in_shape[i]) * req.scales[i]);
      if (out > static_cast<double>(Limits::kMaxElements))
        return limit_exceeded("Resize output dimension " + std::to_string(out) + " exceeds the element limit");
      scale[i] = req.scales[i];
      plan.out_shape[i] = static_cast<int64_t>(out);
    }
  } else {
    for (int i = 0; i < r; ++i) {
      if (req.sizes[i] < 0) return invalid_model("Resize size " + std::to_string(req.sizes[i]) + " is negative");
      if (req.sizes[i] > Limits::kMaxElements) return limit_exceeded("Resize size exceeds the element limit");
      scale[i] = in_shape[i] > 0 ? static_cast<double>(req.sizes[i]) / static_cast<double>(in_shape[i]) : 1.0;
      plan.out_shape[i] = req.sizes[i];
    }
    if (p.aspect != ResizeAspect::kStretch) {
      // One scale for all resized axes; sizes become round-half-up of it.
      double s = p.aspect == ResizeAspect::kNotLarger ? INFINITY : 0.0;
      for (int i = 0; i < r; ++i)
        if (resized[i]) s = p.aspect == ResizeAspect::kNotLarger ? std::min(s, scale[i]) : std::max(s, scale[i]);
      for (int i = 0; i < r; ++i)
        if (resized[i]) {
          scale[i] = s;
          plan.out_shape[i] = static_cast<int64_t>(std::floor(s * static_cast<double>(in_shape[i]) + 0.5));
        }
    }
  }
  CVT_RETURN_IF_ERROR(check_shape(plan.out_shape, DType::kFloat32).with_context("Resize output"));
  for (int i = 0; i < r; ++i)
    if (in_shape[i] == 0 && plan.out_shape[i] != 0)
      return shape_mismatch("Resize cannot grow the empty axis " + std::to_string(i) + " of input " + shape_str(in_shape));
  plan.nearest = true;
  for (int i = 0; i < r; ++i) {
    const double roi_start = req.roi.empty() ? 0.0 : req.roi[i];
    const double roi_end = req.roi.empty() ? 1.0 : req.roi[r + i];
    plan.axes.push_back(build_axis(p, in_shape[i], plan.out_shape[i], scale[i], roi_start, roi_end));
    const AxisTaps& a = plan.axes.back();
    if (a.taps != 1) plan.nearest = false;
    for (size_t o = 0; o < a.weight.size() && plan.nearest; ++o)
      if (a.weight[o] != 1.f && (a.outside.empty() || !a.outside[o])) plan.nearest = false;
  }
  return plan;
}

}  // namespace cvt
