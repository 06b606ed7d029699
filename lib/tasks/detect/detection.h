// Detections as every decoder produces them and every output format consumes
// them: corner boxes in continuous pixel coordinates (pixel i spans [i, i+1)).
#pragma once
#include <algorithm>
#include <vector>

namespace cvt {

struct Detection {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float score = 0;
  int class_id = 0;
  int source = -1;  // row of the model's output it came from (to find its mask), -1 = none
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
  float area() const { return std::max(0.f, x2 - x1) * std::max(0.f, y2 - y1); }
};

/// Intersection over union of two corner boxes (0 when both are empty).
inline float box_iou(const Detection& a, const Detection& b) {
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0.f;
  const float inter = iw * ih;
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

/// COCO's 91-id category of each of the 80 contiguous detector classes
/// (`coco80to91`), as the COCO annotations number them.
inline const std::vector<int>& coco80_to_91() {
  static const std::vector<int> ids = {
      1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31,
      32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
      60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90};
  return ids;
}

}  // namespace cvt
