// Elementwise ops: hand-computed cases, broadcasting edges, legacy opset rules,
// dtype errors, and the fast path against the reference at 1 and 2 threads.
#include "test_util.h"

#include <cstring>
#include <limits>

#include "ops/broadcast.h"
#include "ops/op_runner.h"
#include "ops/op_test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

// Fast path at 1 and 2 threads within 1e-6 of the reference; returns the reference output.
Tensor run_all(const NodeDesc& n, const std::vector<Tensor>& in) { return op_test::run_all(n, in, 1e-6, 1e-6); }

Tensor floats(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

}  // namespace

TEST_CASE("broadcast_shapes and the merged plan", "[ops][eltwise]") {
  CHECK(broadcast_shapes({{2, 3, 4}, {3, 1}}).value() == Shape{2, 3, 4});
  CHECK(broadcast_shapes({{}, {5}}).value() == Shape{5});
  CHECK(broadcast_shapes({{0, 3}, {1, 3}}).value() == Shape{0, 3});
  CHECK(broadcast_shapes({{3, 1, 5}, {4, 1}, {1}}).value() == Shape{3, 4, 5});
  auto bad = broadcast_shapes({{2, 3}, {4}});
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == ErrorCode::kShapeMismatch);
  CHECK(bad.status().message().find("[2,3]") != std::string::npos);

  // Same shapes merge into one dim; a channel operand leaves [N*C, HW] with stride 0 inside.
  BroadcastPlan same({2, 3, 4, 5}, {{2, 3, 4, 5}, {2, 3, 4, 5}});
  CHECK(same.rows() == 1);
  CHECK(same.inner() == 120);
  BroadcastPlan channel({2, 3, 4, 5}, {{2, 3, 4, 5}, {1, 3, 1, 1}});
  CHECK(channel.inner() == 20);
  CHECK(channel.rows() == 6);
  CHECK(channel.inner_stride(1) == 0);
  auto c = channel.cursor(4);  // n=1, c=1
  CHECK(c.offset(0) == 80);
  CHECK(c.offset(1) == 1);
  c.next();
  CHECK(c.offset(1) == 2);
}

