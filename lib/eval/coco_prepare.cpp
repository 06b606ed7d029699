// COCOeval._prepare and COCO.loadRes semantics: ignore flags, areas taken from the
// annotation, masks through annToRLE, and the IoU / OKS kernels (pycocotools semantics).
#include <algorithm>
#include <cmath>
#include <map>

#include "eval/coco_internal.h"

namespace cvt::eval::coco_detail {

Result<Rle> ann_to_rle(const Annotation& a, const Image& img, int64_t* missing) {
  const Segmentation& s = a.segm;
  if (s.kind == Segmentation::Kind::kRle) return s.rle;
  if (s.kind == Segmentation::Kind::kNone || s.polygons.empty()) {
    if (missing) ++*missing;  // pycocotools would fail here; the caller reports the count
    return Rle{uint64_t(std::max<int64_t>(img.height, 0)), uint64_t(std::max<int64_t>(img.width, 0)),
               {uint32_t(std::max<int64_t>(img.height * img.width, 0))}};
  }
  if (img.width <= 0 || img.height <= 0)
    return invalid_argument(a.origin + ": polygon masks need the image size; image '" + img.key +
                            "' has no width/height in the ground truth");
  const uint64_t h = uint64_t(img.height), w = uint64_t(img.width);
  std::vector<Rle> parts;
  const bool as_boxes = s.polygons[0].size() == 4;
  for (const auto& poly : s.polygons) {
    if (as_boxes) {
      if (poly.size() != 4) return invalid_argument(a.origin + ": mixed box/polygon segmentation");
      parts.push_back(rle_from_bbox({poly[0], poly[1], poly[2], poly[3]}, h, w));
    } else {
      if (poly.size() < 6 && &poly == &s.polygons[0])
        return invalid_argument(a.origin + ": polygon with fewer than 3 points");
      parts.push_back(rle_from_polygon(poly, h, w));
    }
  }
  return rle_merge(parts, false);
}

Result<Prepared> prepare(const Dataset& gt, const Dataset& dt, const CocoParams& p) {
  Prepared P;
  for (const auto& im : gt.images) P.img_ids.push_back(im.id);
  std::sort(P.img_ids.begin(), P.img_ids.end());
  P.img_ids.erase(std::unique(P.img_ids.begin(), P.img_ids.end()), P.img_ids.end());
  for (const auto& c : gt.categories) P.cat_ids.push_back(c.id);
  std::sort(P.cat_ids.begin(), P.cat_ids.end());
  P.cat_ids.erase(std::unique(P.cat_ids.begin(), P.cat_ids.end()), P.cat_ids.end());
  std::map<int64_t, size_t> img_index, cat_index;
  std::map<int64_t, const Image*> img_info;
  for (size_t i = 0; i < P.img_ids.size(); ++i) img_index[P.img_ids[i]] = i;
  for (size_t k = 0; k < P.cat_ids.size(); ++k) cat_index[P.cat_ids[k]] = k;
  for (const auto& im : gt.images) img_info[im.id] = &im;
  const size_t I = P.img_ids.size(), K = P.cat_ids.size();
  P.gt_by.assign(I * K, {});
  P.dt_by.assign(I * K, {});
  const bool segm = p.task == Task::kSegm, kps = p.task == Task::kKeypoints;
  const size_t nk = p.kpt_sigmas.size();

  bool warned_area = false, warned_zero_id = false;
  int64_t no_mask_gt = 0, no_mask_dt = 0;
  for (const auto& a : gt.anns) {
    auto ii = img_index.find(a.image_id);
    auto kk = cat_index.find(a.category_id);
    if (ii == img_index.end() || kk == cat_index.end()) continue;
    Item g;
    g.src = &a;
    g.id = a.id;
    g.crowd = a.iscrowd;
    if (a.id == 0 && !warned_zero_id) {
      warned_zero_id = true;
      P.warnings.push_back(a.origin + ": ground-truth annotation id 0. pycocotools stores matches by id, so a "
                                      "detection matched to id 0 counts as unmatched (a false positive); cvtool "
                                      "reproduces that for parity. Number annotation ids from 1 to avoid it.");
    }
    if (segm) {
      CVT_ASSIGN_OR_RETURN(g.rle, ann_to_rle(a, *img_info[a.image_id], &no_mask_gt));
    }
    if (a.has_bbox) g.bbox = a.bbox;
    else if (a.segm.kind != Segmentation::Kind::kNone && segm) g.bbox = rle_to_bbox(g.rle);
    else if (!kps) return invalid_argument(a.origin + ": ground truth has no bbox");
    if (a.has_area) {
      g.area = a.area;
    } else {
      g.area = segm ? double(rle_area(g.rle)) : g.bbox[2] * g.bbox[3];
      if (!warned_area && gt.format == "coco") {
        warned_area = true;
        P.warnings.push_back(a.origin + ": ground truth without \"area\" (pycocotools requires it); using the " +
                             std::string(segm ? "mask" : "box") + " area");
      }
    }
    // pycocotools replaces any "ignore" field by iscrowd; keypoints also ignore unlabeled people.
    g.ignore = a.iscrowd;
    if (kps) {
      int nkp = a.num_keypoints;
      if (nkp < 0) {
        nkp = 0;
        for (size_t j = 2; j < a.keypoints.size(); j += 3) nkp += a.keypoints[j] > 0;
      }
      g.ignore = (nkp == 0) || g.ignore;
      if (!g.ignore || !a.keypoints.empty()) {
        if (a.keypoints.size() != 3 * nk)
          return invalid_argument(a.origin + ": ground truth has " + std::to_string(a.keypoints.size() / 3) +
                                  " keypoints but " + std::to_string(nk) + " sigmas are set (--kpt-sigmas)");
        g.kps = &a.keypoints;
      }
    }
    P.gt_by[kk->second * I + ii->second].push_back(uint32_t(P.gts.size()));
    P.gts.push_back(std::move(g));
  }

  // loadRes: the branch is chosen by the first result, as pycocotools does.
  enum { kBoxBranch, kSegmBranch, kKpBranch } branch = kBoxBranch;
  if (!dt.anns.empty()) {
    const Annotation& f = dt.anns.front();
    if (f.has_bbox) branch = kBoxBranch;
    else if (f.segm.kind != Segmentation::Kind::kNone) branch = kSegmBranch;
    else if (!f.keypoints.empty()) branch = kKpBranch;
    else return invalid_argument(f.origin + ": prediction has no bbox, segmentation or keypoints");
  }
  for (const auto& a : dt.anns) {
    auto ii = img_index.find(a.image_id);
    auto kk = cat_index.find(a.category_id);
    if (ii == img_index.end() || kk == cat_index.end()) continue;
    if (!a.has_score) return invalid_argument(a.origin + ": prediction has no score");
    Item d;
    d.src = &a;
    d.id = a.id;
    d.score = a.score;
    Annotation box_poly;  // bbox results without a mask get the box as a polygon
    const Annotation* segsrc = &a;
    if (branch == kBoxBranch) {
      if (!a.has_bbox)
        return invalid_argument(a.origin + ": prediction has no bbox (the first prediction has one, so all must)");
      d.bbox = a.bbox;
      d.area = a.bbox[2] * a.bbox[3];
      if (segm && a.segm.kind == Segmentation::Kind::kNone) {
        const double x1 = a.bbox[0], x2 = a.bbox[0] + a.bbox[2], y1 = a.bbox[1], y2 = a.bbox[1] + a.bbox[3];
        box_poly.origin = a.origin;
        box_poly.segm.kind = Segmentation::Kind::kPolygons;
        box_poly.segm.polygons = {{x1, y1, x1, y2, x2, y2, x2, y1}};
        segsrc = &box_poly;
      }
      if (segm) {
        CVT_ASSIGN_OR_RETURN(d.rle, ann_to_rle(*segsrc, *img_info[a.image_id], &no_mask_dt));
      }
    } else if (branch == kSegmBranch) {
      if (a.segm.kind == Segmentation::Kind::kNone)
        return invalid_argument(a.origin + ": prediction has no segmentation (the first prediction has one)");
      CVT_ASSIGN_OR_RETURN(d.rle, ann_to_rle(a, *img_info[a.image_id], &no_mask_dt));
      d.area = double(rle_area(d.rle));
      d.bbox = a.has_bbox ? a.bbox : rle_to_bbox(d.rle);
    } else {
      if (a.keypoints.empty()) return invalid_argument(a.origin + ": prediction has no keypoints");
      double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
      for (size_t j = 0; j + 1 < a.keypoints.size(); j += 3) {
        x0 = std::min(x0, a.keypoints[j]);
        x1 = std::max(x1, a.keypoints[j]);
        y0 = std::min(y0, a.keypoints[j + 1]);
        y1 = std::max(y1, a.keypoints[j + 1]);
      }
      d.area = (x1 - x0) * (y1 - y0);
      d.bbox = {x0, y0, x1 - x0, y1 - y0};
    }
    if (segm && branch == kKpBranch) return invalid_argument(a.origin + ": segm evaluation needs masks, not keypoints");
    if (kps) {
      if (a.keypoints.size() != 3 * nk)
        return invalid_argument(a.origin + ": prediction has " + std::to_string(a.keypoints.size() / 3) +
                                " keypoints but " + std::to_string(nk) + " sigmas are set (--kpt-sigmas)" +
                                (a.keypoints.size() == 75 ? "; OpenPose BODY_25 must be converted to COCO-17 order" : ""));
      d.kps = &a.keypoints;
    }
    P.dt_by[kk->second * I + ii->second].push_back(uint32_t(P.dts.size()));
    P.dts.push_back(std::move(d));
  }
  if (no_mask_gt || no_mask_dt)
    P.warnings.push_back(std::to_string(no_mask_gt) + " ground-truth and " + std::to_string(no_mask_dt) +
                         " predicted objects have no mask; evaluated as empty masks (pycocotools would fail)");
  return P;
}

double item_iou(const Item& d, const Item& g, const CocoParams& p) {
  if (p.task == Task::kBbox) return box_iou_coco(d.bbox, g.bbox, g.crowd);
  if (p.task == Task::kSegm) return rle_iou(d.rle, g.rle, g.crowd);
  return keypoint_oks(*d.kps, g.kps, g.bbox, g.area, p.kpt_sigmas);
}


}  // namespace cvt::eval::coco_detail

