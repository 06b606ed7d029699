// Builds the JSON sections of an evaluation (schema in docs/cli-and-formats.md section 6).
#include "eval/report.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace cvt::eval {

using json = nlohmann::ordered_json;

json num_or_null(double v) { return (std::isfinite(v) && v > -1) ? json(v) : json(nullptr); }

namespace {

json opt(const std::optional<double>& v) { return v ? num_or_null(*v) : json(nullptr); }

std::string thr_key(double t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", t);
  return buf;
}

std::vector<double> recall_axis() {
  std::vector<double> r;
  for (int k = 0; k <= 100; ++k) r.push_back(k * 0.01);
  return r;
}

// Mean over the classes that define a value at each recall point.
std::vector<double> mean_curve(const std::vector<std::vector<double>>& curves) {
  std::vector<double> m(101, 0.0);
  for (size_t i = 0; i < 101; ++i) {
    double s = 0;
    int n = 0;
    for (const auto& c : curves)
      if (c.size() == 101 && c[i] > -1) {
        s += c[i];
        ++n;
      }
    m[i] = n ? s / n : -1;
  }
  return m;
}

void set_curves(Report& rep, double iou, const std::vector<std::string>& labels, const std::vector<int64_t>& ids,
                const std::vector<std::vector<double>>& curves, const std::vector<std::optional<double>>& aps,
                const std::string& what) {
  const std::vector<double> rec = recall_axis();
  json classes = json::array();
  for (size_t k = 0; k < curves.size(); ++k) {
    json c = {{"category_id", ids[k]}, {"label", labels[k]}};
    if (curves[k].empty() || curves[k][0] <= -1) {
      c["precision"] = nullptr;
    } else {
      c["precision"] = curves[k];
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s (AP %.3f)", labels[k].c_str(), aps[k].value_or(0.0));
      rep.plot_classes.push_back({buf, rec, curves[k]});
    }
    classes.push_back(c);
  }
  const std::vector<double> mean = mean_curve(curves);
  const bool any = !mean.empty() && mean[0] > -1;
  rep.pr_curves = {{"iou", iou}, {"recall", rec}, {"classes", classes}, {"mean", any ? json(mean) : json(nullptr)}};
  double map = 0;
  int n = 0;
  for (const auto& a : aps)
    if (a) {
      map += *a;
      ++n;
    }
  char buf[96];
  std::snprintf(buf, sizeof buf, "mean (%s %.3f)", what.c_str(), n ? map / n : 0.0);
  rep.plot_mean = {buf, rec, any ? mean : std::vector<double>{}};
  std::snprintf(buf, sizeof buf, "Precision-recall at IoU %s", thr_key(iou).c_str());
  rep.plot_title = buf;
}

}  // namespace

void coco_report(const CocoEvalResult& r, const Dataset& gt, Report& rep) {
  const CocoParams& p = r.params;
  rep.params["iou_thresholds"] = p.iou_thrs;
  rep.params["recall_points"] = p.rec_thrs.size();
  rep.params["max_dets"] = p.max_dets;
  json ar = json::object();
  for (const auto& a : p.area_ranges) ar[a.label] = {a.lo, a.hi};
  rep.params["area_ranges"] = ar;
  rep.params["use_cats"] = true;
  rep.params["iou_compare"] = ">=";
  rep.params["crowd"] = "ignore";
  rep.params["area_source"] = "annotation";
  for (const auto& [k, v] : coco_stats(r)) rep.summary[k] = num_or_null(v);

  std::map<int64_t, std::string> names;
  for (const auto& c : gt.categories) names[c.id] = c.name;
  const int last = p.max_dets.back();
  std::vector<std::string> labels;
  std::vector<std::vector<double>> curves;
  std::vector<std::optional<double>> aps;
  // PR curve at IoU 0.5 when evaluated (else the first threshold), area "all", largest max_dets
  size_t t50 = 0, a_all = 0;
  for (size_t t = 0; t < r.T; ++t)
    if (p.iou_thrs[t] == 0.5) t50 = t;
  for (size_t a = 0; a < r.A; ++a)
    if (p.area_ranges[a].label == "all") a_all = a;
  for (size_t k = 0; k < r.K; ++k) {
    json c = {{"category_id", r.cat_ids[k]}, {"label", names[r.cat_ids[k]]}};
    c["AP"] = num_or_null(coco_summarize(r, true, std::nullopt, "all", last, k));
    c["AP50"] = num_or_null(coco_summarize(r, true, .5, "all", last, k));
    c["AP75"] = num_or_null(coco_summarize(r, true, .75, "all", last, k));
    for (const auto& a : p.area_ranges)
      if (a.label != "all") c["AP_" + a.label] = num_or_null(coco_summarize(r, true, std::nullopt, a.label, last, k));
    c["AR"] = num_or_null(coco_summarize(r, false, std::nullopt, "all", last, k));
    rep.per_class.push_back(c);
    labels.push_back(names[r.cat_ids[k]]);
    std::vector<double> q(r.R);
    for (size_t ri = 0; ri < r.R; ++ri) q[ri] = r.prec(t50, ri, k, a_all, r.M - 1);
    if (r.R != 101) q.assign(101, -1);  // custom recall grids are not plotted
    curves.push_back(q);
    const double ap = coco_summarize(r, true, p.iou_thrs[t50], "all", last, k);
    aps.push_back(ap > -1 ? std::optional<double>(ap) : std::nullopt);
  }
  set_curves(rep, p.iou_thrs[t50], labels, r.cat_ids, curves, aps, "AP");
}

