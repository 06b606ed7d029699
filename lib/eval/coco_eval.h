// COCO detection evaluation (bbox, segm, keypoints) following pycocotools' COCOeval step
// by step: loadRes conventions, evaluateImg greedy matching with crowd regions,
// accumulate over 101 recall points (k*0.01), summarize with -1 for undefined entries.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/dataset.h"

namespace cvt::eval {

struct AreaRange {
  std::string label;
  double lo = 0, hi = 1e10;
};

struct CocoParams {
  Task task = Task::kBbox;
  std::vector<double> iou_thrs;  // pycocotools: .5 + k*step, last forced to .95
  std::vector<double> rec_thrs;  // k*0.01, k = 0..100
  std::vector<int> max_dets;     // sorted ascending; {1,10,100}, keypoints {20}
  std::vector<AreaRange> area_ranges;
  std::vector<double> kpt_sigmas;  // COCO-17 by default
  static CocoParams defaults(Task task);
};

/// numpy.linspace(start, stop, num) as pycocotools calls it.
std::vector<double> np_linspace(double start, double stop, int num);
/// The COCO-17 keypoint sigmas ([.26,.25,...]/10).
std::vector<double> coco17_sigmas();

struct CocoEvalResult {
  CocoParams params;
  std::vector<int64_t> img_ids, cat_ids;
  size_t T = 0, R = 0, K = 0, A = 0, M = 0;
  std::vector<double> precision;  // [T][R][K][A][M], -1 where undefined
  std::vector<double> recall;     // [T][K][A][M]
  std::vector<double> scores;     // [T][R][K][A][M]
  int64_t num_gt = 0, num_gt_ignored = 0, num_dt = 0;
  int64_t dets_truncated = 0;      // detections beyond max(max_dets) in their image/category
  int64_t pairs_truncated = 0;     // image/category pairs where that happened
  std::vector<std::string> warnings;

  double prec(size_t t, size_t r, size_t k, size_t a, size_t m) const {
    return precision[(((t * R + r) * K + k) * A + a) * M + m];
  }
  double rec(size_t t, size_t k, size_t a, size_t m) const { return recall[((t * K + k) * A + a) * M + m]; }
};

/// COCO.annToRLE: polygons rasterised at the image size and merged; a polygon list whose
/// first entry has 4 numbers is read as boxes; RLE passes through. A missing mask becomes
/// an empty one and increments *missing (pycocotools would fail).
Result<Rle> annotation_to_rle(const Annotation& a, const Image& img, int64_t* missing);

/// computeOks for one pair: `gt_kps` may be null (no keypoints: box-distance variant).
double keypoint_oks(const std::vector<double>& det_kps, const std::vector<double>* gt_kps, const Box& gt_box,
                    double gt_area, const std::vector<double>& sigmas);

/// Evaluate bound datasets (see readers.h bind()).
Result<CocoEvalResult> coco_evaluate(const Dataset& gt, const Dataset& dt, const CocoParams& p);

/// pycocotools' _summarize: mean of the entries > -1 of precision (ap) or recall,
/// restricted to one IoU threshold (exact match), one area label, one max_dets value and
/// optionally one category index. Returns -1 when nothing is defined.
double coco_summarize(const CocoEvalResult& r, bool ap, std::optional<double> iou, const std::string& area,
                      int max_det, std::optional<size_t> k = std::nullopt);

/// The summary table: {"AP", "AP50", "AP75", "APs", ...} in pycocotools' order; values -1
/// when undefined. Keys follow the parameters (AR<maxDet>, AP_<label> for custom ranges).
std::vector<std::pair<std::string, double>> coco_stats(const CocoEvalResult& r);

}  // namespace cvt::eval
