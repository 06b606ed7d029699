// Direct-taps conv (the im2col GEMM reading B's rows in place): bit for bit the
// packed im2col GEMM it replaces (conv_gemm), over odd shapes, strides, dilations, pads,
// groups, batches, residual and epilogues, at 1 and 2 threads; and near the
// plain reference loop.
#include <cmath>
#include <limits>

#include "ops/conv.h"
#include "ops/op_test_util.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

struct DirectCase {
  Shape x, w;
  std::vector<int64_t> strides, dilations, pads;
  int64_t group = 1;
};

}  // namespace

TEST_CASE("direct-taps conv equals the packed im2col GEMM bit for bit, at 1 and 2 threads", "[ops][conv]") {
  if (!cpu_features().avx512f) SKIP("no AVX-512");
  const GemmKernelSet& ks = gemm_kernels(Isa::kAvx512);
  const DirectCase c = GENERATE(
      DirectCase{{1, 3, 37, 41}, {64, 3, 7, 7}, {2, 2}, {}, {3, 3, 3, 3}},      // a ResNet stem, odd plane
      DirectCase{{1, 8, 33, 35}, {32, 8, 3, 3}, {2, 2}, {}, {0, 0, 1, 1}},      // stride 2, pad at the end only
      DirectCase{{2, 12, 9, 70}, {16, 12, 3, 3}, {}, {}, {1, 1, 1, 1}},         // YOLOX's focus: 70 = 2 x 32 + 6
      DirectCase{{1, 5, 20, 48}, {19, 5, 3, 3}, {}, {2, 2}, {2, 2, 2, 2}},      // dilated, 48 = 32 + 16, 19 rows
      DirectCase{{1, 4, 25, 50}, {6, 4, 5, 5}, {3, 3}, {}, {2, 1, 0, 2}},       // stride 3, asymmetric pads
      DirectCase{{1, 8, 11, 17}, {10, 4, 3, 3}, {}, {}, {1, 1, 1, 1}, 2},       // 2 groups of 5 output channels
      DirectCase{{1, 2, 6, 3}, {3, 2, 2, 2}, {}, {}, {}},                       // 2 columns
      DirectCase{{1, 28, 7, 40}, {30, 28, 3, 3}, {1, 2}, {}, {1, 1, 1, 1}},     // depth 252: a whole K block
      DirectCase{{1, 12, 10, 20}, {64, 12, 3, 3}, {}, {}, {1, 1, 1, 1}});       // 64 rows: 4 x 14 + 8
  const Epilogue ep = GENERATE(Epilogue::none(), Epilogue::relu(), Epilogue::leaky_relu(0.1f));
  const bool with_bias = GENERATE(false, true), with_residual = GENERATE(false, true);
  CAPTURE(shape_str(c.x), shape_str(c.w), c.group, int(ep.kind), with_bias, with_residual);
  ConvAttrs attrs;
  attrs.kernel_shape = {c.w[2], c.w[3]};
  attrs.strides = c.strides, attrs.dilations = c.dilations, attrs.pads = c.pads, attrs.group = c.group;
  auto resolved = resolve_conv(attrs, c.x, c.w);
  REQUIRE_OK(resolved);
  ConvParams p = resolved.value();
  p.activation = ep;
  REQUIRE(use_direct_taps(p, ks));
  const Tensor x = random_tensor(c.x, 1), w = random_tensor(c.w, 2), bias = random_tensor({c.w[0]}, 3);
  const Tensor residual = random_tensor(p.output_shape(), 4);
  const float* b = with_bias ? bias.data<float>() : nullptr;
  const float* r = with_residual ? residual.data<float>() : nullptr;
  const std::vector<PackedA> packed = pack_conv_weights(ks, c.w, c.group, w.data<float>());
  // Different sentinels: a value either path skips shows as a mismatch.
  Tensor expect(DType::kFloat32, p.output_shape()), one(DType::kFloat32, p.output_shape());
  std::fill_n(expect.data<float>(), expect.numel(), -7.f);
  std::fill_n(one.data<float>(), one.numel(), std::numeric_limits<float>::quiet_NaN());
  Tensor two = one.clone();
  in_arena(1, [&] { conv_gemm(p, ks, packed, x.data<float>(), b, expect.data<float>(), r); });
  in_arena(1, [&] { conv_direct_taps(p, ks, packed, x.data<float>(), b, one.data<float>(), r); });
  in_arena(2, [&] { conv_direct_taps(p, ks, packed, x.data<float>(), b, two.data<float>(), r); });
  CHECK(bit_identical(one, expect));
  CHECK(bit_identical(two, expect));
  // And the reference loop, for the shapes themselves.
  Tensor ref(DType::kFloat32, p.output_shape());
  ConvParams plain = p;
  plain.activation = Epilogue::none();
  conv_ref(plain, x.data<float>(), w.data<float>(), b, ref.data<float>(), r);
  for (int64_t i = 0; i < ref.numel(); ++i) ref.data<float>()[i] = ep.apply(ref.data<float>()[i]);
  CHECK_TENSOR_NEAR(one, ref, 1e-4, 1e-4);
}

TEST_CASE("direct-taps conv is chosen for one K block of taps, few output channels, AVX-512", "[ops][conv]") {
  const auto params = [](Shape x, Shape w, std::vector<int64_t> strides) {
    ConvAttrs attrs;
    attrs.kernel_shape = {w[2], w[3]};
    attrs.strides = std::move(strides);
    return resolve_conv(attrs, x, w).value();
  };
  const GemmKernelSet& avx2 = gemm_kernels(Isa::kAvx2);
  CHECK_FALSE(use_direct_taps(params({1, 3, 32, 32}, {16, 3, 3, 3}, {}), avx2));  // no indirect kernel
  if (!cpu_features().avx512f) SKIP("no AVX-512");
  const GemmKernelSet& ks = gemm_kernels(Isa::kAvx512);
  CHECK(use_direct_taps(params({1, 3, 224, 224}, {64, 3, 7, 7}, {2, 2}), ks));
  CHECK(use_direct_taps(params({1, 28, 20, 20}, {8, 28, 3, 3}, {}), ks));        // 252 taps
  CHECK_FALSE(use_direct_taps(params({1, 29, 20, 20}, {8, 29, 3, 3}, {}), ks));  // 261: two K blocks
  CHECK_FALSE(use_direct_taps(params({1, 16, 20, 20}, {8, 16, 1, 1}, {}), ks));  // 1x1: the input is B
  CHECK(use_direct_taps(params({1, 64, 20, 20}, {8, 64, 1, 1}, {2, 2}), ks));    // 1x1 stride 2: taps
  CHECK_FALSE(use_direct_taps(params({1, 64, 20, 20}, {65, 64, 1, 1}, {2, 2}), ks));  // 65 output channels
  CHECK_FALSE(use_direct_taps(params({1, 3, 224, 224}, {32, 3, 3, 3}, {2, 2}), ks));   // stride 2, 27 taps
  CHECK(use_direct_taps(params({1, 3, 224, 224}, {32, 3, 3, 3}, {}), ks));             // stride 1, 27 taps
  CHECK_FALSE(use_direct_taps(params({1, 3, 1100, 1100}, {8, 3, 3, 3}, {}), ks));  // copies over 4 MB
}
