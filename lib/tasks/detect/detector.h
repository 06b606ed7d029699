// Object detection pipeline: pre-process (manifest contract), infer (ONNX or
// Darknet model), decode (decoder chosen by the manifest's decoder.type), NMS,
// boxes mapped back to image pixels and clipped. One image at a time.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "graph/session.h"
#include "io/darknet/importer.h"
#include "models/registry.h"
#include "tasks/common/stage_times.h"
#include "tasks/detect/decoders.h"
#include "tasks/detect/nms.h"

namespace cvt {

struct DetectOptions {
  float conf = -1;              // < 0: the manifest's decoder.conf (default 0.25)
  float iou = -1;               // < 0: the manifest's decoder.iou (default 0.45)
  int max_det = 300;
  bool agnostic = false;
  std::vector<int> classes;     // keep only these class ids (empty = all)
  float mask_threshold = -1;    // < 0: the manifest's decoder.mask_threshold (default 0.5)
};

/// Decoder settings, from a manifest's free-form "decoder" object.
struct DecoderConfig {
  std::string type;             // darknet_yolo | yolox | fastestdet | yolov5 | yolov8 | torchvision_rcnn
  float conf = 0.25f, iou = 0.45f;
  bool multi_label = false;     // darknet_yolo defaults to true, as darknet reports every class above conf
  std::vector<int> strides{8, 16, 32};  // yolox
  bool decoded = false;         // yolox: boxes already decoded in the graph
  float obj_pow = 0.6f, cls_pow = 0.4f;  // fastestdet
  std::string category_map;     // "coco80to91", "identity" (class id = category id) or ""
  std::string output;           // output name to decode (yolox/v5/v8/fastestdet; "" = first)
  float mask_threshold = 0.5f;  // torchvision_rcnn masks: a pixel is in the instance when its probability is above this
  // torchvision_rcnn: the graph already ran per-class NMS and outputs final boxes (image pixels),
  // labels and scores (and masks for Mask R-CNN); cvtool only filters them, and runs its own NMS
  // only when asked for class-agnostic suppression.
  bool in_graph_nms = false;
};
Result<DecoderConfig> parse_decoder_config(const nlohmann::json& j, const std::string& default_type);

class Detector {
 public:
  static Result<std::unique_ptr<Detector>> create(const ResolvedModel& model, const SessionOptions& opts);

  /// Detections in image pixels, sorted by score. With `masks` (models with a mask output only),
  /// masks->at(i) is detection i's binary mask (CV_8U 0/255, image size).
  Result<std::vector<Detection>> detect(const cv::Mat& bgr, const DetectOptions& o, StageTimes* times,
                                        std::vector<cv::Mat>* masks = nullptr);
  /// The model outputs instance masks (Mask R-CNN).
  bool has_masks() const { return masks_index_ >= 0; }
  /// Raw graph outputs for an already pre-processed input (tests, cross-checks).
  Result<std::vector<Tensor>> run_raw(const Tensor& input) { return session_->run({input}); }
  /// Decodes raw outputs into network-pixel candidates (before NMS).
  Result<std::vector<Detection>> decode(const std::vector<Tensor>& outs, const DecodeFilter& f) const;

  const std::vector<std::string>& labels() const { return labels_; }
  const InputContract& contract() const { return contract_; }
  const DecoderConfig& decoder() const { return decoder_; }
  std::string label(int class_id) const;
  /// Dataset category id of a class (coco80to91), or -1 when the model has no mapping.
  int category_id(int class_id) const;
  Session& session() { return *session_; }

 private:
  Status find_rcnn_outputs(const Graph& g);

  std::unique_ptr<Session> session_;
  InputContract contract_;
  DecoderConfig decoder_;
  DarknetInfo darknet_;
  std::vector<std::string> labels_;
  int output_index_ = 0;
  int boxes_index_ = 0, labels_index_ = 1, scores_index_ = 2, masks_index_ = -1;  // torchvision_rcnn
};

/// Parses "person,car,2" against `labels` (names, case-insensitive, or ids).
Result<std::vector<int>> parse_class_list(const std::string& s, const std::vector<std::string>& labels);

}  // namespace cvt
