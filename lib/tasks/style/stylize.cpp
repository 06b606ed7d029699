#include "tasks/style/stylize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "io/onnx/importer.h"
#include "ops/norm.h"

namespace cvt {

using Clock = std::chrono::steady_clock;
static double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Instance-norm statistics shared by the wrapped InstanceNormalization kernels:
// kLive runs the engine's kernel, kRecord also stores each node's per-channel
// mean and 1/std, kFixed normalises with the stored ones instead of the tile's own.
struct Stylizer::StatsBook {
  enum class Mode { kLive, kRecord, kFixed } mode = Mode::kLive;
  std::vector<std::vector<float>> mean, inv_std;  // per wrapped node, C values
};

namespace {

class StatsInstanceNorm final : public Kernel {
 public:
  StatsInstanceNorm(std::unique_ptr<Kernel> engine, std::shared_ptr<Stylizer::StatsBook> book, int slot, double eps)
      : engine_(std::move(engine)), book_(std::move(book)), slot_(slot), eps_(eps) {}
  std::string impl_name() const override { return "style_stats_" + engine_->impl_name(); }

  Status run(KernelContext& ctx) override {
    using Mode = Stylizer::StatsBook::Mode;
    if (book_->mode == Mode::kLive) return engine_->run(ctx);
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (!x || !scale || !bias || x->dtype() != DType::kFloat32 || x->rank() < 3 || x->dim(0) != 1)
      return invalid_argument("style network: InstanceNormalization needs a float32 (1, C, ...) input");
    const int64_t c = x->dim(1), plane = x->numel() / c;
    std::vector<float> sf = scale->to_float_vector(), bf = bias->to_float_vector();
    if (int64_t(sf.size()) != c || int64_t(bf.size()) != c) return shape_mismatch("InstanceNormalization: scale/B size differs from channels");
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x->shape()));
    auto& mean = book_->mean[slot_];
    auto& inv_std = book_->inv_std[slot_];
    if (book_->mode == Mode::kRecord) {
      std::vector<double> s(sf.begin(), sf.end()), b(bf.begin(), bf.end());
      GroupNormSpec spec{c, plane, c, 1, std::max<int64_t>(1, plane), s.data(), b.data(), eps_};
      mean.assign(size_t(c), 0.f);
      inv_std.assign(size_t(c), 0.f);
      group_norm_fast(spec, *x, *y, mean.data(), inv_std.data());
      return Status::ok();
    }
    if (int64_t(mean.size()) != c) return internal_error("style tiles: no recorded statistics for this layer");
    std::vector<double> a(static_cast<size_t>(c)), sh(static_cast<size_t>(c));
    for (int64_t k = 0; k < c; ++k) {
      a[k] = double(sf[k]) * inv_std[k];
      sh[k] = bf[k] - double(mean[k]) * a[k];
    }
    BatchNormParams bn;  // y = x * a + sh as an inference BatchNorm (scale a, bias sh, mean 0, var 1 - eps)
    bn.scale = a;
    bn.bias = sh;
    bn.mean.assign(size_t(c), 0.0);
    bn.var.assign(size_t(c), 1.0);
    bn.epsilon = 0.0;
    batchnorm_fast(bn, ChannelLayout{1, c, plane}, *x, *y);
    return Status::ok();
  }

 private:
  std::unique_ptr<Kernel> engine_;
  std::shared_ptr<Stylizer::StatsBook> book_;
  int slot_;
  double eps_;
};

Tensor to_tensor(const cv::Mat& rgb) {  // CV_32FC3 -> (1, 3, H, W)
  Tensor t(DType::kFloat32, {1, 3, rgb.rows, rgb.cols});
  std::vector<cv::Mat> planes;
  for (int c = 0; c < 3; ++c) planes.emplace_back(rgb.rows, rgb.cols, CV_32F, t.data<float>() + int64_t(c) * rgb.rows * rgb.cols);
  cv::split(rgb, planes);
  return t;
}

}  // namespace

std::vector<int> tile_starts(int length, int tile, int overlap) {
  std::vector<int> s;
  if (length <= tile) return {0};
  const int step = std::max(4, (tile - overlap) / 4 * 4);
  for (int x = 0; x + tile < length; x += step) s.push_back(x);
  s.push_back(length - tile);
  return s;
}

float tile_weight(int u, int size, int overlap, bool before, bool after) {
  const float m = overlap / 4.f, ramp = std::max(1.f, overlap - 2 * m);
  auto w = [&](float d) { return std::clamp((d - m) / ramp, 0.f, 1.f); };
  float r = 1.f;
  if (before) r = std::min(r, w(u + 0.5f));
  if (after) r = std::min(r, w(size - u - 0.5f));
  return r;
}

