// Resize oracle: for every output element, the sum over all tap combinations
// of the product of per-axis weights, accumulated in double. No threads, no
// separable passes: slow but independent of the fast kernels' loop order.
#include <cstring>

#include "ops/resize.h"
#include "ops/tensor_ops.h"

namespace cvt {

namespace {

bool any_outside(const ResizePlan& plan, const std::vector<int64_t>& pos) {
  for (size_t k = 0; k < pos.size(); ++k)
    if (!plan.axes[k].outside.empty() && plan.axes[k].outside[pos[k]]) return true;
  return false;
}

template <typename T>
void interpolate_ref(const Tensor& x, Tensor& y, const ResizePlan& plan) {
  const int r = x.rank();
  const std::vector<int64_t> strides = row_strides(x.shape());
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  std::vector<int64_t> pos(r, 0), tap(r, 0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    if (any_outside(plan, pos)) {
      dst[i] = static_cast<T>(plan.extrapolation_value);
    } else {
      double acc = 0;
      std::fill(tap.begin(), tap.end(), 0);
      for (;;) {
        double w = 1;
        int64_t off = 0;
        for (int k = 0; k < r; ++k) {
          const AxisTaps& a = plan.axes[k];
          const int64_t at = pos[k] * a.taps + tap[k];
          w *= a.weight[at];
          off += a.index[at] * strides[k];
        }
        acc += w * static_cast<double>(src[off]);
        int k = r - 1;
        while (k >= 0 && ++tap[k] == plan.axes[k].taps) tap[k--] = 0;
        if (k < 0) break;
      }
      dst[i] = static_cast<T>(acc);
    }
    for (int k = r - 1; k >= 0 && ++pos[k] == y.dim(k); --k) pos[k] = 0;
  }
}

void gather_ref(const Tensor& x, Tensor& y, const ResizePlan& plan) {
  const int r = x.rank();
  const size_t es = dtype_size(x.dtype());
  const std::vector<int64_t> strides = row_strides(x.shape());
  uint64_t extrapolation = 0;
  store_double_as(x.dtype(), plan.extrapolation_value, &extrapolation);
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  std::vector<int64_t> pos(r, 0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    if (any_outside(plan, pos)) {
      std::memcpy(dst + i * static_cast<int64_t>(es), &extrapolation, es);
    } else {
      int64_t off = 0;
      for (int k = 0; k < r; ++k) off += plan.axes[k].index[pos[k]] * strides[k];
      std::memcpy(dst + i * static_cast<int64_t>(es), src + off * static_cast<int64_t>(es), es);
    }
    for (int k = r - 1; k >= 0 && ++pos[k] == y.dim(k); --k) pos[k] = 0;
  }
}

}  // namespace

void resize_ref(const Tensor& x, Tensor& y, const ResizePlan& plan) {
  if (y.numel() == 0) return;
  if (plan.nearest) {
    gather_ref(x, y, plan);
  } else if (x.dtype() == DType::kFloat64) {
    interpolate_ref<double>(x, y, plan);
  } else {
    CVT_ASSERT(x.dtype() == DType::kFloat32);
    interpolate_ref<float>(x, y, plan);
  }
}

}  // namespace cvt
