// Conv / ConvTranspose conformance: hand-computed cases, values from PyTorch,
// an odd-shape table comparing every fast path (each ISA this CPU runs, 1 and 2
// threads, constant and run-time weights) with the reference, invalid
// attributes, the fused epilogue, and a hidden [.perf] benchmark.
#include <cmath>
#include <algorithm>

#include <tbb/task_arena.h>

#include "core/cpu_features.h"
#include "ops/conv.h"
#include "ops/conv_winograd.h"
#include "ops/op_runner.h"
#include "ops/op_test_util.h"
#include "ops/registry.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

struct ConvCase {
  Shape x, w;
  int64_t group = 1;
  std::vector<int64_t> strides, dilations, pads;
  std::string auto_pad;  // "" = attribute absent
  bool bias = true;
  std::vector<int64_t> output_padding, output_shape;  // ConvTranspose only
};

// A Conv / ConvTranspose node (opset 11) carrying only the attributes `c` sets.
NodeDesc conv_node(const std::string& op, const ConvCase& c) {
  NodeDesc n;
  n.op_type = op;
  n.opset = 11;
  if (c.group != 1) n.attrs.set("group", attr_int(c.group));
  if (!c.strides.empty()) n.attrs.set("strides", attr_ints(c.strides));
  if (!c.dilations.empty()) n.attrs.set("dilations", attr_ints(c.dilations));
  if (!c.pads.empty()) n.attrs.set("pads", attr_ints(c.pads));
  if (!c.auto_pad.empty()) n.attrs.set("auto_pad", attr_str(c.auto_pad));
  if (!c.output_padding.empty()) n.attrs.set("output_padding", attr_ints(c.output_padding));
  if (!c.output_shape.empty()) n.attrs.set("output_shape", attr_ints(c.output_shape));
  return n;
}

