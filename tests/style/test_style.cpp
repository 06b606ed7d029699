// Style transfer: the feature tape against finite differences on a real
// classifier, the Gatys losses and optimiser, the feed-forward networks
// against ONNX Runtime, tiling, and the CLI's errors.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "autograd/tape.h"
#include "cli_util.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/onnx/importer.h"
#include "models/registry.h"
#include "tasks/style/gatys.h"
#include "tasks/style/stylize.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::testing;

namespace {

std::string tiny_darknet_path() { return mirror_dir() + "/classify/tiny_darknet_from_ml5.onnx"; }
std::string style_path(const std::string& s) { return mirror_dir() + "/style/ml5_" + s + ".onnx"; }

ResolvedModel resolved_from(const std::string& manifest, const std::string& file) {
  ResolvedModel r;
  auto m = load_manifest(std::string(CVTOOL_SOURCE_DIR) + "/models/" + manifest + ".json");
  REQUIRE(m.is_ok());
  r.manifest = m.value();
  r.model_path = file;
  r.from_manifest = true;
  return r;
}

cv::Mat test_image(const std::string& name, int w, int h) {
  auto img = load_image(shared_dir() + "/data/images/" + name);
  REQUIRE(img.is_ok());
  cv::Mat out;
  cv::resize(img.value(), out, cv::Size(w, h), 0, 0, cv::INTER_AREA);
  return out;
}

double dotf(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

}  // namespace

TEST_CASE("feature tape gradient matches a directional finite difference on Tiny Darknet", "[autograd][style]") {
  if (!exists(tiny_darknet_path())) SKIP("no Tiny Darknet in the mirror");
  OnnxImportOptions io;
  io.optimize = false;
  const std::vector<std::string> layers{"leaky_re_lu_2", "leaky_re_lu_4", "max_pooling2d_2"};
  {  // weights freed after packing: a clear error, not a crash
    auto packed = import_onnx_file(tiny_darknet_path(), io);
    REQUIRE(packed.is_ok());
    auto refused = autograd::FeatureTape::create(packed.value(), layers);
    REQUIRE_FALSE(refused.is_ok());
    CHECK_THAT(refused.status().message(), Catch::Contains("freed after packing"));
  }
  io.release_packed_weights = false;
  auto model = import_onnx_file(tiny_darknet_path(), io);
  REQUIRE(model.is_ok());
  auto tape = autograd::FeatureTape::create(model.value(), layers);
  REQUIRE(tape.is_ok());
  Tensor x = random_tensor({1, 3, 24, 20}, 1, 0.f, 1.f);
  auto feats = tape.value()->forward(x);
  REQUIRE(feats.is_ok());
  // loss = sum_l sum(r_l * F_l): d loss / d F_l = r_l.
  std::vector<Tensor> r;
  for (size_t l = 0; l < layers.size(); ++l) r.push_back(random_tensor(feats.value()[l].shape(), 10 + uint32_t(l)));
  auto loss = [&](const Tensor& in) {
    auto f = tape.value()->forward(in);
    REQUIRE(f.is_ok());
    double s = 0;
    for (size_t l = 0; l < layers.size(); ++l)
      for (int64_t i = 0; i < r[l].numel(); ++i) s += double(r[l].data<float>()[i]) * f.value()[l].data<float>()[i];
    return s;
  };
  auto grad = tape.value()->backward(r);
  REQUIRE(grad.is_ok());
  Tensor v = random_tensor(x.shape(), 3);
  double analytic = 0;
  for (int64_t i = 0; i < v.numel(); ++i) analytic += double(grad.value().data<float>()[i]) * v.data<float>()[i];
  const float h = 1e-4f;  // small enough to cross few LeakyRelu kinks, large enough for float32
  Tensor xp = x.clone(), xm = x.clone();
  for (int64_t i = 0; i < x.numel(); ++i) {
    xp.data<float>()[i] += h * v.data<float>()[i];
    xm.data<float>()[i] -= h * v.data<float>()[i];
  }
  const double numeric = (loss(xp) - loss(xm)) / (2 * h);
  INFO("analytic " << analytic << " numeric " << numeric);
  CHECK(std::abs(analytic - numeric) <= 3e-3 * std::abs(numeric));

  auto bad = autograd::FeatureTape::create(model.value(), {"no_such_layer"});
  REQUIRE(!bad.is_ok());
  CHECK(bad.status().message().find("leaky_re_lu_1") != std::string::npos);
  auto past = autograd::FeatureTape::create(model.value(), {"prob"});
  REQUIRE(!past.is_ok());
  CHECK(past.status().code() == ErrorCode::kUnsupported);
}

TEST_CASE("Gatys loss gradient matches finite differences and L-BFGS lowers it", "[style][gatys]") {
  if (!exists(tiny_darknet_path())) SKIP("no Tiny Darknet in the mirror");
  GatysOptions o;
  o.iterations = 20;
  o.max_size = 64;
  auto g = GatysTransfer::create(resolved_from("tiny-darknet", tiny_darknet_path()), o);
  REQUIRE(g.is_ok());
  const cv::Mat content = test_image("dog.jpg", 64, 48), style = test_image("eagle.jpg", 64, 48);
  cv::Mat crgb, srgb;
  cv::cvtColor(content, crgb, cv::COLOR_BGR2RGB);
  cv::cvtColor(style, srgb, cv::COLOR_BGR2RGB);
  const Status st = g.value()->set_targets(crgb, srgb);
  INFO(st.message());
  REQUIRE(st.is_ok());
  // Directional derivative of the full loss (content + Gram style + TV) at a noisy image.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.f, 255.f), d(-1.f, 1.f);
  std::vector<float> x(3 * 64 * 48), v(x.size()), grad;
  for (size_t i = 0; i < x.size(); ++i) x[i] = u(rng), v[i] = d(rng);
  auto l0 = g.value()->evaluate(x, &grad);
  REQUIRE(l0.is_ok());
  const float h = 0.05f;
  std::vector<float> xp = x, xm = x;
  for (size_t i = 0; i < x.size(); ++i) xp[i] += h * v[i], xm[i] -= h * v[i];
  auto lp = g.value()->evaluate(xp, nullptr), lm = g.value()->evaluate(xm, nullptr);
  REQUIRE(lp.is_ok());
  REQUIRE(lm.is_ok());
  const double numeric = (lp.value().total - lm.value().total) / (2 * h), analytic = dotf(grad, v);
  INFO("analytic " << analytic << " numeric " << numeric);
  CHECK(std::abs(analytic - numeric) <= 1e-2 * std::abs(numeric));

  auto res = g.value()->run(content, style, nullptr);
  REQUIRE(res.is_ok());
  const auto& h_ = res.value().history;
  REQUIRE(h_.size() == 21);
  for (size_t i = 1; i < h_.size(); ++i) CHECK(h_[i].loss.total < h_[i - 1].loss.total);
  INFO("style loss " << h_.front().loss.style << " -> " << h_.back().loss.style);
  CHECK(h_.back().loss.style < h_.front().loss.style / 5);
  CHECK(res.value().image.size() == content.size());
}

TEST_CASE("tile weights cover every pixel and sum to one in the overlaps", "[style]") {
  const int length = 1000, tile = 256, overlap = 64;
  const std::vector<int> starts = tile_starts(length, tile, overlap);
  REQUIRE(starts.front() == 0);
  REQUIRE(starts.back() == length - tile);
  for (int x = 0; x < length; ++x) {
    double sum = 0;
    for (size_t k = 0; k < starts.size(); ++k)
      if (x >= starts[k] && x < starts[k] + tile)
        sum += tile_weight(x - starts[k], tile, overlap, k > 0, k + 1 < starts.size());
    CHECK(sum > 0);
    if (x < starts.back()) CHECK(std::abs(sum - 1) < 1e-5);  // regular overlaps (the last tile overlaps more)
  }
}

TEST_CASE("feed-forward style network matches ONNX Runtime", "[style][ort]") {
  const std::string ort_dir = env_or("CVTOOL_ORT_DIR", std::string(CVTOOL_SOURCE_DIR) + "/.cache/ort");
  if (!exists(style_path("wave"))) SKIP("no style networks in the mirror");
  if (!exists(ort_dir + "/node_modules")) SKIP("ONNX Runtime not installed (scripts/setup_ort.sh)");
  auto s = Stylizer::create(resolved_from("style-wave", style_path("wave")), SessionOptions{});
  REQUIRE(s.is_ok());
  for (auto [w, h] : {std::pair{96, 64}, std::pair{74, 58}}) {  // the second is not a multiple of 4
    cv::Mat img = test_image("horses.jpg", w, h), rgb;
    cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
    Tensor in(DType::kFloat32, {1, 3, h, w});
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) in.data<float>()[(int64_t(c) * h + y) * w + x] = rgb.at<cv::Vec3b>(y, x)[c];
    const std::string dir = temp_dir("style_ort");
    REQUIRE(write_npy(dir + "/in.npy", in).is_ok());
    const std::string cmd = "CVTOOL_ORT_DIR='" + ort_dir + "' node '" + std::string(CVTOOL_SOURCE_DIR) + "/scripts/ort_run.mjs' '" +
                            style_path("wave") + "' --input input='" + dir + "/in.npy' --output-dir '" + dir + "' >/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto ref = read_npy(dir + "/output.npy");
    REQUIRE(ref.is_ok());
    auto out = s.value()->run_network(in);
    REQUIRE(out.is_ok());
    REQUIRE(out.value().shape() == ref.value().shape());
    double worst = 0;
    for (int64_t i = 0; i < ref.value().numel(); ++i) {
      auto clip = [](float v) { return std::clamp(v, 0.f, 255.f); };
      worst = std::max(worst, double(std::abs(clip(out.value().data<float>()[i]) - clip(ref.value().data<float>()[i]))));
    }
    INFO(w << "x" << h << ": max |cvtool - ORT| = " << worst);
    CHECK(worst <= 0.5);
    WARN("style-wave " << w << "x" << h << " max abs diff vs ORT: " << worst);
  }
}

