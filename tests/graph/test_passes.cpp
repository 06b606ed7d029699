// Fusion passes keep outputs unchanged: each small graph is run optimized and
// with OnnxImportOptions{optimize=false}, at 1 and 2 threads, and the node count
// shows whether the pass fired (or correctly declined to).
#include <string>
#include <vector>

#include "graph/session.h"
#include "io/onnx/importer.h"
#include "onnx_builder.h"
#include "test_util.h"

using namespace cvt;
using cvt::testing::OnnxBuilder;
using cvt::testing::random_tensor;

namespace {

std::vector<float> random_values(int64_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t = random_tensor({n}, seed, lo, hi);
  return std::vector<float>(t.data<float>(), t.data<float>() + n);
}

// Conv (C=3 -> K=5, 3x3, pad 1) on x (1,3,9,11) named "c"; bias optional.
void add_conv(OnnxBuilder& b, bool bias, const std::string& out = "c") {
  const int64_t cin = 3, k = 5;
  b.initializer("w", {k, cin, 3, 3}, random_values(k * cin * 9, 11));
  std::vector<std::string> ins = {"x", "w"};
  if (bias) {
    b.initializer("b", {k}, random_values(k, 12));
    ins.push_back("b");
  }
  auto& n = b.node("Conv", ins, {out});
  OnnxBuilder::attr_ints(n, "pads", {1, 1, 1, 1});
  OnnxBuilder::attr_ints(n, "kernel_shape", {3, 3});
}

void add_bn(OnnxBuilder& b, const std::string& in, const std::string& out, float eps = 1e-3f) {
  const int64_t k = 5;
  b.initializer("scale", {k}, random_values(k, 21, 0.5f, 2.f));
  b.initializer("beta", {k}, random_values(k, 22));
  b.initializer("mean", {k}, random_values(k, 23));
  b.initializer("var", {k}, random_values(k, 24, 0.1f, 3.f));
  auto& n = b.node("BatchNormalization", {in, "scale", "beta", "mean", "var"}, {out});
  OnnxBuilder::attr_float(n, "epsilon", eps);
}

struct Compared {
  size_t nodes_optimized = 0, nodes_plain = 0;
};

// Runs the model both ways and checks the outputs agree; returns node counts.
Compared compare_optimized(const std::string& bytes, float atol = 1e-5f, float rtol = 1e-5f,
                           const Shape& x_shape = {1, 3, 9, 11}) {
  Compared c;
  OnnxImportOptions opt_opts;
  opt_opts.release_packed_weights = false;  // the same model also runs with the reference kernels
  auto opt = import_onnx_bytes(bytes, ".", "opt", opt_opts);
  REQUIRE_OK(opt);
  OnnxImportOptions plain_opts;
  plain_opts.optimize = false;
  plain_opts.release_packed_weights = false;
  auto plain = import_onnx_bytes(bytes, ".", "plain", plain_opts);
  REQUIRE_OK(plain);
  c.nodes_optimized = opt.value()->graph->nodes.size();
  c.nodes_plain = plain.value()->graph->nodes.size();
  Tensor x = random_tensor(x_shape, 7, -2.f, 2.f);
  SessionOptions ref_opts;
  ref_opts.use_reference = true;
  auto s_ref = Session::create(plain.value(), ref_opts);
  REQUIRE_OK(s_ref);
  auto want = s_ref.value()->run({x});
  REQUIRE_OK(want);
  std::vector<Tensor> first;
  for (int threads : {1, 2}) {
    for (bool reference : {false, true}) {
      SessionOptions so;
      so.threads = threads;
      so.use_reference = reference;
      auto s = Session::create(opt.value(), so);
      REQUIRE_OK(s);
      auto got = s.value()->run({x});
      REQUIRE_OK(got);
      REQUIRE(got.value().size() == want.value().size());
      for (size_t i = 0; i < got.value().size(); ++i) CHECK_TENSOR_NEAR(got.value()[i], want.value()[i], atol, rtol);
      if (!reference) {
        if (first.empty()) first = got.value();
        else
          for (size_t i = 0; i < first.size(); ++i) CHECK_TENSOR_NEAR(got.value()[i], first[i], 0, 0);  // 1 vs 2 threads
      }
    }
  }
  return c;
}

}  // namespace

