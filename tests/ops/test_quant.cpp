// Quantised ops: hand-computed cases (rounding half to even, saturation, the
// 255*127 pairs that a bare vpmaddubsw would clip), fast paths against the
// reference loops on odd shapes at 1 and 2 threads (bit-exact), ONNX Runtime
// fixtures for the com.microsoft contrib ops (tests/data/quant, written by
// scripts/quant_ort_fixtures.py), and error handling.
#include "test_util.h"

#include <cstring>
#include <filesystem>
#include <random>

#include "core/cpu_features.h"
#include "graph/session.h"
#include "io/npy.h"
#include "io/onnx/importer.h"
#include "ops/op_runner.h"
#include "ops/op_test_util.h"
#include "ops/quant.h"
#include "ops/quant_u8s8.h"
#include "ops/registry.h"
#include "test_paths.h"

using namespace cvt;
using namespace cvt::op_test;
namespace fs = std::filesystem;

namespace {

// Empty string when identical (dtype, shape, bytes); else the first difference.
std::string diff_exact(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) return std::string("dtype ") + dtype_name(a.dtype()) + " vs " + dtype_name(b.dtype());
  if (a.shape() != b.shape()) return "shape " + shape_str(a.shape()) + " vs " + shape_str(b.shape());
  const auto* pa = static_cast<const uint8_t*>(a.raw());
  const auto* pb = static_cast<const uint8_t*>(b.raw());
  const size_t es = dtype_size(a.dtype());
  for (int64_t i = 0; i < a.numel(); ++i)
    if (std::memcmp(pa + i * es, pb + i * es, es) != 0)
      return "element " + std::to_string(i) + ": " + std::to_string(a.to_float_vector()[i]) + " vs " +
             std::to_string(b.to_float_vector()[i]);
  return "";
}

template <typename T>
Tensor random_q(Shape s, std::mt19937& rng, int lo, int hi) {
  Tensor t(dtype_of<T>(), std::move(s));
  std::uniform_int_distribution<int> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(d(rng));
  return t;
}

// Reference at 1 thread, then the fast path at 1 and 2 threads: identical bytes (op_test::run_all
// compares as float, which would round int32 sums beyond 2^24).
std::vector<Tensor> run_all_bit_exact(const NodeDesc& n, const std::vector<Tensor>& in) {
  auto ref = run_single_op(n, in, SingleOpOptions{true, 1});
  REQUIRE_OK(ref);
  for (int threads : {1, 2}) {
    auto fast = run_single_op(n, in, SingleOpOptions{false, threads});
    REQUIRE_OK(fast);
    for (size_t i = 0; i < ref.value().size(); ++i) {
      INFO(n.op_type << " output " << i << " at " << threads << " threads");
      CHECK(diff_exact(fast.value()[i], ref.value()[i]) == "");
    }
  }
  return ref.value();
}

Tensor qlinear_conv_1x1(const Tensor& x, const Tensor& w, Tensor y_scale, Tensor y_zp) {
  NodeDesc n = make_node("QLinearConv", 13);
  auto r = run_all_bit_exact(n, {x, Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(0), w, Tensor::scalar<float>(1.f),
                                 Tensor::scalar<int8_t>(0), std::move(y_scale), std::move(y_zp)});
  return r[0];
}

}  // namespace

TEST_CASE("QuantizeLinear rounds half to even and saturates", "[quant]") {
  Tensor x = Tensor::from_vector<float>({8}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300.f, -300.f, 126.5f});
  auto u8 = run_all_bit_exact(make_node("QuantizeLinear", 13), {x, Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(0)});
  CHECK(u8[0].dtype() == DType::kUInt8);
  CHECK(u8[0].to_float_vector() == std::vector<float>{0, 2, 2, 0, 0, 255, 0, 126});
  auto s8 = run_all_bit_exact(make_node("QuantizeLinear", 13), {x, Tensor::scalar<float>(1.f), Tensor::scalar<int8_t>(0)});
  CHECK(s8[0].to_float_vector() == std::vector<float>{0, 2, 2, 0, -2, 127, -128, 126});
  // Per-axis (axis 1) with zero points; DequantizeLinear inverts it on the grid.
  Tensor x2 = Tensor::from_vector<float>({1, 2, 2}, {1.f, -1.f, 10.f, 20.f});
  Tensor sc = Tensor::from_vector<float>({2}, {0.5f, 2.f});
  Tensor zp = Tensor::from_vector<uint8_t>({2}, {10, 128});
  auto q = run_all_bit_exact(make_node("QuantizeLinear", 13, {{"axis", attr_int(1)}}), {x2, sc, zp});
  CHECK(q[0].to_float_vector() == std::vector<float>{12, 8, 133, 138});
  auto dq = run_all_bit_exact(make_node("DequantizeLinear", 13, {{"axis", attr_int(1)}}), {q[0], sc, zp});
  CHECK(dq[0].to_float_vector() == std::vector<float>{1.f, -1.f, 10.f, 20.f});
}

TEST_CASE("QLinearConv is exact where vpmaddubsw pairs would saturate (255*127)", "[quant]") {
  // 1x1 conv over 4 channels, x = 255 everywhere: acc = 4 * 255 * w.
  Tensor x(DType::kUInt8, {1, 4, 3, 5});
  std::fill(x.data<uint8_t>(), x.data<uint8_t>() + x.numel(), uint8_t(255));
  Tensor w = Tensor::from_vector<int8_t>({2, 4, 1, 1}, {127, 127, 127, 127, -128, -128, -128, -128});
  Tensor y = qlinear_conv_1x1(x, w, Tensor::scalar<float>(1024.f), Tensor::scalar<int8_t>(0));
  // Exact: 129540 / 1024 = 126.504 -> 127; -130560 / 1024 = -127.5 -> -128 (half to even).
  // Saturating int16 pairs would give 131068 / 1024 -> 128 -> 127 and -65536 / 1024 = -64.
  REQUIRE(y.dtype() == DType::kInt8);
  for (int64_t i = 0; i < 15; ++i) CHECK(int(y.data<int8_t>()[i]) == 127);
  for (int64_t i = 15; i < 30; ++i) CHECK(int(y.data<int8_t>()[i]) == -128);
  Tensor y2 = qlinear_conv_1x1(x, w, Tensor::scalar<float>(2048.f), Tensor::scalar<int8_t>(0));
  CHECK(int(y2.data<int8_t>()[0]) == 63);   // 63.25
  CHECK(int(y2.data<int8_t>()[15]) == -64);  // -63.75
}

