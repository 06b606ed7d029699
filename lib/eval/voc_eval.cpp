// VOC / rafaelpadilla / Darknet AP. Detections are ordered by a stable sort on score so
// ties keep file order, which the published fixture values depend on.
#include "eval/voc_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace cvt::eval {

double ap_from_pr(const std::vector<double>& rec, const std::vector<double>& prec, ApInterp interp) {
  const size_t n = rec.size();
  if (interp == ApInterp::kAllPoints) {
    // Sentinels (0,0) and (1,0), envelope from the right, sum over recall changes.
    std::vector<double> mrec(n + 2), mpre(n + 2);
    mrec[0] = 0;
    mpre[0] = 0;
    for (size_t i = 0; i < n; ++i) {
      mrec[i + 1] = rec[i];
      mpre[i + 1] = prec[i];
    }
    mrec[n + 1] = 1;
    mpre[n + 1] = 0;
    for (size_t i = n + 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
    double ap = 0;
    for (size_t i = 0; i + 1 < mrec.size(); ++i)
      if (mrec[i + 1] != mrec[i]) ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
    return ap;
  }
  const int points = interp == ApInterp::kDarknet101 ? 101 : 11;
  double ap = 0;
  for (int k = 0; k < points; ++k) {
    // VOC07 uses numpy's arange(0, 1.1, 0.1) (k*0.1, so 0.30000000000000004); darknet
    // divides exactly. The difference is visible on fixture A at IoU 0.1.
    const double t = interp == ApInterp::kVoc11 ? k * 0.1 : double(k) / double(points - 1);
    double p = 0;
    for (size_t i = 0; i < n; ++i)
      if (rec[i] >= t) p = std::max(p, prec[i]);
    if (interp == ApInterp::kVoc11) ap += p / 11.0;
    else ap += p;
  }
  return interp == ApInterp::kVoc11 ? ap : ap / points;
}

std::vector<double> sample_pr_101(const std::vector<double>& rec, const std::vector<double>& prec) {
  std::vector<double> env = prec;
  for (size_t i = env.size(); i > 1; --i) env[i - 2] = std::max(env[i - 2], env[i - 1]);
  std::vector<double> q(101, 0.0);
  for (int k = 0; k <= 100; ++k) {
    const double r = k * 0.01;
    const auto it = std::lower_bound(rec.begin(), rec.end(), r);
    if (it != rec.end()) q[k] = env[size_t(it - rec.begin())];
  }
  return q;
}

namespace {

struct GtRef {
  const Annotation* a;
  bool used = false;
};

}  // namespace

VocResult voc_evaluate(const Dataset& gt, const Dataset& dt, const VocParams& p) {
  VocResult res;
  // (category, image) -> ground truth
  std::map<std::pair<int64_t, int64_t>, std::vector<GtRef>> gts;
  std::map<int64_t, int64_t> npos;
  for (const auto& g : gt.anns) {
    gts[{g.category_id, g.image_id}].push_back({&g});
    if (!(p.use_difficult && g.difficult)) npos[g.category_id]++;
  }
  std::map<int64_t, std::vector<const Annotation*>> dets;
  for (const auto& d : dt.anns) dets[d.category_id].push_back(&d);

  double sum = 0;
  int64_t n_classes = 0;
  for (const auto& cat : gt.categories) {
    ClassAp c;
    c.category_id = cat.id;
    c.name = cat.name;
    c.npos = npos.count(cat.id) ? npos[cat.id] : 0;
    std::vector<const Annotation*> ds = dets[cat.id];
    std::stable_sort(ds.begin(), ds.end(), [](const Annotation* a, const Annotation* b) { return a->score > b->score; });
    c.ndet = int64_t(ds.size());
    double tp = 0, fp = 0;
    for (const Annotation* d : ds) {
      auto it = gts.find({cat.id, d->image_id});
      double ovmax = -std::numeric_limits<double>::infinity();
      GtRef* best = nullptr;
      if (it != gts.end())
        for (auto& g : it->second) {
          const double o = box_iou(d->bbox, g.a->bbox, p.plus_one);
          if (o > ovmax) {  // first maximum wins, like numpy argmax
            ovmax = o;
            best = &g;
          }
        }
      const bool hit = best && (p.strict ? ovmax > p.iou_thr : ovmax >= p.iou_thr);
      if (hit && p.use_difficult && best->a->difficult) {
        // neither TP nor FP
      } else if (hit && !best->used) {
        best->used = true;
        tp += 1;
      } else {
        fp += 1;
      }
      c.scores.push_back(d->score);
      c.recall.push_back(c.npos > 0 ? tp / double(c.npos) : 0.0);
      c.precision.push_back(tp / std::max(tp + fp, std::numeric_limits<double>::epsilon()));
    }
    c.tp = int64_t(tp);
    c.fp = int64_t(fp);
    if (c.npos > 0) {
      c.ap = ap_from_pr(c.recall, c.precision, p.interp);
      sum += *c.ap;
      ++n_classes;
    } else if (p.map_over_all_classes) {
      ++n_classes;  // darknet: AP 0 for a class without ground truth still counts
    }
    res.classes.push_back(std::move(c));
  }
  if (n_classes > 0) res.map = sum / double(n_classes);
  return res;
}

}  // namespace cvt::eval
