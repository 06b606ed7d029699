// torchvision's own fasterrcnn_resnet50_fpn / maskrcnn_resnet50_fpn (random weights,
// scripts/export_reference_nets.py --detection): the full-size exports load and run,
// and their detections match PyTorch's. Slow (ResNet-50 FPN at 320x416), so [slow].
#include <filesystem>

#include "graph/session.h"
#include "io/npy.h"
#include "io/onnx/importer.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;
namespace fs = std::filesystem;

static void check_reference_detector(const std::string& name, const std::vector<std::string>& outputs) {
  const fs::path dir = testing::refnets_dir();
  const fs::path onnx = dir / (name + ".onnx");
  if (!fs::exists(onnx))
    SKIP(name + ": not exported (run scripts/export_reference_nets.py --detection --out " + dir.string() + ")");
  auto input = read_npy((dir / (name + "_input.npy")).string());
  REQUIRE_OK(input);
  auto model = import_onnx_file(onnx.string());
  REQUIRE_OK(model);
  auto session = Session::create(model.value(), {});
  REQUIRE_OK(session);
  auto out = session.value()->run({input.value()});
  REQUIRE_OK(out);
  REQUIRE(out.value().size() == outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    INFO(name << " output " << outputs[i]);
    auto ref = read_npy((dir / (name + "_output_" + outputs[i] + ".npy")).string());
    REQUIRE_OK(ref);
    const Tensor& got = out.value()[i];
    REQUIRE(got.shape() == ref.value().shape());
    if (outputs[i] == "labels") {
      CHECK(got.to_int64_vector() == ref.value().to_int64_vector());
    } else if (outputs[i] == "masks") {
      // Random-weight masks hover around 0.5: compare probabilities, and the binarised
      // masks up to a few boundary pixels.
      CHECK_TENSOR_NEAR(got, ref.value(), 2e-3, 1e-2);
      int64_t diff = 0;
      const float* a = got.data<float>();
      const float* b = ref.value().data<float>();
      for (int64_t k = 0; k < got.numel(); ++k) diff += (a[k] > 0.5f) != (b[k] > 0.5f);
      CHECK(double(diff) / double(std::max<int64_t>(got.numel(), 1)) < 1e-4);
    } else {
      CHECK_TENSOR_NEAR(got, ref.value(), 2e-3, 1e-4);
    }
  }
}

TEST_CASE("torchvision fasterrcnn_resnet50_fpn export matches PyTorch", "[golden][refnets][slow]") {
  check_reference_detector("fasterrcnn_resnet50_fpn", {"boxes", "labels", "scores"});
}
TEST_CASE("torchvision maskrcnn_resnet50_fpn export matches PyTorch", "[golden][refnets][slow]") {
  check_reference_detector("maskrcnn_resnet50_fpn", {"boxes", "labels", "scores", "masks"});
}