TEST_CASE("QLinearConv / ConvInteger fast paths match the reference on odd shapes", "[quant]") {
  std::mt19937 rng(7);
  struct Case {
    int64_t n, c, k, h, w, kh, kw, group, stride, dil, pad;
  };
  const Case cases[] = {
      {1, 3, 5, 7, 13, 3, 3, 1, 2, 1, 1},    {2, 4, 6, 5, 5, 1, 1, 1, 1, 1, 0},   {1, 13, 7, 9, 11, 1, 1, 1, 1, 1, 0},
      {1, 6, 6, 13, 17, 3, 3, 6, 1, 1, 1},   {1, 6, 6, 13, 17, 3, 3, 6, 2, 1, 1}, {1, 5, 5, 9, 40, 5, 5, 5, 1, 2, 2},
      {1, 8, 4, 7, 7, 3, 3, 2, 1, 1, 0},     {1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},   {1, 7, 7, 3, 19, 3, 1, 7, 2, 1, 1},
      // depthwise, stride 1 (one row-kernel call per plane): MobileNet-like, 1x1, wide 1x5, dilation 3
      {2, 4, 4, 14, 14, 3, 3, 4, 1, 1, 1},   {1, 3, 3, 1, 1, 3, 3, 3, 1, 1, 1},   {1, 4, 4, 6, 33, 1, 5, 4, 1, 1, 0},
      {1, 2, 2, 5, 7, 3, 3, 2, 1, 3, 3},     {1, 3, 3, 7, 7, 3, 3, 3, 1, 1, 0},
      // depthwise, stride 2 (row and column phase sub-planes, even / odd column split): 16- and 8-pair chunks plus tails, both pad parities
      {1, 4, 4, 9, 57, 3, 3, 4, 2, 1, 1},    {1, 3, 3, 8, 38, 3, 3, 3, 2, 1, 0},  {1, 2, 2, 6, 112, 3, 3, 2, 2, 1, 1},
      // GEMM path: pointwise on >= 256 pixels (B read from the pair-interleaved input, odd channel count),
      // strided / dilated / grouped 2-D kernels over several column blocks (im2col from phase planes)
      {1, 5, 9, 17, 19, 1, 1, 1, 1, 1, 0},   {1, 4, 6, 10, 23, 3, 5, 1, 3, 2, 3}, {2, 6, 4, 9, 9, 3, 3, 2, 2, 1, 0},
      {1, 3, 8, 30, 70, 3, 3, 1, 2, 1, 1},
      // depthwise, stride 3 with dilation (the generic phase copy), and a 4x4 kernel at stride 2
      {1, 3, 3, 11, 16, 3, 3, 3, 3, 2, 2},   {2, 2, 2, 10, 10, 4, 4, 2, 2, 1, 1},
      // 2-D kernels with rows a multiple of 4: the u8 im2col + vpdpbusd path with VNNI (stride 1
      // in a batch of 2; stride 3, dilation 2, 3x5 kernel, padding 3)
      {2, 5, 8, 11, 13, 3, 3, 1, 1, 1, 1},   {1, 4, 12, 10, 23, 3, 5, 1, 3, 2, 3},
  };
  for (const Case& cs : cases)
    for (int variant = 0; variant < 3; ++variant) {
      INFO("case c=" << cs.c << " k=" << cs.k << " " << cs.h << "x" << cs.w << " kernel " << cs.kh << "x" << cs.kw
                     << " group " << cs.group << " stride " << cs.stride << " variant " << variant);
      std::vector<std::pair<std::string, Attribute>> attrs = {
          {"group", attr_int(cs.group)},
          {"strides", attr_ints({cs.stride, cs.stride})},
          {"dilations", attr_ints({cs.dil, cs.dil})},
          {"pads", attr_ints({cs.pad, cs.pad, cs.pad, cs.pad})}};
      const Shape ws{cs.k, cs.c / cs.group, cs.kh, cs.kw};
      const Shape xs{cs.n, cs.c, cs.h, cs.w};
      if (variant == 2) {  // ConvInteger, int8 x uint8 with per-channel weight zero points
        Tensor x = random_q<int8_t>(xs, rng, -128, 127);
        Tensor w = random_q<uint8_t>(ws, rng, 0, 255);
        Tensor wz = random_q<uint8_t>({cs.k}, rng, 0, 255);
        run_all_bit_exact(make_node("ConvInteger", 10, attrs), {x, w, Tensor::scalar<int8_t>(-3), wz});
        continue;
      }
      Tensor x = random_q<uint8_t>(xs, rng, 0, 255);
      Tensor w = random_q<int8_t>(ws, rng, -128, 127);
      Tensor wscale(DType::kFloat32, {cs.k});
      for (int64_t i = 0; i < cs.k; ++i) wscale.data<float>()[i] = 0.001f * float(1 + i);
      Tensor bias = random_q<int32_t>({cs.k}, rng, -5000, 5000);
      const bool per_channel = variant == 1;
      run_all_bit_exact(make_node("QLinearConv", 13, attrs),
                        {x, Tensor::scalar<float>(0.02f), Tensor::scalar<uint8_t>(131), w,
                         per_channel ? wscale : Tensor::scalar<float>(0.004f),
                         per_channel ? Tensor(DType::kInt8, {cs.k}) : Tensor::scalar<int8_t>(3), Tensor::scalar<float>(0.07f),
                         Tensor::scalar<uint8_t>(120), bias});
    }
}

