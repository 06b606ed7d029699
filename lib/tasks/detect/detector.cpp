#include "tasks/detect/detector.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "io/onnx/importer.h"
#include "tasks/common/labels.h"
#include "tasks/common/preprocess.h"

namespace cvt {

using Clock = std::chrono::steady_clock;
static double ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

Result<DecoderConfig> parse_decoder_config(const nlohmann::json& jin, const std::string& default_type) {
  DecoderConfig d;
  if (!jin.is_null() && !jin.is_object()) return invalid_argument("manifest 'decoder' must be an object");
  const nlohmann::json j = jin.is_null() ? nlohmann::json::object() : jin;
  try {
    d.type = j.value("type", default_type);
    d.conf = j.value("conf", d.conf);
    d.iou = j.value("iou", d.iou);
    d.multi_label = j.value("multi_label", d.type == "darknet_yolo");
    d.strides = j.value("strides", d.strides);
    d.decoded = j.value("decoded", d.decoded);
    d.obj_pow = j.value("obj_pow", d.obj_pow);
    d.cls_pow = j.value("cls_pow", d.cls_pow);
    d.category_map = j.value("category_map", std::string());
    d.output = j.value("output", std::string());
    d.mask_threshold = j.value("mask_threshold", d.mask_threshold);
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(std::string("manifest 'decoder': ") + e.what());
  }
  static const char* kTypes[] = {"darknet_yolo", "yolox", "fastestdet", "yolov5", "yolov8", "torchvision_rcnn"};
  if (std::find(std::begin(kTypes), std::end(kTypes), d.type) == std::end(kTypes))
    return invalid_argument("unknown decoder type '" + d.type + "' (darknet_yolo, yolox, fastestdet, yolov5, yolov8, torchvision_rcnn)");
  d.in_graph_nms = d.type == "torchvision_rcnn";
  if (!(d.mask_threshold >= 0 && d.mask_threshold < 1)) return invalid_argument("decoder.mask_threshold must be in [0, 1)");
  if (!d.category_map.empty() && d.category_map != "coco80to91" && d.category_map != "identity")
    return invalid_argument("unknown decoder.category_map '" + d.category_map + "' (coco80to91, identity)");
  if (d.strides.empty()) return invalid_argument("decoder.strides must not be empty");
  return d;
}

// A bare ONNX file: guess the head from its outputs (torchvision's boxes/labels/scores; [1, 4+C, N]
// with C < N is YOLOv8's layout).
static std::string guess_onnx_decoder(const Graph& g) {
  int named = 0;
  for (const ValueInfo& v : g.outputs) named += v.name == "boxes" || v.name == "labels" || v.name == "scores";
  if (named == 3) return "torchvision_rcnn";
  if (g.outputs.empty() || !g.outputs[0].has_shape || g.outputs[0].shape.size() != 3) return "yolov5";
  const Shape& s = g.outputs[0].shape;
  return s[1] > 0 && s[2] > 0 && s[1] < s[2] ? "yolov8" : "yolov5";
}

Result<std::unique_ptr<Detector>> Detector::create(const ResolvedModel& model, const SessionOptions& opts) {
  auto d = std::unique_ptr<Detector>(new Detector());
  const Manifest& mf = model.manifest;
  std::shared_ptr<Model> m;
  std::string default_type;
  if (mf.format == "darknet") {
    std::string weights = model.path_for_role("weights");
    if (weights.empty()) weights = std::filesystem::path(model.model_path).replace_extension(".weights").string();
    DarknetImportOptions dopts;
    if (model.from_manifest) {  // darknet runs at any multiple of 32: the manifest's size wins
      dopts.width = mf.input.width;
      dopts.height = mf.input.height;
    }
    CVT_ASSIGN_OR_RETURN(m, import_darknet_file(model.model_path, weights, dopts, &d->darknet_));
    if (d->darknet_.heads.empty())
      return invalid_argument(model.model_path + ": no [yolo] or [region] layer: not a detector");
    default_type = "darknet_yolo";
  } else if (mf.format == "onnx") {
    CVT_ASSIGN_OR_RETURN(m, import_onnx_file(model.model_path, import_options_for_reference(opts.use_reference)));
    default_type = guess_onnx_decoder(*m->graph);
  } else {
    return unsupported("model '" + mf.name + "' has format '" + mf.format + "'; detect runs onnx and darknet models");
  }
  CVT_ASSIGN_OR_RETURN(d->decoder_, parse_decoder_config(mf.decoder, default_type));
  if (d->decoder_.type == "darknet_yolo" && mf.format != "darknet")
    return invalid_argument("decoder darknet_yolo needs a darknet (.cfg/.weights) model");
  CVT_ASSIGN_OR_RETURN(d->session_, Session::create(m, opts));
  const Graph& g = d->session_->graph();
  if (g.inputs.size() != 1) return invalid_argument("detect needs a model with one input; this one has " + std::to_string(g.inputs.size()));

  d->contract_ = mf.input;
  if (!model.from_manifest) {
    d->contract_ = InputContract{};  // RGB, /255, plain resize: what darknet does
    if (mf.format == "darknet") {
      d->contract_.width = d->darknet_.width;
      d->contract_.height = d->darknet_.height;
    }
  }
  const ValueInfo& in = g.inputs[0];
  if (d->decoder_.type == "torchvision_rcnn") {
    if (!model.from_manifest) {  // torchvision's contract: one RGB image in [0, 1], CHW, any size
      d->contract_.layout = "CHW";
      d->contract_.resize = "none";
    }
    CVT_RETURN_IF_ERROR(d->find_rcnn_outputs(g));
  }
  const bool any_size = d->contract_.resize == "none";
  if (in.has_shape && in.shape.size() != (d->contract_.layout == "CHW" ? 3u : 4u))
    return invalid_argument("model input '" + in.name + "' has shape " + shape_str(in.shape) + " but the manifest's layout is " +
                            d->contract_.layout);
  if (in.has_shape && in.shape.size() == 4 && !any_size) {
    const int64_t h = in.shape[2], w = in.shape[3];
    if (d->contract_.width == 0 && w > 0) d->contract_.width = int(w);
    if (d->contract_.height == 0 && h > 0) d->contract_.height = int(h);
    if ((w > 0 && w != d->contract_.width) || (h > 0 && h != d->contract_.height))
      return invalid_argument("model input '" + in.name + "' has shape " + shape_str(in.shape) + " but the manifest says " +
                              std::to_string(d->contract_.width) + "x" + std::to_string(d->contract_.height));
  }
  if (!any_size && (d->contract_.width <= 0 || d->contract_.height <= 0))
    return invalid_argument("the model's input size is dynamic: give it in a manifest (input.size)");
  if (!d->decoder_.output.empty()) {
    auto it = std::find_if(g.outputs.begin(), g.outputs.end(), [&](const ValueInfo& v) { return v.name == d->decoder_.output; });
    if (it == g.outputs.end()) return invalid_argument("model has no output named '" + d->decoder_.output + "'");
    d->output_index_ = int(it - g.outputs.begin());
  }
  if (!mf.inline_labels.empty()) d->labels_ = mf.inline_labels;
  std::string labels_path = model.path_for_role("labels");
  if (!labels_path.empty()) {
    CVT_ASSIGN_OR_RETURN(d->labels_, load_labels(labels_path));
  }
  return d;
}

// torchvision exports name their outputs; fall back to the documented order.
Status Detector::find_rcnn_outputs(const Graph& g) {
  auto index_of = [&](const char* name, int fallback) {
    for (size_t i = 0; i < g.outputs.size(); ++i)
      if (g.outputs[i].name == name) return int(i);
    return fallback < int(g.outputs.size()) ? fallback : -1;
  };
  boxes_index_ = index_of("boxes", 0);
  labels_index_ = index_of("labels", 1);
  scores_index_ = index_of("scores", 2);
  masks_index_ = index_of("masks", 3);
  if (boxes_index_ < 0 || labels_index_ < 0 || scores_index_ < 0)
    return invalid_argument("decoder torchvision_rcnn needs the outputs boxes, labels and scores; the model has " +
                            std::to_string(g.outputs.size()) + " outputs");
  return Status::ok();
}

std::string Detector::label(int class_id) const {
  return class_id >= 0 && class_id < int(labels_.size()) ? labels_[class_id] : std::to_string(class_id);
}

int Detector::category_id(int class_id) const {
  if (decoder_.category_map == "coco80to91") {
    const auto& ids = coco80_to_91();
    return class_id >= 0 && class_id < int(ids.size()) ? ids[class_id] : -1;
  }
  if (decoder_.category_map == "identity") return class_id;  // class ids are the dataset's category ids
  return -1;
}

Result<std::vector<Detection>> Detector::decode(const std::vector<Tensor>& outs, const DecodeFilter& f) const {
  const DecoderConfig& c = decoder_;
  const int nw = contract_.width, nh = contract_.height;
  if (c.type == "darknet_yolo") {
    if (outs.size() != darknet_.heads.size()) return internal_error("darknet outputs do not match its heads");
    std::vector<Detection> all;
    for (size_t k = 0; k < outs.size(); ++k) {
      CVT_ASSIGN_OR_RETURN(auto part, decode_darknet(outs[k], darknet_.heads[k], nw, nh, f));
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }
  if (c.type == "torchvision_rcnn") {
    const int need = std::max({boxes_index_, labels_index_, scores_index_});
    if (need >= int(outs.size())) return internal_error("torchvision_rcnn output index out of range");
    return decode_torchvision_rcnn(outs[boxes_index_], outs[labels_index_], outs[scores_index_], f);
  }
  if (output_index_ >= int(outs.size())) return internal_error("decoder output index out of range");
  const Tensor& t = outs[output_index_];
  if (c.type == "yolox") return decode_yolox(t, c.strides, nw, nh, c.decoded, f);
  if (c.type == "fastestdet") return decode_fastestdet(t, nw, nh, c.obj_pow, c.cls_pow, f);
  if (c.type == "yolov5") return decode_yolov5(t, f);
  return decode_yolov8(t, int(labels_.size()), f);
}

// Binary masks (0/255) of the kept detections from a [N, 1, H, W] probability output pasted at image size.
static Result<std::vector<cv::Mat>> binary_masks(const Tensor& m, const std::vector<Detection>& dets, int image_w,
                                                 int image_h, float threshold) {
  if (m.dtype() != DType::kFloat32 || m.rank() != 4 || m.dim(1) != 1)
    return shape_mismatch("masks must be float32 [N, 1, H, W], got " + shape_str(m.shape()));
  if (m.dim(2) != image_h || m.dim(3) != image_w)
    return shape_mismatch("masks are " + std::to_string(m.dim(3)) + "x" + std::to_string(m.dim(2)) + " but the image is " +
                          std::to_string(image_w) + "x" + std::to_string(image_h) + " (masks need input.resize \"none\")");
  std::vector<cv::Mat> out;
  const int64_t plane = m.dim(2) * m.dim(3);
  for (const Detection& d : dets) {
    if (d.source < 0 || d.source >= m.dim(0)) return internal_error("detection has no mask row");
    cv::Mat mask(image_h, image_w, CV_8U);
    const float* p = m.data<float>() + d.source * plane;
    uint8_t* q = mask.ptr<uint8_t>();
    for (int64_t i = 0; i < plane; ++i) q[i] = p[i] > threshold ? 255 : 0;
    out.push_back(std::move(mask));
  }
  return out;
}

Result<std::vector<Detection>> Detector::detect(const cv::Mat& bgr, const DetectOptions& o, StageTimes* times,
                                                std::vector<cv::Mat>* masks) {
  if (masks && !has_masks()) return invalid_argument("model '" + session_->model().path + "' has no mask output");
  auto t0 = Clock::now();
  ImageTransform xf;
  CVT_ASSIGN_OR_RETURN(Tensor input, preprocess_image(bgr, contract_, 0, 0, &xf));
  auto t1 = Clock::now();
  CVT_ASSIGN_OR_RETURN(std::vector<Tensor> outs, session_->run({input}));
  auto t2 = Clock::now();
  DecodeFilter f;
  f.conf = o.conf >= 0 ? o.conf : decoder_.conf;
  f.multi_label = decoder_.multi_label;
  if (!o.classes.empty()) {
    int n = *std::max_element(o.classes.begin(), o.classes.end()) + 1;
    f.allowed.assign(std::max<size_t>(n, labels_.size()), false);
    for (int c : o.classes)
      if (c >= 0) f.allowed[c] = true;
  }
  CVT_ASSIGN_OR_RETURN(std::vector<Detection> cand, decode(outs, f));
  NmsOptions no;
  no.iou = o.iou >= 0 ? o.iou : decoder_.iou;
  no.agnostic = o.agnostic;
  no.max_det = o.max_det;
  std::vector<Detection> kept;
  if (decoder_.in_graph_nms && !o.agnostic) {  // already suppressed per class: keep the model's order
    kept = std::move(cand);
    std::stable_sort(kept.begin(), kept.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
    if (o.max_det > 0 && int(kept.size()) > o.max_det) kept.resize(o.max_det);
  } else {
    kept = nms(std::move(cand), no);
  }
  std::vector<Detection> res;
  const float W = float(bgr.cols), H = float(bgr.rows);
  for (Detection d : kept) {
    d.x1 = std::clamp(xf.to_image_x(d.x1), 0.f, W);
    d.x2 = std::clamp(xf.to_image_x(d.x2), 0.f, W);
    d.y1 = std::clamp(xf.to_image_y(d.y1), 0.f, H);
    d.y2 = std::clamp(xf.to_image_y(d.y2), 0.f, H);
    if (d.x2 > d.x1 && d.y2 > d.y1) res.push_back(d);  // boxes entirely in the letterbox padding vanish
  }
  if (masks) {
    const float thr = o.mask_threshold >= 0 ? o.mask_threshold : decoder_.mask_threshold;
    CVT_ASSIGN_OR_RETURN(*masks, binary_masks(outs[masks_index_], res, bgr.cols, bgr.rows, thr));
  }
  if (times) {
    times->pre = ms(t0, t1);
    times->infer = ms(t1, t2);
    times->post = ms(t2, Clock::now());
  }
  return res;
}

Result<std::vector<int>> parse_class_list(const std::string& s, const std::vector<std::string>& labels) {
  std::vector<int> out;
  auto lower = [](std::string x) {
    std::transform(x.begin(), x.end(), x.begin(), [](unsigned char c) { return std::tolower(c); });
    return x;
  };
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(pos, comma - pos);
    pos = comma + 1;
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) continue;
    int id = -1;
    for (size_t k = 0; k < labels.size(); ++k)
      if (lower(labels[k]) == lower(item)) id = int(k);
    if (id < 0 && item.find_first_not_of("0123456789") == std::string::npos && item.size() < 9) id = std::stoi(item);
    if (id < 0 || (!labels.empty() && id >= int(labels.size())))
      return invalid_argument("--classes: '" + item + "' is neither a class name of this model nor a class id" +
                              (labels.empty() ? "" : " in 0.." + std::to_string(labels.size() - 1)));
    out.push_back(id);
  }
  if (out.empty()) return invalid_argument("--classes: no class given");
  return out;
}

}  // namespace cvt
