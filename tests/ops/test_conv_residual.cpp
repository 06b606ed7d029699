// Conv with a fused residual (kResidualAttr, input 3): every path (im2col, 1x1,
// Winograd, depthwise, grouped; constant and run-time weights) against the
// unfused reference act(conv + R), at 1 and 2 threads, plus the broadcasting
// fallback and the factory's checks.
#include "ops/conv.h"
#include "ops/op_runner.h"
#include "ops/op_test_util.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

struct ResidualCase {
  const char* what;
  Shape x, w;
  int64_t group = 1;
  std::vector<int64_t> strides, pads;
  bool bias = true;
};

NodeDesc conv_node(const ResidualCase& c, const char* activation, bool residual) {
  NodeDesc n;
  n.op_type = "Conv";
  n.opset = 11;
  n.name = "conv";
  if (c.group != 1) n.attrs.set("group", attr_int(c.group));
  if (!c.strides.empty()) n.attrs.set("strides", attr_ints(c.strides));
  if (!c.pads.empty()) n.attrs.set("pads", attr_ints(c.pads));
  if (activation) {
    n.attrs.set(kFusedActivationAttr, attr_str(activation));
    Attribute no_params;
    no_params.kind = Attribute::Kind::kFloats;
    n.attrs.set(kFusedActivationParamsAttr, no_params);
  }
  if (residual) n.attrs.set(kResidualAttr, attr_int(1));
  return n;
}

// inputs: X, W, B (or an empty handle), R; `constant` marks W and B as load-time constants.
void set_inputs(NodeDesc& node, const std::vector<Tensor>& in, bool constant) {
  set_constants(node, in, constant ? std::vector<int>{1, 2} : std::vector<int>{});
}

// The unfused graph: plain reference Conv, then Add, then Relu, in float.
Tensor unfused(const ResidualCase& c, const std::vector<Tensor>& in) {
  NodeDesc plain = conv_node(c, nullptr, false);
  std::vector<Tensor> conv_in(in.begin(), in.begin() + 3);
  set_inputs(plain, conv_in, false);
  Tensor y = run_ok(plain, conv_in, true, 1);
  const Tensor& r = in[3];
  REQUIRE(y.shape() == r.shape());
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float v = y.data<float>()[i] + r.data<float>()[i];
    y.data<float>()[i] = v < 0.f ? 0.f : v;
  }
  return y;
}

}  // namespace

TEST_CASE("Conv fused residual: every path vs the unfused reference", "[ops][conv][residual]") {
  const ResidualCase c = GENERATE(
      ResidualCase{"im2col stride 2", {1, 5, 13, 11}, {7, 5, 3, 3}, 1, {2, 2}, {1, 1, 1, 1}},
      ResidualCase{"1x1 batch 2", {2, 9, 7, 13}, {11, 9, 1, 1}},
      ResidualCase{"1x1 no bias", {1, 17, 5, 3}, {19, 17, 1, 1}, 1, {}, {}, false},
      ResidualCase{"1x1, 150 rows: the first block swept row tile by row tile", {1, 20, 9, 37}, {150, 20, 1, 1}},
      ResidualCase{"1x1 stride 2 (gathered pixels)", {2, 9, 13, 11}, {11, 9, 1, 1}, 1, {2, 2}},
      ResidualCase{"1x1 stride 2 to 7x7, pixel-major", {1, 136, 14, 13}, {64, 136, 1, 1}, 1, {2, 2}},
      // Winograd is preferred from 64 input channels (16 on AVX-512) and 9 output tiles (winograd_preferred)
      ResidualCase{"winograd", {1, 64, 13, 11}, {40, 64, 3, 3}, 1, {}, {1, 1, 1, 1}},
      ResidualCase{"winograd batch 2 no bias", {2, 64, 9, 9}, {64, 64, 3, 3}, 1, {}, {1, 1, 1, 1}, false},
      ResidualCase{"winograd, rows of 18 tiles (vector scatter)", {1, 64, 10, 70}, {32, 64, 3, 3}, 1, {}, {1, 1, 1, 1}},
      ResidualCase{"3x3 stride 1, few input channels (im2col)", {1, 9, 13, 11}, {10, 9, 3, 3}, 1, {}, {1, 1, 1, 1}},
      ResidualCase{"depthwise", {1, 12, 11, 9}, {12, 1, 3, 3}, 12, {}, {1, 1, 1, 1}},
      ResidualCase{"depthwise stride 2", {2, 7, 9, 13}, {7, 1, 3, 3}, 7, {2, 2}, {0, 1, 1, 0}},
      ResidualCase{"grouped", {1, 6, 9, 7}, {8, 3, 3, 3}, 2, {}, {1, 1, 1, 1}},
      ResidualCase{"1-D", {1, 5, 31}, {6, 5, 3}, 1, {}, {1, 1}},
      // constant weights on 7x7 output planes: the pixel-major GEMM (prefer_pixel_major)
      ResidualCase{"pixel-major 3x3", {1, 64, 7, 7}, {32, 64, 3, 3}, 1, {}, {1, 1, 1, 1}},
      ResidualCase{"pixel-major 1x1 batch 2", {2, 136, 7, 7}, {64, 136, 1, 1}},
      ResidualCase{"pixel-major 1x1 read in place, 2 K blocks", {1, 460, 14, 14}, {416, 460, 1, 1}});
  CAPTURE(c.what);
  std::vector<Tensor> in{random_tensor(c.x, 31), random_tensor(c.w, 32, -0.5f, 0.5f),
                         c.bias ? random_tensor({c.w[0]}, 33) : Tensor()};
  {  // R has the conv output's shape
    NodeDesc probe = conv_node(c, nullptr, false);
    std::vector<Tensor> conv_in = in;
    set_inputs(probe, conv_in, false);
    in.push_back(random_tensor(run_ok(probe, conv_in, true, 1).shape(), 34, -2.f, 2.f));
  }
  const Tensor want = unfused(c, in);
  for (bool constant : {false, true}) {
    CAPTURE(constant);
    NodeDesc node = conv_node(c, "Relu", true);
    set_inputs(node, in, constant);
    const Tensor ref = run_ok(node, in, true, 1);
    CHECK(bit_identical(ref, want));  // the reference rounds exactly as Conv -> Add -> Relu does
    const Tensor one = run_ok(node, in, false, 1);
    const Tensor two = run_ok(node, in, false, 2);
    CHECK_TENSOR_NEAR(one, want, 2e-4, 2e-4);
    CHECK(bit_identical(one, two));
  }
}

