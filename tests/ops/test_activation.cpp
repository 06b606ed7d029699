// Activation ops: hand-computed values, per-opset attribute rules (Clip, PRelu),
// errors, and the fast / AVX2 paths against the reference at 1 and 2 threads.
#include "test_util.h"

#include <cstring>
#include <limits>

#include "core/cpu_features.h"
#include "ops/activation.h"
#include "ops/op_runner.h"
#include "ops/op_test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

// Fast paths match the reference exactly unless a test allows more (run_all(n, in, atol, rtol)).
Tensor run_all(const NodeDesc& n, const std::vector<Tensor>& in) { return op_test::run_all(n, in, 0, 0); }

Tensor floats(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

void check_values(const Tensor& t, std::vector<float> expected, float tol = 1e-6f) {
  REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("index " << i);
    if (std::isnan(expected[i])) CHECK(std::isnan(t.data<float>()[i]));
    else CHECK(t.data<float>()[i] == Approx(expected[i]).margin(tol).epsilon(1e-6));
  }
}

}  // namespace

TEST_CASE("activations on hand-computed values", "[ops][activation]") {
  auto x = floats({5}, {-2, -0.5f, 0, 0.5f, 3});
  check_values(run_all(make_node("Relu", 14), {x}), {0, 0, 0, 0.5f, 3});
  check_values(run_all(make_node("LeakyRelu", 16), {x}), {-0.02f, -0.005f, 0, 0.5f, 3});
  check_values(run_all(make_node("LeakyRelu", 6, {{"alpha", attr_float(0.1f)}}), {x}), {-0.2f, -0.05f, 0, 0.5f, 3});
  check_values(run_all(make_node("Elu", 6), {x}), {-0.8646647f, -0.3934693f, 0, 0.5f, 3});
  check_values(run_all(make_node("Selu", 6), {x}), {-1.5201665f, -0.6917582f, 0, 0.5253505f, 3.1521030f});
  check_values(run_all(make_node("Celu", 12, {{"alpha", attr_float(2.f)}}), {x}), {-1.2642411f, -0.4423984f, 0, 0.5f, 3});
  check_values(run_all(make_node("HardSigmoid", 6), {x}), {0.1f, 0.4f, 0.5f, 0.6f, 1});
  check_values(run_all(make_node("HardSwish", 14), {x}), {-1.f / 3, -0.5f * 2.5f / 6, 0, 0.5f * 3.5f / 6, 3});
  check_values(run_all(make_node("ThresholdedRelu", 10, {{"alpha", attr_float(0.5f)}}), {x}), {0, 0, 0, 0, 3});
  check_values(run_all(make_node("Shrink", 9, {{"bias", attr_float(0.25f)}, {"lambd", attr_float(0.5f)}}), {x}),
               {-1.75f, 0, 0, 0, 2.75f});
  check_values(run_all(make_node("Softsign", 1), {x}), {-2.f / 3, -1.f / 3, 0, 1.f / 3, 0.75f});
  check_values(run_all(make_node("Softplus", 1), {floats({4}, {-100, 0, 1, 100})}), {0, 0.6931472f, 1.3132616f, 100});
  check_values(run_all(make_node("Sigmoid", 13), {x}, 1e-7, 1e-6), {0.1192029f, 0.3775407f, 0.5f, 0.6224593f, 0.9525741f});
  check_values(run_all(make_node("Tanh", 13), {x}, 1e-7, 1e-6), {-0.9640276f, -0.4621172f, 0, 0.4621172f, 0.9950548f});
  check_values(run_all(make_node("Mish", 18), {x}, 1e-7, 1e-6), {-0.2525015f, -0.2207438f, 0, 0.3752452f, 2.9865350f});
  check_values(run_all(make_node("Gelu", 20), {x}), {-0.0455003f, -0.1542687f, 0, 0.3457312f, 2.9959502f});
  check_values(run_all(make_node("Gelu", 20, {{"approximate", attr_str("tanh")}}), {x}),
               {-0.0454023f, -0.1542859f, 0, 0.3457141f, 2.9963627f});
  // NaN passes through Relu; Relu takes integers from opset 14.
  check_values(run_all(make_node("Relu", 14), {floats({1}, {NAN})}), {NAN});
  Tensor ri = run_all(make_node("Relu", 14), {Tensor::from_vector<int32_t>({3}, {-5, 0, 7})});
  CHECK(std::vector<int32_t>(ri.data<int32_t>(), ri.data<int32_t>() + 3) == std::vector<int32_t>{0, 0, 7});
  Tensor d = run_all(make_node("Sigmoid", 13), {Tensor::from_vector<double>({1}, {1.0})});
  CHECK(d.data<double>()[0] == Approx(0.7310585786300049).epsilon(1e-14));
}

