// Reference activation loops: one element at a time through activation_value /
// clip_value, PRelu offsets from the full index. No threads, no intrinsics.
#include "ops/activation.h"
#include "ops/broadcast.h"
#include "ops/eltwise.h"

namespace cvt {

void activation_ref(const ActParams& p, const Tensor& x, Tensor& y) {
  visit_dtype(x.dtype(), SignedTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < x.numel(); ++i) y.data<T>()[i] = activation_value(p, x.data<T>()[i]);
  });
}

void prelu_ref(const Tensor& x, const Tensor& slope, const Shape& slope_shape, Tensor& y) {
  const Shape& xs = x.shape();
  const auto strides = broadcast_strides(slope_shape, xs);
  visit_dtype(x.dtype(), NumericTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t off = 0;
      for (int64_t d = static_cast<int64_t>(xs.size()) - 1, rest = i; d >= 0; --d) {
        off += (rest % xs[d]) * strides[d];
        rest /= xs[d];
      }
      const T v = x.data<T>()[i];
      if constexpr (std::is_unsigned_v<T>) y.data<T>()[i] = v;
      else y.data<T>()[i] = v < T(0) ? T(slope.data<T>()[off] * v) : v;  // the textbook form
    }
  });
}

void clip_ref(const Tensor& x, const Tensor& lo, const Tensor& hi, Tensor& y) {
  visit_dtype(x.dtype(), NumericTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < x.numel(); ++i)
      y.data<T>()[i] = clip_value(x.data<T>()[i], lo.data<T>()[0], hi.data<T>()[0]);
  });
}

}  // namespace cvt
