// Reduction op family: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax.
// Shape rules and the per-element semantics (accumulator, empty-set values) shared
// by the fast paths (reduce.cpp, reduce_softmax.cpp) and the oracle (reduce_ref.cpp).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/eltwise.h"
#include "ops/kernel.h"

namespace cvt {

enum class ReduceOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

/// Which axes of x are reduced. `axes` may be negative; duplicates and out-of-range
/// axes are errors. Empty axes reduce everything, or nothing with noop_with_empty_axes.
Result<std::vector<bool>> reduce_axis_mask(int rank, const std::vector<int64_t>& axes, bool noop_with_empty_axes);
Shape reduce_out_shape(const Shape& x, const std::vector<bool>& mask, bool keepdims);

/// x with adjacent dims of equal reduced-ness merged and size-1 dims dropped.
/// When at most one merged block is reduced, x is (outer, count, inner) with the
/// reduced block in the middle: the shape every fast loop wants.
struct ReduceLayout {
  std::vector<int64_t> dims;
  std::vector<bool> reduced;
  int64_t out_count = 1, reduce_count = 1;
  bool single_block = true;
  int64_t outer = 1, count = 1, inner = 1;  // valid when single_block
};
ReduceLayout make_reduce_layout(const Shape& x, const std::vector<bool>& mask);

/// L2, LogSum and LogSumExp are only defined here for float and double inputs.
inline bool reduce_needs_float(ReduceOp op) {
  return op == ReduceOp::kL2 || op == ReduceOp::kLogSum || op == ReduceOp::kLogSumExp;
}

/// Accumulators: double for floats (exact for float inputs, and stable sums),
/// 64-bit for integers (wrapping like the integer ops).
template <class T>
using ReduceAcc = std::conditional_t<std::is_floating_point_v<T>, double,
                                     std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

/// Per-op semantics. LogSumExp runs two passes: a Max pass gives `shift`, then the
/// sum of exp(v - shift); every other op ignores `shift`.
template <class T>
struct Reduction {
  using Acc = ReduceAcc<T>;
  static Acc init(ReduceOp op) {
    switch (op) {
      case ReduceOp::kProd: return Acc(1);
      case ReduceOp::kMax:
        return std::is_floating_point_v<T> ? Acc(-std::numeric_limits<double>::infinity()) : Acc(std::numeric_limits<T>::lowest());
      case ReduceOp::kMin:
        return std::is_floating_point_v<T> ? Acc(std::numeric_limits<double>::infinity()) : Acc(std::numeric_limits<T>::max());
      default: return Acc(0);
    }
  }
  static Acc step(ReduceOp op, Acc acc, T v, double shift) {
    const Acc a = static_cast<Acc>(v);
    switch (op) {
      case ReduceOp::kProd: return elt::mul(acc, a);
      case ReduceOp::kMax: return (acc > a || acc != acc) ? acc : a;  // NaN wins
      case ReduceOp::kMin: return (acc < a || acc != acc) ? acc : a;
      case ReduceOp::kL1: return elt::add(acc, elt::Abs{}(a));
      case ReduceOp::kL2: case ReduceOp::kSumSquare: return elt::add(acc, elt::mul(a, a));
      case ReduceOp::kLogSumExp: return acc + static_cast<Acc>(std::exp(static_cast<double>(a) - shift));
      default: return elt::add(acc, a);
    }
  }
  static T finish(ReduceOp op, Acc acc, int64_t count, double shift) {
    switch (op) {
      case ReduceOp::kMean:
        if constexpr (std::is_floating_point_v<T>) return static_cast<T>(acc / static_cast<double>(count));  // 0/0: NaN
        else return count ? static_cast<T>(acc / static_cast<Acc>(count)) : T(0);
      case ReduceOp::kL2: return static_cast<T>(std::sqrt(static_cast<double>(acc)));
      case ReduceOp::kLogSum: return static_cast<T>(std::log(static_cast<double>(acc)));
      case ReduceOp::kLogSumExp:
        if (!std::isfinite(shift)) return static_cast<T>(shift);  // all -inf (or empty): -inf; +inf / NaN propagate
        return static_cast<T>(shift + std::log(static_cast<double>(acc)));
      default: return static_cast<T>(acc);
    }
  }
};

void reduce_fast(ReduceOp op, const ReduceLayout& l, const Tensor& x, Tensor& y);
void reduce_ref(ReduceOp op, const std::vector<bool>& mask, const Tensor& x, Tensor& y);

/// ArgMax / ArgMin over the middle dim of x viewed as (outer, count, inner); count > 0.
/// Ties take the first index (or the last with select_last); NaN counts as the extreme.
void arg_reduce_fast(bool is_max, bool select_last, int64_t outer, int64_t count, int64_t inner, const Tensor& x,
                     int64_t* out);
void arg_reduce_ref(bool is_max, bool select_last, int64_t outer, int64_t count, int64_t inner, const Tensor& x,
                    int64_t* out);
template <class T>
inline bool arg_better(bool is_max, bool select_last, T v, T best) {
  if (best != best) return select_last && v != v;  // a NaN best is only replaced by a later NaN
  if (v != v) return true;
  if (select_last) return is_max ? v >= best : v <= best;
  return is_max ? v > best : v < best;
}

/// Softmax family over the middle dim of x viewed as (outer, count, inner).
enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };
void softmax_fast(SoftmaxKind kind, int64_t outer, int64_t count, int64_t inner, const Tensor& x, Tensor& y);
void softmax_ref(SoftmaxKind kind, int64_t outer, int64_t count, int64_t inner, const Tensor& x, Tensor& y);

/// Registers Softmax / LogSoftmax / Hardmax (from register_reduce_ops).
void register_softmax_ops(std::vector<OpSchema>& t);

}  // namespace cvt