TEST_CASE("Conv fused residual: R of another shape broadcasts like the unfused Add", "[ops][conv][residual]") {
  const ResidualCase c{"im2col", {1, 5, 8, 7}, {9, 5, 3, 3}, 1, {}, {1, 1, 1, 1}};
  std::vector<Tensor> in{random_tensor(c.x, 41), random_tensor(c.w, 42, -0.5f, 0.5f), random_tensor({9}, 43)};
  NodeDesc plain = conv_node(c, nullptr, false);
  set_inputs(plain, in, false);
  const Tensor conv = run_ok(plain, in, true, 1);  // (1, 9, 8, 7)
  for (const Shape& rs : {Shape{9, 1, 1}, Shape{1, 9, 1, 7}, Shape{2, 9, 8, 7}}) {
    CAPTURE(shape_str(rs));
    std::vector<Tensor> with_r = in;
    with_r.push_back(random_tensor(rs, 44, -2.f, 2.f));
    const Tensor& r = with_r[3];
    // Expected by hand: out[n,k,h,w] = relu(conv[0,k,h,w] + r[broadcast index]).
    const int64_t batch = rs.size() == 4 ? rs[0] : 1;
    Tensor want(DType::kFloat32, {batch, 9, 8, 7});
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t k = 0; k < 9; ++k)
        for (int64_t h = 0; h < 8; ++h)
          for (int64_t w = 0; w < 7; ++w) {
            int64_t ri = 0;
            if (rs.size() == 3) ri = k;
            else if (rs[2] == 1) ri = k * 7 + w;
            else ri = ((n * 9 + k) * 8 + h) * 7 + w;
            const float v = conv.data<float>()[(k * 8 + h) * 7 + w] + r.data<float>()[ri];
            want.data<float>()[((n * 9 + k) * 8 + h) * 7 + w] = v < 0.f ? 0.f : v;
          }
    NodeDesc node = conv_node(c, "Relu", true);
    set_inputs(node, with_r, true);
    CHECK(bit_identical(run_ok(node, with_r, true, 1), want));
    const Tensor one = run_ok(node, with_r, false, 1);
    CHECK_TENSOR_NEAR(one, want, 2e-4, 2e-4);
    CHECK(bit_identical(one, run_ok(node, with_r, false, 2)));
  }
  SECTION("shapes that do not broadcast are an error") {
    std::vector<Tensor> with_r = in;
    with_r.push_back(random_tensor({1, 9, 8, 6}, 45));
    NodeDesc node = conv_node(c, nullptr, true);
    set_inputs(node, with_r, true);
    for (bool ref : {true, false}) {
      auto r = run_single_op(node, with_r, SingleOpOptions{ref, 1});
      REQUIRE_FALSE(r.is_ok());
      CHECK(r.status().message().find("broadcast") != std::string::npos);
    }
  }
}

TEST_CASE("Conv fused residual: malformed internal attributes are rejected", "[ops][conv][residual]") {
  const ResidualCase c{"1x1", {1, 3, 4, 4}, {2, 3, 1, 1}};
  std::vector<Tensor> in{random_tensor(c.x, 1), random_tensor(c.w, 2), random_tensor({2}, 3)};
  NodeDesc node = conv_node(c, nullptr, true);  // residual flag but no input 3
  set_inputs(node, in, true);
  auto r = run_single_op(node, in);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().find(kResidualAttr) != std::string::npos);
  in.push_back(random_tensor({1, 2, 4, 4}, 4));
  NodeDesc four = conv_node(c, nullptr, false);  // four inputs without the flag
  set_inputs(four, in, true);
  auto r4 = run_single_op(four, in);
  REQUIRE_FALSE(r4.is_ok());
  CHECK(r4.status().message().find("at most 3 inputs") != std::string::npos);
}