TEST_CASE("binary arithmetic on hand-computed values", "[ops][eltwise]") {
  SECTION("Add with trailing-dim broadcast") {
    Tensor out = run_all(make_node("Add", 14), {floats({2, 3}, {1, 2, 3, 4, 5, 6}), floats({3}, {10, 20, 30})});
    CHECK(out.shape() == Shape{2, 3});
    CHECK(values<float>(out) == std::vector<float>{11, 22, 33, 14, 25, 36});
  }
  SECTION("Sub with both operands broadcast") {
    Tensor out = run_all(make_node("Sub", 14), {floats({2, 1}, {1, 2}), floats({1, 3}, {1, 2, 3})});
    CHECK(out.shape() == Shape{2, 3});
    CHECK(values<float>(out) == std::vector<float>{0, -1, -2, 1, 0, -1});
  }
  SECTION("integer Div truncates toward zero, x/0 is defined as 0") {
    auto a = Tensor::from_vector<int32_t>({5}, {7, -7, 7, -7, 3});
    auto b = Tensor::from_vector<int32_t>({5}, {2, 2, -2, -2, 0});
    CHECK(values<int32_t>(run_all(make_node("Div", 14), {a, b})) == std::vector<int32_t>{3, -3, -3, 3, 0});
  }
  SECTION("int64 Mul wraps instead of trapping") {
    const int64_t big = std::numeric_limits<int64_t>::max();
    auto out = run_all(make_node("Mul", 14), {Tensor::from_vector<int64_t>({1}, {big}), Tensor::scalar<int64_t>(2)});
    CHECK(values<int64_t>(out)[0] == -2);
  }
  SECTION("Mod: fmod=0 follows the divisor's sign, fmod=1 the dividend's") {
    auto a = Tensor::from_vector<int32_t>({6}, {-4, 7, 5, 4, -7, 8});
    auto b = Tensor::from_vector<int32_t>({6}, {2, -3, 8, -3, 3, 5});
    CHECK(values<int32_t>(run_all(make_node("Mod", 13), {a, b})) == std::vector<int32_t>{0, -2, 5, -2, 2, 3});
    CHECK(values<int32_t>(run_all(make_node("Mod", 13, {{"fmod", attr_int(1)}}), {a, b})) ==
          std::vector<int32_t>{0, 1, 5, 1, -1, 3});
    auto fa = floats({2}, {-4.5f, 7.5f});
    auto fb = floats({2}, {2.f, -2.f});
    CHECK(values<float>(run_all(make_node("Mod", 13, {{"fmod", attr_int(1)}}), {fa, fb})) ==
          std::vector<float>{-0.5f, 1.5f});
    auto err = run(make_node("Mod", 13), {fa, fb});
    REQUIRE_FALSE(err.is_ok());
    CHECK(err.status().message().find("fmod=1") != std::string::npos);
  }
  SECTION("Pow: float^int, exact int^int, negative int exponents") {
    auto out = run_all(make_node("Pow", 15), {floats({3}, {2, 3, -2}), Tensor::from_vector<int64_t>({1}, {3})});
    CHECK(values<float>(out) == std::vector<float>{8, 27, -8});
    auto big = run_all(make_node("Pow", 15), {Tensor::from_vector<int64_t>({1}, {3}), Tensor::from_vector<int64_t>({1}, {39})});
    CHECK(values<int64_t>(big)[0] == 4052555153018976267LL);  // beyond double precision
    auto neg = run_all(make_node("Pow", 15), {Tensor::from_vector<int32_t>({4}, {2, 1, -1, -1}),
                                              Tensor::from_vector<int32_t>({4}, {-1, -5, -3, -2})});
    CHECK(values<int32_t>(neg) == std::vector<int32_t>{0, 1, -1, 1});
    auto sq = run_all(make_node("Pow", 15), {floats({2}, {-3, 0.5f}), Tensor::scalar<float>(2.f)});
    CHECK(values<float>(sq) == std::vector<float>{9, 0.25f});
  }
  SECTION("BitShift on unsigned types, over-wide shifts give 0") {
    auto a = Tensor::from_vector<uint8_t>({3}, {16, 4, 1});
    auto b = Tensor::from_vector<uint8_t>({3}, {1, 2, 9});
    CHECK(values<uint8_t>(run_all(make_node("BitShift", 11, {{"direction", attr_str("LEFT")}}), {a, b})) ==
          std::vector<uint8_t>{32, 16, 0});
    CHECK(values<uint8_t>(run_all(make_node("BitShift", 11, {{"direction", attr_str("RIGHT")}}), {a, b})) ==
          std::vector<uint8_t>{8, 1, 0});
  }
}

TEST_CASE("comparisons, logic and Where produce bool / selected values", "[ops][eltwise]") {
  auto a = floats({4}, {1, 2, 3, NAN});
  auto b = floats({1}, {2});
  CHECK(values<bool>(run_all(make_node("Equal", 13), {a, b})) == std::vector<bool>{false, true, false, false});
  CHECK(values<bool>(run_all(make_node("Greater", 13), {a, b})) == std::vector<bool>{false, false, true, false});
  CHECK(values<bool>(run_all(make_node("GreaterOrEqual", 16), {a, b})) == std::vector<bool>{false, true, true, false});
  CHECK(values<bool>(run_all(make_node("Less", 13), {a, b})) == std::vector<bool>{true, false, false, false});
  CHECK(values<bool>(run_all(make_node("LessOrEqual", 16), {a, b})) == std::vector<bool>{true, true, false, false});
  auto p = Tensor::from_vector<bool>({2, 2}, {true, true, false, false});
  auto q = Tensor::from_vector<bool>({2}, {true, false});
  CHECK(values<bool>(run_all(make_node("And", 7), {p, q})) == std::vector<bool>{true, false, false, false});
  CHECK(values<bool>(run_all(make_node("Or", 7), {p, q})) == std::vector<bool>{true, true, true, false});
  CHECK(values<bool>(run_all(make_node("Xor", 7), {p, q})) == std::vector<bool>{false, true, true, false});
  CHECK(values<bool>(run_all(make_node("Not", 1), {q})) == std::vector<bool>{false, true});
  auto eq = run_all(make_node("Equal", 13), {Tensor::from_vector<int64_t>({2}, {5, 6}), Tensor::scalar<int64_t>(6)});
  CHECK(values<bool>(eq) == std::vector<bool>{false, true});

  // Where: condition [2,1], X [1,3], Y scalar.
  auto cond = Tensor::from_vector<bool>({2, 1}, {true, false});
  auto x = Tensor::from_vector<int64_t>({1, 3}, {1, 2, 3});
  auto y = Tensor::scalar<int64_t>(-1);
  Tensor w = run_all(make_node("Where", 16), {cond, x, y});
  CHECK(w.shape() == Shape{2, 3});
  CHECK(values<int64_t>(w) == std::vector<int64_t>{1, 2, 3, -1, -1, -1});
}