// Same inputs as the PyTorch generator quoted next to the expected values.
Tensor sin_tensor(const Shape& s) {
  Tensor t(DType::kFloat32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(std::sin(0.37 * double(i) + 0.1));
  return t;
}
Tensor cos_tensor(const Shape& s) {
  Tensor t(DType::kFloat32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(0.5 * std::cos(0.23 * double(i)));
  return t;
}
Tensor ramp_bias(int64_t n) {
  Tensor t(DType::kFloat32, {n});
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = float(0.1 * double(i) - 0.2);
  return t;
}

// Reference vs fast for every ISA, at 1 and 2 threads, with run-time and constant weights.
void check_case(const std::string& op, const ConvCase& c) {
  const int64_t out_ch = op == "Conv" ? c.w[0] : c.w[1] * c.group;
  std::vector<Tensor> in{random_tensor(c.x, 11), random_tensor(c.w, 12)};
  if (c.bias) in.push_back(random_tensor({out_ch}, 13));
  NodeDesc node = conv_node(op, c);
  set_constants(node, in, {});
  const Tensor ref = run_ok(node, in, true, 1);
  NodeDesc const_node = node;
  set_constants(const_node, in, {1, 2 < int(in.size()) ? 2 : 1});
  IsaCapGuard guard;
  for (Isa isa : runnable_isas()) {
    set_isa_cap(isa);
    INFO("isa " << isa_name(isa));
    const Tensor one = run_ok(node, in, false, 1);
    const Tensor two = run_ok(node, in, false, 2);
    const Tensor packed = run_ok(const_node, in, false, 2);
    CHECK_TENSOR_NEAR(one, ref, 1e-4, 1e-4);
    CHECK(bit_identical(one, two));
    CHECK(bit_identical(run_ok(const_node, in, false, 1), packed));
    // Constant 3x3 stride-1 weights take Winograd (its own accuracy test:
    // test_conv_winograd.cpp) and constant weights on small output planes the
    // pixel-major GEMM (other sums); everything else packs the same GEMM operands.
    auto attrs = parse_conv_attrs(const_node, false);
    REQUIRE(attrs.is_ok());
    const bool other_sums = op == "Conv" && (winograd_eligible_weights(attrs.value(), c.w) ||
                                             prefer_pixel_major(resolve_conv(attrs.value(), c.x, c.w).value(),
                                                                gemm_kernels(isa)));
    if (other_sums)
      CHECK_TENSOR_NEAR(packed, ref, 1e-3, 1e-3);
    else
      CHECK(bit_identical(one, packed));
  }
}

}  // namespace

TEST_CASE("Conv hand-computed: padding, auto_pad, 1x1", "[ops][conv]") {
  for (bool ref : {true, false}) {
    // All-ones 3x3 input and kernel, pad 1: each output counts the taps inside.
    ConvCase c{{1, 1, 3, 3}, {1, 1, 3, 3}};
    c.pads = {1, 1, 1, 1};
    Tensor ones_x = Tensor::from_vector<float>({1, 1, 3, 3}, std::vector<float>(9, 1.f));
    Tensor y = run_ok(conv_node("Conv", c), {ones_x, ones_x}, ref, 1);
    CHECK_TENSOR_NEAR(y, Tensor::from_vector<float>({1, 1, 3, 3}, {4, 6, 4, 6, 9, 6, 4, 6, 4}), 0, 0);
    // 1-D [1,2,3,4] * [1,1]: SAME_UPPER pads the end, SAME_LOWER the start, VALID neither.
    Tensor x = Tensor::from_vector<float>({1, 1, 4}, {1, 2, 3, 4});
    Tensor w = Tensor::from_vector<float>({1, 1, 2}, {1, 1});
    ConvCase same{{1, 1, 4}, {1, 1, 2}};
    same.auto_pad = "SAME_UPPER";
    CHECK_TENSOR_NEAR(run_ok(conv_node("Conv", same), {x, w}, ref, 1),
                      Tensor::from_vector<float>({1, 1, 4}, {3, 5, 7, 4}), 0, 0);
    same.auto_pad = "SAME_LOWER";
    CHECK_TENSOR_NEAR(run_ok(conv_node("Conv", same), {x, w}, ref, 1),
                      Tensor::from_vector<float>({1, 1, 4}, {1, 3, 5, 7}), 0, 0);
    same.auto_pad = "VALID";
    CHECK_TENSOR_NEAR(run_ok(conv_node("Conv", same), {x, w}, ref, 1),
                      Tensor::from_vector<float>({1, 1, 3}, {3, 5, 7}), 0, 0);
    // 1x1 conv mixing two channels, with bias: y = 2*a - b + 1
    Tensor x2 = Tensor::from_vector<float>({1, 2, 1, 2}, {1, 2, 3, 4});
    Tensor w2 = Tensor::from_vector<float>({1, 2, 1, 1}, {2, -1});
    Tensor b2 = Tensor::from_vector<float>({1}, {1});
    CHECK_TENSOR_NEAR(run_ok(conv_node("Conv", ConvCase{{1, 2, 1, 2}, {1, 2, 1, 1}}), {x2, w2, b2}, ref, 1),
                      Tensor::from_vector<float>({1, 1, 1, 2}, {0, 1}), 0, 0);
  }
}

TEST_CASE("ConvTranspose hand-computed: stride, auto_pad, output_shape", "[ops][conv]") {
  for (bool ref : {true, false}) {
    // Stride 2, 2x2 ones kernel: each input spreads into its own 2x2 block.
    Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
    Tensor w = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 1, 1, 1});
    ConvCase c{{1, 1, 2, 2}, {1, 1, 2, 2}};
    c.strides = {2, 2};
    CHECK_TENSOR_NEAR(run_ok(conv_node("ConvTranspose", c), {x, w}, ref, 1),
                      Tensor::from_vector<float>({1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}), 0, 0);
    // 1-D [1,2,3] with [1,1,1], stride 2: full output is [1,1,3,2,5,3,3] (7 values).
    Tensor x1 = Tensor::from_vector<float>({1, 1, 3}, {1, 2, 3});
    Tensor w1 = Tensor::from_vector<float>({1, 1, 3}, {1, 1, 1});
    ConvCase c1{{1, 1, 3}, {1, 1, 3}};
    c1.strides = {2};
    c1.auto_pad = "SAME_UPPER";  // out 6, the cut pixel is at the end
    CHECK_TENSOR_NEAR(run_ok(conv_node("ConvTranspose", c1), {x1, w1}, ref, 1),
                      Tensor::from_vector<float>({1, 1, 6}, {1, 1, 3, 2, 5, 3}), 0, 0);
    c1.auto_pad = "SAME_LOWER";  // the cut pixel is at the start
    CHECK_TENSOR_NEAR(run_ok(conv_node("ConvTranspose", c1), {x1, w1}, ref, 1),
                      Tensor::from_vector<float>({1, 1, 6}, {1, 3, 2, 5, 3, 3}), 0, 0);
    c1.auto_pad = "";
    c1.output_shape = {8};  // larger than the natural 7: the extra pixel only gets bias (none)
    CHECK_TENSOR_NEAR(run_ok(conv_node("ConvTranspose", c1), {x1, w1}, ref, 1),
                      Tensor::from_vector<float>({1, 1, 8}, {1, 1, 3, 2, 5, 3, 3, 0}), 0, 0);
  }
}

