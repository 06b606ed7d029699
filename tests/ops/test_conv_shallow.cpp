// Shallow-input conv (RGB stems pixel by pixel, ShallowConv) with the MaxPool it
// carries (conv_maxpool_shallow): bit for bit the packed im2col GEMM (conv_gemm)
// and the reference pool, wherever the GEMM sums one K block, over odd shapes,
// strides, dilations, pads, batches, epilogues and pools (an identity 1x1 pool
// shows the conv alone), at 1 and 2 threads; and near the plain reference loops
// (also for AlexNet's 363 taps, two K blocks in the GEMM).
#include <limits>

#include "ops/conv.h"
#include "ops/op_test_util.h"
#include "ops/pool.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

struct ShallowCase {
  Shape x, w;
  std::vector<int64_t> strides, dilations, pads;
};

ConvParams params(const Shape& x, const Shape& w, std::vector<int64_t> strides, std::vector<int64_t> dilations = {},
                  std::vector<int64_t> pads = {}, int64_t group = 1) {
  ConvAttrs attrs;
  attrs.kernel_shape = {w[2], w[3]};
  attrs.strides = std::move(strides), attrs.dilations = std::move(dilations), attrs.pads = std::move(pads);
  attrs.group = group;
  auto resolved = resolve_conv(attrs, x, w);
  REQUIRE_OK(resolved);
  return resolved.value();
}

}  // namespace

TEST_CASE("shallow conv + MaxPool equals the packed im2col GEMM and the pool bit for bit, at 1 and 2 threads",
          "[ops][conv]") {
  if (!cpu_features().avx512f) SKIP("no AVX-512");
  const GemmKernelSet& ks = gemm_kernels(Isa::kAvx512);
  const ShallowCase c = GENERATE(
      ShallowCase{{1, 3, 37, 41}, {64, 3, 7, 7}, {2, 2}, {}, {3, 3, 3, 3}},     // a ResNet stem, 19 = 3 x 6 + 1 columns
      ShallowCase{{2, 3, 35, 47}, {64, 3, 3, 3}, {2, 2}, {}, {}},               // SqueezeNet's: in place, 23 columns
      ShallowCase{{1, 3, 30, 33}, {32, 3, 3, 3}, {2, 2}, {}, {1, 1, 1, 1}},     // 2 vectors: 12-pixel steps, 17 columns
      ShallowCase{{1, 3, 50, 63}, {64, 3, 11, 11}, {4, 4}, {}, {2, 2, 2, 2}},   // AlexNet's: 363 taps a channel at a time
      ShallowCase{{1, 1, 20, 57}, {8, 1, 5, 5}, {1, 1}, {}, {2, 2, 2, 2}},      // half a vector: 24-pixel steps
      ShallowCase{{1, 4, 19, 31}, {48, 4, 3, 3}, {1, 2}, {2, 2}, {2, 0, 1, 3}}, // dilated, asymmetric pads, 3 vectors
      ShallowCase{{1, 2, 9, 14}, {19, 2, 3, 3}, {3, 3}, {}, {1, 1, 1, 1}},      // stride 3, 19 channels, 5 columns
      ShallowCase{{1, 3, 7, 5}, {24, 3, 2, 2}, {2, 2}, {}, {}});                // 2 columns, 2 rows
  const Epilogue ep = GENERATE(Epilogue::none(), Epilogue::relu(), Epilogue::clamp(0.f, 6.f), Epilogue::silu());
  const bool with_bias = GENERATE(false, true);
  PoolParams pool;
  pool.kernel = {1, 1}, pool.strides = {1, 1}, pool.dilations = {1, 1}, pool.pads = {0, 0, 0, 0};
  if (GENERATE(false, true)) pool.kernel = {3, 3}, pool.strides = {2, 2}, pool.pads = {1, 1, 1, 1};
  CAPTURE(shape_str(c.x), shape_str(c.w), int(ep.kind), with_bias, pool.kernel[0]);
  ConvParams p = params(c.x, c.w, c.strides, c.dilations, c.pads);
  p.activation = ep;
  auto geometry = pool_geometry(pool, p.output_shape());
  REQUIRE_OK(geometry);
  const PoolGeometry& g = geometry.value();
  REQUIRE(conv_maxpool_shallow_supported(p, g, Isa::kAvx512));
  const Tensor x = random_tensor(c.x, 1), w = random_tensor(c.w, 2), bias = random_tensor({c.w[0]}, 3);
  const float* b = with_bias ? bias.data<float>() : nullptr;
  const std::vector<PackedA> packed = pack_conv_weights(ks, c.w, 1, w.data<float>());
  const std::vector<float> shallow_w = pack_shallow_weights(w.data<float>(), c.w);
  Tensor conv(DType::kFloat32, p.output_shape()), expect(DType::kFloat32, g.out_shape);
  in_arena(1, [&] { conv_gemm(p, ks, packed, x.data<float>(), b, conv.data<float>(), nullptr); });
  pool_ref(pool, g, conv, expect, nullptr);
  // Different sentinels: a value either path skips shows as a mismatch.
  Tensor one(DType::kFloat32, g.out_shape);
  std::fill_n(one.data<float>(), one.numel(), std::numeric_limits<float>::quiet_NaN());
  Tensor two = one.clone();
  in_arena(1, [&] { conv_maxpool_shallow(p, shallow_w.data(), x.data<float>(), b, g, one.data<float>()); });
  in_arena(2, [&] { conv_maxpool_shallow(p, shallow_w.data(), x.data<float>(), b, g, two.data<float>()); });
  CHECK(bit_identical(two, one));
  if (c.w[1] * c.w[2] * c.w[3] <= ks.kc) CHECK(bit_identical(one, expect));
  CHECK_TENSOR_NEAR(one, expect, 1e-5, 1e-5);
  Tensor ref(DType::kFloat32, p.output_shape()), ref_pooled(DType::kFloat32, g.out_shape);
  ConvParams plain = p;
  plain.activation = Epilogue::none();
  conv_ref(plain, x.data<float>(), w.data<float>(), b, ref.data<float>());
  for (int64_t i = 0; i < ref.numel(); ++i) ref.data<float>()[i] = ep.apply(ref.data<float>()[i]);
  pool_ref(pool, g, ref, ref_pooled, nullptr);
  CHECK_TENSOR_NEAR(one, ref_pooled, 1e-4, 1e-4);
}