TEST_CASE("variadic Sum / Mean / Max / Min", "[ops][eltwise]") {
  auto a = floats({2, 1}, {1, 5});
  auto b = floats({3}, {2, 4, 6});
  auto c = floats({1}, {3});
  CHECK(values<float>(run_all(make_node("Sum", 13), {a, b, c})) == std::vector<float>{6, 8, 10, 10, 12, 14});
  CHECK(values<float>(run_all(make_node("Mean", 13), {a, b, c})) == std::vector<float>{2, 8.f / 3, 10.f / 3, 10.f / 3, 4, 14.f / 3});
  CHECK(values<float>(run_all(make_node("Max", 13), {a, b, c})) == std::vector<float>{3, 4, 6, 5, 5, 6});
  CHECK(values<float>(run_all(make_node("Min", 13), {a, b, c})) == std::vector<float>{1, 1, 1, 2, 3, 3});
  CHECK(values<float>(run_all(make_node("Max", 13), {b})) == std::vector<float>{2, 4, 6});
  auto nan = run_all(make_node("Max", 13), {floats({2}, {NAN, 1}), floats({2}, {1, NAN})});
  CHECK(std::isnan(nan.data<float>()[0]));
  CHECK(std::isnan(nan.data<float>()[1]));
  // Opset < 8 has no broadcasting for the variadic ops.
  auto old = run(make_node("Sum", 6), {a, b});
  REQUIRE_FALSE(old.is_ok());
  CHECK(old.status().code() == ErrorCode::kShapeMismatch);
  CHECK(run(make_node("Max", 12), {Tensor::from_vector<int32_t>({2}, {1, 9}), Tensor::from_vector<int32_t>({2}, {4, 2})})
            .value()[0].data<int32_t>()[1] == 9);
}

TEST_CASE("legacy broadcast/axis attributes before opset 7", "[ops][eltwise]") {
  auto a = random_tensor({2, 3, 4, 5}, 1);
  auto b = random_tensor({3, 4}, 2);
  Tensor legacy = run_all(make_node("Add", 6, {{"broadcast", attr_int(1)}, {"axis", attr_int(1)}}), {a, b});
  Tensor modern = run_all(make_node("Add", 14), {a, b.reshaped({3, 4, 1})});
  CHECK_TENSOR_NEAR(legacy, modern, 0, 0);
  // No axis: B aligns with A's trailing dims.
  auto tail = random_tensor({5}, 3);
  CHECK_TENSOR_NEAR(run_all(make_node("Mul", 6, {{"broadcast", attr_int(1)}}), {a, tail}),
                    run_all(make_node("Mul", 14), {a, tail}), 0, 0);
  // broadcast=0 needs equal shapes; an axis that overruns A is a clear error.
  auto no_bcast = run(make_node("Add", 6), {a, b});
  REQUIRE_FALSE(no_bcast.is_ok());
  CHECK(no_bcast.status().message().find("broadcast=0") != std::string::npos);
  auto overrun = run(make_node("Add", 6, {{"broadcast", attr_int(1)}, {"axis", attr_int(3)}}), {a, b});
  REQUIRE_FALSE(overrun.is_ok());
  CHECK(overrun.status().code() == ErrorCode::kShapeMismatch);
}

