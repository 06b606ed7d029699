// Acceptance 5 and the readers: bad input names the file and line (or element) and the
// ids that do not fit; format detection; layouts; bind's joins.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "eval/evaluate.h"
#include "eval/image_size.h"
#include "eval/readers.h"
#include "eval/xml.h"
#include "eval_test_util.h"

using namespace cvt::eval;
using namespace cvt::eval::testing;
namespace fs = std::filesystem;

namespace {

// A fresh temporary folder per test case.
struct TmpDir {
  fs::path root;
  explicit TmpDir(const std::string& name) {
    root = fs::temp_directory_path() / ("cvtool_eval_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~TmpDir() { fs::remove_all(root); }
  std::string write(const std::string& rel, const std::string& text) const {
    const fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
};

const char* kGt = R"({"images":[{"id":1,"file_name":"a.jpg","width":100,"height":100},
                                 {"id":2,"file_name":"b.jpg","width":100,"height":100}],
  "categories":[{"id":1,"name":"person"},{"id":3,"name":"car"}],
  "annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,10,10],"area":100,"iscrowd":0},
                 {"id":2,"image_id":2,"category_id":3,"bbox":[5,5,20,20],"area":400,"iscrowd":0}]})";

cvt::Result<Bound> load(const std::string& gt, const std::string& dt) {
  ReadOptions g;
  g.side = Side::kGroundTruth;
  ReadOptions d;
  d.side = Side::kPrediction;
  auto G = read_dataset(gt, g);
  if (!G.is_ok()) return G.status();
  auto D = read_dataset(dt, d);
  if (!D.is_ok()) return D.status();
  return bind(std::move(G).value(), std::move(D).value(), {});
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("bad input: results with unknown image ids are reported by id", "[eval][readers]") {
  TmpDir t("unknown_img");
  const auto gt = t.write("gt.json", kGt);
  // one good, two on image 7 (not in the ground truth)
  const auto dt = t.write("dt.json", R"([{"image_id":1,"category_id":1,"bbox":[0,0,10,10],"score":0.9},
    {"image_id":7,"category_id":1,"bbox":[0,0,10,10],"score":0.8},{"image_id":7,"category_id":3,"bbox":[0,0,1,1],"score":0.1}])");
  auto b = load(gt, dt);
  REQUIRE(b.is_ok());
  CHECK(b.value().dt.anns.size() == 1);
  CHECK(b.value().dropped_unknown_image == 2);
  REQUIRE(b.value().warnings.size() == 1);
  CHECK(contains(b.value().warnings[0], "image_id 7 (2x)"));
  // nothing joins: an error, never a silent AP of 0
  const auto bad = t.write("bad.json", R"([{"image_id":70,"category_id":1,"bbox":[0,0,10,10],"score":0.9}])");
  auto e = load(gt, bad);
  REQUIRE_FALSE(e.is_ok());
  CHECK(contains(e.status().message(), "image_id 70"));
}

TEST_CASE("ground-truth annotations on unlisted images are reported, not evaluated", "[eval][readers]") {
  TmpDir t("stray");
  const auto gt = t.write("gt.json", R"({"images":[{"id":1,"width":10,"height":10}],"categories":[{"id":1}],
    "annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,1,1],"area":1},
                   {"id":2,"image_id":5,"category_id":1,"bbox":[0,0,1,1],"area":1}]})");
  const auto dt = t.write("dt.json", R"([{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":0.9}])");
  auto b = load(gt, dt);
  REQUIRE(b.is_ok());
  CHECK(b.value().gt.anns.size() == 1);
  REQUIRE(b.value().warnings.size() == 1);
  CHECK(contains(b.value().warnings[0], "image_id 5"));
}

TEST_CASE("bad input: unknown category ids are named, 0-based ids get a hint", "[eval][readers]") {
  TmpDir t("unknown_cat");
  const auto gt = t.write("gt.json", kGt);
  const auto dt = t.write("dt.json", R"([{"image_id":1,"category_id":1,"bbox":[0,0,10,10],"score":0.9},
    {"image_id":1,"category_id":2,"bbox":[0,0,10,10],"score":0.8}])");
  auto b = load(gt, dt);
  REQUIRE(b.is_ok());
  REQUIRE(b.value().warnings.size() == 1);
  CHECK(contains(b.value().warnings[0], "category_id 2"));
  const auto yolo = t.write("yolo.json", R"([{"image_id":1,"category_id":0,"bbox":[0,0,10,10],"score":0.9}])");
  auto e = load(gt, yolo);
  REQUIRE_FALSE(e.is_ok());
  CHECK(contains(e.status().message(), "category_id 0"));
  CHECK(contains(e.status().message(), "0-based"));
}

