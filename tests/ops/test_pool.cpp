// Pooling ops: hand-computed and torch-checked cases (ceil_mode, count_include_pad,
// dilation, Indices with both storage orders), attribute errors, and a sweep of
// pad/stride/dilation/ceil_mode/auto_pad over odd shapes comparing fast vs reference.
#include "test_util.h"

#include <random>

#include "ops/op_runner.h"
#include "ops/op_test_util.h"
#include "ops/registry.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

namespace {

// Fast path at 1 and 2 threads within 1e-5 of the reference on every output; returns the
// reference outputs.
std::vector<Tensor> run_all(const NodeDesc& n, const std::vector<Tensor>& in) {
  return op_test::run_all_outputs(n, in, 1e-5, 1e-5);
}

// The fast MaxPool (2 threads) against the reference on an input holding NaNs:
// the same values everywhere, and NaN wherever the reference has one (which it must somewhere).
void check_nans_as_reference(const NodeDesc& node, const Tensor& x) {
  auto ref = run(node, {x}, true);
  auto fast = run(node, {x}, false, 2);
  REQUIRE_OK(ref);
  REQUIRE_OK(fast);
  const Tensor& r = ref.value()[0];
  const Tensor& f = fast.value()[0];
  REQUIRE(r.shape() == f.shape());
  int64_t nans = 0, mismatches = 0;
  for (int64_t i = 0; i < r.numel(); ++i) {
    const float a = r.data<float>()[i], b = f.data<float>()[i];
    nans += std::isnan(a);
    mismatches += std::isnan(a) ? !std::isnan(b) : a != b;
  }
  CHECK(nans > 0);
  CHECK(mismatches == 0);
}

Tensor arange(Shape s) {
  Tensor t(DType::kFloat32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

void check_values(const Tensor& t, const std::vector<double>& expected) {
  REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("index " << i);
    CHECK(t.to_float_vector()[i] == Approx(expected[i]).epsilon(1e-6));
  }
}

}  // namespace

TEST_CASE("MaxPool 4x4 with a 2x2 stride-2 window", "[ops][pool]") {
  auto x = Tensor::from_vector<float>({1, 1, 4, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  auto y = run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}), {x});
  CHECK(y[0].shape() == Shape{1, 1, 2, 2});
  check_values(y[0], {6, 8, 14, 16});
  auto a = run_all(make_node("AveragePool", 11, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}), {x});
  check_values(a[0], {3.5, 5.5, 11.5, 13.5});
}

TEST_CASE("the pool kernel names the path it took (for --profile)", "[ops][pool]") {
  // A 3x3 pool with the given strides and pads, run once on x: the path it names.
  auto impl_after_run = [](const std::string& op, const Tensor& x, int64_t stride, int64_t pad = 0) {
    NodeDesc node = make_node(op, 12, {{"kernel_shape", attr_ints({3, 3})}, {"strides", attr_ints({stride, stride})},
                                       {"pads", attr_ints({pad, pad, pad, pad})}});
    node.inputs = {"x"};
    node.outputs = {"y"};
    node.constant_inputs.resize(1);
    auto kernel = create_kernel(node);
    REQUIRE(kernel.is_ok());
    HeapKernelContext ctx({&x}, 1, false);
    REQUIRE(kernel.value()->run(ctx).is_ok());
    return kernel.value()->impl_name();
  };
  const Tensor x = arange({1, 2, 9, 9});
  IsaCapGuard guard;
  for (Isa isa : runnable_isas()) {
    set_isa_cap(isa);
    INFO("isa " << isa_name(isa));
    const std::string simd = isa >= Isa::kAvx512 ? "MaxPool_rows__avx512" : "";
    // Stride 2 into rows of up to 16 outputs: the H pass, then the W taps flat.
    CHECK(impl_after_run("MaxPool", x, 2) == (isa >= Isa::kAvx512 ? "MaxPool_stride2__avx512"
                                              : isa >= Isa::kAvx2 ? "MaxPool_phase__avx2"
                                                                  : "MaxPool_separable"));
    CHECK(impl_after_run("MaxPool", arange({1, 2, 5, 40}), 2) ==
          (!simd.empty() ? simd : isa >= Isa::kAvx2 ? "MaxPool_phase__avx2" : "MaxPool_separable"));
    CHECK(impl_after_run("MaxPool", x, 1) ==
          (!simd.empty() ? simd : isa >= Isa::kAvx2 ? "MaxPool_phase_separable__avx2" : "MaxPool_separable"));
    // Padded to keep the plane's size: small planes go flat.
    CHECK(impl_after_run("MaxPool", x, 1, 1) == (isa >= Isa::kAvx512 ? "MaxPool_flat__avx512"
                                                 : isa >= Isa::kAvx2 ? "MaxPool_phase_separable__avx2"
                                                                     : "MaxPool_separable"));
    // W stride 3: the row kernel splits columns in two phases only.
    CHECK(impl_after_run("MaxPool", x, 3) == (isa >= Isa::kAvx2 ? "MaxPool_phase__avx2" : "MaxPool_separable"));
    CHECK(impl_after_run("AveragePool", x, 2) == "AveragePool_separable");
  }
}

