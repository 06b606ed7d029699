#include "tasks/style/gatys.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <tbb/task_arena.h>

#include "autograd/grad_ops.h"
#include "io/onnx/importer.h"
#include "tasks/style/optim.h"

namespace cvt {

std::vector<float> gram_matrix(const Tensor& f) {
  const int64_t c = f.dim(1), m = f.numel() / c;
  std::vector<float> g(size_t(c * c));
  autograd::gemm<float>(c, c, m, f.data<float>(), m, false, f.data<float>(), m, true, g.data(), c, false);
  for (float& v : g) v = float(v / double(m));
  return g;
}

Status default_feature_layers(const Manifest& m, const Graph& g, std::string* content, std::vector<std::string>* style) {
  const nlohmann::json& block = m.raw.is_object() ? m.raw.value("style_features", nlohmann::json()) : nlohmann::json();
  if (block.is_object()) {
    *content = block.value("content", std::string());
    *style = block.value("style", std::vector<std::string>());
    if (!content->empty() && !style->empty()) return Status::ok();
  }
  const std::vector<std::string> acts = autograd::FeatureTape::activation_layers(g);
  if (acts.size() < 2) return invalid_argument("model '" + m.name + "' has no Relu/LeakyRelu layers to take features from; give --layers");
  const size_t n = std::max<size_t>(2, acts.size() * 6 / 10);
  style->clear();
  for (size_t k = 0; k < 5; ++k) {
    const std::string& name = acts[std::min(n - 1, k * (n - 1) / 4)];
    if (style->empty() || style->back() != name) style->push_back(name);
  }
  *content = acts[std::min(acts.size() - 1, n * 3 / 4)];
  return Status::ok();
}

Result<std::unique_ptr<GatysTransfer>> GatysTransfer::create(const ResolvedModel& extractor, const GatysOptions& o) {
  auto t = std::unique_ptr<GatysTransfer>(new GatysTransfer());
  t->opts_ = o;
  if (!extractor.manifest.format.empty() && extractor.manifest.format != "onnx")
    return unsupported("feature extractor '" + extractor.manifest.name + "' has format '" + extractor.manifest.format + "'; it must be ONNX");
  OnnxImportOptions io;
  io.optimize = false;  // keep the file's own ops and layer names
  io.release_packed_weights = false;  // the backward pass reads the weights
  CVT_ASSIGN_OR_RETURN(auto model, import_onnx_file(extractor.model_path, io));
  t->contract_ = extractor.manifest.input;
  if (t->contract_.channels != 3) return invalid_argument("the feature extractor must take a 3-channel image");
  std::string content;
  std::vector<std::string> style;
  CVT_RETURN_IF_ERROR(default_feature_layers(extractor.manifest, *model->graph, &content, &style));
  t->content_layer_ = o.content_layer.empty() ? content : o.content_layer;
  t->style_layers_ = o.style_layers.empty() ? style : o.style_layers;
  t->layers_.push_back(t->content_layer_);
  t->content_index_ = 0;
  for (const std::string& s : t->style_layers_) {
    auto it = std::find(t->layers_.begin(), t->layers_.end(), s);
    if (it == t->layers_.end()) {
      t->style_index_.push_back(int(t->layers_.size()));
      t->layers_.push_back(s);
    } else {
      t->style_index_.push_back(int(it - t->layers_.begin()));
    }
  }
  CVT_ASSIGN_OR_RETURN(t->tape_, autograd::FeatureTape::create(model, t->layers_));
  return t;
}

// x (RGB 0-255, NCHW) -> the extractor's input: channel order, scale, mean, std.
Result<Tensor> GatysTransfer::to_network_input(const std::vector<float>& x) const {
  const int64_t plane = int64_t(width_) * height_;
  if (int64_t(x.size()) != 3 * plane) return invalid_argument("image vector has the wrong size");
  Tensor t(DType::kFloat32, {1, 3, height_, width_});
  const bool bgr = contract_.color == "BGR";
  for (int c = 0; c < 3; ++c) {
    const int src = bgr ? 2 - c : c;
    const float mean = contract_.mean.size() == 3 ? contract_.mean[c] : 0.f, sd = contract_.std.size() == 3 ? contract_.std[c] : 1.f;
    const float* xs = x.data() + src * plane;
    float* d = t.data<float>() + c * plane;
    for (int64_t i = 0; i < plane; ++i) d[i] = (xs[i] * contract_.scale - mean) / sd;
  }
  return t;
}

namespace {

std::vector<float> to_planar(const cv::Mat& rgb) {  // CV_8UC3 / CV_32FC3 RGB -> CHW floats
  cv::Mat f;
  rgb.convertTo(f, CV_32FC3);
  std::vector<float> v(size_t(3) * f.rows * f.cols);
  for (int y = 0; y < f.rows; ++y)
    for (int x = 0; x < f.cols; ++x)
      for (int c = 0; c < 3; ++c) v[(size_t(c) * f.rows + y) * f.cols + x] = f.at<cv::Vec3f>(y, x)[c];
  return v;
}

double mean_sq_diff(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(a[i] - b[i]) * (a[i] - b[i]);
  return s / double(std::max<int64_t>(1, n));
}

}  // namespace

Status GatysTransfer::set_targets(const cv::Mat& content_rgb, const cv::Mat& style_rgb) {
  width_ = content_rgb.cols;
  height_ = content_rgb.rows;
  CVT_ASSIGN_OR_RETURN(Tensor cin, to_network_input(to_planar(content_rgb)));
  CVT_ASSIGN_OR_RETURN(std::vector<Tensor> cf, tape_->forward(cin));
  content_target_ = cf[content_index_].clone();
  const int w = width_, h = height_;
  width_ = style_rgb.cols;
  height_ = style_rgb.rows;
  auto sin = to_network_input(to_planar(style_rgb));
  width_ = w;
  height_ = h;
  if (!sin.is_ok()) return sin.status();
  CVT_ASSIGN_OR_RETURN(std::vector<Tensor> sf, tape_->forward(sin.value()));
  style_grams_.clear();
  for (int idx : style_index_) style_grams_.push_back(gram_matrix(sf[idx]));
  return Status::ok();
}

Result<LossParts> GatysTransfer::evaluate(const std::vector<float>& x, std::vector<float>* grad) {
  CVT_ASSIGN_OR_RETURN(Tensor in, to_network_input(x));
  CVT_ASSIGN_OR_RETURN(std::vector<Tensor> feats, tape_->forward(in));
  LossParts L;
  std::vector<Tensor> dfeats(feats.size());
  auto dbuf = [&](int idx) -> float* {
    if (dfeats[idx].empty_handle()) dfeats[idx] = Tensor(DType::kFloat32, feats[idx].shape());
    return dfeats[idx].data<float>();
  };
  {  // content
    const Tensor& f = feats[content_index_];
    if (f.shape() != content_target_.shape()) return shape_mismatch("content features changed shape");
    const int64_t n = f.numel();
    L.content = mean_sq_diff(f.data<float>(), content_target_.data<float>(), n);
    if (grad && opts_.content_weight != 0) {
      float* d = dbuf(content_index_);
      const float k = float(opts_.content_weight * 2.0 / double(n));
      for (int64_t i = 0; i < n; ++i) d[i] += k * (f.data<float>()[i] - content_target_.data<float>()[i]);
    }
  }
  const double nl = double(style_index_.size());
  for (size_t l = 0; l < style_index_.size(); ++l) {
    const int idx = style_index_[l];
    const Tensor& f = feats[idx];
    const int64_t c = f.dim(1), m = f.numel() / c;
    std::vector<float> g = gram_matrix(f);
    const std::vector<float>& a = style_grams_[l];
    if (g.size() != a.size()) return shape_mismatch("style features changed shape");
    L.style += mean_sq_diff(g.data(), a.data(), int64_t(g.size())) / nl;
    if (grad && opts_.style_weight != 0) {
      // d/dF = 4 / (C^2 M) (G - A) F, scaled by the weight and the layer average.
      const float k = float(opts_.style_weight / nl * 4.0 / (double(c) * c * m));
      for (size_t i = 0; i < g.size(); ++i) g[i] = k * (g[i] - a[i]);
      autograd::gemm<float>(c, m, c, g.data(), c, false, f.data<float>(), m, false, dbuf(idx), m, true);
    }
  }
  // Total variation on x / 255.
  const int64_t W = width_, H = height_, plane = W * H;
  const double inv = 1.0 / (255.0 * 255.0 * double(3 * plane));
  double tv = 0;
  if (grad) grad->assign(x.size(), 0.f);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t xx = 0; xx < W; ++xx) {
        const int64_t i = c * plane + y * W + xx;
        for (int64_t j : {xx + 1 < W ? i + 1 : -1, y + 1 < H ? i + W : -1}) {
          if (j < 0) continue;
          const double d = double(x[j]) - x[i];
          tv += d * d;
          if (grad) {
            const float gk = float(opts_.tv_weight * 2.0 * d * inv);
            (*grad)[j] += gk;
            (*grad)[i] -= gk;
          }
        }
      }
  L.tv = tv * inv;
  L.total = opts_.content_weight * L.content + opts_.style_weight * L.style + opts_.tv_weight * L.tv;
  if (!grad) return L;
  CVT_ASSIGN_OR_RETURN(Tensor dnet, tape_->backward(dfeats));
  // Chain through the input mapping: d net_c / d x_src = scale / std_c.
  const bool bgr = contract_.color == "BGR";
  for (int c = 0; c < 3; ++c) {
    const int src = bgr ? 2 - c : c;
    const float sd = contract_.std.size() == 3 ? contract_.std[c] : 1.f;
    const float k = contract_.scale / sd;
    const float* d = dnet.data<float>() + c * plane;
    float* gx = grad->data() + src * plane;
    for (int64_t i = 0; i < plane; ++i) gx[i] += k * d[i];
  }
  return L;
}