TEST_CASE("Conv and ConvTranspose match PyTorch", "[ops][conv]") {
  // Expected values: /usr/bin/python3 with torch 1.13, inputs
  //   x = sin(0.37*i + 0.1), w = 0.5*cos(0.23*i), b = 0.1*i - 0.2 (float32, flat index i), then
  //   F.conv2d(x(1,2,5,5), w(3,2,3,3), b, stride=2, padding=1)
  //   F.conv2d(x(1,4,5,5), w(4,2,3,3), b, padding=(1,2), dilation=2, groups=2)
  //   F.conv_transpose2d(x(1,2,3,3), w(2,1,3,3), b, stride=2, padding=1, output_padding=1)
  //   F.conv_transpose1d(x(1,2,4), w(2,1,3), b, stride=3, padding=1, output_padding=2, dilation=2, groups=2)
  const std::vector<float> conv_s2 = {0.6373995f, 2.05284f, 1.435692f, -0.1321837f, -1.438729f, -1.391052f, 0.3882537f, 2.097965f, 1.758545f, 0.8109579f, 0.1784614f, -0.6763772f, -1.582654f, -0.5752417f, 0.8068298f, 0.4800054f, -0.4755047f, -1.223087f, -1.824225f, -2.554493f, -1.011312f, 1.538319f, 1.753551f, 0.2086976f, -1.216564f, -1.891187f, -0.7419235f};
  const std::vector<float> conv_g2 = {0.6093981f, 0.4487401f, 0.6123863f, 0.513931f, 0.3284349f, -0.09452252f, 0.1660693f, 0.4577176f, 0.2766442f, 0.4016656f, 0.4653338f, 0.5300576f, 0.6312082f, 0.4801439f, 0.5265273f, -0.4841421f, -0.1480177f, -0.2697509f, -0.3156412f, 0.03501379f, 0.5228394f, 0.1449831f, 0.1242141f, 0.003264941f, -0.3937857f, -0.8516155f, -0.6085865f, -0.7764623f, -0.7184795f, -0.4513953f, -0.1515818f, -0.4061874f, -0.3653468f, -0.2364191f, -0.4930553f, -0.8238668f, -0.7746028f, -1.138533f, -0.8041536f, -0.5733902f, 0.4409711f, 0.1308755f, 0.2882619f, 0.3090571f, -0.02917019f, 0.9188353f, 0.9065461f, 1.050673f, 0.8769885f, 0.8307167f, 0.08936513f, 0.3353832f, 0.6096095f, 0.504684f, 0.6399517f, 0.5104617f, 0.6988199f, 0.7199378f, 0.5595925f, 0.7372173f};
  const std::vector<float> convt_2d = {-0.02917752f, 0.420734f, 0.2396043f, 0.8820767f, 0.4488878f, 0.379012f, 0.7038262f, 1.780579f, 0.8672401f, 1.9541f, 0.8862081f, 0.7702595f, 0.5703474f, 1.322781f, 0.5875439f, 1.242496f, 0.4981502f, 0.4100328f, 0.758163f, 1.442474f, 0.5004349f, 0.8265733f, 0.1479063f, -0.02752931f, 0.3142652f, 0.5335106f, 0.06077664f, 0.000768289f, -0.2280067f, -0.2364958f, 0.03965233f, 0.08067457f, -0.096876f, -0.2075669f, -0.2473617f, -0.2491662f};
  const std::vector<float> convt_1d = {-0.2f, -0.1513978f, 0.02644314f, -0.155272f, 0.02048007f, 0.1723215f, 0.002904937f, 0.162517f, 0.267808f, 0.1336197f, 0.2554889f, -0.2f, 0.2191805f, -0.2f, -0.1f, 0.2028973f, 0.2582282f, 0.1042351f, 0.1813913f, 0.1823653f, 0.08973419f, 0.1218003f, 0.06828552f, 0.04955367f, 0.03218967f, -0.1f, -0.01086823f, -0.1f};
  ConvCase a{{1, 2, 5, 5}, {3, 2, 3, 3}};
  a.strides = {2, 2};
  a.pads = {1, 1, 1, 1};
  ConvCase b{{1, 4, 5, 5}, {4, 2, 3, 3}, 2};
  b.dilations = {2, 2};
  b.pads = {1, 2, 1, 2};
  ConvCase t2{{1, 2, 3, 3}, {2, 1, 3, 3}};
  t2.strides = {2, 2};
  t2.pads = {1, 1, 1, 1};
  t2.output_padding = {1, 1};
  ConvCase t1{{1, 2, 4}, {2, 1, 3}, 2};
  t1.strides = {3};
  t1.pads = {1, 1};
  t1.output_padding = {2};
  t1.dilations = {2};
  for (bool ref : {true, false}) {
    INFO("reference " << ref);
    auto run = [&](const char* op, const ConvCase& c, int64_t out_ch) {
      return run_ok(conv_node(op, c), {sin_tensor(c.x), cos_tensor(c.w), ramp_bias(out_ch)}, ref, 2);
    };
    CHECK_TENSOR_NEAR(run("Conv", a, 3), Tensor::from_vector<float>({1, 3, 3, 3}, conv_s2), 1e-5, 1e-5);
    CHECK_TENSOR_NEAR(run("Conv", b, 4), Tensor::from_vector<float>({1, 4, 3, 5}, conv_g2), 1e-5, 1e-5);
    CHECK_TENSOR_NEAR(run("ConvTranspose", t2, 1), Tensor::from_vector<float>({1, 1, 6, 6}, convt_2d), 1e-5, 1e-5);
    CHECK_TENSOR_NEAR(run("ConvTranspose", t1, 2), Tensor::from_vector<float>({1, 2, 14}, convt_1d), 1e-5, 1e-5);
  }
}