TEST_CASE("MaxPool stride 1 as a row pass then a column pass equals the reference, NaNs included", "[ops][pool]") {
  // YOLOX's SPP (5, 9, 13 windows with SAME padding on 13x13), beyond the 64
  // taps of the one-pass kernel; a dilated window; an asymmetric one.
  Tensor x = random_tensor({1, 6, 13, 29}, 23, -2.f, 2.f);
  for (int64_t i = 0; i < x.numel(); i += 41) x.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
  struct Window { int64_t kh, kw, dil; };
  for (Window win : {Window{5, 5, 1}, Window{9, 9, 1}, Window{13, 13, 1}, Window{3, 3, 2}, Window{2, 7, 1}}) {
    INFO("window " << win.kh << "x" << win.kw << " dilation " << win.dil);
    const int64_t ph = (win.kh - 1) * win.dil / 2, pw = (win.kw - 1) * win.dil / 2;
    NodeDesc node = make_node("MaxPool", 12, {{"kernel_shape", attr_ints({win.kh, win.kw})},
                                              {"dilations", attr_ints({win.dil, win.dil})},
                                              {"pads", attr_ints({ph, pw, ph, pw})}});
    check_nans_as_reference(node, x);
  }
}

TEST_CASE("MaxPool a row at a time (AVX-512): odd widths, strides, pads, ceil_mode, NaNs", "[ops][pool]") {
  // Widths around the 16-lane vectors, H strides 1-3 over W strides 1 and 2, windows
  // 2-31 (the widest W taps the lane shifts reach: 16 at stride 1, 31 at stride 2),
  // pads on either side, ceil_mode windows running past the end.
  struct Pool { int64_t kh, kw, sh, sw, pt, pl, pb, pr, ceil; };
  for (int64_t w : {1, 5, 16, 17, 31, 33, 56, 111}) {
    Tensor x = random_tensor({2, 3, 9, w}, 29, -2.f, 2.f);
    for (int64_t i = 0; i < x.numel(); i += 37) x.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
    for (Pool q : {Pool{3, 3, 2, 2, 0, 0, 0, 0, 1}, Pool{3, 3, 2, 2, 1, 1, 1, 1, 0}, Pool{3, 3, 1, 1, 1, 1, 1, 1, 0},
                   Pool{2, 2, 2, 2, 0, 0, 0, 0, 0}, Pool{5, 4, 3, 2, 2, 0, 1, 3, 1}, Pool{2, 7, 1, 2, 0, 3, 1, 3, 0},
                   Pool{13, 13, 1, 1, 6, 6, 6, 6, 0}, Pool{1, 3, 2, 1, 0, 2, 0, 0, 1}, Pool{3, 16, 1, 1, 1, 8, 1, 7, 0},
                   Pool{2, 31, 2, 2, 0, 15, 1, 15, 1}}) {
      if (q.kw > w + q.pl + q.pr) continue;
      INFO("width " << w << " window " << q.kh << "x" << q.kw << " strides " << q.sh << "," << q.sw << " ceil " << q.ceil);
      NodeDesc node = make_node("MaxPool", 12, {{"kernel_shape", attr_ints({q.kh, q.kw})},
                                                {"strides", attr_ints({q.sh, q.sw})},
                                                {"pads", attr_ints({q.pt, q.pl, q.pb, q.pr})},
                                                {"ceil_mode", attr_int(q.ceil)}});
      check_nans_as_reference(node, x);
      Tensor clean = random_tensor({1, 2, 9, w}, 30, -2.f, 2.f);
      run_all(node, {clean});
    }
  }
}