TEST_CASE("PRelu slope broadcasting per opset", "[ops][activation]") {
  auto x = floats({1, 2, 2, 3}, {-1, 2, -3, 4, -5, 6, -1, -2, 3, -4, 5, -6});
  auto channel = floats({2, 1, 1}, {0.5f, 2});
  check_values(run_all(make_node("PRelu", 16), {x, channel}), {-0.5f, 2, -1.5f, 4, -2.5f, 6, -2, -4, 3, -8, 5, -12});
  // Opset < 7: a 1-D slope of size C is per channel.
  check_values(run_all(make_node("PRelu", 6), {x, floats({2}, {0.5f, 2})}),
               {-0.5f, 2, -1.5f, 4, -2.5f, 6, -2, -4, 3, -8, 5, -12});
  // Opset >= 7: the same 1-D slope is numpy-aligned to the last dim (size 3): invalid.
  auto bad = run(make_node("PRelu", 9), {x, floats({2}, {0.5f, 2})});
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == ErrorCode::kShapeMismatch);
  check_values(run_all(make_node("PRelu", 9), {x, floats({3}, {1, 10, 100})}),
               {-1, 2, -300, 4, -50, 6, -1, -20, 3, -4, 5, -600});
  check_values(run_all(make_node("PRelu", 16), {x, floats({1}, {0.1f})}),
               {-0.1f, 2, -0.3f, 4, -0.5f, 6, -0.1f, -0.2f, 3, -0.4f, 5, -0.6f});
  CHECK_FALSE(run(make_node("PRelu", 16), {x, Tensor::from_vector<double>({1}, {0.1})}).is_ok());
}

TEST_CASE("Clip bounds from attributes (opset < 11) and inputs (opset >= 11)", "[ops][activation]") {
  const float inf = std::numeric_limits<float>::infinity();
  auto x = floats({5}, {-inf, -2, 0.5f, 3, inf});
  check_values(run_all(make_node("Clip", 6, {{"min", attr_float(-1)}, {"max", attr_float(1)}}), {x}), {-1, -1, 0.5f, 1, 1});
  // Opset 6 documents +-FLT_MAX defaults, so infinities are clamped.
  Tensor d6 = run_all(make_node("Clip", 6, {{"min", attr_float(0)}}), {x});
  CHECK(d6.data<float>()[4] == std::numeric_limits<float>::max());
  Tensor d1 = run_all(make_node("Clip", 1, {{"min", attr_float(0)}}), {x});
  CHECK(d1.data<float>()[4] == inf);
  // Opset 11+: optional inputs; "" skips min.
  check_values(run_all(make_node("Clip", 13), {x, Tensor::scalar<float>(0)}), {0, 0, 0.5f, 3, inf});
  check_values(run_all(make_node("Clip", 13), {x, Tensor(), Tensor::scalar<float>(0)}), {-inf, -2, 0, 0, 0});
  check_values(run_all(make_node("Clip", 13), {x}), {-inf, -2, 0.5f, 3, inf});
  // min > max: everything becomes max.
  check_values(run_all(make_node("Clip", 13), {x, Tensor::scalar<float>(2), Tensor::scalar<float>(1)}), {1, 1, 1, 1, 1});
  check_values(run_all(make_node("Clip", 13), {floats({1}, {NAN}), Tensor::scalar<float>(0), Tensor::scalar<float>(1)}), {NAN});
  auto xi = Tensor::from_vector<int8_t>({4}, {-128, -3, 5, 127});
  Tensor ci = run_all(make_node("Clip", 13), {xi, Tensor::scalar<int8_t>(-4), Tensor::scalar<int8_t>(4)});
  CHECK(std::vector<int8_t>(ci.data<int8_t>(), ci.data<int8_t>() + 4) == std::vector<int8_t>{-4, -3, 4, 4});
  CHECK_FALSE(run(make_node("Clip", 11), {xi}).is_ok());  // integers arrive in opset 12
  auto wrong = run(make_node("Clip", 13), {x, Tensor::scalar<double>(0)});
  REQUIRE_FALSE(wrong.is_ok());
  CHECK(wrong.status().message().find("one-element float32") != std::string::npos);
  CHECK_FALSE(run(make_node("Clip", 13), {x, floats({2}, {0, 1})}).is_ok());
}

