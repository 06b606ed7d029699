#include "tasks/detect/decoders.h"

#include <cmath>

namespace cvt {
namespace {

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

// Candidates of one anchor / cell: the best class, or every class above conf
// (multi_label). score(k) = obj * cls[k * stride] unless `score` says otherwise.
template <typename ScoreFn>
void emit(float cx, float cy, float w, float h, int num_classes, const DecodeFilter& f, ScoreFn score,
          std::vector<Detection>& out) {
  Detection d;
  d.x1 = cx - w / 2;
  d.y1 = cy - h / 2;
  d.x2 = cx + w / 2;
  d.y2 = cy + h / 2;
  if (f.multi_label) {
    for (int k = 0; k < num_classes; ++k) {
      if (!f.keep(k)) continue;
      float s = score(k);
      if (s > f.conf) {
        d.score = s;
        d.class_id = k;
        out.push_back(d);
      }
    }
    return;
  }
  int best = -1;
  float best_s = 0;
  for (int k = 0; k < num_classes; ++k) {
    if (!f.keep(k)) continue;
    float s = score(k);
    if (best < 0 || s > best_s) {
      best = k;
      best_s = s;
    }
  }
  if (best >= 0 && best_s > f.conf) {
    d.score = best_s;
    d.class_id = best;
    out.push_back(d);
  }
}

Status check_float(const Tensor& t, int rank, const char* who) {
  if (t.dtype() != DType::kFloat32) return invalid_argument(std::string(who) + ": output must be float32");
  if (t.rank() != rank || t.dim(0) != 1)
    return shape_mismatch(std::string(who) + ": expected a rank-" + std::to_string(rank) + " output with batch 1, got " +
                          shape_str(t.shape()));
  return Status::ok();
}

}  // namespace

Result<std::vector<Detection>> decode_darknet(const Tensor& out, const DarknetHead& h, int net_w, int net_h,
                                              const DecodeFilter& f) {
  CVT_RETURN_IF_ERROR(check_float(out, 4, "darknet head"));
  const int64_t A = int64_t(h.mask.size()), C = h.classes, E = h.coords + 1 + C;
  const int64_t H = out.dim(2), W = out.dim(3), plane = H * W;
  if (out.dim(1) != A * E)
    return shape_mismatch("darknet " + h.type + " head '" + h.output + "': expected " + std::to_string(A * E) +
                          " channels, got " + shape_str(out.shape()));
  for (int m : h.mask)
    if (m < 0 || 2 * m + 1 >= int(h.anchors.size())) return invalid_argument("darknet head: mask index outside the anchors");
  const bool region = h.type == "region";
  const float sxy = h.scale_x_y;
  const float* p = out.data<float>();
  std::vector<Detection> res;
  std::vector<float> cls(static_cast<size_t>(C));
  for (int64_t a = 0; a < A; ++a) {
    const float aw = h.anchors[2 * h.mask[a]], ah = h.anchors[2 * h.mask[a] + 1];
    const float* b = p + a * E * plane;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const int64_t o = y * W + x;
        auto at = [&](int64_t e) { return b[e * plane + o]; };
        float tx = at(0), ty = at(1), tw = at(2), th = at(3), obj = at(4);
        float bx, by, bw, bh;  // fractions of the network input
        if (region) {
          bx = (x + sigmoid(tx)) / W;
          by = (y + sigmoid(ty)) / H;
          bw = std::exp(tw) * aw / W;
          bh = std::exp(th) * ah / H;
          obj = sigmoid(obj);
        } else if (h.new_coords) {
          bx = (x + tx * sxy - 0.5f * (sxy - 1)) / W;
          by = (y + ty * sxy - 0.5f * (sxy - 1)) / H;
          bw = tw * tw * 4 * aw / net_w;
          bh = th * th * 4 * ah / net_h;
        } else {
          bx = (x + sigmoid(tx) * sxy - 0.5f * (sxy - 1)) / W;
          by = (y + sigmoid(ty) * sxy - 0.5f * (sxy - 1)) / H;
          bw = std::exp(tw) * aw / net_w;
          bh = std::exp(th) * ah / net_h;
          obj = sigmoid(obj);
        }
        if (obj <= f.conf) continue;  // darknet skips the anchor before looking at classes
        for (int64_t k = 0; k < C; ++k) cls[k] = at(5 + k);
        if (region && h.softmax) {
          float mx = cls[0];
          for (float v : cls) mx = std::max(mx, v);
          double sum = 0;
          for (float& v : cls) sum += (v = std::exp(v - mx));
          for (float& v : cls) v = float(v / sum);
        } else if (!h.new_coords) {
          for (float& v : cls) v = sigmoid(v);
        }
        emit(bx * net_w, by * net_h, bw * net_w, bh * net_h, int(C), f, [&](int k) { return obj * cls[k]; }, res);
      }
  }
  return res;
}

