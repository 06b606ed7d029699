// RoiAlign and NonMaxSuppression: hand-computed cases for both RoiAlign
// coordinate conventions, bounds and attribute errors, a sweep of odd shapes
// comparing the fast path with the reference bit for bit at 1 and 2 threads,
// and NMS selection order, thresholds and box formats.
#include "test_util.h"

#include <random>

#include "ops/op_runner.h"
#include "ops/op_test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

// x[0, c, y, x] = 4y + x + 100c: bilinear sampling of a linear ramp is exact inside the map.
Tensor ramp(int64_t channels, int64_t h, int64_t w) {
  Tensor t(DType::kFloat32, {1, channels, h, w});
  float* p = t.data<float>();
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) *p++ = static_cast<float>(4 * y + x + 100 * c);
  return t;
}

Tensor rois_of(std::vector<float> v) { return Tensor::from_vector<float>({static_cast<int64_t>(v.size() / 4), 4}, v); }
Tensor indices_of(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }

// Any dtype read back as float (op_test::values<T> insists on T).
std::vector<float> as_floats(const Tensor& t) { return t.to_float_vector(); }

}  // namespace

TEST_CASE("RoiAlign-10 averages bilinear samples of the unshifted RoI", "[ops][roi]") {
  NodeDesc n = make_node("RoiAlign", 10, {{"output_height", attr_int(1)}, {"output_width", attr_int(1)},
                                          {"sampling_ratio", attr_int(2)}, {"spatial_scale", attr_float(1.0f)}});
  // RoI (0,0)-(2,2): samples at 0.5 and 1.5 on both axes; mean of 4y + x is 4 + 1.
  for (bool ref : {true, false}) {
    auto out = run_single_op(n, {ramp(2, 4, 4), rois_of({0, 0, 2, 2}), indices_of({0})}, {ref, 1});
    REQUIRE_OK(out);
    CHECK(out.value()[0].shape() == Shape{1, 2, 1, 1});
    CHECK(as_floats(out.value()[0]) == std::vector<float>{5.0f, 105.0f});
  }
  // Degenerate RoI (1,1)-(1,1) is widened to 1x1: samples at 1.25 and 1.75 -> mean at (1.5, 1.5).
  auto out = run_single_op(n, {ramp(1, 4, 4), rois_of({1, 1, 1, 1}), indices_of({0})});
  REQUIRE_OK(out);
  CHECK(as_floats(out.value()[0])[0] == Approx(4 * 1.5 + 1.5));
  // spatial_scale 0.5 halves the RoI: (0,0)-(4,4) behaves like (0,0)-(2,2).
  n.attrs.set("spatial_scale", attr_float(0.5f));
  out = run_single_op(n, {ramp(1, 4, 4), rois_of({0, 0, 4, 4}), indices_of({0})});
  REQUIRE_OK(out);
  CHECK(as_floats(out.value()[0])[0] == Approx(5.0f));
}

TEST_CASE("RoiAlign-16 half_pixel shifts the RoI by half a pixel and keeps its size", "[ops][roi]") {
  NodeDesc n = make_node("RoiAlign", 16, {{"output_height", attr_int(2)}, {"output_width", attr_int(1)},
                                          {"sampling_ratio", attr_int(1)}});
  // Default mode is half_pixel: RoI (0.5,0.5)-(2.5,2.5) -> (0,0)-(2,2); bins are 1 tall, 2 wide;
  // sample centres at y = 0.5, 1.5 and x = 1.0.
  auto out = run_single_op(n, {ramp(1, 4, 4), rois_of({0.5f, 0.5f, 2.5f, 2.5f}), indices_of({0})});
  REQUIRE_OK(out);
  CHECK(as_floats(out.value()[0]) == std::vector<float>{4 * 0.5f + 1, 4 * 1.5f + 1});
  n.attrs.set("coordinate_transformation_mode", attr_str("output_half_pixel"));
  out = run_single_op(n, {ramp(1, 4, 4), rois_of({0.5f, 0.5f, 2.5f, 2.5f}), indices_of({0})});
  REQUIRE_OK(out);
  CHECK(as_floats(out.value()[0]) == std::vector<float>{4 * 1.0f + 1.5f, 4 * 2.0f + 1.5f});
}

