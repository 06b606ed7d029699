// torchvision's own fasterrcnn_resnet50_fpn / maskrcnn_resnet50_fpn (random weights,
// scripts/export_reference_nets.py --detection): the full-size exports load and run,
// and their detections match PyTorch's. Slow (ResNet-50 FPN at 320x416), so [slow].
#include <cmath>
#include <filesystem>
#include <map>

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
  std::map<std::string, Tensor> got, ref;
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto r = read_npy((dir / (name + "_output_" + outputs[i] + ".npy")).string());
    REQUIRE_OK(r);
    INFO(name << " output " << outputs[i]);
    REQUIRE(out.value()[i].shape() == r.value().shape());
    got[outputs[i]] = out.value()[i];
    ref[outputs[i]] = r.value();
  }
  // Random weights give near-tied scores, so float rounding (Winograd, summation order) may
  // swap neighbours in the score order: pair each reference detection with an unused one of
  // the same label, a score within 1e-4 and a box within 2e-3 px, then compare the pairs.
  const int64_t n = got["boxes"].shape()[0];
  const float *gb = got["boxes"].data<float>(), *rb = ref["boxes"].data<float>();
  const float *gs = got["scores"].data<float>(), *rs = ref["scores"].data<float>();
  const std::vector<int64_t> gl = got["labels"].to_int64_vector(), rl = ref["labels"].to_int64_vector();
  std::vector<int64_t> match(n, -1);
  std::vector<char> used(n, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = std::max<int64_t>(0, i - 8); j < std::min<int64_t>(n, i + 9) && match[i] < 0; ++j) {
      if (used[j] || gl[j] != rl[i] || std::fabs(gs[j] - rs[i]) > 1e-4f) continue;
      bool close = true;
      for (int c = 0; c < 4; ++c) close = close && std::fabs(gb[j * 4 + c] - rb[i * 4 + c]) <= 2e-3f + 1e-4f * std::fabs(rb[i * 4 + c]);
      if (close) match[i] = j, used[j] = 1;
    }
  int64_t unmatched = 0, swapped = 0;
  for (int64_t i = 0; i < n; ++i) unmatched += match[i] < 0, swapped += match[i] >= 0 && match[i] != i;
  INFO(name << ": " << n << " detections, " << swapped << " paired out of order");
  CHECK(unmatched == 0);
  if (got.count("masks") && unmatched == 0) {
    // Random-weight masks hover around 0.5: compare probabilities, and the binarised
    // masks up to a few boundary pixels.
    const int64_t plane = n ? got["masks"].numel() / n : 0;
    const float *gm = got["masks"].data<float>(), *rm = ref["masks"].data<float>();
    int64_t diff = 0;
    double max_err = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < plane; ++k) {
        const float a = gm[match[i] * plane + k], b = rm[i * plane + k];
        max_err = std::max(max_err, double(std::fabs(a - b)));
        diff += (a > 0.5f) != (b > 0.5f);
      }
    INFO("mask max abs err " << max_err << ", binarised pixels differing " << diff);
    CHECK(max_err <= 2e-3 + 1e-2);
    CHECK(double(diff) / double(std::max<int64_t>(got["masks"].numel(), 1)) < 1e-4);
  }
}

TEST_CASE("torchvision fasterrcnn_resnet50_fpn export matches PyTorch", "[golden][refnets][slow]") {
  check_reference_detector("fasterrcnn_resnet50_fpn", {"boxes", "labels", "scores"});
}
TEST_CASE("torchvision maskrcnn_resnet50_fpn export matches PyTorch", "[golden][refnets][slow]") {
  check_reference_detector("maskrcnn_resnet50_fpn", {"boxes", "labels", "scores", "masks"});
}
