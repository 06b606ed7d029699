// Reductions, ArgMax/ArgMin and the Softmax family: hand-computed values, axes as
// attribute vs input per opset, empty sets, errors, and fast vs reference sweeps.
#include "test_util.h"

#include <limits>

#include "ops/op_runner.h"
#include "ops/op_test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

// Fast path at 1 and 2 threads within 1e-6 of the reference unless a test says otherwise
// (run_all(n, in, atol, rtol)); returns the reference output.
Tensor run_all(const NodeDesc& n, const std::vector<Tensor>& in) { return op_test::run_all(n, in, 1e-6, 1e-6); }

Tensor axes(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }

void check_values(const Tensor& t, const std::vector<double>& expected) {
  REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
  const auto got = t.to_float_vector();
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("index " << i);
    if (std::isnan(expected[i])) CHECK(std::isnan(got[i]));
    else if (std::isinf(expected[i])) CHECK(got[i] == expected[i]);
    else CHECK(got[i] == Approx(expected[i]).epsilon(1e-6).margin(1e-7));
  }
}

const Tensor kX = Tensor::from_vector<float>({2, 3}, {1, -2, 3, 4, 5, -6});

}  // namespace

TEST_CASE("Reduce ops on hand-computed values", "[ops][reduce]") {
  struct Case {
    const char* op;
    std::vector<double> along1, all;
  };
  const double l2_0 = std::sqrt(14.0), l2_1 = std::sqrt(77.0);
  const Case cases[] = {
      {"ReduceSum", {2, 3}, {5}},
      {"ReduceMean", {2.0 / 3, 1}, {5.0 / 6}},
      {"ReduceMax", {3, 5}, {5}},
      {"ReduceMin", {-2, -6}, {-6}},
      {"ReduceProd", {-6, -120}, {720}},
      {"ReduceL1", {6, 15}, {21}},
      {"ReduceL2", {l2_0, l2_1}, {std::sqrt(91.0)}},
      {"ReduceSumSquare", {14, 77}, {91}},
      {"ReduceLogSumExp",
       {std::log(std::exp(1.0) + std::exp(-2.0) + std::exp(3.0)), std::log(std::exp(4.0) + std::exp(5.0) + std::exp(-6.0))},
       {std::log(std::exp(1.0) + std::exp(-2.0) + std::exp(3.0) + std::exp(4.0) + std::exp(5.0) + std::exp(-6.0))}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.op);
    // Opset 11: axes attribute; opset 18: axes input (13 already for ReduceSum).
    Tensor a = run_all(make_node(c.op, 11, {{"axes", attr_ints({1})}, {"keepdims", attr_int(0)}}), {kX});
    CHECK(a.shape() == Shape{2});
    check_values(a, c.along1);
    Tensor b = run_all(make_node(c.op, 18, {{"keepdims", attr_int(0)}}), {kX, axes({-1})});
    check_values(b, c.along1);
    Tensor all = run_all(make_node(c.op, 18), {kX});
    CHECK(all.shape() == Shape{1, 1});
    check_values(all, c.all);
  }
  check_values(run_all(make_node("ReduceLogSum", 18, {{"keepdims", attr_int(0)}}), {Tensor::from_vector<float>({2}, {1, 2}), axes({0})}),
               {std::log(3.0)});
  // Integer reductions stay exact.
  auto xi = Tensor::from_vector<int32_t>({2, 2}, {7, -3, 100000, 3});
  CHECK(run_all(make_node("ReduceSum", 13), {xi, axes({0})}).to_int64_vector() == std::vector<int64_t>{100007, 0});
  CHECK(run_all(make_node("ReduceMax", 13, {{"axes", attr_ints({1})}}), {xi}).to_int64_vector() == std::vector<int64_t>{7, 100000});
  CHECK(run_all(make_node("ReduceProd", 13, {{"axes", attr_ints({1})}}), {xi}).to_int64_vector() == std::vector<int64_t>{-21, 300000});
  // Large inputs do not overflow LogSumExp.
  check_values(run_all(make_node("ReduceLogSumExp", 18), {Tensor::from_vector<float>({2}, {1000, 1000})}), {1000 + std::log(2.0)});
}

