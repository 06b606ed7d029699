// End to end through `cvtool segment` / `cvtool detect` with the torchvision R-CNN exports:
// COCO box and mask AP of shapes-maskrcnn on the 40 validation images through
// `cvtool evaluate` (pinned: the numbers PyTorch's own evaluation gives), the mask
// formats (RLE decodes to the record's area, polygons, PNG files), annotation, the
// shared detect output layer with shapes-fasterrcnn, and usage errors.
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "cli_util.h"
#include "eval/rle.h"
#include "io/npy.h"
#include "test_util.h"

using namespace cvt::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string val_dir() { return shared_dir() + "/models/segment/val"; }
bool have_models() { return exists(mirror_dir() + "/segment/shapes_maskrcnn.onnx") && exists(val_dir() + "/000001.png"); }

json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);
}

}  // namespace

TEST_CASE("segment: COCO box and mask AP on the shapes validation set", "[rcnn][cli][segment]") {
  if (!have_models()) SKIP("shapes models or validation images missing");
  const std::string dir = temp_dir("segm_ap");
  const std::string gt = val_dir() + "/instances_val.json";
  auto r = run_cli("segment --format coco --conf 0.05 -o '" + dir + "/segm.json' --coco-gt '" + gt + "' -r '" + val_dir() + "' -q",
                   registry_env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  const json results = read_json(dir + "/segm.json");
  REQUIRE(results.is_array());
  CHECK(results.size() > 400);  // all detections above 0.05 on 40 images
  CHECK(results[0].contains("segmentation"));
  // The README's numbers from torchvision-side evaluation: box AP50 0.573 / AP 0.330, mask AP50 0.553 / AP 0.397.
  const std::map<std::string, std::map<std::string, double>> pinned = {
      {"bbox", {{"AP", 0.3297}, {"AP50", 0.5726}, {"AP75", 0.3171}}},
      {"segm", {{"AP", 0.3973}, {"AP50", 0.5533}, {"AP75", 0.4534}}}};
  for (const auto& [task, metrics] : pinned) {
    auto e = run_cli("evaluate --gt '" + gt + "' '" + dir + "/segm.json' --task " + task + " --no-pr-curves -q");
    INFO(task << ": " << e.err);
    REQUIRE(e.code == 0);
    const json summary = json::parse(e.out)["summary"];
    for (const auto& [key, value] : metrics) {
      INFO(task << " " << key);
      CHECK(summary[key].get<double>() == Approx(value).margin(0.002));
    }
  }
}

TEST_CASE("segment: mask formats, annotation and the shared detect layer", "[rcnn][cli][segment]") {
  if (!have_models()) SKIP("shapes models or validation images missing");
  const std::string dir = temp_dir("segm_fmt");
  const std::string image = val_dir() + "/000001.png";
  // RLE (default): decodes to exactly `area` pixels, boxes like detect's.
  auto r = run_cli("segment '" + image + "' --annotate '" + dir + "/ann'", registry_env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto recs = r.records();
  REQUIRE(recs.size() == 1);
  const json& dets = recs[0]["detections"];
  REQUIRE(dets.size() == 5);  // PyTorch: 5 detections above 0.5 on image 1
  CHECK(recs[0]["schema"] == "cvtool.segment/1");
  // PyTorch's mask probabilities for image 1, in score order like the records.
  auto ref = cvt::read_npy(shared_dir() + "/models/segment/refs/000001_masks.npy");
  REQUIRE_OK(ref);
  for (size_t k = 0; k < dets.size(); ++k) {
    const json& d = dets[k];
    const json& seg = d["segmentation"];
    REQUIRE(seg["size"] == json::array({256, 256}));
    auto rle = cvt::eval::rle_from_string(seg["counts"].get<std::string>(), 256, 256);
    REQUIRE(rle.is_ok());
    // Column-major RLE decodes to PyTorch's mask > 0.5.
    auto decoded = cvt::eval::rle_decode(rle.value());
    REQUIRE_OK(decoded);
    const float* p = ref.value().data<float>() + k * 256 * 256;
    int differ = 0;
    for (int x = 0; x < 256; ++x)
      for (int y = 0; y < 256; ++y) differ += (decoded.value()[x * 256 + y] != 0) != (p[y * 256 + x] > 0.5f);
    CHECK(differ <= 2);
    CHECK(int64_t(cvt::eval::rle_area(rle.value())) == d["area"].get<int64_t>());
    CHECK(d["area"].get<int64_t>() > 100);
    CHECK(d["category_id"] == d["class_id"]);
  }
  CHECK(exists(dir + "/ann/000001.png"));
  // Polygons: one or more rings of >= 3 points per instance.
  r = run_cli("segment '" + image + "' --mask-format polygon", registry_env());
  REQUIRE(r.code == 0);
  const auto polygon_records = r.records();  // the range below must not point into a temporary
  for (const auto& d : polygon_records[0]["detections"]) {
    REQUIRE(d["segmentation"].is_array());
    REQUIRE(!d["segmentation"].empty());
    for (const auto& ring : d["segmentation"]) CHECK(ring.size() >= 6);
  }
  // PNG: one 0/255 mask per instance, at image size, with the record's area.
  r = run_cli("segment '" + image + "' --mask-format png --mask-dir '" + dir + "/masks'", registry_env());
  REQUIRE(r.code == 0);
  const auto png_records = r.records();
  for (const auto& d : png_records[0]["detections"]) {
    cv::Mat m = cv::imread(d["mask_file"].get<std::string>(), cv::IMREAD_UNCHANGED);
    REQUIRE(!m.empty());
    CHECK(m.cols == 256);
    CHECK(m.rows == 256);
    CHECK(cv::countNonZero(m) == d["area"].get<int>());
  }
  // A higher mask threshold only shrinks masks.
  auto hi = run_cli("segment '" + image + "' --mask-threshold 0.9", registry_env());
  REQUIRE(hi.code == 0);
  CHECK(hi.records()[0]["detections"][0]["area"].get<int>() < dets[0]["area"].get<int>());
  // detect with the Faster R-CNN: same boxes and scores through the same output layer.
  auto det = run_cli("detect --model shapes-fasterrcnn '" + image + "' --format coco", registry_env());
  REQUIRE(det.code == 0);
  const json coco = json::parse(det.out);
  REQUIRE(coco.size() == dets.size());
  for (size_t k = 0; k < dets.size(); ++k) {
    CHECK(coco[k]["category_id"] == dets[k]["class_id"]);
    CHECK(coco[k]["score"].get<double>() == Approx(dets[k]["score"].get<double>()).epsilon(1e-5));
  }
  // Usage errors: png without a folder; a model without masks.
  CHECK(run_cli("segment '" + image + "' --mask-format png", registry_env()).code == 2);
  auto no_masks = run_cli("segment --model shapes-fasterrcnn '" + image + "'", registry_env());
  CHECK(no_masks.code == 4);
  CHECK(no_masks.err.find("no mask output") != std::string::npos);
}
