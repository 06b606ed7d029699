// torchvision Faster / Mask R-CNN exports (../shared/models/segment): the raw
// graph outputs against PyTorch's tensors on the three reference images, the
// Faster R-CNN through the detect pipeline (PNG -> preprocess -> decode) against
// PyTorch's detections on all 40 validation images, and the data-dependent edge
// cases (no detections, a non-square input).
#include <filesystem>
#include <nlohmann/json.hpp>

#include "graph/session.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/onnx/importer.h"
#include "models/registry.h"
#include "tasks/detect/detector.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;
namespace fs = std::filesystem;

namespace {

std::string segment_dir() { return testing::shared_dir() + "/models/segment"; }

std::unique_ptr<Session> open_session(const std::string& file) {
  auto model = import_onnx_file(segment_dir() + "/" + file);
  REQUIRE_OK(model);
  auto s = Session::create(model.value(), {});
  REQUIRE_OK(s);
  return std::move(s).value();
}

Tensor npy(const std::string& name) {
  auto t = read_npy(segment_dir() + "/refs/" + name);
  REQUIRE_OK(t);
  return t.value();
}

// Fraction of mask pixels on different sides of 0.5.
double binary_disagreement(const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  int64_t diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff += (x[i] > 0.5f) != (y[i] > 0.5f);
  return a.numel() ? double(diff) / double(a.numel()) : 0.0;
}

}  // namespace

TEST_CASE("Mask R-CNN and Faster R-CNN raw outputs match PyTorch on the reference images", "[rcnn][golden]") {
  if (!testing::exists(segment_dir() + "/refs/000001_input.npy")) SKIP("no " + segment_dir());
  auto mask_rcnn = open_session("shapes_maskrcnn.onnx");
  auto faster_rcnn = open_session("shapes_fasterrcnn.onnx");
  for (const char* id : {"000001", "000002", "000003"}) {
    INFO("image " << id);
    const std::string p(id);
    const Tensor input = npy(p + "_input.npy");
    auto outs = mask_rcnn->run({input});
    REQUIRE_OK(outs);
    REQUIRE(outs.value().size() == 4);
    const Tensor ref_labels = npy(p + "_labels.npy");
    REQUIRE(outs.value()[1].shape() == ref_labels.shape());  // same number of detections
    CHECK(outs.value()[1].to_int64_vector() == ref_labels.to_int64_vector());
    CHECK_TENSOR_NEAR(outs.value()[0], npy(p + "_boxes.npy"), 1e-3, 1e-5);
    CHECK_TENSOR_NEAR(outs.value()[2], npy(p + "_scores.npy"), 1e-5, 1e-4);
    const Tensor ref_masks = npy(p + "_masks.npy");
    CHECK_TENSOR_NEAR(outs.value()[3], ref_masks, 1e-4, 1e-3);
    CHECK(binary_disagreement(outs.value()[3], ref_masks) <= 1e-5);
    // The Faster R-CNN is the same network without the mask head: identical detections.
    auto fast = faster_rcnn->run({input});
    REQUIRE_OK(fast);
    REQUIRE(fast.value().size() == 3);
    CHECK(fast.value()[1].to_int64_vector() == ref_labels.to_int64_vector());
    CHECK_TENSOR_NEAR(fast.value()[0], npy(p + "_boxes.npy"), 1e-3, 1e-5);
    CHECK_TENSOR_NEAR(fast.value()[2], npy(p + "_scores.npy"), 1e-5, 1e-4);
  }
}