void voc_report(const std::vector<double>& thrs, const std::vector<VocResult>& res, const VocParams& vp,
                const std::string& protocol, int points, Report& rep) {
  rep.params["iou_thresholds"] = thrs;
  const char* interp = vp.interp == ApInterp::kVoc11         ? "11pt"
                       : vp.interp == ApInterp::kDarknet11   ? "11pt (k/10)"
                       : vp.interp == ApInterp::kDarknet101 ? "101pt (k/100)"
                                                             : "all";
  rep.params["interpolation"] = interp;
  rep.params["crowd"] = "not used";
  if (protocol == "darknet") {
    rep.params["points"] = points;
    rep.params["mean_over"] = "all classes (AP 0 without ground truth, as darknet)";
  } else {
    rep.params["mean_over"] = "classes with ground truth";
  }
  double sum = 0;
  bool all_defined = true;
  for (size_t t = 0; t < thrs.size(); ++t) {
    if (res[t].map) sum += *res[t].map;
    else all_defined = false;
  }
  rep.summary["mAP"] = all_defined && !thrs.empty() ? json(sum / double(thrs.size())) : json(nullptr);
  for (size_t t = 0; t < thrs.size(); ++t) rep.summary["mAP@" + thr_key(thrs[t])] = opt(res[t].map);

  std::vector<std::string> labels;
  std::vector<int64_t> ids;
  std::vector<std::vector<double>> curves;
  std::vector<std::optional<double>> aps;
  for (size_t k = 0; k < res[0].classes.size(); ++k) {
    const ClassAp& c0 = res[0].classes[k];
    json c = {{"category_id", c0.category_id}, {"label", c0.name}, {"interpolation", interp}};
    double s = 0;
    bool def = true;
    json by = json::object();
    for (size_t t = 0; t < thrs.size(); ++t) {
      const auto& ap = res[t].classes[k].ap;
      by[thr_key(thrs[t])] = opt(ap);
      if (ap) s += *ap;
      else def = false;
    }
    c["AP"] = def ? json(s / double(thrs.size())) : json(nullptr);
    if (thrs.size() > 1) c["AP_by_iou"] = by;
    c["npos"] = c0.npos;
    c["tp"] = c0.tp;
    c["fp"] = c0.fp;
    rep.per_class.push_back(c);
    labels.push_back(c0.name);
    ids.push_back(c0.category_id);
    curves.push_back(c0.npos > 0 ? sample_pr_101(c0.recall, c0.precision) : std::vector<double>(101, -1.0));
    aps.push_back(c0.ap);
  }
  set_curves(rep, thrs[0], labels, ids, curves, aps, "AP");
}

namespace {

json prf_json(const Prf& p, double conf) {
  return {{"conf", conf},         {"tp", p.tp},         {"fp", p.fp},   {"fn", p.fn}, {"precision", opt(p.precision)},
          {"recall", opt(p.recall)}, {"f1", opt(p.f1)}, {"mean_iou", opt(p.mean_iou)}};
}

json f1_json(const F1Optimal& f) {
  return {{"conf", opt(f.conf)}, {"f1", opt(f.f1)}, {"precision", opt(f.precision)}, {"recall", opt(f.recall)},
          {"tp", f.tp},          {"fp", f.fp},      {"fn", f.fn}};
}

}  // namespace

void threshold_report(const ThresholdResult& th, Report& rep) {
  std::map<int64_t, const ClassThreshold*> by_id;
  for (const auto& c : th.classes) by_id[c.category_id] = &c;
  for (auto& c : rep.per_class) {
    auto it = by_id.find(c["category_id"].get<int64_t>());
    if (it == by_id.end()) continue;
    c["num_gt"] = it->second->num_gt;
    c["num_pred"] = it->second->num_pred;
    c["at_conf"] = prf_json(it->second->at_conf, th.confusion.conf);
    c["f1_optimal"] = f1_json(it->second->best);
  }
  rep.at_conf = prf_json(th.overall, th.confusion.conf);
  rep.f1_optimal = f1_json(th.overall_best);
  rep.confusion = {{"conf", th.confusion.conf},
                   {"iou", th.confusion.iou},
                   {"rows", "ground truth"},
                   {"columns", "prediction"},
                   {"labels", th.confusion.labels},
                   {"matrix", th.confusion.matrix}};
}

}  // namespace cvt::eval
