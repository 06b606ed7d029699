// run_evaluation: read -> bind -> protocol (COCO or VOC/darknet) -> threshold metrics ->
// PR curves (+ PNG) -> one JSON document. Undefined values are null, never -1 or NaN.
#include "eval/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "eval/pr_plot.h"
#include "eval/report.h"
#include "eval/threshold_metrics.h"
#include "eval/voc_eval.h"

namespace cvt::eval {

using json = nlohmann::ordered_json;

namespace {

Status read_both(const EvaluateOptions& o, std::vector<std::string>& names, Dataset& gt, Dataset& dt) {
  names = o.names;
  if (!o.names_path.empty()) {
    CVT_ASSIGN_OR_RETURN(names, read_names(o.names_path));
  }
  ReadOptions ro;
  ro.task = o.task;
  ro.side = Side::kGroundTruth;
  ro.format = o.gt_format;
  CVT_ASSIGN_OR_RETURN(gt, read_dataset(o.gt_path, ro));
  ro.side = Side::kPrediction;
  ro.format = o.pred_format;
  CVT_ASSIGN_OR_RETURN(dt, read_dataset(o.pred_path, ro));
  return Status::ok();
}

// Masks for threshold metrics: every annotation as RLE at its image size (loadRes gives
// box-only predictions their box as a polygon).
Status prepare_masks(Dataset& ds, bool predictions, std::vector<std::string>& warnings) {
  std::map<int64_t, const Image*> imgs;
  for (const auto& im : ds.images) imgs[im.id] = &im;
  int64_t missing = 0;
  for (auto& a : ds.anns) {
    if (predictions && a.segm.kind == Segmentation::Kind::kNone && a.has_bbox) {
      const double x1 = a.bbox[0], x2 = a.bbox[0] + a.bbox[2], y1 = a.bbox[1], y2 = a.bbox[1] + a.bbox[3];
      a.segm.kind = Segmentation::Kind::kPolygons;
      a.segm.polygons = {{x1, y1, x1, y2, x2, y2, x2, y1}};
    }
    CVT_ASSIGN_OR_RETURN(Rle r, annotation_to_rle(a, *imgs[a.image_id], &missing));
    a.segm.kind = Segmentation::Kind::kRle;
    a.segm.rle = std::move(r);
  }
  if (missing && !predictions)
    warnings.push_back(std::to_string(missing) + " objects in " + ds.path + " have no mask (threshold metrics use empty masks)");
  return Status::ok();
}

std::vector<uint8_t> ignored_gt(const Dataset& gt, const EvaluateOptions& o) {
  std::vector<uint8_t> ig(gt.anns.size(), 0);
  for (size_t i = 0; i < gt.anns.size(); ++i) {
    const Annotation& a = gt.anns[i];
    if (o.protocol == "coco") {
      ig[i] = a.iscrowd;
      if (o.task == Task::kKeypoints) {
        int n = a.num_keypoints;
        if (n < 0) {
          n = 0;
          for (size_t j = 2; j < a.keypoints.size(); j += 3) n += a.keypoints[j] > 0;
        }
        ig[i] = ig[i] || n == 0;
      }
    } else if (o.protocol != "darknet") {
      ig[i] = o.use_difficult && a.difficult;
    }
  }
  return ig;
}

PairIouFn make_iou_fn(const EvaluateOptions& o, bool plus_one, const std::vector<double>& sigmas) {
  if (o.task == Task::kSegm)
    return [](const Annotation& d, const Annotation& g) { return rle_iou(d.segm.rle, g.segm.rle, g.iscrowd); };
  if (o.task == Task::kKeypoints)
    return [sigmas](const Annotation& d, const Annotation& g) {
      if (d.keypoints.size() != 3 * sigmas.size()) return 0.0;
      const std::vector<double>* gk = g.keypoints.size() == 3 * sigmas.size() ? &g.keypoints : nullptr;
      const double area = g.has_area ? g.area : g.bbox[2] * g.bbox[3];
      return keypoint_oks(d.keypoints, gk, g.bbox, area, sigmas);
    };
  if (o.protocol == "coco")
    return [](const Annotation& d, const Annotation& g) { return box_iou_coco(d.bbox, g.bbox, g.iscrowd); };
  return [plus_one](const Annotation& d, const Annotation& g) { return box_iou(d.bbox, g.bbox, plus_one); };
}

}  // namespace

Result<json> run_evaluation(const EvaluateOptions& o) {
  const bool coco = o.protocol == "coco", darknet = o.protocol == "darknet";
  const bool voc = o.protocol == "voc07" || o.protocol == "voc12";
  if (!coco && !voc && !darknet)
    return invalid_argument("unknown protocol '" + o.protocol + "' (coco, voc07, voc12 or darknet)");
  if (!coco && o.task != Task::kBbox)
    return invalid_argument("--protocol " + o.protocol + " evaluates boxes; use --protocol coco for " +
                            task_name(o.task));
  if (darknet && o.darknet_points != 0 && o.darknet_points != 11 && o.darknet_points != 101)
    return invalid_argument("darknet points must be 0 (all), 11 or 101");
  std::vector<std::string> names;
  Dataset gt_raw, dt_raw;
  CVT_RETURN_IF_ERROR(read_both(o, names, gt_raw, dt_raw));
  Report rep;
  rep.gt_format = gt_raw.format;
  rep.pred_format = dt_raw.format;
  const size_t pred_input = dt_raw.anns.size();
  BindOptions bo;
  bo.names = names;
  bo.imgsz_w = o.imgsz_w;
  bo.imgsz_h = o.imgsz_h;
  bo.images_dir = o.images_dir;
  CVT_ASSIGN_OR_RETURN(Bound b, bind(std::move(gt_raw), std::move(dt_raw), bo));
  std::vector<std::string>& warnings = rep.warnings;
  warnings = b.warnings;

  const bool plus_one = coco ? false : o.pixel_plus_one.value_or(!darknet);
  if (coco && o.pixel_plus_one.value_or(false))
    warnings.push_back("--pixel-plus-one is ignored by --protocol coco: pycocotools has no +1 convention");
  const bool strict = coco ? false : o.iou_strict.value_or(true);
  std::vector<double> sigmas = o.kpt_sigmas.empty() ? coco17_sigmas() : o.kpt_sigmas;

  json doc;
  doc["schema"] = "cvtool.evaluate/1";
  doc["tool"] = {{"name", "cvtool"}, {"version", CVTOOL_VERSION}};
  doc["task"] = task_name(o.task);
  doc["protocol"] = o.protocol;
  doc["inputs"] = {{"gt", o.gt_path},
                   {"pred", o.pred_path},
                   {"gt_format", rep.gt_format},
                   {"pred_format", rep.pred_format},
                   {"image_match", b.image_match},
                   {"category_match", b.category_match}};
  const std::vector<uint8_t> gt_ig = ignored_gt(b.gt, o);
  int64_t n_ig = 0;
  for (uint8_t v : gt_ig) n_ig += v;
  json counts = {{"images", b.gt.images.size()},
                 {"gt", b.gt.anns.size()},
                 {"gt_ignored", n_ig},
                 {"pred", b.dt.anns.size()},
                 {"pred_input", pred_input},
                 {"pred_unknown_image", b.dropped_unknown_image},
                 {"pred_unknown_category", b.dropped_unknown_category}};

  // ---- protocol --------------------------------------------------------------------------
  if (coco) {
    CocoParams p = CocoParams::defaults(o.task);
    if (!o.iou_thrs.empty()) p.iou_thrs = o.iou_thrs;
    if (!o.max_dets.empty()) p.max_dets = o.max_dets;
    if (!o.area_ranges.empty()) p.area_ranges = o.area_ranges;
    p.kpt_sigmas = sigmas;
    CVT_ASSIGN_OR_RETURN(CocoEvalResult r, coco_evaluate(b.gt, b.dt, p));
    for (const auto& w : r.warnings) warnings.push_back(w);
    if (r.dets_truncated > 0)
      warnings.push_back(std::to_string(r.dets_truncated) + " predictions beyond --max-dets " +
                         std::to_string(r.params.max_dets.back()) + " in " + std::to_string(r.pairs_truncated) +
                         " image/category pairs were not evaluated (pycocotools drops them silently)");
    counts["pred_truncated_by_max_dets"] = r.dets_truncated;
    coco_report(r, b.gt, rep);
  } else {
    std::vector<double> thrs = o.iou_thrs.empty() ? std::vector<double>{0.5} : o.iou_thrs;
    if (!o.max_dets.empty()) warnings.push_back("--max-dets is ignored by --protocol " + o.protocol);
    if (!o.area_ranges.empty()) warnings.push_back("--area-ranges is ignored by --protocol " + o.protocol);
    VocParams vp;
    vp.plus_one = plus_one;
    vp.strict = strict;
    vp.use_difficult = voc && o.use_difficult;
    vp.map_over_all_classes = darknet;
    vp.interp = o.protocol == "voc07" ? ApInterp::kVoc11 : ApInterp::kAllPoints;
    if (darknet && o.darknet_points == 11) vp.interp = ApInterp::kDarknet11;
    if (darknet && o.darknet_points == 101) vp.interp = ApInterp::kDarknet101;
    std::vector<VocResult> per_thr;
    for (double t : thrs) {
      vp.iou_thr = t;
      per_thr.push_back(voc_evaluate(b.gt, b.dt, vp));
    }
    voc_report(thrs, per_thr, vp, o.protocol, o.darknet_points, rep);
  }
  doc["params"] = rep.params;
  doc["params"]["pixel_plus_one"] = plus_one;
  if (!coco) doc["params"]["iou_compare"] = strict ? ">" : ">=";
  if (voc) doc["params"]["difficult"] = o.use_difficult ? "ignore" : "count";
  doc["params"]["conf"] = o.conf;
  doc["params"]["match_iou"] = o.match_iou;
  doc["params"]["cm_iou"] = o.cm_iou;
  doc["params"]["box_format"] = "xywh";
  if (o.task == Task::kKeypoints) doc["params"]["oks_sigmas"] = sigmas;
  counts["gt_ignored"] = n_ig;
  doc["counts"] = counts;
  doc["summary"] = rep.summary;

  // ---- threshold metrics -----------------------------------------------------------------
  if (o.task == Task::kSegm) {
    CVT_RETURN_IF_ERROR(prepare_masks(b.gt, false, warnings));
    CVT_RETURN_IF_ERROR(prepare_masks(b.dt, true, warnings));
  }
  ThresholdParams tp;
  tp.conf = o.conf;
  tp.conf_strict = darknet;
  tp.iou = o.match_iou;
  tp.iou_strict = strict;  // COCO matches with IoU >= t; VOC/darknet with > t unless --iou-compare '>='
  tp.cm_iou = o.cm_iou;
  const ThresholdResult th = threshold_metrics(b.gt, b.dt, gt_ig, tp, make_iou_fn(o, plus_one, sigmas));
  threshold_report(th, rep);
  doc["per_class"] = rep.per_class;
  doc["at_conf"] = rep.at_conf;
  doc["f1_optimal"] = rep.f1_optimal;
  doc["confusion_matrix"] = rep.confusion;

  // ---- PR curves ---------------------------------------------------------------------------
  doc["pr_curves"] = o.pr_curves ? rep.pr_curves : json(nullptr);
  doc["plots"] = json::array();
  if (!o.plot_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.plot_dir, ec);
    if (ec) return io_error("cannot create plot folder '" + o.plot_dir + "': " + ec.message());
    const std::string path = (std::filesystem::path(o.plot_dir) / "pr_curve.png").string();
    CVT_RETURN_IF_ERROR(write_pr_plot(path, rep.plot_classes, rep.plot_mean, rep.plot_title));
    doc["plots"].push_back(path);
  }
  doc["warnings"] = warnings;
  return doc;
}