Result<std::vector<Detection>> decode_yolox(const Tensor& out, const std::vector<int>& strides, int net_w, int net_h,
                                            bool decoded, const DecodeFilter& f) {
  CVT_RETURN_IF_ERROR(check_float(out, 3, "yolox"));
  const int64_t N = out.dim(1), E = out.dim(2), C = E - 5;
  if (C < 1) return shape_mismatch("yolox: rows of " + std::to_string(E) + " values cannot hold box, objectness and classes");
  int64_t cells = 0;
  for (int s : strides) {
    if (s < 1 || net_w % s || net_h % s)
      return invalid_argument("yolox: stride " + std::to_string(s) + " does not divide the input " + std::to_string(net_w) +
                              "x" + std::to_string(net_h));
    cells += int64_t(net_w / s) * (net_h / s);
  }
  if (!decoded && cells != N)
    return shape_mismatch("yolox: " + std::to_string(N) + " rows, but strides over a " + std::to_string(net_w) + "x" +
                          std::to_string(net_h) + " input give " + std::to_string(cells) + " cells");
  const float* p = out.data<float>();
  std::vector<Detection> res;
  int64_t row = 0;
  auto one = [&](const float* r, float gx, float gy, float s) {
    float cx = decoded ? r[0] : (r[0] + gx) * s, cy = decoded ? r[1] : (r[1] + gy) * s;
    float w = decoded ? r[2] : std::exp(r[2]) * s, h = decoded ? r[3] : std::exp(r[3]) * s;
    const float obj = r[4];
    if (obj <= f.conf) return;  // score = obj * cls <= obj
    emit(cx, cy, w, h, int(C), f, [&](int k) { return obj * r[5 + k]; }, res);
  };
  if (decoded) {
    for (; row < N; ++row) one(p + row * E, 0, 0, 1);
    return res;
  }
  for (int s : strides)
    for (int gy = 0; gy < net_h / s; ++gy)
      for (int gx = 0; gx < net_w / s; ++gx, ++row) one(p + row * E, float(gx), float(gy), float(s));
  return res;
}

Result<std::vector<Detection>> decode_fastestdet(const Tensor& out, int net_w, int net_h, float obj_pow, float cls_pow,
                                                 const DecodeFilter& f) {
  CVT_RETURN_IF_ERROR(check_float(out, 4, "fastestdet"));
  const int64_t C = out.dim(1) - 5, H = out.dim(2), W = out.dim(3), plane = H * W;
  if (C < 1) return shape_mismatch("fastestdet: expected [1, 5+classes, H, W], got " + shape_str(out.shape()));
  const float* p = out.data<float>();
  std::vector<Detection> res;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const int64_t o = y * W + x;
      auto at = [&](int64_t e) { return p[e * plane + o]; };
      const float obj = std::max(0.f, at(0));
      const float cx = (x + std::tanh(at(1))) / W * net_w, cy = (y + std::tanh(at(2))) / H * net_h;
      const float w = sigmoid(at(3)) * net_w, h = sigmoid(at(4)) * net_h;
      const float obj_term = std::pow(obj, obj_pow);
      emit(cx, cy, w, h, int(C), f, [&](int k) { return obj_term * std::pow(std::max(0.f, at(5 + k)), cls_pow); }, res);
    }
  return res;
}