TEST_CASE("int8 depthwise 3x3 with 16 channels a vector (small maps) matches the reference bit for bit", "[quant]") {
  // The block kernel takes 3x3 depthwise convs of stride 1 or 2 on inputs of up to 1024 pixels
  // where the CPU has AVX-512 VNNI (elsewhere these run the row kernels, still checked):
  // 1, 16 and 37 channels (a short last block), pixel counts off 16, asymmetric padding,
  // signed and unsigned x and y, per-channel weight zero points, batch 2.
  std::mt19937 rng(31);
  struct Case {
    int64_t n, c, h, w, stride;
    std::vector<int64_t> pads;  // top, left, bottom, right
  };
  const Case cases[] = {{1, 37, 7, 7, 1, {1, 1, 1, 1}},    {2, 16, 14, 14, 2, {1, 1, 1, 1}}, {1, 1, 15, 9, 2, {1, 1, 1, 1}},
                        {1, 19, 30, 31, 1, {1, 1, 1, 1}},  {1, 5, 32, 32, 1, {1, 1, 1, 1}},  {1, 20, 5, 5, 1, {0, 0, 0, 0}},
                        {1, 33, 9, 11, 2, {0, 1, 1, 0}},   {1, 17, 4, 6, 1, {2, 0, 1, 2}}};
  for (const Case& cs : cases)
    for (bool is_signed : {false, true}) {
      INFO("c=" << cs.c << " " << cs.h << "x" << cs.w << " stride " << cs.stride << " batch " << cs.n
                << (is_signed ? " int8" : " uint8"));
      std::vector<std::pair<std::string, Attribute>> attrs = {{"group", attr_int(cs.c)},
                                                              {"strides", attr_ints({cs.stride, cs.stride})},
                                                              {"pads", attr_ints({cs.pads[0], cs.pads[1], cs.pads[2], cs.pads[3]})}};
      Tensor x = is_signed ? random_q<int8_t>({cs.n, cs.c, cs.h, cs.w}, rng, -128, 127)
                           : random_q<uint8_t>({cs.n, cs.c, cs.h, cs.w}, rng, 0, 255);
      Tensor w = is_signed ? random_q<int8_t>({cs.c, 1, 3, 3}, rng, -128, 127) : random_q<uint8_t>({cs.c, 1, 3, 3}, rng, 0, 255);
      Tensor wz = is_signed ? random_q<int8_t>({cs.c}, rng, -20, 20) : random_q<uint8_t>({cs.c}, rng, 100, 160);
      Tensor wscale(DType::kFloat32, {cs.c});
      for (int64_t i = 0; i < cs.c; ++i) wscale.data<float>()[i] = 0.0005f * float(1 + i % 7);
      Tensor bias = random_q<int32_t>({cs.c}, rng, -30000, 30000);
      Tensor x_zp = is_signed ? Tensor::scalar<int8_t>(-7) : Tensor::scalar<uint8_t>(131);
      Tensor y_zp = is_signed ? Tensor::scalar<int8_t>(5) : Tensor::scalar<uint8_t>(120);
      run_all_bit_exact(make_node("QLinearConv", 13, attrs),
                        {x, Tensor::scalar<float>(0.02f), x_zp, w, wscale, wz, Tensor::scalar<float>(0.05f), y_zp, bias});
    }
}

TEST_CASE("int8 widening row kernels match their scalar loops", "[quant]") {
  if (!cpu_features().avx2) SKIP("no AVX2");
  std::mt19937 rng(5);
  for (bool is_signed : {false, true})
    for (int32_t zp : {0, 1, 127, is_signed ? -128 : 255})
      for (int64_t n = 0; n <= 75; ++n) {
        INFO((is_signed ? "int8" : "uint8") << " zp " << zp << " n " << n);
        std::vector<uint8_t> src(static_cast<size_t>(2 * n + 1));
        for (auto& v : src) v = static_cast<uint8_t>(rng());
        std::vector<int16_t> a(static_cast<size_t>(n + 1), 7), b = a;
        qwiden_row__avx2(src.data(), is_signed, zp, n, a.data());
        qwiden_row__scalar(src.data(), is_signed, zp, n, b.data());
        CHECK(a == b);  // includes the sentinel past n: nothing written beyond
        std::vector<int16_t> ea(static_cast<size_t>(n + 1), 7), oa = ea, eb = ea, ob = ea;
        qwiden_deinterleave2__avx2(src.data(), is_signed, zp, n, ea.data(), oa.data());
        qwiden_deinterleave2__scalar(src.data(), is_signed, zp, n, eb.data(), ob.data());
        CHECK(ea == eb);
        CHECK(oa == ob);
        if (n > 0) CHECK(eb[0] == (is_signed ? int8_t(src[0]) : src[0]) - zp);
        for (bool odd_channel : {false, true}) {
          const uint8_t* r1 = odd_channel ? nullptr : src.data() + n;
          std::vector<int16_t> ia(static_cast<size_t>(2 * n + 1), 7), ib = ia;
          qwiden_interleave2__avx2(src.data(), r1, is_signed, zp, n, ia.data());
          qwiden_interleave2__scalar(src.data(), r1, is_signed, zp, n, ib.data());
          CHECK(ia == ib);
        }
      }
}