TEST_CASE("R-CNN data-dependent shapes: no detections, non-square input", "[rcnn][golden]") {
  if (!testing::exists(segment_dir() + "/shapes_maskrcnn.onnx")) SKIP("no " + segment_dir());
  auto s = open_session("shapes_maskrcnn.onnx");
  // A uniform grey image finds nothing: every data-dependent size is 0 (the mask Loop runs 0 times).
  Tensor grey(DType::kFloat32, {3, 256, 256});
  std::fill(grey.data<float>(), grey.data<float>() + grey.numel(), 0.5f);
  auto outs = s->run({grey});
  REQUIRE_OK(outs);
  CHECK(outs.value()[0].shape() == Shape{0, 4});
  CHECK(outs.value()[1].shape() == Shape{0});
  CHECK(outs.value()[3].shape() == Shape{0, 1, 256, 256});
  // A 200x256 crop of image 1 after that: new sizes everywhere, masks pasted at the input size.
  const Tensor full = npy("000001_input.npy");
  Tensor crop(DType::kFloat32, {3, 200, 256});
  for (int c = 0; c < 3; ++c)
    std::copy(full.data<float>() + c * 256 * 256, full.data<float>() + c * 256 * 256 + 200 * 256, crop.data<float>() + c * 200 * 256);
  outs = s->run({crop});
  REQUIRE_OK(outs);
  const int64_t n = outs.value()[0].dim(0);
  CHECK(n > 0);
  CHECK(outs.value()[3].shape() == Shape{n, 1, 200, 256});
  const std::vector<float> boxes = outs.value()[0].to_float_vector();
  for (int64_t i = 0; i < n; ++i) {
    CHECK(boxes[i * 4 + 3] <= 200.0f);  // clipped to the input
    CHECK(boxes[i * 4 + 2] <= 256.0f);
  }
}

TEST_CASE("detect pipeline with shapes-fasterrcnn matches PyTorch's detections on all 40 images", "[rcnn][golden]") {
  const std::string refs = segment_dir() + "/refs/ref_detections_fasterrcnn.json";
  if (!testing::exists(refs)) SKIP("no " + refs);
  RegistryConfig rc;
  rc.manifests_dir = std::string(CVTOOL_SOURCE_DIR) + "/models";
  rc.mirror_dir = testing::mirror_dir();
  rc.cache_dir = testing::mirror_dir();  // read the mirror in place: nothing is copied
  ModelRegistry reg(rc);
  auto resolved = reg.resolve("shapes-fasterrcnn");
  if (!resolved.is_ok()) SKIP("shapes-fasterrcnn not available: " + resolved.status().to_string());
  auto det = Detector::create(resolved.value(), {});
  REQUIRE_OK(det);
  CHECK(det.value()->decoder().type == "torchvision_rcnn");
  auto text = read_file(refs, 1 << 24);
  REQUIRE_OK(text);
  const nlohmann::json ref = nlohmann::json::parse(text.value());
  DetectOptions o;
  o.conf = 0.0f;  // every detection the model returns (all have score >= 0.05)
  o.max_det = 1000;
  int images = 0, detections = 0;
  double max_box_err = 0, max_score_err = 0;
  for (const auto& im : ref["images"]) {
    const std::string file = im["file_name"].get<std::string>();
    INFO(file);
    auto img = load_image(segment_dir() + "/val/" + fs::path(file).filename().string());
    REQUIRE_OK(img);
    auto dets = det.value()->detect(img.value(), o, nullptr);
    REQUIRE_OK(dets);
    const auto& boxes = im["boxes"];
    REQUIRE(dets.value().size() == boxes.size());
    for (size_t k = 0; k < boxes.size(); ++k) {
      const Detection& d = dets.value()[k];
      CHECK(d.class_id == im["labels"][k].get<int>());
      const float b[4] = {d.x1, d.y1, d.x2, d.y2};
      for (int j = 0; j < 4; ++j) max_box_err = std::max(max_box_err, std::abs(double(b[j]) - boxes[k][j].get<double>()));
      max_score_err = std::max(max_score_err, std::abs(double(d.score) - im["scores"][k].get<double>()));
    }
    ++images;
    detections += int(boxes.size());
  }
  WARN("shapes-fasterrcnn vs PyTorch on " << images << " images, " << detections << " detections: max |box| "
                                           << max_box_err << " px, max |score| " << max_score_err);
  CHECK(images == 40);
  CHECK(max_box_err < 1e-2);
  CHECK(max_score_err < 1e-4);
}
