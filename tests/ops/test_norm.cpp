// Normalization ops: hand / torch-checked values, per-opset BatchNorm forms
// (spatial=0, training mode, legacy attributes), errors, and fast vs reference.
#include "test_util.h"

#include "ops/op_runner.h"
#include "ops/op_test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

// Fast path at 1 and 2 threads within 1e-5 of the reference on every output unless a test says
// otherwise (run_all_outputs(n, in, atol, rtol)); returns the reference outputs.
std::vector<Tensor> run_all(const NodeDesc& n, const std::vector<Tensor>& in) {
  return op_test::run_all_outputs(n, in, 1e-5, 1e-5);
}

Tensor floats(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

void check_values(const Tensor& t, const std::vector<double>& expected, double eps = 1e-5) {
  REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
  const auto got = t.to_float_vector();
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("index " << i);
    CHECK(got[i] == Approx(expected[i]).epsilon(eps).margin(1e-6));
  }
}

}  // namespace

TEST_CASE("BatchNormalization inference on hand-computed values", "[ops][norm]") {
  auto x = floats({1, 2, 1, 2}, {1, 2, 3, 4});
  auto scale = floats({2}, {1, 2}), bias = floats({2}, {0, 1}), mean = floats({2}, {1.5f, 3.5f}), var = floats({2}, {0.25f, 0.25f});
  for (int opset : {6, 7, 9, 15}) {
    CAPTURE(opset);
    auto y = run_all(make_node("BatchNormalization", opset, {{"epsilon", attr_float(0)}}), {x, scale, bias, mean, var});
    check_values(y[0], {-1, 1, -1, 3});
  }
  // Legacy attributes of opsets 1 and 6 are accepted (inference: is_test is not consulted).
  auto legacy = run_all(make_node("BatchNormalization", 1, {{"epsilon", attr_float(0)}, {"is_test", attr_int(1)},
                                                            {"consumed_inputs", attr_ints({0, 0, 0, 1, 1})}}),
                        {x, scale, bias, mean, var});
  check_values(legacy[0], {-1, 1, -1, 3});
  // Rank-2 (N, C) input and double precision.
  auto x2 = Tensor::from_vector<double>({2, 2}, {1, 3, 2, 4});
  auto d = [](std::vector<double> v) { return Tensor::from_vector<double>({2}, v); };
  auto y2 = run_all(make_node("BatchNormalization", 15, {{"epsilon", attr_float(0)}}),
                    {x2, d({1, 2}), d({0, 1}), d({1.5, 3.5}), d({0.25, 0.25})});
  check_values(y2[0], {-1, -1, 1, 3});
}

TEST_CASE("BatchNormalization spatial=0 normalises per position (opset < 9)", "[ops][norm]") {
  Tensor x = random_tensor({3, 2, 2, 2}, 1);
  Tensor scale = random_tensor({2, 2, 2}, 2), bias = random_tensor({2, 2, 2}, 3), mean = random_tensor({2, 2, 2}, 4);
  Tensor var = random_tensor({2, 2, 2}, 5, 0.5f, 2.f);
  auto y = run_all(make_node("BatchNormalization", 7, {{"spatial", attr_int(0)}}), {x, scale, bias, mean, var})[0];
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t k = 0; k < 8; ++k) {
      const float expect = (x.data<float>()[n * 8 + k] - mean.data<float>()[k]) / std::sqrt(var.data<float>()[k] + 1e-5f) *
                               scale.data<float>()[k] + bias.data<float>()[k];
      CHECK(y.data<float>()[n * 8 + k] == Approx(expect).epsilon(1e-5));
    }
  // The same parameters are wrong for spatial=1 (they are not per channel).
  auto bad = run(make_node("BatchNormalization", 7), {x, scale, bias, mean, var});
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == ErrorCode::kShapeMismatch);
}

TEST_CASE("BatchNormalization training mode uses batch statistics", "[ops][norm]") {
  auto x = floats({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 9});
  auto ones = floats({2}, {1, 1}), zeros = floats({2}, {0, 0}), mean = floats({2}, {1, 2}), var = floats({2}, {3, 4});
  auto out = run_all(make_node("BatchNormalization", 15, {{"training_mode", attr_int(1)}}, 3), {x, ones, zeros, mean, var});
  check_values(out[0], {-1.2126767, -0.7276060, -1.1531123, -0.7337987, 0.7276060, 1.2126767, 0.5241420, 1.3627691});
  // running = input * momentum(0.9) + batch * 0.1; batch mean (3.5, 5.75), population var (4.25, 5.6875).
  check_values(out[1], {1 * 0.9 + 3.5 * 0.1, 2 * 0.9 + 5.75 * 0.1});
  check_values(out[2], {3 * 0.9 + 4.25 * 0.1, 4 * 0.9 + 5.6875 * 0.1});
  auto stray = run(make_node("BatchNormalization", 15, {}, 3), {x, ones, zeros, mean, var});
  REQUIRE_FALSE(stray.is_ok());
  CHECK(stray.status().message().find("training_mode") != std::string::npos);
}