// ---- evaluate iou A B ------------------------------------------------------------------------

namespace {

void synthesize_images(Dataset& ds) {
  if (!ds.images.empty() || !ds.has_image_ids) return;
  std::map<int64_t, bool> seen;
  for (const auto& a : ds.anns) seen[a.image_id] = true;
  for (const auto& [id, _] : seen) ds.images.push_back({id, std::to_string(id), "", 0, 0});
}

}  // namespace

Result<json> run_pairwise_iou(const PairwiseOptions& o) {
  if (o.task == Task::kKeypoints) return invalid_argument("evaluate iou compares boxes or masks, not keypoints");
  std::vector<std::string> names = o.names;
  if (!o.names_path.empty()) {
    CVT_ASSIGN_OR_RETURN(names, read_names(o.names_path));
  }
  ReadOptions ro;
  ro.side = Side::kPrediction;
  ro.require_score = false;
  ro.task = o.task;
  ro.format = o.a_format;
  CVT_ASSIGN_OR_RETURN(Dataset a, read_dataset(o.a_path, ro));
  ro.format = o.b_format;
  CVT_ASSIGN_OR_RETURN(Dataset bset, read_dataset(o.b_path, ro));
  const std::string fa = a.format, fb = bset.format;
  synthesize_images(a);
  BindOptions bo{names, o.imgsz_w, o.imgsz_h, o.images_dir};
  CVT_ASSIGN_OR_RETURN(Bound b, bind(std::move(a), std::move(bset), bo));
  std::vector<std::string> warnings = b.warnings;
  if (o.task == Task::kSegm) {
    CVT_RETURN_IF_ERROR(prepare_masks(b.gt, true, warnings));
    CVT_RETURN_IF_ERROR(prepare_masks(b.dt, true, warnings));
  }
  std::map<int64_t, std::string> img_name, cat_name;
  for (const auto& im : b.gt.images) img_name[im.id] = im.file_name.empty() ? im.key : im.file_name;
  for (const auto& c : b.gt.categories) cat_name[c.id] = c.name;
  // group per image (and class)
  std::map<std::pair<int64_t, int64_t>, std::pair<std::vector<size_t>, std::vector<size_t>>> groups;
  for (size_t i = 0; i < b.gt.anns.size(); ++i) {
    const auto& x = b.gt.anns[i];
    groups[{x.image_id, o.class_agnostic ? 0 : x.category_id}].first.push_back(i);
  }
  for (size_t i = 0; i < b.dt.anns.size(); ++i) {
    const auto& x = b.dt.anns[i];
    groups[{x.image_id, o.class_agnostic ? 0 : x.category_id}].second.push_back(i);
  }
  json pairs = json::array(), un_a = json::array(), un_b = json::array();
  double sum = 0;
  int64_t n = 0;
  for (const auto& [key, members] : groups) {
    const auto& [ia, ib] = members;
    struct P {
      double v;
      size_t a, b;
    };
    std::vector<P> cand;
    for (size_t x = 0; x < ia.size(); ++x)
      for (size_t y = 0; y < ib.size(); ++y) {
        const Annotation& A = b.gt.anns[ia[x]];
        const Annotation& B = b.dt.anns[ib[y]];
        const double v = o.task == Task::kSegm ? rle_iou(B.segm.rle, A.segm.rle, false) : box_iou(A.bbox, B.bbox, false);
        if (v > o.min_iou) cand.push_back({v, x, y});
      }
    std::stable_sort(cand.begin(), cand.end(), [](const P& p, const P& q) { return p.v > q.v; });
    std::vector<uint8_t> ua(ia.size(), 0), ub(ib.size(), 0);
    for (const auto& c : cand) {
      if (ua[c.a] || ub[c.b]) continue;
      ua[c.a] = ub[c.b] = 1;
      const Annotation& A = b.gt.anns[ia[c.a]];
      const Annotation& B = b.dt.anns[ib[c.b]];
      json pj = {{"image", img_name[key.first]}, {"a", A.index}, {"b", B.index}, {"iou", c.v}};
      pj["label_a"] = cat_name[A.category_id];
      pj["label_b"] = cat_name[B.category_id];
      pairs.push_back(pj);
      sum += c.v;
      ++n;
    }
    for (size_t x = 0; x < ia.size(); ++x)
      if (!ua[x]) un_a.push_back(b.gt.anns[ia[x]].index);
    for (size_t y = 0; y < ib.size(); ++y)
      if (!ub[y]) un_b.push_back(b.dt.anns[ib[y]].index);
  }
  json doc;
  doc["schema"] = "cvtool.evaluate.iou/1";
  doc["tool"] = {{"name", "cvtool"}, {"version", CVTOOL_VERSION}};
  doc["task"] = task_name(o.task);
  doc["inputs"] = {{"a", o.a_path}, {"b", o.b_path}, {"a_format", fa}, {"b_format", fb}};
  doc["params"] = {{"class_agnostic", o.class_agnostic}, {"min_iou", o.min_iou}, {"pixel_plus_one", false},
                   {"matching", "greedy by IoU, one-to-one per image" + std::string(o.class_agnostic ? "" : " and class")}};
  doc["counts"] = {{"a", b.gt.anns.size()}, {"b", b.dt.anns.size()}, {"pairs", n}};
  doc["pairs"] = pairs;
  doc["unmatched_a"] = un_a;
  doc["unmatched_b"] = un_b;
  doc["mean_iou"] = n ? json(sum / double(n)) : json(nullptr);
  const int64_t total = int64_t(b.gt.anns.size() + b.dt.anns.size()) - n;
  doc["mean_iou_with_unmatched"] = total > 0 ? json(sum / double(total)) : json(nullptr);
  doc["warnings"] = warnings;
  return doc;
}

