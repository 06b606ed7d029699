#include "tasks/pose/pose_estimator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "io/onnx/importer.h"
#include "tasks/common/preprocess.h"

namespace cvt {

using Clock = std::chrono::steady_clock;
static double ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

Result<PoseModelConfig> parse_pose_config(const nlohmann::json& j) {
  PoseModelConfig c;
  auto bad = [](const std::string& why) { return invalid_argument("manifest 'decoder' (pose): " + why); };
  if (!j.is_object()) return bad("must be an object");
  try {
    c.type = j.value("type", c.type);
    if (c.type != "openpose_paf") return bad("unknown type '" + c.type + "' (openpose_paf)");
    c.keypoint_format = j.value("keypoint_format", std::string());
    c.skeleton.parts = j.at("parts").get<std::vector<std::string>>();
    for (const auto& l : j.at("limbs")) {
      auto v = l.get<std::vector<int>>();
      if (v.size() != 4) return bad("each limb is [part_a, part_b, paf_x, paf_y]");
      c.skeleton.limbs.push_back({v[0], v[1], v[2], v[3], false});
    }
    for (int k : j.value("redundant_limbs", std::vector<int>{})) {
      if (k < 0 || k >= int(c.skeleton.limbs.size())) return bad("redundant_limbs index " + std::to_string(k) + " out of range");
      c.skeleton.limbs[k].redundant = true;
    }
    const int nparts = int(c.skeleton.parts.size());
    c.heatmap_offset = j.value("heatmap_offset", 0);
    c.paf_offset = j.value("paf_offset", c.heatmap_offset + nparts + 1);
    c.paf_channels = j.value("paf_channels", 2 * int(c.skeleton.limbs.size()));
    c.stride = j.value("stride", c.stride);
    c.upsample = j.value("upsample", c.upsample);
    c.smooth_sigma = j.value("smooth_sigma", c.smooth_sigma);
    PafParams& p = c.params;
    p.peak_threshold = j.value("peak_threshold", p.peak_threshold);
    p.line_samples = j.value("line_samples", p.line_samples);
    p.paf_threshold = j.value("paf_threshold", p.paf_threshold);
    p.min_above_fraction = j.value("min_above_fraction", p.min_above_fraction);
    p.min_parts = j.value("min_parts", p.min_parts);
    p.min_score = j.value("min_score", p.min_score);
    c.coco17 = j.value("coco17", std::vector<int>{});
    for (const auto& col : j.value("colors", nlohmann::json::array())) {
      auto v = col.get<std::vector<int>>();
      if (v.size() != 3) return bad("each colour is [r, g, b]");
      c.colors.push_back({v[0], v[1], v[2]});
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  const int nparts = int(c.skeleton.parts.size());
  if (nparts == 0 || nparts > 1000) return bad("'parts' must list 1..1000 part names");
  if (c.skeleton.limbs.empty() || c.skeleton.limbs.size() > 1000) return bad("'limbs' must list 1..1000 limbs");
  if (c.heatmap_offset < 0 || c.paf_offset < 0 || c.paf_channels <= 0 || c.paf_channels > 2000)
    return bad("heatmap_offset, paf_offset and paf_channels must be non-negative (paf_channels 1..2000)");
  if (c.stride <= 0 || c.stride > 256) return bad("stride must be in 1..256");
  if (!(c.upsample > 0 && c.upsample <= 16)) return bad("upsample must be in (0, 16]");
  if (!(c.smooth_sigma >= 0 && c.smooth_sigma <= 10)) return bad("smooth_sigma must be in [0, 10]");
  if (c.params.line_samples < 1 || c.params.line_samples > 1000) return bad("line_samples must be in 1..1000");
  for (int k : c.coco17)
    if (k < -1 || k >= nparts) return bad("coco17 entry " + std::to_string(k) + " is not a part index");
  if (!c.coco17.empty() && c.coco17.size() != 17) return bad("coco17 must have 17 entries");
  CVT_RETURN_IF_ERROR(c.skeleton.validate(c.paf_channels));
  return c;
}

Result<std::vector<float>> parse_scales(const std::string& s) {
  std::vector<float> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      float v = std::stof(item, &used);
      if (used != item.size() || !(v > 0 && v <= 4)) throw 0;
      out.push_back(v);
    } catch (...) {
      return invalid_argument("--scales: '" + item + "' is not a scale in (0, 4] (e.g. 1,0.75)");
    }
  }
  if (out.empty() || out.size() > 8) return invalid_argument("--scales: give 1 to 8 comma-separated scales");
  return out;
}

Result<std::unique_ptr<PoseEstimator>> PoseEstimator::create(const ResolvedModel& model, const SessionOptions& opts) {
  auto e = std::unique_ptr<PoseEstimator>(new PoseEstimator());
  const Manifest& mf = model.manifest;
  if (mf.format != "onnx") return unsupported("model '" + mf.name + "' has format '" + mf.format + "'; pose runs onnx models");
  if (!model.from_manifest)
    return invalid_argument("a pose model needs a manifest (its part/limb table and input contract); see models/openpose-*.json");
  CVT_ASSIGN_OR_RETURN(e->config_, parse_pose_config(mf.decoder));
  CVT_ASSIGN_OR_RETURN(std::shared_ptr<Model> m, import_onnx_file(model.model_path, import_options_for_reference(opts.use_reference)));
  CVT_ASSIGN_OR_RETURN(e->session_, Session::create(m, opts));
  const Graph& g = e->session_->graph();
  if (g.inputs.size() != 1) return invalid_argument("pose needs a model with one input; this one has " + std::to_string(g.inputs.size()));
  e->contract_ = mf.input;
  const ValueInfo& in = g.inputs[0];
  if (!in.has_shape || in.shape.size() != 4) return invalid_argument("pose needs a 4-D image input, '" + in.name + "' is not");
  const int64_t h = e->contract_.layout == "NCHW" ? in.shape[2] : in.shape[1];
  const int64_t w = e->contract_.layout == "NCHW" ? in.shape[3] : in.shape[2];
  e->dynamic_h_ = h <= 0;
  e->dynamic_w_ = w <= 0;
  if (!e->dynamic_w_ && e->contract_.width != 0 && w != e->contract_.width) return invalid_argument("model input width differs from the manifest's");
  if (!e->dynamic_h_ && e->contract_.height != 0 && h != e->contract_.height) return invalid_argument("model input height differs from the manifest's");
  if (!e->dynamic_w_) e->contract_.width = int(w);
  if (!e->dynamic_h_) e->contract_.height = int(h);
  if (e->contract_.height <= 0) return invalid_argument("the model's input height is dynamic: give it in the manifest (input.size)");
  if (e->dynamic_w_ && e->contract_.width <= 0) e->contract_.width = e->contract_.height;  // a nominal size only
  if (!mf.output_name.empty()) {
    auto it = std::find_if(g.outputs.begin(), g.outputs.end(), [&](const ValueInfo& v) { return v.name == mf.output_name; });
    if (it == g.outputs.end()) return invalid_argument("model has no output named '" + mf.output_name + "'");
    e->output_index_ = int(it - g.outputs.begin());
  }
  return e;
}

namespace {

// The network input for one scale: the image resized by `s`, pasted at the top left of a
// (net_w x net_h) canvas of pad_value, then converted per the contract (colour, scale, layout).
Result<Tensor> make_input(const cv::Mat& bgr, const InputContract& c, double s, int net_w, int net_h) {
  const int rw = std::max(1, int(std::lround(bgr.cols * s)));
  const int rh = std::max(1, int(std::lround(bgr.rows * s)));
  if (rw > net_w || rh > net_h) return invalid_argument("the image at this scale does not fit the fixed network input");
  cv::Mat r;
  cv::resize(bgr, r, cv::Size(rw, rh), 0, 0, cv::INTER_LINEAR);
  cv::Mat canvas(net_h, net_w, CV_8UC3, cv::Scalar::all(c.pad_value));
  r.copyTo(canvas(cv::Rect(0, 0, rw, rh)));
  InputContract as_is = c;  // the canvas already has the network size: no further resizing
  as_is.resize = "stretch";
  return preprocess_image(canvas, as_is, net_w, net_h, nullptr);
}

// Bilinear taps that sample a source axis of `n` cells for each of `count` target pixels.
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> w1;
};
Taps make_taps(int count, int n, double src_per_target) {
  Taps t;
  t.i0.resize(count);
  t.i1.resize(count);
  t.w1.resize(count);
  for (int k = 0; k < count; ++k) {
    const double g = std::clamp((k + 0.5) * src_per_target - 0.5, 0.0, double(n - 1));
    const int i = std::min(int(g), n - 1);
    t.i0[k] = i;
    t.i1[k] = std::min(i + 1, n - 1);
    t.w1[k] = float(g - i);
  }
  return t;
}

// dst += bilinear resample of src (sw x sh, read through taps) over dst (dw x dh).
void accumulate_plane(const float* src, int sw, const Taps& tx, const Taps& ty, float* dst, int dw, int dh, float weight) {
  (void)sw;
  for (int y = 0; y < dh; ++y) {
    const float* r0 = src + size_t(ty.i0[y]) * sw;
    const float* r1 = src + size_t(ty.i1[y]) * sw;
    const float wy = ty.w1[y];
    float* out = dst + size_t(y) * dw;
    for (int x = 0; x < dw; ++x) {
      const int a = tx.i0[x], b = tx.i1[x];
      const float wx = tx.w1[x];
      const float top = r0[a] + wx * (r0[b] - r0[a]);
      const float bot = r1[a] + wx * (r1[b] - r1[a]);
      out[x] += weight * (top + wy * (bot - top));
    }
  }
}

}  // namespace