TEST_CASE("Conv odd shapes: fast paths vs reference", "[ops][conv]") {
  const ConvCase c = GENERATE(
      ConvCase{{1, 3, 7, 7}, {5, 3, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},
      ConvCase{{2, 3, 13, 13}, {7, 3, 3, 3}, 1, {2, 2}, {}, {0, 1, 1, 0}},
      ConvCase{{1, 5, 127, 3}, {6, 5, 1, 1}},                               // 1x1 direct GEMM
      // 1x1 strided, unpadded: the pixels read are gathered, then a plain 1x1 GEMM
      ConvCase{{1, 9, 13, 13}, {11, 9, 1, 1}, 1, {2, 2}},                   // odd width: last column alone
      ConvCase{{1, 5, 10, 11}, {6, 5, 1, 1}, 1, {3, 3}},                    // stride 3
      ConvCase{{2, 4, 9, 9}, {6, 2, 1, 1}, 2, {1, 2}},                      // batch 2, group 2, stride (1, 2)
      ConvCase{{1, 3, 7, 600}, {4, 3, 1, 1}, 1, {2, 1}},                    // stride (2, 1), wide rows
      ConvCase{{1, 2, 5, 601}, {3, 2, 1, 1}, 1, {2, 2}},                    // rows of 300 pairs and one more
      ConvCase{{1, 3, 5, 6, 7}, {4, 3, 1, 1, 1}, 1, {2, 2, 2}},             // 3-D
      ConvCase{{1, 130, 14, 14}, {64, 130, 1, 1}, 1, {2, 2}},               // to 7x7: pixel-major if constant
      ConvCase{{1, 3, 8, 8}, {4, 3, 1, 1}, 1, {2, 2}, {}, {1, 1, 1, 1}},    // padded: im2col
      ConvCase{{1, 3, 7, 7}, {4, 3, 1, 1}, 1, {}, {}, {1, 1, 1, 1}},        // 1x1 padded
      ConvCase{{2, 13, 13, 13}, {13, 1, 3, 3}, 13, {}, {}, {1, 1, 1, 1}},   // depthwise s1
      ConvCase{{1, 10, 41, 67}, {10, 1, 3, 3}, 10, {2, 2}, {}, {1, 1, 1, 1}},  // depthwise s2
      ConvCase{{1, 7, 13, 40}, {7, 1, 5, 5}, 7, {3, 3}, {2, 2}, {2, 2, 2, 2}},  // depthwise s3 d2
      ConvCase{{1, 3, 9, 127}, {3, 1, 3, 3}, 3, {}, {}, {1, 1, 1, 1}},      // depthwise, wide rows
      ConvCase{{1, 9, 7, 7}, {9, 1, 3, 3}, 9, {}, {}, {1, 1, 1, 1}},        // depthwise 7x7 planes (one short run)
      ConvCase{{2, 5, 14, 14}, {5, 1, 3, 3}, 5, {2, 2}, {}, {0, 1, 1, 0}},  // depthwise s2, asymmetric pads
      ConvCase{{1, 5, 13, 13}, {5, 1, 3, 3}, 5, {}, {}, {0, 1, 2, 0}, "", false},
      ConvCase{{1, 4, 9, 9}, {8, 1, 3, 3}, 4, {}, {}, {1, 1, 1, 1}},        // channel multiplier 2
      ConvCase{{1, 6, 9, 9}, {10, 3, 3, 3}, 2},                             // group 2
      ConvCase{{1, 9, 13, 13}, {6, 3, 3, 3}, 3, {2, 2}, {2, 2}, {2, 2, 2, 2}},  // group 3
      ConvCase{{1, 3, 13, 13}, {4, 3, 3, 3}, 1, {}, {3, 3}},                // dilation 3
      ConvCase{{1, 3, 8, 8}, {4, 3, 3, 3}, 1, {2, 2}, {}, {}, "SAME_UPPER"},
      ConvCase{{1, 3, 7, 7}, {4, 3, 4, 4}, 1, {2, 2}, {}, {}, "SAME_LOWER"},
      ConvCase{{1, 3, 7, 9}, {4, 3, 3, 5}, 1, {1, 2}, {}, {}, "VALID"},
      ConvCase{{2, 5, 127}, {7, 5, 3}, 1, {2}, {}, {1, 2}},                 // 1-D
      ConvCase{{1, 8, 33}, {8, 1, 5}, 8, {}, {}, {2, 2}},                   // 1-D depthwise
      ConvCase{{1, 3, 5, 6, 7}, {4, 3, 3, 3, 3}, 1, {1, 2, 1}, {}, {1, 1, 1, 1, 1, 1}},  // 3-D
      ConvCase{{1, 4, 3, 5, 7}, {6, 4, 1, 1, 1}},                           // 3-D pointwise
      ConvCase{{1, 4, 1, 5, 7}, {4, 1, 1, 3, 3}, 4, {}, {}, {1, 1, 1, 1, 1, 1}},  // 3-D depthwise, padded depth
      ConvCase{{1, 3, 1, 1}, {4, 3, 1, 1}},
      ConvCase{{1, 3, 7, 7}, {5, 3, 7, 7}},                                 // kernel = input
      ConvCase{{1, 67, 13, 13}, {19, 67, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},   // K = 603: several K blocks
      ConvCase{{1, 37, 31, 29}, {150, 37, 1, 1}},                           // M spans M blocks
      // 2 threads: B packed once, in 2 K blocks x 2 column strips
      ConvCase{{1, 40, 20, 20}, {64, 40, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},
      ConvCase{{1, 8, 127, 127}, {3, 8, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},    // many pixel tiles
      // 2 threads: 600 KB of weights, 18 pixel panels: strips of 2 panels, every task all rows
      ConvCase{{1, 120, 48, 48}, {140, 120, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}},
      ConvCase{{1, 1, 1100, 1100}, {2, 1, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}},  // phase copy over its cap: plain im2col
      ConvCase{{3, 4, 5, 5}, {6, 2, 1, 1}, 2},
      // Small output planes (7x7, 3x3): pixel-major GEMM with constant weights
      ConvCase{{1, 70, 7, 7}, {32, 70, 3, 3}, 1, {1, 1}, {}, {1, 1, 1, 1}},  // 3 K blocks
      ConvCase{{2, 128, 7, 7}, {48, 128, 1, 1}},                            // 1x1, batch 2
      ConvCase{{1, 65, 13, 13}, {64, 65, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}},  // stride 2 to 7x7
      ConvCase{{1, 130, 3, 3}, {40, 130, 1, 1}},                            // 9 pixels, ragged channels
      // 1x1 pixel-major reading its 14x14 input planes in place (AVX-512): 2 K blocks,
      // weights too big to split by pixels; split by pixels at 2 threads
      ConvCase{{1, 460, 14, 14}, {416, 460, 1, 1}},
      ConvCase{{1, 260, 14, 14}, {64, 260, 1, 1}},
      ConvCase{{1, 256, 14, 14}, {1024, 256, 1, 1}},                        // more out than in: NCHW
      ConvCase{{1, 66, 9, 9}, {32, 66, 3, 3}, 1, {}, {}, {1, 1, 1, 1}, "", false});  // 81 = 13 x 6 + 3
  CAPTURE(shape_str(c.x), shape_str(c.w), c.group, c.auto_pad);
  check_case("Conv", c);
}

TEST_CASE("ConvTranspose odd shapes: fast path vs reference", "[ops][conv]") {
  const ConvCase c = GENERATE(
      ConvCase{{1, 3, 7, 7}, {3, 5, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},
      ConvCase{{2, 4, 5, 5}, {4, 3, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}, "", true, {1, 1}},
      ConvCase{{1, 4, 6, 6}, {4, 2, 4, 4}, 2, {2, 2}, {}, {1, 1, 1, 1}},    // group 2
      ConvCase{{1, 6, 5, 5}, {6, 1, 3, 3}, 3, {2, 1}, {}, {0, 1, 1, 0}},    // group 3
      ConvCase{{1, 3, 5, 5}, {3, 4, 3, 3}, 1, {3, 3}, {2, 2}, {}, "", true, {2, 1}},
      ConvCase{{1, 5, 13}, {5, 7, 4}, 1, {2}, {}, {1, 0}},                 // 1-D
      ConvCase{{1, 2, 3, 4, 5}, {2, 3, 2, 3, 3}, 1, {2, 2, 2}},             // 3-D
      ConvCase{{1, 3, 7, 7}, {3, 2, 3, 3}, 1, {2, 2}, {}, {}, "SAME_UPPER"},
      ConvCase{{1, 3, 6, 6}, {3, 2, 4, 4}, 1, {2, 2}, {}, {}, "SAME_LOWER", false},
      ConvCase{{1, 3, 7, 7}, {3, 2, 3, 3}, 1, {2, 2}, {}, {}, "", true, {}, {14, 14}},
      ConvCase{{1, 3, 7, 7}, {3, 2, 3, 3}, 1, {2, 2}, {}, {}, "SAME_UPPER", true, {}, {1, 2, 16, 15}},
      ConvCase{{1, 9, 13, 13}, {9, 4, 1, 1}},                               // 1x1
      ConvCase{{1, 37, 31, 29}, {37, 11, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}},
      ConvCase{{1, 4, 32, 64}, {4, 256, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}, "", true, {1, 1}});  // chunked col
  CAPTURE(shape_str(c.x), shape_str(c.w), c.group, c.auto_pad);
  check_case("ConvTranspose", c);
}

TEST_CASE("Conv fused epilogue through make_conv_kernel", "[ops][conv]") {
  const Epilogue ep = GENERATE(Epilogue::relu(), Epilogue::clamp(-0.3f, 0.6f), Epilogue::leaky_relu(0.2f));
  const ConvCase c = GENERATE(ConvCase{{1, 6, 11, 11}, {9, 6, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},
                              ConvCase{{1, 12, 11, 11}, {12, 1, 3, 3}, 12, {}, {}, {1, 1, 1, 1}},
                              ConvCase{{1, 64, 10, 70}, {16, 64, 3, 3}, 1, {}, {}, {1, 1, 1, 1}},  // Winograd, 8-tile runs
                              ConvCase{{1, 128, 7, 7}, {32, 128, 1, 1}});  // pixel-major: epilogue in the transpose
  std::vector<Tensor> in{random_tensor(c.x, 21), random_tensor(c.w, 22), random_tensor({c.w[0]}, 23)};
  NodeDesc node = conv_node("Conv", c);
  set_constants(node, in, {1, 2});
  Tensor expect = run_ok(node, in, true, 1);
  for (int64_t i = 0; i < expect.numel(); ++i) expect.data<float>()[i] = ep.apply(expect.data<float>()[i]);
  IsaCapGuard guard;
  for (Isa isa : runnable_isas()) {
    set_isa_cap(isa);
    for (bool ref : {true, false}) {
      auto kernel = make_conv_kernel(node, ep);
      REQUIRE(kernel.is_ok());
      HeapKernelContext ctx({&in[0], &in[1], &in[2]}, 1, ref);
      REQUIRE(kernel.value()->run(ctx).is_ok());
      INFO("isa " << isa_name(isa) << " ref " << ref);
      // Constant 3x3 weights with 64 input channels take Winograd: its own error bound.
      const double tol = !ref && c.w[1] >= 64 ? 1e-3 : 1e-4;
      CHECK_TENSOR_NEAR(ctx.outputs()[0], expect, tol, tol);
    }
  }
}

TEST_CASE("Conv and ConvTranspose reject invalid attributes with a Status", "[ops][conv]") {
  auto fails = [](const char* op, const ConvCase& c, Shape b_shape, const char* needle, bool const_w) {
    std::vector<Tensor> in{random_tensor(c.x, 1), random_tensor(c.w, 2)};
    if (!b_shape.empty()) in.push_back(random_tensor(b_shape, 3));
    NodeDesc node = conv_node(op, c);
    set_constants(node, in, const_w ? std::vector<int>{1} : std::vector<int>{});
    for (bool ref : {true, false}) {
      auto r = run_single_op(node, in, SingleOpOptions{ref, 1});
      INFO(op << " " << r.status().to_string());
      REQUIRE_FALSE(r.is_ok());
      CHECK(r.status().message().find(needle) != std::string::npos);
    }
  };
  for (bool const_w : {false, true}) {
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 5, 5}}, {}, "padded input", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3, 3}, 1, {}, {3, 3}}, {}, "padded input", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3, 3}, 1, {}, {}, {-1, 0, 0, 0}}, {}, "pads", const_w);
    fails("Conv", {{1, 4, 4, 4}, {2, 3, 3, 3}}, {}, "input channels", const_w);
    fails("Conv", {{1, 4, 4, 4}, {3, 2, 3, 3}, 2}, {}, "divisible by group", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3}}, {}, "rank", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3, 3, 3, 3}}, {}, "rank", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3, 3}, 1, {1}}, {}, "strides", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3, 3}, 1, {0, 1}}, {}, "strides", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3, 3}, 1, {}, {}, {}, "SAME"}, {}, "auto_pad", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3, 3}}, {3}, "bias", const_w);
    fails("Conv", {{1, 3, 4, 4}, {2, 3, 3, 3}, 0}, {}, "group", const_w);
    fails("ConvTranspose", {{1, 3, 4, 4}, {2, 3, 3, 3}}, {}, "input channels", const_w);
    fails("ConvTranspose", {{1, 4, 4, 4}, {3, 2, 3, 3}, 2}, {}, "divisible by group", const_w);
    fails("ConvTranspose", {{1, 3, 4, 4}, {3, 2, 3, 3}, 1, {2, 2}, {}, {}, "", true, {2, 2}}, {}, "output_padding",
          const_w);
    fails("ConvTranspose", {{1, 3, 2, 2}, {3, 2, 3, 3}, 1, {}, {}, {2, 2, 2, 2}}, {}, "no output", const_w);
    fails("ConvTranspose", {{1, 3, 4, 4}, {3, 2, 3, 3}}, {3}, "bias", const_w);
  }
}

