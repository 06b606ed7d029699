// End to end through `cvtool detect`: the four COCO models on the sample images,
// COCO AP50 on image 139 and the mmpose images, a 100-image folder with --jobs 2,
// output formats, filters, and bad inputs.
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>

#include "cli_util.h"
#include "onnx_builder.h"
#include "test_util.h"

using namespace cvt::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool have_models() { return exists(mirror_dir() + "/detect/yolox_nano.onnx"); }
std::string img(const std::string& name) { return shared_dir() + "/data/images/" + name; }

double iou_xywh(const json& a, const std::vector<double>& b) {
  const double ax = a[0], ay = a[1], aw = a[2], ah = a[3];
  const double iw = std::min(ax + aw, b[0] + b[2]) - std::max(ax, b[0]);
  const double ih = std::min(ay + ah, b[1] + b[3]) - std::max(ay, b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  return iw * ih / (aw * ah + b[2] * b[3] - iw * ih);
}

// Highest score of `label` in a record (-1 when absent).
double best(const json& rec, const std::string& label, json* bbox = nullptr) {
  double s = -1;
  for (const auto& d : rec["detections"])
    if (d["label"] == label && d["score"].get<double>() > s) {
      s = d["score"].get<double>();
      if (bbox) *bbox = d["bbox"];
    }
  return s;
}

// COCO ground truth for image 139 from the shared transcription (categories as a map there).
std::string write_gt139(const std::string& dir) {
  std::ifstream f(shared_dir() + "/data/coco-139/instances_000000000139_bboxes.json");
  json src = json::parse(f);
  json gt = {{"images", json::array({src["image"]})}, {"annotations", json::array()}, {"categories", json::array()}};
  for (auto a : src["annotations"]) {
    a["image_id"] = 139;
    gt["annotations"].push_back(a);
  }
  for (const auto& [id, name] : src["categories"].items()) gt["categories"].push_back({{"id", std::stoi(id)}, {"name", name}});
  std::string path = dir + "/gt139.json";
  std::ofstream(path) << gt.dump();
  return path;
}

double eval_ap50(const std::string& gt, const std::string& pred) {
  auto r = run_cli("evaluate -q --no-pr-curves --gt '" + gt + "' '" + pred + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  return json::parse(r.out)["summary"]["AP50"].get<double>();
}

}  // namespace

TEST_CASE("detect: dog.jpg and person.jpg with every COCO model", "[detect][golden][cli]") {
  if (!have_models()) SKIP("model mirror not found at " + mirror_dir());
  struct Case {
    const char* model;
    double dog, bicycle, car;  // SOURCES.md scores (0 = not published: presence only)
  };
  for (const Case& c : {Case{"yolox-nano", 0.86, 0.80, 0.80}, Case{"yolo-fastest-xl", 0.96, 0.87, 0.84},
                        Case{"fastestdet", 0.78, 0.74, 0.77}, Case{"yolo-fastest", 0, 0, 0}}) {
    INFO(c.model);
    auto r = run_cli("detect -q --model " + std::string(c.model) + " '" + img("dog.jpg") + "' '" + img("person.jpg") + "'",
                     registry_env());
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto recs = r.records();
    REQUIRE(recs.size() == 2);
    const json& dog = recs[0];
    CHECK(dog["schema"] == "cvtool.detect/1");
    CHECK(dog["box_format"] == "xywh");
    CHECK(dog["model"]["name"] == c.model);
    CHECK(dog["error"].is_null());
    json box;
    const double sd = best(dog, "dog", &box), sb = best(dog, "bicycle"), sc = std::max(best(dog, "car"), best(dog, "truck"));
    INFO("dog " << sd << ", bicycle " << sb << ", car/truck " << sc);
    CHECK(sd > 0.25);
    CHECK(sb > 0.25);
    CHECK(sc > 0.25);
    if (c.dog > 0) {
      CHECK(std::abs(sd - c.dog) <= 0.05);
      CHECK(std::abs(sb - c.bicycle) <= 0.05);
      CHECK(std::abs(best(dog, "car") - c.car) <= 0.05);
    }
    CHECK(iou_xywh(box, {130, 200, 200, 335}) > 0.5);  // the dog sits bottom left
    for (const auto& d : dog["detections"]) {
      CHECK(d["bbox"][0].get<double>() >= 0);
      CHECK(d["bbox"][0].get<double>() + d["bbox"][2].get<double>() <= 768.001);  // clipped to the image
      CHECK(d["bbox"][1].get<double>() + d["bbox"][3].get<double>() <= 576.001);
      if (d["label"] == "dog") CHECK(d["category_id"] == 18);
    }
    CHECK(best(recs[1], "person") > 0.5);
    CHECK(best(recs[1], "dog") > 0.5);
  }
}

TEST_CASE("detect: AP50 on COCO image 139 and the mmpose images is pinned", "[detect][golden][cli]") {
  if (!have_models()) SKIP("model mirror not found at " + mirror_dir());
  const std::string dir = temp_dir("detect_ap");
  const std::string gt139 = write_gt139(dir), gtmm = shared_dir() + "/data/coco-mmpose/test_coco.json";
  // Measured when this test was written; a regression moves them by more than 0.02.
  struct Case {
    const char* model;
    double ap50_139, ap50_mm;
  };
  for (const Case& c : {Case{"yolox-nano", 0.496, 1.000}, Case{"yolo-fastest-xl", 0.337, 0.982}}) {
    INFO(c.model);
    const std::string p139 = dir + "/" + c.model + "_139.json", pmm = dir + "/" + c.model + "_mm.jsonl";
    auto r = run_cli("detect -q --model " + std::string(c.model) + " --conf 0.001 --format coco --coco-gt '" + gt139 +
                         "' -o '" + p139 + "' '" + shared_dir() + "/data/coco-139/000000000139.jpg'",
                     registry_env());
    INFO(r.err);
    REQUIRE(r.code == 0);
    json res = json::parse(std::ifstream(p139));
    REQUIRE(res.is_array());
    REQUIRE(!res.empty());
    CHECK(res[0]["image_id"] == 139);
    // The mmpose images through JSON Lines (cvtool format), evaluated for persons.
    r = run_cli("detect -q --model " + std::string(c.model) + " --conf 0.001 -o '" + pmm + "' '" + shared_dir() +
                    "/data/coco-mmpose/'",
                registry_env());
    REQUIRE(r.code == 0);
    const double a139 = eval_ap50(gt139, p139), amm = eval_ap50(gtmm, pmm);
    INFO("AP50 139 " << a139 << ", mmpose " << amm);
    CHECK(std::abs(a139 - c.ap50_139) <= 0.02);
    CHECK(std::abs(amm - c.ap50_mm) <= 0.02);
  }
}

TEST_CASE("detect: 100 images with --jobs 2: ordered records, COCO results, 100 annotated images", "[detect][golden][cli]") {
  if (!have_models()) SKIP("model mirror not found at " + mirror_dir());
  const std::string dir = temp_dir("detect_100"), in = dir + "/in", ann = dir + "/ann";
  fs::create_directories(in);
  std::vector<fs::path> samples;
  for (const auto& e : fs::directory_iterator(shared_dir() + "/data/images")) samples.push_back(e.path());
  samples.push_back(shared_dir() + "/data/coco-139/000000000139.jpg");
  std::sort(samples.begin(), samples.end());
  json gt = {{"images", json::array()}, {"annotations", json::array()}, {"categories", json::array()}};
  json src = json::parse(std::ifstream(shared_dir() + "/data/coco-139/instances_000000000139_bboxes.json"));
  for (const auto& [id, name] : src["categories"].items()) gt["categories"].push_back({{"id", std::stoi(id)}, {"name", name}});
  for (int i = 0; i < 100; ++i) {
    const fs::path& s = samples[i % samples.size()];
    char name[32];
    std::snprintf(name, sizeof(name), "img%03d", i);
    fs::copy_file(s, in + "/" + name + s.extension().string());
    cv::Mat m = cv::imread(s.string());
    gt["images"].push_back({{"id", i + 1}, {"file_name", name + s.extension().string()}, {"width", m.cols}, {"height", m.rows}});
    if (s.filename() == "000000000139.jpg")
      for (auto a : src["annotations"]) {
        a["image_id"] = i + 1;
        a["id"] = a["id"].get<int64_t>() * 1000 + i;
        gt["annotations"].push_back(a);
      }
  }
  std::ofstream(dir + "/gt.json") << gt.dump();
  auto r = run_cli("detect -q --model yolo-fastest --jobs 2 --annotate '" + ann + "' --coco-results '" + dir +
                       "/res.json' --coco-gt '" + dir + "/gt.json' '" + in + "'",
                   registry_env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto recs = r.records();
  REQUIRE(recs.size() == 100);
  for (size_t i = 0; i < recs.size(); ++i) {
    CHECK(recs[i]["source"]["index"] == i);
    char name[32];
    std::snprintf(name, sizeof(name), "img%03zu", i);
    CHECK(recs[i]["source"]["path"].get<std::string>().find(name) != std::string::npos);
    CHECK(recs[i]["error"].is_null());
  }
  size_t annotated = 0;
  for (const auto& e : fs::directory_iterator(ann)) annotated += fs::file_size(e.path()) > 0;
  CHECK(annotated == 100);
  auto ev = run_cli("evaluate -q --no-pr-curves --gt '" + dir + "/gt.json' '" + dir + "/res.json'");
  INFO(ev.err);
  REQUIRE(ev.code == 0);
  json summary = json::parse(ev.out)["summary"];
  CHECK(summary["AP50"].get<double>() > 0.1);
}

TEST_CASE("detect: formats, filters and never-overwritten annotations", "[detect][cli]") {
  if (!have_models()) SKIP("model mirror not found at " + mirror_dir());
  const std::string dir = temp_dir("detect_fmt");
  const std::string dog = "'" + img("dog.jpg") + "'";
  // --classes by name, --max-det, xyxy boxes.
  auto r = run_cli("detect -q --model yolo-fastest-xl --classes 'dog,2' --box-format xyxy " + dog, registry_env());
  REQUIRE(r.code == 0);
  auto rec = r.records().at(0);
  CHECK(rec["box_format"] == "xyxy");
  CHECK(rec["params"]["classes"] == json::array({"dog", "car"}));
  REQUIRE(!rec["detections"].empty());
  for (const auto& d : rec["detections"]) {
    CHECK((d["label"] == "dog" || d["label"] == "car"));
    CHECK(d["bbox"][2].get<double>() > d["bbox"][0].get<double>());
  }
  r = run_cli("detect -q --model yolo-fastest-xl --max-det 1 " + dog, registry_env());
  CHECK(r.records().at(0)["detections"].size() == 1);
  // Agnostic NMS: car and truck on the same box collapse into one.
  r = run_cli("detect -q --model yolo-fastest-xl --agnostic-nms " + dog, registry_env());
  CHECK(best(r.records().at(0), "truck") < 0);
  CHECK(run_cli("detect -q --classes unicorn " + dog, registry_env()).code == 2);
  // YOLO txt: one file per image, empty for an image without detections; the same input twice
  // gives two annotated files.
  const std::string blank = dir + "/blank.png";
  REQUIRE(cv::imwrite(blank, cv::Mat(64, 64, CV_8UC3, cv::Scalar(128, 128, 128))));
  r = run_cli("detect -q --model yolo-fastest --format yolo -o '" + dir + "/labels' --annotate '" + dir + "/ann' " + dog +
                  " " + dog + " '" + blank + "'",
              registry_env());
  CHECK(r.code == 0);
  CHECK(r.out.empty());
  CHECK(exists(dir + "/labels/dog.txt"));
  CHECK(exists(dir + "/labels/dog_1.txt"));
  CHECK(exists(dir + "/ann/dog.jpg"));
  CHECK(exists(dir + "/ann/dog_1.jpg"));
  CHECK(exists(dir + "/ann/blank.png"));
  REQUIRE(exists(dir + "/labels/blank.txt"));
  CHECK(fs::file_size(dir + "/labels/blank.txt") == 0);
  std::ifstream t(dir + "/labels/dog.txt");
  int cls = -1;
  double cx = -1, cy, w, h, s;
  t >> cls >> cx >> cy >> w >> h >> s;
  CHECK(cls >= 0);
  CHECK((cx > 0 && cx < 1 && w > 0 && w <= 1 && s > 0.25));
}

TEST_CASE("detect: bad inputs give clear errors and the batch goes on", "[detect][darknet][cli]") {
  if (!have_models()) SKIP("model mirror not found at " + mirror_dir());
  const std::string dir = temp_dir("detect_bad");
  // An undecodable image among good ones: an error record, the others processed, exit 3.
  { std::ofstream(dir + "/broken.jpg") << "\xff\xd8\xff\xe0 not a jpeg at all"; }
  auto r = run_cli("detect -q --model yolo-fastest '" + img("dog.jpg") + "' '" + dir + "/broken.jpg' '" + img("person.jpg") + "'",
                   registry_env());
  CHECK(r.code == 3);
  auto recs = r.records();
  REQUIRE(recs.size() == 3);
  CHECK(recs[1]["error"]["code"] == "decode_failed");
  CHECK(recs[1]["detections"].empty());
  CHECK(!recs[2]["detections"].empty());
  // A cfg with an unknown section names it and its line.
  std::string cfg = dir + "/bad.cfg";
  {
    std::ifstream src(mirror_dir() + "/detect/yolo-fastest-1.1.cfg");
    std::ofstream out(cfg);
    out << src.rdbuf() << "\n[mystery_layer]\nsize=3\n";
  }
  fs::copy_file(mirror_dir() + "/detect/yolo-fastest-1.1.weights", dir + "/bad.weights");
  r = run_cli("detect -q --model '" + cfg + "' '" + img("dog.jpg") + "'");
  CHECK(r.code == 4);
  CHECK(r.err.find("unknown section [mystery_layer]") != std::string::npos);
  CHECK(r.err.find("bad.cfg:") != std::string::npos);
  // A weights file cut short names the byte counts.
  fs::copy_file(mirror_dir() + "/detect/yolo-fastest-1.1.cfg", dir + "/short.cfg");
  {
    std::ifstream src(mirror_dir() + "/detect/yolo-fastest-1.1.weights", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
    std::ofstream(dir + "/short.weights", std::ios::binary) << bytes.substr(0, 1000000);
  }
  r = run_cli("detect -q --model '" + dir + "/short.cfg' '" + img("dog.jpg") + "'");
  CHECK(r.code == 4);
  CHECK(r.err.find("too short: 1000000 bytes") != std::string::npos);
  CHECK(r.err.find("1384268") != std::string::npos);
  // A bare .cfg with its .weights beside it works without a manifest.
  fs::copy_file(mirror_dir() + "/detect/yolo-fastest-1.1.weights", dir + "/good.weights");
  fs::copy_file(mirror_dir() + "/detect/yolo-fastest-1.1.cfg", dir + "/good.cfg");
  r = run_cli("detect -q --model '" + dir + "/good.cfg' '" + img("dog.jpg") + "'");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(!r.records().at(0)["detections"].empty());
}

TEST_CASE("detect: a bare YOLOv8-layout ONNX file, boxes mapped back through the resize and clipped", "[detect][cli]") {
  // Output [1, 4+2, 8] = fixed predictions (plus 0 x the input's mean, so the input is used).
  OnnxBuilder b(13);
  b.input("images", {1, 3, 64, 64});
  // 8 candidates (more than 4+C, as in a real [1, 84, 8400] export); only the first two score.
  std::vector<float> pred(6 * 8, 0.f);
  const float cand[2][6] = {{32, 32, 16, 16, 0.9f, 0.1f}, {60, 10, 20, 40, 0.1f, 0.8f}};
  for (int e = 0; e < 6; ++e)
    for (int i = 0; i < 2; ++i) pred[e * 8 + i] = cand[i][e];
  b.output("out", {1, 6, 8});
  b.initializer("pred", {1, 6, 8}, pred);
  b.initializer("zero", {}, {0.f});
  b.initializer_i64("shape", {3}, {1, 3, 1});
  b.node("GlobalAveragePool", {"images"}, {"gap"});
  b.node("Reshape", {"gap", "shape"}, {"gap3"});
  b.node("Mul", {"gap3", "zero"}, {"z"});
  b.node("ReduceSum", {"z"}, {"zs"});
  b.node("Add", {"pred", "zs"}, {"out"});
  const std::string dir = temp_dir("detect_v8");
  std::ofstream(dir + "/tiny_v8.onnx", std::ios::binary) << b.bytes();
  REQUIRE(cv::imwrite(dir + "/wide.png", cv::Mat(64, 128, CV_8UC3, cv::Scalar(10, 20, 30))));
  auto r = run_cli("detect -q --model '" + dir + "/tiny_v8.onnx' '" + dir + "/wide.png'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto rec = r.records().at(0);
  CHECK(rec["model"]["decoder"] == "yolov8");
  REQUIRE(rec["detections"].size() == 2);
  // Network 64x64 stretched from 128x64: x doubles. Candidate 0: (32,32,16,16) -> x 48..80, y 24..40.
  const json& d0 = rec["detections"][0];
  CHECK(d0["class_id"] == 0);
  CHECK(d0["label"] == "0");
  CHECK(d0["category_id"].is_null());
  CHECK(d0["score"].get<double>() == Approx(0.9));
  std::vector<double> want0 = {48, 24, 32, 16}, want1 = {100, 0, 28, 30};
  for (int k = 0; k < 4; ++k) CHECK(d0["bbox"][k].get<double>() == Approx(want0[k]).margin(1e-3));
  // Candidate 1: (60,10,20,40) -> x 100..140 clipped to 128, y -10..30 clipped to 0.
  const json& d1 = rec["detections"][1];
  CHECK(d1["class_id"] == 1);
  for (int k = 0; k < 4; ++k) CHECK(d1["bbox"][k].get<double>() == Approx(want1[k]).margin(1e-3));
}