TEST_CASE("unary ops on hand-computed values", "[ops][eltwise]") {
  auto x = floats({6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.7f});
  CHECK(values<float>(run_all(make_node("Round", 11), {x})) == std::vector<float>{0, 2, 2, -0.f, -2, -3});
  CHECK(values<float>(run_all(make_node("Floor", 13), {x})) == std::vector<float>{0, 1, 2, -1, -2, -3});
  CHECK(values<float>(run_all(make_node("Ceil", 13), {x})) == std::vector<float>{1, 2, 3, -0.f, -1, -2});
  CHECK(values<float>(run_all(make_node("Sign", 13), {floats({3}, {-2, 0, 3})})) == std::vector<float>{-1, 0, 1});
  CHECK(values<int32_t>(run_all(make_node("Abs", 13), {Tensor::from_vector<int32_t>({2}, {-3, 4})})) ==
        std::vector<int32_t>{3, 4});
  CHECK(values<int64_t>(run_all(make_node("Neg", 13), {Tensor::from_vector<int64_t>({2}, {-3, 4})})) ==
        std::vector<int64_t>{3, -4});
  CHECK(values<float>(run_all(make_node("Reciprocal", 13), {floats({2}, {4, -0.5f})})) == std::vector<float>{0.25f, -2});
  auto special = floats({4}, {INFINITY, -INFINITY, NAN, 1});
  CHECK(values<bool>(run_all(make_node("IsNaN", 13), {special})) == std::vector<bool>{false, false, true, false});
  CHECK(values<bool>(run_all(make_node("IsInf", 10), {special})) == std::vector<bool>{true, true, false, false});
  CHECK(values<bool>(run_all(make_node("IsInf", 10, {{"detect_negative", attr_int(0)}}), {special})) ==
        std::vector<bool>{true, false, false, false});
  CHECK(values<bool>(run_all(make_node("IsInf", 10, {{"detect_positive", attr_int(0)}}), {special})) ==
        std::vector<bool>{false, true, false, false});
  auto e = run_all(make_node("Exp", 13), {floats({2}, {0, 1})});
  CHECK(e.data<float>()[1] == Approx(2.7182818f));
  CHECK(run_all(make_node("Erf", 13), {floats({1}, {0.5f})}).data<float>()[0] == Approx(0.5204999f));
  CHECK(run_all(make_node("Sqrt", 13), {Tensor::from_vector<double>({1}, {2.0})}).data<double>()[0] ==
        Approx(1.4142135623730951));
}

TEST_CASE("eltwise dtype and shape errors are clear Status values", "[ops][eltwise]") {
  auto f = floats({2}, {1, 2});
  auto i = Tensor::from_vector<int32_t>({2}, {1, 2});
  auto mixed = run(make_node("Add", 14), {f, i});
  REQUIRE_FALSE(mixed.is_ok());
  CHECK(mixed.status().message().find("dtypes differ") != std::string::npos);
  auto shift = run(make_node("BitShift", 11, {{"direction", attr_str("LEFT")}}), {i, i});
  REQUIRE_FALSE(shift.is_ok());
  CHECK(shift.status().code() == ErrorCode::kUnsupported);
  auto bad_dir = run(make_node("BitShift", 11, {{"direction", attr_str("UP")}}), {i, i});
  REQUIRE_FALSE(bad_dir.is_ok());
  CHECK(bad_dir.status().message().find("direction") != std::string::npos);
  CHECK_FALSE(run(make_node("Not", 1), {f}).is_ok());
  CHECK_FALSE(run(make_node("Exp", 13), {i}).is_ok());
  CHECK_FALSE(run(make_node("Add", 14), {f, floats({3}, {1, 2, 3})}).is_ok());
  CHECK_FALSE(run(make_node("Add", 14), {f}).is_ok());
  CHECK_FALSE(run(make_node("Where", 16), {f, f, f}).is_ok());
  CHECK_FALSE(run(make_node("Mod", 13, {{"fmod", attr_int(2)}}), {i, i}).is_ok());
  CHECK_FALSE(run(make_node("GreaterOrEqual", 11), {f, f}).is_ok());  // not in opset 11
}

TEST_CASE("zero-size and scalar operands", "[ops][eltwise]") {
  Tensor empty(DType::kFloat32, {0, 3});
  Tensor out = run_all(make_node("Add", 14), {empty, floats({1, 3}, {1, 2, 3})});
  CHECK(out.shape() == Shape{0, 3});
  Tensor s = run_all(make_node("Mul", 14), {Tensor::scalar<float>(3), Tensor::scalar<float>(4)});
  CHECK(s.shape().empty());
  CHECK(s.data<float>()[0] == 12);
}