TEST_CASE("tiled feed-forward output stays close to the untiled one", "[style]") {
  if (!exists(style_path("udnie"))) SKIP("no style networks in the mirror");
  auto s = Stylizer::create(resolved_from("style-udnie", style_path("udnie")), SessionOptions{});
  REQUIRE(s.is_ok());
  const cv::Mat img = test_image("giraffe.jpg", 258, 194);
  StylizeOptions whole;
  whole.tile = -1;
  StylizeOptions tiles;
  tiles.tile = 144;
  tiles.overlap = 64;
  StylizeInfo info;
  auto a = s.value()->stylize(img, whole, nullptr);
  auto b = s.value()->stylize(img, tiles, &info);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(info.tiles == 6);  // 3 x 2 tiles of 144 with 64 shared
  REQUIRE(a.value().size() == img.size());
  cv::Mat diff;
  cv::absdiff(a.value(), b.value(), diff);
  const cv::Scalar m = cv::mean(diff);
  const double mad = (m[0] + m[1] + m[2]) / 3;
  WARN("udnie 258x194, 6 tiles: mean abs diff tiled vs untiled " << mad);
  CHECK(mad < 2.0);
  StylizeOptions half = whole;
  half.strength = 0.f;  // strength 0 gives the content back
  auto c = s.value()->stylize(img, half, nullptr);
  REQUIRE(c.is_ok());
  cv::absdiff(c.value(), img, diff);
  CHECK(cv::mean(diff)[0] < 1.0);
}

