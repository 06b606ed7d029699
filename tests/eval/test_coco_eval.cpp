// Acceptance 4: COCO evaluation on hand-made sets whose AP/AR is worked out here, one
// pycocotools rule per case (crowd, ties, empty images, area from the annotation, ...).
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>

#include "eval/coco_eval.h"

using namespace cvt::eval;

namespace {

Annotation gbox(int64_t id, int64_t img, int64_t cat, Box b, double area, bool crowd = false) {
  Annotation a;
  a.id = id;
  a.image_id = img;
  a.has_image_id = true;
  a.category_id = cat;
  a.bbox = b;
  a.has_bbox = true;
  a.area = area;
  a.has_area = true;
  a.iscrowd = crowd;
  a.origin = "gt " + std::to_string(id);
  return a;
}

Annotation dbox(int64_t img, int64_t cat, Box b, double score) {
  Annotation a;
  a.image_id = img;
  a.has_image_id = true;
  a.category_id = cat;
  a.bbox = b;
  a.has_bbox = true;
  a.score = score;
  a.has_score = true;
  return a;
}

Dataset make(std::vector<Annotation> anns, int n_images = 1, int n_cats = 1, int64_t size = 200) {
  Dataset d;
  d.has_image_ids = d.has_categories = true;
  for (int i = 1; i <= n_images; ++i) d.images.push_back({i, std::to_string(i), std::to_string(i) + ".jpg", size, size});
  for (int c = 1; c <= n_cats; ++c) d.categories.push_back({c, "c" + std::to_string(c)});
  d.anns = std::move(anns);
  for (size_t i = 0; i < d.anns.size(); ++i)
    if (d.anns[i].has_score) d.anns[i].id = int64_t(i) + 1;  // loadRes numbering
  return d;
}

std::map<std::string, double> stats(const Dataset& gt, const Dataset& dt, CocoParams p = CocoParams::defaults(Task::kBbox)) {
  auto r = coco_evaluate(gt, dt, p);
  INFO(r.status().to_string());
  REQUIRE(r.is_ok());
  std::map<std::string, double> m;
  for (auto& [k, v] : coco_stats(r.value())) m[k] = v;
  return m;
}

constexpr double kTol = 1e-12;

// Precision is tp / (tp + fp + eps) as in pycocotools, so a perfect curve averages to
// 1 - 2.2e-16, not exactly 1.
bool close_to(double a, double b) { return std::fabs(a - b) < kTol; }

}  // namespace

TEST_CASE("coco: parameters are pycocotools' linspace values", "[eval][coco]") {
  const CocoParams p = CocoParams::defaults(Task::kBbox);
  REQUIRE(p.iou_thrs.size() == 10);
  CHECK(p.iou_thrs[0] == 0.5);
  CHECK(p.iou_thrs[5] == 0.75);  // summarize finds .75 by exact comparison
  CHECK(p.iou_thrs[9] == 0.95);
  REQUIRE(p.rec_thrs.size() == 101);
  for (int k = 0; k <= 100; ++k) CHECK(p.rec_thrs[size_t(k)] == k * 0.01);
  CHECK(p.max_dets == std::vector<int>{1, 10, 100});
  const CocoParams kp = CocoParams::defaults(Task::kKeypoints);
  CHECK(kp.max_dets == std::vector<int>{20});
  CHECK(kp.area_ranges.size() == 3);
  CHECK(kp.kpt_sigmas.size() == 17);
}

TEST_CASE("coco: one perfect detection; undefined area ranges are -1", "[eval][coco]") {
  auto s = stats(make({gbox(1, 1, 1, {0, 0, 10, 10}, 100)}), make({dbox(1, 1, {0, 0, 10, 10}, .9)}));
  CHECK(close_to(s["AP"], 1.0));
  CHECK(close_to(s["AP50"], 1.0));
  CHECK(close_to(s["AP75"], 1.0));
  CHECK(close_to(s["APs"], 1.0));
  CHECK(s["APm"] == -1.0);  // no medium ground truth
  CHECK(s["APl"] == -1.0);
  CHECK(close_to(s["AR1"], 1.0));
  CHECK(close_to(s["AR100"], 1.0));
  CHECK(s["ARm"] == -1.0);
}

