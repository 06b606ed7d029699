// Broadcast shape rules and the merged-dim plan used by elementwise kernels.
#include "ops/broadcast.h"

#include <algorithm>

namespace cvt {

Result<Shape> broadcast_shapes(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    const size_t shift = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[shift + i];
      if (s[i] == o || s[i] == 1) continue;
      if (o == 1) {
        o = s[i];
        continue;
      }
      std::string all;
      for (const Shape& t : shapes) all += (all.empty() ? "" : " and ") + shape_str(t);
      return shape_mismatch("shapes " + all + " do not broadcast (dim " + std::to_string(shift + i) + ")");
    }
  }
  return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t shift = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[shift + i]) return false;
  return true;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const size_t shift = out.size() - in.size();
  int64_t stride = 1;
  for (size_t i = in.size(); i-- > 0;) {
    strides[shift + i] = (in[i] == 1) ? 0 : stride;
    stride *= in[i];
  }
  return strides;
}

BroadcastPlan::BroadcastPlan(const Shape& out, const std::vector<Shape>& inputs)
    : num_inputs_(static_cast<int>(inputs.size())) {
  CVT_ASSERT(num_inputs_ >= 1 && num_inputs_ <= kMaxInputs);
  numel_ = shape_numel(out);
  std::vector<std::vector<int64_t>> full;
  for (const Shape& s : inputs) {
    CVT_ASSERT(broadcasts_to(s, out));
    full.push_back(broadcast_strides(s, out));
  }
  strides_.resize(num_inputs_);
  // Drop size-1 output dims (they never move an index), then merge from the inside out.
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    bool merge = !dims_.empty();
    for (int k = 0; k < num_inputs_ && merge; ++k)
      merge = strides_[k].back() == full[k][d] * out[d];
    if (merge) {
      dims_.back() *= out[d];
      for (int k = 0; k < num_inputs_; ++k) strides_[k].back() = full[k][d];
    } else {
      dims_.push_back(out[d]);
      for (int k = 0; k < num_inputs_; ++k) strides_[k].push_back(full[k][d]);
    }
  }
  if (dims_.empty()) {  // scalar-like output
    dims_.push_back(1);
    for (auto& s : strides_) s.push_back(0);
  }
}

BroadcastPlan::Cursor::Cursor(const BroadcastPlan& plan, int64_t row) : plan_(plan) {
  const int outer = static_cast<int>(plan.dims_.size()) - 1;
  for (int d = outer - 1; d >= 0; --d) {
    index_[d] = row % plan.dims_[d];
    row /= plan.dims_[d];
  }
  for (int k = 0; k < plan.num_inputs_; ++k) {
    int64_t off = 0;
    for (int d = 0; d < outer; ++d) off += index_[d] * plan.strides_[k][d];
    offsets_[k] = off;
  }
}

void BroadcastPlan::Cursor::next() {
  const int outer = static_cast<int>(plan_.dims_.size()) - 1;
  for (int d = outer - 1; d >= 0; --d) {
    for (int k = 0; k < plan_.num_inputs_; ++k) offsets_[k] += plan_.strides_[k][d];
    if (++index_[d] < plan_.dims_[d]) return;
    for (int k = 0; k < plan_.num_inputs_; ++k) offsets_[k] -= plan_.strides_[k][d] * plan_.dims_[d];
    index_[d] = 0;
  }
}

}  // namespace cvt