// ---- flag parsers ------------------------------------------------------------------------------

namespace {

bool parse_number(std::string t, double& v) {
  const auto b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
  if (b == std::string::npos) return false;
  t = t.substr(b, e - b + 1);
  if (t == "inf") {
    v = INFINITY;
    return true;
  }
  for (const char* pw : {"**", "^"}) {
    const auto p = t.find(pw);
    if (p != std::string::npos) {
      double base, ex;
      if (!parse_number(t.substr(0, p), base) || !parse_number(t.substr(p + std::string(pw).size()), ex)) return false;
      v = std::pow(base, ex);
      return true;
    }
  }
  try {
    size_t used = 0;
    v = std::stod(t, &used);
    return used == t.size();
  } catch (...) {
    return false;
  }
}

std::vector<std::string> split(const std::string& s, char c) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, c);) out.push_back(p);
  return out;
}

}  // namespace

Result<std::vector<double>> parse_iou_thresholds(const std::string& s) {
  std::vector<double> v;
  if (s.find(':') != std::string::npos) {
    const auto parts = split(s, ':');
    double a, b, step;
    if (parts.size() != 3 || !parse_number(parts[0], a) || !parse_number(parts[1], b) || !parse_number(parts[2], step) ||
        step <= 0 || b < a)
      return invalid_argument("--iou-thrs '" + s + "': expected start:stop:step, e.g. 0.5:0.95:0.05");
    const double n = std::round((b - a) / step) + 1;
    if (n > 1000) return invalid_argument("--iou-thrs '" + s + "': too many thresholds");
    v = np_linspace(a, b, int(n));
  } else {
    for (const auto& p : split(s, ',')) {
      double x;
      if (!parse_number(p, x)) return invalid_argument("--iou-thrs: '" + p + "' is not a number");
      v.push_back(x);
    }
  }
  if (v.empty()) return invalid_argument("--iou-thrs: no thresholds");
  for (double x : v)
    if (!(x > 0 && x <= 1)) return invalid_argument("--iou-thrs: thresholds must be in (0, 1]");
  return v;
}