TEST_CASE("int8 micro-kernels: fused requantisation, the 4x8 tail and the 1x16 row match the plain 4x16 one", "[quant]") {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> v(-255, 255);
  for (int64_t kpairs : {1, 7, 48}) {
    std::vector<int16_t> a(static_cast<size_t>(kpairs * 2 * kQgemmMr)), b(static_cast<size_t>(kpairs * 2 * kQgemmNr));
    for (auto& e : a) e = static_cast<int16_t>(v(rng));
    for (auto& e : b) e = static_cast<int16_t>(v(rng));
    const int32_t bias[kQgemmMr] = {-70000, 0, 12345, 3};
    const float scale[kQgemmMr] = {0.0007f, 0.00013f, 1e-5f, 0.002f};
    for (bool is_signed : {false, true})
      for (bool with_bias : {false, true}) {
        INFO("kpairs " << kpairs << (is_signed ? " int8" : " uint8") << (with_bias ? " bias" : ""));
        const int32_t zp = is_signed ? -5 : 131;
        const QRequantRows rq{with_bias ? bias : nullptr, scale, zp, is_signed};
        int32_t tile[kQgemmMr * kQgemmNr];
        qgemm_s16_ukernel_4x16__scalar(kpairs, a.data(), b.data(), 2 * kQgemmNr, tile, kQgemmNr);
        std::vector<uint8_t> want(kQgemmMr * 20, 0), got_scalar = want, got_avx2 = want;  // ldy 20: gaps stay 0
        for (int i = 0; i < kQgemmMr; ++i)
          requantize_row__scalar(tile + i * kQgemmNr, kQgemmNr, with_bias ? bias[i] : 0, scale[i], zp, is_signed,
                                 want.data() + i * 20);
        qgemm_s16_requant_4x16__scalar(kpairs, a.data(), b.data(), 2 * kQgemmNr, rq, got_scalar.data(), 20);
        CHECK(got_scalar == want);
        if (!is_signed && !with_bias)  // the one-row kernel: each row of the same tile
          for (int row = 0; row < kQgemmMr; ++row) {
            int32_t one[kQgemmNr], one_avx2[kQgemmNr];
            qgemm_s16_ukernel_1x16__scalar(kpairs, a.data(), row, b.data(), 2 * kQgemmNr, one);
            CHECK(std::memcmp(one, tile + row * kQgemmNr, sizeof(one)) == 0);
            if (cpu_features().avx2) {
              qgemm_s16_ukernel_1x16__avx2(kpairs, a.data(), row, b.data(), 2 * kQgemmNr, one_avx2);
              CHECK(std::memcmp(one, one_avx2, sizeof(one)) == 0);
            }
          }
        if (!is_signed && !with_bias) {  // the one-row kernel on int8 B: the same sums as on B widened
          std::vector<int8_t> b8(b.size());
          std::vector<int16_t> b16(b.size());
          for (size_t i = 0; i < b.size(); ++i) b8[i] = static_cast<int8_t>(b[i] / 2), b16[i] = b8[i];
          for (int row = 0; row < kQgemmMr; ++row) {
            int32_t want16[kQgemmNr], got8[kQgemmNr], got8_avx2[kQgemmNr];
            qgemm_s16_ukernel_1x16__scalar(kpairs, a.data(), row, b16.data(), 2 * kQgemmNr, want16);
            qgemm_s8b_ukernel_1x16__scalar(kpairs, a.data(), row, b8.data(), got8);
            CHECK(std::memcmp(want16, got8, sizeof(got8)) == 0);
            if (cpu_features().avx2) {
              qgemm_s8b_ukernel_1x16__avx2(kpairs, a.data(), row, b8.data(), got8_avx2);
              CHECK(std::memcmp(want16, got8_avx2, sizeof(got8)) == 0);
            }
          }
        }
        if (!is_signed && !with_bias) {  // the narrow tail kernel: the first 8 columns of the same tile
          int32_t narrow[kQgemmMr * 8], narrow_avx2[kQgemmMr * 8];
          qgemm_s16_ukernel_4x8__scalar(kpairs, a.data(), b.data(), 2 * kQgemmNr, narrow, 8);
          bool same = true;
          for (int i = 0; i < kQgemmMr; ++i)
            for (int j = 0; j < 8; ++j) same = same && narrow[i * 8 + j] == tile[i * kQgemmNr + j];
          CHECK(same);
          if (cpu_features().avx2) {
            qgemm_s16_ukernel_4x8__avx2(kpairs, a.data(), b.data(), 2 * kQgemmNr, narrow_avx2, 8);
            CHECK(std::memcmp(narrow, narrow_avx2, sizeof(narrow)) == 0);
          }
        }
        if (cpu_features().avx2) {
          qgemm_s16_requant_4x16__avx2(kpairs, a.data(), b.data(), 2 * kQgemmNr, rq, got_avx2.data(), 20);
          CHECK(got_avx2 == want);
        }
      }
  }
}