TEST_CASE("MaxPool at W stride 2 into narrow rows (AVX-512): odd widths, windows, pads, ceil_mode, NaNs",
          "[ops][pool]") {
  // Rows of 1-16 outputs from even and odd widths (odd ones get a dropped column and
  // are compressed back), W windows 1-31, pads on either side, H strides 1-3. 300
  // planes: a task's rows span several W passes, and the mask period wraps inside them.
  struct Pool { int64_t kh, kw, sh, pt, pl, pb, pr, ceil; };
  for (int64_t w : {1, 2, 7, 13, 14, 15, 27, 28, 31, 32}) {
    Tensor x = random_tensor({1, 300, 5, w}, 33, -2.f, 2.f);
    for (int64_t i = 0; i < x.numel(); i += 47) x.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
    for (Pool q : {Pool{3, 3, 2, 0, 0, 0, 0, 1}, Pool{3, 3, 2, 1, 1, 1, 1, 0}, Pool{2, 2, 2, 0, 0, 0, 0, 1},
                   Pool{2, 2, 2, 0, 0, 0, 0, 0}, Pool{1, 1, 1, 0, 0, 0, 0, 0}, Pool{5, 4, 3, 2, 0, 1, 3, 1},
                   Pool{2, 7, 1, 0, 3, 1, 3, 0}, Pool{2, 31, 2, 0, 15, 1, 15, 1}, Pool{3, 6, 1, 1, 5, 1, 0, 0}}) {
      if (q.kw > w + q.pl + q.pr) continue;
      INFO("width " << w << " window " << q.kh << "x" << q.kw << " H stride " << q.sh << " ceil " << q.ceil);
      NodeDesc node = make_node("MaxPool", 12, {{"kernel_shape", attr_ints({q.kh, q.kw})},
                                                {"strides", attr_ints({q.sh, 2})},
                                                {"pads", attr_ints({q.pt, q.pl, q.pb, q.pr})},
                                                {"ceil_mode", attr_int(q.ceil)}});
      check_nans_as_reference(node, x);
      run_all(node, {random_tensor({2, 150, 5, w}, 34, -2.f, 2.f)});
    }
  }
}

TEST_CASE("MaxPool of small planes to their own size, flat (AVX-512): odd planes, windows, pads, NaNs", "[ops][pool]") {
  // Planes from 1x1 to the 1024-value limit (and past it, where the row kernel takes
  // over), rows narrower and wider than a vector; windows 1-16 a side with the pad on
  // either side. 100 planes: tasks of 12 to 25
  // planes (1 and 2 threads), so the mask tables wrap within a task, and tasks start
  // at offsets that are no multiple of 16.
  struct Plane { int64_t h, w; };
  struct Pool { int64_t kh, kw, pt, pl; };  // pads at the end: kernel - 1 - pad at the begin
  for (Plane pl : {Plane{1, 1}, Plane{7, 7}, Plane{3, 17}, Plane{14, 14}, Plane{13, 29}, Plane{32, 32},
                   Plane{33, 32}}) {
    Tensor x = random_tensor({1, 100, pl.h, pl.w}, 31, -2.f, 2.f);
    for (int64_t i = 0; i < x.numel(); i += 43) x.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
    for (Pool q : {Pool{3, 3, 1, 1}, Pool{2, 2, 0, 1}, Pool{2, 3, 1, 2}, Pool{3, 1, 2, 0}, Pool{1, 1, 0, 0},
                   Pool{5, 5, 2, 2}, Pool{1, 16, 0, 15}, Pool{13, 13, 6, 6}, Pool{4, 3, 3, 0}}) {
      INFO("plane " << pl.h << "x" << pl.w << " window " << q.kh << "x" << q.kw << " pads " << q.pt << "," << q.pl);
      NodeDesc node = make_node("MaxPool", 12, {{"kernel_shape", attr_ints({q.kh, q.kw})},
                                                {"pads", attr_ints({q.pt, q.pl, q.kh - 1 - q.pt, q.kw - 1 - q.pl})}});
      check_nans_as_reference(node, x);
      run_all(node, {random_tensor({2, 50, pl.h, pl.w}, 32, -2.f, 2.f)});
    }
  }
}