Result<std::vector<int>> parse_max_dets(const std::string& s) {
  std::vector<int> v;
  for (const auto& p : split(s, ',')) {
    double x;
    if (!parse_number(p, x) || x < 1 || x != std::floor(x) || x > 1e7)
      return invalid_argument("--max-dets: '" + p + "' is not a positive integer");
    v.push_back(int(x));
  }
  if (v.empty()) return invalid_argument("--max-dets: empty list");
  return v;
}

Result<std::vector<AreaRange>> parse_area_ranges(const std::string& s) {
  std::vector<AreaRange> v;
  for (const auto& item : split(s, ',')) {
    const auto eq = item.find('=');
    const auto colon = item.find(':', eq == std::string::npos ? 0 : eq);
    AreaRange r;
    if (eq == std::string::npos || colon == std::string::npos || eq == 0)
      return invalid_argument("--area-ranges: '" + item + "' is not label=lo:hi");
    r.label = item.substr(0, eq);
    if (!parse_number(item.substr(eq + 1, colon - eq - 1), r.lo) || !parse_number(item.substr(colon + 1), r.hi) ||
        r.hi < r.lo)
      return invalid_argument("--area-ranges: bad bounds in '" + item + "'");
    v.push_back(r);
  }
  if (v.empty()) return invalid_argument("--area-ranges: empty list");
  if (std::none_of(v.begin(), v.end(), [](const AreaRange& r) { return r.label == "all"; }))
    return invalid_argument("--area-ranges must include an 'all' range (the summary AP uses it)");
  return v;
}

Result<std::pair<int64_t, int64_t>> parse_imgsz(const std::string& s) {
  std::string t = s;
  std::replace(t.begin(), t.end(), 'x', ',');
  const auto parts = split(t, ',');
  double w, h;
  if (parts.empty() || parts.size() > 2 || !parse_number(parts[0], w) ||
      !parse_number(parts.size() == 2 ? parts[1] : parts[0], h) || w < 1 || h < 1)
    return invalid_argument("--imgsz '" + s + "': expected W or W,H");
  return std::pair<int64_t, int64_t>{int64_t(w), int64_t(h)};
}

}  // namespace cvt::eval