TEST_CASE("bad input: malformed JSON, JSONL, XML and txt name file and line", "[eval][readers]") {
  TmpDir t("malformed");
  ReadOptions gt;
  gt.side = Side::kGroundTruth;
  ReadOptions pred;
  pred.side = Side::kPrediction;
  {
    const auto p = t.write("broken.json", "{\n  \"images\": [],\n  \"annotations\": [,]\n}\n");
    auto r = read_dataset(p, gt);
    REQUIRE_FALSE(r.is_ok());
    CHECK(contains(r.status().message(), p + ":3:"));
  }
  {
    const auto p = t.write("preds.jsonl",
                           "{\"source\":{\"path\":\"a.jpg\"},\"detections\":[]}\n{\"source\":{\"path\":\"b.jpg\"},\"detections\":[}\n");
    auto r = read_dataset(p, pred);
    REQUIRE_FALSE(r.is_ok());
    CHECK(contains(r.status().message(), p + ":2:"));
  }
  {
    const auto p = t.write("voc/x.xml",
                           "<annotation>\n <object>\n  <name>cat</name>\n  <bndbox><xmin>1</xmin></bndbx>\n </object>\n</annotation>\n");
    auto r = read_dataset(t.root.string() + "/voc", gt);
    REQUIRE_FALSE(r.is_ok());
    CHECK(contains(r.status().message(), p + ":4:"));
    CHECK(contains(r.status().message(), "</bndbx>"));
  }
  {
    const auto p = t.write("voc2/y.xml",
                           "<annotation>\n <object>\n  <name>cat</name>\n  <bndbox>\n   <xmin>1</xmin><ymin>2</ymin>\n"
                           "   <xmax>oops</xmax><ymax>4</ymax>\n  </bndbox>\n </object>\n</annotation>\n");
    auto r = read_dataset(t.root.string() + "/voc2", gt);
    REQUIRE_FALSE(r.is_ok());
    CHECK(contains(r.status().message(), p + ":6:"));
    CHECK(contains(r.status().message(), "oops"));
  }
  {
    t.write("txt/a.txt", "cat 0.9 1 2 3 4\n");
    const auto p = t.write("txt/b.txt", "cat 0.9 1 2 3 4\n\ncat 0.5 1 2 x 4\n");
    auto r = read_dataset(t.root.string() + "/txt", pred);
    REQUIRE_FALSE(r.is_ok());
    CHECK(contains(r.status().message(), p + ":3:"));
    const auto q = t.write("txt2/c.txt", "cat 1 2 3 4\n");  // ground-truth layout given as predictions
    auto r2 = read_dataset(t.root.string() + "/txt2", pred);
    REQUIRE_FALSE(r2.is_ok());
    CHECK(contains(r2.status().message(), q + ":1:"));
    CHECK(contains(r2.status().message(), "'cls conf x y w h'"));
  }
  {
    const auto p = t.write("rle.json", R"({"images":[{"id":1,"width":4,"height":4}],"categories":[{"id":1}],
      "annotations":[{"id":9,"image_id":1,"category_id":1,"segmentation":{"size":[4,4],"counts":[3,40]},"area":3}]})");
    auto r = read_dataset(p, gt);
    REQUIRE_FALSE(r.is_ok());
    CHECK(contains(r.status().message(), "annotations[0] (id 9)"));
  }
  {
    const auto p = t.write("noscore.json", R"([{"image_id":1,"category_id":1,"bbox":[0,0,1,1]}])");
    auto r = read_dataset(p, pred);
    REQUIRE_FALSE(r.is_ok());
    CHECK(contains(r.status().message(), "results[0]"));
    CHECK(contains(r.status().message(), "score"));
  }
}

TEST_CASE("xml reader: entities, comments, CDATA, attributes, self-closing", "[eval][readers]") {
  auto r = parse_xml("<?xml version=\"1.0\"?>\n<!-- c -->\n<a x='1' y=\"&lt;2&gt;\">\n <b>t &amp; u&#65;</b>\n"
                     " <c/><d><![CDATA[<raw>]]></d>\n</a>\n",
                     "f.xml");
  REQUIRE(r.is_ok());
  const XmlNode& a = r.value();
  CHECK(a.name == "a");
  CHECK(a.attrs.size() == 2);
  CHECK(a.attrs[1].second == "<2>");
  CHECK(a.child("b")->text == "t & uA");
  CHECK(a.child("b")->line == 4);
  CHECK(a.child("c") != nullptr);
  CHECK(a.child("d")->text == "<raw>");
  CHECK_FALSE(parse_xml("<a><b></a>", "f.xml").is_ok());
  CHECK_FALSE(parse_xml("<a>", "f.xml").is_ok());
  CHECK_FALSE(parse_xml("<a>&bogus;</a>", "f.xml").is_ok());
}