// Keeps its outputs between runs, as the runtime's planned arena does, so a
// benchmark does not time page faults of fresh allocations.
class ReusingContext final : public HeapKernelContext {
 public:
  using HeapKernelContext::HeapKernelContext;
  Result<Tensor*> output(int i, DType dtype, const Shape& shape) override {
    Tensor& t = outputs()[i];
    if (!t.empty_handle() && t.dtype() == dtype && t.shape() == shape) return &t;
    return HeapKernelContext::output(i, dtype, shape);
  }
};

TEST_CASE("Conv throughput", "[.perf]") {
  tbb::task_arena arena(1);  // single thread: thread CPU time is then the whole cost
  arena.execute([] {
  struct Bench {
    const char* name;
    ConvCase c;
  };
  const Bench benches[] = {
      {"3x3 64->64 56x56", {{1, 64, 56, 56}, {64, 64, 3, 3}, 1, {}, {}, {1, 1, 1, 1}}},
      {"1x1 256->64 56x56", {{1, 256, 56, 56}, {64, 256, 1, 1}}},
      {"3x3 s2 128->256 28x28", {{1, 128, 28, 28}, {256, 128, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}}},
      {"3x3 512->512 7x7", {{1, 512, 7, 7}, {512, 512, 3, 3}, 1, {}, {}, {1, 1, 1, 1}}},
      {"dw 3x3 32ch 112x112", {{1, 32, 112, 112}, {32, 1, 3, 3}, 32, {}, {}, {1, 1, 1, 1}}},
      {"dw 3x3 s2 96ch 112x112", {{1, 96, 112, 112}, {96, 1, 3, 3}, 96, {2, 2}, {}, {1, 1, 1, 1}}},
  };
  for (const Bench& b : benches) {
    std::vector<Tensor> in{random_tensor(b.c.x, 1), random_tensor(b.c.w, 2), random_tensor({b.c.w[0]}, 3)};
    NodeDesc node = conv_node("Conv", b.c);
    set_constants(node, in, {1, 2});
    auto kernel = create_kernel(node);
    REQUIRE(kernel.is_ok());
    ReusingContext ctx({&in[0], &in[1], &in[2]}, 1, false);
    REQUIRE(kernel.value()->run(ctx).is_ok());
    const int reps = 20;
    double sec = 1e30;  // best of reps: the least disturbed by other processes
    for (int r = 0; r < reps; ++r) {
      double t0 = thread_seconds();
      REQUIRE(kernel.value()->run(ctx).is_ok());
      sec = std::min(sec, thread_seconds() - t0);
    }
    const Tensor& y = ctx.outputs()[0];
    const double flops = 2.0 * y.numel() * (b.c.w[1] * b.c.w[2] * b.c.w[3]);
    WARN(b.name << " [" << kernel.value()->impl_name() << "]: " << sec * 1e3 << " ms, " << flops / sec * 1e-9
                << " GFLOP/s (1 thread)");
  }
  });
}