TEST_CASE("int8 depthwise row with fused requantisation equals the row kernel then requantize_row", "[quant]") {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> v(-255, 255);
  // A 12-wide padded plane: taps at (row, col) offsets of 3x3, 1x1, 5x5 and 7x7 (dilation 2) kernels.
  for (int taps_side : {1, 3, 5, 7})
    for (int64_t n : {16, 48, 64, 224}) {
      const int64_t ld = 12, taps = taps_side * taps_side;
      std::vector<int64_t> offs;
      for (int i = 0; i < taps_side; ++i)
        for (int j = 0; j < taps_side; ++j) offs.push_back(i * 2 * ld + j * 2);
      std::vector<int16_t> x(static_cast<size_t>(n + offs.back() + 1)), w(static_cast<size_t>(taps));
      for (auto& e : x) e = static_cast<int16_t>(v(rng));
      for (auto& e : w) e = static_cast<int16_t>(v(rng));
      for (bool is_signed : {false, true}) {
        INFO("taps " << taps << " n " << n << (is_signed ? " int8" : " uint8"));
        const QDwRequant rq{is_signed ? -9000 : 4321, 0.0009f, is_signed ? 3 : 120, is_signed};
        std::vector<int32_t> acc(static_cast<size_t>(n));
        qdw_row__scalar(x.data(), offs.data(), w.data(), static_cast<int>(taps), n, acc.data());
        std::vector<uint8_t> want(static_cast<size_t>(n + 1), 77), got = want;
        requantize_row__scalar(acc.data(), n, rq.bias, rq.scale, rq.zp, rq.is_signed, want.data());
        qdw_requant_row__scalar(x.data(), offs.data(), w.data(), static_cast<int>(taps), n, rq, got.data());
        CHECK(got == want);
        if (cpu_features().avx2) {
          std::vector<uint8_t> got_avx2(static_cast<size_t>(n + 1), 77);
          qdw_requant_row__avx2(x.data(), offs.data(), w.data(), static_cast<int>(taps), n, rq, got_avx2.data());
          CHECK(got_avx2 == want);  // the sentinel past n included
        }
        if (cpu_features().has_avx512()) {  // 32 a step: n = 16 and 48 end on a 16-wide half step
          std::vector<uint8_t> got_avx512(static_cast<size_t>(n + 1), 77);
          qdw_requant_row__avx512(x.data(), offs.data(), w.data(), static_cast<int>(taps), n, rq, got_avx512.data());
          CHECK(got_avx512 == want);
        }
      }
    }
}

TEST_CASE("QLinearConv u8 x s8 1x1 (split weights on vpmaddubsw, whole on vpdpbusd) matches the reference bit for bit", "[quant]") {
  std::mt19937 rng(21);
  struct Case {
    int64_t n, c, k, h, w;
    int mode;  // 0 random, 1 x = 255 and same-sign weights near +-127 (a remainder in most pairs), 2 w = -128
  };
  // The third row: expansions (rows > 2 x depth), which only the VNNI path takes; 7x7 and 14x14 maps.
  // The last row: maps of >= 8 blocks of 256 pixels over the batch, where each task interleaves
  // its own block (at 1 and 2 threads): short last blocks (2115 = 8 x 256 + 67, 1023 px), depth 13.
  const Case cases[] = {{1, 16, 8, 16, 16, 0},  {2, 13, 12, 14, 14, 0}, {1, 96, 24, 7, 7, 0},  {1, 5, 4, 3, 5, 0},
                        {1, 64, 32, 28, 28, 0}, {1, 16, 8, 16, 16, 1},  {1, 7, 4, 5, 11, 1},   {1, 8, 4, 4, 4, 2},
                        {1, 16, 96, 9, 13, 0},  {2, 24, 144, 7, 7, 0},  {1, 6, 36, 14, 14, 1},
                        {1, 24, 40, 45, 47, 0}, {2, 13, 12, 33, 31, 0}, {1, 16, 8, 47, 45, 1}};
  for (const Case& cs : cases)
    for (bool y_signed : {false, true}) {
      INFO("c=" << cs.c << " k=" << cs.k << " " << cs.h << "x" << cs.w << " batch " << cs.n << " mode " << cs.mode
                << (y_signed ? " int8 y" : " uint8 y"));
      Tensor x = random_q<uint8_t>({cs.n, cs.c, cs.h, cs.w}, rng, 0, 255);
      Tensor w = random_q<int8_t>({cs.k, cs.c, 1, 1}, rng, -128, 127);
      if (cs.mode == 1) {
        std::fill(x.data<uint8_t>(), x.data<uint8_t>() + x.numel(), uint8_t(255));
        std::uniform_int_distribution<int> big(100, 127);
        for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = static_cast<int8_t>((i / cs.c) % 2 ? -big(rng) : big(rng));
      } else if (cs.mode == 2) {
        std::fill(w.data<int8_t>(), w.data<int8_t>() + w.numel(), int8_t(-128));
      }
      Tensor wscale(DType::kFloat32, {cs.k});
      for (int64_t i = 0; i < cs.k; ++i) wscale.data<float>()[i] = 0.0004f * float(1 + i % 5);
      Tensor bias = random_q<int32_t>({cs.k}, rng, -20000, 20000);
      run_all_bit_exact(make_node("QLinearConv", 13),
                        {x, Tensor::scalar<float>(0.02f), Tensor::scalar<uint8_t>(cs.mode ? 0 : 119), w, wscale,
                         Tensor(DType::kInt8, {cs.k}), Tensor::scalar<float>(0.05f),
                         y_signed ? Tensor::scalar<int8_t>(-3) : Tensor::scalar<uint8_t>(120), bias});
    }
}

