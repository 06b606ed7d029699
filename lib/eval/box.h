// Box conventions for evaluation: COCO xywh storage, xyxy / cxcywh conversion and IoU
// with and without the VOC "+1 pixel" convention. Header-only, no allocation.
#pragma once
#include <algorithm>
#include <array>

namespace cvt::eval {

/// Boxes are stored as COCO [x, y, w, h] in absolute pixels (continuous coordinates).
using Box = std::array<double, 4>;

inline Box xyxy_to_xywh(double x1, double y1, double x2, double y2) { return {x1, y1, x2 - x1, y2 - y1}; }
inline std::array<double, 4> xywh_to_xyxy(const Box& b) { return {b[0], b[1], b[0] + b[2], b[1] + b[3]}; }
inline Box cxcywh_to_xywh(double cx, double cy, double w, double h) { return {cx - w / 2, cy - h / 2, w, h}; }

/// Area; with plus_one a box spanning pixels x1..x2 inclusive has width x2-x1+1 (VOC).
inline double box_area(const Box& b, bool plus_one) {
  const double e = plus_one ? 1.0 : 0.0;
  return (b[2] + e) * (b[3] + e);
}

/// IoU of two xywh boxes. plus_one follows the VOC devkit: extents and intersection
/// both get +1, so touching boxes (x2 == x1') still intersect by one pixel.
inline double box_iou(const Box& a, const Box& b, bool plus_one) {
  const double e = plus_one ? 1.0 : 0.0;
  const auto A = xywh_to_xyxy(a), B = xywh_to_xyxy(b);
  const double iw = std::min(A[2], B[2]) - std::max(A[0], B[0]) + e;
  const double ih = std::min(A[3], B[3]) - std::max(A[1], B[1]) + e;
  if (iw <= 0 || ih <= 0) return 0.0;
  const double inter = iw * ih;
  const double uni = (A[2] - A[0] + e) * (A[3] - A[1] + e) + (B[2] - B[0] + e) * (B[3] - B[1] + e) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

/// pycocotools' bbIou for one detection d and ground truth g: no +1, and for a crowd
/// ground truth the union is the detection's own area (|d ∩ g| / |d|). Same operation
/// order as the reference so results agree to the last bit.
inline double box_iou_coco(const Box& d, const Box& g, bool g_crowd) {
  const double ga = g[2] * g[3];
  const double da = d[2] * d[3];
  const double w = std::min(d[2] + d[0], g[2] + g[0]) - std::max(d[0], g[0]);
  if (w <= 0) return 0.0;
  const double h = std::min(d[3] + d[1], g[3] + g[1]) - std::max(d[1], g[1]);
  if (h <= 0) return 0.0;
  const double i = w * h;
  const double u = g_crowd ? da : da + ga - i;
  return i / u;
}

}  // namespace cvt::eval
