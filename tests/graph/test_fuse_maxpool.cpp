// fuse_maxpool: Conv [-> Relu] -> MaxPool runs as one Conv that pools bands of
// its rows (ops/conv_maxpool.cpp). Each model runs fused against the plain
// reference kernels, against itself at 1 and 2 threads (bit for bit), and against
// the same model with only this pass off (CVT_FUSE_MAXPOOL=0; bit for bit where
// the unfused conv takes the direct-taps kernel: the fused node's direct-taps and
// shallow bands sum the same products in the same order). The profile shows which
// path ran.
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "graph/session.h"
#include "io/onnx/importer.h"
#include "onnx_builder.h"
#include "test_util.h"

using namespace cvt;
using cvt::testing::OnnxBuilder;
using cvt::testing::random_tensor;

namespace {

struct StemCase {
  const char* name;
  std::vector<int64_t> x;       // N, C, H, W
  int64_t out_channels, kernel, stride, pad, group;
  std::vector<int64_t> pool;    // kernel, stride, pad, ceil_mode, dilation
  bool fused;                   // the pass fuses them
  bool banded;                  // the fused node takes the banded kernel (AVX-512)
  bool shallow;                 // its bands pixel-major (conv_shallow_rows: <= 4 input channels)
  bool unfused_direct;          // the unfused conv takes direct taps: bit for bit
};

std::string stem_model(const StemCase& t, bool relu) {
  OnnxBuilder b(13);
  b.input("x", t.x);
  const int64_t cin = t.x[1] / t.group, k = t.kernel, n_w = t.out_channels * cin * k * k;
  const Tensor w = random_tensor({n_w}, 41, -0.3f, 0.3f), bias = random_tensor({t.out_channels}, 42);
  b.initializer("w", {t.out_channels, cin, k, k}, std::vector<float>(w.data<float>(), w.data<float>() + n_w));
  b.initializer("b", {t.out_channels},
                std::vector<float>(bias.data<float>(), bias.data<float>() + t.out_channels));
  auto& conv = b.node("Conv", {"x", "w", "b"}, {"c"});
  OnnxBuilder::attr_ints(conv, "kernel_shape", {k, k});
  OnnxBuilder::attr_ints(conv, "strides", {t.stride, t.stride});
  OnnxBuilder::attr_ints(conv, "pads", {t.pad, t.pad, t.pad, t.pad});
  OnnxBuilder::attr_int(conv, "group", t.group);
  if (relu) b.node("Relu", {"c"}, {"r"});
  auto& pool = b.node("MaxPool", {relu ? "r" : "c"}, {"y"});
  const int64_t pk = t.pool[0], ps = t.pool[1], pp = t.pool[2];
  OnnxBuilder::attr_ints(pool, "kernel_shape", {pk, pk});
  OnnxBuilder::attr_ints(pool, "strides", {ps, ps});
  OnnxBuilder::attr_ints(pool, "pads", {pp, pp, pp, pp});
  OnnxBuilder::attr_int(pool, "ceil_mode", t.pool[3]);
  if (t.pool[4] != 1) OnnxBuilder::attr_ints(pool, "dilations", {t.pool[4], t.pool[4]});
  b.output("y");
  return b.bytes();
}

std::shared_ptr<Model> import(const std::string& bytes, bool fuse_maxpool) {
  if (!fuse_maxpool) setenv("CVT_FUSE_MAXPOOL", "0", 1);
  OnnxImportOptions o;
  o.release_packed_weights = false;  // the same model also runs with the reference kernels
  auto m = import_onnx_bytes(bytes, ".", "m", o);
  unsetenv("CVT_FUSE_MAXPOOL");
  REQUIRE_OK(m);
  return m.value();
}

struct Ran {
  Tensor y;
  std::string first_impl;
};

Ran run(const std::shared_ptr<Model>& m, const Tensor& x, int threads, bool reference) {
  SessionOptions so;
  so.threads = threads;
  so.use_reference = reference;
  so.profile = true;
  auto s = Session::create(m, so);
  REQUIRE_OK(s);
  auto got = s.value()->run({x});
  REQUIRE_OK(got);
  REQUIRE(got.value().size() == 1);
  return Ran{got.value()[0], s.value()->last_profile().at(0).impl};
}

}  // namespace