TEST_CASE("Reduce axes, keepdims and noop_with_empty_axes per opset", "[ops][reduce]") {
  Tensor x = random_tensor({2, 3, 4}, 1);
  // Empty axes input: reduce everything, unless noop_with_empty_axes.
  CHECK(run_all(make_node("ReduceSum", 13), {x, axes({})}).shape() == Shape{1, 1, 1});
  Tensor noop = run_all(make_node("ReduceSum", 13, {{"noop_with_empty_axes", attr_int(1)}}), {x, axes({})});
  CHECK_TENSOR_NEAR(noop, x, 0, 0);
  Tensor noop_absent = run_all(make_node("ReduceMax", 18, {{"noop_with_empty_axes", attr_int(1)}}), {x});
  CHECK_TENSOR_NEAR(noop_absent, x, 0, 0);
  CHECK(run_all(make_node("ReduceMean", 13, {{"axes", attr_ints({0, 2})}, {"keepdims", attr_int(0)}}), {x}).shape() == Shape{3});
  CHECK(run_all(make_node("ReduceMean", 18, {{"keepdims", attr_int(1)}}), {x, axes({-3, 2})}).shape() == Shape{1, 3, 1});
  // Scalars reduce to themselves.
  CHECK(run_all(make_node("ReduceSum", 13), {Tensor::scalar<float>(4)}).data<float>()[0] == 4);

  auto expect_error = [&](const NodeDesc& n, const std::vector<Tensor>& in, const std::string& fragment) {
    auto r = run(n, in);
    REQUIRE_FALSE(r.is_ok());
    INFO(r.status().to_string());
    CHECK(r.status().message().find(fragment) != std::string::npos);
  };
  expect_error(make_node("ReduceSum", 13), {x, axes({3})}, "out of range");
  expect_error(make_node("ReduceSum", 13), {x, axes({1, -2})}, "repeated");
  expect_error(make_node("ReduceMean", 11, {{"axes", attr_ints({-4})}}), {x}, "out of range");
  expect_error(make_node("ReduceMean", 18, {{"axes", attr_ints({1})}}), {x}, "as an input");
  expect_error(make_node("ReduceSum", 13, {{"keepdims", attr_int(3)}}), {x}, "keepdims");
  expect_error(make_node("ReduceSum", 13), {x, Tensor::from_vector<float>({1}, {1})}, "int64");
  expect_error(make_node("ReduceL2", 18), {Tensor::from_vector<int32_t>({2}, {3, 4})}, "int32");
  expect_error(make_node("ReduceSum", 13), {Tensor::from_vector<bool>({1}, {true})}, "bool");
}

TEST_CASE("Reductions over an empty set give each op's identity", "[ops][reduce]") {
  Tensor empty(DType::kFloat32, {2, 0, 3});
  const double inf = std::numeric_limits<double>::infinity();
  const std::pair<const char*, double> cases[] = {
      {"ReduceSum", 0},          {"ReduceProd", 1},          {"ReduceMax", -inf}, {"ReduceMin", inf},
      {"ReduceMean", NAN},       {"ReduceL1", 0},            {"ReduceL2", 0},     {"ReduceSumSquare", 0},
      {"ReduceLogSumExp", -inf}, {"ReduceLogSum", -inf}};
  for (auto [op, value] : cases) {
    CAPTURE(op);
    Tensor y = run_all(make_node(op, 18, {{"keepdims", attr_int(0)}}), {empty, axes({1})});
    CHECK(y.shape() == Shape{2, 3});
    check_values(y, std::vector<double>(6, value));
  }
  // A kept zero-size dim gives an empty output.
  CHECK(run_all(make_node("ReduceSum", 13), {empty, axes({2})}).numel() == 0);
}

TEST_CASE("ArgMax / ArgMin: keepdims, negative axis, ties, select_last_index", "[ops][reduce]") {
  auto x = Tensor::from_vector<float>({2, 3}, {2, 7, 7, 5, 1, 5});
  CHECK(run_all(make_node("ArgMax", 13, {{"axis", attr_int(1)}}), {x}).to_int64_vector() == std::vector<int64_t>{1, 0});
  CHECK(run_all(make_node("ArgMax", 13, {{"axis", attr_int(1)}, {"select_last_index", attr_int(1)}}), {x}).to_int64_vector() ==
        std::vector<int64_t>{2, 2});
  CHECK(run_all(make_node("ArgMin", 13, {{"axis", attr_int(-1)}}), {x}).to_int64_vector() == std::vector<int64_t>{0, 1});
  Tensor col = run_all(make_node("ArgMin", 13, {{"keepdims", attr_int(0)}}), {x});
  CHECK(col.shape() == Shape{3});
  CHECK(col.to_int64_vector() == std::vector<int64_t>{0, 1, 1});
  Tensor kept = run_all(make_node("ArgMax", 11), {x});
  CHECK(kept.shape() == Shape{1, 3});
  CHECK(kept.dtype() == DType::kInt64);
  auto nan = Tensor::from_vector<float>({4}, {1, NAN, 3, NAN});
  CHECK(run_all(make_node("ArgMax", 13), {nan}).to_int64_vector() == std::vector<int64_t>{1});
  CHECK(run_all(make_node("ArgMin", 13, {{"select_last_index", attr_int(1)}}), {nan}).to_int64_vector() == std::vector<int64_t>{3});
  CHECK(run_all(make_node("ArgMax", 13), {Tensor::from_vector<int64_t>({3}, {-5, 9, 9})}).to_int64_vector() ==
        std::vector<int64_t>{1});
  CHECK_FALSE(run(make_node("ArgMax", 13, {{"axis", attr_int(2)}}), {x}).is_ok());
  CHECK_FALSE(run(make_node("ArgMax", 13), {Tensor(DType::kFloat32, {0, 2})}).is_ok());
}