Result<GatysResult> GatysTransfer::run(const cv::Mat& content_bgr, const cv::Mat& style_bgr,
                                       const std::function<void(const GatysStep&)>& progress) {
  if (content_bgr.empty() || style_bgr.empty()) return invalid_argument("empty content or style image");
  cv::Mat content = content_bgr, style = style_bgr;
  if (opts_.max_size > 0 && std::max(content.cols, content.rows) > opts_.max_size) {
    const double f = double(opts_.max_size) / std::max(content.cols, content.rows);
    cv::resize(content_bgr, content, cv::Size(std::max(16, int(std::lround(content.cols * f))), std::max(16, int(std::lround(content.rows * f)))), 0, 0, cv::INTER_AREA);
  }
  // The style image at the content's scale (longest sides equal).
  const double sf = double(std::max(content.cols, content.rows)) / std::max(style.cols, style.rows);
  cv::resize(style_bgr, style, cv::Size(std::max(16, int(std::lround(style.cols * sf))), std::max(16, int(std::lround(style.rows * sf)))), 0, 0,
             sf < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::cvtColor(content, content, cv::COLOR_BGR2RGB);
  cv::cvtColor(style, style, cv::COLOR_BGR2RGB);

  GatysResult result;
  result.content_layer = content_layer_;
  result.style_layers = style_layers_;
  Status st;
  tbb::task_arena arena(opts_.threads > 0 ? opts_.threads : tbb::task_arena::automatic);
  arena.execute([&] {
    st = set_targets(content, style);
    if (!st.is_ok()) return;
    std::vector<float> x = to_planar(content);
    LossParts last;
    Objective f = [&](const std::vector<float>& v, std::vector<float>& g) -> Result<double> {
      CVT_ASSIGN_OR_RETURN(last, evaluate(v, &g));
      return last.total;
    };
    std::vector<float> g0;
    auto l0 = evaluate(x, &g0);
    if (!l0.is_ok()) {
      st = l0.status();
      return;
    }
    result.history.push_back({0, l0.value(), 1});
    if (progress) progress(result.history.back());
    StepCallback on_step = [&](int it, double, int evals) {
      result.history.push_back({it, last, evals});
      if (progress) progress(result.history.back());
    };
    if (opts_.optimizer == "adam") {
      AdamOptions ao;
      ao.iterations = opts_.iterations;
      ao.learning_rate = opts_.learning_rate;
      st = minimize_adam(x, f, ao, on_step);
    } else if (opts_.optimizer == "lbfgs") {
      LbfgsOptions lo;
      lo.iterations = opts_.iterations;
      st = minimize_lbfgs(x, f, lo, on_step);
    } else {
      st = invalid_argument("optimizer must be lbfgs or adam, got '" + opts_.optimizer + "'");
    }
    if (!st.is_ok()) return;
    cv::Mat out(height_, width_, CV_8UC3);
    const int64_t plane = int64_t(width_) * height_;
    for (int y = 0; y < height_; ++y)
      for (int xx = 0; xx < width_; ++xx)
        for (int c = 0; c < 3; ++c)  // RGB planes -> BGR pixels
          out.at<cv::Vec3b>(y, xx)[2 - c] = cv::saturate_cast<uchar>(x[c * plane + int64_t(y) * width_ + xx]);
    result.image = out;
  });
  CVT_RETURN_IF_ERROR(st);
  return result;
}

}  // namespace cvt
