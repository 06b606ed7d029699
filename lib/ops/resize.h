// Resize / Upsample: parameters, the output-size rule and per-axis tap tables
// (for each output index of an axis: input indices and weights). The reference and
// fast kernels share them, so coordinate rules live in one place (resize_plan.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace cvt {

enum class ResizeMode { kNearest, kLinear, kCubic };
enum class ResizeCoord {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize,
};
// kSimple is the rule of Upsample and Resize-10 (no nearest_mode attribute):
// floor, or ceil when the axis is downsampled (ONNX Runtime's legacy rule).
enum class ResizeNearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };
enum class ResizeAspect { kStretch, kNotLarger, kNotSmaller };

struct ResizeParams {
  ResizeMode mode = ResizeMode::kNearest;
  ResizeCoord coord = ResizeCoord::kHalfPixel;
  ResizeNearest nearest = ResizeNearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  float extrapolation_value = 0.f;
  bool antialias = false;
  ResizeAspect aspect = ResizeAspect::kStretch;
  std::vector<int64_t> axes;  // opset 18: axes that scales / sizes / roi refer to; empty = all
};

// Taps of one axis: `taps` entries per output index, indices already clamped
// into [0, in_size). `outside` marks outputs that take the extrapolation
// value (tf_crop_and_resize).
struct AxisTaps {
  int64_t in_size = 0;
  int64_t out_size = 0;
  int taps = 1;
  std::vector<int64_t> index;   // out_size * taps
  std::vector<float> weight;    // out_size * taps
  std::vector<uint8_t> outside; // out_size, empty when nothing is outside
  // Output i reads input i with weight 1: the axis is not resized.
  bool identity() const;
};

struct ResizePlan {
  Shape out_shape;
  std::vector<AxisTaps> axes;  // one per input axis
  float extrapolation_value = 0.f;
  bool nearest = false;        // every axis has one tap of weight 1: a pure gather
};

// Scales / sizes / roi as given to the node, already remapped to full rank.
struct ResizeRequest {
  std::vector<double> scales;  // empty when sizes are given
  std::vector<int64_t> sizes;  // empty when scales are given
  std::vector<double> roi;     // 2 * rank (starts then ends), empty = [0..0, 1..1]
};

// Output shape and tap tables; errors for bad scales / sizes and for outputs
// beyond Limits.
Result<ResizePlan> plan_resize(const ResizeParams& p, const Shape& in_shape, const ResizeRequest& req);

// Oracle: one loop over outputs summing every tap combination in double, no
// threads. Float types only for linear / cubic; any dtype for nearest.
void resize_ref(const Tensor& x, Tensor& y, const ResizePlan& plan);

}  // namespace cvt