TEST_CASE("AveragePool ceil_mode with and without count_include_pad (torch values)", "[ops][pool]") {
  auto x = arange({1, 1, 5, 5});
  auto attrs = [](int cip) {
    return std::vector<std::pair<std::string, Attribute>>{{"kernel_shape", attr_ints({3, 3})}, {"strides", attr_ints({2, 2})},
                                                          {"pads", attr_ints({1, 1, 1, 1})}, {"ceil_mode", attr_int(1)},
                                                          {"count_include_pad", attr_int(cip)}};
  };
  check_values(run_all(make_node("AveragePool", 11, attrs(1)), {x})[0], {4.0 / 3, 3, 8.0 / 3, 7, 12, 9, 8, 13, 28.0 / 3});
  check_values(run_all(make_node("AveragePool", 11, attrs(0)), {x})[0], {3, 4.5, 6, 10.5, 12, 13.5, 18, 19.5, 21});
  // 6x6: the last ceil window runs past the end pad; taps beyond it are not counted.
  auto y6 = run_all(make_node("AveragePool", 11, attrs(1)), {arange({1, 1, 6, 6})})[0];
  CHECK(y6.shape() == Shape{1, 1, 4, 4});
  check_values(y6, {14.0 / 9, 10.0 / 3, 14.0 / 3, 8.0 / 3, 25.0 / 3, 14, 16, 8.5, 49.0 / 3, 26, 28, 14.5, 61.0 / 6, 16, 17, 8.75});
}

TEST_CASE("ceil_mode drops a window that would start in the end padding", "[ops][pool]") {
  auto y = run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({1, 1})}, {"strides", attr_ints({2, 2})},
                                             {"ceil_mode", attr_int(1)}}),
                   {arange({1, 1, 2, 2})})[0];
  CHECK(y.shape() == Shape{1, 1, 1, 1});
  auto floor = run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2})}, {"strides", attr_ints({2})}}),
                       {arange({1, 1, 5})})[0];
  CHECK(floor.shape() == Shape{1, 1, 2});
  auto ceil = run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2})}, {"strides", attr_ints({2})},
                                                {"ceil_mode", attr_int(1)}}),
                      {arange({1, 1, 5})})[0];
  check_values(ceil, {1, 3, 4});
  // A kernel wider than the input still yields one ceil_mode window (torch agrees);
  // padding counted by count_include_pad stops at the end of the padded input.
  auto wide = [](int64_t ceil_mode) {
    return make_node("AveragePool", 19, {{"kernel_shape", attr_ints({5})}, {"strides", attr_ints({3})},
                                         {"ceil_mode", attr_int(ceil_mode)}, {"count_include_pad", attr_int(1)}});
  };
  check_values(run_all(wide(1), {arange({1, 1, 3})})[0], {1});
  auto too_small = run(wide(0), {arange({1, 1, 3})});
  REQUIRE_FALSE(too_small.is_ok());
  CHECK(too_small.status().message().find("exceeds padded input") != std::string::npos);
}

