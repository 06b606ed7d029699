// Internal to coco_eval*.cpp: the per-annotation view COCOeval works on after
// _prepare / loadRes, and the IoU / OKS kernels. Not a public API.
#pragma once
#include <vector>

#include "eval/coco_eval.h"

namespace cvt::eval::coco_detail {

struct Item {
  const Annotation* src = nullptr;
  int64_t id = 0;
  double area = 0;
  double score = 0;
  bool crowd = false;
  bool ignore = false;  // gt only: crowd, or keypoints with num_keypoints == 0
  Box bbox{};
  Rle rle;                               // segm only
  const std::vector<double>* kps = nullptr;  // keypoints only
};

struct Prepared {
  std::vector<int64_t> img_ids, cat_ids;
  std::vector<Item> gts, dts;
  // indices into gts / dts for (category k, image i) at k * I + i, in file order
  std::vector<std::vector<uint32_t>> gt_by, dt_by;
  std::vector<std::string> warnings;
};

/// pycocotools' _prepare plus COCO.loadRes conventions for the predictions.
Result<Prepared> prepare(const Dataset& gt, const Dataset& dt, const CocoParams& p);

Result<Rle> ann_to_rle(const Annotation& a, const Image& img, int64_t* missing);

/// IoU (bbox/segm) or OKS (keypoints) of one detection against one ground truth.
double item_iou(const Item& d, const Item& g, const CocoParams& p);

}  // namespace cvt::eval::coco_detail