TEST_CASE("coco: IoU exactly 0.5 matches only the first threshold", "[eval][coco]") {
  // IoU = 50/100 = 0.5 >= 0.5, < 0.55: precision 1 at t=.5, 0 elsewhere
  auto s = stats(make({gbox(1, 1, 1, {0, 0, 10, 10}, 100)}), make({dbox(1, 1, {0, 0, 10, 5}, .9)}));
  CHECK(close_to(s["AP50"], 1.0));
  CHECK(s["AP75"] == 0.0);
  CHECK(std::fabs(s["AP"] - 0.1) < kTol);
  CHECK(std::fabs(s["AR100"] - 0.1) < kTol);
}

TEST_CASE("coco: a higher-scored false positive halves precision; AP is the 101-point mean", "[eval][coco]") {
  // d1 (.9) misses, d2 (.8) hits: precision [0, .5] -> envelope .5 at every recall point
  auto s = stats(make({gbox(1, 1, 1, {0, 0, 10, 10}, 100)}),
                 make({dbox(1, 1, {50, 50, 10, 10}, .9), dbox(1, 1, {0, 0, 10, 10}, .8)}));
  CHECK(std::fabs(s["AP"] - 0.5) < kTol);
  CHECK(close_to(s["AR100"], 1.0));
  CHECK(s["AR1"] == 0.0);  // the single best-scored detection is the miss
}

TEST_CASE("coco: ties are broken by image id order then file order (stable mergesort)", "[eval][coco]") {
  // Two images, one GT each; equal scores: the miss in the lower image id comes first.
  // FP first: rc [0,.5], pr [0,.5] -> .5 at recall points 0..50 -> 51*.5/101.
  // TP first: rc [.5,.5], pr [1,.5] -> 1 at recall points 0..50 -> 51/101.
  const Dataset gt = make({gbox(1, 1, 1, {0, 0, 10, 10}, 100), gbox(2, 2, 1, {0, 0, 10, 10}, 100)}, 2);
  auto fp_first = stats(gt, make({dbox(1, 1, {50, 50, 10, 10}, .8), dbox(2, 1, {0, 0, 10, 10}, .8)}, 2));
  CHECK(std::fabs(fp_first["AP"] - 51 * 0.5 / 101) < kTol);
  auto tp_first = stats(gt, make({dbox(1, 1, {0, 0, 10, 10}, .8), dbox(2, 1, {50, 50, 10, 10}, .8)}, 2));
  CHECK(std::fabs(tp_first["AP"] - 51.0 / 101) < kTol);
  // File order decides within one image, whatever order the images appear in the file.
  auto file_order = stats(gt, make({dbox(2, 1, {0, 0, 10, 10}, .8), dbox(1, 1, {50, 50, 10, 10}, .8)}, 2));
  CHECK(std::fabs(file_order["AP"] - 51 * 0.5 / 101) < kTol);
}

