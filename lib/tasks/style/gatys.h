// Style transfer by optimisation (Gatys et al. 2015) on cvtool's own engine:
// the image is optimised so that its features on one layer of a classifier
// match the content image's, and the Gram matrices of its features on several
// layers match the style image's, with a total-variation smoothness term.
// Gradients come from autograd::FeatureTape (lib/autograd).
//
// Losses (F: C x M features of a layer, M = H * W; x: the image in 0-255 RGB):
//   content = mean((F - F_content)^2)
//   style   = mean over layers of mean((G - G_style)^2), G = F F^T / M
//   tv      = sum of squared neighbour differences of x / 255, over numel(x)
//   total   = content_weight * content + style_weight * style + tv_weight * tv
#pragma once
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "autograd/tape.h"
#include "models/registry.h"

namespace cvt {

struct GatysOptions {
  std::string content_layer;              // "" = the extractor's default
  std::vector<std::string> style_layers;  // empty = the extractor's default
  double content_weight = 1.0, style_weight = 1e3, tv_weight = 1.0;
  int iterations = 50;
  std::string optimizer = "lbfgs";        // lbfgs | adam
  double learning_rate = 2.0;             // adam, pixels per step
  int max_size = 256;                     // bound on the longest side of the result
  int threads = 0;                        // 0 = all cores
};

struct LossParts {
  double total = 0, content = 0, style = 0, tv = 0;
};

struct GatysStep {
  int iteration = 0;  // 0 = the starting image
  LossParts loss;
  int evaluations = 0;
};

struct GatysResult {
  cv::Mat image;  // 8-bit BGR
  std::vector<GatysStep> history;
  std::string content_layer;
  std::vector<std::string> style_layers;
};

/// Default feature layers of an extractor: its manifest's "style_features"
/// block when present, else activation outputs spread over its first 60%.
Status default_feature_layers(const Manifest& m, const Graph& g, std::string* content, std::vector<std::string>* style);

class GatysTransfer {
 public:
  /// `extractor`: any ONNX classifier (imported unoptimised for the tape).
  static Result<std::unique_ptr<GatysTransfer>> create(const ResolvedModel& extractor, const GatysOptions& o);
  /// Starts from the content image; progress is called after every iteration.
  Result<GatysResult> run(const cv::Mat& content_bgr, const cv::Mat& style_bgr,
                          const std::function<void(const GatysStep&)>& progress);
  /// Loss and d(loss)/d(image) at `x` ((1, 3, H, W) RGB 0-255 as a flat vector), for tests.
  Result<LossParts> evaluate(const std::vector<float>& x, std::vector<float>* grad);
  /// Sets the targets (content features, style Gram matrices) for an image of w x h.
  Status set_targets(const cv::Mat& content_rgb, const cv::Mat& style_rgb);

 private:
  GatysTransfer() = default;
  Result<Tensor> to_network_input(const std::vector<float>& x) const;

  GatysOptions opts_;
  InputContract contract_;
  std::unique_ptr<autograd::FeatureTape> tape_;
  std::vector<std::string> layers_;  // tape targets: content layer first, then style layers
  std::string content_layer_;
  std::vector<std::string> style_layers_;
  int content_index_ = 0;
  std::vector<int> style_index_;
  Tensor content_target_;
  std::vector<std::vector<float>> style_grams_;
  int width_ = 0, height_ = 0;
};

/// Gram matrix F F^T / M of a (1, C, H, W) feature map (C x C, row-major).
std::vector<float> gram_matrix(const Tensor& features);

}  // namespace cvt
