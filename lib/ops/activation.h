// Activation op family (Relu ... Mish, Gelu, PRelu, Clip): parameters, the scalar
// definition of each function (the reference semantics), and loop entry points.
// activation.cpp: factories + fast path; activation_ref.cpp: oracle; x86/activation_avx2.cpp and
// x86/activation_avx512.cpp: SIMD.
#pragma once
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/status.h"
#include "core/tensor.h"

namespace cvt {

enum class ActKind {
  kRelu, kLeakyRelu, kSigmoid, kTanh, kHardSigmoid, kHardSwish, kElu, kSelu, kCelu,
  kSoftplus, kSoftsign, kMish, kGelu, kGeluTanh, kThresholdedRelu, kShrink,
};

struct ActParams {
  ActKind kind = ActKind::kRelu;
  float alpha = 0;  // LeakyRelu, Elu, Selu, Celu, HardSigmoid, ThresholdedRelu
  float beta = 0;   // HardSigmoid; Shrink bias
  float gamma = 0;  // Selu; Shrink lambd
};

/// x < 0 ? slope * x : x, written as max(x, 0) + slope * min(x, 0): exact (one term is
/// +-0), NaN-preserving, and branch-free so loops vectorise (a conditional multiply
/// is not if-converted under -ftrapping-math).
template <class T>
inline T leaky_value(T x, T slope) {
  return static_cast<T>(std::max(x, T(0)) + slope * std::min(x, T(0)));
}

/// The definition every path must agree with (T = float or double), one function
/// per kind so that loops over a fixed kind inline to straight-line code.
template <ActKind K, class T>
inline T activation_of(const ActParams& p, T x) {
  using std::exp;
  const T alpha = static_cast<T>(p.alpha);
  if constexpr (K == ActKind::kRelu) return x < T(0) ? T(0) : x;  // NaN passes through
  else if constexpr (K == ActKind::kLeakyRelu) return leaky_value(x, alpha);
  else if constexpr (K == ActKind::kSigmoid) return x >= T(0) ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
  else if constexpr (K == ActKind::kTanh) return std::tanh(x);
  else if constexpr (K == ActKind::kHardSigmoid) return std::max(T(0), std::min(T(1), alpha * x + static_cast<T>(p.beta)));
  else if constexpr (K == ActKind::kHardSwish) return x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5)));
  else if constexpr (K == ActKind::kElu) return x < T(0) ? alpha * std::expm1(x) : x;
  else if constexpr (K == ActKind::kSelu) return static_cast<T>(p.gamma) * (x <= T(0) ? alpha * std::expm1(x) : x);
  else if constexpr (K == ActKind::kCelu) return std::max(T(0), x) + std::min(T(0), alpha * std::expm1(x / alpha));
  else if constexpr (K == ActKind::kSoftplus) return x > T(0) ? x + std::log1p(exp(-x)) : std::log1p(exp(x));
  else if constexpr (K == ActKind::kSoftsign) return x / (T(1) + std::fabs(x));
  else if constexpr (K == ActKind::kMish) return x * std::tanh(activation_of<ActKind::kSoftplus>(p, x));
  else if constexpr (K == ActKind::kGelu) return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
  else if constexpr (K == ActKind::kGeluTanh)
    return T(0.5) * x * (T(1) + std::tanh(T(0.79788456080286535588) * (x + T(0.044715) * x * x * x)));
  else if constexpr (K == ActKind::kThresholdedRelu) return x > alpha ? x : T(0);
  else {
    static_assert(K == ActKind::kShrink);
    const T bias = static_cast<T>(p.beta), lambd = static_cast<T>(p.gamma);
    return x < -lambd ? x + bias : (x > lambd ? x - bias : T(0));
  }
}

