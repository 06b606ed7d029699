// Reference reductions: every input element is mapped to its output by full index
// arithmetic and accumulated in input order. No dim merging, no threads: the oracle.
#include <limits>

#include "ops/reduce.h"

namespace cvt {

void reduce_ref(ReduceOp op, const std::vector<bool>& mask, const Tensor& x, Tensor& y) {
  visit_dtype(x.dtype(), TypeList<float, double, int8_t, uint8_t, int32_t, uint32_t, int64_t, uint64_t>{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using R = Reduction<T>;
    const Shape& s = x.shape();
    const int64_t outputs = y.numel();
    int64_t count = 1;
    for (size_t d = 0; d < s.size(); ++d)
      if (mask[d]) count *= s[d];
    auto output_of = [&](int64_t flat) {  // output flat index of input element `flat`
      int64_t out = 0, scale = 1;
      for (size_t d = s.size(); d-- > 0;) {
        const int64_t i = flat % s[d];
        flat /= s[d];
        if (!mask[d]) {
          out += i * scale;
          scale *= s[d];
        }
      }
      return out;
    };
    std::vector<double> shift(outputs, 0.0);
    if (op == ReduceOp::kLogSumExp) {
      std::vector<typename R::Acc> m(outputs, R::init(ReduceOp::kMax));
      for (int64_t i = 0; i < x.numel(); ++i) m[output_of(i)] = R::step(ReduceOp::kMax, m[output_of(i)], x.data<T>()[i], 0);
      for (int64_t o = 0; o < outputs; ++o) shift[o] = static_cast<double>(m[o]);
    }
    std::vector<typename R::Acc> acc(outputs, R::init(op));
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t o = output_of(i);
      acc[o] = R::step(op, acc[o], x.data<T>()[i], shift[o]);
    }
    for (int64_t o = 0; o < outputs; ++o) {
      const double sh = (count == 0 && op == ReduceOp::kLogSumExp) ? -std::numeric_limits<double>::infinity() : shift[o];
      y.data<T>()[o] = R::finish(op, acc[o], count, sh);
    }
  });
}

void arg_reduce_ref(bool is_max, bool select_last, int64_t outer, int64_t count, int64_t inner, const Tensor& x,
                    int64_t* out) {
  visit_dtype(x.dtype(), TypeList<float, double, int8_t, uint8_t, int32_t, uint32_t, int64_t, uint64_t>{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best_index = 0;
        T best = x.data<T>()[o * count * inner + i];
        for (int64_t r = 1; r < count; ++r) {
          const T v = x.data<T>()[(o * count + r) * inner + i];
          if (arg_better(is_max, select_last, v, best)) {
            best = v;
            best_index = r;
          }
        }
        out[o * inner + i] = best_index;
      }
  });
}

}  // namespace cvt