Result<PoseMaps> PoseEstimator::compute_maps(const cv::Mat& bgr, const std::vector<float>& scales, float upsample,
                                             float to_image[2], StageTimes* times) {
  if (bgr.empty() || bgr.type() != CV_8UC3) return invalid_argument("pose expects an 8-bit BGR image");
  if (scales.empty()) return invalid_argument("no scales");
  const PoseModelConfig& c = config_;
  const int W = bgr.cols, H = bgr.rows;
  // Base scale: the image height becomes the network height; a fixed width also caps it.
  double base = double(contract_.height) / H;
  if (!dynamic_w_) base = std::min(base, double(contract_.width) / W);
  // The common frame: the image at the base scale, `upsample` map pixels per output cell.
  const int mw = std::max(1, int(std::lround(W * base * upsample / c.stride)));
  const int mh = std::max(1, int(std::lround(H * base * upsample / c.stride)));
  const int nparts = int(c.skeleton.parts.size());
  PoseMaps maps;
  CVT_RETURN_IF_ERROR(maps.allocate(mw, mh, nparts, c.paf_channels));
  double pre_ms = 0, infer_ms = 0;
  for (float s : scales) {
    auto t0 = Clock::now();
    const double scale = base * s;
    int net_h = contract_.height, net_w = contract_.width;
    if (dynamic_h_) net_h = std::max(c.stride, int(std::ceil(H * scale / c.stride)) * c.stride);
    if (dynamic_w_) net_w = std::max(c.stride, int(std::ceil(W * scale / c.stride)) * c.stride);
    if (s > 1.0001f && !(dynamic_w_ && dynamic_h_))
      return invalid_argument("this model has a fixed input size: scales must be <= 1 (got " + std::to_string(s) + ")");
    if (int64_t(net_w) * net_h > int64_t(8192) * 8192) return limit_exceeded("pose input at scale " + std::to_string(s) + " is too large");
    CVT_ASSIGN_OR_RETURN(Tensor input, make_input(bgr, contract_, scale, net_w, net_h));
    auto t1 = Clock::now();
    CVT_ASSIGN_OR_RETURN(std::vector<Tensor> outs, session_->run({input}));
    auto t2 = Clock::now();
    pre_ms += ms(t0, t1);
    infer_ms += ms(t1, t2);
    if (output_index_ >= int(outs.size())) return internal_error("pose output index out of range");
    const Tensor& out = outs[output_index_];
    if (out.dtype() != DType::kFloat32 || out.shape().size() != 4 || out.shape()[0] != 1)
      return invalid_model("pose output must be float32 [1, C, H, W], got " + shape_str(out.shape()));
    const int oc = int(out.shape()[1]), oh = int(out.shape()[2]), ow = int(out.shape()[3]);
    if (oc < c.heatmap_offset + nparts || oc < c.paf_offset + c.paf_channels)
      return invalid_model("pose output has " + std::to_string(oc) + " channels; the manifest needs heatmaps at " +
                           std::to_string(c.heatmap_offset) + ".." + std::to_string(c.heatmap_offset + nparts - 1) +
                           " and PAFs at " + std::to_string(c.paf_offset) + ".." + std::to_string(c.paf_offset + c.paf_channels - 1));
    if (oh <= 0 || ow <= 0 || std::abs(double(net_w) / ow - c.stride) > 1 || std::abs(double(net_h) / oh - c.stride) > 1)
      return invalid_model("pose output " + shape_str(out.shape()) + " is not the input " + std::to_string(net_w) + "x" +
                           std::to_string(net_h) + " at stride " + std::to_string(c.stride));
    // Map pixel k covers image x in [k, k+1) * W / mw; output cell j covers input [j, j+1) * net_w / ow.
    const Taps tx = make_taps(mw, ow, double(W) / mw * scale * ow / net_w);
    const Taps ty = make_taps(mh, oh, double(H) / mh * scale * oh / net_h);
    const float weight = 1.f / float(scales.size());
    const float* base_ptr = out.data<float>();
    const size_t oplane = size_t(oh) * ow;
    for (int k = 0; k < nparts; ++k)
      accumulate_plane(base_ptr + (c.heatmap_offset + k) * oplane, ow, tx, ty, maps.heatmap(k), mw, mh, weight);
    for (int k = 0; k < c.paf_channels; ++k)
      accumulate_plane(base_ptr + (c.paf_offset + k) * oplane, ow, tx, ty, maps.paf(k), mw, mh, weight);
  }
  to_image[0] = float(W) / mw;
  to_image[1] = float(H) / mh;
  if (times) {
    times->pre = pre_ms;
    times->infer = infer_ms;
  }
  return maps;
}

Result<std::vector<PersonPose>> PoseEstimator::estimate(const cv::Mat& bgr, const PoseOptions& o, StageTimes* times) {
  const float upsample = o.upsample > 0 ? o.upsample : config_.upsample;
  float to_image[2];
  CVT_ASSIGN_OR_RETURN(PoseMaps maps, compute_maps(bgr, o.scales, upsample, to_image, times));
  auto t0 = Clock::now();
  PafParams p = o.params ? *o.params : config_.params;
  if (!o.params || p.smooth_sigma < 0) p.smooth_sigma = config_.smooth_sigma * upsample;
  CVT_ASSIGN_OR_RETURN(std::vector<PersonPose> people, decode_people(maps, config_.skeleton, p));
  for (PersonPose& person : people)
    for (PoseKeypoint& k : person.keypoints)
      if (k.score > 0) {
        k.x = (k.x + 0.5f) * to_image[0];
        k.y = (k.y + 0.5f) * to_image[1];
      }
  if (times) times->post = ms(t0, Clock::now());
  return people;
}

}  // namespace cvt