/// Calls fn(std::integral_constant<ActKind, K>) for the runtime kind.
template <class Fn>
inline decltype(auto) visit_act_kind(ActKind kind, Fn&& fn) {
  switch (kind) {
#define CVT_ACT_CASE(K) \
  case ActKind::K: return fn(std::integral_constant<ActKind, ActKind::K>{});
    CVT_ACT_CASE(kRelu) CVT_ACT_CASE(kLeakyRelu) CVT_ACT_CASE(kSigmoid) CVT_ACT_CASE(kTanh)
    CVT_ACT_CASE(kHardSigmoid) CVT_ACT_CASE(kHardSwish) CVT_ACT_CASE(kElu) CVT_ACT_CASE(kSelu)
    CVT_ACT_CASE(kCelu) CVT_ACT_CASE(kSoftplus) CVT_ACT_CASE(kSoftsign) CVT_ACT_CASE(kMish)
    CVT_ACT_CASE(kGelu) CVT_ACT_CASE(kGeluTanh) CVT_ACT_CASE(kThresholdedRelu)
#undef CVT_ACT_CASE
    case ActKind::kShrink: break;
  }
  return fn(std::integral_constant<ActKind, ActKind::kShrink>{});
}

template <class T>
inline T activation_float_value(const ActParams& p, T x) {
  return visit_act_kind(p.kind, [&](auto k) { return activation_of<decltype(k)::value>(p, x); });
}

/// Same, for any dtype: only Relu accepts integers.
template <class T>
inline T activation_value(const ActParams& p, T x) {
  if constexpr (std::is_integral_v<T>) return x < T(0) ? T(0) : x;
  else return activation_float_value(p, x);
}

/// Integer activations only exist for Relu; everything else needs float.
inline bool activation_allows_integers(ActKind k) { return k == ActKind::kRelu; }

/// y = f(x) elementwise; y has x's dtype and shape.
void activation_fast(const ActParams& p, const Tensor& x, Tensor& y);
void activation_ref(const ActParams& p, const Tensor& x, Tensor& y);
/// y = x < 0 ? slope * x : x, slope broadcast (unidirectionally) as `slope_shape`.
void prelu_fast(const Tensor& x, const Tensor& slope, const Shape& slope_shape, Tensor& y);
void prelu_ref(const Tensor& x, const Tensor& slope, const Shape& slope_shape, Tensor& y);
/// y = min(max(x, lo), hi); lo and hi are one-element tensors of x's dtype. When lo > hi
/// every output is hi (ONNX). NaN passes through.
void clip_fast(const Tensor& x, const Tensor& lo, const Tensor& hi, Tensor& y);
void clip_ref(const Tensor& x, const Tensor& lo, const Tensor& hi, Tensor& y);
template <class T>
inline T clip_value(T x, T lo, T hi) {
  const T v = x < lo ? lo : x;
  return v > hi ? hi : v;
}

// AVX2+FMA kernels (x86/activation_avx2.cpp); x and y may alias. Max error ~2 ulp.
void exp_f32__avx2(const float* x, float* y, int64_t n) noexcept;
void sigmoid_f32__avx2(const float* x, float* y, int64_t n) noexcept;
/// x * sigmoid(x) with the same rounding as sigmoid_f32__avx2 then a multiply.
void silu_f32__avx2(const float* x, float* y, int64_t n) noexcept;
void tanh_f32__avx2(const float* x, float* y, int64_t n) noexcept;
void mish_f32__avx2(const float* x, float* y, int64_t n) noexcept;
// AVX-512 twins (x86/activation_avx512.cpp): the same bits as the AVX2 kernels above.
void exp_f32__avx512(const float* x, float* y, int64_t n) noexcept;
void sigmoid_f32__avx512(const float* x, float* y, int64_t n) noexcept;
void silu_f32__avx512(const float* x, float* y, int64_t n) noexcept;
void tanh_f32__avx512(const float* x, float* y, int64_t n) noexcept;
void mish_f32__avx512(const float* x, float* y, int64_t n) noexcept;

/// The float functions with SIMD kernels above.
enum class FloatMap { kExp, kSigmoid, kSilu, kTanh, kMish };
/// One of the kernels above, chosen for an ISA: the widest it runs, or nullptr below
/// AVX2 (the caller's portable loop). `name` is "avx512" or "avx2", for impl strings.
struct FloatMapKernel {
  void (*fn)(const float*, float*, int64_t) noexcept = nullptr;
  const char* name = "";
  explicit operator bool() const { return fn != nullptr; }
};
FloatMapKernel float_map_kernel(FloatMap f, Isa isa);

}  // namespace cvt
