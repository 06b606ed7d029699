// Detection decoders and NMS on hand-made output tensors whose boxes are known.
#include <cmath>

#include "tasks/detect/decoders.h"
#include "tasks/detect/detector.h"
#include "tasks/detect/nms.h"
#include "test_util.h"

using namespace cvt;

namespace {

float logit(float p) { return std::log(p / (1 - p)); }

void check_box(const Detection& d, float x1, float y1, float x2, float y2, float score, int cls) {
  CHECK(d.x1 == Approx(x1).margin(1e-3));
  CHECK(d.y1 == Approx(y1).margin(1e-3));
  CHECK(d.x2 == Approx(x2).margin(1e-3));
  CHECK(d.y2 == Approx(y2).margin(1e-3));
  CHECK(d.score == Approx(score).margin(1e-5));
  CHECK(d.class_id == cls);
}

Detection box(float x1, float y1, float x2, float y2, float s, int c) { return {x1, y1, x2, y2, s, c}; }

}  // namespace

TEST_CASE("nms: per class, agnostic, threshold, max_det", "[detect]") {
  std::vector<Detection> c = {box(0, 0, 10, 10, 0.9f, 0), box(1, 1, 11, 11, 0.8f, 0), box(1, 0, 11, 10, 0.85f, 1),
                              box(50, 50, 60, 60, 0.7f, 0), box(0, 0, 10, 10, 0.1f, 2)};
  NmsOptions o;
  o.iou = 0.5f;
  auto k = nms(c, o);
  REQUIRE(k.size() == 4);  // the 0.8 box overlaps the 0.9 one of its class (IoU 0.68)
  CHECK(k[0].score == 0.9f);
  CHECK(k[1].score == 0.85f);
  CHECK(k[2].score == 0.7f);
  CHECK(k[3].score == 0.1f);
  o.agnostic = true;
  k = nms(c, o);
  REQUIRE(k.size() == 2);
  CHECK(k[1].score == 0.7f);
  o.agnostic = false;
  o.iou = 0.7f;  // 0.68 < 0.7 keeps both
  CHECK(nms(c, o).size() == 5);
  o.max_det = 2;
  k = nms(c, o);
  REQUIRE(k.size() == 2);
  CHECK(k[1].score == 0.85f);
  CHECK(box_iou(c[0], c[3]) == 0.f);
  CHECK(box_iou(c[0], c[0]) == Approx(1.f));
}

TEST_CASE("decode: darknet [yolo] head with scale_x_y, multi-label and class filter", "[detect]") {
  DarknetHead h;
  h.type = "yolo";
  h.classes = 3;
  h.num = 3;
  h.anchors = {10, 14, 23, 27, 37, 58};
  h.mask = {1, 2};
  h.scale_x_y = 1.2f;
  const int E = 8, H = 4, W = 4;
  Tensor t(DType::kFloat32, {1, 2 * E, H, W});
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = -20.f;  // objectness ~0 everywhere
  auto set = [&](int a, int e, int y, int x, float v) { p[((a * E + e) * H + y) * W + x] = v; };
  // Anchor 1 of the mask (anchor 2: 37x58) at cell (x=2, y=1).
  set(1, 0, 1, 2, logit(0.25f));
  set(1, 1, 1, 2, 0.f);
  set(1, 2, 1, 2, std::log(2.f));
  set(1, 3, 1, 2, 0.f);
  set(1, 4, 1, 2, logit(0.9f));
  set(1, 5, 1, 2, logit(0.3f));
  set(1, 6, 1, 2, logit(0.5f));
  set(1, 7, 1, 2, logit(0.95f));
  const int net = 128;
  DecodeFilter f;
  f.conf = 0.25f;
  auto r = decode_darknet(t, h, net, net, f);
  REQUIRE_OK(r);
  REQUIRE(r.value().size() == 1);
  // x = (2 + 0.25*1.2 - 0.1) / 4 * 128 = 70.4; y = (1 + 0.5) / 4 * 128 = 48; w = 2 * 37, h = 58.
  check_box(r.value()[0], 70.4f - 37, 48 - 29, 70.4f + 37, 48 + 29, 0.9f * 0.95f, 2);
  f.multi_label = true;
  r = decode_darknet(t, h, net, net, f);
  REQUIRE(r.value().size() == 3);  // 0.27, 0.45, 0.855 all above 0.25
  f.conf = 0.3f;
  f.allowed = {true, true, false};
  r = decode_darknet(t, h, net, net, f);
  REQUIRE(r.value().size() == 1);
  CHECK(r.value()[0].class_id == 1);
  CHECK(r.value()[0].score == Approx(0.45f));
  // Wrong channel count is an error naming the head.
  h.classes = 4;
  h.output = "yolo_9";
  auto bad = decode_darknet(t, h, net, net, DecodeFilter{});
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().message().find("yolo_9") != std::string::npos);
}