TEST_CASE("coco: crowd regions absorb any number of detections, IoU over the detection", "[eval][coco]") {
  const Dataset gt = make({gbox(1, 1, 1, {0, 0, 10, 10}, 100), gbox(2, 1, 1, {20, 0, 30, 30}, 900, true)});
  // d2 and d3 lie inside the crowd box (|d∩g|/|d| = 1): ignored, not false positives.
  auto s = stats(gt, make({dbox(1, 1, {25, 5, 5, 5}, .95), dbox(1, 1, {0, 0, 10, 10}, .9),
                           dbox(1, 1, {22, 2, 6, 6}, .7)}));
  CHECK(close_to(s["AP"], 1.0));
  CHECK(close_to(s["AR100"], 1.0));
  // The same detection against a non-crowd region of the same box is a false positive:
  // IoU 25/900 < .5, so d2 (first) is FP -> precision [0,.5,.33] -> AP .5.
  const Dataset gt2 = make({gbox(1, 1, 1, {0, 0, 10, 10}, 100), gbox(2, 1, 1, {20, 0, 30, 30}, 900, false)});
  auto s2 = stats(gt2, make({dbox(1, 1, {25, 5, 5, 5}, .95), dbox(1, 1, {0, 0, 10, 10}, .9)}));
  CHECK(std::fabs(s2["AP50"] - 0.5 * 51 / 101) < kTol);  // recall stops at .5 (one of two GT found)
}

TEST_CASE("coco: a match to a regular ground truth stops before crowd ones", "[eval][coco]") {
  // The detection overlaps the regular GT with IoU .6 and lies inside a crowd region (IoU 1);
  // the regular one is sorted first and, once matched, the search breaks at the crowd.
  const Dataset gt = make({gbox(1, 1, 1, {0, 0, 50, 50}, 900, true), gbox(2, 1, 1, {0, 0, 10, 10}, 100)});
  auto s = stats(gt, make({dbox(1, 1, {0, 0, 10, 6}, .9)}));
  CHECK(close_to(s["AP50"], 1.0));
  CHECK(s["AP75"] == 0.0);  // at .75 only the crowd matches: ignored, so no TP and no FP
  int hits = 0;  // thresholds up to IoU .6
  for (double t : CocoParams::defaults(Task::kBbox).iou_thrs) hits += 0.6 >= t;
  CHECK(hits == 3);
  CHECK(close_to(s["AR100"], hits / 10.0));
}

TEST_CASE("coco: area ranges use the annotation's area, not the box", "[eval][coco]") {
  // Box 100x100 (large) but annotation area 500 (small, a segmentation area).
  auto s = stats(make({gbox(1, 1, 1, {0, 0, 100, 100}, 500)}), make({dbox(1, 1, {0, 0, 100, 100}, .9)}));
  CHECK(close_to(s["APs"], 1.0));
  CHECK(s["APl"] == -1.0);
  CHECK(close_to(s["AP"], 1.0));
  // An unmatched detection outside the range is ignored there: the large FP does not hurt APs.
  auto s2 = stats(make({gbox(1, 1, 1, {0, 0, 10, 10}, 100)}),
                  make({dbox(1, 1, {100, 100, 100, 100}, .99), dbox(1, 1, {0, 0, 10, 10}, .5)}));
  CHECK(close_to(s2["APs"], 1.0));
  CHECK(std::fabs(s2["AP"] - 0.5) < kTol);
}

TEST_CASE("coco: images without ground truth, empty images, categories without detections", "[eval][coco]") {
  // img1: GT + TP (.5); img2: no GT, a FP (.9); img3: nothing at all.
  // cat 2: GT in img1, no detections -> AP 0 (defined). cat 3: no GT, a detection -> -1, excluded.
  const Dataset gt = make({gbox(1, 1, 1, {0, 0, 10, 10}, 100), gbox(2, 1, 2, {30, 30, 10, 10}, 100)}, 3, 3);
  const Dataset dt = make({dbox(1, 1, {0, 0, 10, 10}, .5), dbox(2, 1, {0, 0, 10, 10}, .9), dbox(1, 3, {0, 0, 5, 5}, .7)}, 3, 3);
  auto r = coco_evaluate(gt, dt, CocoParams::defaults(Task::kBbox));
  REQUIRE(r.is_ok());
  const auto& e = r.value();
  CHECK(std::fabs(coco_summarize(e, true, std::nullopt, "all", 100, 0) - 0.5) < kTol);
  CHECK(coco_summarize(e, true, std::nullopt, "all", 100, 1) == 0.0);
  CHECK(coco_summarize(e, true, std::nullopt, "all", 100, 2) == -1.0);
  CHECK(coco_summarize(e, false, std::nullopt, "all", 100, 1) == 0.0);
  std::map<std::string, double> s;
  for (auto& [k, v] : coco_stats(e)) s[k] = v;
  CHECK(std::fabs(s["AP"] - 0.25) < kTol);  // mean over the two defined categories
  CHECK(std::fabs(s["AR100"] - 0.5) < kTol);
  // No detections at all: AP 0, not undefined.
  auto none = stats(make({gbox(1, 1, 1, {0, 0, 10, 10}, 100)}), make({}));
  CHECK(none["AP"] == 0.0);
  CHECK(none["AR100"] == 0.0);
}