namespace cvt::eval {

Result<Rle> annotation_to_rle(const Annotation& a, const Image& img, int64_t* missing) {
  return coco_detail::ann_to_rle(a, img, missing);
}

double keypoint_oks(const std::vector<double>& dk, const std::vector<double>* gk, const Box& bb, double area,
                    const std::vector<double>& sig) {
  const size_t k = sig.size();
  int k1 = 0;
  if (gk)
    for (size_t j = 0; j < k; ++j) k1 += (*gk)[3 * j + 2] > 0;
  const double x0 = bb[0] - bb[2], x1 = bb[0] + bb[2] * 2;
  const double y0 = bb[1] - bb[3], y1 = bb[1] + bb[3] * 2;
  double sum = 0;
  int n = 0;
  for (size_t j = 0; j < k; ++j) {
    double dx, dy;
    const double xd = dk[3 * j], yd = dk[3 * j + 1];
    if (k1 > 0) {
      if (!((*gk)[3 * j + 2] > 0)) continue;
      dx = xd - (*gk)[3 * j];
      dy = yd - (*gk)[3 * j + 1];
    } else {
      // no visible keypoints: distance to a box twice the size of the ground-truth box
      dx = std::max(0.0, x0 - xd) + std::max(0.0, xd - x1);
      dy = std::max(0.0, y0 - yd) + std::max(0.0, yd - y1);
    }
    const double var = (sig[j] * 2) * (sig[j] * 2);
    const double e = (dx * dx + dy * dy) / var / (area + 2.220446049250313e-16 /* np.spacing(1) */) / 2;
    sum += std::exp(-e);
    ++n;
  }
  return n ? sum / n : 0.0;
}

}  // namespace cvt::eval
