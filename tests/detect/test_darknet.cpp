// Darknet importer: cfg parsing and its errors, weights headers and short files,
// the real Yolo-Fastest and Tiny Darknet files, and Debian's cfgs with random weights.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/session.h"
#include "io/darknet/importer.h"
#include "io/image.h"
#include "io/onnx/importer.h"
#include "tasks/classify/classify.h"
#include "tasks/common/preprocess.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::testing;
namespace fs = std::filesystem;

namespace {

const char* kSmallCfg = R"([net]
width=8
height=8
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=6
size=1
activation=linear
)";

// Header (major, minor, revision, seen) followed by `floats` values from a cheap LCG in [-a, a).
std::string weights_bytes(int major, int minor, int64_t floats, uint32_t seed = 1, float a = 0.1f) {
  std::string out;
  int32_t hdr[3] = {major, minor, 0};
  out.append(reinterpret_cast<const char*>(hdr), 12);
  const bool seen64 = (major * 10 + minor) >= 2 && major < 1000 && minor < 1000;
  uint64_t seen = 12345;
  out.append(reinterpret_cast<const char*>(&seen), seen64 ? 8 : 4);
  uint32_t s = seed;
  for (int64_t i = 0; i < floats; ++i) {
    s = s * 1664525u + 1013904223u;
    float v = (float(s >> 8) / float(1 << 24) * 2.f - 1.f) * a;
    out.append(reinterpret_cast<const char*>(&v), 4);
  }
  return out;
}

Result<std::shared_ptr<Model>> import_text(const std::string& cfg_text, const std::string& weights, DarknetInfo* info = nullptr,
                                           const DarknetImportOptions& opts = {}) {
  CVT_ASSIGN_OR_RETURN(darknet::CfgFile cfg, darknet::parse_cfg_text(cfg_text, "test.cfg"));
  std::istringstream in(weights);
  return import_darknet(cfg, in, int64_t(weights.size()), "test.weights", opts, info);
}

std::string error_of(const Status& st) { return st.message(); }

}  // namespace

TEST_CASE("darknet cfg: sections, options, whitespace and comments", "[darknet]") {
  auto f = darknet::parse_cfg_text("# comment\n[net]\n width = 32 \n; other\n\n[Convolutional]\nanchors = 1, 2,  3,4\n", "a.cfg");
  REQUIRE_OK(f);
  REQUIRE(f.value().sections.size() == 2);
  CHECK(f.value().sections[1].type == "convolutional");
  CHECK(f.value().sections[1].line == 6);
  darknet::SectionReader r(f.value().sections[1], "a.cfg");
  CHECK(r.get_floats("anchors") == std::vector<float>{1, 2, 3, 4});
  CHECK(r.get_int("missing", 7) == 7);
  CHECK(r.status().is_ok());
}

TEST_CASE("darknet cfg: errors name the file, line, section and key", "[darknet]") {
  auto bad_line = darknet::parse_cfg_text("[net]\nwidth=3\nthis line has no equals\n", "x.cfg");
  REQUIRE_FALSE(bad_line.is_ok());
  CHECK(error_of(bad_line.status()).find("x.cfg:3") != std::string::npos);

  std::string unknown = std::string(kSmallCfg) + "\n[frobnicate]\nsize=3\n";
  auto r = import_text(unknown, weights_bytes(0, 2, 1000));
  REQUIRE_FALSE(r.is_ok());
  INFO(r.status().message());
  CHECK(error_of(r.status()).find("unknown section [frobnicate]") != std::string::npos);
  CHECK(error_of(r.status()).find("test.cfg:23") != std::string::npos);

  std::string bad_value = kSmallCfg;
  bad_value.replace(bad_value.find("filters=6"), 9, "filters=six");
  r = import_text(bad_value, weights_bytes(0, 2, 1000));
  REQUIRE_FALSE(r.is_ok());
  INFO(r.status().message());
  CHECK(error_of(r.status()).find("test.cfg:19") != std::string::npos);
  CHECK(error_of(r.status()).find("'filters'") != std::string::npos);

  std::string bad_act = kSmallCfg;
  bad_act.replace(bad_act.find("activation=linear"), 17, "activation=sparkle");
  r = import_text(bad_act, weights_bytes(0, 2, 1000));
  REQUIRE_FALSE(r.is_ok());
  CHECK(error_of(r.status()).find("sparkle") != std::string::npos);

  std::string huge = kSmallCfg;
  huge.replace(huge.find("filters=6"), 9, "filters=2000000000");
  r = import_text(huge, weights_bytes(0, 2, 1000));
  REQUIRE_FALSE(r.is_ok());
  CHECK(error_of(r.status()).find("'filters'") != std::string::npos);

  auto unsupported_layer = import_text(std::string(kSmallCfg) + "[reorg]\nstride=2\n", weights_bytes(0, 2, 1000));
  REQUIRE_FALSE(unsupported_layer.is_ok());
  CHECK(unsupported_layer.status().code() == ErrorCode::kUnsupported);
  CHECK(error_of(unsupported_layer.status()).find("[reorg]") != std::string::npos);
}

