// RoiAlign (Mask R-CNN's region feature extraction): parameters and the sample
// geometry shared by the fast path (roi.cpp) and the oracle (roi_ref.cpp).
//
// Two coordinate conventions exist. RoiAlign-10 has none to choose: an RoI is
// scaled as is and degenerate RoIs are widened to 1x1 (torchvision aligned=False,
// ONNX "output_half_pixel"). RoiAlign-16 adds coordinate_transformation_mode,
// default "half_pixel": RoI corners shift by -0.5 after scaling and are not widened
// (torchvision aligned=True). torchvision's exporter targets opset 11 and, for
// aligned=True, subtracts the 0.5 itself in the graph.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace cvt {

struct RoiAlignParams {
  bool max_mode = false;     // mode "max" (ONNX Runtime semantics) instead of "avg"
  int64_t output_height = 1;
  int64_t output_width = 1;
  int64_t sampling_ratio = 0;  // 0: adaptive, ceil(roi_size / output_size) samples per bin
  float spatial_scale = 1.0f;
  bool half_pixel = false;     // coordinate_transformation_mode == "half_pixel"
};

// One RoI mapped onto the feature map: start corner, bin size and samples per bin.
struct RoiBins {
  float start_h = 0, start_w = 0, bin_h = 0, bin_w = 0;
  int64_t grid_h = 1, grid_w = 1;
};
RoiBins roi_bins(const RoiAlignParams& p, const float* roi);

// The bilinear tap of one sample point: four flat positions and weights
// (all-zero weights for a point outside [-1, size]).
struct RoiTap {
  int64_t pos[4] = {0, 0, 0, 0};
  float w[4] = {0, 0, 0, 0};
};
RoiTap roi_tap(int64_t height, int64_t width, float y, float x);

// y [R, C, out_h, out_w] from x [N, C, H, W], rois [R, 4] (x1, y1, x2, y2),
// batch_index [R] (already validated to lie in [0, N)).
void roi_align_ref(const RoiAlignParams& p, const Tensor& x, const Tensor& rois, const std::vector<int64_t>& batch_index,
                   Tensor& y);
void roi_align_fast(const RoiAlignParams& p, const Tensor& x, const Tensor& rois, const std::vector<int64_t>& batch_index,
                    Tensor& y);

}  // namespace cvt