TEST_CASE("coco: more detections than max_dets are cut per image and counted", "[eval][coco]") {
  // three GT, three TPs with scores .9 .8 .7 in one image
  std::vector<Annotation> g, d;
  for (int i = 0; i < 3; ++i) {
    g.push_back(gbox(i + 1, 1, 1, {double(i) * 20, 0, 10, 10}, 100));
    d.push_back(dbox(1, 1, {double(i) * 20, 0, 10, 10}, .9 - .1 * i));
  }
  auto s = stats(make(g), make(d));
  CHECK(std::fabs(s["AR1"] - 1.0 / 3) < kTol);
  CHECK(close_to(s["AR10"], 1.0));
  CHECK(close_to(s["AP"], 1.0));
  CocoParams p = CocoParams::defaults(Task::kBbox);
  p.max_dets = {2, 1};  // sorted like pycocotools
  auto r = coco_evaluate(make(g), make(d), p);
  REQUIRE(r.is_ok());
  CHECK(r.value().dets_truncated == 1);
  CHECK(r.value().pairs_truncated == 1);
  std::map<std::string, double> s2;
  for (auto& [k, v] : coco_stats(r.value())) s2[k] = v;
  CHECK(std::fabs(s2["AR2"] - 2.0 / 3) < kTol);
  // recall reaches 2/3: recall points 0..0.66 (67 of them) have precision 1
  CHECK(std::fabs(s2["AP"] - 67.0 / 101) < kTol);
}

TEST_CASE("coco: ground-truth id 0 behaves as in pycocotools (match reads as unmatched)", "[eval][coco]") {
  auto r = coco_evaluate(make({gbox(0, 1, 1, {0, 0, 10, 10}, 100)}), make({dbox(1, 1, {0, 0, 10, 10}, .9)}),
                         CocoParams::defaults(Task::kBbox));
  REQUIRE(r.is_ok());
  std::map<std::string, double> s;
  for (auto& [k, v] : coco_stats(r.value())) s[k] = v;
  CHECK(s["AP"] == 0.0);
  REQUIRE_FALSE(r.value().warnings.empty());
  CHECK(r.value().warnings[0].find("id 0") != std::string::npos);
}

