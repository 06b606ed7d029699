// Threshold metrics. Detections are matched greedily in score order (stable), each to the
// best still-free ground truth of its image and class, so the TP/FP state of a detection
// never depends on lower-scored ones: every threshold is a prefix of one matching.
#include "eval/threshold_metrics.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

namespace cvt::eval {

namespace {

enum State : uint8_t { kFp = 0, kTp = 1, kIgnored = 2 };

struct Scored {
  double score;
  State state;
  double iou;
};

void finish(Prf& p, double iou_sum) {
  if (p.tp + p.fp > 0) p.precision = double(p.tp) / double(p.tp + p.fp);
  if (p.tp + p.fn > 0) p.recall = double(p.tp) / double(p.tp + p.fn);
  if (2 * p.tp + p.fp + p.fn > 0) p.f1 = 2.0 * double(p.tp) / double(2 * p.tp + p.fp + p.fn);
  if (p.tp > 0) p.mean_iou = iou_sum / double(p.tp);
}

Prf at_conf(const std::vector<Scored>& ds, int64_t npos, const ThresholdParams& p) {
  Prf r;
  double iou_sum = 0;
  for (const auto& d : ds) {
    const bool keep = p.conf_strict ? d.score > p.conf : d.score >= p.conf;
    if (!keep || d.state == kIgnored) continue;
    if (d.state == kTp) {
      ++r.tp;
      iou_sum += d.iou;
    } else {
      ++r.fp;
    }
  }
  r.fn = npos - r.tp;
  finish(r, iou_sum);
  return r;
}

bool pass(double v, double t, bool strict) { return strict ? v > t : v >= t; }

}  // namespace

F1Optimal best_f1(std::vector<std::pair<double, bool>> dets, int64_t npos) {
  F1Optimal best;
  best.fn = npos;
  if (npos <= 0) return best;  // F1 is 0 at every threshold: no optimum to report
  std::stable_sort(dets.begin(), dets.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  int64_t tp = 0, fp = 0;
  double best_f1 = 0;
  for (size_t i = 0; i < dets.size();) {
    // a threshold keeps every detection with the same score, so step over ties together
    const double s = dets[i].first;
    for (; i < dets.size() && dets[i].first == s; ++i) (dets[i].second ? tp : fp)++;
    const double f1 = 2.0 * double(tp) / double(2 * tp + fp + (npos - tp));
    if (f1 > best_f1) {  // strictly better: among equal F1 the highest threshold wins
      best_f1 = f1;
      best.conf = s;
      best.f1 = f1;
      best.precision = double(tp) / double(tp + fp);
      best.recall = double(tp) / double(npos);
      best.tp = tp;
      best.fp = fp;
      best.fn = npos - tp;
    }
  }
  if (!best.conf) best.f1 = 0.0;
  return best;
}

ThresholdResult threshold_metrics(const Dataset& gt, const Dataset& dt, const std::vector<uint8_t>& gt_ignored,
                                  const ThresholdParams& p, const PairIouFn& iou) {
  ThresholdResult res;
  std::map<int64_t, size_t> cat_index;
  for (size_t k = 0; k < gt.categories.size(); ++k) cat_index[gt.categories[k].id] = k;
  const size_t K = gt.categories.size();

  // group by (image, category), file order
  std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> g_by, d_by;
  std::vector<int64_t> npos(K, 0), npred(K, 0);
  for (size_t i = 0; i < gt.anns.size(); ++i) {
    const auto& a = gt.anns[i];
    g_by[{a.image_id, a.category_id}].push_back(i);
    if (!gt_ignored[i] && cat_index.count(a.category_id)) npos[cat_index[a.category_id]]++;
  }
  for (size_t i = 0; i < dt.anns.size(); ++i) {
    const auto& a = dt.anns[i];
    d_by[{a.image_id, a.category_id}].push_back(i);
    if (cat_index.count(a.category_id)) npred[cat_index[a.category_id]]++;
  }

  std::vector<std::vector<Scored>> per_class(K);
  for (auto& [key, dis] : d_by) {
    auto kit = cat_index.find(key.second);
    if (kit == cat_index.end()) continue;
    std::stable_sort(dis.begin(), dis.end(), [&](size_t a, size_t b) { return dt.anns[a].score > dt.anns[b].score; });
    const std::vector<size_t> empty;
    auto git = g_by.find(key);
    const std::vector<size_t>& gis = git == g_by.end() ? empty : git->second;
    std::vector<uint8_t> used(gis.size(), 0);
    for (size_t di : dis) {
      const Annotation& d = dt.anns[di];
      double best = -1, best_ig = -1;
      int64_t m = -1;
      for (size_t j = 0; j < gis.size(); ++j) {
        const double v = iou(d, gt.anns[gis[j]]);
        if (!pass(v, p.iou, p.iou_strict)) continue;
        if (gt_ignored[gis[j]]) best_ig = std::max(best_ig, v);
        else if (!used[j] && v > best) {
          best = v;
          m = int64_t(j);
        }
      }
      if (m >= 0) {
        used[size_t(m)] = 1;
        per_class[kit->second].push_back({d.score, kTp, best});
      } else if (best_ig >= 0) {
        per_class[kit->second].push_back({d.score, kIgnored, best_ig});
      } else {
        per_class[kit->second].push_back({d.score, kFp, 0});
      }
    }
  }

  std::vector<Scored> all;
  std::vector<std::pair<double, bool>> all_f1;
  int64_t all_pos = 0;
  for (size_t k = 0; k < K; ++k) {
    ClassThreshold c;
    c.category_id = gt.categories[k].id;
    c.name = gt.categories[k].name;
    c.num_gt = npos[k];
    c.num_pred = npred[k];
    c.at_conf = at_conf(per_class[k], npos[k], p);
    std::vector<std::pair<double, bool>> f;
    for (const auto& s : per_class[k])
      if (s.state != kIgnored) f.push_back({s.score, s.state == kTp});
    c.best = best_f1(f, npos[k]);
    all.insert(all.end(), per_class[k].begin(), per_class[k].end());
    all_f1.insert(all_f1.end(), f.begin(), f.end());
    all_pos += npos[k];
    res.classes.push_back(std::move(c));
  }
  res.overall = at_conf(all, all_pos, p);
  res.overall_best = best_f1(all_f1, all_pos);

  // Confusion matrix: class-agnostic greedy pairing by IoU within each image.
  ConfusionMatrix& cm = res.confusion;
  cm.conf = p.conf;
  cm.iou = p.cm_iou;
  for (const auto& c : gt.categories) cm.labels.push_back(c.name.empty() ? std::to_string(c.id) : c.name);
  cm.labels.push_back("background");
  cm.matrix.assign(K + 1, std::vector<int64_t>(K + 1, 0));
  std::map<int64_t, std::vector<size_t>> g_img, d_img;
  for (size_t i = 0; i < gt.anns.size(); ++i)
    if (cat_index.count(gt.anns[i].category_id)) g_img[gt.anns[i].image_id].push_back(i);
  for (size_t i = 0; i < dt.anns.size(); ++i) {
    const auto& d = dt.anns[i];
    const bool keep = p.conf_strict ? d.score > p.conf : d.score >= p.conf;
    if (keep && cat_index.count(d.category_id)) d_img[d.image_id].push_back(i);
  }
  std::set<int64_t> imgs;
  for (auto& [k, v] : g_img) imgs.insert(k);
  for (auto& [k, v] : d_img) imgs.insert(k);
  for (int64_t im : imgs) {
    const auto& gis = g_img[im];
    const auto& dis = d_img[im];
    struct Pair {
      double v;
      size_t g, d;
    };
    std::vector<Pair> pairs;
    std::vector<uint8_t> d_on_ignored(dis.size(), 0);
    for (size_t a = 0; a < gis.size(); ++a)
      for (size_t b = 0; b < dis.size(); ++b) {
        const double v = iou(dt.anns[dis[b]], gt.anns[gis[a]]);
        if (!(v > p.cm_iou)) continue;
        if (gt_ignored[gis[a]]) d_on_ignored[b] = 1;
        else pairs.push_back({v, a, b});
      }
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.v > y.v; });
    std::vector<uint8_t> gu(gis.size(), 0), du(dis.size(), 0);
    for (const auto& pr : pairs) {
      if (gu[pr.g] || du[pr.d]) continue;
      gu[pr.g] = du[pr.d] = 1;
      cm.matrix[cat_index[gt.anns[gis[pr.g]].category_id]][cat_index[dt.anns[dis[pr.d]].category_id]]++;
    }
    for (size_t a = 0; a < gis.size(); ++a)
      if (!gu[a] && !gt_ignored[gis[a]]) cm.matrix[cat_index[gt.anns[gis[a]].category_id]][K]++;
    for (size_t b = 0; b < dis.size(); ++b)
      if (!du[b] && !d_on_ignored[b]) cm.matrix[K][cat_index[dt.anns[dis[b]].category_id]]++;
  }
  return res;
}

}  // namespace cvt::eval
