#include "tasks/style/stylize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "io/onnx/importer.h"
#include "core/parallel.h"
#include "ops/norm.h"

namespace cvt {

using Clock = std::chrono::steady_clock;
static double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Instance-norm statistics shared by the wrapped InstanceNormalization kernels.
// kLive runs the engine's kernel. kAccumulate normalises with the fixed
// statistics when there are some (else with the input's own) and adds the
// moments of a core region (in full-resolution input coordinates, scaled to
// each layer) to per-channel sums; finalize() turns the sums into the fixed
// statistics. kFixed only applies them. (Pooling the statistics of tiles that
// normalised with their own was measured worse than one downscaled pass: the
// layers' statistics must come from one coherent run.)
struct Stylizer::StatsBook {
  enum class Mode { kLive, kAccumulate, kFixed } mode = Mode::kLive;
  bool have_fixed = false;
  std::vector<double> eps;                          // per wrapped node
  std::vector<std::vector<float>> mean, inv_std;    // fixed statistics, C values per node
  std::vector<std::vector<double>> sum, sumsq;      // accumulated moments
  std::vector<double> count;
  int tile_w = 0, tile_h = 0, core_x0 = 0, core_x1 = 0, core_y0 = 0, core_y1 = 0;

  void reset_sums() {
    for (auto& v : sum) v.clear();
    for (auto& v : sumsq) v.clear();
    std::fill(count.begin(), count.end(), 0.0);
  }
  void finalize() {
    for (size_t k = 0; k < sum.size(); ++k) {
      const size_t c = sum[k].size();
      mean[k].assign(c, 0.f);
      inv_std[k].assign(c, 0.f);
      for (size_t i = 0; i < c && count[k] > 0; ++i) {
        const double m = sum[k][i] / count[k], var = std::max(0.0, sumsq[k][i] / count[k] - m * m);
        mean[k][i] = float(m);
        inv_std[k][i] = float(1.0 / std::sqrt(var + eps[k]));
      }
    }
    have_fixed = true;
  }
};

namespace {

class StatsInstanceNorm final : public Kernel {
 public:
  StatsInstanceNorm(std::unique_ptr<Kernel> engine, std::shared_ptr<Stylizer::StatsBook> book, int slot)
      : engine_(std::move(engine)), book_(std::move(book)), slot_(slot) {}
  std::string impl_name() const override { return "style_stats_" + engine_->impl_name(); }

  Status run(KernelContext& ctx) override {
    using Mode = Stylizer::StatsBook::Mode;
    Stylizer::StatsBook& b = *book_;
    if (b.mode == Mode::kLive) return engine_->run(ctx);
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    if (!x || !scale || !bias || x->dtype() != DType::kFloat32 || x->rank() != 4 || x->dim(0) != 1)
      return invalid_argument("style network: InstanceNormalization needs a float32 (1, C, H, W) input");
    const int64_t c = x->dim(1), h = x->dim(2), w = x->dim(3), plane = h * w;
    std::vector<float> sf = scale->to_float_vector(), bf = bias->to_float_vector();
    if (int64_t(sf.size()) != c || int64_t(bf.size()) != c) return shape_mismatch("InstanceNormalization: scale/B size differs from channels");
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, DType::kFloat32, x->shape()));
    if (b.mode == Mode::kAccumulate) accumulate(*x, c, h, w);
    if (!b.have_fixed) {  // the tile's own statistics, as the engine computes them
      std::vector<double> s(sf.begin(), sf.end()), bb(bf.begin(), bf.end());
      GroupNormSpec spec{c, plane, c, 1, std::max<int64_t>(1, plane), s.data(), bb.data(), b.eps[slot_]};
      group_norm_fast(spec, *x, *y, nullptr, nullptr);
      return Status::ok();
    }
    const auto& mean = b.mean[slot_];
    const auto& inv_std = b.inv_std[slot_];
    if (int64_t(mean.size()) != c) return internal_error("style tiles: no statistics for this layer");
    BatchNormParams bn;  // y = x * a + shift as an inference BatchNorm with mean 0, var 1, eps 0
    for (int64_t k = 0; k < c; ++k) {
      const double a = double(sf[k]) * inv_std[k];
      bn.scale.push_back(a);
      bn.bias.push_back(bf[k] - double(mean[k]) * a);
    }
    bn.mean.assign(size_t(c), 0.0);
    bn.var.assign(size_t(c), 1.0);
    bn.epsilon = 0.0;
    batchnorm_fast(bn, ChannelLayout{1, c, plane}, *x, *y);
    return Status::ok();
  }

