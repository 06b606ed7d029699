// Acceptance 1 and 2: fixtures A (test_case_1) and B (toyexample) from
// rafaelpadilla/review_object_detection_metrics (MIT), published values in docs/evaluation.md.
#include <catch2/catch.hpp>

#include <cmath>

#include "eval/voc_eval.h"
#include "eval_test_util.h"

using namespace cvt::eval;
using namespace cvt::eval::testing;

namespace {

double padilla_ap(const Bound& b, double iou, ApInterp interp, bool plus_one = true) {
  VocParams p;
  p.iou_thr = iou;
  p.plus_one = plus_one;
  p.strict = false;  // rafaelpadilla matches with IoU >= t
  p.use_difficult = false;
  p.interp = interp;
  VocResult r = voc_evaluate(b.gt, b.dt, p);
  REQUIRE(r.map.has_value());
  return *r.map;
}

}  // namespace

TEST_CASE("fixture A: the eight published AP values of test_case_1", "[eval][voc][fixture]") {
  EVAL_REQUIRE_SHARED("data/eval/test_case_1");
  const Bound b = bind_ok(read_ok(shared_path("data/eval/test_case_1/gts"), Side::kGroundTruth),
                          read_ok(shared_path("data/eval/test_case_1/dets"), Side::kPrediction));
  REQUIRE(b.gt.anns.size() == 15);
  REQUIRE(b.dt.anns.size() == 24);
  struct Case {
    double iou;
    ApInterp interp;
    double expected;
  } cases[] = {
      {0.1, ApInterp::kVoc11, 0.3333333333},      {0.3, ApInterp::kVoc11, 0.2683982683},
      {0.5, ApInterp::kVoc11, 0.0303030303},      {0.75, ApInterp::kVoc11, 0.0},
      {0.1, ApInterp::kAllPoints, 0.3371980676},  {0.3, ApInterp::kAllPoints, 0.2456866804},
      {0.5, ApInterp::kAllPoints, 0.0222222222},  {0.75, ApInterp::kAllPoints, 0.0},
  };
  for (const auto& c : cases) {
    const double ap = padilla_ap(b, c.iou, c.interp);
    INFO("IoU " << c.iou << (c.interp == ApInterp::kVoc11 ? " 11-point" : " all-point") << ": got "
                << std::setprecision(12) << ap);
    CHECK(std::fabs(ap - c.expected) < 1e-9);
  }
  // Gotcha 1: without +1 the every-point AP at 0.3 is 0.2253968254; at 0.5 it is unchanged.
  CHECK(std::fabs(padilla_ap(b, 0.3, ApInterp::kAllPoints, false) - 0.2253968254) < 1e-9);
  CHECK(std::fabs(padilla_ap(b, 0.5, ApInterp::kAllPoints, false) - 0.0222222222) < 1e-9);
}

TEST_CASE("fixture A: exact k/10 recall points would give the wrong 11-point AP", "[eval][voc][fixture]") {
  EVAL_REQUIRE_SHARED("data/eval/test_case_1");
  const Bound b = bind_ok(read_ok(shared_path("data/eval/test_case_1/gts"), Side::kGroundTruth),
                          read_ok(shared_path("data/eval/test_case_1/dets"), Side::kPrediction));
  // Gotcha 2: darknet's exact k/10 thresholds reproduce the documented 0.3689064559.
  CHECK(std::fabs(padilla_ap(b, 0.1, ApInterp::kDarknet11) - 0.3689064559) < 1e-9);
}

TEST_CASE("fixture B: toyexample, VOC XML ground truth, every detection layout", "[eval][voc][fixture]") {
  EVAL_REQUIRE_SHARED("data/eval/toyexample");
  const std::string root = shared_path("data/eval/toyexample/");
  BindOptions bo;
  {
    ReadOptions dummy;
    auto names = read_names(root + "voc.names");
    REQUIRE(names.is_ok());
    bo.names = names.value();
  }
  struct Layout {
    const char* dir;
    const char* format;
  } layouts[] = {
      {"dets_classname_abs_xywh", "txt:xywh:abs"},   {"dets_classname_abs_xyx2y2", "txt:xyxy:abs"},
      {"dets_classname_rel_xcycwh", "txt:cxcywh:rel"}, {"dets_classid_abs_xywh", "txt:xywh:abs"},
      {"dets_classid_abs_xyx2y2", "txt:xyxy:abs"},   {"dets_classid_rel_xcycwh", "txt:cxcywh:rel"},
      {"dets_coco_format/coco_dets.json", "coco"},   {"dets_classname_rel_xcycwh", "auto"},
  };
  for (const auto& l : layouts) {
    INFO("layout " << l.dir << " as " << l.format);
    const Bound b = bind_ok(read_ok(root + "gts_vocpascal_format", Side::kGroundTruth),
                            read_ok(root + l.dir, Side::kPrediction, l.format), bo);
    REQUIRE(b.dt.anns.size() == 12);
    for (bool plus_one : {true, false}) {
      INFO("plus_one " << plus_one);
      // README: t=0.5 11-pt 88.64%, all-pt 89.58%; t=0.75 49.24%, 50.97%
      CHECK(std::round(padilla_ap(b, 0.5, ApInterp::kVoc11, plus_one) * 1e4) / 1e2 == Approx(88.64));
      CHECK(std::round(padilla_ap(b, 0.5, ApInterp::kAllPoints, plus_one) * 1e4) / 1e2 == Approx(89.58));
      CHECK(std::round(padilla_ap(b, 0.75, ApInterp::kVoc11, plus_one) * 1e4) / 1e2 == Approx(49.24));
      CHECK(std::round(padilla_ap(b, 0.75, ApInterp::kAllPoints, plus_one) * 1e4) / 1e2 == Approx(50.97));
    }
  }
}
