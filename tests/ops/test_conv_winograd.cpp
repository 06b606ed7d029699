// Winograd F(4x4, 3x3): the tile transforms against direct correlation, then
// whole convolutions against the reference over odd shapes (partial edge tiles,
// asymmetric padding, batches, fused bias/ReLU), bit-identical at 1 and 2
// threads, with the numerical error bounded relative to the output scale.
#include <cmath>
#include <cstring>
#include <tbb/task_arena.h>

#include "ops/conv.h"
#include "ops/conv_winograd.h"
#include "ops/op_runner.h"
#include "ops/op_test_util.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

NodeDesc conv_node(const std::vector<Tensor>& in, std::vector<int64_t> pads, bool relu) {
  NodeDesc n;
  n.op_type = "Conv";
  n.opset = 11;
  n.attrs.set("pads", attr_ints(std::move(pads)));
  if (relu) n.attrs.set(kFusedActivationAttr, attr_str("Relu"));
  n.constant_inputs.assign(in.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) {
    n.inputs.push_back("in" + std::to_string(i));
    if (i > 0) n.constant_inputs[i] = std::make_shared<Tensor>(in[i]);  // weights packed at load
  }
  return n;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, double(std::fabs(t.data<float>()[i])));
  return m;
}

}  // namespace

TEST_CASE("winograd F(4,3): tile transforms compute a 4x4 valid correlation", "[ops][conv][winograd]") {
  const Tensor g = random_tensor({9}, 3), d = random_tensor({36}, 4);
  float u[36], v[36], m[36], o[16];
  winograd_f43_weight_tile(g.data<float>(), u);
  winograd_f43_input_tile(d.data<float>(), v);
  for (int i = 0; i < 36; ++i) m[i] = u[i] * v[i];
  winograd_f43_output_tile(m, o);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      double want = 0;
      for (int r = 0; r < 3; ++r)
        for (int s = 0; s < 3; ++s) want += double(d.data<float>()[(y + r) * 6 + x + s]) * g.data<float>()[r * 3 + s];
      CHECK(o[y * 4 + x] == Approx(want).margin(1e-5));
    }
}

TEST_CASE("winograd F(4,3): odd shapes against the reference, 1 and 2 threads", "[ops][conv][winograd]") {
  struct Case {
    Shape x;
    int64_t k;
    std::vector<int64_t> pads;
    bool bias, relu;
  };
  const Case c = GENERATE(Case{{1, 8, 4, 4}, 8, {1, 1, 1, 1}, true, false},      // one tile
                          Case{{1, 8, 3, 3}, 9, {0, 0, 0, 0}, false, false},     // 1x1 output: im2col
                          Case{{1, 13, 7, 9}, 17, {1, 1, 1, 1}, true, true},     // partial edge tiles, ReLU (6 tiles: im2col in the op)
                          Case{{2, 16, 13, 11}, 8, {0, 1, 2, 0}, true, false},   // batch 2, asymmetric pads
                          Case{{1, 64, 30, 30}, 64, {1, 1, 1, 1}, true, true},   // ResNet-like
                          Case{{1, 37, 57, 5}, 23, {1, 1, 1, 1}, false, false},  // tall and narrow
                          Case{{3, 8, 17, 17}, 12, {1, 1, 1, 1}, true, false},   // tiles across images in one block
                          Case{{1, 160, 20, 20}, 96, {1, 1, 1, 1}, true, false},  // several tile blocks (C+K large)
                          // Rows of 18 tiles: 8-tile runs go through the AVX2 gather / scatter shuffles.
                          Case{{1, 16, 14, 70}, 24, {1, 1, 1, 1}, true, true},  // several tile blocks? (C+K large)
                          // ~200 tiles: on 2 threads each runs whole blocks (blocks of 56 / 48 tiles,
                          // ragged last ones, the second across both images).
                          Case{{1, 8, 58, 50}, 12, {1, 1, 1, 1}, true, true},
                          Case{{2, 8, 30, 46}, 10, {1, 1, 1, 1}, false, false});
  CAPTURE(shape_str(c.x), c.k);
  std::vector<Tensor> in{random_tensor(c.x, 21), random_tensor({c.k, c.x[1], 3, 3}, 22, -0.5f, 0.5f)};
  if (c.bias) in.push_back(random_tensor({c.k}, 23));
  const NodeDesc node = conv_node(in, c.pads, c.relu);
  auto ref = run_single_op(node, in, SingleOpOptions{true, 1});
  auto one = run_single_op(node, in, SingleOpOptions{false, 1});
  auto two = run_single_op(node, in, SingleOpOptions{false, 2});
  REQUIRE_OK(ref);
  REQUIRE_OK(one);
  REQUIRE_OK(two);
  const Tensor& r = ref.value()[0];
  // Error bound: F(4,3) in float32 stays within 1e-5 of the output's scale per
  // unit of sqrt(9C) (the random-walk growth of the channel sum); measured ~5x below.
  const double scale = max_abs(r), atol = 2e-5 * scale * std::sqrt(9.0 * double(c.x[1])) / 8.0 + 1e-6;
  CHECK_TENSOR_NEAR(one.value()[0], r, atol, 0);
  CHECK(std::memcmp(one.value()[0].raw(), two.value()[0].raw(), one.value()[0].nbytes()) == 0);

  // The kernel itself on every shape it accepts, whether or not the op would
  // choose it (the op prefers im2col below 9 output tiles).
  auto attrs = parse_conv_attrs(node, false);
  REQUIRE_OK(attrs);
  auto p = resolve_conv(attrs.value(), c.x, in[1].shape());
  REQUIRE_OK(p);
  ConvParams params = p.value();
  params.activation = c.relu ? Epilogue::relu() : Epilogue::none();
  if (!winograd_eligible(params)) return;
  const GemmKernelSet& ks = gemm_kernels();
  const WinogradWeights w = winograd_pack_weights(ks, in[1].data<float>(), c.k, c.x[1]);
  std::vector<Tensor> direct;
  for (int threads : {1, 2}) {
    Tensor y(DType::kFloat32, params.output_shape());
    tbb::task_arena arena(threads);
    arena.execute([&] {
      conv_winograd_f43(params, ks, w, in[0].data<float>(), c.bias ? in[2].data<float>() : nullptr, y.data<float>(), nullptr);
    });
    CHECK_TENSOR_NEAR(y, r, atol, 0);
    direct.push_back(y);
  }
  CHECK(std::memcmp(direct[0].raw(), direct[1].raw(), direct[0].nbytes()) == 0);
}