 private:
  // Moments of the core region; the layer is (h, w) for a tile of (tile_h, tile_w).
  void accumulate(const Tensor& x, int64_t c, int64_t h, int64_t w) {
    Stylizer::StatsBook& b = *book_;
    auto& sum = b.sum[slot_];
    auto& sumsq = b.sumsq[slot_];
    if (sum.empty()) {
      sum.assign(size_t(c), 0.0);
      sumsq.assign(size_t(c), 0.0);
    }
    const int64_t y0 = b.core_y0 * h / b.tile_h, y1 = b.core_y1 * h / b.tile_h;
    const int64_t x0 = b.core_x0 * w / b.tile_w, x1 = b.core_x1 * w / b.tile_w;
    const float* xp = x.data<float>();
    parallel_for(0, c, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) {
        double s = 0, s2 = 0;
        for (int64_t yy = y0; yy < y1; ++yy)
          for (int64_t xx = x0; xx < x1; ++xx) {
            const double v = xp[(k * h + yy) * w + xx];
            s += v;
            s2 += v * v;
          }
        sum[k] += s;
        sumsq[k] += s2;
      }
    });
    b.count[slot_] += double(std::max<int64_t>(0, y1 - y0) * std::max<int64_t>(0, x1 - x0));
  }

  std::unique_ptr<Kernel> engine_;
  std::shared_ptr<Stylizer::StatsBook> book_;
  int slot_;
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
  CVT_ASSIGN_OR_RETURN(auto m, import_onnx_file(model.model_path, import_options_for_reference(opts.use_reference)));
  Graph& g = *m->graph;
  if (g.inputs.size() != 1 || g.outputs.empty()) return invalid_argument("a style network has one input and one output");
  s->book_ = std::make_shared<StatsBook>();
  for (Node& n : g.nodes) {
    if (n.desc.op_type != "InstanceNormalization") continue;
    StatsBook& b = *s->book_;
    const int slot = int(b.mean.size());
    b.mean.emplace_back();
    b.inv_std.emplace_back();
    b.sum.emplace_back();
    b.sumsq.emplace_back();
    b.count.push_back(0.0);
    b.eps.push_back(n.desc.attrs.get_float("epsilon", 1e-5f));
    n.kernel = std::make_unique<StatsInstanceNorm>(std::move(n.kernel), s->book_, slot);
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
  StatsBook& book = *book_;
  book.have_fixed = false;
  book.reset_sums();
  struct Restore {  // the next untiled run must see the engine's kernel again
    StatsBook& b;
    ~Restore() { b.mode = StatsBook::Mode::kLive, b.have_fixed = false; }
  } restore{book};
  auto t0 = Clock::now();
  if (o.stats_size >= 0) {
    // One pass over the whole image, downscaled to what the memory budget
    // allows (or to stats_size): every tile then normalises with its statistics.
    const double budget_px = double(o.max_memory_mb) * (1 << 20) / kStyleBytesPerPixel;
    double f = std::min(1.0, std::sqrt(budget_px / (double(rgb.cols) * rgb.rows)));
    if (o.stats_size > 0) f = std::min(1.0, double(std::max(64, o.stats_size)) / std::max(rgb.cols, rgb.rows));
    const int sw = std::max(4, int(rgb.cols * f / 4) * 4), sh = std::max(4, int(rgb.rows * f / 4) * 4);
    cv::Mat small = rgb;
    if (sw != rgb.cols || sh != rgb.rows) cv::resize(rgb, small, cv::Size(sw, sh), 0, 0, cv::INTER_AREA);
    book.mode = StatsBook::Mode::kAccumulate;
    book.tile_w = book.core_x1 = sw;
    book.tile_h = book.core_y1 = sh;
    book.core_x0 = book.core_y0 = 0;
    CVT_RETURN_IF_ERROR(run_rgb(small).status());
    book.finalize();
    if (info) info->stats_size = std::max(sw, sh);
  }
  if (info) info->stats_ms = ms_since(t0);
  // Tiles, blended by their ramp weights (without statistics: each tile its own).
  book.mode = book.have_fixed ? StatsBook::Mode::kFixed : StatsBook::Mode::kAccumulate;
  const int tile = std::max(64, o.tile / 4 * 4), overlap = std::clamp(o.overlap / 4 * 4, 8, tile / 2);
  const std::vector<int> xs = tile_starts(rgb.cols, tile, overlap), ys = tile_starts(rgb.rows, tile, overlap);
  cv::Mat acc(rgb.size(), CV_32FC3, cv::Scalar::all(0)), wsum(rgb.size(), CV_32F, cv::Scalar(0));
  for (size_t iy = 0; iy < ys.size(); ++iy)
    for (size_t ix = 0; ix < xs.size(); ++ix) {
      const cv::Rect r(xs[ix], ys[iy], std::min(tile, rgb.cols), std::min(tile, rgb.rows));
      book.tile_w = book.core_x1 = r.width;
      book.tile_h = book.core_y1 = r.height;
      CVT_ASSIGN_OR_RETURN(cv::Mat y, run_rgb(rgb(r).clone()));
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
    eff.tile = std::clamp(int(std::sqrt(double(max_px) / 2)) / 4 * 4, 256, 1024);
  }
  auto t0 = Clock::now();
  cv::Mat out;
  if (tiled) {
    CVT_ASSIGN_OR_RETURN(out, run_tiled(padded, eff, info));
  } else {
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