TEST_CASE("MaxPool dilation with pads (torch values)", "[ops][pool]") {
  Tensor x = arange({1, 1, 7, 7});
  for (int64_t i = 0; i < 49; ++i) x.data<float>()[i] *= (i % 2 == 0) ? 1.f : -1.f;
  auto y = run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}, {"dilations", attr_ints({2, 2})},
                                             {"pads", attr_ints({1, 1, 1, 1})}, {"ceil_mode", attr_int(1)}}),
                   {x})[0];
  CHECK(y.shape() == Shape{1, 1, 7, 7});
  check_values(y, {8, -7, 10, -9, 12, -11, 12, -1, 16, -1, 18, -3, 20, -5, 22, -7, 24, -9, 26, -11, 26, -15, 30, -15, 32,
                   -17, 34, -19, 36, -21, 38, -23, 40, -25, 40, -29, 44, -29, 46, -31, 48, -33, 36, -35, 38, -37, 40, -39, 40});
}

TEST_CASE("MaxPool Indices: first max, batch/channel offsets, both storage orders", "[ops][pool]") {
  auto x = Tensor::from_vector<float>({1, 2, 3, 4}, {1, 5, 2, 0, 3, 9, 9, 1, 4, 0, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto y = run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}}, 2), {x});
  check_values(y[0], {9, 9, 9, 9, 9, 9, 5, 6, 7, 9, 10, 11});
  CHECK(y[1].dtype() == DType::kInt64);
  CHECK(y[1].to_int64_vector() == std::vector<int64_t>{5, 5, 6, 5, 5, 6, 17, 18, 19, 21, 22, 23});
  auto col = run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}, {"storage_order", attr_int(1)}}, 2), {x});
  // Column-major within the plane: w * H + h.
  CHECK(col[1].to_int64_vector() == std::vector<int64_t>{4, 4, 7, 4, 4, 7, 16, 19, 22, 17, 20, 23});
}

TEST_CASE("LpPool, global pools, 1D and 3D", "[ops][pool]") {
  auto x = Tensor::from_vector<float>({1, 1, 4}, {3, -4, 0, 5});
  check_values(run_all(make_node("LpPool", 18, {{"kernel_shape", attr_ints({2})}}), {x})[0], {5, 4, 5});
  check_values(run_all(make_node("LpPool", 18, {{"kernel_shape", attr_ints({2})}, {"p", attr_int(1)}}), {x})[0], {7, 4, 5});
  check_values(run_all(make_node("GlobalLpPool", 2), {x})[0], {std::sqrt(50.0)});
  auto g = arange({2, 3, 2, 2});
  auto gm = run_all(make_node("GlobalMaxPool", 1), {g})[0];
  CHECK(gm.shape() == Shape{2, 3, 1, 1});
  check_values(gm, {3, 7, 11, 15, 19, 23});
  check_values(run_all(make_node("GlobalAveragePool", 1), {g})[0], {1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  auto v = run_all(make_node("AveragePool", 19, {{"kernel_shape", attr_ints({2, 2, 2})}}), {arange({1, 1, 2, 2, 3})})[0];
  CHECK(v.shape() == Shape{1, 1, 1, 1, 2});
  check_values(v, {(0 + 1 + 3 + 4 + 6 + 7 + 9 + 10) / 8.0, (1 + 2 + 4 + 5 + 7 + 8 + 10 + 11) / 8.0});
  auto u8 = Tensor::from_vector<uint8_t>({1, 1, 1, 4}, {7, 200, 3, 255});
  auto m8 = run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({1, 2})}}), {u8})[0];
  CHECK(m8.to_int64_vector() == std::vector<int64_t>{200, 200, 255});
}

TEST_CASE("SAME_UPPER / SAME_LOWER put the odd pad at opposite ends", "[ops][pool]") {
  auto x = Tensor::from_vector<float>({1, 1, 4}, {1, 2, 3, 4});
  auto upper = run_all(make_node("AveragePool", 11, {{"kernel_shape", attr_ints({2})}, {"auto_pad", attr_str("SAME_UPPER")}}), {x})[0];
  check_values(upper, {1.5, 2.5, 3.5, 4});
  auto lower = run_all(make_node("AveragePool", 11, {{"kernel_shape", attr_ints({2})}, {"auto_pad", attr_str("SAME_LOWER")}}), {x})[0];
  check_values(lower, {1, 1.5, 2.5, 3.5});
  auto valid = run_all(make_node("MaxPool", 11, {{"kernel_shape", attr_ints({3})}, {"strides", attr_ints({2})},
                                                 {"auto_pad", attr_str("VALID")}, {"pads", attr_ints({1, 1})}}),
                       {arange({1, 1, 6})})[0];
  check_values(valid, {2, 4});  // VALID ignores pads
}

