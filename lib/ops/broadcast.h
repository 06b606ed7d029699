// Multidirectional (numpy) broadcasting: output shapes and a merged stride plan
// that elementwise kernels walk row by row. Shape logic only, no arithmetic.
#pragma once
#include <algorithm>
#include <array>
#include <vector>

#include "core/parallel.h"
#include "core/status.h"
#include "core/tensor.h"

namespace cvt {

/// numpy rule: shapes are right-aligned and each dim is equal or 1.
Result<Shape> broadcast_shapes(const std::vector<Shape>& shapes);
/// True when `from` broadcasts to `to` without changing `to` (unidirectional).
bool broadcasts_to(const Shape& from, const Shape& to);
/// Element strides of an input of shape `in` read as `out` (rank of out; 0 where broadcast).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

/// Walks an output whose inputs broadcast to it. Adjacent dims merge when every
/// input is contiguous across them or broadcast along both, so same-shape
/// operands become one dim and a per-channel bias becomes [N*C, HW] with the
/// bias stride 0 in the inner dim.
class BroadcastPlan {
 public:
  static constexpr int kMaxInputs = 3;

  /// Every input must broadcast to `out` (callers check with broadcasts_to).
  BroadcastPlan(const Shape& out, const std::vector<Shape>& inputs);

  int num_inputs() const { return num_inputs_; }
  int64_t numel() const { return numel_; }
  /// Length of the innermost merged dim; the output is rows() x inner() contiguous.
  int64_t inner() const { return dims_.back(); }
  int64_t rows() const { return inner() == 0 ? 0 : numel_ / inner(); }
  /// Stride of input k along the inner dim: 1 (walks) or 0 (repeats one value).
  int64_t inner_stride(int k) const { return strides_[k].back(); }

  /// Input offsets for consecutive output rows, starting at `row`.
  class Cursor {
   public:
    Cursor(const BroadcastPlan& plan, int64_t row);
    int64_t offset(int k) const { return offsets_[k]; }
    void next();

   private:
    const BroadcastPlan& plan_;
    std::array<int64_t, Limits::kMaxRank> index_{};
    std::array<int64_t, kMaxInputs> offsets_{};
  };
  Cursor cursor(int64_t row) const { return Cursor(*this, row); }

 private:
  int num_inputs_ = 0;
  int64_t numel_ = 0;
  std::vector<int64_t> dims_;                  // merged output dims, outer to inner
  std::vector<std::vector<int64_t>> strides_;  // [input][merged dim]
};

/// Splits the plan's rows x inner elements into parallel work items of at most
/// `grain` elements, so both "many short rows" and "one long row" spread over
/// threads. body(cursor, out_offset, begin_in_row, count); the input k pointer
/// for the item is base_k + cursor.offset(k) + (inner_stride(k) ? begin_in_row : 0).
template <class Body>
void for_each_broadcast_block(const BroadcastPlan& plan, int64_t grain, Body&& body) {
  const int64_t inner = plan.inner(), rows = plan.rows();
  if (rows == 0 || inner == 0) return;
  const int64_t block = std::min(inner, grain);
  const int64_t blocks_per_row = (inner + block - 1) / block;
  parallel_for(0, rows * blocks_per_row, std::max<int64_t>(1, grain / block), [&](int64_t lo, int64_t hi) {
    int64_t row = lo / blocks_per_row;
    auto cursor = plan.cursor(row);
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t r = item / blocks_per_row;
      if (r != row) {  // items are in row order, so the row advances by one
        cursor.next();
        row = r;
      }
      const int64_t begin = (item - r * blocks_per_row) * block;
      body(cursor, r * inner + begin, begin, std::min(block, inner - begin));
    }
  });
}

}  // namespace cvt
