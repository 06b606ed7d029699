// Reference RoiAlign: every output element recomputes its sample points and
// taps, one at a time, no threads. The oracle for roi.cpp.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/roi.h"

namespace cvt {

RoiBins roi_bins(const RoiAlignParams& p, const float* roi) {
  const float offset = p.half_pixel ? 0.5f : 0.0f;
  RoiBins b;
  b.start_w = roi[0] * p.spatial_scale - offset;
  b.start_h = roi[1] * p.spatial_scale - offset;
  const float end_w = roi[2] * p.spatial_scale - offset;
  const float end_h = roi[3] * p.spatial_scale - offset;
  float roi_w = end_w - b.start_w, roi_h = end_h - b.start_h;
  if (!p.half_pixel) {  // degenerate RoIs become 1x1
    roi_w = std::max(roi_w, 1.0f);
    roi_h = std::max(roi_h, 1.0f);
  }
  b.bin_h = roi_h / static_cast<float>(p.output_height);
  b.bin_w = roi_w / static_cast<float>(p.output_width);
  b.grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(roi_h / static_cast<float>(p.output_height)));
  b.grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(roi_w / static_cast<float>(p.output_width)));
  // A negative-size RoI under half_pixel gives no samples (output 0), as in ONNX Runtime.
  b.grid_h = std::max<int64_t>(b.grid_h, 0);
  b.grid_w = std::max<int64_t>(b.grid_w, 0);
  return b;
}

RoiTap roi_tap(int64_t height, int64_t width, float y, float x) {
  RoiTap t;
  if (y < -1.0f || y > static_cast<float>(height) || x < -1.0f || x > static_cast<float>(width)) return t;
  y = std::max(y, 0.0f);
  x = std::max(x, 0.0f);
  int64_t y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x), y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = static_cast<float>(y_low);
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = static_cast<float>(x_low);
  } else {
    x_high = x_low + 1;
  }
  const float ly = y - static_cast<float>(y_low), lx = x - static_cast<float>(x_low);
  const float hy = 1.0f - ly, hx = 1.0f - lx;
  t.pos[0] = y_low * width + x_low;
  t.pos[1] = y_low * width + x_high;
  t.pos[2] = y_high * width + x_low;
  t.pos[3] = y_high * width + x_high;
  t.w[0] = hy * hx;
  t.w[1] = hy * lx;
  t.w[2] = ly * hx;
  t.w[3] = ly * lx;
  return t;
}

void roi_align_ref(const RoiAlignParams& p, const Tensor& x, const Tensor& rois, const std::vector<int64_t>& batch_index,
                   Tensor& y) {
  const int64_t C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t R = rois.dim(0), OH = p.output_height, OW = p.output_width;
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  for (int64_t r = 0; r < R; ++r) {
    const RoiBins b = roi_bins(p, rois.data<float>() + r * 4);
    const float count = static_cast<float>(std::max<int64_t>(b.grid_h * b.grid_w, 1));
    for (int64_t c = 0; c < C; ++c) {
      const float* plane = xp + (batch_index[r] * C + c) * H * W;
      for (int64_t ph = 0; ph < OH; ++ph)
        for (int64_t pw = 0; pw < OW; ++pw) {
          float acc = 0;
          bool first = true;
          for (int64_t iy = 0; iy < b.grid_h; ++iy) {
            const float sy = b.start_h + static_cast<float>(ph) * b.bin_h +
                             (static_cast<float>(iy) + 0.5f) * b.bin_h / static_cast<float>(b.grid_h);
            for (int64_t ix = 0; ix < b.grid_w; ++ix) {
              const float sx = b.start_w + static_cast<float>(pw) * b.bin_w +
                               (static_cast<float>(ix) + 0.5f) * b.bin_w / static_cast<float>(b.grid_w);
              const RoiTap t = roi_tap(H, W, sy, sx);
              if (p.max_mode) {
                const float v = std::max(std::max(std::max(t.w[0] * plane[t.pos[0]], t.w[1] * plane[t.pos[1]]),
                                                  t.w[2] * plane[t.pos[2]]),
                                         t.w[3] * plane[t.pos[3]]);
                acc = first ? v : std::max(acc, v);
                first = false;
              } else {
                acc += t.w[0] * plane[t.pos[0]] + t.w[1] * plane[t.pos[1]] + t.w[2] * plane[t.pos[2]] +
                       t.w[3] * plane[t.pos[3]];
              }
            }
          }
          yp[((r * C + c) * OH + ph) * OW + pw] = p.max_mode ? acc : acc / count;
        }
    }
  }
}

}  // namespace cvt