TEST_CASE("pool attribute and shape errors are clear Status values", "[ops][pool]") {
  auto x = random_tensor({1, 2, 5, 5}, 1);
  auto expect_error = [&](const NodeDesc& n, const std::string& fragment, const std::vector<Tensor>& in) {
    auto r = run(n, in);
    REQUIRE_FALSE(r.is_ok());
    INFO(r.status().to_string());
    CHECK(r.status().message().find(fragment) != std::string::npos);
  };
  expect_error(make_node("MaxPool", 12), "kernel_shape", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({1})}}), "strides", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 0})}}), "positive", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({3, 0, 0, 0})}}), "kernel extent", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({-1, 0, 0, 0})}}), "non-negative", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}, {"auto_pad", attr_str("SAME")}}), "auto_pad", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}, {"ceil_mode", attr_int(2)}}), "ceil_mode", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({6, 6})}}), "exceeds padded input", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2})}}), "rank", {x});
  expect_error(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2, 2, 2})}}), "spatial dims", {x});
  expect_error(make_node("AveragePool", 11, {{"kernel_shape", attr_ints({2, 2})}}), "int32",
               {Tensor::from_vector<int32_t>({1, 1, 2, 2}, {1, 2, 3, 4})});
  expect_error(make_node("LpPool", 18, {{"kernel_shape", attr_ints({2, 2})}, {"p", attr_int(0)}}), "p must be positive", {x});
  expect_error(make_node("GlobalAveragePool", 1), "(N, C, ...)", {random_tensor({5}, 1)});
}

