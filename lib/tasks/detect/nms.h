// Greedy non-maximum suppression, per class or class-agnostic.
#pragma once
#include <vector>

#include "tasks/detect/detection.h"

namespace cvt {

struct NmsOptions {
  float iou = 0.45f;      // suppress a box overlapping a kept one by more than this
  bool agnostic = false;  // boxes of different classes suppress each other too
  int max_det = 300;      // keep at most this many (highest scores); <= 0 = no limit
};

/// Highest score first (ties: earlier candidate first); the result is sorted by score.
std::vector<Detection> nms(std::vector<Detection> candidates, const NmsOptions& o);

}  // namespace cvt