TEST_CASE("u8 x s8 kernel and interleave: AVX2 equals the scalar loops, remainders included", "[quant]") {
  if (!cpu_features().avx2) SKIP("no AVX2");
  std::mt19937 rng(22);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  for (int64_t depth : {4, 13, 96}) {
    const int64_t px = 16;
    std::vector<int8_t> w(static_cast<size_t>(4 * depth));
    for (auto& e : w) e = static_cast<int8_t>(s8(rng));
    const QU8S8Weights pw = pack_u8s8_weights(w.data(), 4, depth);
    REQUIRE(!pw.empty());
    std::vector<uint8_t> x(static_cast<size_t>(depth * px)), b(static_cast<size_t>(pw.quads * px * 4));
    for (auto& e : x) e = static_cast<uint8_t>(u8(rng));
    for (int64_t q = 0; q < pw.quads; ++q) {
      const uint8_t* rows[4];
      for (int i = 0; i < 4; ++i) rows[i] = 4 * q + i < depth ? x.data() + (4 * q + i) * px : nullptr;
      std::vector<uint8_t> s(static_cast<size_t>(px * 4));
      qinterleave4_u8__scalar(rows, px, s.data());
      qinterleave4_u8__avx2(rows, px, b.data() + q * px * 4);
      CHECK(std::memcmp(s.data(), b.data() + q * px * 4, s.size()) == 0);
    }
    const int32_t bias[4] = {-300000, 0, 777, 5};
    const float scale[4] = {0.0007f, 0.00013f, 1e-5f, 0.002f};
    const QU8S8Tile t{pw.quads, pw.main.data(), b.data(), px * 4, pw.rem.data(), pw.rem_start.data(), x.data(), px};
    for (bool is_signed : {false, true}) {
      const QRequantRows rq{bias, scale, is_signed ? -4 : 128, is_signed};
      std::vector<uint8_t> want(4 * 16), got(4 * 16);
      qgemm_u8s8_requant_4x16__scalar(t, rq, want.data(), 16);
      qgemm_u8s8_requant_4x16__avx2(t, rq, got.data(), 16);
      CHECK(want == got);
      // And the scalar twin against plain int32 sums of the unsplit weights.
      for (int i = 0; i < 4; ++i) {
        int32_t acc[16] = {};
        for (int64_t k = 0; k < depth; ++k)
          for (int j = 0; j < 16; ++j) acc[j] += int32_t(x[k * px + j]) * int32_t(w[i * depth + k]);
        uint8_t row[16];
        requantize_row__scalar(acc, 16, bias[i], scale[i], rq.zp, is_signed, row);
        CHECK(std::memcmp(row, want.data() + i * 16, 16) == 0);
      }
    }
  }
}

TEST_CASE("u8 x s8 64-pixel tile: VNNI equals the scalar twin on every width, and int32 sums", "[quant]") {
  std::mt19937 rng(23);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  const bool vnni = cpu_features().avx512vnni;
  for (int64_t depth : {1, 4, 7, 64, 97}) {
    const int64_t px = 64;  // B rows: 64 pixels, so every width reads inside them
    std::vector<int8_t> w(static_cast<size_t>(4 * depth));
    for (auto& e : w) e = static_cast<int8_t>(s8(rng));
    w[0] = -128;  // a whole quad of extremes: the int16 pairs of vpmaddubsw would saturate here
    const QU8S8Weights pw = pack_u8s8_weights(w.data(), 4, depth, false);
    REQUIRE(pw.rem.empty());
    std::vector<uint8_t> x(static_cast<size_t>(depth * px)), b(static_cast<size_t>(pw.quads * px * 4));
    for (auto& e : x) e = static_cast<uint8_t>(u8(rng));
    for (int64_t q = 0; q < pw.quads; ++q) {
      const uint8_t* rows[4];
      for (int i = 0; i < 4; ++i) rows[i] = 4 * q + i < depth ? x.data() + (4 * q + i) * px : nullptr;
      qinterleave4_u8__scalar(rows, px, b.data() + q * px * 4);
    }
    const int32_t bias[4] = {-300000, 0, 777, 5};
    const float scale[4] = {0.0007f, 0.00013f, 1e-5f, 0.002f};
    const QU8S8Tile t{pw.quads, pw.main.data(), b.data(), px * 4, pw.rem.data(), pw.rem_start.data(), x.data(), px};
    for (bool is_signed : {false, true})
      for (int64_t pixels : {1, 15, 16, 17, 33, 48, 63, 64}) {
        CAPTURE(depth, is_signed, pixels);
        const QRequantRows rq{bias, scale, is_signed ? -4 : 128, is_signed};
        const int64_t ldy = 70;  // columns past `pixels` must stay untouched
        std::vector<uint8_t> want(4 * ldy, 0xAB), got(4 * ldy, 0xAB);
        qgemm_u8s8_requant_4x64__scalar(t, rq, want.data(), ldy, pixels);
        for (int i = 0; i < 4; ++i) {
          int32_t acc[64] = {};
          for (int64_t k = 0; k < depth; ++k)
            for (int64_t j = 0; j < pixels; ++j) acc[j] += int32_t(x[k * px + j]) * int32_t(w[i * depth + k]);
          std::vector<uint8_t> row(static_cast<size_t>(pixels));
          requantize_row__scalar(acc, pixels, bias[i], scale[i], rq.zp, is_signed, row.data());
          CHECK(std::memcmp(row.data(), want.data() + i * ldy, row.size()) == 0);
          CHECK(want[i * ldy + pixels] == 0xAB);
        }
        if (!vnni) continue;
        qgemm_u8s8_requant_4x64__avx512vnni(t, rq, got.data(), ldy, pixels);
        CHECK(want == got);
      }
  }
}

TEST_CASE("QuantizeLinear's AVX2 run matches the scalar formula, halves, NaN and infinities included", "[quant]") {
  if (!cpu_features().avx2) SKIP("no AVX2");
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-300.f, 300.f);
  std::vector<float> x(203);
  for (size_t i = 0; i < x.size(); ++i) x[i] = i % 3 == 0 ? std::round(u(rng)) + 0.5f : u(rng);  // exact halves
  x[5] = std::numeric_limits<float>::quiet_NaN();
  x[17] = std::numeric_limits<float>::infinity();
  x[18] = -std::numeric_limits<float>::infinity();
  x[19] = 3e38f;
  for (bool is_signed : {false, true})
    for (float scale : {1.f, 0.37f, 2.5f})
      for (int32_t zp : {0, 3, is_signed ? -128 : 255})
        for (int64_t n : {0, 1, 15, 16, 17, 203}) {
          INFO((is_signed ? "int8" : "uint8") << " scale " << scale << " zp " << zp << " n " << n);
          std::vector<uint8_t> a(static_cast<size_t>(n + 1), 7), b = a;
          quantize_run__avx2(x.data(), n, scale, zp, is_signed, a.data());
          quantize_run__scalar(x.data(), n, scale, zp, is_signed, b.data());
          CHECK(a == b);
        }
}

