// Reference CNNs exported from torchvision with seeded random weights
// (scripts/export_reference_nets.py): cvtool must reproduce PyTorch's output
// within |a-b| <= 1e-4 + 1e-5*max|ref| + 1e-3*|ref|, and give identical results at 1 and 2 threads.
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "graph/session.h"
#include "io/npy.h"
#include "io/onnx/importer.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;
namespace fs = std::filesystem;

static void check_reference_net(const std::string& name) {
  const fs::path dir = testing::refnets_dir();
  const fs::path onnx = dir / (name + ".onnx");
  if (!fs::exists(onnx)) SKIP(name + ": not exported (run scripts/export_reference_nets.py --out " + dir.string() + ")");
  auto input = read_npy((dir / (name + "_input.npy")).string());
  auto expected = read_npy((dir / (name + "_output.npy")).string());
  REQUIRE_OK(input);
  REQUIRE_OK(expected);
  auto model = import_onnx_file(onnx.string());
  REQUIRE_OK(model);
  // Float32 sums over thousands of products (and Winograd's transforms) err in
  // proportion to the output's overall scale, not to each element: near-zero
  // logits of a vector reaching 237 get the scale's share of absolute error.
  double scale = 0;
  for (int64_t i = 0; i < expected.value().numel(); ++i)
    scale = std::max(scale, double(std::fabs(expected.value().data<float>()[i])));
  const double atol = 1e-4 + 1e-5 * scale;
  std::vector<Tensor> first;
  for (int threads : {1, 2}) {
    SessionOptions so;
    so.threads = threads;
    auto session = Session::create(model.value(), so);
    REQUIRE_OK(session);
    for (int rep = 0; rep < 2; ++rep) {  // the second run uses the planned arena
      auto out = session.value()->run({input.value()});
      REQUIRE_OK(out);
      INFO(name << " threads=" << threads << " run=" << rep);
      CHECK_TENSOR_NEAR(out.value()[0], expected.value(), atol, 1e-3);
      if (first.empty()) first = out.value();
      else {
        INFO("results must be bit-identical for any thread count");
        CHECK(std::memcmp(first[0].raw(), out.value()[0].raw(), first[0].nbytes()) == 0);
      }
    }
  }
}

TEST_CASE("reference nets match PyTorch: resnet18", "[golden][refnets]") { check_reference_net("resnet18"); }
TEST_CASE("reference nets match PyTorch: googlenet", "[golden][refnets]") { check_reference_net("googlenet"); }
TEST_CASE("reference nets match PyTorch: mobilenet_v2", "[golden][refnets]") { check_reference_net("mobilenet_v2"); }
TEST_CASE("reference nets match PyTorch: squeezenet1_1", "[golden][refnets]") { check_reference_net("squeezenet1_1"); }
TEST_CASE("reference nets match PyTorch: alexnet", "[golden][refnets][slow]") { check_reference_net("alexnet"); }
TEST_CASE("reference nets match PyTorch: resnet50", "[golden][refnets][slow]") { check_reference_net("resnet50"); }
TEST_CASE("reference nets match PyTorch: vgg16", "[golden][refnets][slow]") { check_reference_net("vgg16"); }

TEST_CASE("cvtool run reproduces PyTorch's output .npy", "[golden][refnets][cli]") {
  const fs::path dir = testing::refnets_dir();
  if (!fs::exists(dir / "squeezenet1_1.onnx")) SKIP("reference nets not exported");
  std::string out = testing::temp_dir("run");
  auto r = testing::run_cli("run '" + (dir / "squeezenet1_1.onnx").string() + "' --input input='" +
                            (dir / "squeezenet1_1_input.npy").string() + "' --output-dir '" + out + "' --warmup 1 --repeat 3 --profile");
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["latency_ms"]["median"].get<double>() > 0);
  // --profile: every node once, its median over the 3 timed runs no faster than its fastest.
  REQUIRE(j["profile"].size() > 20);
  double node_sum = 0;
  for (const auto& n : j["profile"]) {
    CHECK(n["min_ms"].get<double>() > 0);
    CHECK(n["ms"].get<double>() >= n["min_ms"].get<double>());
    node_sum += n["min_ms"].get<double>();
  }
  CHECK(node_sum <= j["latency_ms"]["max"].get<double>());
  CHECK(j["outputs"][0]["name"] == "output");
  auto got = read_npy(out + "/output.npy");
  auto expected = read_npy((dir / "squeezenet1_1_output.npy").string());
  REQUIRE_OK(got);
  REQUIRE_OK(expected);
  CHECK_TENSOR_NEAR(got.value(), expected.value(), 1e-4, 1e-3);
}