TEST_CASE("darknet weights: header versions, seen width, short files", "[darknet]") {
  auto cfg = darknet::parse_cfg_text(kSmallCfg, "test.cfg");
  REQUIRE_OK(cfg);
  auto count = darknet_parameter_count(cfg.value());
  REQUIRE_OK(count);
  // conv1: 4 biases + 3*4 bn + 4*3*3*3 weights; conv2: 6 + 6*4.
  CHECK(count.value() == 4 + 12 + 108 + 6 + 24);
  for (auto [major, minor, header] : {std::tuple{0, 1, 16}, std::tuple{0, 2, 20}, std::tuple{1, 0, 20}, std::tuple{1000, 1, 16}}) {
    DarknetInfo info;
    auto m = import_text(kSmallCfg, weights_bytes(major, minor, count.value() + 3), &info);
    REQUIRE_OK(m);
    CHECK(info.header_bytes == header);
    CHECK(info.seen == 12345);
    CHECK(info.trailing_bytes == 12);
    CHECK(info.weights_bytes == count.value() * 4);
  }
  std::string w = weights_bytes(0, 2, count.value());
  auto m = import_text(kSmallCfg, w.substr(0, w.size() - 10));
  REQUIRE_FALSE(m.is_ok());
  const std::string msg = m.status().message();
  INFO(msg);
  CHECK(msg.find("too short") != std::string::npos);
  CHECK(msg.find(std::to_string(w.size() - 10) + " bytes") != std::string::npos);
  CHECK(msg.find(std::to_string(w.size())) != std::string::npos);
  CHECK(msg.find("layer 2 [convolutional]") != std::string::npos);
  auto tiny = import_text(kSmallCfg, "abc");
  REQUIRE_FALSE(tiny.is_ok());
  CHECK(tiny.status().message().find("3 bytes") != std::string::npos);
}

TEST_CASE("darknet: batch norm folding and padding rules against hand-computed values", "[darknet]") {
  // 1 channel 4x4 input, 1x1 conv with batch norm, then darknet's size-2 stride-1 maxpool.
  const char* cfg = "[net]\nwidth=4\nheight=4\nchannels=1\n[convolutional]\nbatch_normalize=1\nfilters=1\nsize=1\n"
                    "activation=linear\n[maxpool]\nsize=2\nstride=1\n";
  std::string w;
  int32_t hdr[3] = {0, 2, 5};
  uint64_t seen = 0;
  w.append(reinterpret_cast<const char*>(hdr), 12).append(reinterpret_cast<const char*>(&seen), 8);
  for (float v : {0.5f /*bias*/, 2.f /*scale*/, 1.f /*mean*/, 4.f /*var*/, 3.f /*weight*/})
    w.append(reinterpret_cast<const char*>(&v), 4);
  for (bool inside : {true, false}) {
    DarknetImportOptions opts;
    opts.bn_eps = 1e-3f;  // large enough to tell sqrt(var + eps) from sqrt(var) + eps
    opts.bn_eps_inside_sqrt = inside;
    DarknetInfo info;
    auto m = import_text(cfg, w, &info, opts);
    REQUIRE_OK(m);
    CHECK(info.revision == 5);
    auto s = Session::create(m.value());
    REQUIRE_OK(s);
    Tensor x(DType::kFloat32, {1, 1, 4, 4});
    for (int i = 0; i < 16; ++i) x.data<float>()[i] = float(i);
    auto out = s.value()->run({x});
    REQUIRE_OK(out);
    REQUIRE(out.value()[0].shape() == Shape{1, 1, 4, 4});
    // y = (3x - mean) / std * scale + bias, then max over the window [i, i+1] x [j, j+1] clipped at the border.
    const double sd = inside ? std::sqrt(4 + 1e-3) : 2 + 1e-3;
    auto f = [&](float v) { return (3 * v - 1) / sd * 2 + 0.5; };
    const float* o = out.value()[0].data<float>();
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) CHECK(o[i * 4 + j] == Approx(f(float(std::min(i + 1, 3) * 4 + std::min(j + 1, 3)))).epsilon(1e-6));
  }
}