TEST_CASE("activation attribute and dtype errors", "[ops][activation]") {
  auto x = floats({2}, {1, 2});
  auto gelu = run(make_node("Gelu", 20, {{"approximate", attr_str("fast")}}), {x});
  REQUIRE_FALSE(gelu.is_ok());
  CHECK(gelu.status().message().find("approximate") != std::string::npos);
  CHECK_FALSE(run(make_node("Celu", 12, {{"alpha", attr_float(0)}}), {x}).is_ok());
  auto sig = run(make_node("Sigmoid", 13), {Tensor::from_vector<int32_t>({1}, {1})});
  REQUIRE_FALSE(sig.is_ok());
  CHECK(sig.status().code() == ErrorCode::kUnsupported);
  CHECK_FALSE(run(make_node("Relu", 14), {Tensor::from_vector<uint8_t>({1}, {1})}).is_ok());
  CHECK_FALSE(run(make_node("Mish", 17), {x}).is_ok());  // Mish arrives in opset 18
  CHECK_FALSE(run(make_node("Relu", 14), {}).is_ok());
}

TEST_CASE("activation fast paths match the reference", "[ops][activation]") {
  const int64_t n = GENERATE(1, 3, 7, 8, 13, 127, 100003);
  const char* op = GENERATE("Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu",
                            "Celu", "Softplus", "Softsign", "Mish", "Gelu", "ThresholdedRelu", "Shrink");
  CAPTURE(n, op);
  Tensor x = random_tensor({n}, static_cast<uint32_t>(n), -12.f, 12.f);
  // Special values at the front: signed zeros, infinities, NaN, the exp overflow edges.
  const float specials[] = {0.f, -0.f, INFINITY, -INFINITY, NAN, 88.5f, 89.f, -87.f, -88.f, -104.f, 1e-5f, -1e-5f, 0.6249f, 0.6251f};
  for (int64_t i = 0; i < n && i < 14; ++i) x.data<float>()[i] = specials[i];
  // The SIMD polynomials are within a few ulp; portable loops match exactly.
  run_all(make_node(op, op == std::string("Gelu") ? 20 : 18), {x}, 1e-7, 4e-6);
  Tensor xd(DType::kFloat64, {n});
  for (int64_t i = 0; i < n; ++i) {  // compare_tensors treats double inf/NaN as mismatches
    const float v = x.data<float>()[i];
    xd.data<double>()[i] = std::isfinite(v) ? v : 0.0;
  }
  run_all(make_node(op, op == std::string("Gelu") ? 20 : 18), {xd}, 0, 0);
}

