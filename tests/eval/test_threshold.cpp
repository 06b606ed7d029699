// Threshold metrics: P/R/F1 at a confidence, the exact F1-optimal threshold (ties grouped),
// the confusion matrix with its background row and column.
#include <catch2/catch.hpp>

#include "eval/threshold_metrics.h"

using namespace cvt::eval;

namespace {

Annotation box(int64_t img, int64_t cat, Box b, double score = 1, bool has_score = false) {
  Annotation a;
  a.image_id = img;
  a.category_id = cat;
  a.bbox = b;
  a.has_bbox = true;
  a.score = score;
  a.has_score = has_score;
  return a;
}

PairIouFn plain_iou() {
  return [](const Annotation& d, const Annotation& g) { return box_iou(d.bbox, g.bbox, false); };
}

}  // namespace

TEST_CASE("threshold: F1-optimal confidence is exact, over tied groups", "[eval][threshold]") {
  // npos 4; cumulative F1 after each score: .4, .333, .571, .75, .667
  auto f = best_f1({{.9, true}, {.8, false}, {.7, true}, {.6, true}, {.5, false}}, 4);
  REQUIRE(f.conf);
  CHECK(*f.conf == .6);
  CHECK(*f.f1 == Approx(0.75));
  CHECK(*f.precision == Approx(0.75));
  CHECK(*f.recall == Approx(0.75));
  CHECK(f.tp == 3);
  CHECK(f.fp == 1);
  CHECK(f.fn == 1);
  // a tie is one threshold: (.7 TP, .7 FP) cannot be split
  auto tie = best_f1({{.9, true}, {.7, true}, {.7, false}, {.7, false}}, 2);
  CHECK(*tie.conf == .9);  // F1(.9) = 2/3, F1(.7) = 4/7
  // no ground truth: no optimum
  CHECK_FALSE(best_f1({{.9, false}}, 0).conf);
  // no true positive anywhere: F1 0, no threshold
  auto none = best_f1({{.9, false}}, 3);
  CHECK_FALSE(none.conf);
  CHECK(*none.f1 == 0.0);
}

TEST_CASE("threshold: P/R/F1, mean IoU and the confusion matrix", "[eval][threshold]") {
  Dataset gt, dt;
  gt.categories = {{1, "cat"}, {2, "dog"}};
  dt.categories = gt.categories;
  // image 1: a cat (found, IoU .81), a dog (predicted as cat), a crowd-like ignored cat
  gt.anns = {box(1, 1, {0, 0, 10, 10}), box(1, 2, {50, 50, 10, 10}), box(1, 1, {100, 100, 50, 50})};
  dt.anns = {box(1, 1, {0, 0, 9, 9}, .9, true),        // TP, IoU .81
             box(1, 1, {50, 50, 10, 10}, .8, true),    // FP for cat; in the matrix: dog predicted as cat
             box(1, 1, {100, 100, 50, 50}, .7, true),  // on the ignored region: neither
             box(1, 2, {200, 200, 5, 5}, .6, true),    // FP dog, background
             box(1, 1, {0, 0, 10, 10}, .1, true)};     // below --conf
  const std::vector<uint8_t> ignored = {0, 0, 1};
  ThresholdParams p;
  p.conf = 0.25;
  const ThresholdResult r = threshold_metrics(gt, dt, ignored, p, plain_iou());
  REQUIRE(r.classes.size() == 2);
  const auto& cat = r.classes[0].at_conf;
  CHECK(cat.tp == 1);
  CHECK(cat.fp == 1);
  CHECK(cat.fn == 0);
  CHECK(*cat.precision == Approx(0.5));
  CHECK(*cat.recall == Approx(1.0));
  CHECK(*cat.mean_iou == Approx(0.81));
  const auto& dog = r.classes[1].at_conf;
  CHECK(dog.tp == 0);
  CHECK(dog.fp == 1);
  CHECK(dog.fn == 1);
  CHECK(*dog.precision == 0.0);
  CHECK(*dog.f1 == 0.0);
  CHECK(r.overall.tp == 1);
  CHECK(r.overall.fp == 2);
  CHECK(r.overall.fn == 1);
  CHECK(*r.overall.f1 == Approx(2.0 / 5));
  // per class optimum: cat keeps only the .9 detection
  CHECK(*r.classes[0].best.conf == .9);
  CHECK(*r.classes[0].best.f1 == Approx(1.0));
  // confusion matrix [gt][pred] with background last
  const auto& m = r.confusion.matrix;
  REQUIRE(r.confusion.labels == std::vector<std::string>{"cat", "dog", "background"});
  CHECK(m[0][0] == 1);  // cat -> cat
  CHECK(m[1][0] == 1);  // dog -> cat
  CHECK(m[2][1] == 1);  // background -> dog
  CHECK(m[0][2] == 0);
  CHECK(m[1][2] == 0);
  CHECK(m[2][0] == 0);  // the detection on the ignored region is not counted
}
