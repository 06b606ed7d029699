// Integer helpers for tiling and blocking arithmetic (non-negative operands).
#pragma once
#include <cstdint>

namespace cvt {

/// ceil(v / d) for v >= 0, d > 0.
constexpr int64_t ceil_div(int64_t v, int64_t d) { return (v + d - 1) / d; }
/// v rounded up to a multiple of m (v >= 0, m > 0).
constexpr int64_t round_up(int64_t v, int64_t m) { return ceil_div(v, m) * m; }

}  // namespace cvt
