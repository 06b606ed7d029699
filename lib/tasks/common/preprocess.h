// Image -> network input tensor, following a manifest's InputContract, and
// the transform needed to map network coordinates back to the image.
#pragma once
#include <opencv2/core.hpp>

#include "core/tensor.h"
#include "models/manifest.h"

namespace cvt {

// Network pixel (xn, yn) maps to image pixel ((xn - pad_x) / scale_x + crop_x, ...).
struct ImageTransform {
  int image_w = 0, image_h = 0;  // original image
  int net_w = 0, net_h = 0;      // network input
  float scale_x = 1, scale_y = 1;
  float pad_x = 0, pad_y = 0;
  float crop_x = 0, crop_y = 0;
  float to_image_x(float xn) const { return (xn - pad_x) / scale_x + crop_x; }
  float to_image_y(float yn) const { return (yn - pad_y) / scale_y + crop_y; }
};

// `net_w` / `net_h` override the contract's size (for dynamic-size models; 0 = contract).
Result<Tensor> preprocess_image(const cv::Mat& bgr, const InputContract& c, int net_w, int net_h, ImageTransform* xf);

}  // namespace cvt
