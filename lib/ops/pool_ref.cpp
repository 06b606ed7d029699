// Reference pooling: every window tap visited with explicit coordinates and bound
// checks (no tap tables, no separable passes, no threads). The oracle for pool.cpp.
#include <limits>

#include "ops/eltwise.h"
#include "ops/pool.h"

namespace cvt {
namespace {

template <class T>
void pool_ref_typed(const PoolParams& p, const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor* indices) {
  const PoolAxis &ad = g.axes[0], &ah = g.axes[1], &aw = g.axes[2];
  const int64_t D = ad.in, H = ah.in, W = aw.in;
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  int64_t out = 0;
  for (int64_t c = 0; c < g.batch * g.channels; ++c) {
    const T* plane = xp + c * D * H * W;
    for (int64_t od = 0; od < ad.out; ++od)
      for (int64_t oh = 0; oh < ah.out; ++oh)
        for (int64_t ow = 0; ow < aw.out; ++ow, ++out) {
          double sum = 0;
          int64_t valid = 0, padded = 0, best_pos = -1;
          T best = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                         : std::numeric_limits<T>::lowest();
          for (int64_t kd = 0; kd < ad.kernel; ++kd)
            for (int64_t kh = 0; kh < ah.kernel; ++kh)
              for (int64_t kw = 0; kw < aw.kernel; ++kw) {
                const int64_t id = od * ad.stride - ad.pad_begin + kd * ad.dilation;
                const int64_t ih = oh * ah.stride - ah.pad_begin + kh * ah.dilation;
                const int64_t iw = ow * aw.stride - aw.pad_begin + kw * aw.dilation;
                // Taps past the end padding (ceil_mode) count for nothing, not even as padding.
                if (id < ad.in + ad.pad_end && ih < ah.in + ah.pad_end && iw < aw.in + aw.pad_end) ++padded;
                if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                ++valid;
                const T v = plane[(id * H + ih) * W + iw];
                if (p.kind == PoolKind::kAverage) sum += static_cast<double>(v);
                if (p.kind == PoolKind::kLp) sum += lp_power(static_cast<double>(v), p.p);
                // First NaN wins and sticks; otherwise strictly larger replaces (first max kept).
                if (p.kind == PoolKind::kMax && (best_pos < 0 || (best == best && (v > best || v != v)))) {
                  best = v;
                  best_pos = p.column_major_indices ? (iw * H + ih) * D + id : (id * H + ih) * W + iw;
                }
              }
          if (p.kind == PoolKind::kMax) {
            yp[out] = best;
            if (indices) indices->data<int64_t>()[out] = best_pos < 0 ? -1 : c * D * H * W + best_pos;
          } else if (p.kind == PoolKind::kAverage) {
            yp[out] = static_cast<T>(sum / static_cast<double>(p.count_include_pad ? padded : valid));
          } else {
            yp[out] = static_cast<T>(lp_root(sum, p.p));
          }
        }
  }
}

}  // namespace

void pool_ref(const PoolParams& p, const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor* indices) {
  visit_dtype(x.dtype(), TypeList<float, double, int8_t, uint8_t>{},
              [&](auto tag) { pool_ref_typed<typename decltype(tag)::type>(p, g, x, y, indices); });
}

void global_pool_ref(PoolKind kind, float pw, const Tensor& x, Tensor& y) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t plane = planes ? x.numel() / planes : 0;
  visit_dtype(x.dtype(), TypeList<float, double, int8_t, uint8_t>{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t c = 0; c < planes; ++c) {
      const T* v = x.data<T>() + c * plane;
      double sum = 0;
      T best = v[0];
      for (int64_t i = 0; i < plane; ++i) {
        if (best == best && (v[i] > best || v[i] != v[i])) best = v[i];
        sum += kind == PoolKind::kLp ? lp_power(static_cast<double>(v[i]), pw) : static_cast<double>(v[i]);
      }
      if (kind == PoolKind::kMax) y.data<T>()[c] = best;
      else if (kind == PoolKind::kAverage) y.data<T>()[c] = static_cast<T>(sum / static_cast<double>(plane));
      else y.data<T>()[c] = static_cast<T>(lp_root(sum, pw));
    }
  });
}

}  // namespace cvt
