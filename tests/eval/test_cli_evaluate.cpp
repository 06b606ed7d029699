// End-to-end `cvtool evaluate`: fixture values through the CLI, exit codes (0/1/2/5),
// the PNG plot and `evaluate iou`. Skipped when the binary or the shared data is absent.
#include "cvtool_test_paths.h"
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_util.h"
#include "eval_test_util.h"

using namespace cvt::eval::testing;
namespace fs = std::filesystem;

namespace {

std::string binary() {
  if (const char* e = std::getenv("CVTOOL_EVAL_BINARY")) return e;  // lets a private build be tested
  return CVTOOL_BINARY;
}

struct Run {
  int rc = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Run run(const std::string& args) {
  const fs::path dir = cvt::testing::temp_dir("cli_eval");
  const std::string cmd = binary() + " " + args + " >" + (dir / "out").string() + " 2>" + (dir / "err").string();
  const int st = std::system(cmd.c_str());
  Run r;
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  return r;
}

bool have_cli() {
  static const bool ok = fs::exists(binary()) && run("evaluate --help").rc == 0;
  return ok;
}

#define EVAL_REQUIRE_CLI()                                                          \
  do {                                                                              \
    if (!have_cli()) {                                                              \
      WARN("skipped: " << binary() << " has no working `evaluate` command");       \
      return;                                                                       \
    }                                                                               \
  } while (0)

nlohmann::json parse(const Run& r) {
  INFO(r.err);
  REQUIRE(r.rc == 0);
  return nlohmann::json::parse(r.out);
}

}  // namespace

TEST_CASE("cli: --help teaches (formats, protocols, examples, exit codes)", "[eval][cli]") {
  EVAL_REQUIRE_CLI();
  const Run r = run("evaluate --help");
  for (const char* s : {"Examples:", "--fail-below", "voc07", "darknet", "Exit codes", "cvtool evaluate iou"})
    CHECK(r.out.find(s) != std::string::npos);
}

TEST_CASE("cli: fixture A through the CLI, all eight values", "[eval][cli][fixture]") {
  EVAL_REQUIRE_CLI();
  EVAL_REQUIRE_SHARED("data/eval/test_case_1");
  const std::string base = "evaluate --gt " + shared_path("data/eval/test_case_1/gts") + " " +
                           shared_path("data/eval/test_case_1/dets") +
                           " --iou-compare '>=' --iou-thrs 0.1,0.3,0.5,0.75 -q --protocol ";
  const auto v07 = parse(run(base + "voc07"));
  const auto v12 = parse(run(base + "voc12"));
  const std::pair<const char*, double> e07[] = {{"mAP@0.1", 0.3333333333}, {"mAP@0.3", 0.2683982683},
                                                {"mAP@0.5", 0.0303030303}, {"mAP@0.75", 0.0}};
  const std::pair<const char*, double> e12[] = {{"mAP@0.1", 0.3371980676}, {"mAP@0.3", 0.2456866804},
                                                {"mAP@0.5", 0.0222222222}, {"mAP@0.75", 0.0}};
  for (const auto& [k, v] : e07) CHECK(std::fabs(v07["summary"][k].get<double>() - v) < 1e-9);
  for (const auto& [k, v] : e12) CHECK(std::fabs(v12["summary"][k].get<double>() - v) < 1e-9);
  CHECK(v12["params"]["pixel_plus_one"] == true);
  CHECK(v12["params"]["iou_compare"] == ">=");
}

TEST_CASE("cli: fixture B with COCO JSON detections; gate and exit codes", "[eval][cli][fixture]") {
  EVAL_REQUIRE_CLI();
  EVAL_REQUIRE_SHARED("data/eval/toyexample");
  const std::string root = shared_path("data/eval/toyexample/");
  const std::string base = "evaluate --gt " + root + "gts_vocpascal_format --pred " + root +
                           "dets_coco_format/coco_dets.json -q --protocol voc12 --iou-thrs 0.5,0.75";
  const auto doc = parse(run(base));
  CHECK(std::round(doc["summary"]["mAP@0.5"].get<double>() * 1e4) == 8958);
  CHECK(std::round(doc["summary"]["mAP@0.75"].get<double>() * 1e4) == 5097);
  CHECK(doc["inputs"]["category_match"] == "name");
  CHECK(run(base + " --fail-below mAP@0.5=0.8").rc == 0);
  const Run gate = run(base + " --fail-below mAP@0.75=0.6");
  CHECK(gate.rc == 5);
  CHECK(gate.err.find("gate failed") != std::string::npos);
  CHECK(!gate.out.empty());  // the document is still written
  CHECK(run(base + " --fail-below nosuch=1").rc == 2);
  CHECK(run(base + " --fail-below AP").rc == 2);
}

TEST_CASE("cli: usage errors exit 2, unreadable input exits 1 naming the file", "[eval][cli]") {
  EVAL_REQUIRE_CLI();
  CHECK(run("evaluate preds.json").rc == 2);  // no --gt
  CHECK(run("evaluate --gt a.json b.json --task boxes").rc == 2);
  CHECK(run("evaluate --gt a.json b.json --iou-thrs 0.9:0.5:0.1").rc == 2);
  CHECK(run("evaluate --gt a.json b.json --protocol voc07 --task segm").rc == 2);
  CHECK(run("evaluate --gt a.json b.json --no-such-flag").rc == 2);
  const Run missing = run("evaluate --gt /nonexistent/gt.json /nonexistent/p.json");
  CHECK(missing.rc == 1);
  CHECK(missing.err.find("/nonexistent/gt.json") != std::string::npos);
}

TEST_CASE("cli: COCO keypoints, PNG plot and pairwise IoU", "[eval][cli]") {
  EVAL_REQUIRE_CLI();
  EVAL_REQUIRE_SHARED("data/coco-mmpose/test_coco.json");
  const fs::path dir = fs::temp_directory_path() / ("cvtool_cli_kp_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // predictions = the ground-truth people themselves
  const auto gt = nlohmann::json::parse(slurp(shared_path("data/coco-mmpose/test_coco.json")));
  nlohmann::json res = nlohmann::json::array();
  double s = 0.5;
  for (const auto& a : gt["annotations"])
    if (a["num_keypoints"].get<int>() > 0)  // unlabeled people would be (correctly) false positives
      res.push_back({{"image_id", a["image_id"]}, {"category_id", 1}, {"keypoints", a["keypoints"]}, {"score", s += 0.01}});
  std::ofstream(dir / "kp.json") << res.dump();
  const auto doc = parse(run("evaluate -q --task keypoints --gt " + shared_path("data/coco-mmpose/test_coco.json") + " " +
                             (dir / "kp.json").string() + " --plot " + (dir / "plots").string()));
  CHECK(doc["summary"]["AP"].get<double>() > 0.999);
  CHECK(doc["summary"].contains("ARm"));
  CHECK_FALSE(doc["summary"].contains("APs"));
  CHECK(doc["counts"]["gt_ignored"] == 2);  // two people with num_keypoints 0
  CHECK(fs::file_size(dir / "plots" / "pr_curve.png") > 1000);
  // the same file twice pairs every object with IoU 1
  nlohmann::json boxes = nlohmann::json::array();
  for (const auto& a : gt["annotations"])
    boxes.push_back({{"image_id", a["image_id"]}, {"category_id", 1}, {"bbox", a["bbox"]}, {"score", 1}});
  std::ofstream(dir / "boxes.json") << boxes.dump();
  const auto pw = parse(run("evaluate iou -q " + (dir / "boxes.json").string() + " " + (dir / "boxes.json").string()));
  CHECK(pw["counts"]["pairs"] == gt["annotations"].size());
  CHECK(pw["mean_iou"].get<double>() == 1.0);
  CHECK(pw["unmatched_a"].empty());
  fs::remove_all(dir);
}