TEST_CASE("readers: formats are detected and layouts resolved", "[eval][readers]") {
  TmpDir t("detect");
  CHECK(detect_format(t.write("a.json", "[]")).value() == "coco");
  CHECK(detect_format(t.write("b.json", kGt)).value() == "coco");
  CHECK(detect_format(t.write("c.json", "{\"source\":{\"path\":\"x.jpg\"},\"detections\":[]}\n"
                                        "{\"source\":{\"path\":\"y.jpg\"},\"detections\":[]}\n"))
            .value() == "cvtool");
  t.write("v/x.xml", "<annotation/>");
  CHECK(detect_format((t.root / "v").string()).value() == "voc");
  t.write("l/x.txt", "0 0.5 0.5 0.2 0.2\n");
  CHECK(detect_format((t.root / "l").string()).value() == "txt");
  CHECK_FALSE(detect_format((t.root / "missing").string()).is_ok());
  CHECK(parse_format_spec("txt:xyxy:abs").is_ok());
  CHECK_FALSE(parse_format_spec("txt:xyz").is_ok());
  CHECK_FALSE(parse_format_spec("coco:xyxy").is_ok());
  CHECK_FALSE(parse_format_spec("pascal").is_ok());
  // normalised labels are auto-detected as relative cx,cy,w,h
  ReadOptions o;
  o.side = Side::kGroundTruth;
  auto d = read_dataset((t.root / "l").string(), o);
  REQUIRE(d.is_ok());
  CHECK(d.value().format == "txt:cxcywh:rel");
}

TEST_CASE("bind: YOLO labels with names and --imgsz; cvtool JSONL against COCO by file name", "[eval][readers]") {
  TmpDir t("bind");
  t.write("gt/img1.txt", "0 0.5 0.5 0.2 0.4\n1 0.25 0.25 0.1 0.1\n");
  t.write("gt/img2.txt", "");  // an image without objects
  t.write("pred/img1.txt", "0 0.5 0.5 0.2 0.4 0.9\n");
  const auto names = t.write("data.yaml", "path: x\nnames:\n  0: person\n  1: car\nnc: 2\n");
  auto nm = read_names(names);
  REQUIRE(nm.is_ok());
  CHECK(nm.value() == std::vector<std::string>{"person", "car"});
  const Dataset gt = read_ok((t.root / "gt").string(), Side::kGroundTruth, "yolo");
  const Dataset dt = read_ok((t.root / "pred").string(), Side::kPrediction, "yolo");
  CHECK(gt.images.size() == 2);
  // without a size the normalised boxes cannot be placed
  BindOptions bo;
  bo.names = nm.value();
  auto no_size = bind(gt, dt, bo);
  REQUIRE_FALSE(no_size.is_ok());
  CHECK(contains(no_size.status().message(), "--imgsz"));
  bo.imgsz_w = 640;
  bo.imgsz_h = 480;
  const Bound b = bind_ok(gt, dt, bo);
  CHECK(b.gt.anns[0].bbox == Box{256, 144, 128, 192});
  CHECK(b.dt.anns[0].bbox == Box{256, 144, 128, 192});  // YOLO coordinates are not rounded
  CHECK(b.gt.categories.size() == 2);
  CHECK(b.gt.categories[1].name == "car");

  // cvtool JSONL predictions joined to COCO ground truth by file stem and label/category
  const auto coco = t.write("gt.json", kGt);
  const auto jl = t.write("p.jsonl",
                          "{\"source\":{\"path\":\"imgs/a.jpg\",\"width\":100,\"height\":100},\"detections\":["
                          "{\"class_id\":0,\"label\":\"person\",\"score\":0.9,\"bbox\":[0,0,10,10]}]}\n"
                          "{\"source\":{\"path\":\"imgs/b.jpg\"},\"detections\":[{\"class_id\":2,\"label\":\"car\","
                          "\"category_id\":3,\"score\":0.8,\"bbox\":[5,5,20,20]}]}\n"
                          "{\"source\":{\"path\":\"imgs/c.jpg\"},\"error\":{\"code\":\"decode_failed\"},\"detections\":[]}\n");
  const Bound j = bind_ok(read_ok(coco, Side::kGroundTruth), read_ok(jl, Side::kPrediction));
  REQUIRE(j.dt.anns.size() == 2);
  CHECK(j.dt.anns[0].image_id == 1);
  CHECK(j.dt.anns[0].category_id == 1);  // by label
  CHECK(j.dt.anns[1].category_id == 3);  // by category_id
  CHECK(j.image_match == "id");
  bool warned = false;
  for (const auto& w : j.warnings) warned = warned || contains(w, "carries an error");
  CHECK(warned);
}

