// Shape family: hand-computed cases per op and opset variant, aliasing
// checks (view ops must not copy), Transpose fast path vs reference, and
// invalid inputs that must come back as a Status.
#include <cstring>

#include "ops/tensor_ops_test_util.h"
#include "ops/transpose.h"

using namespace cvt;
using namespace cvt::op_test;

TEST_CASE("Reshape: 0 copies, -1 infers, output aliases input", "[ops][shape]") {
  Tensor x = iota_f32({2, 3, 4});
  Tensor y = out0(Op("Reshape", 13).run({x, i64({0, -1})}));
  CHECK(y.shape() == Shape{2, 12});
  CHECK(y.raw() == x.raw());
  CHECK(out0(Op("Reshape", 13).run({x, i64({4, 0, 2})})).shape() == Shape{4, 3, 2});
  CHECK(out0(Op("Reshape", 13).run({x, i64({-1})})).shape() == Shape{24});
  CHECK(out0(Op("Reshape", 13).run({x, i64({2, 0, 2, -1})})).shape() == Shape{2, 3, 2, 2});
  // opset < 5 takes the shape from an attribute
  CHECK(out0(Op("Reshape", 4).ints("shape", {6, -1}).run({x})).shape() == Shape{6, 4});
}

TEST_CASE("Reshape allowzero (opset 14)", "[ops][shape]") {
  Tensor empty(DType::kFloat32, {0, 3, 4});
  CHECK(out0(Op("Reshape", 14).i("allowzero", 1).run({empty, i64({3, 4, 0})})).shape() == Shape{3, 4, 0});
  // without allowzero the 0 copies dim 0 of the input
  CHECK(out0(Op("Reshape", 14).run({iota_f32({2, 6}), i64({0, 3, 2})})).shape() == Shape{2, 3, 2});
  CHECK(code_of(Op("Reshape", 14).i("allowzero", 1).run({empty, i64({0, -1})})) == ErrorCode::kInvalidModel);
  // allowzero is ignored before opset 14
  CHECK(out0(Op("Reshape", 13).i("allowzero", 1).run({iota_f32({2, 6}), i64({0, 6})})).shape() == Shape{2, 6});
}

