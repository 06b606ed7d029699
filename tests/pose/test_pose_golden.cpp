// The pose model end to end on real COCO images: raw network output against the
// original graph's, the person of image 785 found, COCO keypoint AP of the four
// annotated images pinned, OpenPose JSON files. SKIPs when ../shared is absent.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cli_util.h"
#include "eval/coco_eval.h"
#include "io/npy.h"
#include "models/registry.h"
#include "tasks/pose/pose_estimator.h"
#include "test_paths.h"
#include "test_util.h"

// COCO keypoint AP / AP50 of the four images, measured with the manifest defaults.
#define POSE_GOLDEN_AP 0.3774
#define POSE_GOLDEN_AP50 0.8317

using namespace cvt;
using namespace cvt::testing;
namespace fs = std::filesystem;

namespace {

const char* kModel = "openpose-mobilenet-v2-small";

std::string mmpose_dir() { return shared_dir() + "/data/coco-mmpose"; }

bool have_pose_data() {
  return exists(mirror_dir() + "/pose/tf-pose_mobilenet_v2_small_368x432.onnx") && exists(mmpose_dir() + "/test_coco.json");
}

Result<std::unique_ptr<PoseEstimator>> load_estimator() {
  RegistryConfig c = RegistryConfig::from_environment("cvtool");
  c.manifests_dir = std::string(CVTOOL_SOURCE_DIR) + "/models";
  c.mirror_dir = mirror_dir();
  c.cache_dir = env_or("CVTOOL_MODELS_DIR", std::string(CVTOOL_SOURCE_DIR) + "/.cache/models");
  c.allow_download = false;
  CVT_ASSIGN_OR_RETURN(ResolvedModel m, ModelRegistry(c).resolve(kModel));
  SessionOptions so;
  so.threads = 2;
  return PoseEstimator::create(m, so);
}

}  // namespace

TEST_CASE("pose golden: network output matches the original graph on image 785", "[pose][golden]") {
  if (!have_pose_data()) SKIP("../shared pose model or data absent");
  auto est = load_estimator();
  REQUIRE(est.is_ok());
  cv::Mat img = cv::imread(mmpose_dir() + "/000000000785.jpg");
  REQUIRE(!img.empty());
  cv::Mat r;
  cv::resize(img, r, cv::Size(432, 368), 0, 0, cv::INTER_LINEAR);  // what made the reference (cv2.resize, BGR)
  auto alloc = Tensor::try_alloc(DType::kFloat32, {1, 3, 368, 432});
  REQUIRE(alloc.is_ok());
  Tensor in = alloc.value();
  float* p = in.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 368; ++y)
      for (int x = 0; x < 432; ++x) p[(c * 368 + y) * 432 + x] = r.at<cv::Vec3b>(y, x)[c];
  auto out = est.value()->run_raw(in);
  REQUIRE(out.is_ok());
  auto ref = read_npy(mirror_dir() + "/pose/ref_output_785_368x432_nchw.npy");
  REQUIRE(ref.is_ok());
  REQUIRE(out.value()[0].shape() == Shape{1, 57, 46, 54});
  CHECK_TENSOR_NEAR(out.value()[0], ref.value(), 1e-3, 0);
}

TEST_CASE("pose golden: the person of image 785 is found where the ground truth has them", "[pose][golden]") {
  if (!have_pose_data()) SKIP("../shared pose model or data absent");
  auto est = load_estimator();
  REQUIRE(est.is_ok());
  cv::Mat img = cv::imread(mmpose_dir() + "/000000000785.jpg");
  PoseOptions o;  // the manifest's decoder settings
  auto people = est.value()->estimate(img, o, nullptr);
  REQUIRE(people.is_ok());
  REQUIRE(!people.value().empty());
  // Ground truth: the single annotated person of image 785.
  std::ifstream f(mmpose_dir() + "/test_coco.json");
  nlohmann::json gt = nlohmann::json::parse(f);
  std::vector<double> gt_kps;
  eval::Box gt_box{};
  double gt_area = 0;
  int n785 = 0;
  for (const auto& a : gt["annotations"])
    if (a["image_id"] == 785) {
      gt_kps = a["keypoints"].get<std::vector<double>>();
      auto b = a["bbox"].get<std::vector<double>>();
      gt_box = {b[0], b[1], b[2], b[3]};
      gt_area = a["area"].get<double>();
      ++n785;
    }
  REQUIRE(n785 == 1);
  const auto& coco17 = est.value()->config().coco17;
  double best = 0;
  for (const PersonPose& person : people.value()) {
    std::vector<double> det;
    for (int part : coco17) {
      det.push_back(person.keypoints[part].x);
      det.push_back(person.keypoints[part].y);
      det.push_back(person.keypoints[part].score > 0 ? 1 : 0);
    }
    best = std::max(best, eval::keypoint_oks(det, &gt_kps, gt_box, gt_area, eval::coco17_sigmas()));
  }
  INFO("best OKS " << best);
  CHECK(best > 0.75);
  CHECK(people.value()[0].num_parts >= 15);
}

