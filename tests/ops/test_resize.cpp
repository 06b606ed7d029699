// Resize / Upsample: every mode x coordinate mode against an oracle written here
// the way the ONNX reference (backend test resize.py) computes, nested 1-D passes over
// sorted edge-padded neighbours; values from that Python code anchor the oracle.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/registry.h"
#include "ops/tensor_ops_test_util.h"

using namespace cvt;
using namespace cvt::op_test;

namespace {

struct Variant {
  const char* mode;
  const char* nearest;  // nearest_mode
  double cubic_a;
  bool exclude_outside;
  bool antialias;
};

// ---- the oracle ---------------------------------------------------------------------------

struct Oracle {
  Variant v;
  std::string coord;
  double extrapolation = 0;

  std::vector<double> coeffs(double ratio, double scale) const {
    const std::string mode = v.mode;
    if (mode == "nearest") {
      const std::string nm = v.nearest;
      if (ratio == std::floor(ratio)) return {0, 1};
      if (nm == "round_prefer_floor") return {double(ratio <= 0.5), double(ratio > 0.5)};
      if (nm == "round_prefer_ceil") return {double(ratio < 0.5), double(ratio >= 0.5)};
      if (nm == "floor") return {1, 0};
      return {0, 1};
    }
    const double s = v.antialias ? std::min(scale, 1.0) : 1.0;
    std::vector<double> c;
    if (mode == "linear") {
      const int start = static_cast<int>(std::floor(-1 / s)) + 1;
      for (int i = start; i < start + 2 - 2 * start; ++i) c.push_back(std::clamp(1 - std::fabs((i - ratio) * s), 0.0, 1.0));
    } else {
      const double A = v.cubic_a;
      auto k = [A](double x) {
        x = std::fabs(x);
        if (x <= 1) return (A + 2) * x * x * x - (A + 3) * x * x + 1;
        if (x < 2) return A * x * x * x - 5 * A * x * x + 8 * A * x - 4 * A;
        return 0.0;
      };
      const int start = static_cast<int>(std::floor(-2 / s)) + 1;
      for (int i = start; i < 2 - start; ++i) c.push_back(k(s * (i - ratio)));
    }
    if (v.antialias) {
      double sum = 0;
      for (double x : c) sum += x;
      for (double& x : c) x /= sum;
    }
    return c;
  }