TEST_CASE("shallow conv takes up to 4 input channels and 64 outputs, one group, AVX-512", "[ops][conv]") {
  CHECK_FALSE(shallow_conv_possible(params({1, 3, 224, 224}, {32, 3, 3, 3}, {2, 2}), Isa::kAvx2));
  CHECK(shallow_conv_possible(params({1, 3, 224, 224}, {64, 3, 7, 7}, {2, 2}, {}, {3, 3, 3, 3}), Isa::kAvx512));
  CHECK(shallow_conv_possible(params({1, 3, 224, 224}, {64, 3, 11, 11}, {4, 4}), Isa::kAvx512));    // AlexNet
  CHECK(shallow_conv_possible(params({1, 4, 64, 64}, {64, 4, 3, 3}, {1, 1}), Isa::kAvx512));        // 4 channels
  CHECK_FALSE(shallow_conv_possible(params({1, 5, 64, 64}, {16, 5, 3, 3}, {2, 2}), Isa::kAvx512));  // 5 channels
  CHECK_FALSE(shallow_conv_possible(params({1, 3, 64, 64}, {65, 3, 3, 3}, {2, 2}), Isa::kAvx512));  // 65 outputs
  CHECK_FALSE(shallow_conv_possible(params({1, 4, 64, 64}, {8, 2, 3, 3}, {2, 2}, {}, {}, 2), Isa::kAvx512));  // groups
  CHECK_FALSE(shallow_conv_possible(params({1, 3, 1100, 1100}, {8, 3, 3, 3}, {2, 2}, {}, {1, 1, 1, 1}),
                                    Isa::kAvx512));                                              // copy over 4 MB
  CHECK(shallow_conv_possible(params({1, 3, 1100, 1100}, {8, 3, 3, 3}, {2, 2}), Isa::kAvx512));  // no pads: in place
  CHECK(shallow_weights_shape({64, 3, 11, 11}, 1));
  CHECK_FALSE(shallow_weights_shape({64, 3, 11, 11}, 3));
  CHECK_FALSE(shallow_weights_shape({64, 5, 3, 3}, 1));
  CHECK_FALSE(shallow_weights_shape({65, 3, 3, 3}, 1));
}