Result<std::vector<Detection>> decode_yolov5(const Tensor& out, const DecodeFilter& f) {
  CVT_RETURN_IF_ERROR(check_float(out, 3, "yolov5"));
  const int64_t N = out.dim(1), E = out.dim(2), C = E - 5;
  if (C < 1) return shape_mismatch("yolov5: expected [1, N, 5+classes], got " + shape_str(out.shape()));
  const float* p = out.data<float>();
  std::vector<Detection> res;
  for (int64_t i = 0; i < N; ++i) {
    const float* r = p + i * E;
    if (r[4] <= f.conf) continue;
    emit(r[0], r[1], r[2], r[3], int(C), f, [&](int k) { return r[4] * r[5 + k]; }, res);
  }
  return res;
}

Result<std::vector<Detection>> decode_yolov8(const Tensor& out, int num_classes, const DecodeFilter& f) {
  CVT_RETURN_IF_ERROR(check_float(out, 3, "yolov8"));
  const int64_t d1 = out.dim(1), d2 = out.dim(2);
  bool channels_first = num_classes > 0 ? d1 == 4 + num_classes : d1 < d2;
  if (num_classes > 0 && !channels_first && d2 != 4 + num_classes)
    return shape_mismatch("yolov8: expected [1, " + std::to_string(4 + num_classes) + ", N], got " + shape_str(out.shape()));
  const int64_t E = channels_first ? d1 : d2, N = channels_first ? d2 : d1, C = E - 4;
  if (C < 1) return shape_mismatch("yolov8: expected [1, 4+classes, N], got " + shape_str(out.shape()));
  const float* p = out.data<float>();
  // Element e of candidate i.
  auto v = [&](int64_t i, int64_t e) { return channels_first ? p[e * N + i] : p[i * E + e]; };
  std::vector<Detection> res;
  for (int64_t i = 0; i < N; ++i)
    emit(v(i, 0), v(i, 1), v(i, 2), v(i, 3), int(C), f, [&](int k) { return v(i, 4 + k); }, res);
  return res;
}

}  // namespace cvt

namespace cvt {

Result<std::vector<Detection>> decode_torchvision_rcnn(const Tensor& boxes, const Tensor& labels, const Tensor& scores,
                                                       const DecodeFilter& f) {
  if (boxes.dtype() != DType::kFloat32 || boxes.rank() != 2 || boxes.dim(1) != 4)
    return shape_mismatch("torchvision_rcnn: boxes must be float32 [N, 4], got " + std::string(dtype_name(boxes.dtype())) + " " +
                          shape_str(boxes.shape()));
  const int64_t n = boxes.dim(0);
  if (scores.dtype() != DType::kFloat32 || scores.rank() != 1 || scores.dim(0) != n)
    return shape_mismatch("torchvision_rcnn: scores must be float32 [" + std::to_string(n) + "], got " + shape_str(scores.shape()));
  if ((labels.dtype() != DType::kInt64 && labels.dtype() != DType::kInt32) || labels.rank() != 1 || labels.dim(0) != n)
    return shape_mismatch("torchvision_rcnn: labels must be int64 [" + std::to_string(n) + "], got " + shape_str(labels.shape()));
  const std::vector<int64_t> cls = labels.to_int64_vector();
  const float* b = boxes.data<float>();
  const float* s = scores.data<float>();
  std::vector<Detection> res;
  for (int64_t i = 0; i < n; ++i) {
    if (!(s[i] > f.conf) || cls[i] < 0 || cls[i] > (int64_t(1) << 30) || !f.keep(int(cls[i]))) continue;
    Detection d;
    d.x1 = b[i * 4];
    d.y1 = b[i * 4 + 1];
    d.x2 = b[i * 4 + 2];
    d.y2 = b[i * 4 + 3];
    d.score = s[i];
    d.class_id = int(cls[i]);
    d.source = int(i);
    res.push_back(d);
  }
  return res;
}

}  // namespace cvt