TEST_CASE("InstanceNormalization, LRN, LayerNormalization, GroupNormalization values", "[ops][norm]") {
  auto inst = run_all(make_node("InstanceNormalization", 6, {{"epsilon", attr_float(0)}}),
                      {floats({1, 1, 1, 4}, {1, 2, 3, 4}), floats({1}, {2}), floats({1}, {1})})[0];
  const double s = std::sqrt(1.25);
  check_values(inst, {2 * -1.5 / s + 1, 2 * -0.5 / s + 1, 2 * 0.5 / s + 1, 2 * 1.5 / s + 1});

  // LRN size 3 (torch agrees for odd sizes).
  auto lx = floats({1, 3, 4}, {1, 2, 3, 4, -1, 0, 2, 5, 1, 2, 3, 4});
  auto lrn = run_all(make_node("LRN", 13, {{"size", attr_int(3)}, {"alpha", attr_float(0.5f)}, {"bias", attr_float(1.5f)}}), {lx})[0];
  check_values(lrn, {0.6347006, 1.1199172, 1.1321857, 0.8155412, -0.5946036, 0, 0.5836092, 0.8278001, 0.6347006, 1.1199172,
                     1.1321857, 0.8155412});
  // Even size: ONNX's window is [c, c+1] (torch would use [c-1, c]).
  auto even = run_all(make_node("LRN", 13, {{"size", attr_int(2)}, {"alpha", attr_float(2.f)}, {"beta", attr_float(1.f)}}),
                      {floats({1, 2, 1}, {1, 2})})[0];
  check_values(even, {1.0 / (1 + 1.0 * 5), 2.0 / (1 + 1.0 * 4)});

  Tensor ln_x(DType::kFloat32, {2, 2, 3});
  for (int i = 0; i < 12; ++i) ln_x.data<float>()[i] = std::pow(static_cast<float>(i), 1.5f);
  auto ln = run_all(make_node("LayerNormalization", 17, {}, 3), {ln_x, floats({3}, {1, 2, 3}), floats({3}, {0.5f, 0, -0.5f})});
  check_values(ln[0], {-0.5896973, -0.4715957, 3.4764854, -0.6982689, -0.1026712, 3.2488134, -0.7098745, -0.0584334, 3.2172737,
                       -0.7144008, -0.0408632, 3.2044973});
  CHECK(ln[1].shape() == Shape{2, 2, 1});
  CHECK(ln[1].data<float>()[0] == Approx((0 + 1 + std::pow(2.0, 1.5)) / 3));
  CHECK(ln[2].shape() == Shape{2, 2, 1});
  // axis=0 normalises everything; a one-element Scale broadcasts; B is optional.
  auto all = run_all(make_node("LayerNormalization", 17, {{"axis", attr_int(0)}}), {ln_x, floats({1}, {2})})[0];
  double mean = 0, sq = 0;
  for (int i = 0; i < 12; ++i) mean += ln_x.data<float>()[i] / 12.0;
  for (int i = 0; i < 12; ++i) sq += std::pow(ln_x.data<float>()[i] - mean, 2) / 12.0;
  CHECK(all.data<float>()[11] == Approx(2 * (ln_x.data<float>()[11] - mean) / std::sqrt(sq + 1e-5)).epsilon(1e-5));

  Tensor gx(DType::kFloat32, {1, 4, 2, 2});
  for (int i = 0; i < 16; ++i) gx.data<float>()[i] = std::pow(static_cast<float>(i), 1.3f);
  auto gn = run_all(make_node("GroupNormalization", 21, {{"num_groups", attr_int(2)}}),
                    {gx, floats({4}, {1, 2, 3, 4}), floats({4}, {0, 1, 2, 3})})[0];
  check_values(gn, {-1.3285615, -1.0903600, -0.7420406, -0.3349832, 1.2312446, 2.2033052, 3.2358306, 4.3215104, -2.4560683,
                    -1.2578423, -0.0189297, 1.2577678, 3.7597406, 5.5534542, 7.3890781, 9.2644904});
  // Opset 18 layout: one scale/bias per group.
  auto g18 = run_all(make_node("GroupNormalization", 18, {{"num_groups", attr_int(2)}}),
                     {gx, floats({2}, {1, 3}), floats({2}, {0, 2})})[0];
  auto g21 = run_all(make_node("GroupNormalization", 21, {{"num_groups", attr_int(2)}}),
                     {gx, floats({4}, {1, 1, 3, 3}), floats({4}, {0, 0, 2, 2})})[0];
  CHECK_TENSOR_NEAR(g18, g21, 0, 0);
}

