// Multi-person pose pipeline for OpenPose-style networks: the image is resized
// to the network height keeping its aspect (fitted and padded for fixed-size
// inputs), run at one or more scales, the heatmaps and PAFs are resampled to
// one common frame (upsampled by a configurable factor) and averaged, then
// decoded by the PAF decoder and mapped back to image pixels.
#pragma once
#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "graph/session.h"
#include "models/registry.h"
#include "tasks/common/stage_times.h"
#include "tasks/pose/paf_decoder.h"

namespace cvt {

/// The manifest's "decoder" block of a pose model: the part/limb table, where the
/// heatmaps and PAFs sit in the output, and the decoder defaults.
struct PoseModelConfig {
  std::string type = "openpose_paf";
  std::string keypoint_format;    // "COCO_18", "BODY_25", ...
  PoseSkeleton skeleton;
  int heatmap_offset = 0;         // output channel of the first part heatmap
  int paf_offset = -1;            // output channel of PAF channel 0 (-1: right after the heatmaps + background)
  int paf_channels = 0;           // PAF planes (default: 2 per limb)
  int stride = 8;                 // network input pixels per output cell (checked against the shapes)
  float upsample = 4.f;           // decode at this many map pixels per output cell
  float smooth_sigma = 0.75f;     // heatmap smoothing, in output cells (x upsample = map pixels)
  PafParams params;               // thresholds (smooth_sigma there is set from the line above)
  std::vector<int> coco17;        // COCO-17 keypoint k = part coco17[k] (-1: none); empty: no COCO export
  std::vector<std::array<int, 3>> colors;  // RGB per part for drawing
};
Result<PoseModelConfig> parse_pose_config(const nlohmann::json& decoder);

struct PoseOptions {
  std::vector<float> scales{1.f};  // network input heights as fractions of the base size; maps are averaged
  float upsample = -1;             // < 0: the manifest's
  std::optional<PafParams> params;  // thresholds (none: the manifest's); smooth_sigma < 0: the manifest's x upsample
};

class PoseEstimator {
 public:
  static Result<std::unique_ptr<PoseEstimator>> create(const ResolvedModel& model, const SessionOptions& opts);

  /// People in image pixels (continuous coordinates: pixel i spans [i, i+1)), best first.
  Result<std::vector<PersonPose>> estimate(const cv::Mat& bgr, const PoseOptions& o, StageTimes* times);
  /// Heatmaps and PAFs of `bgr` in the common frame, averaged over the scales; `to_image` receives the
  /// factor from map coordinates to image pixels (x_img = (x_map + 0.5) * to_image[0]).
  Result<PoseMaps> compute_maps(const cv::Mat& bgr, const std::vector<float>& scales, float upsample, float to_image[2],
                                StageTimes* times);
  /// Raw graph outputs for an already pre-processed input (tests, cross-checks).
  Result<std::vector<Tensor>> run_raw(const Tensor& input) { return session_->run({input}); }

  const PoseModelConfig& config() const { return config_; }
  const InputContract& contract() const { return contract_; }
  bool dynamic_width() const { return dynamic_w_; }
  /// Scales above 1 need an input whose height and width are both dynamic.
  bool fixed_size() const { return !(dynamic_w_ && dynamic_h_); }

 private:
  std::unique_ptr<Session> session_;
  PoseModelConfig config_;
  InputContract contract_;
  bool dynamic_w_ = false, dynamic_h_ = false;
  int output_index_ = 0;
};

/// "1,0.75" -> {1, 0.75}; each in (0, 4].
Result<std::vector<float>> parse_scales(const std::string& s);

}  // namespace cvt
