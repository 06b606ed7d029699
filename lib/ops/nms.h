// NonMaxSuppression helpers shared by ops/nms.cpp and its AVX2 kernel.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace cvt {

/// A box as corners, and its area.
struct NmsBox {
  float y1, x1, y2, x2, area;
};

/// The boxes kept so far, as columns padded to a multiple of 8 with boxes at
/// +inf (they overlap nothing), for 8-wide IoU tests.
class NmsKept {
 public:
  void clear() {
    n_ = 0;
    y1.clear(), x1.clear(), y2.clear(), x2.clear(), area.clear();
  }
  void push(const NmsBox& b) {
    if (n_ % 8 == 0) {
      const float inf = std::numeric_limits<float>::infinity();
      for (auto* v : {&y1, &x1, &y2, &x2, &area}) v->resize(v->size() + 8, inf);
    }
    y1[n_] = b.y1, x1[n_] = b.x1, y2[n_] = b.y2, x2[n_] = b.x2, area[n_] = b.area;
    ++n_;
  }
  int64_t size() const { return n_; }
  std::vector<float> y1, x1, y2, x2, area;

 private:
  int64_t n_ = 0;
};

/// IoU as torchvision's nms computes it: inter / (area_a + area_b - inter), 0 when
/// the boxes do not intersect.
inline float nms_iou(const NmsBox& a, const NmsBox& b) {
  const float w = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float h = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float inter = w * h;
  if (inter <= 0) return 0;
  const float uni = a.area + b.area - inter;
  return uni > 0 ? inter / uni : 0;
}

/// True when some kept box overlaps `a` by an IoU above the threshold.
bool nms_overlaps__scalar(const NmsBox& a, const NmsKept& kept, float iou_threshold) noexcept;
bool nms_overlaps__avx2(const NmsBox& a, const NmsKept& kept, float iou_threshold) noexcept;

}  // namespace cvt
