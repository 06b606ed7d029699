// Elementwise op family: dtype visiting, the scalar functors that define each
// op's semantics (shared by the fast and reference loops), and the loop entry points.
// No loops here: eltwise_binary.cpp / eltwise_unary.cpp (fast), eltwise_ref.cpp (oracle).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/kernel.h"

namespace cvt {

// ---- dtype visiting ------------------------------------------------------------
template <class T> struct TypeTag { using type = T; };
template <class... Ts> struct TypeList {};

using FloatTypes = TypeList<float, double>;
using SignedTypes = TypeList<float, double, int8_t, int16_t, int32_t, int64_t>;
using IntTypes = TypeList<int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t>;
using UnsignedTypes = TypeList<uint8_t, uint16_t, uint32_t, uint64_t>;
using NumericTypes =
    TypeList<float, double, int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t>;
using BoolTypes = TypeList<bool>;

/// Calls fn(TypeTag<T>{}) for the C++ type of `t` if it is one of Ts; false otherwise.
template <class Fn, class... Ts>
bool visit_dtype(DType t, TypeList<Ts...>, Fn&& fn) {
  return ((dtype_of<Ts>() == t ? (fn(TypeTag<Ts>{}), true) : false) || ...);
}

inline Status dtype_unsupported(const std::string& op, DType t) {
  return unsupported(op + " does not support dtype " + dtype_name(t));
}

// ---- scalar semantics ----------------------------------------------------------
namespace elt {

// Integer arithmetic wraps (two's complement) instead of being undefined behaviour.
template <class T>
using WrapType = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
template <class T> inline T add(T a, T b) {
  if constexpr (std::is_integral_v<T>) return T(WrapType<T>(a) + WrapType<T>(b));
  else return a + b;
}
template <class T> inline T sub(T a, T b) {
  if constexpr (std::is_integral_v<T>) return T(WrapType<T>(a) - WrapType<T>(b));
  else return a - b;
}
template <class T> inline T mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) return T(WrapType<T>(a) * WrapType<T>(b));
  else return a * b;
}

struct Add { template <class T> T operator()(T a, T b) const { return add(a, b); } };
struct Sub { template <class T> T operator()(T a, T b) const { return sub(a, b); } };
struct Mul { template <class T> T operator()(T a, T b) const { return mul(a, b); } };
struct Div {
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return 0;  // ONNX leaves it undefined; C would trap, so define it as 0
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return sub(T(0), a);  // avoids the INT_MIN / -1 trap
      return T(a / b);  // C++ truncates toward zero, as ONNX asks for integers
    } else {
      return a / b;
    }
  }
};
// NaN in either operand propagates (numpy maximum / minimum).
struct Max {
  template <class T> T operator()(T a, T b) const { return (a > b || a != a) ? a : b; }
};
struct Min {
  template <class T> T operator()(T a, T b) const { return (a < b || a != a) ? a : b; }
};
// fmod=0: result takes the divisor's sign (Python %); fmod=1: the dividend's (C fmod).
struct Mod {
  bool fmod = false;
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      T r = std::fmod(a, b);
      if (!fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
      return r;
    } else {
      if (b == 0) return 0;  // undefined in ONNX; avoid the trap
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return 0;
      T r = T(a % b);
      if constexpr (std::is_signed_v<T>)
        if (!fmod && r != 0 && ((r < 0) != (b < 0))) r = T(r + b);
      return r;
    }
  }
};
struct BitShift {
  bool left = true;
  template <class T> T operator()(T a, T b) const {
    if (b >= T(sizeof(T) * 8)) return 0;  // C leaves over-wide shifts undefined
    return left ? T(a << b) : T(a >> b);
  }
};
struct Equal { template <class T> bool operator()(T a, T b) const { return a == b; } };
struct Greater { template <class T> bool operator()(T a, T b) const { return a > b; } };
struct GreaterOrEqual { template <class T> bool operator()(T a, T b) const { return a >= b; } };
struct Less { template <class T> bool operator()(T a, T b) const { return a < b; } };
struct LessOrEqual { template <class T> bool operator()(T a, T b) const { return a <= b; } };
struct And { bool operator()(bool a, bool b) const { return a && b; } };
struct Or { bool operator()(bool a, bool b) const { return a || b; } };
struct Xor { bool operator()(bool a, bool b) const { return a != b; } };

