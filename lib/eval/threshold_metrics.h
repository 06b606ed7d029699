// Metrics at a confidence threshold: precision, recall, F1, TP/FP/FN and mean IoU; the
// exact F1-optimal threshold per class and overall (every score breakpoint, no
// smoothing); and a confusion matrix with a background row and column.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eval/dataset.h"

namespace cvt::eval {

/// IoU-like overlap of a detection with a ground truth (box, mask or OKS).
using PairIouFn = std::function<double(const Annotation& det, const Annotation& gt)>;

struct ThresholdParams {
  double conf = 0.25;        // detections with score >= conf (> conf when conf_strict)
  bool conf_strict = false;  // darknet counts prob > thresh
  double iou = 0.5;          // match threshold for TP/FP
  bool iou_strict = false;   // IoU > iou (VOC, darknet) instead of >= (COCO)
  double cm_iou = 0.45;      // confusion matrix pairs need IoU > cm_iou (Ultralytics convention)
};

struct Prf {
  int64_t tp = 0, fp = 0, fn = 0;
  std::optional<double> precision, recall, f1, mean_iou;  // undefined when the denominator is 0
};

struct F1Optimal {
  std::optional<double> conf;  // keep detections with score >= conf; none when F1 is 0 everywhere
  std::optional<double> f1, precision, recall;
  int64_t tp = 0, fp = 0, fn = 0;
};

struct ClassThreshold {
  int64_t category_id = 0;
  std::string name;
  int64_t num_gt = 0, num_pred = 0;  // ground truth not ignored; all predictions
  Prf at_conf;
  F1Optimal best;
};

struct ConfusionMatrix {
  double conf = 0, iou = 0;
  std::vector<std::string> labels;             // categories then "background"
  std::vector<std::vector<int64_t>> matrix;    // [ground truth][prediction]
};

struct ThresholdResult {
  std::vector<ClassThreshold> classes;  // category order of gt.categories
  Prf overall;                          // micro-averaged over classes
  F1Optimal overall_best;               // one threshold for all classes
  ConfusionMatrix confusion;
};

/// gt_ignored[i] marks ground truth that neither needs a match nor makes a matching
/// detection a false positive (crowd, VOC difficult, unlabeled people).
ThresholdResult threshold_metrics(const Dataset& gt, const Dataset& dt, const std::vector<uint8_t>& gt_ignored,
                                  const ThresholdParams& p, const PairIouFn& iou);

/// F1-optimal threshold from (score, is_tp) of the scored detections and the number of
/// ground truths; exposed for tests.
F1Optimal best_f1(std::vector<std::pair<double, bool>> dets, int64_t npos);

}  // namespace cvt::eval