TEST_CASE("QLinearMatMul / MatMulInteger fast path matches the reference", "[quant]") {
  std::mt19937 rng(11);
  for (auto [m, k, n] : {std::tuple{1, 1280, 37}, {3, 7, 5}, {17, 33, 9}, {6, 40, 35}}) {
    Tensor a = random_q<uint8_t>({m, k}, rng, 0, 255);
    Tensor b = random_q<int8_t>({k, n}, rng, -128, 127);
    Tensor bs(DType::kFloat32, {n});
    for (int64_t j = 0; j < n; ++j) bs.data<float>()[j] = 0.0005f * float(j + 1);
    run_all_bit_exact(make_node("QLinearMatMul", 10), {a, Tensor::scalar<float>(0.03f), Tensor::scalar<uint8_t>(7), b, bs,
                                                       Tensor(DType::kInt8, {n}), Tensor::scalar<float>(0.5f),
                                                       Tensor::scalar<uint8_t>(128)});
    auto r = run_all_bit_exact(make_node("MatMulInteger", 10), {a, b, Tensor::scalar<uint8_t>(100), Tensor::scalar<int8_t>(-1)});
    // Spot-check one element against a direct sum.
    int64_t want = 0;
    for (int64_t t = 0; t < k; ++t) want += int64_t(a.data<uint8_t>()[t] - 100) * (b.data<int8_t>()[t * n] + 1);
    CHECK(r[0].data<int32_t>()[0] == want);
  }
  // One row of A against a constant u8 B (packed at load): zero point 128 keeps B
  // inside int8 (the int8-weight GEMV), zero point 3 does not (the int16 row).
  for (int b_zp : {128, 3}) {
    CAPTURE(b_zp);
    const std::vector<Tensor> in{random_q<uint8_t>({1, 301}, rng, 0, 255), random_q<uint8_t>({301, 45}, rng, 0, 255),
                                 Tensor::scalar<uint8_t>(9), Tensor::scalar<uint8_t>(static_cast<uint8_t>(b_zp))};
    NodeDesc node = make_node("MatMulInteger", 10);
    set_constants(node, in, {1, 3});
    run_all_bit_exact(node, in);
  }
}

TEST_CASE("QLinearAdd (com.microsoft) hand-computed with broadcasting", "[quant]") {
  Tensor a = Tensor::from_vector<uint8_t>({2, 2}, {0, 100, 200, 255});
  Tensor b = Tensor::from_vector<uint8_t>({2}, {128, 28});
  NodeDesc n = make_node("QLinearAdd", 1, {}, 1, "com.microsoft");
  // a: scale 0.5, zp 0; b: scale 1, zp 128; c: scale 1, zp 10.
  auto y = run_all_bit_exact(n, {a, Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(0), b, Tensor::scalar<float>(1.f),
                                 Tensor::scalar<uint8_t>(128), Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(10)});
  // (0 + 0) + 10, (50 - 100) + 10 -> 0 (saturated), (100 + 0) + 10, (127.5 - 100) -> 28 (half to even) + 10
  CHECK(y[0].to_float_vector() == std::vector<float>{10, 0, 110, 38});
}

TEST_CASE("com.microsoft contrib ops agree with ONNX Runtime bit-exactly", "[quant]") {
  const fs::path root = fs::path(CVTOOL_SOURCE_DIR) / "tests" / "data" / "quant";
  if (!fs::exists(root)) SKIP("no fixtures in " + root.string() + " (scripts/quant_ort_fixtures.py)");
  int checked = 0;
  for (const auto& e : fs::directory_iterator(root)) {
    const fs::path d = e.path();
    INFO(d.filename().string());
    auto model = import_onnx_file((d / "model.onnx").string());
    REQUIRE_OK(model);
    std::vector<Tensor> inputs;
    for (int i = 0; fs::exists(d / ("input_" + std::to_string(i) + ".npy")); ++i) {
      auto t = read_npy((d / ("input_" + std::to_string(i) + ".npy")).string());
      REQUIRE_OK(t);
      inputs.push_back(t.value());
    }
    auto want = read_npy((d / "output.npy").string());
    REQUIRE_OK(want);
    for (bool ref : {false, true}) {
      SessionOptions opts;
      opts.use_reference = ref;
      auto s = Session::create(model.value(), opts);
      REQUIRE_OK(s);
      auto out = s.value()->run(inputs);
      REQUIRE_OK(out);
      CHECK(diff_exact(out.value()[0], want.value()) == "");
    }
    ++checked;
  }
  CHECK(checked >= 20);
}

TEST_CASE("quantised ops reject bad parameters with clear errors", "[quant]") {
  Tensor x = Tensor::from_vector<float>({2}, {1.f, 2.f});
  auto r = run_single_op(make_node("QuantizeLinear", 13), {x, Tensor::scalar<float>(0.f), Tensor::scalar<uint8_t>(0)});
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().to_string().find("positive") != std::string::npos);
  Tensor xq = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor w = Tensor::from_vector<int8_t>({1, 1, 1, 1}, {1});
  auto c = run_single_op(make_node("QLinearConv", 13),
                         {xq, Tensor::scalar<float>(1.f), Tensor::scalar<int8_t>(0), w, Tensor::scalar<float>(1.f),
                          Tensor::scalar<int8_t>(0), Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(0)});
  REQUIRE_FALSE(c.is_ok());  // x zero point int8 on a uint8 input
  Tensor bad_scale = Tensor::from_vector<float>({3}, {1.f, 1.f, 1.f});
  auto c2 = run_single_op(make_node("QLinearConv", 13),
                          {xq, Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(0), w, bad_scale,
                           Tensor::scalar<int8_t>(0), Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(0)});
  REQUIRE_FALSE(c2.is_ok());
  CHECK(c2.status().to_string().find("scale") != std::string::npos);
  CHECK(find_op("com.microsoft", "QLinearGlobalAveragePool", 1) != nullptr);
  CHECK(find_op("", "QLinearGlobalAveragePool", 13) == nullptr);
}