// Integer powers are exact (repeated squaring, wrapping); anything with a float goes through pow.
template <class TB, class TE> inline TB pow_value(TB base, TE exponent) {
  if constexpr (std::is_integral_v<TB> && std::is_integral_v<TE>) {
    if constexpr (std::is_signed_v<TE>) {
      if (exponent < 0) {
        if (base == 1) return 1;
        if constexpr (std::is_signed_v<TB>)
          if (base == TB(-1)) return (exponent % 2 == 0) ? TB(1) : TB(-1);
        return 0;  // |base| > 1: the exact result truncates to 0
      }
    }
    TB result = 1;
    uint64_t e = static_cast<uint64_t>(exponent);
    while (e) {
      if (e & 1) result = mul(result, base);
      base = mul(base, base);
      e >>= 1;
    }
    return result;
  } else if constexpr (std::is_same_v<TB, float> && std::is_same_v<TE, float>) {
    return std::pow(base, exponent);
  } else if constexpr (std::is_integral_v<TB>) {
    double r = std::pow(static_cast<double>(base), static_cast<double>(exponent));
    // Out-of-range float -> int conversion is undefined; saturate instead.
    if (!(r == r)) return 0;
    if (r >= static_cast<double>(std::numeric_limits<TB>::max())) return std::numeric_limits<TB>::max();
    if (r <= static_cast<double>(std::numeric_limits<TB>::lowest())) return std::numeric_limits<TB>::lowest();
    return static_cast<TB>(r);
  } else {
    return static_cast<TB>(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
  }
}
struct Pow {
  template <class TB, class TE> TB operator()(TB a, TE b) const { return pow_value(a, b); }
};

}  // namespace elt

// ---- op descriptions -----------------------------------------------------------
enum class BinaryOp {
  kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod, kBitShift,
  kEqual, kGreater, kGreaterOrEqual, kLess, kLessOrEqual, kAnd, kOr, kXor,
};
struct BinaryAttrs {
  bool fmod = false;        // Mod
  bool shift_left = true;   // BitShift
};
const char* binary_op_name(BinaryOp op);

/// Calls body(fn, TypeTag<A>, TypeTag<B>, TypeTag<Out>) with the functor of `op` for
/// operand dtypes (ta, tb); returns the body's Status or a clear dtype error.
template <class Body>
Status visit_binary(BinaryOp op, const BinaryAttrs& attrs, DType ta, DType tb, Body&& body) {
  const std::string name = binary_op_name(op);
  Status result;
  auto same_type = [&](auto fn, auto types) -> Status {
    if (ta != tb)
      return invalid_model(name + ": operand dtypes differ (" + dtype_name(ta) + " vs " + dtype_name(tb) + ")");
    if (!visit_dtype(ta, types, [&](auto tag) { result = body(fn, tag, tag, tag); }))
      return dtype_unsupported(name, ta);
    return result;
  };
  auto compare = [&](auto fn, auto types) -> Status {
    if (ta != tb)
      return invalid_model(name + ": operand dtypes differ (" + dtype_name(ta) + " vs " + dtype_name(tb) + ")");
    if (!visit_dtype(ta, types, [&](auto tag) { result = body(fn, tag, tag, TypeTag<bool>{}); }))
      return dtype_unsupported(name, ta);
    return result;
  };
  switch (op) {
    case BinaryOp::kAdd: return same_type(elt::Add{}, NumericTypes{});
    case BinaryOp::kSub: return same_type(elt::Sub{}, NumericTypes{});
    case BinaryOp::kMul: return same_type(elt::Mul{}, NumericTypes{});
    case BinaryOp::kDiv: return same_type(elt::Div{}, NumericTypes{});
    case BinaryOp::kMax: return same_type(elt::Max{}, NumericTypes{});
    case BinaryOp::kMin: return same_type(elt::Min{}, NumericTypes{});
    case BinaryOp::kMod:
      if (!attrs.fmod && (ta == DType::kFloat32 || ta == DType::kFloat64))
        return invalid_model("Mod: floating-point inputs need fmod=1");
      return same_type(elt::Mod{attrs.fmod}, NumericTypes{});
    case BinaryOp::kBitShift: return same_type(elt::BitShift{attrs.shift_left}, UnsignedTypes{});
    case BinaryOp::kEqual: return compare(elt::Equal{}, TypeList<bool, float, double, int8_t, uint8_t, int16_t,
                                                                 uint16_t, int32_t, uint32_t, int64_t, uint64_t>{});
    case BinaryOp::kGreater: return compare(elt::Greater{}, NumericTypes{});
    case BinaryOp::kGreaterOrEqual: return compare(elt::GreaterOrEqual{}, NumericTypes{});
    case BinaryOp::kLess: return compare(elt::Less{}, NumericTypes{});
    case BinaryOp::kLessOrEqual: return compare(elt::LessOrEqual{}, NumericTypes{});
    case BinaryOp::kAnd: return compare(elt::And{}, BoolTypes{});
    case BinaryOp::kOr: return compare(elt::Or{}, BoolTypes{});
    case BinaryOp::kXor: return compare(elt::Xor{}, BoolTypes{});
    case BinaryOp::kPow: {
      // Base and exponent dtypes may differ (opset 12+); the result has the base's dtype.
      bool base_ok = visit_dtype(ta, TypeList<float, double, int32_t, int64_t>{}, [&](auto base) {
        if (!visit_dtype(tb, NumericTypes{},
                         [&](auto exponent) { result = body(elt::Pow{}, base, exponent, base); }))
          result = dtype_unsupported("Pow exponent", tb);
      });
      return base_ok ? result : dtype_unsupported("Pow base", ta);
    }
  }
  return internal_error("unknown binary op");
}

