// Tensor family: hand-computed (or numpy-derived) cases per op and opset
// variant, thread-count independence on odd shapes, and invalid inputs that
// must come back as a Status.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/cpu_features.h"
#include "ops/tensor_ops.h"
#include "ops/tensor_ops_test_util.h"

using namespace cvt;
using namespace cvt::op_test;

namespace {

std::vector<Tensor> all_outputs(const Result<std::vector<Tensor>>& r) {
  INFO(r.status().to_string());
  REQUIRE(r.is_ok());
  return r.value();
}

}  // namespace

TEST_CASE("Concat: axes, empty inputs, errors", "[ops][tensor]") {
  Tensor a = f32({2, 1}, {1, 2}), b = f32({2, 2}, {3, 4, 5, 6}), e(DType::kFloat32, {2, 0});
  CHECK_TENSOR_NEAR(out0(Op("Concat", 13).i("axis", 1).run({a, b, e})), f32({2, 3}, {1, 3, 4, 2, 5, 6}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Concat", 13).i("axis", -1).run({b, a})), f32({2, 3}, {3, 4, 1, 5, 6, 2}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Concat", 13).i("axis", 0).run({b, b})), f32({4, 2}, {3, 4, 5, 6, 3, 4, 5, 6}), 0, 0);
  CHECK(code_of(Op("Concat", 13).i("axis", 0).run({a, b})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Concat", 13).i("axis", 2).run({a, b})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Concat", 13).i("axis", 1).run({a, lit<int64_t>({2, 1}, {1, 2})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Concat", 13).run({a, a})) == ErrorCode::kInvalidModel);  // axis required from opset 4
  CHECK(out0(Op("Concat", 1).run({a, a})).shape() == Shape{2, 2});           // opset 1 defaults to axis 1
}

TEST_CASE("Split: attribute, input, num_outputs and uneven chunks", "[ops][tensor]") {
  Tensor x = iota_f32({2, 5});
  auto outs = all_outputs(Op("Split", 11).i("axis", 1).ints("split", {2, 3}).outputs(2).run({x}));
  CHECK_TENSOR_NEAR(outs[0], f32({2, 2}, {0, 1, 5, 6}), 0, 0);
  CHECK_TENSOR_NEAR(outs[1], f32({2, 3}, {2, 3, 4, 7, 8, 9}), 0, 0);
  outs = all_outputs(Op("Split", 13).i("axis", -1).outputs(3).run({x, i64({1, 0, 4})}));
  CHECK(outs[1].shape() == Shape{2, 0});
  CHECK_TENSOR_NEAR(outs[2], f32({2, 4}, {1, 2, 3, 4, 6, 7, 8, 9}), 0, 0);
  outs = all_outputs(Op("Split", 18).i("axis", 1).i("num_outputs", 3).outputs(3).run({x}));
  CHECK(outs[0].shape() == Shape{2, 2});
  CHECK(outs[1].shape() == Shape{2, 2});
  CHECK_TENSOR_NEAR(outs[2], f32({2, 1}, {4, 9}), 0, 0);
  outs = all_outputs(Op("Split", 13).outputs(2).run({x}));  // equal split of axis 0
  CHECK_TENSOR_NEAR(outs[1], f32({1, 5}, {5, 6, 7, 8, 9}), 0, 0);
  CHECK(code_of(Op("Split", 13).i("axis", 1).outputs(2).run({x})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Split", 13).i("axis", 1).outputs(2).run({x, i64({2, 2})})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Split", 13).i("axis", 1).outputs(2).run({x, i64({6, -1})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Split", 18).i("axis", 1).i("num_outputs", 4).outputs(4).run({x})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Split", 18).i("num_outputs", 3).outputs(2).run({x})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Slice: attributes before 10, inputs after, clamping and negative steps", "[ops][tensor]") {
  Tensor x = iota_f32({2, 3, 4});
  // numpy x[:, ::-2, 3:0:-2]
  CHECK_TENSOR_NEAR(out0(Op("Slice", 13).run({x, i64({-1, 3}), i64({INT64_MIN, 0}), i64({1, 2}), i64({-2, -2})})),
                    f32({2, 2, 2}, {11, 9, 3, 1, 23, 21, 15, 13}), 0, 0);
  // numpy x[1:, 1:3, ::3] with INT64_MAX ends and default axes
  CHECK_TENSOR_NEAR(out0(Op("Slice", 13).run({x, i64({1, 1, 0}), i64({INT64_MAX, 3, INT64_MAX}), Tensor(), i64({1, 1, 3})})),
                    f32({1, 2, 2}, {16, 19, 20, 23}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Slice", 1).ints("starts", {1}).ints("ends", {1000}).ints("axes", {2}).run({x})),
                    out0(Op("Slice", 13).run({x, i64({1}), i64({4}), i64({-1})})), 0, 0);
  CHECK(out0(Op("Slice", 13).run({x, i64({3}), i64({1}), i64({2})})).shape() == Shape{2, 3, 0});
  CHECK(out0(Op("Slice", 13).run({x, i64({-100}), i64({100}), i64({0})})).shape() == Shape{2, 3, 4});
  CHECK(out0(Op("Slice", 13).run({x, i64({0}), i64({-1}), i64({2}), i64({-1})})).shape() == Shape{2, 3, 0});
  CHECK(code_of(Op("Slice", 13).run({x, i64({0}), i64({1}), i64({0}), i64({0})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Slice", 13).run({x, i64({0, 0}), i64({1, 1}), i64({1, -2})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Slice", 13).run({x, i64({0}), i64({1}), i64({3})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Slice", 13).run({x, i64({0, 1}), i64({1})})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Slice step 2 on the last axis: AVX2 rows match the scalar loop and the reference", "[ops][tensor]") {
  for (int64_t n = 0; n <= 40; ++n) {
    CAPTURE(n);
    // Exactly 2n - 1 readable values: reading past them shows under ASan.
    std::vector<uint32_t> src(static_cast<size_t>(std::max<int64_t>(1, 2 * n - 1)));
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint32_t>(i * 2654435761u);
    std::vector<uint32_t> a(static_cast<size_t>(n + 1), 7u), b = a;  // the sentinel past n stays
    copy_stride2_b32__scalar(src.data(), n, b.data());
    if (cpu_features().avx2) copy_stride2_b32__avx2(src.data(), n, a.data());
    else a = b;
    CHECK(a == b);
    for (int64_t i = 0; i < n; ++i) CHECK(b[static_cast<size_t>(i)] == src[static_cast<size_t>(2 * i)]);
  }
  // Through the op: odd and even row lengths, both start parities, 1 and 2 threads.
  Tensor x = iota_f32({2, 3, 37});
  for (int64_t start : {0, 1}) {
    Op op("Slice", 13);
    const std::vector<Tensor> in{x, i64({start, 0}), i64({INT64_MAX, 2}), i64({2, 1}), i64({2, 1})};
    for (int threads : {1, 2})
      CHECK_TENSOR_NEAR(out0(op.run(in, false, threads)), out0(op.run(in, true, 1)), 0, 0);
  }
}

TEST_CASE("Gather: axes, negative and 2-D indices, errors", "[ops][tensor]") {
  Tensor x = iota_f32({3, 4});
  CHECK_TENSOR_NEAR(out0(Op("Gather", 13).run({x, i64({2, -3})})), f32({2, 4}, {8, 9, 10, 11, 0, 1, 2, 3}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Gather", 13).i("axis", 1).run({x, lit<int32_t>({2, 2}, {0, 3, -1, 1})})),
                    f32({3, 2, 2}, {0, 3, 3, 1, 4, 7, 7, 5, 8, 11, 11, 9}), 0, 0);
  Tensor scalar_idx = out0(Op("Gather", 13).run({x, Tensor::scalar<int64_t>(1)}));
  CHECK_TENSOR_NEAR(scalar_idx, f32({4}, {4, 5, 6, 7}), 0, 0);
  CHECK(values<uint8_t>(out0(Op("Gather", 13).run({lit<uint8_t>({3}, {7, 8, 9}), i64({2, 0})}))) ==
        std::vector<uint8_t>{9, 7});
  CHECK(code_of(Op("Gather", 13).run({x, i64({3})})) == ErrorCode::kInvalidArgument);
  CHECK(code_of(Op("Gather", 13).run({x, i64({-4})})) == ErrorCode::kInvalidArgument);
  CHECK(code_of(Op("Gather", 13).i("axis", 2).run({x, i64({0})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Gather", 13).run({x, f32({1}, {0})})) == ErrorCode::kInvalidModel);
}

TEST_CASE("GatherElements and GatherND", "[ops][tensor]") {
  Tensor x = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK_TENSOR_NEAR(out0(Op("GatherElements", 13).run({x, i64({1, 2, 0, 2, 0, 0}).reshaped({2, 3})})),
                    f32({2, 3}, {4, 8, 3, 7, 2, 3}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("GatherElements", 13).i("axis", 1).run({x, i64({-1, 0}).reshaped({1, 2})})),
                    f32({1, 2}, {3, 1}), 0, 0);
  CHECK(code_of(Op("GatherElements", 13).run({x, i64({3}).reshaped({1, 1})})) == ErrorCode::kInvalidArgument);
  CHECK(code_of(Op("GatherElements", 13).run({x, i64({0, 0, 0, 0}).reshaped({1, 4})})) == ErrorCode::kShapeMismatch);

  Tensor d = iota_f32({2, 2, 2});
  CHECK_TENSOR_NEAR(out0(Op("GatherND", 13).run({d, i64({0, 1, 1, 0}).reshaped({2, 2})})), f32({2, 2}, {2, 3, 4, 5}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("GatherND", 13).run({d, i64({1, 0, 1, -1, 1, 0}).reshaped({2, 3})})), f32({2}, {5, 6}), 0, 0);
  // batch_dims = 1: per batch, index into the remaining axes
  CHECK_TENSOR_NEAR(out0(Op("GatherND", 13).i("batch_dims", 1).run({d, i64({1, 0}).reshaped({2, 1})})),
                    f32({2, 2}, {2, 3, 4, 5}), 0, 0);
  CHECK(code_of(Op("GatherND", 13).run({d, i64({2, 0}).reshaped({1, 2})})) == ErrorCode::kInvalidArgument);
  CHECK(code_of(Op("GatherND", 13).run({d, i64({0, 0, 0, 0}).reshaped({1, 4})})) == ErrorCode::kShapeMismatch);
}

TEST_CASE("ScatterElements / Scatter / ScatterND with reductions", "[ops][tensor]") {
  Tensor z(DType::kFloat32, {3, 3});
  Tensor idx = i64({1, 0, 2, 0, 2, 1}).reshaped({2, 3});
  Tensor upd = f32({2, 3}, {1, 1.1f, 1.2f, 2, 2.1f, 2.2f});
  const Tensor want = f32({3, 3}, {2, 1.1f, 0, 1, 0, 2.2f, 0, 2.1f, 1.2f});
  CHECK_TENSOR_NEAR(out0(Op("ScatterElements", 13).run({z, idx, upd})), want, 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Scatter", 9).run({z, idx, upd})), want, 0, 0);
  Tensor row = f32({1, 5}, {1, 2, 3, 4, 5});
  Tensor dup = i64({1, 1}).reshaped({1, 2});
  Tensor two = f32({1, 2}, {1.1f, 2.1f});
  CHECK_TENSOR_NEAR(out0(Op("ScatterElements", 16).i("axis", 1).s("reduction", "add").run({row, dup, two})),
                    f32({1, 5}, {1, 5.2f, 3, 4, 5}), 1e-6, 0);
  CHECK_TENSOR_NEAR(out0(Op("ScatterElements", 16).i("axis", 1).s("reduction", "mul").run({row, dup, two})),
                    f32({1, 5}, {1, 2 * 1.1f * 2.1f, 3, 4, 5}), 1e-6, 0);
  CHECK_TENSOR_NEAR(out0(Op("ScatterElements", 18).i("axis", 1).s("reduction", "max").run({row, dup, two})),
                    f32({1, 5}, {1, 2.1f, 3, 4, 5}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("ScatterElements", 13).i("axis", 1).run({row, i64({-2}).reshaped({1, 1}), f32({1, 1}, {9})})),
                    f32({1, 5}, {1, 2, 3, 9, 5}), 0, 0);
  CHECK(code_of(Op("ScatterElements", 13).s("reduction", "add").run({row, dup, two})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("ScatterElements", 13).i("axis", 1).run({row, i64({5}).reshaped({1, 1}), f32({1, 1}, {9})})) ==
        ErrorCode::kInvalidArgument);

  Tensor data = iota_f32({4, 2});
  Tensor nd_idx = i64({3, 1, 3}).reshaped({3, 1});
  Tensor nd_upd = f32({3, 2}, {10, 11, 20, 21, 1, 1});
  CHECK_TENSOR_NEAR(out0(Op("ScatterND", 13).run({data, nd_idx, nd_upd})), f32({4, 2}, {0, 1, 20, 21, 4, 5, 1, 1}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("ScatterND", 16).s("reduction", "add").run({data, nd_idx, nd_upd})),
                    f32({4, 2}, {0, 1, 22, 24, 4, 5, 17, 19}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("ScatterND", 13).run({data, i64({-1, 0}).reshaped({1, 2}), f32({1}, {7})})),
                    f32({4, 2}, {0, 1, 2, 3, 4, 5, 7, 7}), 0, 0);
  CHECK(code_of(Op("ScatterND", 13).run({data, nd_idx, f32({3, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 0})})) ==
        ErrorCode::kShapeMismatch);
}

TEST_CASE("Pad: modes, attribute vs input opsets, negative pads, axes", "[ops][tensor]") {
  Tensor x = iota_f32({3, 4});
  CHECK_TENSOR_NEAR(out0(Op("Pad", 2).ints("pads", {0, 1, 1, 0}).f("value", 9).run({x})),
                    f32({4, 5}, {9, 0, 1, 2, 3, 9, 4, 5, 6, 7, 9, 8, 9, 10, 11, 9, 9, 9, 9, 9}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Pad", 13).run({x, i64({0, 1, 1, 0}), Tensor::scalar<float>(9.f)})),
                    f32({4, 5}, {9, 0, 1, 2, 3, 9, 4, 5, 6, 7, 9, 8, 9, 10, 11, 9, 9, 9, 9, 9}), 0, 0);
  // numpy np.pad(x, ((1, 2), (3, 1)), 'reflect')
  CHECK_TENSOR_NEAR(out0(Op("Pad", 13).s("mode", "reflect").run({x, i64({1, 3, 2, 1})})),
                    f32({6, 8}, {7, 6, 5, 4, 5, 6, 7, 6, 3, 2, 1, 0, 1, 2, 3, 2, 7, 6, 5, 4, 5, 6, 7, 6,
                                 11, 10, 9, 8, 9, 10, 11, 10, 7, 6, 5, 4, 5, 6, 7, 6, 3, 2, 1, 0, 1, 2, 3, 2}),
                    0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Pad", 13).s("mode", "edge").run({x, i64({0, 2, 1, 0})})),
                    f32({4, 6}, {0, 0, 0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8, 8, 8, 9, 10, 11, 8, 8, 8, 9, 10, 11}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Pad", 19).s("mode", "wrap").run({x, i64({1, 1, 0, 2})})),
                    f32({4, 7}, {11, 8, 9, 10, 11, 8, 9, 3, 0, 1, 2, 3, 0, 1, 7, 4, 5, 6, 7, 4, 5,
                                 11, 8, 9, 10, 11, 8, 9}),
                    0, 0);
  // negative pads crop first: x[1:, :2] then reflect one column on the left
  CHECK_TENSOR_NEAR(out0(Op("Pad", 13).s("mode", "reflect").run({x, i64({-1, 1, 0, -2})})),
                    f32({2, 3}, {5, 4, 5, 9, 8, 9}), 0, 0);
  // reflect further than the axis repeats with period 2*(n-1), like numpy
  CHECK_TENSOR_NEAR(out0(Op("Pad", 13).s("mode", "reflect").run({f32({3}, {0, 1, 2}), i64({7, 7})})),
                    f32({17}, {1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1}), 0, 0);
  // opset 18 axes input
  CHECK_TENSOR_NEAR(out0(Op("Pad", 18).run({x, i64({1, 0}), Tensor(), i64({-1})})),
                    f32({3, 5}, {0, 0, 1, 2, 3, 0, 4, 5, 6, 7, 0, 8, 9, 10, 11}), 0, 0);
  CHECK(values<int32_t>(out0(Op("Pad", 11).run({lit<int32_t>({2}, {5, 6}), i64({1, 1}), Tensor::scalar<int32_t>(-1)}))) ==
        std::vector<int32_t>{-1, 5, 6, -1});
  CHECK(code_of(Op("Pad", 13).run({x, i64({1, 1})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Pad", 13).run({x, i64({-2, 0, -2, 0})})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("Pad", 13).run({x, i64({0, int64_t(1) << 40, 0, 0})})) == ErrorCode::kLimitExceeded);
  CHECK(code_of(Op("Pad", 13).s("mode", "mirror").run({x, i64({0, 0, 0, 0})})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Cast: truncation, wrapping, bool, float16 rounding", "[ops][tensor]") {
  Tensor x = f32({6}, {-1.7f, 2.9f, 300.f, -1.5f, 0.f, std::nanf("")});
  CHECK(values<int32_t>(out0(Op("Cast", 13).i("to", 6).run({x}))) ==
        std::vector<int32_t>{-1, 2, 300, -1, 0, std::numeric_limits<int32_t>::min()});
  CHECK(values<uint8_t>(out0(Op("Cast", 13).i("to", 2).run({x}))) == std::vector<uint8_t>{255, 2, 44, 255, 0, 0});
  CHECK(values<bool>(out0(Op("Cast", 13).i("to", 9).run({x}))) == std::vector<bool>{true, true, true, true, false, true});
  CHECK_TENSOR_NEAR(out0(Op("Cast", 13).i("to", 1).run({lit<bool>({2}, {true, false})})), f32({2}, {1, 0}), 0, 0);
  CHECK(values<double>(out0(Op("Cast", 13).i("to", 11).run({lit<int64_t>({2}, {-5, int64_t(1) << 40})}))) ==
        std::vector<double>{-5.0, 1099511627776.0});
  // float -> float16 bits and back; numbers from numpy's astype(float16)
  Tensor f = f32({12}, {1.f / 3, 65504, 65519, 65520, 1e-7f, 3e-8f, 2.98e-8f, -0.f, 1e-5f, 0.1f, 2049, 2051});
  Tensor h = out0(Op("Cast", 13).i("to", 10).run({f}));
  REQUIRE(h.dtype() == DType::kFloat16);
  const std::vector<uint16_t> want_bits{13653, 31743, 31743, 31744, 2, 1, 0, 32768, 168, 11878, 26624, 26626};
  CHECK(std::vector<uint16_t>(h.data<uint16_t>(), h.data<uint16_t>() + 12) == want_bits);
  CHECK_TENSOR_NEAR(out0(Op("Cast", 13).i("to", 1).run({h})),
                    f32({12}, {0.333251953125f, 65504, 65504, INFINITY, 1.1920928955078125e-07f, 5.960464477539063e-08f, 0,
                               -0.f, 1.0013580322265625e-05f, 0.0999755859375f, 2048, 2052}),
                    0, 0);
  // double -> float16 rounds once (2049.0000001 goes up, unlike via float)
  Tensor d = lit<double>({5}, {1.0 / 3, 0.1, 65519.99, 1e-7, 2049.0000001});
  Tensor hd = out0(Op("Cast", 13).i("to", 10).run({d}));
  CHECK(std::vector<uint16_t>(hd.data<uint16_t>(), hd.data<uint16_t>() + 5) ==
        std::vector<uint16_t>{13653, 11878, 31743, 2, 26625});
  // Cast-1 names the type; same type aliases; CastLike takes the dtype of input 1
  CHECK(out0(Op("Cast", 1).s("to", "INT64").run({x})).dtype() == DType::kInt64);
  CHECK(out0(Op("Cast", 13).i("to", 1).run({x})).raw() == x.raw());
  CHECK(out0(Op("CastLike", 15).run({x, lit<int8_t>({1}, {0})})).dtype() == DType::kInt8);
  CHECK(code_of(Op("Cast", 13).i("to", 8).run({x})) == ErrorCode::kUnsupported);
  CHECK(code_of(Op("Cast", 13).run({x})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Tile, Range, NonZero", "[ops][tensor]") {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  CHECK_TENSOR_NEAR(out0(Op("Tile", 13).run({x, i64({2, 3})})),
                    f32({4, 6}, {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}), 0, 0);
  CHECK(out0(Op("Tile", 13).run({x, i64({0, 2})})).shape() == Shape{0, 4});
  CHECK_TENSOR_NEAR(out0(Op("Tile", 1).run({x, Tensor::scalar<int64_t>(2), Tensor::scalar<int64_t>(0)})),
                    f32({4, 2}, {1, 2, 3, 4, 1, 2, 3, 4}), 0, 0);
  CHECK(code_of(Op("Tile", 13).run({x, i64({1})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Tile", 13).run({x, i64({-1, 1})})) == ErrorCode::kInvalidModel);
  CHECK(code_of(Op("Tile", 13).run({x, i64({int64_t(1) << 30, int64_t(1) << 30})})) == ErrorCode::kLimitExceeded);
  CHECK(code_of(Op("Tile", 13).run({x, i64({int64_t(1) << 62, 1})})) == ErrorCode::kLimitExceeded);

  CHECK_TENSOR_NEAR(out0(Op("Range", 11).run({Tensor::scalar<float>(1), Tensor::scalar<float>(5), Tensor::scalar<float>(2)})),
                    f32({2}, {1, 3}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("Range", 11).run({Tensor::scalar<float>(0), Tensor::scalar<float>(1), Tensor::scalar<float>(0.3f)})),
                    f32({4}, {0, 0.3f, 0.6f, 0.9f}), 1e-6, 0);
  CHECK(values<int32_t>(out0(Op("Range", 11).run({Tensor::scalar<int32_t>(10), Tensor::scalar<int32_t>(6),
                                                  Tensor::scalar<int32_t>(-3)}))) == std::vector<int32_t>{10, 7});
  CHECK(out0(Op("Range", 11).run({Tensor::scalar<int64_t>(5), Tensor::scalar<int64_t>(1), Tensor::scalar<int64_t>(1)})).numel() == 0);
  CHECK(values<int64_t>(out0(Op("Range", 11).run({Tensor::scalar<int64_t>(INT64_MIN), Tensor::scalar<int64_t>(INT64_MIN + 2),
                                                  Tensor::scalar<int64_t>(1)}))) ==
        std::vector<int64_t>{INT64_MIN, INT64_MIN + 1});
  CHECK(code_of(Op("Range", 11).run({Tensor::scalar<int64_t>(0), Tensor::scalar<int64_t>(5), Tensor::scalar<int64_t>(0)})) ==
        ErrorCode::kInvalidArgument);
  CHECK(code_of(Op("Range", 11).run({Tensor::scalar<int64_t>(INT64_MIN), Tensor::scalar<int64_t>(INT64_MAX),
                                     Tensor::scalar<int64_t>(1)})) == ErrorCode::kLimitExceeded);
  CHECK(code_of(Op("Range", 11).run({Tensor::scalar<float>(0), Tensor::scalar<float>(1e30f), Tensor::scalar<float>(1e-30f)})) ==
        ErrorCode::kLimitExceeded);

  Tensor nz = out0(Op("NonZero", 13).run({f32({2, 3}, {1, 0, 0, 0, -2, 3})}));
  CHECK(nz.shape() == Shape{2, 3});
  CHECK(values<int64_t>(nz) == std::vector<int64_t>{0, 1, 1, 0, 1, 2});
  CHECK(out0(Op("NonZero", 13).run({lit<bool>({2, 2}, {false, false, false, false})})).shape() == Shape{2, 0});
}

TEST_CASE("TopK: largest / smallest, stable ties, k attribute vs input", "[ops][tensor]") {
  Tensor x = f32({2, 5}, {3, 1, 3, 2, 3, 5, 4, 5, 6, 4});
  auto outs = all_outputs(Op("TopK", 11).outputs(2).run({x, i64({3})}));
  CHECK_TENSOR_NEAR(outs[0], f32({2, 3}, {3, 3, 3, 6, 5, 5}), 0, 0);
  CHECK(values<int64_t>(outs[1]) == std::vector<int64_t>{0, 2, 4, 3, 0, 2});
  outs = all_outputs(Op("TopK", 11).i("largest", 0).outputs(2).run({x, i64({2})}));
  CHECK_TENSOR_NEAR(outs[0], f32({2, 2}, {1, 2, 4, 4}), 0, 0);
  CHECK(values<int64_t>(outs[1]) == std::vector<int64_t>{1, 3, 1, 4});
  outs = all_outputs(Op("TopK", 1).i("k", 1).i("axis", 0).outputs(2).run({x}));
  CHECK_TENSOR_NEAR(outs[0], f32({1, 5}, {5, 4, 5, 6, 4}), 0, 0);
  CHECK(values<int64_t>(outs[1]) == std::vector<int64_t>{1, 1, 1, 1, 1});
  // NaN ranks above every number
  outs = all_outputs(Op("TopK", 11).outputs(2).run({f32({3}, {1, NAN, 2}), i64({2})}));
  CHECK(std::isnan(outs[0].data<float>()[0]));
  CHECK(values<int64_t>(outs[1]) == std::vector<int64_t>{1, 2});
  CHECK(values<int32_t>(all_outputs(Op("TopK", 11).outputs(2).run({lit<int32_t>({4}, {1, 9, -3, 9}), i64({2})}))[0]) ==
        std::vector<int32_t>{9, 9});
  CHECK(code_of(Op("TopK", 11).outputs(2).run({x, i64({6})})) == ErrorCode::kInvalidArgument);
  CHECK(code_of(Op("TopK", 11).i("axis", 2).outputs(2).run({x, i64({1})})) == ErrorCode::kInvalidModel);
}

TEST_CASE("CumSum and OneHot", "[ops][tensor]") {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK_TENSOR_NEAR(out0(Op("CumSum", 14).run({x, Tensor::scalar<int64_t>(1)})), f32({2, 3}, {1, 3, 6, 4, 9, 15}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("CumSum", 14).i("exclusive", 1).run({x, Tensor::scalar<int32_t>(0)})),
                    f32({2, 3}, {0, 0, 0, 1, 2, 3}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("CumSum", 14).i("reverse", 1).run({x, Tensor::scalar<int64_t>(-1)})),
                    f32({2, 3}, {6, 5, 3, 15, 11, 6}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("CumSum", 14).i("reverse", 1).i("exclusive", 1).run({x, Tensor::scalar<int64_t>(1)})),
                    f32({2, 3}, {5, 3, 0, 11, 6, 0}), 0, 0);

  Tensor idx = lit<int64_t>({3}, {0, -1, 5});
  Tensor vals = f32({2}, {0, 1});
  CHECK_TENSOR_NEAR(out0(Op("OneHot", 11).run({idx, Tensor::scalar<float>(3), vals})),
                    f32({3, 3}, {1, 0, 0, 0, 0, 1, 0, 0, 0}), 0, 0);
  CHECK_TENSOR_NEAR(out0(Op("OneHot", 11).i("axis", 0).run({idx, Tensor::scalar<int64_t>(3), f32({2}, {-1, 2})})),
                    f32({3, 3}, {2, -1, -1, -1, -1, -1, -1, 2, -1}), 0, 0);
  CHECK(code_of(Op("OneHot", 11).run({idx, Tensor::scalar<int64_t>(0), vals})) == ErrorCode::kInvalidArgument);
}

TEST_CASE("DepthToSpace (DCR, CRD) and SpaceToDepth", "[ops][tensor]") {
  Tensor x = iota_f32({2, 8, 2, 3});
  auto threads = GENERATE(1, 2);
  auto ref = GENERATE(false, true);
  Tensor dcr = out0(Op("DepthToSpace", 13).i("blocksize", 2).run({x}, ref, threads));
  CHECK(dcr.shape() == Shape{2, 2, 4, 6});
  const std::vector<float> dcr_head{0, 12, 1, 13, 2, 14, 24, 36, 25, 37, 26, 38, 3, 15, 4, 16, 5, 17, 27, 39, 28, 40, 29, 41};
  CHECK(std::vector<float>(dcr.data<float>(), dcr.data<float>() + 24) == dcr_head);
  Tensor crd = out0(Op("DepthToSpace", 13).i("blocksize", 2).s("mode", "CRD").run({x}, ref, threads));
  const std::vector<float> crd_head{0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20, 3, 9, 4, 10, 5, 11, 15, 21, 16, 22, 17, 23};
  CHECK(std::vector<float>(crd.data<float>(), crd.data<float>() + 24) == crd_head);
  Tensor s2d = out0(Op("SpaceToDepth", 13).i("blocksize", 2).run({iota_f32({1, 2, 4, 6})}, ref, threads));
  CHECK(s2d.shape() == Shape{1, 8, 2, 3});
  const std::vector<float> s2d_head{0, 2, 4, 12, 14, 16, 24, 26, 28, 36, 38, 40, 1, 3, 5, 13, 15, 17, 25, 27, 29, 37, 39, 41};
  CHECK(std::vector<float>(s2d.data<float>(), s2d.data<float>() + 24) == s2d_head);
  // round trip
  CHECK_TENSOR_NEAR(out0(Op("DepthToSpace", 13).i("blocksize", 2).run({s2d})), iota_f32({1, 2, 4, 6}), 0, 0);
  CHECK(code_of(Op("DepthToSpace", 13).i("blocksize", 3).run({x})) == ErrorCode::kShapeMismatch);
  CHECK(code_of(Op("SpaceToDepth", 13).run({x})) == ErrorCode::kInvalidModel);
}

TEST_CASE("Copy ops give the same bytes at 1 and 2 threads on odd shapes", "[ops][tensor]") {
  auto shape = GENERATE(Shape{1, 3, 7, 13}, Shape{2, 13, 127}, Shape{3, 5, 1, 129});
  CAPTURE(shape_str(shape));
  Tensor x = testing::random_tensor(shape, 7);
  const int r = static_cast<int>(shape.size());
  std::vector<std::pair<Op, std::vector<Tensor>>> cases;
  cases.push_back({Op("Concat", 13).i("axis", -1), {x, x}});
  cases.push_back({Op("Slice", 13), {x, i64({1, -2}), i64({INT64_MAX, 0}), i64({-1, r - 2}), i64({2, -1})}});
  std::vector<int64_t> pads(2 * r, 1);
  pads[r - 1] = 3;
  cases.push_back({Op("Pad", 13).s("mode", "reflect"), {x, i64(pads)}});
  cases.push_back({Op("Pad", 13).s("mode", "edge"), {x, i64(pads)}});
  cases.push_back({Op("Gather", 13).i("axis", r - 1), {x, i64({0, -1, 2})}});
  std::vector<int64_t> reps(r, 1);
  reps[0] = 2;
  reps[r - 1] = 3;
  cases.push_back({Op("Tile", 13), {x, i64(reps)}});
  cases.push_back({Op("Expand", 13), {x, i64({2, 1, 1, 1, 1})}});
  for (auto& [op, in] : cases) {
    CAPTURE(op.node.op_type);
    Tensor one = out0(op.run(in, false, 1));
    Tensor two = out0(op.run(in, false, 2));
    REQUIRE(one.shape() == two.shape());
    CHECK(std::memcmp(one.raw(), two.raw(), one.nbytes()) == 0);
  }
}