TEST_CASE("activation portable fast path without AVX2", "[ops][activation]") {
  if (active_isa() < Isa::kAvx2) {
    WARN("AVX2 not active: the portable path is already the default");
    return;
  }
  const Isa previous = active_isa();
  set_isa_cap(Isa::kScalar);
  for (const char* op : {"Sigmoid", "Tanh", "Mish"}) {
    Tensor x = random_tensor({1000}, 3, -20.f, 20.f);
    auto ref = run(make_node(op, 18), {x}, true);
    auto fast = run(make_node(op, 18), {x}, false, 2);
    REQUIRE_OK(fast);
    CHECK_TENSOR_NEAR(fast.value()[0], ref.value()[0], 0, 0);
  }
  set_isa_cap(previous);
}

TEST_CASE("AVX-512 exp-based kernels give the AVX2 kernels' bits", "[ops][activation]") {
  // exp_avx512.h mirrors exp_avx2.h step for step (and tanh, mish theirs); a fused
  // SiLU epilogue relies on it to match the unfused Sigmoid, Mul on either ISA.
  // Every 4099th bit pattern covers both signs, all exponents (subnormals, the
  // overflow edges, inf, NaN) at odd mantissas, plus the branch edges; the lengths
  // give masked tails of every size.
  if (!cpu_features().has_avx512()) SKIP("no AVX-512");
  std::vector<float> x;
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFull; bits += 4099) {
    uint32_t b32 = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &b32, sizeof f);
    x.push_back(f);
  }
  for (float f : {0.f, -0.f, INFINITY, -INFINITY, NAN, 88.3762626647949f, 88.72283935546875f, 88.7228394f,
                  -87.3365447505531f, -87.3365479f, -103.9f, 1e-5f, -1e-5f, 0.625f, -0.625f, 0.6249f, 20.f,
                  20.000002f})
    x.push_back(f);
  using Fn = void (*)(const float*, float*, int64_t) noexcept;
  const std::pair<Fn, Fn> kernels[] = {{exp_f32__avx2, exp_f32__avx512},
                                       {sigmoid_f32__avx2, sigmoid_f32__avx512},
                                       {silu_f32__avx2, silu_f32__avx512},
                                       {tanh_f32__avx2, tanh_f32__avx512},
                                       {mish_f32__avx2, mish_f32__avx512}};
  for (const auto& [avx2, avx512] : kernels) {
    for (int64_t n : {int64_t(1), int64_t(15), int64_t(17), static_cast<int64_t>(x.size())}) {
      CAPTURE(n);
      std::vector<float> a(x.size(), -7.f), b(x.size(), -7.f);
      avx2(x.data(), a.data(), n);
      avx512(x.data(), b.data(), n);
      int64_t differ = 0;
      for (size_t i = 0; i < x.size(); ++i) differ += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
      CHECK(differ == 0);  // the -7 sentinels past n included
    }
  }
}

TEST_CASE("PRelu and Clip fast paths match the reference", "[ops][activation]") {
  using ShapePair = std::pair<Shape, Shape>;
  auto shapes = GENERATE(ShapePair{{1, 13, 7, 7}, {13, 1, 1}}, ShapePair{{2, 3, 127}, {127}},
                         ShapePair{{1, 7, 1, 13}, {1}}, ShapePair{{3, 13, 1, 7}, {3, 13, 1, 7}},
                         ShapePair{{1, 127, 300}, {127, 1}});
  Tensor x = random_tensor(shapes.first, 1);
  run_all(make_node("PRelu", 16), {x, random_tensor(shapes.second, 2)});
  run_all(make_node("Clip", 13), {x, Tensor::scalar<float>(-0.25f), Tensor::scalar<float>(0.5f)});
}

TEST_CASE("activation timings", "[.perf]") {
  Tensor x = random_tensor({1, 64, 112, 112}, 1, -4.f, 4.f);
  for (const char* op : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Mish", "HardSwish", "Gelu"})
    report_timing(std::string(op) + " 64x112x112", make_node(op, std::string(op) == "Gelu" ? 20 : 18), {x});
  report_timing("PRelu channel 64x112x112", make_node("PRelu", 16), {x, random_tensor({64, 1, 1}, 2)});
}