TEST_CASE("RoiAlign clamps at the border, zeroes samples far outside, and max mode", "[ops][roi]") {
  NodeDesc n = make_node("RoiAlign", 10, {{"sampling_ratio", attr_int(1)}});
  // One sample at the RoI centre. (3.5, 3.5) clamps to the last pixel; (-3, -3) is outside [-1, size].
  auto out = run_single_op(n, {ramp(1, 4, 4), rois_of({3, 3, 4, 4, -3.5f, -3.5f, -2.5f, -2.5f}), indices_of({0, 0})});
  REQUIRE_OK(out);
  CHECK(as_floats(out.value()[0]) == std::vector<float>{15.0f, 0.0f});
  // max mode (ONNX Runtime semantics): max over samples of the largest weighted tap.
  n = make_node("RoiAlign", 10, {{"sampling_ratio", attr_int(2)}, {"mode", attr_str("max")}});
  out = run_single_op(n, {ramp(1, 4, 4), rois_of({0, 0, 2, 2}), indices_of({0})});
  REQUIRE_OK(out);
  // Sample (1.5, 1.5): taps 5, 6, 9, 10 each weighted 0.25 -> 2.5.
  CHECK(as_floats(out.value()[0])[0] == Approx(2.5f));
}

TEST_CASE("RoiAlign rejects bad inputs and attributes", "[ops][roi]") {
  NodeDesc n = make_node("RoiAlign", 10);
  CHECK(run_single_op(n, {ramp(1, 4, 4), rois_of({0, 0, 1, 1}), indices_of({1})}).status().code() == ErrorCode::kInvalidArgument);
  CHECK(!run_single_op(n, {ramp(1, 4, 4), Tensor::from_vector<float>({1, 3}, {0, 0, 1}), indices_of({0})}).is_ok());
  CHECK(!run_single_op(n, {ramp(1, 4, 4), rois_of({0, 0, 1, 1}), indices_of({0, 0})}).is_ok());
  CHECK(!run_single_op(make_node("RoiAlign", 10, {{"mode", attr_str("median")}}), {ramp(1, 4, 4), rois_of({0, 0, 1, 1}), indices_of({0})}).is_ok());
  CHECK(!run_single_op(make_node("RoiAlign", 10, {{"output_height", attr_int(0)}}), {ramp(1, 4, 4), rois_of({0, 0, 1, 1}), indices_of({0})}).is_ok());
  CHECK(!run_single_op(make_node("RoiAlign", 16, {{"coordinate_transformation_mode", attr_str("asymmetric")}}),
                       {ramp(1, 4, 4), rois_of({0, 0, 1, 1}), indices_of({0})}).is_ok());
  // Zero RoIs: an empty output, not an error.
  auto out = run_single_op(n, {ramp(3, 4, 4), Tensor(DType::kFloat32, {0, 4}), Tensor(DType::kInt64, {0})});
  REQUIRE_OK(out);
  CHECK(out.value()[0].shape() == Shape{0, 3, 1, 1});
}

TEST_CASE("RoiAlign fast path equals the reference bit for bit", "[ops][roi]") {
  const int64_t channels = GENERATE(1, 3, 13);
  const int64_t size = GENERATE(1, 7, 13);
  const int64_t sampling = GENERATE(0, 2);
  const int opset = GENERATE(10, 16);
  std::vector<float> boxes;
  std::mt19937 rng(static_cast<uint32_t>(channels * 1000 + size * 10 + sampling));
  std::uniform_real_distribution<float> u(-3.0f, static_cast<float>(size * 2 + 3));
  for (int r = 0; r < 9; ++r) boxes.insert(boxes.end(), {u(rng), u(rng), u(rng), u(rng)});
  boxes.insert(boxes.end(), {0, 0, 0, 0});  // degenerate
  NodeDesc n = make_node("RoiAlign", opset, {{"output_height", attr_int(3)}, {"output_width", attr_int(5)},
                                             {"sampling_ratio", attr_int(sampling)}, {"spatial_scale", attr_float(0.5f)}});
  std::vector<Tensor> in = {random_tensor({2, channels, size, size + 2}, 7), rois_of(boxes),
                            indices_of({0, 1, 0, 1, 0, 1, 0, 1, 1, 0})};
  auto ref = run_single_op(n, in, {true, 1});
  REQUIRE_OK(ref);
  for (int threads : {1, 2}) {
    auto fast = run_single_op(n, in, {false, threads});
    REQUIRE_OK(fast);
    CHECK_TENSOR_NEAR(fast.value()[0], ref.value()[0], 0.0, 0.0);
  }
}

