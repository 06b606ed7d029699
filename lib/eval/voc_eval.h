// Pascal VOC style average precision (VOC2007 11-point, VOC2010+ all-point), the
// rafaelpadilla variant (IoU >= t, no difficult) and Darknet's `detector map`.
// Pure functions on bound datasets (see readers.h bind()).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eval/dataset.h"

namespace cvt::eval {

enum class ApInterp {
  kVoc11,          // 11 recall points t = k*0.1 (numpy arange: 0.30000000000000004 ...), mean of max precision
  kAllPoints,      // area under the monotone precision envelope (VOC2010+)
  kDarknet11,      // darknet -points 11: t = k/10 computed exactly
  kDarknet101,     // darknet -points 101: t = k/100
};

struct VocParams {
  double iou_thr = 0.5;
  bool plus_one = true;       // +1 pixel areas (devkit convention)
  bool strict = true;         // match when IoU > t (devkit); false: IoU >= t (rafaelpadilla)
  bool use_difficult = true;  // difficult GT: not counted, detections on them neither TP nor FP
  ApInterp interp = ApInterp::kAllPoints;
  bool map_over_all_classes = false;  // darknet divides by every class, AP 0 without GT
};

struct ClassAp {
  int64_t category_id = 0;
  std::string name;
  int64_t npos = 0;   // non-difficult ground truth
  int64_t ndet = 0;
  int64_t tp = 0, fp = 0;   // over all detections
  std::optional<double> ap;  // undefined without ground truth
  // One entry per detection in score order (ignored ones repeat the previous values).
  std::vector<double> recall, precision, scores;
};

struct VocResult {
  std::vector<ClassAp> classes;  // in category-id order
  std::optional<double> map;
};

/// Evaluate bound datasets (image_id / category_id resolved, boxes absolute).
VocResult voc_evaluate(const Dataset& gt, const Dataset& dt, const VocParams& p);

/// AP from cumulative recall/precision arrays with the given interpolation.
double ap_from_pr(const std::vector<double>& recall, const std::vector<double>& precision, ApInterp interp);

/// Precision envelope sampled at recall k*0.01 (k = 0..100) the way COCO's accumulate
/// does (first detection whose recall reaches the point; 0 past the last one).
std::vector<double> sample_pr_101(const std::vector<double>& recall, const std::vector<double>& precision);

}  // namespace cvt::eval