TEST_CASE("fuse_activation: Conv -> Relu / LeakyRelu / Clip becomes one node", "[graph][passes]") {
  struct Case {
    const char* name;
    int opset;
    bool bias;
  };
  for (Case k : {Case{"Relu", 13, true}, Case{"LeakyRelu", 13, false}, Case{"Clip", 13, true},
                 Case{"Clip6", 6, true}, Case{"ClipMinOnly", 13, true}}) {
    CAPTURE(k.name);
    OnnxBuilder b(k.opset);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, k.bias);
    const std::string n = k.name;
    if (n == "Relu") {
      b.node("Relu", {"c"}, {"y"});
    } else if (n == "LeakyRelu") {
      OnnxBuilder::attr_float(b.node("LeakyRelu", {"c"}, {"y"}), "alpha", 0.2f);
    } else if (n == "Clip") {
      b.initializer("lo", {}, {-0.5f});
      b.initializer("hi", {}, {0.75f});
      b.node("Clip", {"c", "lo", "hi"}, {"y"});
    } else if (n == "ClipMinOnly") {
      b.initializer("lo", {}, {0.1f});
      b.node("Clip", {"c", "lo"}, {"y"});
    } else {
      auto& c = b.node("Clip", {"c"}, {"y"});
      OnnxBuilder::attr_float(c, "min", 0.f);
      OnnxBuilder::attr_float(c, "max", 6.f);
    }
    b.node("Sigmoid", {"y"}, {"out"});
    b.output("out");
    Compared c = compare_optimized(b.bytes());
    CHECK(c.nodes_plain == 3);
    CHECK(c.nodes_optimized == 2);
  }
}

TEST_CASE("fuse_activation: SiLU as Mul(conv, Sigmoid(conv)) on every conv path", "[graph][passes]") {
  struct Case {
    const char* name;
    int64_t cin, k, group, hw;  // x (1, cin, hw, hw), w (k, cin / group, 3, 3), pad 1
    bool sigmoid_first, residual;
    int64_t stride = 1;
  };
  // im2col (3 channels), Winograd (64 -> 64 on 16x16: 16 tiles), depthwise (tail of the
  // 11x11 run; after the 3x3 stride-1 and stride-2 plane kernels SiLU runs as a second pass),
  // and a residual Add before the SiLU.
  for (Case k : {Case{"im2col", 3, 5, 1, 11, false, false}, Case{"im2col, Mul(sigmoid, conv)", 3, 5, 1, 11, true, false},
                 Case{"winograd", 64, 64, 1, 16, false, false}, Case{"depthwise", 6, 6, 6, 11, false, false},
                 Case{"depthwise + residual", 6, 6, 6, 11, true, true}, Case{"winograd + residual", 64, 64, 1, 16, false, true},
                 Case{"depthwise stride 2", 6, 6, 6, 11, false, false, 2}}) {
    CAPTURE(k.name);
    OnnxBuilder b(13);
    b.input("x", {1, k.cin, k.hw, k.hw});
    b.initializer("w", {k.k, k.cin / k.group, 3, 3}, random_values(k.k * (k.cin / k.group) * 9, 31, -0.3f, 0.3f));
    b.initializer("b", {k.k}, random_values(k.k, 32));
    auto& conv = b.node("Conv", {"x", "w", "b"}, {"c0"});
    OnnxBuilder::attr_ints(conv, "pads", {1, 1, 1, 1});
    OnnxBuilder::attr_ints(conv, "kernel_shape", {3, 3});
    OnnxBuilder::attr_int(conv, "group", k.group);
    OnnxBuilder::attr_ints(conv, "strides", {k.stride, k.stride});
    std::string c = "c0";
    if (k.residual) {  // k == cin: x itself is the residual
      b.node("Add", {"c0", "x"}, {"c"});
      c = "c";
    }
    b.node("Sigmoid", {c}, {"s"});
    if (k.sigmoid_first) b.node("Mul", {"s", c}, {"y"});
    else b.node("Mul", {c, "s"}, {"y"});
    b.node("Relu", {"y"}, {"out"});  // a reader after the fused node
    b.output("out");
    // Winograd's own rounding over 64 channels (its bound is tested in test_conv_winograd.cpp).
    const float tol = k.cin == 64 ? 5e-4f : 1e-5f;
    Compared r = compare_optimized(b.bytes(), tol, tol, {1, k.cin, k.hw, k.hw});
    CHECK(r.nodes_plain == (k.residual ? 5u : 4u));
    CHECK(r.nodes_optimized == 2);  // Conv (+ residual) with SiLU, Relu
  }
}

TEST_CASE("fuse_activation: SiLU declines when the conv or sigmoid output has other readers", "[graph][passes]") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    b.node("Sigmoid", {"c"}, {"s"});
    b.node("Mul", {"c", "s"}, {"y"});
    b.node("Add", {"y", variant == 0 ? "c" : "s"}, {"out"});  // c or s read a third / second time
    b.output("out");
    Compared r = compare_optimized(b.bytes());
    CHECK(r.nodes_optimized == 4);
  }
}