TEST_CASE("pool fast path matches reference over pad/stride/dilation/ceil_mode sweeps", "[ops][pool]") {
  const int rank = GENERATE(1, 2, 3);
  const char* op = GENERATE("MaxPool", "MaxPoolIdx", "AveragePool", "AveragePoolPad", "LpPool");
  std::mt19937 rng(1234 + rank);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  const std::vector<int64_t> sizes = rank == 3 ? std::vector<int64_t>{1, 3, 7} : std::vector<int64_t>{1, 3, 7, 13, 127};
  int checked = 0;
  for (int trial = 0; trial < 60; ++trial) {
    Shape shape = {pick({1, 2}), pick({1, 3, 13})};
    std::vector<int64_t> kernel, strides, dilations, pads(2 * rank);
    for (int i = 0; i < rank; ++i) {
      shape.push_back(pick(sizes));
      kernel.push_back(pick({1, 2, 3, 5}));
      strides.push_back(pick({1, 2, 3}));
      dilations.push_back(pick({1, 1, 2}));
    }
    for (int i = 0; i < rank; ++i) {
      const int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
      pads[i] = std::min<int64_t>(pick({0, 1, 2}), extent - 1);
      pads[i + rank] = std::min<int64_t>(pick({0, 1, 2}), extent - 1);
    }
    const std::string auto_pad = rank == 3 ? "NOTSET" : std::vector<std::string>{"NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}[rng() % 5];
    const int64_t ceil = pick({0, 1});
    std::string name = op;
    std::vector<std::pair<std::string, Attribute>> attrs = {
        {"kernel_shape", attr_ints(kernel)}, {"strides", attr_ints(strides)}, {"dilations", attr_ints(dilations)},
        {"pads", attr_ints(pads)}, {"auto_pad", attr_str(auto_pad)}, {"ceil_mode", attr_int(ceil)}};
    int outputs = 1;
    if (name == "MaxPoolIdx") {
      name = "MaxPool";
      outputs = 2;
      attrs.push_back({"storage_order", attr_int(pick({0, 1}))});
    }
    if (name == "AveragePoolPad") {
      name = "AveragePool";
      attrs.push_back({"count_include_pad", attr_int(1)});
    }
    if (name == "LpPool") attrs.push_back({"p", attr_int(pick({1, 2, 3}))});
    CAPTURE(trial, name, shape_str(shape), shape_str(kernel), shape_str(strides), shape_str(dilations), shape_str(pads),
            auto_pad, ceil);
    NodeDesc node = make_node(name, 19, attrs, outputs);
    Tensor x = random_tensor(shape, trial, -2.f, 2.f);
    auto ref = run(node, {x}, true);
    if (!ref.is_ok()) {  // window larger than the padded input: both paths must refuse alike
      CHECK(ref.status().code() == ErrorCode::kShapeMismatch);
      CHECK_FALSE(run(node, {x}, false, 2).is_ok());
      continue;
    }
    ++checked;
    run_all(node, {x});
  }
  CHECK(checked > 20);
}

TEST_CASE("pool fast path on large planes and many channels", "[ops][pool]") {
  Tensor x = random_tensor({2, 13, 127, 127}, 5);
  for (int64_t k : {2, 3, 5}) {
    run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({k, k})}, {"strides", attr_ints({1, 1})},
                                      {"auto_pad", attr_str("SAME_UPPER")}}),
            {x});
    run_all(make_node("AveragePool", 11, {{"kernel_shape", attr_ints({k, k})}, {"strides", attr_ints({2, 2})},
                                          {"pads", attr_ints({1, 1, 1, 1})}, {"ceil_mode", attr_int(1)}}),
            {x});
  }
  run_all(make_node("GlobalAveragePool", 1), {x});
  run_all(make_node("GlobalMaxPool", 1), {x});
  Tensor d = random_tensor({1, 3, 13, 7}, 9);
  Tensor xd(DType::kFloat64, d.shape());
  for (int64_t i = 0; i < d.numel(); ++i) xd.data<double>()[i] = d.data<float>()[i];
  run_all(make_node("MaxPool", 12, {{"kernel_shape", attr_ints({3, 2})}, {"pads", attr_ints({1, 0, 1, 1})}}, 2), {xd});
  run_all(make_node("AveragePool", 11, {{"kernel_shape", attr_ints({3, 2})}, {"pads", attr_ints({1, 0, 1, 1})}}), {xd});
}

TEST_CASE("pool timings", "[.perf]") {
  Tensor x = random_tensor({1, 64, 112, 112}, 1);
  report_timing("MaxPool 3x3 s2 p1 64x112x112", make_node("MaxPool", 12, {{"kernel_shape", attr_ints({3, 3})},
                {"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1, 1})}}), {x});
  report_timing("MaxPool 2x2 s2 64x112x112", make_node("MaxPool", 12, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}), {x});
  report_timing("MaxPool 13x13 s1 SAME 256x20x20", make_node("MaxPool", 12, {{"kernel_shape", attr_ints({13, 13})},
                {"auto_pad", attr_str("SAME_UPPER")}}), {random_tensor({1, 256, 20, 20}, 2)});
  report_timing("AveragePool 3x3 s1 p1 64x112x112", make_node("AveragePool", 11, {{"kernel_shape", attr_ints({3, 3})},
                {"pads", attr_ints({1, 1, 1, 1})}}), {x});
  report_timing("GlobalAveragePool 1024x7x7", make_node("GlobalAveragePool", 1), {random_tensor({1, 1024, 7, 7}, 3)});
}

TEST_CASE("MaxPool fast path: a NaN in the window wins, as in the reference", "[ops][pool]") {
  Tensor x = random_tensor({1, 5, 19, 61}, 17, -2.f, 2.f);  // >= 24 output columns: the AVX2 path
  for (int64_t i = 0; i < x.numel(); i += 37) x.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t stride : {1, 2}) {
    CAPTURE(stride);
    NodeDesc node = make_node("MaxPool", 12, {{"kernel_shape", attr_ints({3, 3})}, {"strides", attr_ints({stride, stride})},
                                              {"pads", attr_ints({1, 1, 1, 1})}, {"ceil_mode", attr_int(1)}});
    check_nans_as_reference(node, x);
  }
}