TEST_CASE("coco segm: masks from polygons and RLE; loadRes takes the area from the bbox", "[eval][coco][segm]") {
  // GT: a 10x10 square polygon (mask area 100, small) on a 200x200 image.
  Annotation g = gbox(1, 1, 1, {10, 10, 10, 10}, 100);
  g.segm.kind = Segmentation::Kind::kPolygons;
  g.segm.polygons = {{10, 10, 20, 10, 20, 20, 10, 20}};
  // Perfect mask as RLE (results carry only a mask: the segm branch of loadRes).
  Annotation d = dbox(1, 1, {0, 0, 0, 0}, .9);
  d.has_bbox = false;
  d.segm.kind = Segmentation::Kind::kRle;
  d.segm.rle = rle_from_polygon(g.segm.polygons[0], 200, 200);
  auto s = stats(make({g}), make({d}), CocoParams::defaults(Task::kSegm));
  CHECK(close_to(s["AP"], 1.0));
  CHECK(close_to(s["APs"], 1.0));
  // A half-overlapping mask: IoU = 50/150 -> no match at any threshold.
  Annotation half = d;
  half.segm.rle = rle_from_bbox({15, 10, 10, 10}, 200, 200);
  auto s2 = stats(make({g}), make({half}), CocoParams::defaults(Task::kSegm));
  CHECK(s2["AP"] == 0.0);
  // Results with bbox AND mask take loadRes' bbox branch: area = w*h. An unmatched mask of
  // 25 px with a 100x100 box is "large", so it is ignored when scoring small objects.
  Annotation fp = dbox(1, 1, {100, 100, 100, 100}, .95);
  fp.segm.kind = Segmentation::Kind::kRle;
  fp.segm.rle = rle_from_bbox({150, 150, 5, 5}, 200, 200);
  Annotation tp = dbox(1, 1, {10, 10, 10, 10}, .9);
  tp.segm = d.segm;
  auto s3 = stats(make({g}), make({fp, tp}), CocoParams::defaults(Task::kSegm));
  CHECK(close_to(s3["APs"], 1.0));                        // FP ignored: its (box) area is not small
  CHECK(std::fabs(s3["AP"] - 0.5) < kTol);         // but it counts in "all"
}

namespace {

Annotation person(int64_t id, int64_t img, const std::vector<double>& kps, double area, Box b, int num = -1) {
  Annotation a = gbox(id, img, 1, b, area);
  a.keypoints = kps;
  a.num_keypoints = num;
  return a;
}

std::vector<double> grid_kps(double x0, double y0, double v = 2) {
  std::vector<double> k;
  for (int j = 0; j < 17; ++j) {
    k.push_back(x0 + 3 * (j % 5));
    k.push_back(y0 + 4 * (j / 5));
    k.push_back(v);
  }
  return k;
}

}  // namespace

TEST_CASE("coco keypoints: OKS, ignored unlabeled people, AR naming", "[eval][coco][keypoints]") {
  const double area = 2000;  // medium
  const Annotation g = person(1, 1, grid_kps(50, 50), area, {45, 45, 20, 20}, 17);
  // exact keypoints: OKS 1
  Annotation d = dbox(1, 1, {}, .9);
  d.has_bbox = false;
  d.keypoints = grid_kps(50, 50, 1);
  auto s = stats(make({g}), make({d}), CocoParams::defaults(Task::kKeypoints));
  CHECK(close_to(s["AP"], 1.0));
  CHECK(close_to(s["APm"], 1.0));
  CHECK(s["APl"] == -1.0);
  CHECK(close_to(s["AR"], 1.0));
  CHECK(s.count("APs") == 0);  // keypoints have no small range
  // every keypoint 2 px off in x: OKS = mean_j exp(-4 / (2 sigma_j)^2 / (area+eps) / 2)
  Annotation off = d;
  for (size_t j = 0; j < off.keypoints.size(); j += 3) off.keypoints[j] += 2;
  double oks = 0;
  for (double sg : coco17_sigmas()) oks += std::exp(-4.0 / ((2 * sg) * (2 * sg)) / (area + 2.220446049250313e-16) / 2);
  oks /= 17;
  int hits = 0;
  for (double t : CocoParams::defaults(Task::kKeypoints).iou_thrs) hits += oks >= t;
  REQUIRE(hits > 0);
  REQUIRE(hits < 10);
  auto s2 = stats(make({g}), make({off}), CocoParams::defaults(Task::kKeypoints));
  CHECK(std::fabs(s2["AP"] - hits / 10.0) < kTol);
  CHECK(std::fabs(s2["AR"] - hits / 10.0) < kTol);
  // A person with num_keypoints 0 is ignored; a detection near it is neither TP nor FP.
  // Without visible keypoints OKS measures distance to a box twice the GT box: inside -> 1.
  const Annotation unl = person(2, 1, std::vector<double>(51, 0.0), 900, {120, 120, 20, 20}, 0);
  Annotation near = dbox(1, 1, {}, .95);
  near.has_bbox = false;
  near.keypoints = grid_kps(110, 110, 1);
  auto s3 = stats(make({g, unl}), make({near, d}), CocoParams::defaults(Task::kKeypoints));
  CHECK(close_to(s3["AP"], 1.0));
}