namespace {

std::vector<int64_t> run_nms(const std::vector<float>& boxes, const std::vector<float>& scores, int64_t classes,
                             int64_t max_out, float iou, const float* score_threshold = nullptr, int64_t center = 0) {
  const int64_t n = static_cast<int64_t>(boxes.size() / 4);
  NodeDesc node = make_node("NonMaxSuppression", 11, {{"center_point_box", attr_int(center)}});
  const std::vector<float> used(scores.begin(), scores.begin() + classes * n);
  std::vector<Tensor> in = {Tensor::from_vector<float>({1, n, 4}, boxes), Tensor::from_vector<float>({1, classes, n}, used),
                            Tensor::from_vector<int64_t>({1}, {max_out}), Tensor::from_vector<float>({1}, {iou})};
  if (score_threshold) in.push_back(Tensor::from_vector<float>({1}, {*score_threshold}));
  auto out = run_single_op(node, in);
  REQUIRE_OK(out);
  REQUIRE(out.value()[0].rank() == 2);
  REQUIRE(out.value()[0].dim(1) == 3);
  return out.value()[0].to_int64_vector();
}

}  // namespace

TEST_CASE("NonMaxSuppression selects greedily by score, per class", "[ops][nms]") {
  // Boxes as [y1, x1, y2, x2]. 0 and 1 overlap with IoU 0.81 / 1.0 (=0.68); 2 is separate.
  const std::vector<float> boxes = {0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 10, 10};
  const std::vector<float> scores = {0.9f, 0.95f, 0.5f, 0.9f,    // class 0
                                     0.1f, 0.2f, 0.3f, 0.05f};  // class 1
  // Class 0: 1 (0.95) first, then 0 and 3 are suppressed by it (IoU 0.68 > 0.5), then 2.
  CHECK(run_nms(boxes, scores, 2, 10, 0.5f) == std::vector<int64_t>{0, 0, 1, 0, 0, 2, 0, 1, 2, 0, 1, 1});
  // IoU threshold above the overlap keeps 0 (ties with 3: lower index first), 3 is identical to 0.
  CHECK(run_nms(boxes, scores, 1, 10, 0.7f) == std::vector<int64_t>{0, 0, 1, 0, 0, 0, 0, 0, 2});
  // max_output_boxes_per_class limits each class; 0 (the default) selects nothing.
  CHECK(run_nms(boxes, scores, 2, 1, 0.5f) == std::vector<int64_t>{0, 0, 1, 0, 1, 2});
  CHECK(run_nms(boxes, scores, 2, 0, 0.5f).empty());
  // score_threshold is strict.
  const float st = 0.5f;
  CHECK(run_nms(boxes, scores, 2, 10, 0.5f, &st) == std::vector<int64_t>{0, 0, 1});
  // Flipped corners and centre format give the same selection.
  const std::vector<float> flipped = {10, 10, 0, 0, 11, 1, 1, 11, 30, 30, 20, 20, 0, 10, 10, 0};
  CHECK(run_nms(flipped, scores, 1, 10, 0.5f) == std::vector<int64_t>{0, 0, 1, 0, 0, 2});
  const std::vector<float> centred = {5, 5, 10, 10, 6, 6, 10, 10, 25, 25, 10, 10, 5, 5, 10, 10};
  CHECK(run_nms(centred, scores, 1, 10, 0.5f, nullptr, 1) == std::vector<int64_t>{0, 0, 1, 0, 0, 2});
}

TEST_CASE("NonMaxSuppression validates shapes and handles empty inputs", "[ops][nms]") {
  NodeDesc node = make_node("NonMaxSuppression", 11);
  auto out = run_single_op(node, {Tensor(DType::kFloat32, {1, 0, 4}), Tensor(DType::kFloat32, {1, 1, 0}),
                                  Tensor::from_vector<int64_t>({1}, {100}), Tensor::from_vector<float>({1}, {0.5f})});
  REQUIRE_OK(out);
  CHECK(out.value()[0].shape() == Shape{0, 3});
  CHECK(!run_single_op(node, {Tensor(DType::kFloat32, {1, 2, 4}), Tensor(DType::kFloat32, {1, 1, 3})}).is_ok());
  CHECK(!run_single_op(node, {Tensor(DType::kFloat32, {1, 2, 3}), Tensor(DType::kFloat32, {1, 1, 2})}).is_ok());
  CHECK(!run_single_op(make_node("NonMaxSuppression", 11, {{"center_point_box", attr_int(2)}}),
                       {Tensor(DType::kFloat32, {1, 2, 4}), Tensor(DType::kFloat32, {1, 1, 2})}).is_ok());
}