TEST_CASE("Reshape rejects bad shapes", "[ops][shape]") {
  Tensor x = iota_f32({2, 3});
  CHECK(code_of(Op("Reshape", 13).run({x, i64({-1, -1})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Reshape", 13).run({x, i64({4, 2})})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Reshape", 13).run({x, i64({-1, 4})})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Reshape", 13).run({x, i64({-2, 3})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Reshape", 13).run({x, i64({1, 2, 0, 3})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Reshape", 13).run({x, i64({int64_t(1) << 40, int64_t(1) << 40})})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Reshape", 13).run({x})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Flatten: axis variants and negative axes from opset 11", "[ops][shape]") {
  Tensor x = iota_f32({2, 3, 4, 5});
  CHECK(out0(Op("Flatten", 13).run({x})).shape() == Shape{2, 60});
  CHECK(out0(Op("Flatten", 13).i("axis", 0).run({x})).shape() == Shape{1, 120});
  CHECK(out0(Op("Flatten", 13).i("axis", 4).run({x})).shape() == Shape{120, 1});
  CHECK(out0(Op("Flatten", 13).i("axis", -1).run({x})).shape() == Shape{24, 5});
  CHECK(out0(Op("Flatten", 11).i("axis", -4).run({x})).shape() == Shape{1, 120});
  CHECK(out0(Op("Flatten", 13).run({x})).raw() == x.raw());
  CHECK(code_of(Op("Flatten", 9).i("axis", -1).run({x})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Flatten", 13).i("axis", 5).run({x})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Squeeze: attribute axes before 13, input axes from 13", "[ops][shape]") {
  Tensor x = iota_f32({1, 3, 1, 5});
  CHECK(out0(Op("Squeeze", 11).ints("axes", {0}).run({x})).shape() == Shape{3, 1, 5});
  CHECK(out0(Op("Squeeze", 11).ints("axes", {-2}).run({x})).shape() == Shape{1, 3, 5});
  CHECK(out0(Op("Squeeze", 11).run({x})).shape() == Shape{3, 5});
  CHECK(out0(Op("Squeeze", 13).run({x, i64({0, 2})})).shape() == Shape{3, 5});
  CHECK(out0(Op("Squeeze", 13).run({x})).shape() == Shape{3, 5});
  CHECK(out0(Op("Squeeze", 13).run({x, i64({2})})).raw() == x.raw());
  CHECK(code_of(Op("Squeeze", 13).run({x, i64({1})})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Squeeze", 13).run({x, i64({4})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Squeeze", 13).run({x, i64({0, -4})})) == ErrorCode::kInvalidModel);  // repeated axis
}

TEST_CASE("Unsqueeze: attribute / input axes, unsorted and negative", "[ops][shape]") {
  Tensor x = iota_f32({3, 4, 5});
  CHECK(out0(Op("Unsqueeze", 11).ints("axes", {0, 4}).run({x})).shape() == Shape{1, 3, 4, 5, 1});
  CHECK(out0(Op("Unsqueeze", 13).run({x, i64({4, 3})})).shape() == Shape{3, 4, 5, 1, 1});
  CHECK(out0(Op("Unsqueeze", 13).run({x, i64({-1})})).shape() == Shape{3, 4, 5, 1});
  CHECK(out0(Op("Unsqueeze", 13).run({x, i64({2, 0})})).shape() == Shape{1, 3, 1, 4, 5});
  CHECK(out0(Op("Unsqueeze", 1).ints("axes", {1}).run({x})).raw() == x.raw());
  CHECK(out0(Op("Unsqueeze", 13).run({Tensor::scalar<float>(2.f), i64({0})})).shape() == Shape{1});
  CHECK(code_of(Op("Unsqueeze", 13).run({x, i64({1, 1})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Unsqueeze", 13).run({x, i64({6})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Unsqueeze", 13).run({x, i64({0, 1, 2, 3, 4, 5})})) == ErrorCode::kLimitExceeded);
}

TEST_CASE("Shape with start / end (opset 15) and Size", "[ops][shape]") {
  Tensor x = iota_f32({2, 3, 4});
  auto shape_of = [&](Op op) { return out0(op.run({x})).to_int64_vector(); };
  CHECK(shape_of(Op("Shape", 13)) == std::vector<int64_t>{2, 3, 4});
  CHECK(shape_of(Op("Shape", 15).i("start", 1)) == std::vector<int64_t>{3, 4});
  CHECK(shape_of(Op("Shape", 15).i("end", -1)) == std::vector<int64_t>{2, 3});
  CHECK(shape_of(Op("Shape", 15).i("start", -10)) == std::vector<int64_t>{2, 3, 4});
  CHECK(shape_of(Op("Shape", 15).i("start", 1).i("end", 10)) == std::vector<int64_t>{3, 4});
  CHECK(shape_of(Op("Shape", 15).i("start", 2).i("end", 1)).empty());
  // start / end are ignored before opset 15
  CHECK(shape_of(Op("Shape", 13).i("start", 1)) == std::vector<int64_t>{2, 3, 4});
  Tensor size = out0(Op("Size", 13).run({x}));
  CHECK(size.rank() == 0);
  CHECK(size.data<int64_t>()[0] == 24);
}

TEST_CASE("Identity and Dropout alias their input", "[ops][shape]") {
  Tensor x = iota_f32({2, 3});
  CHECK(out0(Op("Identity", 13).run({x})).raw() == x.raw());
  auto r = Op("Dropout", 13).outputs(2).run({x});
  REQUIRE(r.is_ok());
  CHECK(r.value()[0].raw() == x.raw());
  CHECK(r.value()[1].dtype() == DType::kBool);
  CHECK(r.value()[1].shape() == x.shape());
  for (int k = 0; k < 6; ++k) CHECK(r.value()[1].data<bool>()[k]);
  // opset 7: mask in the input dtype
  auto r7 = Op("Dropout", 7).f("ratio", 0.3f).outputs(2).run({x});
  REQUIRE(r7.is_ok());
  CHECK_TENSOR_NEAR(r7.value()[1], f32({2, 3}, {1, 1, 1, 1, 1, 1}), 0, 0);
  // training mode with ratio 0 is still the identity; a real ratio is not supported
  Tensor yes = Tensor::scalar<bool>(true);
  CHECK(out0(Op("Dropout", 13).run({x, Tensor::scalar<float>(0.f), yes})).raw() == x.raw());
  CHECK(code_of(Op("Dropout", 13).run({x, Tensor::scalar<float>(0.5f), yes})) == ErrorCode::kUnsupported);
  CHECK(out0(Op("Dropout", 13).run({x, Tensor::scalar<float>(0.5f), Tensor::scalar<bool>(false)})).raw() == x.raw());
}

TEST_CASE("Transpose: default perm reverses axes", "[ops][shape]") {
  Tensor x = iota_f32({2, 3});
  CHECK_TENSOR_NEAR(out0(Op("Transpose", 13).run({x})), f32({3, 2}, {0, 3, 1, 4, 2, 5}), 0, 0);
  Tensor y = out0(Op("Transpose", 13).ints("perm", {1, 2, 0}).run({iota_f32({2, 2, 2})}));
  CHECK_TENSOR_NEAR(y, f32({2, 2, 2}, {0, 4, 1, 5, 2, 6, 3, 7}), 0, 0);
  // moving only size-1 axes is a view
  Tensor z = iota_f32({1, 3, 1, 4});
  CHECK(out0(Op("Transpose", 13).ints("perm", {2, 1, 0, 3}).run({z})).raw() == z.raw());
  CHECK(code_of(Op("Transpose", 13).ints("perm", {0, 0}).run({x})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Transpose", 13).ints("perm", {0, 1, 2}).run({x})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Transpose fast path matches the reference", "[ops][shape]") {
  struct Case {
    Shape shape;
    std::vector<int64_t> perm;
  };
  auto c = GENERATE(Case{{2, 3, 7, 13}, {0, 2, 3, 1}}, Case{{2, 13, 7, 3}, {0, 3, 1, 2}}, Case{{3, 7, 13, 5}, {0, 2, 1, 3}},
                    Case{{1, 127, 3}, {2, 1, 0}}, Case{{5, 7, 3, 2}, {3, 2, 1, 0}}, Case{{65, 33}, {1, 0}},
                    Case{{2, 3, 4, 5, 6}, {4, 0, 3, 1, 2}}, Case{{7, 1, 13}, {2, 0, 1}},
                    Case{{3, 1, 1, 5}, {0, 3, 2, 1}},
                    Case{{1, 85, 75}, {0, 2, 1}});  // a YOLO head's (1, 85, anchors): 8x8 blocks and ragged edges
  auto dtype = GENERATE(DType::kFloat32, DType::kUInt8, DType::kInt64, DType::kFloat16);
  auto threads = GENERATE(1, 2);
  CAPTURE(shape_str(c.shape), shape_str(c.perm), dtype_name(dtype), threads);
  Tensor x(dtype, c.shape);
  auto* bytes = static_cast<uint8_t*>(x.raw());
  for (size_t k = 0; k < x.nbytes(); ++k) bytes[k] = static_cast<uint8_t>(k * 37 + 11);
  Op op("Transpose", 13);
  op.ints("perm", c.perm);
  Tensor ref = out0(op.run({x}, true, 1));
  Tensor fast = out0(op.run({x}, false, threads));
  REQUIRE(fast.shape() == ref.shape());
  CHECK(std::memcmp(fast.raw(), ref.raw(), ref.nbytes()) == 0);
  // and the reference itself against the definition out[j] = in[perm-mapped j]
  if (dtype == DType::kFloat32 && c.shape.size() == 4) {
    Tensor xf = iota_f32(c.shape);
    Tensor yf = out0(op.run({xf}, true));
    std::vector<int64_t> idx(4, 0);
    const Shape& s = c.shape;
    bool all = true;
    for (int64_t k = 0; k < yf.numel(); ++k) {
      int64_t rem = k;
      for (int d = 3; d >= 0; --d) {
        idx[c.perm[d]] = rem % s[c.perm[d]];
        rem /= s[c.perm[d]];
      }
      const float want = static_cast<float>(((idx[0] * s[1] + idx[1]) * s[2] + idx[2]) * s[3] + idx[3]);
      all = all && yf.data<float>()[k] == want;
    }
    CHECK(all);
  }
}

TEST_CASE("Transpose picks row copies / tiles for common 4-D perms", "[ops][shape]") {
  const Shape nchw{2, 16, 7, 9};
  CHECK(std::string(transpose_path(nchw, {0, 2, 3, 1})) == "tiles");    // NCHW -> NHWC
  CHECK(std::string(transpose_path(nchw, {0, 3, 1, 2})) == "tiles");    // NHWC -> NCHW
  CHECK(std::string(transpose_path(nchw, {0, 2, 1, 3})) == "rows");     // swap C and H
  CHECK(std::string(transpose_path(nchw, {1, 0, 2, 3})) == "rows");     // swap N and C
  CHECK(std::string(transpose_path(nchw, {0, 1, 3, 2})) == "tiles");    // swap H and W
  CHECK(std::string(transpose_path(nchw, {3, 2, 1, 0})) == "generic");
  CHECK(std::string(transpose_path({1, 16, 1, 9}, {2, 0, 1, 3})) == "copy");
}

TEST_CASE("Constant: every value attribute", "[ops][shape]") {
  Tensor v = f32({2}, {1.5f, -2});
  CHECK_TENSOR_NEAR(out0(Op("Constant", 13).t("value", v).run({})), v, 0, 0);
  Tensor f = out0(Op("Constant", 13).f("value_float", 3.f).run({}));
  CHECK(f.rank() == 0);
  CHECK(f.data<float>()[0] == 3.f);
  CHECK(out0(Op("Constant", 13).floats("value_floats", {1, 2, 3}).run({})).shape() == Shape{3});
  Tensor i = out0(Op("Constant", 13).i("value_int", 7).run({}));
  CHECK(i.dtype() == DType::kInt64);
  CHECK(i.data<int64_t>()[0] == 7);
  CHECK(out0(Op("Constant", 13).ints("value_ints", {4, 5}).run({})).to_int64_vector() == std::vector<int64_t>{4, 5});
  CHECK(code_of(Op("Constant", 13).run({})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Constant", 13).i("value_int", 1).f("value_float", 1).run({})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Constant", 13).s("value_string", "x").run({})) == ErrorCode::kUnsupported);
}

TEST_CASE("ConstantOfShape: value dtype, scalar output, limits", "[ops][shape]") {
  Tensor z = out0(Op("ConstantOfShape", 9).run({i64({2, 3})}));
  CHECK_TENSOR_NEAR(z, f32({2, 3}, {0, 0, 0, 0, 0, 0}), 0, 0);
  Tensor k = out0(Op("ConstantOfShape", 9).t("value", Tensor::from_vector<int64_t>({1}, {42})).run({i64({3})}));
  CHECK(k.to_int64_vector() == std::vector<int64_t>{42, 42, 42});
  Tensor s = out0(Op("ConstantOfShape", 9).t("value", Tensor::from_vector<float>({1}, {2.5f})).run({i64({})}));
  CHECK(s.rank() == 0);
  CHECK(s.data<float>()[0] == 2.5f);
  CHECK(out0(Op("ConstantOfShape", 9).run({i64({0, 5})})).numel() == 0);
  CHECK(code_of(Op("ConstantOfShape", 9).run({i64({int64_t(1) << 20, int64_t(1) << 20})})) == ErrorCode::kLimitExceeded);
  CHECK(code_of(Op("ConstantOfShape", 9).run({i64({2, -1})})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("ConstantOfShape", 9).run({f32({1}, {2})})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Expand: bidirectional broadcast", "[ops][shape]") {
  Tensor col = f32({3, 1}, {1, 2, 3});
  CHECK_TENSOR_NEAR(out0(Op("Expand", 13).run({col, i64({2, 1, 2})})),
                    f32({2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}), 0, 0);
  // a 1 in the shape keeps the input dim
  CHECK_TENSOR_NEAR(out0(Op("Expand", 13).run({col, i64({1, 1})})), col, 0, 0);
  Tensor row = f32({1, 3}, {1, 2, 3});
  CHECK_TENSOR_NEAR(out0(Op("Expand", 13).run({row, i64({2, 1})})), f32({2, 3}, {1, 2, 3, 1, 2, 3}), 0, 0);
  Tensor mid = f32({2, 1, 2}, {1, 2, 3, 4});
  CHECK_TENSOR_NEAR(out0(Op("Expand", 13).run({mid, i64({2, 3, 2})}, false, 2)),
                    f32({2, 3, 2}, {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}), 0, 0);
  CHECK(code_of(Op("Expand", 13).run({col, i64({2, 4})})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Expand", 13).run({col, i64({int64_t(1) << 31, int64_t(1) << 31, 3, 1})})) ==
        ErrorCode::kLimitExceeded);
}

TEST_CASE("EyeLike: diagonal offset and dtype", "[ops][shape]") {
  Tensor x(DType::kFloat32, {3, 4});
  CHECK_TENSOR_NEAR(out0(Op("EyeLike", 9).run({x})), f32({3, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("EyeLike", 9).i("k", 1).run({x})), f32({3, 4}, {0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("EyeLike", 9).i("k", -2).run({x})), f32({3, 4}, {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}), 0, 0);
  Tensor e = out0(Op("EyeLike", 9).i("dtype", 7).run({x}));
  CHECK(e.dtype() == DType::kInt64);
  CHECK(e.to_int64_vector()[5] == 1);
  CHECK(code_of(Op("EyeLike", 9).run({Tensor(DType::kFloat32, {3})})) == ErrorCode::kShapeMismatch);
}