enum class UnaryOp {
  kExp, kLog, kSqrt, kNeg, kAbs, kReciprocal, kFloor, kCeil, kRound, kSign, kErf,
  kSin, kCos, kTan, kAsin, kAcos, kAtan, kSinh, kCosh, kAsinh, kAcosh, kAtanh,
  kIsNaN, kIsInf, kNot,
};
struct UnaryAttrs {
  bool detect_negative = true;  // IsInf
  bool detect_positive = true;
};
const char* unary_op_name(UnaryOp op);

namespace elt {
template <class F> struct FloatUnary {
  F f;
  template <class T> T operator()(T x) const { return f(x); }
};
template <class F> FloatUnary(F) -> FloatUnary<F>;
struct Neg { template <class T> T operator()(T x) const { return sub(T(0), x); } };
struct Abs {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_unsigned_v<T>) return x;
    else if constexpr (std::is_floating_point_v<T>) return std::fabs(x);
    else return x < 0 ? sub(T(0), x) : x;
  }
};
struct Sign {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>)
      if (x != x) return x;
    return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  }
};
struct Not { bool operator()(bool x) const { return !x; } };
struct IsNaN { template <class T> bool operator()(T x) const { return x != x; } };
struct IsInf {
  bool negative = true, positive = true;
  template <class T> bool operator()(T x) const {
    return (positive && x == std::numeric_limits<T>::infinity()) ||
           (negative && x == -std::numeric_limits<T>::infinity());
  }
};
}  // namespace elt