TEST_CASE("stride-2 column split: AVX2 matches the scalar loop", "[ops][conv]") {
  if (!cpu_features().avx2) SKIP("no AVX2");
  std::vector<float> src(90);
  for (size_t i = 0; i < src.size(); ++i) src[i] = 0.5f * float(i) - 7.f;
  for (int64_t pairs = 0; pairs <= 44; ++pairs) {
    CAPTURE(pairs);
    std::vector<float> ea(static_cast<size_t>(pairs + 1), -1.f), oa = ea, eb = ea, ob = ea;
    deinterleave2_f32__avx2(src.data(), pairs, ea.data(), oa.data());
    deinterleave2_f32__scalar(src.data(), pairs, eb.data(), ob.data());
    CHECK(ea == eb);
    CHECK(oa == ob);  // the sentinel past `pairs` included
  }
}

TEST_CASE("pixel-major output transpose: AVX2 matches the scalar loop", "[ops][conv]") {
  if (!cpu_features().avx2) SKIP("no AVX2");
  const Epilogue ep = GENERATE(Epilogue::none(), Epilogue::clamp(-0.3f, 0.6f), Epilogue::leaky_relu(0.2f),
                               Epilogue::silu());
  for (int64_t pixels : {1, 7, 8, 9, 49, 50}) {
    for (int64_t channels : {1, 8, 13, 40}) {
      CAPTURE(pixels, channels, int(ep.kind));
      const int64_t ldc = channels + 5;
      const Tensor yt = random_tensor({pixels, ldc}, 41, -3.f, 3.f);
      const Tensor bias = random_tensor({channels}, 42);
      const Tensor residual = random_tensor({channels, pixels}, 43);
      for (bool with_residual : {false, true}) {
        // Channels [c0, channels) and pixels [i0, pixels) only: the others keep what
        // y held. With the residual, y is the residual's buffer (the in-place case).
        const int64_t c0 = std::min<int64_t>(3, channels - 1);
        const Tensor sentinel =
            Tensor::from_vector<float>({channels, pixels}, std::vector<float>(size_t(channels * pixels), 9.f));
        const Tensor start = with_residual ? residual : sentinel;
        Tensor fast_out = start.clone(), slow_out = start.clone();
        const int64_t i0 = pixels / 3;  // yt's first row holds pixel i0
        const float* rows = yt.data<float>() + i0 * ldc;
        PixelMajorOut a{rows, ldc, pixels, i0, pixels, bias.data<float>(),
                        with_residual ? fast_out.data<float>() : nullptr, fast_out.data<float>()};
        PixelMajorOut b{rows, ldc, pixels, i0, pixels, bias.data<float>(),
                        with_residual ? slow_out.data<float>() : nullptr, slow_out.data<float>()};
        pixel_major_to_nchw_f32__avx2(a, c0, channels, ep);
        pixel_major_to_nchw_f32__scalar(b, c0, channels, ep);
        int64_t untouched = 0;
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t i = 0; i < pixels; ++i)
            if (c < c0 || i < i0)
              untouched += fast_out.data<float>()[c * pixels + i] == start.data<float>()[c * pixels + i];
        CHECK(untouched == channels * pixels - (channels - c0) * (pixels - i0));
        if (ep.kind == Epilogue::Kind::kSilu)
          CHECK_TENSOR_NEAR(fast_out, slow_out, 1e-6, 1e-6);
        else
          CHECK(bit_identical(fast_out, slow_out));
      }
    }
  }
}