TEST_CASE("norm attribute, dtype and shape errors", "[ops][norm]") {
  auto x = random_tensor({1, 3, 2, 2}, 1);
  auto c3 = random_tensor({3}, 2, 0.5f, 1.f), c2 = random_tensor({2}, 3);
  auto expect_error = [&](const NodeDesc& n, const std::vector<Tensor>& in, const std::string& fragment) {
    auto r = run(n, in);
    REQUIRE_FALSE(r.is_ok());
    INFO(r.status().to_string());
    CHECK(r.status().message().find(fragment) != std::string::npos);
  };
  expect_error(make_node("BatchNormalization", 15), {x, c3, c3, c2, c3}, "input 3");
  expect_error(make_node("BatchNormalization", 15), {x, c3, c3, c3}, "missing");
  expect_error(make_node("BatchNormalization", 15, {{"epsilon", attr_float(-1)}}), {x, c3, c3, c3, c3}, "epsilon");
  expect_error(make_node("BatchNormalization", 15), {Tensor::from_vector<int32_t>({1, 1}, {1}), c3, c3, c3, c3}, "int32");
  expect_error(make_node("BatchNormalization", 15), {random_tensor({3}, 1), c3, c3, c3, c3}, "(N, C, ...)");
  expect_error(make_node("InstanceNormalization", 6), {x, c2, c3}, "scale");
  expect_error(make_node("LRN", 13), {x}, "size");
  expect_error(make_node("LayerNormalization", 17, {{"axis", attr_int(4)}}), {x, c2}, "axis");
  expect_error(make_node("LayerNormalization", 17), {x, c3}, "does not broadcast");
  expect_error(make_node("GroupNormalization", 18, {{"num_groups", attr_int(2)}}), {x, c2, c2}, "do not split");
  expect_error(make_node("GroupNormalization", 18), {x, c3, c3}, "num_groups");
  expect_error(make_node("GroupNormalization", 18, {{"num_groups", attr_int(3)}}), {x, c2, c2}, "neither");
}

TEST_CASE("norm fast paths match the reference over odd shapes", "[ops][norm]") {
  const Shape shape = GENERATE(Shape{1, 1, 1, 1}, Shape{1, 3, 7, 7}, Shape{2, 13, 3, 1}, Shape{1, 13, 127},
                               Shape{2, 7, 13, 13}, Shape{1, 3, 127, 127}, Shape{3, 5});
  CAPTURE(shape_str(shape));
  const int64_t C = shape[1];
  Tensor x = random_tensor(shape, 7, -3.f, 3.f);
  Tensor scale = random_tensor({C}, 8), bias = random_tensor({C}, 9), mean = random_tensor({C}, 10);
  Tensor var = random_tensor({C}, 11, 0.1f, 2.f);
  run_all(make_node("BatchNormalization", 15), {x, scale, bias, mean, var});
  run_all(make_node("BatchNormalization", 15, {{"training_mode", attr_int(1)}}, 3), {x, scale, bias, mean, var});
  run_all(make_node("InstanceNormalization", 6), {x, scale, bias});
  for (int64_t size : {1, 2, 3, 5}) {
    run_all(make_node("LRN", 13, {{"size", attr_int(size)}}), {x});
    run_all(make_node("LRN", 13, {{"size", attr_int(size)}, {"beta", attr_float(0.6f)}, {"alpha", attr_float(0.3f)}}), {x});
  }
  for (int64_t axis = -static_cast<int64_t>(shape.size()); axis < static_cast<int64_t>(shape.size()); ++axis) {
    Shape norm_shape(shape.begin() + (axis < 0 ? axis + shape.size() : axis), shape.end());
    run_all(make_node("LayerNormalization", 17, {{"axis", attr_int(axis)}}, 3),
            {x, random_tensor(norm_shape, 12), random_tensor({norm_shape.back()}, 13)});
  }
  if (C % 1 == 0) run_all(make_node("GroupNormalization", 21, {{"num_groups", attr_int(1)}}), {x, scale, bias});
  run_all(make_node("GroupNormalization", 21, {{"num_groups", attr_int(C)}}), {x, scale, bias});
  Tensor xd(DType::kFloat64, shape);
  for (int64_t i = 0; i < x.numel(); ++i) xd.data<double>()[i] = x.data<float>()[i];
  run_all_outputs(make_node("InstanceNormalization", 6), {xd, scale, bias}, 1e-9, 1e-9);
  run_all_outputs(make_node("LRN", 13, {{"size", attr_int(3)}}), {xd}, 1e-9, 1e-9);
}

TEST_CASE("norm timings", "[.perf]") {
  Tensor x = random_tensor({1, 64, 112, 112}, 1);
  Tensor c = random_tensor({64}, 2, 0.5f, 1.5f);
  report_timing("BatchNormalization 64x112x112", make_node("BatchNormalization", 15), {x, c, c, c, c});
  report_timing("InstanceNormalization 64x112x112", make_node("InstanceNormalization", 6), {x, c, c});
  report_timing("LRN size 5 64x112x112", make_node("LRN", 13, {{"size", attr_int(5)}}), {x});
  Tensor t = random_tensor({1, 197, 768}, 3);
  report_timing("LayerNormalization 197x768", make_node("LayerNormalization", 17), {t, random_tensor({768}, 4)});
}