Stylizer::~Stylizer() = default;

Result<std::unique_ptr<Stylizer>> Stylizer::create(const ResolvedModel& model, const SessionOptions& opts) {
  auto s = std::unique_ptr<Stylizer>(new Stylizer());
  if (!model.manifest.format.empty() && model.manifest.format != "onnx")
    return unsupported("style model '" + model.manifest.name + "' has format '" + model.manifest.format + "'; style networks are ONNX");
  CVT_ASSIGN_OR_RETURN(auto m, import_onnx_file(model.model_path));
  Graph& g = *m->graph;
  if (g.inputs.size() != 1 || g.outputs.empty()) return invalid_argument("a style network has one input and one output");
  s->book_ = std::make_shared<StatsBook>();
  for (Node& n : g.nodes) {
    if (n.desc.op_type != "InstanceNormalization") continue;
    const int slot = int(s->book_->mean.size());
    s->book_->mean.emplace_back();
    s->book_->inv_std.emplace_back();
    n.kernel = std::make_unique<StatsInstanceNorm>(std::move(n.kernel), s->book_, slot, n.desc.attrs.get_float("epsilon", 1e-5f));
  }
  CVT_ASSIGN_OR_RETURN(s->session_, Session::create(m, opts));
  return s;
}

Result<Tensor> Stylizer::run_network(const Tensor& rgb) {
  if (rgb.dtype() != DType::kFloat32 || rgb.rank() != 4 || rgb.dim(0) != 1 || rgb.dim(1) != 3)
    return invalid_argument("style network input must be float32 (1, 3, H, W), got " + shape_str(rgb.shape()));
  CVT_ASSIGN_OR_RETURN(std::vector<Tensor> outs, session_->run({rgb}));
  const Tensor& y = outs[0];
  if (y.dtype() != DType::kFloat32 || y.rank() != 4 || y.dim(1) != 3)
    return invalid_argument("style network output must be float32 (1, 3, H, W), got " + shape_str(y.shape()));
  return y;
}

Result<cv::Mat> Stylizer::run_rgb(const cv::Mat& rgb) {
  CVT_ASSIGN_OR_RETURN(Tensor y, run_network(to_tensor(rgb)));
  if (y.dim(2) < rgb.rows || y.dim(3) < rgb.cols)
    return invalid_argument("style network output " + shape_str(y.shape()) + " is smaller than its input");
  const int h = int(y.dim(2)), w = int(y.dim(3));
  std::vector<cv::Mat> planes;
  for (int c = 0; c < 3; ++c) planes.push_back(cv::Mat(h, w, CV_32F, y.data<float>() + int64_t(c) * h * w)(cv::Rect(0, 0, rgb.cols, rgb.rows)));
  cv::Mat out;
  cv::merge(planes, out);
  return out;
}

Result<cv::Mat> Stylizer::run_tiled(const cv::Mat& rgb, const StylizeOptions& o, StylizeInfo* info) {
  // 1. Statistics of every instance norm from one pass over the downscaled whole image.
  auto t0 = Clock::now();
  const double f = std::min(1.0, double(std::max(64, o.stats_size)) / std::max(rgb.cols, rgb.rows));
  const int sw = std::max(4, int(std::lround(rgb.cols * f / 4)) * 4), sh = std::max(4, int(std::lround(rgb.rows * f / 4)) * 4);
  cv::Mat small;
  cv::resize(rgb, small, cv::Size(sw, sh), 0, 0, cv::INTER_AREA);
  book_->mode = StatsBook::Mode::kRecord;
  auto rec = run_rgb(small);
  book_->mode = StatsBook::Mode::kFixed;
  if (!rec.is_ok()) {
    book_->mode = StatsBook::Mode::kLive;
    return rec.status();
  }
  if (info) info->stats_ms = ms_since(t0);
  // 2. Tiles with those statistics, blended by their ramp weights.
  const int tile = std::max(64, o.tile / 4 * 4), overlap = std::clamp(o.overlap / 4 * 4, 8, tile / 2);
  const std::vector<int> xs = tile_starts(rgb.cols, tile, overlap), ys = tile_starts(rgb.rows, tile, overlap);
  cv::Mat acc(rgb.size(), CV_32FC3, cv::Scalar::all(0)), wsum(rgb.size(), CV_32F, cv::Scalar(0));
  Status st;
  for (size_t iy = 0; iy < ys.size() && st.is_ok(); ++iy)
    for (size_t ix = 0; ix < xs.size() && st.is_ok(); ++ix) {
      const cv::Rect r(xs[ix], ys[iy], std::min(tile, rgb.cols), std::min(tile, rgb.rows));
      auto out = run_rgb(rgb(r).clone());
      if (!out.is_ok()) {
        st = out.status();
        break;
      }
      const cv::Mat& y = out.value();
      for (int v = 0; v < r.height; ++v) {
        const float wy = tile_weight(v, r.height, overlap, iy > 0, iy + 1 < ys.size());
        const cv::Vec3f* src = y.ptr<cv::Vec3f>(v);
        cv::Vec3f* dst = acc.ptr<cv::Vec3f>(r.y + v) + r.x;
        float* ws = wsum.ptr<float>(r.y + v) + r.x;
        for (int u = 0; u < r.width; ++u) {
          const float w = wy * tile_weight(u, r.width, overlap, ix > 0, ix + 1 < xs.size());
          dst[u] += w * src[u];
          ws[u] += w;
        }
      }
    }
  book_->mode = StatsBook::Mode::kLive;
  CVT_RETURN_IF_ERROR(st);
  for (int v = 0; v < acc.rows; ++v) {
    cv::Vec3f* a = acc.ptr<cv::Vec3f>(v);
    const float* ws = wsum.ptr<float>(v);
    for (int u = 0; u < acc.cols; ++u) a[u] *= ws[u] > 0 ? 1.f / ws[u] : 0.f;
  }
  if (info) {
    info->tiles = int(xs.size() * ys.size());
    info->tile_size = tile;
  }
  return acc;
}