TEST_CASE("fuse_maxpool: Conv -> Relu -> MaxPool becomes one Conv pooling bands of its rows", "[graph][passes]") {
  const bool avx512 = active_isa() >= Isa::kAvx512;
  // Planes wide enough that a band (~384 KB of conv rows) holds 3-7 pooled rows:
  // several bands a task, each reusing the conv rows the last one shares.
  for (const StemCase& t : {
           StemCase{"ResNet stem: 7x7/2 pad 3, pool 3x3/2 pad 1", {1, 3, 120, 400}, 64, 7, 2, 3, 1, {3, 2, 1, 0, 1},
                    true, true, true, true},
           StemCase{"GoogLeNet stem: ceil_mode pool, odd sizes", {1, 3, 61, 331}, 64, 7, 2, 3, 1, {3, 2, 0, 1, 1},
                    true, true, true, true},
           StemCase{"SqueezeNet stem: 3x3/2 no pads, batch 2", {2, 3, 47, 413}, 64, 3, 2, 0, 1, {3, 2, 0, 0, 1},
                    true, true, true, false},
           StemCase{"2x2/2 pool, 19 channels (a ragged row tile)", {1, 5, 30, 90}, 19, 3, 1, 1, 1, {2, 2, 0, 0, 1},
                    true, true, false, true},
           StemCase{"5x5/1 pool (bands overlap by 4 rows)", {1, 3, 40, 700}, 32, 3, 2, 1, 1, {5, 1, 2, 0, 1}, true,
                    true, true, false},
           StemCase{"rows of 1050 pooled values: the conv into scratch, then the pool", {1, 3, 8, 2100}, 16, 3, 1, 1,
                    1, {2, 2, 0, 0, 1}, true, false, false, false},
           StemCase{"1 input channel, 8 outputs (half a vector), 5x5/1 pad 2", {1, 1, 37, 250}, 8, 5, 1, 2, 1,
                    {3, 2, 1, 0, 1}, true, true, true, true},
           StemCase{"4 input channels, 48 outputs (three vectors), batch 2", {2, 4, 33, 170}, 48, 3, 1, 1, 1,
                    {2, 2, 0, 0, 1}, true, true, true, true},
           StemCase{"2 input channels, 24 outputs, ceil_mode pool", {1, 2, 45, 301}, 24, 3, 2, 1, 1, {3, 2, 0, 1, 1},
                    true, true, true, false},
           StemCase{"dilated pool: not fused", {1, 3, 20, 30}, 16, 3, 1, 1, 1, {3, 1, 2, 0, 2}, false, false, false, true},
           StemCase{"grouped conv: not fused", {1, 4, 20, 30}, 8, 3, 1, 1, 2, {3, 2, 1, 0, 1}, false, false, false, true},
           StemCase{"128 output channels: not fused", {1, 3, 20, 30}, 128, 3, 2, 1, 1, {3, 2, 1, 0, 1}, false, false,
                    false, true},
       }) {
    CAPTURE(t.name);
    for (bool relu : {true, false}) {
      CAPTURE(relu);
      const std::string bytes = stem_model(t, relu);
      const auto fused = import(bytes, true), unfused = import(bytes, false);
      CHECK(unfused->graph->nodes.size() == 2);
      if (!t.fused) {
        CHECK(fused->graph->nodes.size() == 2);
        continue;
      }
      CHECK(fused->graph->nodes.size() == 1);
      const Tensor x = random_tensor(t.x, 7, -2.f, 2.f);
      const Ran want = run(unfused, x, 1, true);
      const Ran ref = run(fused, x, 1, true);
      CHECK_TENSOR_NEAR(ref.y, want.y, 0, 0);  // the reference conv, then the reference pool
      const Ran one = run(fused, x, 1, false), two = run(fused, x, 2, false);
      CHECK(one.first_impl.find(avx512 && t.banded ? "+maxpool_banded__avx512" : "+maxpool_") != std::string::npos);
      CHECK((one.first_impl.find("shallow_rows") != std::string::npos) == (avx512 && t.shallow));
      CHECK_TENSOR_NEAR(one.y, want.y, 1e-4f, 1e-4f);
      CHECK_TENSOR_NEAR(two.y, one.y, 0, 0);
      const Ran plain = run(unfused, x, 1, false);
      if (t.unfused_direct && avx512) {
        CHECK(plain.first_impl.find("direct_taps") != std::string::npos);
        CHECK_TENSOR_NEAR(one.y, plain.y, 0, 0);
      } else {
        CHECK_TENSOR_NEAR(one.y, plain.y, 1e-4f, 1e-4f);
      }
    }
  }
}

TEST_CASE("fuse_maxpool: declines when the conv output has other readers or the pool's Indices are read",
          "[graph][passes]") {
  const StemCase t{"", {1, 3, 20, 30}, 16, 3, 2, 1, 1, {3, 2, 1, 0, 1}, true, true, true};
  SECTION("conv output also a graph output") {
    std::string bytes = stem_model(t, false);
    onnx::ModelProto m;
    REQUIRE(m.ParseFromString(bytes));
    m.mutable_graph()->add_output()->set_name("c");
    REQUIRE(m.SerializeToString(&bytes));
    CHECK(import(bytes, true)->graph->nodes.size() == 2);
  }
  SECTION("Indices output read") {
    std::string bytes = stem_model(t, false);
    onnx::ModelProto m;
    REQUIRE(m.ParseFromString(bytes));
    auto* pool = m.mutable_graph()->mutable_node(1);
    pool->add_output("idx");
    m.mutable_graph()->add_output()->set_name("idx");
    REQUIRE(m.SerializeToString(&bytes));
    CHECK(import(bytes, true)->graph->nodes.size() == 2);
  }
}