TEST_CASE("winograd is preferred only where it measured faster than im2col", "[ops][conv][winograd]") {
  auto params = [](int64_t c, int64_t k, int64_t hw) {
    ConvParams p;
    p.in_channels = c, p.out_channels = k;
    p.in = {1, hw, hw}, p.out = {1, hw, hw}, p.kernel = {1, 3, 3};
    p.pad_begin = {0, 1, 1}, p.pad_end = {0, 1, 1};
    return p;
  };
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    CAPTURE(int(isa));
    CHECK(winograd_preferred(params(64, 64, 56), isa));     // ResNet-18 layer1
    CHECK(winograd_preferred(params(256, 256, 14), isa));   // ResNet layer3
    CHECK(winograd_preferred(params(160, 320, 14), isa));   // GoogLeNet 4e, 3x3 branch
    CHECK(winograd_preferred(params(64, 192, 56), isa));    // GoogLeNet conv3: 3x the outputs, still faster
    CHECK(winograd_preferred(params(64, 256, 13), isa));    // SqueezeNet's last expands
    CHECK_FALSE(winograd_preferred(params(64, 64, 8), isa));  // 4 tiles: transforms do not pay off
    CHECK_FALSE(winograd_preferred(params(9, 16, 56), isa));  // few input channels: im2col
  }
  // SqueezeNet's expands from 16 and 48 channels: im2col with the 8-lane transforms
  // (slower / a tie), Winograd with the AVX-512 ones.
  CHECK_FALSE(winograd_preferred(params(16, 64, 55), Isa::kAvx2));
  CHECK_FALSE(winograd_preferred(params(48, 192, 13), Isa::kAvx2));
  CHECK(winograd_preferred(params(16, 64, 55), Isa::kAvx512));
  CHECK(winograd_preferred(params(48, 192, 13), Isa::kAvx512));
}

