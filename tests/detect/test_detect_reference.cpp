// Raw outputs of the real detect models against their peers: ONNX Runtime for
// YOLOX-nano and FastestDet, OpenCV's Darknet importer for Yolo-Fastest
// (values stored by scripts/detect_reference.py in tests/data/detect/raw_refs.json).
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/image.h"
#include "models/registry.h"
#include "tasks/common/preprocess.h"
#include "tasks/detect/detector.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::testing;

namespace {

ModelRegistry test_registry() {
  RegistryConfig c;
  c.manifests_dir = std::string(CVTOOL_SOURCE_DIR) + "/models";
  c.cache_dir = env_or("CVTOOL_MODELS_DIR", std::string(CVTOOL_SOURCE_DIR) + "/.cache/models");
  c.mirror_dir = mirror_dir();
  c.allow_download = false;
  return ModelRegistry(c);
}

nlohmann::json load_refs() {
  std::ifstream f(std::string(CVTOOL_TEST_DATA_DIR) + "/detect/raw_refs.json");
  return nlohmann::json::parse(f, nullptr, false);
}

// Which elements are scores (probabilities after the model's own activations,
// or logits the decoder squashes) rather than box terms.
bool is_score(const std::string& model, const Shape& shape, int64_t i) {
  if (model == "yolox-nano") return i % shape[2] >= 4;
  const int64_t plane = shape[2] * shape[3], ch = (i / plane) % shape[1];
  if (model == "fastestdet") return ch == 0 || ch >= 5;
  return ch % 85 >= 4;  // darknet: objectness and classes of each anchor
}

}  // namespace

TEST_CASE("detect: raw outputs match ONNX Runtime / OpenCV Darknet on dog.jpg", "[detect][darknet][golden]") {
  if (!exists(mirror_dir() + "/detect/yolox_nano.onnx")) SKIP("model mirror not found at " + mirror_dir());
  nlohmann::json refs = load_refs();
  REQUIRE(refs.is_object());
  auto img = load_image(shared_dir() + "/data/images/dog.jpg");
  REQUIRE_OK(img);
  ModelRegistry reg = test_registry();
  for (const auto& [name, ref] : refs["models"].items()) {
    INFO(name << " vs " << ref["peer"].get<std::string>());
    auto rm = reg.resolve(name);
    REQUIRE_OK(rm);
    auto det = Detector::create(rm.value(), SessionOptions{});
    REQUIRE_OK(det);
    auto x = preprocess_image(img.value(), det.value()->contract(), 0, 0, nullptr);
    REQUIRE_OK(x);
    // Same input as the peer got (same OpenCV resize), else the comparison says nothing.
    const float* xp = x.value().data<float>();
    CHECK(x.value().shape() == ref["input"]["shape"].get<Shape>());
    for (const auto& pr : ref["input"]["probe"]) CHECK(xp[pr[0].get<int64_t>()] == Approx(pr[1].get<double>()).margin(1e-6));
    auto outs = det.value()->run_raw(x.value());
    REQUIRE_OK(outs);
    const Graph& g = det.value()->session().graph();
    for (const auto& [out_name, o] : ref["outputs"].items()) {
      INFO("output " << out_name);
      int k = -1;
      for (size_t j = 0; j < g.outputs.size(); ++j)
        if (g.outputs[j].name == out_name) k = int(j);
      REQUIRE(k >= 0);
      const Tensor& t = outs.value()[k];
      const Shape shape = o["shape"].get<Shape>();
      REQUIRE(t.shape() == shape);
      double max_score = 0, max_box = 0;
      for (const auto& s : o["samples"]) {
        const int64_t i = s[0].get<int64_t>();
        const double want = s[1].get<double>(), got = t.data<float>()[i];
        const double err = std::fabs(got - want);
        if (is_score(name, shape, i)) max_score = std::max(max_score, err);
        else max_box = std::max(max_box, err / std::max(1.0, std::fabs(want)));
      }
      INFO("max abs diff on scores " << max_score << ", max rel diff on box terms " << max_box);
      CHECK(max_score <= 1e-4);
      CHECK(max_box <= 1e-4);
    }
  }
}
