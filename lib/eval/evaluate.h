// The `evaluate` pipeline as a library call: read, bind, run the chosen protocol and the
// threshold metrics, optionally plot, and return the one JSON document of the
// cvtool.evaluate/1 schema. No CLI here; apps/cvtool/cmd_evaluate.cpp maps flags to this.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/coco_eval.h"
#include "eval/readers.h"

namespace cvt::eval {

struct EvaluateOptions {
  std::string gt_path, pred_path;
  FormatSpec gt_format, pred_format;
  std::string protocol = "coco";  // coco | voc07 | voc12 | darknet
  Task task = Task::kBbox;
  std::vector<double> iou_thrs;         // empty: protocol default
  std::vector<int> max_dets;            // empty: protocol default
  std::vector<AreaRange> area_ranges;   // empty: protocol default
  std::optional<bool> pixel_plus_one;   // VOC / darknet only
  std::optional<bool> iou_strict;       // VOC / darknet: '>' (default) or '>=' (rafaelpadilla)
  bool use_difficult = true;
  int darknet_points = 0;  // 0 all points, 11, 101
  double conf = 0.25, match_iou = 0.5, cm_iou = 0.45;
  std::vector<std::string> names;
  std::string names_path;
  int64_t imgsz_w = 0, imgsz_h = 0;
  std::string images_dir;          // image files for sizes / label-less images (YOLO)
  std::vector<double> kpt_sigmas;  // empty: COCO-17
  std::string plot_dir;            // empty: no PNG
  bool pr_curves = true;
};

/// Run a whole evaluation. Input problems come back as an error Status naming the file.
Result<nlohmann::ordered_json> run_evaluation(const EvaluateOptions& o);

struct PairwiseOptions {
  std::string a_path, b_path;
  FormatSpec a_format, b_format;
  Task task = Task::kBbox;
  bool class_agnostic = false;
  double min_iou = 0.0;  // pairs need IoU > min_iou
  std::vector<std::string> names;
  std::string names_path;
  int64_t imgsz_w = 0, imgsz_h = 0;
  std::string images_dir;
};

/// `evaluate iou A B`: greedy one-to-one pairing by IoU per image (and class), listing
/// the pairs, the unpaired objects of each side and the mean IoU.
Result<nlohmann::ordered_json> run_pairwise_iou(const PairwiseOptions& o);

// Flag value parsers (shared with the CLI, unit-tested).
/// "0.5:0.95:0.05" (pycocotools linspace), "0.5,0.75" or "0.5".
Result<std::vector<double>> parse_iou_thresholds(const std::string& s);
/// "1,10,100"
Result<std::vector<int>> parse_max_dets(const std::string& s);
/// "all=0:1e10,small=0:1024,medium=1024:9216,large=9216:1e10" (a^2 allowed: "small=0:32^2")
Result<std::vector<AreaRange>> parse_area_ranges(const std::string& s);
/// "640", "640,480" or "640x480" -> (w, h)
Result<std::pair<int64_t, int64_t>> parse_imgsz(const std::string& s);

}  // namespace cvt::eval