TEST_CASE("winograd scatter of any 8 tiles (AVX2) equals the scalar formula, cut-short tiles included", "[ops][conv][winograd]") {
  if (!cpu_features().has_avx2_fma()) SKIP("no AVX2");
  alignas(32) float o[16][8];
  const Tensor values = random_tensor({16 * 8}, 31, -2.f, 2.f), res = random_tensor({8 * 4 * 6}, 32);
  std::memcpy(o, values.data<float>(), sizeof(o));
  o[5][3] = std::nanf("");  // a NaN stays a NaN through the clamp, as in the scalar path
  const float bias = 0.25f;
  for (const Epilogue& e : {Epilogue::none(), Epilogue::clamp(-0.5f, 1.5f), Epilogue::leaky_relu(0.1f)})
    for (bool with_residual : {false, true})
      for (int lanes : {1, 5, 8}) {
        CAPTURE(int(e.kind), with_residual, lanes);
        // Tile l: rows x cols from {4, 3, 2, 1}, its own 4x6 block of a 6-wide plane.
        std::vector<float> got(8 * 4 * 6, -7.f), want = got;
        WinogradTileOut t;
        for (int l = 0; l < 8; ++l) {
          t.y[l] = got.data() + l * 24, t.residual[l] = with_residual ? res.data<float>() + l * 24 : nullptr;
          t.rows[l] = 4 - l % 4, t.cols[l] = 4 - (l / 2) % 4;
        }
        winograd_scatter_tiles__avx2(o, lanes, t, bias, e, 6);
        for (int l = 0; l < lanes; ++l)
          for (int i = 0; i < t.rows[l]; ++i)
            for (int j = 0; j < t.cols[l]; ++j) {
              float v = o[i * 4 + j][l] + bias;
              if (with_residual) v += res.data<float>()[l * 24 + i * 6 + j];
              want[l * 24 + i * 6 + j] = e.apply(v);
            }
        for (size_t i = 0; i < got.size(); ++i) {
          INFO("at " << i);
          CHECK((std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i]));
        }
      }
}

TEST_CASE("winograd AVX-512 passes equal the single-tile transforms bit for bit, runs cut anywhere", "[ops][conv][winograd]") {
  if (!cpu_features().has_avx512()) SKIP("no AVX-512");
  struct Case {
    int64_t in_h, in_w, pad_h, pad_w, out_h, out_w;
  };
  // Tile rows of 1..20 tiles (four, two or one tile rows a vector), edge tiles cut short.
  const Case c = GENERATE(Case{4, 4, 1, 1, 4, 4}, Case{13, 11, 0, 1, 13, 10}, Case{9, 10, 1, 1, 9, 10},
                          Case{30, 22, 1, 1, 30, 22}, Case{17, 17, 1, 1, 17, 17}, Case{30, 30, 1, 1, 30, 30},
                          Case{58, 50, 1, 1, 58, 50}, Case{21, 78, 2, 0, 22, 77});
  const int64_t tiles_h = (c.out_h + 3) / 4, tiles_w = (c.out_w + 3) / 4, tiles = tiles_h * tiles_w;
  const WinogradPlane g{c.in_h, c.in_w, c.pad_h, c.pad_w, c.out_h, c.out_w, tiles_w};
  CAPTURE(c.in_h, c.in_w, tiles_w);
  const Tensor x = random_tensor({c.in_h, c.in_w}, 51), m = random_tensor({36, tiles}, 52);
  const Tensor residual = random_tensor({c.out_h, c.out_w}, 53);
  std::vector<float> scratch(static_cast<size_t>(winograd_input_scratch_floats(g)));
  // Runs: the whole plane, and pieces cut mid-row of every length up to 2 tile rows + 3.
  std::vector<std::pair<int64_t, int64_t>> runs{{0, tiles}};
  for (int64_t len = 1; len <= 2 * tiles_w + 3; len += 1 + len / 3)
    for (int64_t t = len % 5 % tiles; t < tiles; t += len) runs.emplace_back(t, std::min(len, tiles - t));
  for (auto [first, count] : runs) {
    CAPTURE(first, count);
    // Input: V[position][tile], with a sentinel around the run.
    const int64_t v_pos = count + 5;
    std::vector<float> v(static_cast<size_t>(36 * v_pos + 2), -9.f);
    winograd_input_run__avx512(g, x.data<float>(), first, count, v.data() + 1, v_pos, scratch.data());
    int bad = 0;
    for (int64_t t = first; t < first + count; ++t) {
      float d[36], want[36];
      const int64_t ih0 = t / tiles_w * 4 - c.pad_h, iw0 = t % tiles_w * 4 - c.pad_w;
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) {
          const int64_t ih = ih0 + i, iw = iw0 + j;
          d[i * 6 + j] = ih >= 0 && ih < c.in_h && iw >= 0 && iw < c.in_w ? x.data<float>()[ih * c.in_w + iw] : 0.f;
        }
      winograd_f43_input_tile(d, want);
      for (int xi = 0; xi < 36; ++xi) bad += v[1 + xi * v_pos + (t - first)] != want[xi];
    }
    for (int xi = 0; xi < 36; ++xi)
      for (int64_t i = count; i < v_pos; ++i) bad += v[1 + xi * v_pos + i] != -9.f;
    CHECK(bad == 0);
    // Output: every epilogue, with and without a residual; pixels outside the run untouched.
    for (const Epilogue& e : {Epilogue::none(), Epilogue::clamp(0.f, 0.5f), Epilogue::leaky_relu(0.1f)})
      for (bool with_residual : {false, true}) {
        CAPTURE(int(e.kind), with_residual);
        std::vector<float> y(static_cast<size_t>(c.out_h * c.out_w), -9.f), want = y;
        winograd_output_run__avx512(g, m.data<float>() + first, tiles, first, count, 0.25f, e,
                                    with_residual ? residual.data<float>() : nullptr, y.data());
        for (int64_t t = first; t < first + count; ++t) {
          float mt[36], o[16];
          for (int xi = 0; xi < 36; ++xi) mt[xi] = m.data<float>()[xi * tiles + t];
          winograd_f43_output_tile(mt, o);
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
              const int64_t oy = t / tiles_w * 4 + i, ox = t % tiles_w * 4 + j;
              if (oy >= c.out_h || ox >= c.out_w) continue;
              float val = o[i * 4 + j] + 0.25f;
              if (with_residual) val += residual.data<float>()[oy * c.out_w + ox];
              want[oy * c.out_w + ox] = e.apply(val);
            }
        }
        CHECK(std::memcmp(y.data(), want.data(), y.size() * sizeof(float)) == 0);
      }
  }
}

