// The pose pipeline on a tiny hand-made network with a dynamic input: sizing to
// the network height, width rounded up to the stride, scales above 1, maps
// resampled and averaged, keypoints mapped back to image pixels; manifest errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "cli_util.h"
#include "onnx_builder.h"
#include "tasks/pose/pose_estimator.h"

using namespace cvt;
using namespace cvt::testing;

namespace {

// Output [1, 5, H/8, W/8]: heatmap 0 = mean of the B channel / 255 over each 8x8 cell, heatmap 1 =
// the same of G, 2 = background (0), PAF x = 1 everywhere, PAF y = 0.
std::string write_tiny_pose_model(const std::string& dir) {
  OnnxBuilder b(13);
  b.input("image", {1, 3, -1, -1});
  b.output("maps", {1, 5, -1, -1});
  std::vector<float> w(5 * 3 * 8 * 8, 0.f);
  for (int i = 0; i < 64; ++i) {
    w[(0 * 3 + 0) * 64 + i] = 1.f / (64 * 255);
    w[(1 * 3 + 1) * 64 + i] = 1.f / (64 * 255);
  }
  b.initializer("w", {5, 3, 8, 8}, w);
  b.initializer("b", {5}, {0, 0, 0, 1, 0});
  auto& conv = b.node("Conv", {"image", "w", "b"}, {"maps"});
  OnnxBuilder::attr_ints(conv, "kernel_shape", {8, 8});
  OnnxBuilder::attr_ints(conv, "strides", {8, 8});
  const std::string path = dir + "/tiny_pose.onnx";
  std::ofstream(path, std::ios::binary) << b.bytes();
  return path;
}

nlohmann::json tiny_manifest() {
  return nlohmann::json::parse(R"({
    "name": "tiny-pose", "task": "pose", "format": "onnx",
    "files": [{"role": "model", "path": "tiny_pose.onnx", "sha256": "0000000000000000000000000000000000000000000000000000000000000001"}],
    "input": {"name": "image", "size": [0, 64], "color": "BGR", "scale": 1.0, "pad_value": 0},
    "decoder": {"type": "openpose_paf", "keypoint_format": "TWO", "parts": ["left", "right"],
                "heatmap_offset": 0, "paf_offset": 3, "stride": 8, "limbs": [[0, 1, 0, 1]],
                "min_parts": 2, "min_score": 0.1, "upsample": 4, "smooth_sigma": 0.5}
  })");
}

void blob(cv::Mat& img, int channel, float cx, float cy, float sigma) {
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      const float d2 = (x + 0.5f - cx) * (x + 0.5f - cx) + (y + 0.5f - cy) * (y + 0.5f - cy);
      img.at<cv::Vec3b>(y, x)[channel] = cv::saturate_cast<uchar>(255 * std::exp(-d2 / (2 * sigma * sigma)));
    }
}

}  // namespace

TEST_CASE("pose pipeline: dynamic input, any image size, keypoints back in image pixels", "[pose]") {
  const std::string dir = temp_dir("pose_tiny");
  ResolvedModel rm;
  auto mf = parse_manifest(tiny_manifest(), "tiny-pose.json");
  REQUIRE(mf.is_ok());
  rm.manifest = mf.value();
  rm.model_path = write_tiny_pose_model(dir);
  rm.from_manifest = true;
  auto est = PoseEstimator::create(rm, SessionOptions{});
  REQUIRE(est.is_ok());
  CHECK(est.value()->dynamic_width());
  CHECK_FALSE(est.value()->fixed_size());

  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{150, 60}, {97, 131}}) {
    cv::Mat img(h, w, CV_8UC3, cv::Scalar(0, 0, 0));
    const float lx = 0.25f * w, rx = 0.7f * w, y = 0.5f * h;
    blob(img, 0, lx, y, 0.06f * h);
    blob(img, 1, rx, y, 0.06f * h);
    for (const std::vector<float>& scales : {std::vector<float>{1.f}, std::vector<float>{1.f, 1.5f, 0.5f}}) {
      PoseOptions o;
      o.scales = scales;
      auto people = est.value()->estimate(img, o, nullptr);
      REQUIRE(people.is_ok());
      INFO(w << "x" << h << " scales " << scales.size());
      REQUIRE(people.value().size() == 1);
      const PersonPose& p = people.value()[0];
      CHECK(p.num_parts == 2);
      const float tol = 0.04f * h;  // a few network pixels
      CHECK(std::abs(p.keypoints[0].x - lx) < tol);
      CHECK(std::abs(p.keypoints[0].y - y) < tol);
      CHECK(std::abs(p.keypoints[1].x - rx) < tol);
      CHECK(std::abs(p.keypoints[1].y - y) < tol);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("pose pipeline: manifest decoder blocks are validated", "[pose]") {
  nlohmann::json d = tiny_manifest()["decoder"];
  CHECK(parse_pose_config(d).is_ok());
  auto bad = [&](const char* key, nlohmann::json v) {
    nlohmann::json x = d;
    x[key] = v;
    return !parse_pose_config(x).is_ok();
  };
  CHECK(bad("type", "yolo"));
  CHECK(bad("limbs", nlohmann::json::parse("[[0, 2, 0, 1]]")));   // part 2 does not exist
  CHECK(bad("limbs", nlohmann::json::parse("[[0, 1, 0, 2]]")));   // PAF channel 2 of 2
  CHECK(bad("limbs", nlohmann::json::parse("[[0, 1, 0]]")));      // not 4 numbers
  CHECK(bad("parts", nlohmann::json::array()));
  CHECK(bad("redundant_limbs", nlohmann::json::parse("[3]")));
  CHECK(bad("upsample", 0));
  CHECK(bad("stride", -8));
  CHECK(bad("coco17", nlohmann::json::parse("[0, 1]")));
  CHECK(bad("line_samples", 0));
  CHECK(!parse_pose_config(nlohmann::json::array()).is_ok());
  auto s = parse_scales("1,0.75");
  REQUIRE(s.is_ok());
  CHECK(s.value() == std::vector<float>{1.f, 0.75f});
  CHECK(!parse_scales("1,,2").is_ok());
  CHECK(!parse_scales("0").is_ok());
  CHECK(!parse_scales("abc").is_ok());
}