TEST_CASE("decode: darknet new_coords and [region] heads", "[detect]") {
  DarknetHead h;
  h.type = "yolo";
  h.classes = 1;
  h.num = 1;
  h.anchors = {16, 32};
  h.mask = {0};
  h.new_coords = 1;
  h.scale_x_y = 2.f;
  Tensor t(DType::kFloat32, {1, 6, 2, 2});
  float* p = t.data<float>();
  auto set = [&](int e, int y, int x, float v) { p[(e * 2 + y) * 2 + x] = v; };
  set(0, 0, 1, 0.5f);  // already sigmoided: x = (1 + 0.5*2 - 0.5) / 2
  set(1, 0, 1, 0.25f);
  set(2, 0, 1, 0.5f);  // w = 4 * 0.25 * 16 = 16 px
  set(3, 0, 1, 1.f);   // h = 4 * 32 = 128 px
  set(4, 0, 1, 0.8f);
  set(5, 0, 1, 0.5f);
  auto r = decode_darknet(t, h, 64, 64, DecodeFilter{});
  REQUIRE_OK(r);
  REQUIRE(r.value().size() == 1);
  const float cx = (1 + 0.5f * 2 - 0.5f) / 2 * 64, cy = (0 + 0.25f * 2 - 0.5f) / 2 * 64;
  check_box(r.value()[0], cx - 8, cy - 64, cx + 8, cy + 64, 0.4f, 0);

  DarknetHead g;
  g.type = "region";
  g.classes = 2;
  g.num = 1;
  g.anchors = {2, 1};  // grid cells
  g.mask = {0};
  g.softmax = true;
  Tensor u(DType::kFloat32, {1, 7, 2, 2});
  float* q = u.data<float>();
  for (int64_t i = 0; i < u.numel(); ++i) q[i] = -20.f;
  auto put = [&](int e, float v) { q[(e * 2 + 1) * 2 + 0] = v; };  // cell (x=0, y=1)
  put(0, 0.f);
  put(1, 0.f);
  put(2, 0.f);
  put(3, 0.f);
  put(4, logit(0.5f));
  put(5, 0.f);
  put(6, std::log(3.f));  // softmax -> 0.25, 0.75
  r = decode_darknet(u, g, 100, 100, DecodeFilter{});
  REQUIRE_OK(r);
  REQUIRE(r.value().size() == 1);
  check_box(r.value()[0], 25 - 50, 75 - 25, 25 + 50, 75 + 25, 0.375f, 1);
}

TEST_CASE("decode: YOLOX grids over strides 8/16/32", "[detect]") {
  const int net = 64;  // 8x8 + 4x4 + 2x2 = 84 rows
  Tensor t(DType::kFloat32, {1, 84, 7});
  float* p = t.data<float>();
  float* row = p + (64 + 2 * 4 + 1) * 7;  // stride 16, cell (x=1, y=2)
  row[0] = 0.5f;
  row[1] = 0.25f;
  row[2] = std::log(2.f);
  row[3] = 0.f;
  row[4] = 0.9f;
  row[5] = 0.1f;
  row[6] = 0.8f;
  auto r = decode_yolox(t, {8, 16, 32}, net, net, false, DecodeFilter{});
  REQUIRE_OK(r);
  REQUIRE(r.value().size() == 1);
  check_box(r.value()[0], 24 - 16, 36 - 8, 24 + 16, 36 + 8, 0.72f, 1);
  auto bad = decode_yolox(t, {8, 16}, net, net, false, DecodeFilter{});
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().message().find("84 rows") != std::string::npos);
}

