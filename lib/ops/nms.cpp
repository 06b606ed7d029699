// NonMaxSuppression (opset 10+): greedy per (batch, class) suppression.
//
// Candidates are boxes whose score is strictly above score_threshold (all boxes
// when it is omitted), visited by descending score, ties by lower box index.
// A candidate is dropped when its IoU with an already selected box is strictly
// above iou_threshold. IoU is computed as torchvision's nms computes it
// (inter / (area_a + area_b - inter)), so graphs exported from torchvision
// select exactly the boxes PyTorch selects. Corners may come in either order
// (center_point_box = 0) or as [x_center, y_center, width, height] (= 1).
// Output: selected_indices [num_selected, 3] int64 rows (batch, class, box),
// ordered by batch, then class, then selection order.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/cpu_features.h"
#include "ops/nms.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"

namespace cvt {
namespace {

NmsBox corners_of(const float* b, bool center_point) {
  NmsBox c;
  if (center_point) {  // [x_center, y_center, width, height]
    const float hw = b[2] / 2.0f, hh = b[3] / 2.0f;
    c.x1 = b[0] - hw;
    c.x2 = b[0] + hw;
    c.y1 = b[1] - hh;
    c.y2 = b[1] + hh;
  } else {  // [y1, x1, y2, x2], any diagonal
    c.y1 = std::min(b[0], b[2]);
    c.y2 = std::max(b[0], b[2]);
    c.x1 = std::min(b[1], b[3]);
    c.x2 = std::max(b[1], b[3]);
  }
  c.area = (c.x2 - c.x1) * (c.y2 - c.y1);
  return c;
}

Result<float> optional_float_scalar(const KernelContext& ctx, int i, const char* what, float def) {
  const Tensor* t = ctx.input(i);
  if (!t) return def;
  if (t->numel() == 0) return def;  // some exporters pass an empty tensor for "absent"
  CVT_ASSIGN_OR_RETURN(double v, double_scalar_input(*t, what));
  return static_cast<float>(v);
}

Status nms_run(bool center_point, KernelContext& ctx) {
  CVT_ASSIGN_OR_RETURN(const Tensor* boxes, required_input(ctx, 0, "boxes"));
  CVT_ASSIGN_OR_RETURN(const Tensor* scores, required_input(ctx, 1, "scores"));
  if (boxes->dtype() != DType::kFloat32 || scores->dtype() != DType::kFloat32)
    return unsupported("NonMaxSuppression supports float32 boxes and scores");
  if (boxes->rank() != 3 || boxes->dim(2) != 4)
    return invalid_argument("NonMaxSuppression boxes must be [batch, num_boxes, 4], got " + shape_str(boxes->shape()));
  if (scores->rank() != 3 || scores->dim(0) != boxes->dim(0) || scores->dim(2) != boxes->dim(1))
    return invalid_argument("NonMaxSuppression scores must be [batch, classes, num_boxes] matching boxes " +
                            shape_str(boxes->shape()) + ", got " + shape_str(scores->shape()));
  int64_t max_per_class = 0;
  if (const Tensor* m = ctx.input(2); m && m->numel() > 0) {
    CVT_ASSIGN_OR_RETURN(max_per_class, int_scalar_input(*m, "NonMaxSuppression max_output_boxes_per_class"));
  }
  CVT_ASSIGN_OR_RETURN(float iou_threshold, optional_float_scalar(ctx, 3, "NonMaxSuppression iou_threshold", 0.0f));
  const bool has_score_threshold = ctx.input(4) && ctx.input(4)->numel() > 0;
  CVT_ASSIGN_OR_RETURN(float score_threshold, optional_float_scalar(ctx, 4, "NonMaxSuppression score_threshold", 0.0f));
  if (iou_threshold < 0 || iou_threshold > 1)
    return invalid_argument("NonMaxSuppression iou_threshold must be in [0, 1], got " + std::to_string(iou_threshold));

  const int64_t B = boxes->dim(0), N = boxes->dim(1), C = scores->dim(1);
  // Each kept box is compared with the ones kept before it.
  const double kept_cap = std::min<double>(double(N), double(max_per_class));
  CVT_RETURN_IF_ERROR(check_node_work(double(B) * double(C) * (double(N) * std::log2(double(N) + 2) + double(N) * kept_cap),
                                      "NonMaxSuppression"));
  std::vector<int64_t> selected;  // flat (batch, class, box) triples
  if (max_per_class > 0) {
    auto overlaps = active_isa() >= Isa::kAvx2 ? nms_overlaps__avx2 : nms_overlaps__scalar;
    std::vector<NmsBox> corners(N);
    std::vector<int64_t> order;
    NmsKept kept;
    for (int64_t b = 0; b < B; ++b) {
      const float* bp = boxes->data<float>() + b * N * 4;
      for (int64_t i = 0; i < N; ++i) corners[i] = corners_of(bp + i * 4, center_point);
      for (int64_t c = 0; c < C; ++c) {
        const float* sp = scores->data<float>() + (b * C + c) * N;
        order.clear();
        for (int64_t i = 0; i < N; ++i)
          if (!has_score_threshold || sp[i] > score_threshold) order.push_back(i);
        std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return sp[x] > sp[y]; });
        kept.clear();
        for (int64_t i : order) {
          if (kept.size() >= max_per_class) break;
          if (overlaps(corners[i], kept, iou_threshold)) continue;
          kept.push(corners[i]);
          selected.insert(selected.end(), {b, c, i});
        }
      }
    }
  }
  const int64_t count = static_cast<int64_t>(selected.size() / 3);
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kInt64, {count, 3}));
  std::copy(selected.begin(), selected.end(), y->data<int64_t>());
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_nms(const NodeDesc& node) {
  const int64_t cpb = node.attrs.get_int("center_point_box", 0);
  if (cpb != 0 && cpb != 1) return invalid_model("NonMaxSuppression center_point_box must be 0 or 1");
  const bool center_point = cpb == 1;
  return make_kernel([center_point](KernelContext& ctx) { return nms_run(center_point, ctx); }, "nms_greedy");
}

}  // namespace

bool nms_overlaps__scalar(const NmsBox& a, const NmsKept& kept, float iou_threshold) noexcept {
  for (int64_t k = 0; k < kept.size(); ++k)
    if (nms_iou(a, NmsBox{kept.y1[k], kept.x1[k], kept.y2[k], kept.x2[k], kept.area[k]}) > iou_threshold) return true;
  return false;
}

void register_nms_ops(std::vector<OpSchema>& t) { t.push_back({"", "NonMaxSuppression", 10, 21, make_nms}); }

}  // namespace cvt