Result<cv::Mat> Stylizer::stylize(const cv::Mat& bgr, const StylizeOptions& o, StylizeInfo* info) {
  if (bgr.empty() || bgr.type() != CV_8UC3) return invalid_argument("stylize needs an 8-bit 3-channel image");
  if (!(o.strength >= 0.f && o.strength <= 1.f)) return invalid_argument("strength must be in [0, 1]");
  cv::Mat content = bgr;
  if (o.max_size > 0 && std::max(bgr.cols, bgr.rows) > o.max_size) {
    const double f = double(o.max_size) / std::max(bgr.cols, bgr.rows);
    cv::resize(bgr, content, cv::Size(std::max(1, int(std::lround(bgr.cols * f))), std::max(1, int(std::lround(bgr.rows * f)))), 0, 0,
               cv::INTER_AREA);
  }
  cv::Mat rgb;
  cv::cvtColor(content, rgb, cv::COLOR_BGR2RGB);
  rgb.convertTo(rgb, CV_32FC3);
  // Pad to the network's stride (4) by reflection; the output is cropped back.
  const int pw = (4 - rgb.cols % 4) % 4, ph = (4 - rgb.rows % 4) % 4;
  cv::Mat padded;
  cv::copyMakeBorder(rgb, padded, 0, ph, 0, pw, rgb.cols > 1 && rgb.rows > 1 ? cv::BORDER_REFLECT_101 : cv::BORDER_REPLICATE);
  const int64_t pixels = int64_t(padded.cols) * padded.rows;
  const bool fits = pixels * kStyleBytesPerPixel <= o.max_memory_mb * (int64_t(1) << 20);
  const bool tiled = o.tile > 0 ? std::max(padded.cols, padded.rows) > o.tile : (o.tile == 0 && !fits);
  StylizeOptions eff = o;
  if (tiled && eff.tile <= 0) {  // the largest square tile the budget allows
    const int64_t max_px = o.max_memory_mb * (int64_t(1) << 20) / kStyleBytesPerPixel;
    eff.tile = std::max(256, int(std::sqrt(double(max_px))) / 4 * 4);
  }
  auto t0 = Clock::now();
  cv::Mat out;
  if (tiled) {
    CVT_ASSIGN_OR_RETURN(out, run_tiled(padded, eff, info));
  } else {
    book_->mode = StatsBook::Mode::kLive;
    CVT_ASSIGN_OR_RETURN(out, run_rgb(padded));
  }
  if (info) info->infer_ms = ms_since(t0);
  out = out(cv::Rect(0, 0, rgb.cols, rgb.rows));
  if (o.strength < 1.f) cv::addWeighted(out, o.strength, rgb, 1.f - o.strength, 0.0, out);
  cv::Mat result;
  out.convertTo(result, CV_8UC3);  // rounds and saturates to 0-255
  cv::cvtColor(result, result, cv::COLOR_RGB2BGR);
  if (info) {
    info->width = result.cols;
    info->height = result.rows;
  }
  return result;
}

}  // namespace cvt