  double interp_1d(const std::vector<double>& data, double scale, int64_t out_int, double x, double roi0,
                   double roi1) const {
    const double in = static_cast<double>(data.size());
    const double out_w = scale * in;
    double xo = 0;
    if (coord == "half_pixel") xo = (x + 0.5) / scale - 0.5;
    else if (coord == "half_pixel_symmetric") xo = in / 2 * (1 - out_int / out_w) + (x + 0.5) / scale - 0.5;
    else if (coord == "pytorch_half_pixel") xo = out_int > 1 ? (x + 0.5) / scale - 0.5 : 0;  // spec: 0, not -0.5
    else if (coord == "align_corners") xo = out_w == 1 ? 0 : x * (in - 1) / (out_w - 1);
    else if (coord == "asymmetric") xo = x / scale;
    else if (coord == "tf_half_pixel_for_nn") xo = (x + 0.5) / scale;
    else {
      xo = (out_w == 1 ? (roi1 - roi0) * (in - 1) / 2 : x * (roi1 - roi0) * (in - 1) / (out_w - 1)) + roi0 * (in - 1);
      if (xo < 0 || xo > in - 1) return extrapolation;
    }
    const double ratio = xo == std::floor(xo) ? 1.0 : xo - std::floor(xo);
    std::vector<double> c = coeffs(ratio, scale);
    const int n = static_cast<int>(c.size());
    // n nearest indices of the edge-padded data, ties to the smaller index
    const int pad = (n + 1) / 2;
    const int len = static_cast<int>(data.size()) + 2 * pad;
    std::vector<int> idx(len);
    for (int i = 0; i < len; ++i) idx[i] = i;
    const double xp = xo + pad;
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return std::fabs(xp - a) < std::fabs(xp - b); });
    idx.resize(n);
    std::sort(idx.begin(), idx.end());
    double sum_kept = 0;
    if (v.exclude_outside) {
      for (int t = 0; t < n; ++t)
        if (idx[t] - pad < 0 || idx[t] - pad >= static_cast<int>(data.size())) c[t] = 0;
      for (double w : c) sum_kept += w;
      for (double& w : c) w /= sum_kept;
    }
    double acc = 0;
    for (int t = 0; t < n; ++t) acc += c[t] * data[std::clamp(idx[t] - pad, 0, static_cast<int>(data.size()) - 1)];
    return acc;
  }

  // Value at output coordinate `pos` of an N-D input (recursing outer axis first).
  double interp_nd(const std::vector<double>& data, const Shape& shape, int axis, const std::vector<double>& scales,
                   const Shape& out, const std::vector<int64_t>& pos, const std::vector<double>& roi) const {
    const int r = static_cast<int>(shape.size());
    int64_t inner = 1;
    for (int k = axis + 1; k < r; ++k) inner *= shape[k];
    std::vector<double> line(shape[axis]);
    for (int64_t i = 0; i < shape[axis]; ++i) {
      if (axis == r - 1) {
        line[i] = data[i];
      } else {
        std::vector<double> sub(data.begin() + i * inner, data.begin() + (i + 1) * inner);
        line[i] = interp_nd(sub, shape, axis + 1, scales, out, pos, roi);
      }
    }
    const double r0 = roi.empty() ? 0 : roi[axis], r1 = roi.empty() ? 1 : roi[r + axis];
    return interp_1d(line, scales[axis], out[axis], static_cast<double>(pos[axis]), r0, r1);
  }

  Tensor run(const Tensor& x, const std::vector<double>& scales, const Shape& out, const std::vector<double>& roi) const {
    std::vector<double> data(x.numel());
    for (int64_t i = 0; i < x.numel(); ++i) data[i] = x.data<float>()[i];
    Tensor y(DType::kFloat32, out);
    std::vector<int64_t> pos(out.size(), 0);
    for (int64_t i = 0; i < y.numel(); ++i) {
      y.data<float>()[i] = static_cast<float>(interp_nd(data, x.shape(), 0, scales, out, pos, roi));
      for (int k = static_cast<int>(out.size()) - 1; k >= 0 && ++pos[k] == out[k]; --k) pos[k] = 0;
    }
    return y;
  }
};

Tensor f32v(const std::vector<float>& v, Shape s) { return f32(std::move(s), v); }
Tensor empty_f32() { return Tensor(DType::kFloat32, {0}); }

Op resize_op(int opset, const Variant& v, const std::string& coord) {
  Op op("Resize", opset);
  op.s("mode", v.mode).s("coordinate_transformation_mode", coord).s("nearest_mode", v.nearest);
  op.f("cubic_coeff_a", static_cast<float>(v.cubic_a)).i("exclude_outside", v.exclude_outside);
  if (v.antialias) op.i("antialias", 1);
  return op;
}

// The kernel's impl_name() after one run, to check which path ran.
std::string impl_after_run(const Op& op, const std::vector<Tensor>& inputs) {
  NodeDesc node = op.node;
  for (size_t k = 0; k < inputs.size(); ++k) node.inputs.push_back(inputs[k].empty_handle() ? "" : "in" + std::to_string(k));
  node.outputs = {"y"};
  node.constant_inputs.resize(node.inputs.size());
  node.name = "resize";
  auto kernel = create_kernel(node);
  REQUIRE(kernel.is_ok());
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(t.empty_handle() ? nullptr : &t);
  HeapKernelContext ctx(ptrs, 1, false);
  REQUIRE(kernel.value()->run(ctx).is_ok());
  return kernel.value()->impl_name();
}

}  // namespace