TEST_CASE("decode: FastestDet cells", "[detect]") {
  Tensor t(DType::kFloat32, {1, 7, 3, 3});
  float* p = t.data<float>();
  auto set = [&](int e, int y, int x, float v) { p[(e * 3 + y) * 3 + x] = v; };
  set(0, 2, 1, 0.64f);
  set(1, 2, 1, std::atanh(0.5f));
  set(2, 2, 1, 0.f);
  set(3, 2, 1, 0.f);                   // w = 0.5
  set(4, 2, 1, std::log(1.f / 3.f));  // h = 0.25
  set(5, 2, 1, 0.2f);
  set(6, 2, 1, 0.8f);
  auto r = decode_fastestdet(t, 90, 90, 0.6f, 0.4f, DecodeFilter{});
  REQUIRE_OK(r);
  REQUIRE(r.value().size() == 1);
  check_box(r.value()[0], 45 - 22.5f, 60 - 11.25f, 45 + 22.5f, 60 + 11.25f, std::pow(0.64f, 0.6f) * std::pow(0.8f, 0.4f), 1);
}

TEST_CASE("decode: YOLOv5 [1,N,85] and YOLOv8 [1,84,N] exports", "[detect]") {
  Tensor v5 = Tensor::from_vector<float>({1, 2, 7}, {100, 50, 20, 10, 0.9f, 0.5f, 0.6f,  //
                                                     10, 10, 4, 4, 0.1f, 0.9f, 0.9f});
  auto r = decode_yolov5(v5, DecodeFilter{});
  REQUIRE_OK(r);
  REQUIRE(r.value().size() == 1);
  check_box(r.value()[0], 90, 45, 110, 55, 0.54f, 1);
  // Two candidates, classes 3: columns (cx, cy, w, h, c0, c1, c2).
  Tensor v8 = Tensor::from_vector<float>({1, 7, 2}, {100, 30, 50, 30, 20, 6, 10, 6, 0.1f, 0.2f, 0.7f, 0.1f, 0.1f, 0.3f});
  r = decode_yolov8(v8, 3, DecodeFilter{});
  REQUIRE_OK(r);
  REQUIRE(r.value().size() == 2);
  check_box(r.value()[0], 90, 45, 110, 55, 0.7f, 1);
  check_box(r.value()[1], 27, 27, 33, 33, 0.3f, 2);
  // The same as [1, N, 4+C] (transposed export) and with the class count unknown.
  Tensor v8t(DType::kFloat32, {1, 2, 7});
  for (int i = 0; i < 2; ++i)
    for (int e = 0; e < 7; ++e) v8t.data<float>()[i * 7 + e] = v8.data<float>()[e * 2 + i];
  r = decode_yolov8(v8t, 3, DecodeFilter{});
  REQUIRE_OK(r);
  REQUIRE(r.value().size() == 2);
  check_box(r.value()[1], 27, 27, 33, 33, 0.3f, 2);
  CHECK_FALSE(decode_yolov8(v8, 5, DecodeFilter{}).is_ok());
}

TEST_CASE("detect: class lists and decoder configs", "[detect]") {
  const std::vector<std::string> labels = {"person", "bicycle", "car"};
  auto c = parse_class_list("person, Car,1", labels);
  REQUIRE_OK(c);
  CHECK(c.value() == std::vector<int>{0, 2, 1});
  CHECK_FALSE(parse_class_list("unicorn", labels).is_ok());
  CHECK_FALSE(parse_class_list("7", labels).is_ok());
  auto d = parse_decoder_config(nlohmann::json::parse(R"({"type":"yolox","strides":[8,16],"conf":0.3})"), "yolov5");
  REQUIRE_OK(d);
  CHECK(d.value().strides == std::vector<int>{8, 16});
  CHECK(d.value().conf == Approx(0.3f));
  CHECK_FALSE(d.value().multi_label);
  auto dk = parse_decoder_config(nlohmann::json::object(), "darknet_yolo");
  REQUIRE_OK(dk);
  CHECK(dk.value().multi_label);
  CHECK_FALSE(parse_decoder_config(nlohmann::json::parse(R"({"type":"ssd"})"), "yolov5").is_ok());
  CHECK(coco80_to_91().size() == 80);
  CHECK(coco80_to_91()[16] == 18);  // dog
  CHECK(coco80_to_91()[79] == 90);
}