TEST_CASE("winograd: 1 and 2 threads agree bit for bit, AVX-512 and 8-lane paths alike", "[ops][conv][winograd]") {
  if (!cpu_features().has_avx512()) SKIP("no AVX-512");
  struct Case {
    Shape x;
    int64_t k;
    std::vector<int64_t> pads;
  };
  // Enough tiles that 2 threads run blocks starting mid-row, with 3, 6 and 13 tiles a row;
  // and too few for that, so the three passes are split across threads (2 images in one case).
  // The 8-lane path too must not depend on the thread count: its blocks' right edges move.
  const Case c = GENERATE(Case{{1, 8, 300, 10}, 9, {1, 1, 1, 1}}, Case{{1, 8, 130, 22}, 12, {1, 1, 1, 1}},
                          Case{{3, 8, 17, 17}, 12, {1, 1, 1, 1}}, Case{{1, 8, 58, 50}, 12, {1, 1, 1, 1}},
                          Case{{2, 8, 30, 46}, 10, {1, 1, 1, 1}}, Case{{1, 24, 13, 13}, 40, {1, 1, 1, 1}},
                          Case{{2, 8, 9, 7}, 23, {0, 1, 1, 0}});
  CAPTURE(shape_str(c.x), c.k);
  const Tensor x = random_tensor(c.x, 41), w = random_tensor({c.k, c.x[1], 3, 3}, 42, -0.5f, 0.5f);
  const Tensor bias = random_tensor({c.k}, 43);
  NodeDesc node = conv_node({x, w}, c.pads, false);
  auto attrs = parse_conv_attrs(node, false);
  REQUIRE_OK(attrs);
  auto resolved = resolve_conv(attrs.value(), c.x, w.shape());
  REQUIRE_OK(resolved);
  ConvParams p = resolved.value();
  REQUIRE(winograd_eligible(p));
  p.activation = Epilogue::clamp(0.f, 6.f);
  const Tensor residual = random_tensor(p.output_shape(), 44);
  auto run = [&](Isa isa, int threads) {
    const GemmKernelSet& ks = gemm_kernels(isa);
    const WinogradWeights u = winograd_pack_weights(ks, w.data<float>(), c.k, c.x[1]);
    Tensor y(DType::kFloat32, p.output_shape());
    tbb::task_arena arena(threads);
    arena.execute([&] {
      conv_winograd_f43(p, ks, u, x.data<float>(), bias.data<float>(), y.data<float>(), residual.data<float>());
    });
    return y;
  };
  const Tensor one = run(Isa::kAvx512, 1), two = run(Isa::kAvx512, 2), lanes8 = run(Isa::kAvx2, 1);
  CHECK(std::memcmp(one.raw(), two.raw(), one.nbytes()) == 0);
  const Tensor lanes8_two = run(Isa::kAvx2, 2);
  CHECK(std::memcmp(lanes8.raw(), lanes8_two.raw(), lanes8.nbytes()) == 0);
  // The GEMMs' micro-kernels differ in summation order, so only close to the AVX2 path.
  CHECK_TENSOR_NEAR(one, lanes8, 1e-4 * max_abs(lanes8), 0);
}