TEST_CASE("Resize oracle reproduces the ONNX Python reference", "[ops][resize]") {
  // Values printed by onnx 1.12 backend/test/case/node/resize.py interpolate_nd.
  Tensor x = f32({1, 1, 3, 4}, {1, 2, 4, 8, 3, 5, 7, 11, 13, 17, 19, 23});
  const std::vector<double> sc{1, 1, 1.5, 0.75};
  const Shape out{1, 1, 4, 3};
  Oracle cubic{{"cubic", "round_prefer_floor", -0.75, false, false}, "half_pixel"};
  CHECK_TENSOR_NEAR(cubic.run(x, sc, out, {}),
                    f32({1, 1, 4, 3}, {0.922727f, 2.450195f, 7.200232f, 1.216146f, 3.123047f, 7.835648f, 4.914764f,
                                       7.830187f, 12.44329f, 12.10019f, 16.30458f, 20.79051f}),
                    1e-5, 1e-6);
  Oracle ceil_nn{{"nearest", "ceil", -0.75, false, false}, "asymmetric"};
  CHECK_TENSOR_NEAR(ceil_nn.run(x, sc, out, {}), f32({1, 1, 4, 3}, {1, 4, 8, 3, 7, 11, 13, 19, 23, 13, 19, 23}), 0, 0);
  Oracle crop{{"linear", "round_prefer_floor", -0.75, false, false}, "tf_crop_and_resize", -1.0};
  CHECK_TENSOR_NEAR(crop.run(x, {1, 1, 1, 1}, {1, 1, 3, 4}, {0, 0, -0.3f, 0.1f, 1, 1, 0.9f, 1.4f}),
                    f32({1, 1, 3, 4}, {-1, -1, -1, -1, 2.68f, 5, 9.4f, -1, 12.08f, 15.8f, 20.2f, -1}), 1e-5, 1e-6);
}

TEST_CASE("Resize: hard-coded reference values through the op", "[ops][resize]") {
  Tensor x = f32({1, 1, 3, 4}, {1, 2, 4, 8, 3, 5, 7, 11, 13, 17, 19, 23});
  Tensor scales = f32({4}, {1, 1, 1.5f, 0.75f});
  auto ref = GENERATE(false, true);
  CHECK_TENSOR_NEAR(out0(Op("Resize", 13).s("mode", "linear").s("coordinate_transformation_mode", "align_corners")
                             .run({x, Tensor(), scales}, ref)),
                    f32({1, 1, 4, 3}, {1, 3, 8, 2.142857f, 4.714286f, 9.714286f, 4.428571f, 7.714286f, 12.71429f,
                                       10.14286f, 14.57143f, 19.57143f}),
                    1e-5, 1e-6);
  CHECK_TENSOR_NEAR(out0(Op("Resize", 13).s("mode", "cubic").f("cubic_coeff_a", -0.5f).i("exclude_outside", 1)
                             .s("coordinate_transformation_mode", "pytorch_half_pixel")
                             .run({x, Tensor(), Tensor(), i64({1, 1, 2, 5})}, ref)),
                    f32({1, 1, 2, 5}, {1.110998f, 1.842427f, 3.128193f, 5.571717f, 8.479647f, 10.98838f, 13.62356f,
                                       15.76597f, 18.05347f, 20.9614f}),
                    1e-5, 1e-6);
  CHECK_TENSOR_NEAR(out0(Op("Resize", 11).s("mode", "linear").s("coordinate_transformation_mode", "tf_crop_and_resize")
                             .f("extrapolation_value", -1)
                             .run({x, f32({8}, {0, 0, 0.2f, 0.1f, 1, 1, 0.9f, 0.8f}), empty_f32(), i64({1, 1, 3, 3})}, ref)),
                    f32({1, 1, 3, 3}, {2.22f, 3.9f, 6.8f, 4.66f, 6.9f, 9.8f, 12.08f, 15.3f, 18.2f}), 1e-5, 1e-6);
  // half_pixel_symmetric keeps the sampling centred when out != scale * in (hand-computed)
  Tensor row = f32({1, 4}, {1, 2, 4, 8});
  Tensor s06 = f32({2}, {1, 0.6f});
  CHECK_TENSOR_NEAR(out0(Op("Resize", 19).s("mode", "linear").s("coordinate_transformation_mode", "half_pixel_symmetric")
                             .run({row, Tensor(), s06}, ref)),
                    f32({1, 2}, {1.6666667f, 5.3333333f}), 1e-5, 1e-6);
  CHECK_TENSOR_NEAR(out0(Op("Resize", 19).s("mode", "linear").run({row, Tensor(), s06}, ref)), f32({1, 2}, {1.3333333f, 4}),
                    1e-5, 1e-6);
  // antialias (opset 18), values from the newer ONNX reference filters
  Tensor y = f32({1, 1, 4, 6}, {1, 2, 4, 8, 16, 32, 3, 5, 7, 11, 13, 17, 13, 17, 19, 23, 29, 31, 2, 3, 5, 7, 11, 13});
  Tensor half = f32({4}, {1, 1, 0.5f, 0.5f});
  CHECK_TENSOR_NEAR(out0(Op("Resize", 18).s("mode", "linear").i("antialias", 1).run({y, Tensor(), half}, ref)),
                    f32({1, 1, 2, 3}, {4.375f, 9.4375f, 20.6875f, 7.625f, 12.3125f, 18.5625f}), 1e-5, 1e-6);
  CHECK_TENSOR_NEAR(out0(Op("Resize", 18).s("mode", "cubic").i("antialias", 1).run({y, Tensor(), half}, ref)),
                    f32({1, 1, 2, 3}, {4.030258f, 8.920273f, 21.67421f, 8.093704f, 13.20821f, 19.44255f}), 1e-5, 1e-6);
}

