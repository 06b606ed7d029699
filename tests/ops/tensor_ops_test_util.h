// Test helpers for the shape / tensor / resize op families: a fluent NodeDesc
// builder run through run_single_op, tensor literals and result accessors.
// The helpers every op test shares (values<T>, run, ...) are in op_test_util.h.
#pragma once
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "ops/op_runner.h"
#include "ops/op_test_util.h"
#include "test_util.h"

namespace cvt::op_test {

// Builds a NodeDesc fluently and runs it through run_single_op.
struct Op {
  NodeDesc node;
  Op(const char* type, int opset) {
    node.op_type = type;
    node.opset = opset;
  }
  Op& i(const std::string& n, int64_t v) { return set(n, Attribute::Kind::kInt, [&](Attribute& a) { a.i = v; }); }
  Op& f(const std::string& n, float v) { return set(n, Attribute::Kind::kFloat, [&](Attribute& a) { a.f = v; }); }
  Op& s(const std::string& n, std::string v) { return set(n, Attribute::Kind::kString, [&](Attribute& a) { a.s = v; }); }
  Op& ints(const std::string& n, std::vector<int64_t> v) { return set(n, Attribute::Kind::kInts, [&](Attribute& a) { a.ints = v; }); }
  Op& floats(const std::string& n, std::vector<float> v) { return set(n, Attribute::Kind::kFloats, [&](Attribute& a) { a.floats = v; }); }
  Op& t(const std::string& n, const Tensor& v) {
    return set(n, Attribute::Kind::kTensor, [&](Attribute& a) { a.tensor = std::make_shared<Tensor>(v); });
  }
  Op& outputs(int n) {
    node.outputs.clear();
    for (int k = 0; k < n; ++k) node.outputs.push_back("out" + std::to_string(k));
    return *this;
  }
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& in, bool ref = false, int threads = 1) const {
    return op_test::run(node, in, ref, threads);
  }
  template <typename Fill>
  Op& set(const std::string& n, Attribute::Kind kind, Fill fill) {
    Attribute a;
    a.kind = kind;
    fill(a);
    node.attrs.set(n, a);
    return *this;
  }
};

inline Tensor i64(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }
inline Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
inline Tensor iota_f32(Shape s) {
  Tensor t(DType::kFloat32, s);
  std::iota(t.data<float>(), t.data<float>() + t.numel(), 0.f);
  return t;
}

// The single output of a run that must succeed.
inline Tensor out0(const Result<std::vector<Tensor>>& r) {
  INFO(r.status().to_string());
  REQUIRE(r.is_ok());
  return r.value()[0];
}

inline ErrorCode code_of(const Result<std::vector<Tensor>>& r) {
  INFO("expected an error, got ok");
  REQUIRE_FALSE(r.is_ok());
  return r.status().code();
}

// Typed literal (read back with values<T>).
template <typename T>
Tensor lit(Shape s, std::vector<T> v) {
  return Tensor::from_vector<T>(std::move(s), v);
}

}  // namespace cvt::op_test
