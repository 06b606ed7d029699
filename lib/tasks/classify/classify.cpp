#include "tasks/classify/classify.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "io/onnx/importer.h"
#include "tasks/common/labels.h"
#include "tasks/common/preprocess.h"

namespace cvt {

using Clock = std::chrono::steady_clock;
static double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

void softmax_inplace(float* v, int n) {
  if (n <= 0) return;
  float mx = *std::max_element(v, v + n);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(double(v[i]) - mx);
  for (int i = 0; i < n; ++i) v[i] = float(std::exp(double(v[i]) - mx) / sum);
}

std::vector<ClassScore> top_k(const float* scores, int n, int k, const std::vector<std::string>& labels) {
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, n);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  });
  std::vector<ClassScore> out;
  for (int i = 0; i < k; ++i)
    out.push_back({idx[i], idx[i] < int(labels.size()) ? labels[idx[i]] : std::to_string(idx[i]), scores[idx[i]]});
  return out;
}

Result<std::unique_ptr<Classifier>> Classifier::create(const ResolvedModel& model, const SessionOptions& opts) {
  auto c = std::unique_ptr<Classifier>(new Classifier());
  if (model.manifest.format != "onnx")
    return unsupported("model '" + model.manifest.name + "' has format '" + model.manifest.format + "'; classify runs ONNX models");
  CVT_ASSIGN_OR_RETURN(auto m, import_onnx_file(model.model_path, import_options_for_reference(opts.use_reference)));
  CVT_ASSIGN_OR_RETURN(c->session_, Session::create(m, opts));
  const Graph& g = c->session_->graph();
  if (g.inputs.size() != 1) return invalid_argument("classify needs a model with one input; this one has " + std::to_string(g.inputs.size()));
  c->contract_ = model.manifest.input;
  const ValueInfo& in = g.inputs[0];
  // Fill what a bare model file does not say from its declared input shape.
  if (in.has_shape && in.shape.size() == 4) {
    bool nchw = c->contract_.layout == "NCHW";
    int64_t ch = nchw ? in.shape[1] : in.shape[3];
    int64_t h = nchw ? in.shape[2] : in.shape[2 - 1];
    int64_t w = nchw ? in.shape[3] : in.shape[2];
    if (!model.from_manifest) {
      c->contract_.channels = ch > 0 ? int(ch) : 3;
      if (c->contract_.channels == 1) {
        c->contract_.color = "GRAY";
        c->contract_.mean = {0};
        c->contract_.std = {1};
      }
    }
    if (c->contract_.width == 0 && w > 0) c->contract_.width = int(w);
    if (c->contract_.height == 0 && h > 0) c->contract_.height = int(h);
    // The manifest and the file must agree: a mismatch is a broken manifest.
    if ((w > 0 && w != c->contract_.width) || (h > 0 && h != c->contract_.height) || (ch > 0 && ch != c->contract_.channels))
      return invalid_argument("model input '" + in.name + "' has shape " + shape_str(in.shape) + " but the manifest says " +
                              std::to_string(c->contract_.channels) + "x" + std::to_string(c->contract_.height) + "x" +
                              std::to_string(c->contract_.width));
  }
  if (!model.manifest.output_name.empty()) {
    auto it = std::find_if(g.outputs.begin(), g.outputs.end(), [&](const ValueInfo& v) { return v.name == model.manifest.output_name; });
    if (it == g.outputs.end()) return invalid_argument("model has no output named '" + model.manifest.output_name + "'");
    c->output_index_ = int(it - g.outputs.begin());
  }
  c->output_is_probability_ = model.manifest.output_is_probability;
  if (!model.manifest.inline_labels.empty()) c->labels_ = model.manifest.inline_labels;
  std::string labels_path = model.path_for_role("labels");
  if (!labels_path.empty()) {
    CVT_ASSIGN_OR_RETURN(c->labels_, load_labels(labels_path));
  }
  return c;
}

Result<std::vector<ClassScore>> Classifier::classify(const cv::Mat& bgr, int topk, StageTimes* times) {
  auto t0 = Clock::now();
  CVT_ASSIGN_OR_RETURN(Tensor input, preprocess_image(bgr, contract_, 0, 0, nullptr));
  auto t1 = Clock::now();
  CVT_ASSIGN_OR_RETURN(std::vector<Tensor> outs, session_->run({input}));
  auto t2 = Clock::now();
  const Tensor& out = outs[output_index_];
  if (out.dtype() != DType::kFloat32) return invalid_argument("classifier output must be float32");
  const int n = int(out.numel());
  if (n <= 0) return invalid_argument("classifier output is empty");
  std::vector<float> scores(out.data<float>(), out.data<float>() + n);
  // Softmax unless the model already ends in one (scores non-negative and summing to 1).
  bool is_prob = output_is_probability_;
  if (!is_prob) {
    double sum = 0;
    bool nonneg = true;
    for (float v : scores) {
      sum += v;
      nonneg = nonneg && v >= 0;
    }
    is_prob = nonneg && std::fabs(sum - 1.0) < 1e-3;
  }
  if (!is_prob) softmax_inplace(scores.data(), n);
  auto result = top_k(scores.data(), n, topk, labels_);
  if (times) {
    times->pre = std::chrono::duration<double, std::milli>(t1 - t0).count();
    times->infer = std::chrono::duration<double, std::milli>(t2 - t1).count();
    times->post = ms_since(t2);
  }
  return result;
}

}  // namespace cvt