TEST_CASE("Resize: every mode x coordinate mode against the oracle", "[ops][resize]") {
  const Variant variant = GENERATE(Variant{"nearest", "round_prefer_floor", -0.75, false, false},
                                   Variant{"nearest", "round_prefer_ceil", -0.75, false, false},
                                   Variant{"nearest", "floor", -0.75, false, false},
                                   Variant{"nearest", "ceil", -0.75, false, false},
                                   Variant{"linear", "round_prefer_floor", -0.75, false, false},
                                   Variant{"cubic", "round_prefer_floor", -0.75, false, false},
                                   Variant{"cubic", "round_prefer_floor", -0.5, true, false},
                                   Variant{"linear", "round_prefer_floor", -0.75, false, true},
                                   Variant{"cubic", "round_prefer_floor", -0.75, false, true});
  const std::string coord = GENERATE("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                     "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize");
  const std::vector<double> scales = GENERATE(std::vector<double>{1, 1, 2, 2}, std::vector<double>{1, 1, 1.5, 0.75},
                                              std::vector<double>{1, 1, 0.6, 1.7}, std::vector<double>{1, 1, 0.34, 0.5});
  CAPTURE(variant.mode, variant.nearest, variant.cubic_a, variant.exclude_outside, variant.antialias, coord,
          scales[2], scales[3]);
  Tensor x = f32({1, 2, 3, 5}, {1, 2, 4, 8, 16, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31,
                                -2, 0, 5, 1, 9, 4, 4, 2, 8, -6, 7, 3, 0, 12, 6});
  const bool crop = coord == "tf_crop_and_resize";
  std::vector<double> roi;  // float32 values, as the op sees them
  if (crop)
    for (float v : {0.f, 0.f, 0.1f, -0.2f, 1.f, 1.f, 0.9f, 1.1f}) roi.push_back(v);
  Shape out = x.shape();
  for (int k = 0; k < 4; ++k) out[k] = static_cast<int64_t>(std::floor(x.dim(k) * static_cast<float>(scales[k])));
  Oracle oracle{variant, coord, 5.5};
  // the op sees float32 scales; so must the oracle
  std::vector<double> scales_f32;
  for (double s : scales) scales_f32.push_back(static_cast<float>(s));
  const Tensor want = oracle.run(x, scales_f32, out, roi);
  Op op = resize_op(19, variant, coord);
  op.f("extrapolation_value", 5.5f);
  std::vector<float> roi_f(roi.begin(), roi.end()), sc_f(scales.begin(), scales.end());
  const std::vector<Tensor> in{x, crop ? f32({8}, roi_f) : Tensor(), f32({4}, sc_f)};
  CHECK_TENSOR_NEAR(out0(op.run(in, true)), want, 2e-5, 1e-5);
  CHECK_TENSOR_NEAR(out0(op.run(in, false, 1)), want, 2e-5, 1e-5);
  CHECK_TENSOR_NEAR(out0(op.run(in, false, 2)), want, 2e-5, 1e-5);
}

TEST_CASE("Resize: sizes, keep_aspect_ratio_policy and axes (opset 18)", "[ops][resize]") {
  Tensor x = iota_f32({1, 1, 4, 6});
  CHECK(out0(Op("Resize", 13).run({x, Tensor(), Tensor(), i64({1, 1, 3, 3})})).shape() == Shape{1, 1, 3, 3});
  CHECK(out0(Op("Resize", 18).s("keep_aspect_ratio_policy", "not_larger").ints("axes", {2, 3})
                 .run({x, Tensor(), Tensor(), i64({3, 3})})).shape() == Shape{1, 1, 2, 3});
  CHECK(out0(Op("Resize", 18).s("keep_aspect_ratio_policy", "not_smaller").ints("axes", {2, 3})
                 .run({x, Tensor(), Tensor(), i64({3, 3})})).shape() == Shape{1, 1, 3, 5});
  // axes with scales: only the last axis grows; negative axes count from the back
  Tensor y = out0(Op("Resize", 18).ints("axes", {-1}).run({x, Tensor(), f32({1}, {2})}));
  CHECK(y.shape() == Shape{1, 1, 4, 12});
  CHECK(y.data<float>()[13] == 6.f);  // row 1, col 1 -> input col 0 (half_pixel, round_prefer_floor)
  Op linear = Op("Resize", 18).s("mode", "linear").ints("axes", {3, 2});
  CHECK_TENSOR_NEAR(out0(linear.run({x, Tensor(), f32({2}, {1, 0.5f})})),
                    out0(Op("Resize", 13).s("mode", "linear").run({x, Tensor(), f32({4}, {1, 1, 0.5f, 1})})), 0, 0);
  CHECK(code_of(Op("Resize", 18).ints("axes", {2, 2}).run({x, Tensor(), f32({2}, {1, 1})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Resize", 18).ints("axes", {2}).run({x, Tensor(), f32({4}, {1, 1, 1, 1})})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Resize: N-D linear on any axes and rank 1 / 3 inputs", "[ops][resize]") {
  Tensor x = f32({2, 3, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24});
  Variant lin{"linear", "round_prefer_floor", -0.75, false, false};
  for (const std::string coord : {"half_pixel", "align_corners"}) {
    Oracle oracle{lin, coord};
    const std::vector<double> sc{2, 0.67, 1.5, 1};
    Shape out{4, 2, 3, 2};
    std::vector<double> sc_f;
    for (double s : sc) sc_f.push_back(static_cast<float>(s));
    Tensor want = oracle.run(x, sc_f, out, {});
    Op op = resize_op(13, lin, coord);
    const std::vector<Tensor> in{x, Tensor(), f32({4}, {2, 0.67f, 1.5f, 1})};
    CHECK_TENSOR_NEAR(out0(op.run(in)), want, 1e-5, 1e-6);
    CHECK(impl_after_run(op, in) == "resize_ref_nd");
  }
  Tensor line = f32({4}, {0, 10, 20, 30});
  CHECK_TENSOR_NEAR(out0(Op("Resize", 13).s("mode", "linear").s("coordinate_transformation_mode", "align_corners")
                             .run({line, Tensor(), Tensor(), i64({7})})),
                    f32({7}, {0, 5, 10, 15, 20, 25, 30}), 1e-5, 0);
  Tensor chw = iota_f32({3, 2, 2});
  CHECK(out0(Op("Resize", 13).s("mode", "cubic").run({chw, Tensor(), f32({3}, {1, 2, 2})})).shape() == Shape{3, 4, 4});
}

TEST_CASE("Resize / Upsample legacy opsets (asymmetric, floor / ceil nearest)", "[ops][resize]") {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor up23 = f32({1, 1, 4, 6}, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
  CHECK_TENSOR_NEAR(out0(Op("Upsample", 9).run({x, f32({4}, {1, 1, 2, 3})})), up23, 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Upsample", 7).floats("scales", {1, 1, 2, 3}).run({x})), up23, 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Resize", 10).run({x, f32({4}, {1, 1, 2, 3})})), up23, 0, 0);
  const Tensor bilinear = f32({1, 1, 4, 4}, {1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4});
  CHECK_TENSOR_NEAR(out0(Op("Upsample", 7).s("mode", "linear").floats("scales", {1, 1, 2, 2}).run({x})), bilinear, 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Upsample", 1).s("mode", "bilinear").f("height_scale", 2).f("width_scale", 2).run({x})),
                    bilinear, 0, 0);
  // Resize-10 downsampling rounds up (ONNX test_resize_downsample_nearest, opset 10)
  CHECK_TENSOR_NEAR(out0(Op("Resize", 10).run({f32({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}), f32({4}, {1, 1, 0.6f, 0.6f})})),
                    f32({1, 1, 1, 2}, {1, 3}), 0, 0);
  CHECK(code_of(Op("Upsample", 9).run({x, f32({4}, {1, 1, 0.5f, 2})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Resize", 10).s("mode", "cubic").run({x, f32({4}, {1, 1, 2, 2})})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Resize: dtypes and invalid requests", "[ops][resize]") {
  Tensor u8 = lit<uint8_t>({1, 1, 2, 2}, {10, 20, 30, 40});
  CHECK(values<uint8_t>(out0(Op("Resize", 13).run({u8, Tensor(), f32({4}, {1, 1, 1, 2})}))) ==
        std::vector<uint8_t>{10, 10, 20, 20, 30, 30, 40, 40});
  Tensor i64x = lit<int64_t>({1, 3}, {int64_t(1) << 60, 2, 3});
  CHECK(values<int64_t>(out0(Op("Resize", 13).run({i64x, Tensor(), Tensor(), i64({1, 2})}))) ==
        std::vector<int64_t>{int64_t(1) << 60, 3});
  CHECK(code_of(Op("Resize", 13).s("mode", "linear").run({u8, Tensor(), f32({4}, {1, 1, 2, 2})})) == ErrorCode::kUnsupported);
  Tensor d = lit<double>({1, 2}, {1, 3});
  CHECK(values<double>(out0(Op("Resize", 13).s("mode", "linear").s("coordinate_transformation_mode", "align_corners")
                                .run({d, Tensor(), Tensor(), i64({1, 3})}))) == std::vector<double>{1, 2, 3});
  Tensor x = iota_f32({1, 1, 2, 2});
  CHECK(code_of(Op("Resize", 13).run({x, Tensor(), f32({4}, {1, 1, 2, 2}), i64({1, 1, 4, 4})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Resize", 13).run({x})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Resize", 13).run({x, Tensor(), f32({3}, {1, 2, 2})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Resize", 13).run({x, Tensor(), f32({4}, {1, 1, -2, 2})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Resize", 13).run({x, Tensor(), f32({4}, {1, 1, 1e9f, 1e9f})})) == ErrorCode::kLimitExceeded);
  CHECK(code_of(Op("Resize", 13).run({x, Tensor(), Tensor(), i64({1, 1, int64_t(1) << 40, 1})})) == ErrorCode::kLimitExceeded);
  CHECK(code_of(Op("Resize", 13).s("mode", "area").run({x, Tensor(), f32({4}, {1, 1, 2, 2})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Resize", 13).s("coordinate_transformation_mode", "corner").run({x, Tensor(), f32({4}, {1, 1, 2, 2})})) ==
        ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Resize", 13).run({Tensor(DType::kFloat32, {1, 0, 2}), Tensor(), Tensor(), i64({1, 2, 2})})) ==
        ErrorCode::kShapeMismatch);
}

TEST_CASE("Resize fast paths match the reference on odd shapes", "[ops][resize]") {
  struct Case {
    Shape in;
    std::vector<float> scales;
    const char* mode;
    const char* coord;
    const char* impl;
  };
  auto c = GENERATE(Case{{1, 3, 7, 13}, {1, 1, 2, 2}, "nearest", "asymmetric", "resize_nearest_gather"},
                    Case{{2, 5, 13, 7}, {1, 1, 2, 2}, "linear", "half_pixel", "resize_separable_hw_f32"},
                    Case{{1, 3, 7, 13}, {1, 1, 2, 2}, "linear", "align_corners", "resize_separable_hw_f32"},
                    Case{{2, 3, 127, 3}, {1, 1, 0.5f, 3}, "cubic", "pytorch_half_pixel", "resize_separable_hw_f32"},
                    Case{{1, 1, 13, 127}, {1, 1, 0.37f, 1.3f}, "nearest", "half_pixel", "resize_nearest_gather"},
                    Case{{3, 7, 13}, {1, 1.5f, 0.8f}, "linear", "tf_crop_and_resize", "resize_separable_hw_f32"},
                    Case{{2, 3, 5, 6, 7}, {1, 1, 1, 2, 0.5f}, "cubic", "asymmetric", "resize_separable_hw_f32"},
                    Case{{1, 2, 9, 11}, {1, 1, 1, 3}, "linear", "half_pixel", "resize_separable_hw_f32"},
                    // Nearest over thousands of short rows: tasks start mid-plane, and
                    // rows past the crop box take the extrapolation value.
                    Case{{2, 40, 13, 13}, {1, 1, 2, 2}, "nearest", "asymmetric", "resize_nearest_gather"},
                    Case{{2, 3, 40, 21}, {1, 2, 2, 1}, "nearest", "half_pixel", "resize_nearest_gather"},
                    Case{{2, 30, 20, 9}, {1, 1, 1.7f, 1.3f}, "nearest", "tf_crop_and_resize", "resize_nearest_gather"});
  auto threads = GENERATE(1, 2);
  CAPTURE(shape_str(c.in), c.mode, c.coord, threads);
  Tensor x = testing::random_tensor(c.in, 99);
  Op op("Resize", 13);
  op.s("mode", c.mode).s("coordinate_transformation_mode", c.coord).f("extrapolation_value", -3);
  // roi only matters for tf_crop_and_resize: full range off the last two axes
  const int r = static_cast<int>(c.in.size());
  std::vector<float> roi(2 * r, 0.f);
  for (int k = 0; k < r; ++k) {
    roi[k] = k >= r - 2 ? 0.1f : 0.f;
    roi[r + k] = k >= r - 2 ? 1.05f : 1.f;
  }
  const std::vector<Tensor> in{x, f32({2 * r}, roi), f32({r}, c.scales)};
  Tensor ref = out0(op.run(in, true));
  CHECK_TENSOR_NEAR(out0(op.run(in, false, threads)), ref, 1e-5, 1e-5);
  CHECK(impl_after_run(op, in) == c.impl);
}