TEST_CASE("darknet: route groups, shortcut, upsample, yolo head outputs", "[darknet]") {
  const char* cfg = R"([net]
width=8
height=8
channels=2
[convolutional]
filters=4
size=3
pad=1
activation=mish
[route]
layers=-1
groups=2
group_id=1
[convolutional]
filters=2
size=1
activation=swish
[shortcut]
from=-2
activation=relu
[upsample]
stride=2
[convolutional]
filters=18
size=1
activation=logistic
[yolo]
mask=0,1
anchors=10,14, 23,27, 37,58
classes=4
num=3
scale_x_y=1.05
)";
  auto c = darknet::parse_cfg_text(cfg, "t.cfg");
  REQUIRE_OK(c);
  auto n = darknet_parameter_count(c.value());
  REQUIRE_OK(n);
  DarknetInfo info;
  auto m = import_text(cfg, weights_bytes(0, 2, n.value()), &info);
  REQUIRE_OK(m);
  REQUIRE(info.heads.size() == 1);
  CHECK(info.heads[0].mask == std::vector<int>{0, 1});
  CHECK(info.heads[0].scale_x_y == Approx(1.05f));
  CHECK(info.heads[0].grid_w == 16);
  auto s = Session::create(m.value());
  REQUIRE_OK(s);
  auto out = s.value()->run({random_tensor({1, 2, 8, 8}, 3)});
  REQUIRE_OK(out);
  CHECK(out.value()[0].shape() == Shape{1, 18, 16, 16});
  CHECK(info.layers[1].second == Shape{1, 2, 8, 8});  // route took half of 4 channels
}

TEST_CASE("darknet: Yolo-Fastest 1.1 and 1.1-XL load and run", "[darknet][detect]") {
  const std::string dir = mirror_dir() + "/detect/";
  if (!exists(dir + "yolo-fastest-1.1.cfg")) SKIP("model mirror not found at " + mirror_dir());
  for (const char* name : {"yolo-fastest-1.1", "yolo-fastest-1.1-xl"}) {
    DarknetInfo info;
    auto m = import_darknet_file(dir + name + ".cfg", dir + name + ".weights", {}, &info);
    REQUIRE_OK(m);
    CHECK(info.trailing_bytes == 0);
    CHECK(info.width == 320);
    REQUIRE(info.heads.size() == 2);
    CHECK(info.heads[0].classes == 80);
    auto s = Session::create(m.value());
    REQUIRE_OK(s);
    auto out = s.value()->run({random_tensor({1, 3, 320, 320}, 1, 0.f, 1.f)});
    REQUIRE_OK(out);
    CHECK(out.value()[0].shape() == Shape{1, 255, 10, 10});
    CHECK(out.value()[1].shape() == Shape{1, 255, 20, 20});
  }
}

TEST_CASE("darknet: Tiny Darknet from .cfg/.weights gives the ONNX version's top-5", "[darknet]") {
  const std::string dir = mirror_dir() + "/classify/";
  if (!exists(dir + "tiny.cfg")) SKIP("model mirror not found at " + mirror_dir());
  auto dk = import_darknet_file(dir + "tiny.cfg", dir + "tiny_from_ml5.weights");
  REQUIRE_OK(dk);
  auto ox = import_onnx_file(dir + "tiny_darknet_from_ml5.onnx");
  REQUIRE_OK(ox);
  auto sd = Session::create(dk.value());
  auto so = Session::create(ox.value());
  REQUIRE_OK(sd);
  REQUIRE_OK(so);
  InputContract c;
  c.width = c.height = 224;
  for (const char* img : {"eagle.jpg", "dog.jpg", "cat.bmp"}) {
    auto bgr = load_image(shared_dir() + "/data/images/" + img);
    REQUIRE_OK(bgr);
    auto x = preprocess_image(bgr.value(), c, 0, 0, nullptr);
    REQUIRE_OK(x);
    auto a = sd.value()->run({x.value()});
    auto b = so.value()->run({x.value()});
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    const Tensor& ta = a.value()[0];
    const Tensor& tb = b.value()[0];
    REQUIRE(ta.numel() == 1000);
    REQUIRE(tb.numel() == 1000);
    auto ka = top_k(ta.data<float>(), 1000, 5, {});
    auto kb = top_k(tb.data<float>(), 1000, 5, {});
    for (int k = 0; k < 5; ++k) {
      INFO(img << " rank " << k);
      // Same classes; scores differ slightly: the ONNX file keeps TF's batch-norm epsilon (1e-3),
      // darknet divides by sqrt(var) + 1e-6.
      CHECK(ka[k].class_id == kb[k].class_id);
    }
  }
}

