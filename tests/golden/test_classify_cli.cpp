// End to end through the CLI: Tiny Darknet on the shared sample images.
#include <filesystem>
#include <fstream>

#include "cli_util.h"
#include "test_util.h"

using namespace cvt::testing;
namespace fs = std::filesystem;

static bool have_mirror() { return exists(mirror_dir() + "/classify/tiny_darknet_from_ml5.onnx"); }

TEST_CASE("classify: eagle is a bald eagle, dog is a dog breed", "[golden][classify][cli]") {
  if (!have_mirror()) SKIP("model mirror not found at " + mirror_dir());
  const std::string img = shared_dir() + "/data/images/";
  auto r = run_cli("classify --topk 5 '" + img + "eagle.jpg' '" + img + "dog.jpg'", registry_env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto recs = r.records();
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["topk"][0]["label"] == "bald eagle");
  CHECK(recs[0]["source"]["path"].get<std::string>().find("eagle.jpg") != std::string::npos);
  CHECK(recs[0]["source"]["width"].get<int>() > 0);
  CHECK(recs[0]["error"].is_null());
  CHECK(recs[0]["model"]["name"] == "tiny-darknet");
  CHECK(recs[0]["topk"].size() == 5);
  for (const char* key : {"decode", "pre", "infer", "post", "total"}) CHECK(recs[0]["timing_ms"][key].is_number());
  // The 118 dog breeds are ImageNet classes 151-268 (torchvision order); Darknet's short
  // names are their first synonyms.
  const std::string dog = recs[1]["topk"][0]["label"];
  INFO("dog.jpg top-1: " << dog);
  std::ifstream labels(mirror_dir() + "/classify/imagenet_labels.txt");
  std::string line;
  bool is_breed = false;
  for (int i = 0; std::getline(labels, line); ++i)
    if (i >= 151 && i <= 268) is_breed = is_breed || line.substr(0, line.find(',')) == dog;
  CHECK(is_breed);
}

TEST_CASE("classify: a folder with a corrupt image gives one record per image and exit 3", "[golden][classify][cli]") {
  if (!have_mirror()) SKIP("model mirror not found");
  std::string dir = temp_dir("folder");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(shared_dir() + "/data/images")) {
    fs::copy_file(e.path(), dir + "/" + e.path().filename().string());
    names.push_back(e.path().filename().string());
  }
  { std::ofstream(dir + "/broken.jpg") << "\xff\xd8\xff\xe0 this is not really a jpeg"; }
  { std::ofstream(dir + "/empty.png"); }
  auto r = run_cli("classify --topk 1 --jobs 2 '" + dir + "'", registry_env());
  INFO(r.err);
  CHECK(r.code == 3);
  auto recs = r.records();
  REQUIRE(recs.size() == names.size() + 2);
  int errors = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    CHECK(recs[i]["source"]["index"] == i);  // input order, whatever --jobs does
    if (!recs[i]["error"].is_null()) {
      ++errors;
      CHECK(recs[i]["error"]["code"] == "decode_failed");
      CHECK(recs[i]["topk"].empty());
    }
  }
  CHECK(errors == 2);
}

TEST_CASE("classify: bad CLI values and missing inputs are usage errors", "[classify][cli]") {
  CHECK(run_cli("classify --topk 0 x.jpg").code == 2);
  CHECK(run_cli("classify --threads -1 x.jpg").code == 2);
  CHECK(run_cli("classify --no-such-flag").code == 2);
  CHECK(run_cli("frobnicate").code == 2);
}

TEST_CASE("classify: a missing file gives an error record, exit 3", "[classify][cli]") {
  if (!have_mirror()) SKIP("model mirror not found");
  auto r = run_cli("classify /nonexistent/cat.jpg", registry_env());
  CHECK(r.code == 3);
  auto recs = r.records();
  REQUIRE(recs.size() == 1);
  CHECK(recs[0]["error"]["code"] == "io_error");
  CHECK(recs[0]["error"]["message"].get<std::string>().find("/nonexistent/cat.jpg") != std::string::npos);
}

TEST_CASE("models: pull verifies checksums, a corrupt mirror file is exit 4", "[models][cli]") {
  if (!have_mirror()) SKIP("model mirror not found");
  std::string cache = temp_dir("cache");
  std::string mirror = temp_dir("mirror");
  fs::create_directories(mirror + "/classify");
  fs::copy_file(mirror_dir() + "/classify/opt-mnist.onnx", mirror + "/classify/opt-mnist.onnx");
  auto ok = run_cli("models pull opt-mnist --mirror '" + mirror + "' --models-dir '" + cache + "'");
  INFO(ok.err);
  CHECK(ok.code == 0);
  CHECK(fs::exists(cache + "/classify/opt-mnist.onnx"));
  CHECK(run_cli("models verify opt-mnist --models-dir '" + cache + "'").code == 0);
  // Corrupt the cached copy: verify and any use of the model must fail with 4.
  { std::ofstream(cache + "/classify/opt-mnist.onnx", std::ios::app) << "x"; }
  CHECK(run_cli("models verify opt-mnist --models-dir '" + cache + "'").code == 4);
  auto use = run_cli("classify --model opt-mnist --models-dir '" + cache + "' '" + shared_dir() + "/data/images/dog.jpg'");
  CHECK(use.code == 4);
  CHECK(use.err.find("sha256") != std::string::npos);
  CHECK(run_cli("models info no-such-model").code == 2);
  CHECK(run_cli("classify --model no-such-model x.jpg").code == 2);
}