TEST_CASE("pose golden: COCO keypoint AP on the four annotated COCO images is pinned", "[pose][golden][cli]") {
  if (!have_pose_data()) SKIP("../shared pose model or data absent");
  const std::string dir = temp_dir("pose_ap");
  const std::string gt = mmpose_dir() + "/test_coco.json";
  std::string imgs;
  for (const char* n : {"000000000785.jpg", "000000040083.jpg", "000000196141.jpg", "000000197388.jpg"})
    imgs += " '" + mmpose_dir() + "/" + n + "'";
  auto pose = run_cli("pose --format coco -o '" + dir + "/poses.json' --coco-gt '" + gt + "' --threads 2" + imgs, registry_env());
  INFO(pose.err);
  REQUIRE(pose.code == 0);
  auto ev = run_cli("evaluate --gt '" + gt + "' '" + dir + "/poses.json' --task keypoints -q");
  INFO(ev.err);
  REQUIRE(ev.code == 0);
  nlohmann::json doc = nlohmann::json::parse(ev.out);
  const double ap = doc["summary"]["AP"].get<double>();
  const double ap50 = doc["summary"]["AP50"].get<double>();
  INFO("AP " << ap << " AP50 " << ap50);
  // Measured with this decoder and the manifest's defaults (scale 1, upsample 4).
  CHECK(ap == Approx(POSE_GOLDEN_AP).margin(0.01));
  CHECK(ap50 == Approx(POSE_GOLDEN_AP50).margin(0.01));
  fs::remove_all(dir);
}

TEST_CASE("pose golden: --format openpose writes valid OpenPose 1.3 files, nobody included", "[pose][golden][cli]") {
  if (!have_pose_data()) SKIP("../shared pose model or data absent");
  const std::string dir = temp_dir("pose_openpose");
  cv::Mat empty(240, 320, CV_8UC3, cv::Scalar(90, 120, 150));
  REQUIRE(cv::imwrite(dir + "/blank.png", empty));
  auto r = run_cli("pose --format openpose -o '" + dir + "/out' --annotate '" + dir + "/ann' --threads 2 '" + mmpose_dir() +
                       "/000000000785.jpg' '" + dir + "/blank.png'",
                   registry_env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const char* stem : {"000000000785", "blank"}) {
    const std::string path = dir + "/out/" + stem + "_keypoints.json";
    REQUIRE(exists(path));
    std::ifstream f(path);
    nlohmann::json doc = nlohmann::json::parse(f);
    REQUIRE(doc["version"].is_number());
    CHECK(doc["version"].get<double>() == Approx(1.3));
    REQUIRE(doc["people"].is_array());
    for (const auto& p : doc["people"]) {
      CHECK(p["person_id"] == nlohmann::json::array({-1}));
      REQUIRE(p["pose_keypoints_2d"].size() == 18 * 3);
      for (const char* key : {"face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d", "pose_keypoints_3d",
                              "face_keypoints_3d", "hand_left_keypoints_3d", "hand_right_keypoints_3d"})
        CHECK(p[key] == nlohmann::json::array());
    }
    if (std::string(stem) == "blank") CHECK(doc["people"].empty());
    else CHECK(!doc["people"].empty());
    CHECK(exists(dir + "/ann/" + stem + (std::string(stem) == "blank" ? ".png" : ".jpg")));
  }
  fs::remove_all(dir);
}

TEST_CASE("pose golden: JSONL records, multi-scale and usage errors", "[pose][golden][cli]") {
  if (!have_pose_data()) SKIP("../shared pose model or data absent");
  const std::string img = "'" + mmpose_dir() + "/000000000785.jpg'";
  auto r = run_cli("pose --scales 1,0.75 --threads 2 " + img + " /nonexistent.jpg", registry_env());
  REQUIRE(r.code == 3);  // one input failed
  auto recs = r.records();
  REQUIRE(recs.size() == 2);
  const auto& rec = recs[0];
  CHECK(rec["schema"] == "cvtool.pose/1");
  CHECK(rec["keypoint_format"] == "COCO_18");
  REQUIRE(rec["keypoint_names"].size() == 18);
  CHECK(rec["keypoint_names"][1] == "Neck");
  CHECK(rec["params"]["scales"] == nlohmann::json::array({1, 0.75}));
  REQUIRE(!rec["people"].empty());
  const auto& p = rec["people"][0];
  REQUIRE(p["keypoints"].size() == 54);
  CHECK(p["bbox"].size() == 4);
  CHECK(p["score"].get<double>() > 0.4);
  for (size_t k = 0; k < 18; ++k) {  // inside the 640x425 image, or 0,0,0
    const double x = p["keypoints"][3 * k], y = p["keypoints"][3 * k + 1], c = p["keypoints"][3 * k + 2];
    if (c == 0) CHECK((x == 0 && y == 0));
    else CHECK((x >= 0 && x <= 640 && y >= 0 && y <= 425));
  }
  CHECK(!recs[1]["error"].is_null());

  auto big = run_cli("pose --scales 1.5 " + img, registry_env());
  CHECK(big.code == 2);  // the model's input is fixed at 432x368
  CHECK(big.err.find("fixed") != std::string::npos);
  CHECK(run_cli("pose --scales 0,x " + img, registry_env()).code == 2);
  CHECK(run_cli("pose --format openpose " + img, registry_env()).code == 2);  // needs -o DIR
}