TEST_CASE("fuse_activation: declines when the conv output has other readers", "[graph][passes]") {
  SECTION("conv output is also a graph output") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    b.node("Relu", {"c"}, {"y"});
    b.output("y");
    b.output("c");
    Compared c = compare_optimized(b.bytes());
    CHECK(c.nodes_optimized == 2);
  }
  SECTION("conv output read twice") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    b.node("Relu", {"c"}, {"r"});
    b.node("Add", {"r", "c"}, {"y"});
    b.output("y");
    Compared c = compare_optimized(b.bytes());
    CHECK(c.nodes_optimized == 3);
  }
  SECTION("Clip bound computed at run time") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    b.node("ReduceMin", {"x"}, {"lo3"});
    b.initializer_i64("shp", {0}, {});
    b.node("Reshape", {"lo3", "shp"}, {"lo"});
    b.node("Clip", {"c", "lo"}, {"y"});
    b.output("y");
    auto opt = import_onnx_bytes(b.bytes(), ".", "opt");
    REQUIRE_OK(opt);
    bool clip_kept = false;
    for (const auto& n : opt.value()->graph->nodes) clip_kept |= n.desc.op_type == "Clip";
    CHECK(clip_kept);
  }
  SECTION("Clip with min > max keeps its own semantics") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    b.initializer("lo", {}, {1.f});
    b.initializer("hi", {}, {-1.f});
    b.node("Clip", {"c", "lo", "hi"}, {"y"});
    b.output("y");
    Compared c = compare_optimized(b.bytes());
    CHECK(c.nodes_optimized == 2);
  }
}

TEST_CASE("fold_batchnorm: Conv -> BatchNormalization [-> Relu] becomes one Conv", "[graph][passes]") {
  for (bool bias : {true, false}) {
    CAPTURE(bias);
    {
      OnnxBuilder b(13);
      b.input("x", {1, 3, 9, 11});
      add_conv(b, bias);
      add_bn(b, "c", "bn");
      b.node("Relu", {"bn"}, {"y"});
      b.output("y");
      Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
      CHECK(c.nodes_plain == 3);
      CHECK(c.nodes_optimized == 1);
    }
  }
  SECTION("BN output is the graph output, old opset") {
    OnnxBuilder b(7);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    add_bn(b, "c", "y", 1e-5f);
    b.output("y");
    Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
    CHECK(c.nodes_optimized == 1);
  }
}

TEST_CASE("fold_batchnorm: declines when it cannot fold exactly", "[graph][passes]") {
  SECTION("conv output also read elsewhere") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    add_bn(b, "c", "bn");
    b.node("Add", {"bn", "c"}, {"y"});
    b.output("y");
    Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
    CHECK(c.nodes_optimized == 3);
  }
  SECTION("BN parameters computed at run time") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    b.initializer("scale", {5}, random_values(5, 21, 0.5f, 2.f));
    b.initializer("beta", {5}, random_values(5, 22));
    b.initializer("mean", {5}, random_values(5, 23));
    b.initializer("var", {5}, random_values(5, 24, 0.1f, 3.f));
    auto& r = b.node("ReduceMean", {"c"}, {"m"});
    OnnxBuilder::attr_ints(r, "axes", {0, 2, 3});
    OnnxBuilder::attr_int(r, "keepdims", 0);
    b.node("BatchNormalization", {"c", "scale", "beta", "m", "var"}, {"y"});
    b.output("y");
    auto opt = import_onnx_bytes(b.bytes(), ".", "opt");
    REQUIRE_OK(opt);
    bool bn_kept = false;
    for (const auto& n : opt.value()->graph->nodes) bn_kept |= n.desc.op_type == "BatchNormalization";
    CHECK(bn_kept);
  }
}

namespace {

// 1x1 Conv (3 -> 5) on x named `out`: the "downsample" branch of a ResNet block.
void add_conv_1x1(OnnxBuilder& b, const std::string& out) {
  b.initializer("w1", {5, 3, 1, 1}, random_values(15, 13));
  b.initializer("b1", {5}, random_values(5, 14));
  b.node("Conv", {"x", "w1", "b1"}, {out});
}

bool has_op(const std::string& bytes, const char* op) {
  OnnxImportOptions opt_opts;
  opt_opts.release_packed_weights = false;  // the same model also runs with the reference kernels
  auto opt = import_onnx_bytes(bytes, ".", "opt", opt_opts);
  REQUIRE_OK(opt);
  for (const auto& n : opt.value()->graph->nodes)
    if (n.desc.op_type == op) return true;
  return false;
}

}  // namespace