/// Calls body(fn, TypeTag<In>, TypeTag<Out>) with the functor of `op` for dtype t.
template <class Body>
Status visit_unary(UnaryOp op, const UnaryAttrs& attrs, DType t, Body&& body) {
  const std::string name = unary_op_name(op);
  Status result;
  // to_bool is std::true_type for predicates (IsNaN, IsInf), std::false_type otherwise.
  auto run = [&](auto fn, auto types, auto to_bool) -> Status {
    if (!visit_dtype(t, types, [&](auto tag) {
          if constexpr (decltype(to_bool)::value) result = body(fn, tag, TypeTag<bool>{});
          else result = body(fn, tag, tag);
        }))
      return dtype_unsupported(name, t);
    return result;
  };
  constexpr std::false_type same{};
  // Float-only math: one generic lambda per op keeps the float and double paths identical.
#define CVT_FLOAT_UNARY(expr) run(elt::FloatUnary{[](auto x) { return decltype(x)(expr); }}, FloatTypes{}, same)
  switch (op) {
    case UnaryOp::kExp: return CVT_FLOAT_UNARY(std::exp(x));
    case UnaryOp::kLog: return CVT_FLOAT_UNARY(std::log(x));
    case UnaryOp::kSqrt: return CVT_FLOAT_UNARY(std::sqrt(x));
    case UnaryOp::kReciprocal: return CVT_FLOAT_UNARY(decltype(x)(1) / x);
    case UnaryOp::kFloor: return CVT_FLOAT_UNARY(std::floor(x));
    case UnaryOp::kCeil: return CVT_FLOAT_UNARY(std::ceil(x));
    case UnaryOp::kRound: return CVT_FLOAT_UNARY(std::nearbyint(x));  // default mode: half to even
    case UnaryOp::kErf: return CVT_FLOAT_UNARY(std::erf(x));
    case UnaryOp::kSin: return CVT_FLOAT_UNARY(std::sin(x));
    case UnaryOp::kCos: return CVT_FLOAT_UNARY(std::cos(x));
    case UnaryOp::kTan: return CVT_FLOAT_UNARY(std::tan(x));
    case UnaryOp::kAsin: return CVT_FLOAT_UNARY(std::asin(x));
    case UnaryOp::kAcos: return CVT_FLOAT_UNARY(std::acos(x));
    case UnaryOp::kAtan: return CVT_FLOAT_UNARY(std::atan(x));
    case UnaryOp::kSinh: return CVT_FLOAT_UNARY(std::sinh(x));
    case UnaryOp::kCosh: return CVT_FLOAT_UNARY(std::cosh(x));
    case UnaryOp::kAsinh: return CVT_FLOAT_UNARY(std::asinh(x));
    case UnaryOp::kAcosh: return CVT_FLOAT_UNARY(std::acosh(x));
    case UnaryOp::kAtanh: return CVT_FLOAT_UNARY(std::atanh(x));
    case UnaryOp::kNeg: return run(elt::Neg{}, SignedTypes{}, same);
    case UnaryOp::kAbs: return run(elt::Abs{}, NumericTypes{}, same);
    case UnaryOp::kSign: return run(elt::Sign{}, NumericTypes{}, same);
    case UnaryOp::kNot: return run(elt::Not{}, BoolTypes{}, same);
    case UnaryOp::kIsNaN: return run(elt::IsNaN{}, FloatTypes{}, std::true_type{});
    case UnaryOp::kIsInf:
      return run(elt::IsInf{attrs.detect_negative, attrs.detect_positive}, FloatTypes{}, std::true_type{});
  }
#undef CVT_FLOAT_UNARY
  return internal_error("unknown unary op");
}

// ---- loops ---------------------------------------------------------------------
/// out = op(a, b) with numpy broadcasting to out_shape (which both operands must
/// broadcast to); `out` is allocated by the caller with the right dtype.
Status binary_fast(BinaryOp op, const BinaryAttrs& attrs, const Tensor& a, const Shape& a_shape,
                   const Tensor& b, const Shape& b_shape, Tensor& out);
Status binary_ref(BinaryOp op, const BinaryAttrs& attrs, const Tensor& a, const Shape& a_shape,
                  const Tensor& b, const Shape& b_shape, Tensor& out);
/// Output dtype of op for operand dtypes (error when unsupported).
Result<DType> binary_out_dtype(BinaryOp op, const BinaryAttrs& attrs, DType ta, DType tb);

Status unary_fast(UnaryOp op, const UnaryAttrs& attrs, const Tensor& x, Tensor& out);
Status unary_ref(UnaryOp op, const UnaryAttrs& attrs, const Tensor& x, Tensor& out);
Result<DType> unary_out_dtype(UnaryOp op, const UnaryAttrs& attrs, DType t);

/// out = cond ? x : y, three-way broadcast to out's shape.
void where_fast(const Tensor& cond, const Tensor& x, const Tensor& y, Tensor& out);
void where_ref(const Tensor& cond, const Tensor& x, const Tensor& y, Tensor& out);

/// Registers the unary ops (called from register_eltwise_ops).
void register_eltwise_unary_ops(std::vector<OpSchema>& t);

}  // namespace cvt
