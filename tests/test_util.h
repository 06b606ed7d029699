// Shared helpers for the Catch2 suite.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>

#include "core/tensor.h"

namespace cvt::testing {

// Seeded uniform random tensor in [lo, hi).
inline Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::kFloat32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = u(rng);
  return t;
}

// |a-b| <= atol + rtol*|ref| element-wise (llm.c's validate_result).
// Returns "" when all close, or a description of the first mismatch.
inline std::string compare_tensors(const Tensor& out, const Tensor& ref, double atol, double rtol) {
  std::ostringstream os;
  if (out.shape() != ref.shape()) {
    os << "shape " << shape_str(out.shape()) << " != expected " << shape_str(ref.shape());
    return os.str();
  }
  if (out.dtype() != ref.dtype()) {
    os << "dtype " << dtype_name(out.dtype()) << " != expected " << dtype_name(ref.dtype());
    return os.str();
  }
  auto a = out.to_float_vector();
  auto b = ref.to_float_vector();
  if (out.dtype() == DType::kFloat64) {
    // keep double precision for double tensors
    const double* x = out.data<double>();
    const double* y = ref.data<double>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      bool both_nan = std::isnan(x[i]) && std::isnan(y[i]);
      if (!both_nan && !(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i]))) {
        os << "first mismatch at flat index " << i << ": got " << x[i] << " expected " << y[i];
        return os.str();
      }
    }
    return "";
  }
  double max_err = 0;
  int64_t first = -1;
  for (int64_t i = 0; i < out.numel(); ++i) {
    bool both_nan = std::isnan(a[i]) && std::isnan(b[i]);
    bool both_inf = std::isinf(a[i]) && std::isinf(b[i]) && (a[i] > 0) == (b[i] > 0);
    if (both_nan || both_inf) continue;
    double err = std::fabs(double(a[i]) - double(b[i]));
    max_err = std::max(max_err, err);
    if (first < 0 && !(err <= atol + rtol * std::fabs(double(b[i])))) first = i;
  }
  if (first < 0) return "";
  os << "first mismatch at flat index " << first << ": got " << a[first] << " expected " << b[first]
     << " (max abs err " << max_err << ", shape " << shape_str(ref.shape()) << ")";
  return os.str();
}

}  // namespace cvt::testing

#define CHECK_TENSOR_NEAR(out, ref, atol, rtol)                                  \
  do {                                                                           \
    std::string cvt_cmp_ = ::cvt::testing::compare_tensors((out), (ref), (atol), (rtol)); \
    INFO(cvt_cmp_);                                                              \
    CHECK(cvt_cmp_.empty());                                                     \
  } while (0)

// Catch2 v2 has no SKIP: warn visibly and leave the test case.
#ifndef SKIP
#define SKIP(msg)                        \
  do {                                   \
    WARN("SKIPPED: " << msg);            \
    return;                              \
  } while (0)
#endif

#define REQUIRE_OK(expr)                         \
  do {                                           \
    auto&& cvt_req_ = (expr);                    \
    INFO(cvt_req_.status().to_string());         \
    REQUIRE(cvt_req_.is_ok());                   \
  } while (0)