TEST_CASE("fuse_residual: Conv -> Add [-> Relu] becomes one Conv", "[graph][passes][residual]") {
  SECTION("ResNet downsample block: Add(conv_1x1, conv_3x3) -> Relu") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    add_conv_1x1(b, "d");
    b.node("Add", {"d", "c"}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    b.output("y");
    Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
    CHECK(c.nodes_plain == 4);
    CHECK(c.nodes_optimized == 2);
    CHECK_FALSE(has_op(b.bytes(), "Relu"));
  }
  SECTION("residual produced after the conv: the conv moves to the Add") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, false);
    add_conv_1x1(b, "d");
    b.node("Sigmoid", {"d"}, {"f"});
    b.node("Add", {"c", "f"}, {"y"});
    b.output("y");
    Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
    CHECK(c.nodes_plain == 4);
    CHECK(c.nodes_optimized == 3);
  }
  SECTION("a residual that broadcasts (constant (5,1,1) and (2,5,9,11)) still computes the Add") {
    for (bool grow : {false, true}) {
      CAPTURE(grow);
      OnnxBuilder b(13);
      b.input("x", {1, 3, 9, 11});
      add_conv(b, true);
      const std::vector<int64_t> rs = grow ? std::vector<int64_t>{2, 5, 9, 11} : std::vector<int64_t>{5, 1, 1};
      int64_t n = 1;
      for (int64_t d : rs) n *= d;
      b.initializer("r", rs, random_values(n, 31));
      b.node("Add", {"r", "c"}, {"s"});
      b.node("Relu", {"s"}, {"y"});
      b.output("y");
      Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
      CHECK(c.nodes_optimized == 1);
    }
  }
}

TEST_CASE("fuse_residual: declines when the conv output has other readers", "[graph][passes][residual]") {
  SECTION("conv output also read by the other operand") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    b.node("Sigmoid", {"c"}, {"f"});
    b.node("Add", {"c", "f"}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    b.output("y");
    Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
    CHECK(c.nodes_optimized == 4);
    CHECK(has_op(b.bytes(), "Add"));
  }
  SECTION("conv output is also a graph output") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    add_conv_1x1(b, "d");
    b.node("Add", {"c", "d"}, {"y"});  // d is fusable, c is not
    b.output("y");
    b.output("c");
    Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
    CHECK(c.nodes_optimized == 2);  // conv c, and conv d carrying the Add
    CHECK_FALSE(has_op(b.bytes(), "Add"));
  }
  SECTION("Add(c, c)") {
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    add_conv(b, true);
    b.node("Add", {"c", "c"}, {"y"});
    b.output("y");
    Compared c = compare_optimized(b.bytes(), 1e-4f, 1e-4f);
    CHECK(c.nodes_optimized == 2);
  }
}

TEST_CASE("fuse_slices: a Slice of a Slice on other axes becomes one Slice", "[graph][passes]") {
  struct Case {
    const char* name;
    std::vector<int64_t> inner_axes, outer_axes;
    bool shared_inner;  // the inner result is a graph output too
    size_t optimized_nodes;
  };
  for (Case k : {Case{"Focus rows then columns", {2}, {3}, false, 2},
                 Case{"two axes then one", {1, 2}, {3}, false, 2},
                 Case{"same axis twice", {2}, {2}, false, 3},
                 Case{"negative axis", {2}, {-1}, false, 3},
                 Case{"inner read twice", {2}, {3}, true, 3}}) {
    CAPTURE(k.name);
    OnnxBuilder b(13);
    b.input("x", {1, 3, 9, 11});
    auto params = [&](const std::string& p, const std::vector<int64_t>& axes, int64_t start, int64_t step) {
      std::vector<int64_t> starts(axes.size(), start), ends(axes.size(), INT64_MAX), steps(axes.size(), step);
      ends[0] = -1;  // clamps against the dim, as an export of x[..., s:-1:step] does
      b.initializer_i64(p + "_starts", {int64_t(axes.size())}, starts);
      b.initializer_i64(p + "_ends", {int64_t(axes.size())}, ends);
      b.initializer_i64(p + "_axes", {int64_t(axes.size())}, axes);
      b.initializer_i64(p + "_steps", {int64_t(axes.size())}, steps);
      return std::vector<std::string>{p + "_starts", p + "_ends", p + "_axes", p + "_steps"};
    };
    auto in_p = params("i", k.inner_axes, 1, 2), out_p = params("o", k.outer_axes, 0, 2);
    b.node("Slice", {"x", in_p[0], in_p[1], in_p[2], in_p[3]}, {"rows"});
    b.node("Slice", {"rows", out_p[0], out_p[1], out_p[2], out_p[3]}, {"s"});
    b.node("Relu", {"s"}, {"y"});
    b.output("y");
    if (k.shared_inner) b.output("rows");
    Compared c = compare_optimized(b.bytes(), 0, 0);
    CHECK(c.nodes_plain == 3);
    CHECK(c.nodes_optimized == k.optimized_nodes);
  }
}