TEST_CASE("style-transfer CLI: output file, unknown style, undecodable style image", "[style][cli]") {
  if (!exists(style_path("scream"))) SKIP("no style networks in the mirror");
  const std::string dir = temp_dir("style_cli");
  const std::string img = shared_dir() + "/data/images/dog.jpg";
  auto r = run_cli("style-transfer --style scream --max-size 64 --out-dir '" + dir + "' '" + img + "'", registry_env());
  REQUIRE(r.code == 0);
  auto recs = r.records();
  REQUIRE(recs.size() == 1);
  const std::string out = recs[0]["output"]["path"];
  CHECK(out == (std::filesystem::path(dir) / "dog_scream.png").string());
  auto written = load_image(out);
  REQUIRE(written.is_ok());
  CHECK(std::max(written.value().cols, written.value().rows) == 64);
  CHECK(recs[0]["timing_ms"]["infer"].get<double>() > 0);

  auto bad = run_cli("style-transfer --style starry_night '" + img + "'", registry_env());
  CHECK(bad.code == 2);
  CHECK(bad.err.find("available styles: la_muse, rain_princess, scream, udnie, wave") != std::string::npos);

  std::ofstream(dir + "/broken.jpg") << "not an image";
  auto broken = run_cli("style-transfer --method optimize --style-image '" + dir + "/broken.jpg' '" + img + "'", registry_env());
  CHECK(broken.code == 2);
  CHECK(broken.err.find("style image") != std::string::npos);
  CHECK(broken.err.find("broken.jpg") != std::string::npos);
}