TEST_CASE("Softmax family: opset < 13 flattens at axis, opset >= 13 works along it", "[ops][reduce]") {
  Tensor x = random_tensor({2, 3, 4}, 3, -3.f, 3.f);
  Tensor old = run_all(make_node("Softmax", 11, {{"axis", attr_int(1)}}), {x});
  Tensor now = run_all(make_node("Softmax", 13, {{"axis", attr_int(1)}}), {x});
  for (int n = 0; n < 2; ++n) {
    double flat = 0;
    for (int i = 0; i < 12; ++i) flat += old.data<float>()[n * 12 + i];
    CHECK(flat == Approx(1.0));
    for (int w = 0; w < 4; ++w) {
      double along = 0;
      for (int c = 0; c < 3; ++c) along += now.data<float>()[n * 12 + c * 4 + w];
      CHECK(along == Approx(1.0));
    }
  }
  // Defaults: axis 1 before opset 13 (rows of 12 here), -1 after (rows of 4).
  CHECK_TENSOR_NEAR(run_all(make_node("Softmax", 11), {x}), old, 0, 0);
  Tensor last = run_all(make_node("Softmax", 13), {x});
  CHECK_TENSOR_NEAR(last, run_all(make_node("Softmax", 11, {{"axis", attr_int(2)}}), {x}), 1e-7, 1e-6);

  auto row = Tensor::from_vector<float>({1, 3}, {1000, 1000, 999});
  const double z = 2 + std::exp(-1.0);
  check_values(run_all(make_node("Softmax", 13), {row}), {1 / z, 1 / z, std::exp(-1.0) / z});
  check_values(run_all(make_node("LogSoftmax", 13), {row}), {-std::log(z), -std::log(z), -1 - std::log(z)});
  check_values(run_all(make_node("Hardmax", 13), {row}), {1, 0, 0});  // ties: first maximum
  check_values(run_all(make_node("Hardmax", 11, {{"axis", attr_int(0)}}), {row}), {1, 0, 0});
  check_values(run_all(make_node("Softmax", 13), {Tensor::from_vector<float>({2}, {NAN, 1})}), {NAN, NAN});
  CHECK_FALSE(run(make_node("Softmax", 13, {{"axis", attr_int(3)}}), {x}).is_ok());
  CHECK_FALSE(run(make_node("Softmax", 13), {Tensor::from_vector<int32_t>({1}, {1})}).is_ok());
}

TEST_CASE("reduce fast paths match the reference over odd shapes and axis sets", "[ops][reduce]") {
  const Shape shape = GENERATE(Shape{1}, Shape{127}, Shape{3, 7}, Shape{13, 1, 7}, Shape{2, 3, 5, 7}, Shape{1, 13, 127},
                               Shape{3, 1, 13, 1}, Shape{2, 600, 3});
  CAPTURE(shape_str(shape));
  Tensor x = random_tensor(shape, 4, 0.25f, 1.5f);
  const int rank = static_cast<int>(shape.size());
  for (int subset = 0; subset < (1 << rank); ++subset) {
    std::vector<int64_t> ax;
    for (int d = 0; d < rank; ++d)
      if (subset & (1 << d)) ax.push_back(d);
    CAPTURE(shape_str(ax));
    for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}) {
      CAPTURE(op);
      run_all(make_node(op, 18, {{"keepdims", attr_int(subset % 2)}}), {x, axes(ax)}, 1e-5, 1e-5);
    }
    Tensor xi(DType::kInt64, shape);
    for (int64_t i = 0; i < x.numel(); ++i) xi.data<int64_t>()[i] = static_cast<int64_t>(x.data<float>()[i] * 20) - 10;
    run_all(make_node("ReduceSum", 18), {xi, axes(ax)}, 0, 0);
    run_all(make_node("ReduceMin", 18), {xi, axes(ax)}, 0, 0);
  }
  for (int axis = -rank; axis < rank; ++axis) {
    CAPTURE(axis);
    for (const char* op : {"ArgMax", "ArgMin"})
      for (int last : {0, 1}) run_all(make_node(op, 13, {{"axis", attr_int(axis)}, {"select_last_index", attr_int(last)}}), {x}, 0, 0);
    for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"})
      for (int opset : {11, 13}) run_all(make_node(op, opset, {{"axis", attr_int(axis)}}), {x}, 1e-6, 1e-6);
  }
}

TEST_CASE("reduce timings", "[.perf]") {
  Tensor x = random_tensor({1, 64, 112, 112}, 1);
  report_timing("ReduceMean HW 64x112x112", make_node("ReduceMean", 18), {x, axes({2, 3})});
  report_timing("ReduceSum C 64x112x112", make_node("ReduceSum", 13), {x, axes({1})});
  report_timing("ReduceMax N,H 64x112x112", make_node("ReduceMax", 18), {x, axes({0, 2})});
  report_timing("Softmax rows 100x1000", make_node("Softmax", 13), {random_tensor({100, 1000}, 2)});
  report_timing("Softmax axis 1 of 1x85x8400", make_node("Softmax", 13, {{"axis", attr_int(1)}}), {random_tensor({1, 85, 8400}, 3)});
  report_timing("ArgMax axis 1 of 1x85x8400", make_node("ArgMax", 13, {{"axis", attr_int(1)}}), {random_tensor({1, 85, 8400}, 4)});
}
