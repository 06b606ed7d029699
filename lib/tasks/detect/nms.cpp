#include "tasks/detect/nms.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace cvt {

// Greedy suppression over `idx` (already sorted by score, best first).
static void greedy(const std::vector<Detection>& c, const std::vector<int>& idx, float iou, size_t limit,
                   std::vector<int>& kept) {
  const size_t start = kept.size();
  for (int i : idx) {
    if (kept.size() - start >= limit) break;
    bool suppressed = false;
    for (size_t k = start; k < kept.size() && !suppressed; ++k) suppressed = box_iou(c[kept[k]], c[i]) > iou;
    if (!suppressed) kept.push_back(i);
  }
}

std::vector<Detection> nms(std::vector<Detection> c, const NmsOptions& o) {
  std::vector<int> order(c.size());
  std::iota(order.begin(), order.end(), 0);
  auto better = [&](int a, int b) { return c[a].score > c[b].score || (c[a].score == c[b].score && a < b); };
  std::sort(order.begin(), order.end(), better);
  const size_t limit = o.max_det > 0 ? static_cast<size_t>(o.max_det) : c.size();
  std::vector<int> kept;
  if (o.agnostic) {
    greedy(c, order, o.iou, limit, kept);
  } else {
    // Classes never suppress each other: run each one alone (cheaper with many classes).
    std::map<int, std::vector<int>> by_class;
    for (int i : order) by_class[c[i].class_id].push_back(i);
    for (const auto& [cls, idx] : by_class) greedy(c, idx, o.iou, limit, kept);
    std::sort(kept.begin(), kept.end(), better);
    if (kept.size() > limit) kept.resize(limit);
  }
  std::vector<Detection> out;
  out.reserve(kept.size());
  for (int i : kept) out.push_back(c[i]);
  return out;
}

}  // namespace cvt