TEST_CASE("coco: wrong keypoint count is an error naming the annotation", "[eval][coco][keypoints]") {
  const Annotation g = person(1, 1, grid_kps(50, 50), 2000, {45, 45, 20, 20}, 17);
  Annotation d = dbox(1, 1, {}, .9);
  d.has_bbox = false;
  d.keypoints = {1, 2, 1};
  d.origin = "preds.json: results[0]";
  auto r = coco_evaluate(make({g}), make({d}), CocoParams::defaults(Task::kKeypoints));
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().find("preds.json: results[0]") != std::string::npos);
}

TEST_CASE("coco: bbox and segm evaluation agree on pixel-aligned boxes (random sets)", "[eval][coco][segm]") {
  // For integer boxes the rasterised mask is exactly the box, so mask IoU (crowd or not)
  // equals box IoU and both paths must give bit-identical precision and recall arrays.
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<Annotation> g, d;
    const int n_img = 6, n_cat = 3;
    auto rbox = [&] {
      const double x = rng() % 60, y = rng() % 60, w = 1 + rng() % 40, h = 1 + rng() % 40;
      return Box{x, y, w, h};
    };
    int64_t gid = 1;
    for (int i = 1; i <= n_img; ++i)
      for (int k = 0; k < int(rng() % 6); ++k) {
        const Box b = rbox();
        Annotation a = gbox(gid++, i, 1 + rng() % n_cat, b, b[2] * b[3], rng() % 7 == 0);
        a.segm.kind = Segmentation::Kind::kPolygons;
        a.segm.polygons = {{b[0], b[1], b[0] + b[2], b[1], b[0] + b[2], b[1] + b[3], b[0], b[1] + b[3]}};
        g.push_back(a);
      }
    for (int i = 1; i <= n_img; ++i)
      for (int k = 0; k < int(rng() % 12); ++k) {
        Box b = rbox();
        int64_t cat = 1 + rng() % n_cat;
        std::vector<const Annotation*> here;
        for (const auto& x : g)
          if (x.image_id == i) here.push_back(&x);
        if (!here.empty() && rng() % 3) {  // near a ground truth of this image so that matches happen
          const Annotation* t = here[rng() % here.size()];
          b = t->bbox;
          cat = t->category_id;
          b[0] += double(rng() % 5);
          b[2] += double(rng() % 5);
        }
        const double score = (rng() % 10) / 10.0;  // many ties
        Annotation a = dbox(i, cat, b, score);
        a.segm.kind = Segmentation::Kind::kRle;
        a.segm.rle = rle_from_bbox(b, 200, 200);  // large enough that nothing is clipped
        d.push_back(a);
      }
    CocoParams pb = CocoParams::defaults(Task::kBbox), ps = CocoParams::defaults(Task::kSegm);
    pb.max_dets = ps.max_dets = {1, 3, 8};  // exercise truncation too
    auto rb = coco_evaluate(make(g, n_img, n_cat, 200), make(d, n_img, n_cat, 200), pb);
    auto rs = coco_evaluate(make(g, n_img, n_cat, 200), make(d, n_img, n_cat, 200), ps);
    REQUIRE(rb.is_ok());
    REQUIRE(rs.is_ok());
    CHECK(rb.value().precision == rs.value().precision);
    CHECK(rb.value().recall == rs.value().recall);
    CHECK(rb.value().dets_truncated == rs.value().dets_truncated);
    CHECK(coco_summarize(rb.value(), true, 0.5, "all", 8) > 0);  // the sets do produce matches
  }
}