TEST_CASE("eltwise fast path matches reference over odd broadcast shapes", "[ops][eltwise]") {
  using ShapePair = std::pair<Shape, Shape>;
  auto shapes = GENERATE(ShapePair{{1}, {1}}, ShapePair{{127}, {127}}, ShapePair{{3, 7}, {7}},
                         ShapePair{{13, 1}, {1, 7}}, ShapePair{{2, 13, 7, 3}, {13, 1, 1}},
                         ShapePair{{1, 13, 1, 127}, {3, 1, 7, 1}}, ShapePair{{7, 1, 13}, {7, 3, 1}},
                         ShapePair{{2, 127, 300}, {127, 1}},  // many rows, several work items
                         ShapePair{{70001}, {70001}},         // one row split into blocks
                         ShapePair{{70001}, {}}, ShapePair{{}, {3, 7}}, ShapePair{{1, 1, 1}, {13}});
  const char* op = GENERATE("Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Greater", "Equal");
  CAPTURE(op, shape_str(shapes.first), shape_str(shapes.second));
  Tensor a = random_tensor(shapes.first, 11, 0.5f, 2.f);
  Tensor b = random_tensor(shapes.second, 12, 0.5f, 2.f);
  if (std::string(op) == "Equal") b = a.numel() == b.numel() ? a : b;
  run_all(make_node(op, 15), {a, b});
  // Integer variant of the same broadcast.
  if (std::string(op) == "Add" || std::string(op) == "Div" || std::string(op) == "Max") {
    auto to_int = [](const Tensor& t) {
      Tensor r(DType::kInt32, t.shape());
      for (int64_t i = 0; i < t.numel(); ++i) r.data<int32_t>()[i] = static_cast<int32_t>(t.data<float>()[i] * 50) - 40;
      return r;
    };
    run_all(make_node(op, 15), {to_int(a), to_int(b)});
  }
}

TEST_CASE("unary fast path matches reference", "[ops][eltwise]") {
  const int64_t n = GENERATE(1, 7, 13, 127, 70001);
  Tensor x = random_tensor({n}, static_cast<uint32_t>(n), -3.f, 3.f);
  const float specials[] = {0.f, -0.f, INFINITY, -INFINITY, NAN, 88.f, 89.f, -104.f, 0.5f, -2.5f};
  for (int64_t i = 0; i < n && i < 10; ++i) x.data<float>()[i] = specials[i];
  for (const char* op : {"Exp", "Log", "Sqrt", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Sin",
                         "Cos", "Tan", "Atan", "Sinh", "Cosh", "Asinh", "IsNaN", "IsInf"}) {
    CAPTURE(n, op);
    run_all(make_node(op, 13), {x});  // the AVX2 exp is within 2 ulp; the rest are the same libm calls
  }
}

TEST_CASE("Where fast path matches reference", "[ops][eltwise]") {
  using Shapes = std::vector<Shape>;
  auto shapes = GENERATE(Shapes{{13, 7}, {13, 7}, {13, 7}}, Shapes{{13, 1}, {1, 7}, {}},
                         Shapes{{1, 127}, {3, 1}, {3, 127}}, Shapes{{2, 300, 127}, {127}, {300, 1}});
  Tensor c0 = random_tensor(shapes[0], 5);
  Tensor cond(DType::kBool, shapes[0]);
  for (int64_t i = 0; i < cond.numel(); ++i) cond.data<bool>()[i] = c0.data<float>()[i] > 0;
  run_all(make_node("Where", 16), {cond, random_tensor(shapes[1], 6), random_tensor(shapes[2], 7)});
}

TEST_CASE("eltwise timings", "[.perf]") {
  Tensor x = random_tensor({1, 64, 112, 112}, 1);
  report_timing("Add channel bias 64x112x112", make_node("Add", 14), {x, random_tensor({1, 64, 1, 1}, 2)});
  report_timing("Mul same shape 64x112x112", make_node("Mul", 14), {x, random_tensor({1, 64, 112, 112}, 3)});
  report_timing("Add row broadcast 64x112x112", make_node("Add", 14), {x, random_tensor({112}, 4)});
  report_timing("Pow x^2 64x112x112", make_node("Pow", 15), {x, Tensor::scalar<float>(2)});
  report_timing("Exp 64x112x112", make_node("Exp", 13), {x});
}