TEST_CASE("int8 dispatch picks AVX-512 VNNI exactly when the CPU has it and the ISA cap allows it", "[quant]") {
  // The fast conv names its kernel: vpdpbusd only with the CPU feature and an AVX-512
  // cap, never an AVX-512 kernel below that cap.
  Tensor x(DType::kUInt8, {1, 4, 5, 5});
  Tensor w(DType::kInt8, {4, 4, 1, 1});
  NodeDesc n = make_node("QLinearConv", 13);
  n.inputs = {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"};
  n.constant_inputs.resize(8);
  auto k = create_kernel(n);
  REQUIRE_OK(k);
  Tensor one = Tensor::scalar<float>(1.f), zu = Tensor::scalar<uint8_t>(0), zs = Tensor::scalar<int8_t>(0);
  IsaCapGuard guard;
  for (Isa isa : runnable_isas()) {
    set_isa_cap(isa);
    INFO("isa " << isa_name(isa));
    HeapKernelContext ctx2({&x, &one, &zu, &w, &one, &zs, &one, &zu}, 1, false);
    const Status st = k.value()->run(ctx2);
    INFO(st.to_string());
    REQUIRE(st.is_ok());
    const std::string impl = k.value()->impl_name();
    const bool vnni = cpu_features().avx512vnni && isa == Isa::kAvx512;
    CHECK((impl.find("vnni") != std::string::npos) == vnni);
    if (isa < Isa::kAvx512) CHECK(impl.find("avx512") == std::string::npos);
  }
}

TEST_CASE("QLinearConv with constant parameters: arguments kept across calls follow X's shape, the ISA and computed scales", "[quant]") {
  // Constant weights, scales, zero points and bias are read once and kept while X's
  // shape and type and the ISA stay; every call below must still equal a fresh
  // reference run. The last case's y scale is computed (not a constant): never kept.
  std::mt19937 rng(77);
  struct Case {
    int64_t c, k, r, group, stride;
  };
  // pointwise (u8 x s8), depthwise 3x3 (block kernel up to 32x32, row kernel above),
  // a 3x3 conv (im2col), a 5x5 depthwise (row kernel).
  const Case cases[] = {{24, 40, 1, 1, 1}, {32, 32, 3, 32, 1}, {17, 17, 3, 17, 2}, {8, 12, 3, 1, 1}, {5, 5, 5, 5, 1}};
  // Repeated shapes: the kept arguments are used; changed ones: they are remade.
  const Shape maps[] = {{1, 0, 14, 14}, {1, 0, 14, 14}, {1, 0, 7, 9},  {2, 0, 14, 14},
                        {1, 0, 40, 36}, {1, 0, 40, 36}, {1, 0, 14, 14}};
  IsaCapGuard guard;
  for (const Case& cs : cases)
    for (bool computed_y_scale : {false, true}) {
      INFO("c=" << cs.c << " k=" << cs.k << " " << cs.r << "x" << cs.r << " group " << cs.group << " stride "
                << cs.stride << (computed_y_scale ? ", computed y scale" : ""));
      Tensor w = random_q<int8_t>({cs.k, cs.c / cs.group, cs.r, cs.r}, rng, -128, 127);
      Tensor wscale(DType::kFloat32, {cs.k});
      for (int64_t i = 0; i < cs.k; ++i) wscale.data<float>()[i] = 0.0005f * float(1 + i % 3);
      Tensor bias = random_q<int32_t>({cs.k}, rng, -5000, 5000);
      std::vector<Tensor> params = {Tensor::scalar<float>(0.02f), Tensor::scalar<uint8_t>(121), w, wscale,
                                    Tensor(DType::kInt8, {cs.k}), Tensor::scalar<float>(0.04f),
                                    Tensor::scalar<uint8_t>(118), bias};
      NodeDesc n = make_node("QLinearConv", 13);
      n.attrs.set("kernel_shape", attr_ints({cs.r, cs.r}));
      n.attrs.set("pads", attr_ints({cs.r / 2, cs.r / 2, cs.r / 2, cs.r / 2}));
      n.attrs.set("strides", attr_ints({cs.stride, cs.stride}));
      n.attrs.set("group", attr_int(cs.group));
      n.inputs = {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"};
      n.constant_inputs.resize(9);
      for (size_t i = 1; i < 9; ++i)
        if (!(computed_y_scale && i == 6)) n.constant_inputs[i] = std::make_shared<const Tensor>(params[i - 1]);
      auto kernel = create_kernel(n);
      REQUIRE_OK(kernel);
      int call = 0;
      for (Isa isa : runnable_isas())
        for (Shape shape : maps) {
          set_isa_cap(isa);
          shape[1] = cs.c;
          INFO("isa " << isa_name(isa) << ", x " << shape_str(shape) << ", call " << call);
          Tensor x = random_q<uint8_t>(shape, rng, 0, 255);
          Tensor y_scale = Tensor::scalar<float>(computed_y_scale ? 0.03f + 0.01f * float(call % 3) : 0.04f);
          std::vector<const Tensor*> in = {&x};
          for (size_t i = 0; i < params.size(); ++i) in.push_back(i == 5 ? &y_scale : &params[i]);
          HeapKernelContext fast(in, 1, false), ref(in, 1, true);
          const Status fast_run = kernel.value()->run(fast);
          INFO(fast_run.to_string());
          REQUIRE(fast_run.is_ok());
          auto ref_kernel = create_kernel(n);
          REQUIRE_OK(ref_kernel);
          const Status ref_run = ref_kernel.value()->run(ref);
          INFO(ref_run.to_string());
          REQUIRE(ref_run.is_ok());
          CHECK(diff_exact(fast.outputs()[0], ref.outputs()[0]) == "");
          ++call;
        }
    }
}