TEST_CASE("Conv weights packed at load switch between the NCHW and pixel-major forms", "[ops][conv]") {
  // 1x1 weights are packed at load; a 7x7 plane takes them pixel-major (dropping
  // the NCHW panels), a 16x16 plane needs the NCHW form back, then both stay.
  // 64 output channels fill whole channel panels of both the AVX2 (6x16) and AVX-512 (14x32) tiles.
  const Tensor w = random_tensor({64, 128, 1, 1}, 51), b = random_tensor({64}, 52);
  NodeDesc node = conv_node("Conv", ConvCase{{1, 128, 7, 7}, {64, 128, 1, 1}});
  const std::vector<Tensor> load{random_tensor({1, 128, 7, 7}, 50), w, b};
  set_constants(node, load, {1, 2});
  auto kernel = make_conv_kernel(node, Epilogue::none());
  REQUIRE(kernel.is_ok());
  for (int64_t side : {7, 16, 7, 16}) {
    CAPTURE(side);
    const Tensor x = random_tensor({1, 128, side, side}, 53 + side);
    std::vector<Tensor> in{x, w, b};
    const Tensor want = run_ok(node, in, true, 1);
    HeapKernelContext ctx({&x, &w, &b}, 1, false);
    REQUIRE(kernel.value()->run(ctx).is_ok());
    CHECK(kernel.value()->impl_name().find(side == 7 ? "pixel_major" : "conv_f32_1x1") != std::string::npos);
    CHECK_TENSOR_NEAR(ctx.outputs()[0], want, 1e-4, 1e-4);
  }
}
