// JSON sections of the cvtool.evaluate/1 document built from the evaluator results, plus
// the curves handed to the PNG plot. Internal to evaluate.cpp; pure data transforms.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/coco_eval.h"
#include "eval/pr_plot.h"
#include "eval/threshold_metrics.h"
#include "eval/voc_eval.h"

namespace cvt::eval {

struct Report {
  std::string gt_format, pred_format;
  std::vector<std::string> warnings;
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  nlohmann::ordered_json summary = nlohmann::ordered_json::object();
  nlohmann::ordered_json per_class = nlohmann::ordered_json::array();
  nlohmann::ordered_json at_conf, f1_optimal, confusion, pr_curves;
  std::vector<PrCurve> plot_classes;
  PrCurve plot_mean;
  std::string plot_title;
};

/// -1 (pycocotools' "undefined") and non-finite values become null.
nlohmann::ordered_json num_or_null(double v);

void coco_report(const CocoEvalResult& r, const Dataset& gt, Report& rep);
void voc_report(const std::vector<double>& thrs, const std::vector<VocResult>& res, const VocParams& vp,
                const std::string& protocol, int darknet_points, Report& rep);
/// Adds at_conf / f1_optimal / counts to the per-class entries and the overall sections.
void threshold_report(const ThresholdResult& th, Report& rep);

}  // namespace cvt::eval