TEST_CASE("darknet: Debian's cfgs load with random weights, every layer runs with darknet's shapes", "[darknet]") {
  const std::string dir = "/usr/share/darknet/cfg/";
  if (!exists(dir + "yolov3-tiny.cfg")) SKIP("Debian darknet cfgs not installed (apt-get install darknet)");
  struct Case {
    const char* name;
    int size;  // input override (0 = cfg)
    std::vector<Shape> outputs;
  };
  const std::vector<Case> cases = {
      {"yolov3-tiny", 0, {{1, 255, 13, 13}, {1, 255, 26, 26}}},
      {"yolov3", 320, {{1, 255, 10, 10}, {1, 255, 20, 20}, {1, 255, 40, 40}}},
      {"yolov2-tiny", 0, {{1, 425, 13, 13}}},
      {"tiny", 0, {{1, 1000}}},
      {"darknet19", 0, {{1, 1000}}},
      {"alexnet", 0, {{1, 1000}}},
      {"vgg-16", 0, {{1, 1000}}},
      {"resnet50", 0, {{1, 1000}}},
  };
  const std::string tmp = fs::temp_directory_path() / ("cvtool_darknet_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  for (const Case& tc : cases) {
    INFO(tc.name);
    auto cfg = darknet::parse_cfg_file(dir + tc.name + ".cfg");
    REQUIRE_OK(cfg);
    DarknetImportOptions opts;
    opts.width = opts.height = tc.size;
    auto n = darknet_parameter_count(cfg.value(), opts);
    REQUIRE_OK(n);
    const std::string wpath = tmp + "/" + tc.name + ".weights";
    { std::ofstream(wpath, std::ios::binary) << weights_bytes(0, 2, n.value(), 7, 0.05f); }
    CHECK(int64_t(fs::file_size(wpath)) == 20 + 4 * n.value());
    DarknetInfo info;
    auto m = import_darknet_file(dir + tc.name + ".cfg", wpath, opts, &info);
    fs::remove(wpath);
    REQUIRE_OK(m);
    auto s = Session::create(m.value());
    REQUIRE_OK(s);
    const int side = tc.size ? tc.size : info.width;
    auto out = s.value()->run({random_tensor({1, info.channels, side, side}, 5, 0.f, 1.f)});
    REQUIRE_OK(out);
    REQUIRE(out.value().size() == tc.outputs.size());
    for (size_t k = 0; k < tc.outputs.size(); ++k) CHECK(out.value()[k].shape() == tc.outputs[k]);
    // Every layer's value was computed with the shape darknet gives it, except
    // conv outputs that fusion folded into the next node (a shortcut's Add).
    const Graph& g = s.value()->graph();
    const auto& shapes = s.value()->last_value_shapes();
    std::vector<bool> produced(g.num_values(), false);
    for (const Node& node : g.nodes)
      for (int o : node.outputs)
        if (o >= 0) produced[o] = true;
    size_t checked = 0;
    for (const auto& [value, shape] : info.layers) {
      int id = g.find_value(value);
      INFO("layer value " << value);
      REQUIRE(id >= 0);
      if (!produced[id] && !g.constant(id) && id != g.input_ids[0]) continue;
      CHECK(shapes[id] == shape);
      ++checked;
    }
    CHECK(checked * 2 >= info.layers.size());  // fusion removes a few values, not most
  }
  fs::remove_all(tmp);
}
