// COCOeval.evaluate / evaluateImg / accumulate / summarize, step by step (semantics in
// docs/evaluation.md 2.1). Categories run in parallel; each writes only its own slice, so
// results do not depend on the thread count.
#include "eval/coco_eval.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <numeric>

#include "core/parallel.h"
#include "eval/coco_internal.h"

namespace cvt::eval {

using coco_detail::Item;
using coco_detail::Prepared;

std::vector<double> np_linspace(double start, double stop, int num) {
  std::vector<double> y(size_t(std::max(num, 0)));
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double step = (stop - start) / double(num - 1);
  for (int k = 0; k < num; ++k) y[size_t(k)] = double(k) * step + start;
  if (num > 1) y.back() = stop;
  return y;
}

std::vector<double> coco17_sigmas() {
  const double s[] = {.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89};
  std::vector<double> v;
  for (double x : s) v.push_back(x / 10.0);
  return v;
}

CocoParams CocoParams::defaults(Task task) {
  CocoParams p;
  p.task = task;
  p.iou_thrs = np_linspace(.5, 0.95, int(std::round((0.95 - .5) / .05)) + 1);
  p.rec_thrs = np_linspace(.0, 1.00, int(std::round((1.00 - .0) / .01)) + 1);
  if (task == Task::kKeypoints) {
    p.max_dets = {20};
    p.area_ranges = {{"all", 0, 1e5 * 1e5}, {"medium", 32 * 32, 96 * 96}, {"large", 96 * 96, 1e5 * 1e5}};
  } else {
    p.max_dets = {1, 10, 100};
    p.area_ranges = {{"all", 0, 1e5 * 1e5}, {"small", 0, 32 * 32}, {"medium", 32 * 32, 96 * 96},
                     {"large", 96 * 96, 1e5 * 1e5}};
  }
  p.kpt_sigmas = coco17_sigmas();
  return p;
}

namespace {

constexpr double kEps = 2.220446049250313e-16;  // np.spacing(1)

// One (image, category) pair: detections sorted by score (stable) and cut at max_dets,
// with their IoU against every ground truth in file order.
struct PairIous {
  std::vector<uint32_t> dts;  // indices into Prepared::dts, sorted
  std::vector<double> ious;   // [d][g], empty when there are no detections or no gts
  size_t G = 0;
};

struct EvalImg {
  bool valid = false;
  std::vector<double> dt_scores;   // D
  std::vector<uint8_t> dt_matched;  // T x D: matched to a gt whose id is non-zero
  std::vector<uint8_t> dt_ignore;   // T x D
  std::vector<uint8_t> gt_ignore;   // G
};

EvalImg evaluate_img(const Prepared& P, const PairIous& pi, const std::vector<uint32_t>& gidx, const AreaRange& ar,
                     const CocoParams& p) {
  EvalImg e;
  if (gidx.empty() && pi.dts.empty()) return e;
  e.valid = true;
  const size_t T = p.iou_thrs.size();
  const size_t G = gidx.size();
  // ground truth: ignored last (stable)
  std::vector<uint8_t> ig(G);
  for (size_t g = 0; g < G; ++g) {
    const Item& it = P.gts[gidx[g]];
    ig[g] = it.ignore || it.area < ar.lo || it.area > ar.hi;
  }
  std::vector<size_t> gtind(G);
  std::iota(gtind.begin(), gtind.end(), 0);
  std::stable_sort(gtind.begin(), gtind.end(), [&](size_t a, size_t b) { return ig[a] < ig[b]; });
  const size_t D = std::min(pi.dts.size(), size_t(p.max_dets.back()));
  e.dt_scores.resize(D);
  for (size_t d = 0; d < D; ++d) e.dt_scores[d] = P.dts[pi.dts[d]].score;
  e.gt_ignore.resize(G);
  for (size_t g = 0; g < G; ++g) e.gt_ignore[g] = ig[gtind[g]];
  std::vector<int64_t> dtm(T * D, 0);
  std::vector<uint8_t> dtig(T * D, 0), gtm(T * G, 0);
  if (!pi.ious.empty()) {
    for (size_t t = 0; t < T; ++t) {
      for (size_t d = 0; d < D; ++d) {
        double iou = std::min(p.iou_thrs[t], 1 - 1e-10);
        int64_t m = -1;
        for (size_t g = 0; g < G; ++g) {
          const Item& gi = P.gts[gidx[gtind[g]]];
          // already matched and not a crowd region: skip
          if (gtm[t * G + g] && !gi.crowd) continue;
          // matched to a regular gt and reached the ignored ones: stop
          if (m > -1 && !e.gt_ignore[size_t(m)] && e.gt_ignore[g]) break;
          const double v = pi.ious[d * pi.G + gtind[g]];
          if (v < iou) continue;
          iou = v;
          m = int64_t(g);
        }
        if (m == -1) continue;
        dtig[t * D + d] = e.gt_ignore[size_t(m)];
        dtm[t * D + d] = P.gts[gidx[gtind[size_t(m)]]].id;
        gtm[t * G + size_t(m)] = 1;  // the detection ids are i+1, never 0
      }
    }
  }
  e.dt_matched.resize(T * D);
  e.dt_ignore.resize(T * D);
  for (size_t d = 0; d < D; ++d) {
    const double a = P.dts[pi.dts[d]].area;
    const bool out = a < ar.lo || a > ar.hi;
    for (size_t t = 0; t < T; ++t) {
      const bool matched = dtm[t * D + d] != 0;  // as pycocotools: a match to gt id 0 reads as none
      e.dt_matched[t * D + d] = matched;
      e.dt_ignore[t * D + d] = dtig[t * D + d] || (!matched && out);
    }
  }
  return e;
}

void accumulate_one(const std::vector<EvalImg>& E, size_t k, size_t a, size_t m, const CocoParams& p,
                    CocoEvalResult& r) {
  const size_t T = r.T, R = r.R, K = r.K, A = r.A, M = r.M;
  const size_t maxDet = size_t(p.max_dets[m]);
  std::vector<double> scores;
  std::vector<std::pair<size_t, size_t>> src;  // (image slot, detection index)
  int64_t npig = 0;
  bool any = false;
  for (size_t i = 0; i < E.size(); ++i) {
    if (!E[i].valid) continue;
    any = true;
    const size_t D = std::min(E[i].dt_scores.size(), maxDet);
    for (size_t d = 0; d < D; ++d) {
      scores.push_back(E[i].dt_scores[d]);
      src.push_back({i, d});
    }
    for (uint8_t g : E[i].gt_ignore) npig += g == 0;
  }
  if (!any || npig == 0) return;
  std::vector<size_t> inds(scores.size());
  std::iota(inds.begin(), inds.end(), 0);
  std::stable_sort(inds.begin(), inds.end(), [&](size_t x, size_t y) { return scores[x] > scores[y]; });
  const size_t nd = inds.size();
  std::vector<double> rc(nd), pr(nd);
  for (size_t t = 0; t < T; ++t) {
    double tp = 0, fp = 0;
    for (size_t j = 0; j < nd; ++j) {
      const auto [i, d] = src[inds[j]];
      const size_t D = E[i].dt_scores.size();
      const bool matched = E[i].dt_matched[t * D + d], ignored = E[i].dt_ignore[t * D + d];
      if (matched && !ignored) tp += 1;
      if (!matched && !ignored) fp += 1;
      rc[j] = tp / double(npig);
      pr[j] = tp / (fp + tp + kEps);
    }
    r.recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
    for (size_t j = nd; j > 1; --j)
      if (pr[j - 1] > pr[j - 2]) pr[j - 2] = pr[j - 1];
    for (size_t ri = 0; ri < R; ++ri) {
      const size_t pi = size_t(std::lower_bound(rc.begin(), rc.end(), p.rec_thrs[ri]) - rc.begin());
      const size_t idx = (((t * R + ri) * K + k) * A + a) * M + m;
      if (pi >= nd) {  // pycocotools' try/except leaves the rest at 0
        for (size_t rj = ri; rj < R; ++rj) {
          const size_t id2 = (((t * R + rj) * K + k) * A + a) * M + m;
          r.precision[id2] = 0;
          r.scores[id2] = 0;
        }
        break;
      }
      r.precision[idx] = pr[pi];
      r.scores[idx] = scores[inds[pi]];
    }
  }
}

}  // namespace

Result<CocoEvalResult> coco_evaluate(const Dataset& gt, const Dataset& dt, const CocoParams& p_in) {
  CocoParams p = p_in;
  if (p.iou_thrs.empty() || p.rec_thrs.empty() || p.max_dets.empty() || p.area_ranges.empty())
    return invalid_argument("COCO parameters need IoU thresholds, recall points, max_dets and area ranges");
  std::sort(p.max_dets.begin(), p.max_dets.end());  // evaluate() sorts maxDets
  if (p.max_dets.front() < 1) return invalid_argument("max_dets must be positive");
  CVT_ASSIGN_OR_RETURN(Prepared P, coco_detail::prepare(gt, dt, p));
  CocoEvalResult r;
  r.params = p;
  r.img_ids = P.img_ids;
  r.cat_ids = P.cat_ids;
  r.warnings = P.warnings;
  r.T = p.iou_thrs.size();
  r.R = p.rec_thrs.size();
  r.K = P.cat_ids.size();
  r.A = p.area_ranges.size();
  r.M = p.max_dets.size();
  r.precision.assign(r.T * r.R * r.K * r.A * r.M, -1.0);
  r.scores.assign(r.precision.size(), -1.0);
  r.recall.assign(r.T * r.K * r.A * r.M, -1.0);
  r.num_dt = int64_t(P.dts.size());
  for (const auto& g : P.gts) {
    ++r.num_gt;
    r.num_gt_ignored += g.ignore;
  }
  const size_t I = P.img_ids.size();
  const size_t max_det = size_t(p.max_dets.back());
  std::atomic<int64_t> truncated{0}, truncated_pairs{0};

  parallel_for(0, int64_t(r.K), 1, [&](int64_t k0, int64_t k1) {
    for (size_t k = size_t(k0); k < size_t(k1); ++k) {
      // computeIoU / computeOks for every image of this category
      std::vector<PairIous> ious(I);
      for (size_t i = 0; i < I; ++i) {
        const auto& gidx = P.gt_by[k * I + i];
        PairIous& pi = ious[i];
        pi.dts = P.dt_by[k * I + i];
        std::stable_sort(pi.dts.begin(), pi.dts.end(),
                         [&](uint32_t a, uint32_t b) { return P.dts[a].score > P.dts[b].score; });
        if (pi.dts.size() > max_det) {
          truncated += int64_t(pi.dts.size() - max_det);
          ++truncated_pairs;
          pi.dts.resize(max_det);
        }
        pi.G = gidx.size();
        if (gidx.empty() || pi.dts.empty()) continue;
        pi.ious.resize(pi.dts.size() * pi.G);
        for (size_t d = 0; d < pi.dts.size(); ++d)
          for (size_t g = 0; g < pi.G; ++g)
            pi.ious[d * pi.G + g] = coco_detail::item_iou(P.dts[pi.dts[d]], P.gts[gidx[g]], p);
      }
      for (size_t a = 0; a < r.A; ++a) {
        std::vector<EvalImg> E(I);
        for (size_t i = 0; i < I; ++i) E[i] = evaluate_img(P, ious[i], P.gt_by[k * I + i], p.area_ranges[a], p);
        for (size_t m = 0; m < r.M; ++m) accumulate_one(E, k, a, m, p, r);
      }
    }
  });
  r.dets_truncated = truncated;
  r.pairs_truncated = truncated_pairs;
  return r;
}

double coco_summarize(const CocoEvalResult& r, bool ap, std::optional<double> iou, const std::string& area,
                      int max_det, std::optional<size_t> kk) {
  const CocoParams& p = r.params;
  std::vector<size_t> ts, as, ms;
  for (size_t t = 0; t < r.T; ++t)
    if (!iou || p.iou_thrs[t] == *iou) ts.push_back(t);  // exact, like np.where(iouThr == p.iouThrs)
  for (size_t a = 0; a < r.A; ++a)
    if (p.area_ranges[a].label == area) as.push_back(a);
  for (size_t m = 0; m < r.M; ++m)
    if (p.max_dets[m] == max_det) ms.push_back(m);
  double sum = 0;
  int64_t n = 0;
  for (size_t t : ts)
    for (size_t k = 0; k < r.K; ++k) {
      if (kk && k != *kk) continue;
      for (size_t a : as)
        for (size_t m : ms) {
          if (ap) {
            for (size_t ri = 0; ri < r.R; ++ri) {
              const double v = r.prec(t, ri, k, a, m);
              if (v > -1) {
                sum += v;
                ++n;
              }
            }
          } else {
            const double v = r.rec(t, k, a, m);
            if (v > -1) {
              sum += v;
              ++n;
            }
          }
        }
    }
  return n ? sum / double(n) : -1.0;
}

namespace {

std::string area_suffix(const std::string& label) {
  if (label == "small") return "s";
  if (label == "medium") return "m";
  if (label == "large") return "l";
  return "_" + label;
}

}  // namespace

std::vector<std::pair<std::string, double>> coco_stats(const CocoEvalResult& r) {
  const CocoParams& p = r.params;
  const int last = p.max_dets.back();
  std::vector<std::pair<std::string, double>> s;
  s.push_back({"AP", coco_summarize(r, true, std::nullopt, "all", last)});
  s.push_back({"AP50", coco_summarize(r, true, .5, "all", last)});
  s.push_back({"AP75", coco_summarize(r, true, .75, "all", last)});
  for (const auto& ar : p.area_ranges)
    if (ar.label != "all") s.push_back({"AP" + area_suffix(ar.label), coco_summarize(r, true, std::nullopt, ar.label, last)});
  if (p.task == Task::kKeypoints) {
    // _summarizeKps: AR, AR50, AR75, ARm, ARl at the (single) max_dets
    s.push_back({"AR", coco_summarize(r, false, std::nullopt, "all", last)});
    s.push_back({"AR50", coco_summarize(r, false, .5, "all", last)});
    s.push_back({"AR75", coco_summarize(r, false, .75, "all", last)});
  } else {
    for (int m : p.max_dets) s.push_back({"AR" + std::to_string(m), coco_summarize(r, false, std::nullopt, "all", m)});
  }
  for (const auto& ar : p.area_ranges)
    if (ar.label != "all") s.push_back({"AR" + area_suffix(ar.label), coco_summarize(r, false, std::nullopt, ar.label, last)});
  return s;
}

}  // namespace cvt::eval