TEST_CASE("flag parsers", "[eval][readers]") {
  auto t = parse_iou_thresholds("0.5:0.95:0.05");
  REQUIRE(t.is_ok());
  CHECK(t.value() == CocoParams::defaults(Task::kBbox).iou_thrs);
  CHECK(parse_iou_thresholds("0.3,0.5").value() == std::vector<double>{0.3, 0.5});
  CHECK_FALSE(parse_iou_thresholds("0.5:0.4:0.1").is_ok());
  CHECK_FALSE(parse_iou_thresholds("1.5").is_ok());
  CHECK(parse_max_dets("1,10,300").value() == std::vector<int>{1, 10, 300});
  CHECK_FALSE(parse_max_dets("0").is_ok());
  auto a = parse_area_ranges("all=0:1e10,small=0:32^2,big=96**2:inf");
  REQUIRE(a.is_ok());
  CHECK(a.value()[1].hi == 1024);
  CHECK(a.value()[2].lo == 9216);
  CHECK_FALSE(parse_area_ranges("small=0:1024").is_ok());  // needs "all"
  CHECK(parse_imgsz("640").value() == std::pair<int64_t, int64_t>{640, 640});
  CHECK(parse_imgsz("640x480").value() == std::pair<int64_t, int64_t>{640, 480});
  CHECK_FALSE(parse_imgsz("a,b").is_ok());
}

TEST_CASE("image sizes from headers; --images adds label-less images", "[eval][readers]") {
  TmpDir t("images");
  const cv::Mat m(37, 53, CV_8UC3, cv::Scalar(1, 2, 3));
  // WebP three ways: lossy (VP8), lossless (quality > 100: VP8L); TIFF and PPM are decoded.
  const std::vector<std::pair<std::string, std::vector<int>>> files = {
      {"a.png", {}}, {"a.jpg", {}}, {"a.bmp", {}}, {"a.webp", {}}, {"b.webp", {cv::IMWRITE_WEBP_QUALITY, 101}},
      {"a.tif", {}}, {"a.ppm", {}}};
  fs::create_directories(t.root / "imgs");
  for (const auto& [name, params] : files) {
    const std::string p = (t.root / "imgs" / name).string();
    REQUIRE(cv::imwrite(p, m, params));
    auto s = image_size(p);
    INFO(p);
    REQUIRE(s.is_ok());
    CHECK(s.value() == std::pair<int64_t, int64_t>{53, 37});
  }
  CHECK_FALSE(image_size((t.root / "nope.png").string()).is_ok());
  // Never handed to OpenCV's DICOM reader, which aborts on hostile input.
  t.write("imgs/scan.png", std::string(128, '\0') + "DICM" + std::string(64, '\0'));
  CHECK_FALSE(image_size((t.root / "imgs" / "scan.png").string()).is_ok());
  // YOLO layout: labels for img1 only; img2 exists as an image without objects
  fs::create_directories(t.root / "images");
  REQUIRE(cv::imwrite((t.root / "images" / "img1.png").string(), cv::Mat(100, 200, CV_8UC1, cv::Scalar(0))));
  REQUIRE(cv::imwrite((t.root / "images" / "img2.png").string(), cv::Mat(50, 80, CV_8UC1, cv::Scalar(0))));
  t.write("labels/img1.txt", "0 0.5 0.5 0.5 0.5\n");
  t.write("preds/img2.txt", "0 0.5 0.5 0.5 0.5 0.9\n");
  BindOptions bo;
  bo.images_dir = (t.root / "images").string();
  const Bound b = bind_ok(read_ok((t.root / "labels").string(), Side::kGroundTruth, "yolo"),
                          read_ok((t.root / "preds").string(), Side::kPrediction, "yolo"), bo);
  REQUIRE(b.gt.images.size() == 2);
  CHECK(b.gt.images[1].width == 80);
  CHECK(b.gt.anns[0].bbox == Box{50, 25, 100, 50});
  REQUIRE(b.dt.anns.size() == 1);  // a false positive on img2, not an unknown image
  CHECK(b.dt.anns[0].bbox == Box{20, 12.5, 40, 25});
}

TEST_CASE("image sizes of the shared JPEG samples", "[eval][readers]") {
  EVAL_REQUIRE_SHARED("data/coco-139/000000000139.jpg");
  auto s = image_size(shared_path("data/coco-139/000000000139.jpg"));
  REQUIRE(s.is_ok());
  CHECK(s.value() == std::pair<int64_t, int64_t>{640, 426});
}