TEST_CASE("ScatterElements whole-row fast path equals the element loop", "[ops][roi]") {
  // torchvision's RoI level merge: indices [K, C, H, W] hold one row number per k.
  NodeDesc n = make_node("ScatterElements", 11, {{"axis", attr_int(0)}});
  const Tensor data = random_tensor({5, 3, 2}, 3);
  const Tensor updates = random_tensor({4, 3, 2}, 4);
  std::vector<int64_t> rows = {4, 0, -2, 4};  // a negative index and a repeated row (last write wins)
  std::vector<int64_t> idx;
  for (int64_t r : rows) idx.insert(idx.end(), 6, r);
  Tensor indices = Tensor::from_vector<int64_t>({4, 3, 2}, idx);
  auto ref = run_single_op(n, {data, indices, updates}, {true, 1});
  auto fast = run_single_op(n, {data, indices, updates}, {false, 1});
  REQUIRE_OK(ref);
  REQUIRE_OK(fast);
  CHECK_TENSOR_NEAR(fast.value()[0], ref.value()[0], 0.0, 0.0);
  // Row 4 holds updates row 3.
  CHECK(fast.value()[0].to_float_vector()[4 * 6] == updates.to_float_vector()[3 * 6]);
  // A uniform row out of range: an error, not a write past the data.
  std::vector<int64_t> bad = idx;
  std::fill(bad.begin() + 6, bad.begin() + 12, 5);
  CHECK_FALSE(run_single_op(n, {data, Tensor::from_vector<int64_t>({4, 3, 2}, bad), updates}, {false, 1}).is_ok());
  // Not row-uniform: the element loop, same answer.
  idx[1] = 1;
  indices = Tensor::from_vector<int64_t>({4, 3, 2}, idx);
  ref = run_single_op(n, {data, indices, updates}, {true, 1});
  fast = run_single_op(n, {data, indices, updates}, {false, 1});
  REQUIRE_OK(ref);
  REQUIRE_OK(fast);
  CHECK_TENSOR_NEAR(fast.value()[0], ref.value()[0], 0.0, 0.0);
}

TEST_CASE("NonMaxSuppression: the 8-wide overlap test selects what the scalar one selects", "[ops][nms]") {
  // 700 clustered boxes (many overlaps near the threshold, several kept per class),
  // two classes, a few boxes with NaN or infinite corners.
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> centre(0.f, 60.f), size(2.f, 14.f), jitter(-1.5f, 1.5f), score(0.f, 1.f);
  const int64_t n = 700;
  Tensor boxes(DType::kFloat32, {1, n, 4}), scores(DType::kFloat32, {1, 2, n});
  for (int64_t i = 0; i < n; ++i) {
    const float cy = centre(rng), cx = centre(rng), h = size(rng), w = size(rng);
    float* b = boxes.data<float>() + i * 4;
    b[0] = cy - h / 2 + jitter(rng), b[1] = cx - w / 2 + jitter(rng), b[2] = cy + h / 2, b[3] = cx + w / 2;
    scores.data<float>()[i] = score(rng);
    scores.data<float>()[n + i] = score(rng);
  }
  boxes.data<float>()[4 * 17 + 2] = std::numeric_limits<float>::quiet_NaN();
  boxes.data<float>()[4 * 18 + 3] = std::numeric_limits<float>::infinity();
  boxes.data<float>()[4 * 19 + 0] = -std::numeric_limits<float>::infinity();
  for (float thr : {0.f, 0.3f, 0.5f, 0.7f}) {
    CAPTURE(thr);
    const std::vector<Tensor> in{boxes, scores, Tensor::scalar<int64_t>(300), Tensor::scalar<float>(thr)};
    const NodeDesc node = make_node("NonMaxSuppression", 11);
    IsaCapGuard guard;
    std::vector<std::vector<int64_t>> picks;
    for (Isa isa : runnable_isas()) {
      set_isa_cap(isa);
      auto r = run_single_op(node, in, {false, 1});
      REQUIRE_OK(r);
      const Tensor& sel = r.value()[0];
      picks.emplace_back(sel.data<int64_t>(), sel.data<int64_t>() + sel.numel());
    }
    for (size_t k = 1; k < picks.size(); ++k) CHECK(picks[k] == picks[0]);
    CHECK(picks[0].size() / 3 > 20);  // several kept per class: the 8-wide loop runs over many boxes
  }
}
