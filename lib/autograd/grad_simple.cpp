// Gradients of the elementwise, pooling, normalisation and data-movement ops.
#include <cmath>
#include <cstring>
#include <limits>

#include "autograd/grad_ops.h"
#include "core/parallel.h"

namespace cvt::autograd {

template <typename T>
void leaky_relu_forward(int64_t n, T alpha, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : alpha * x[i];
}
template <typename T>
void leaky_relu_backward(int64_t n, T alpha, const T* x, const T* dy, T* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > T(0) ? dy[i] : alpha * dy[i];
}

namespace {

// Visits every output window: fn(plane index, output index, taps) where taps
// lists the in-plane offsets of the valid inputs and `padded` the divisor
// AveragePool uses with count_include_pad (same rules as pool_ref).
template <typename Fn>
void for_each_window(const PoolGeometry& g, Fn fn) {
  const PoolAxis &ad = g.axes[0], &ah = g.axes[1], &aw = g.axes[2];
  parallel_for(0, g.batch * g.channels, 1, [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> taps;
    for (int64_t c = lo; c < hi; ++c) {
      int64_t out = 0;
      for (int64_t od = 0; od < ad.out; ++od)
        for (int64_t oh = 0; oh < ah.out; ++oh)
          for (int64_t ow = 0; ow < aw.out; ++ow, ++out) {
            taps.clear();
            int64_t padded = 0;
            for (int64_t kd = 0; kd < ad.kernel; ++kd)
              for (int64_t kh = 0; kh < ah.kernel; ++kh)
                for (int64_t kw = 0; kw < aw.kernel; ++kw) {
                  const int64_t id = ad.start(od) + kd * ad.dilation;
                  const int64_t ih = ah.start(oh) + kh * ah.dilation;
                  const int64_t iw = aw.start(ow) + kw * aw.dilation;
                  if (id < ad.in + ad.pad_end && ih < ah.in + ah.pad_end && iw < aw.in + aw.pad_end) ++padded;
                  if (id < 0 || id >= ad.in || ih < 0 || ih >= ah.in || iw < 0 || iw >= aw.in) continue;
                  taps.push_back((id * ah.in + ih) * aw.in + iw);
                }
            fn(c, out, taps, padded);
          }
    }
  });
}

}  // namespace

template <typename T>
void pool_forward(const PoolParams& p, const PoolGeometry& g, const T* x, T* y) {
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  for_each_window(g, [&](int64_t c, int64_t o, const std::vector<int64_t>& taps, int64_t padded) {
    const T* xp = x + c * in_plane;
    T& out = y[c * out_plane + o];
    if (p.kind == PoolKind::kMax) {
      T best = -std::numeric_limits<T>::infinity();
      for (int64_t t : taps) best = xp[t] > best ? xp[t] : best;
      out = best;
    } else {
      double s = 0;
      for (int64_t t : taps) s += xp[t];
      out = T(s / double(p.count_include_pad ? padded : int64_t(taps.size())));
    }
  });
}

// Each task owns whole planes, so dx writes never race.
template <typename T>
void pool_backward(const PoolParams& p, const PoolGeometry& g, const T* x, const T* dy, T* dx) {
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  for_each_window(g, [&](int64_t c, int64_t o, const std::vector<int64_t>& taps, int64_t padded) {
    if (taps.empty()) return;
    const T* xp = x + c * in_plane;
    T* dxp = dx + c * in_plane;
    const T d = dy[c * out_plane + o];
    if (p.kind == PoolKind::kMax) {
      int64_t best = taps[0];
      for (int64_t t : taps)
        if (xp[t] > xp[best]) best = t;
      dxp[best] += d;
    } else {
      const T share = T(double(d) / double(p.count_include_pad ? padded : int64_t(taps.size())));
      for (int64_t t : taps) dxp[t] += share;
    }
  });
}

template <typename T>
void global_avg_pool_forward(int64_t planes, int64_t plane, const T* x, T* y) {
  for (int64_t c = 0; c < planes; ++c) {
    double s = 0;
    for (int64_t i = 0; i < plane; ++i) s += x[c * plane + i];
    y[c] = T(s / double(plane));
  }
}
template <typename T>
void global_avg_pool_backward(int64_t planes, int64_t plane, const T* dy, T* dx) {
  for (int64_t c = 0; c < planes; ++c)
    for (int64_t i = 0; i < plane; ++i) dx[c * plane + i] += T(double(dy[c]) / double(plane));
}

ChannelAffine batchnorm_affine(const std::vector<double>& scale, const std::vector<double>& bias,
                               const std::vector<double>& mean, const std::vector<double>& var, double eps) {
  ChannelAffine f;
  for (size_t c = 0; c < scale.size(); ++c) {
    const double a = scale[c] / std::sqrt(var[c] + eps);
    f.a.push_back(a);
    f.b.push_back(bias[c] - mean[c] * a);
  }
  return f;
}

template <typename T>
void channel_affine_forward(const ChannelAffine& f, int64_t batch, int64_t channels, int64_t plane, const T* x, T* y) {
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t o = (n * channels + c) * plane;
      for (int64_t i = 0; i < plane; ++i) y[o + i] = T(x[o + i] * f.a[c] + f.b[c]);
    }
}
template <typename T>
void channel_affine_backward(const ChannelAffine& f, int64_t batch, int64_t channels, int64_t plane, const T* dy,
                             T* dx) {
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t o = (n * channels + c) * plane;
      for (int64_t i = 0; i < plane; ++i) dx[o + i] += T(dy[o + i] * f.a[c]);
    }
}

namespace {

// Element strides of `in` broadcast to `out` (0 along broadcast dims), right-aligned.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t s = 1;
  for (int i = int(in.size()) - 1, o = int(out.size()) - 1; i >= 0; --i, --o) {
    st[o] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return st;
}

// Calls fn(out_index, in_index) for every output element.
template <typename Fn>
void for_each_broadcast(const Shape& out, const std::vector<int64_t>& st, Fn fn) {
  const int r = int(out.size());
  const int64_t n = shape_numel(out);
  std::vector<int64_t> idx(r, 0);
  int64_t in = 0;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, in);
    for (int d = r - 1; d >= 0; --d) {
      ++idx[d];
      in += st[d];
      if (idx[d] < out[d]) break;
      in -= st[d] * out[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

template <typename T>
void add_forward(const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, const Shape& out_shape, T* y) {
  for_each_broadcast(out_shape, broadcast_strides(a_shape, out_shape), [&](int64_t i, int64_t j) { y[i] = a[j]; });
  for_each_broadcast(out_shape, broadcast_strides(b_shape, out_shape), [&](int64_t i, int64_t j) { y[i] += b[j]; });
}
template <typename T>
void add_backward(const Shape& out_shape, const T* dy, const Shape& in_shape, T* d_in) {
  if (in_shape == out_shape) {
    for (int64_t i = 0, n = shape_numel(out_shape); i < n; ++i) d_in[i] += dy[i];
    return;
  }
  for_each_broadcast(out_shape, broadcast_strides(in_shape, out_shape), [&](int64_t i, int64_t j) { d_in[j] += dy[i]; });
}

namespace {
int64_t prod(const Shape& s, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; ++i) p *= s[i];
  return p;
}
}  // namespace

template <typename T>
void concat_forward(const std::vector<Shape>& shapes, const std::vector<const T*>& xs, int axis, T* y) {
  const int64_t outer = prod(shapes[0], 0, axis);
  int64_t total = 0;
  for (const Shape& s : shapes) total += prod(s, axis, int(s.size()));
  int64_t off = 0;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const int64_t chunk = prod(shapes[k], axis, int(shapes[k].size()));
    for (int64_t o = 0; o < outer; ++o) std::memcpy(y + o * total + off, xs[k] + o * chunk, size_t(chunk) * sizeof(T));
    off += chunk;
  }
}
template <typename T>
void concat_backward(const std::vector<Shape>& shapes, int axis, const T* dy, const std::vector<T*>& dxs) {
  const int64_t outer = prod(shapes[0], 0, axis);
  int64_t total = 0;
  for (const Shape& s : shapes) total += prod(s, axis, int(s.size()));
  int64_t off = 0;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const int64_t chunk = prod(shapes[k], axis, int(shapes[k].size()));
    if (dxs[k])
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < chunk; ++i) dxs[k][o * chunk + i] += dy[o * total + off + i];
    off += chunk;
  }
}

#define CVT_AUTOGRAD_INSTANTIATE(T)                                                                            \
  template void leaky_relu_forward<T>(int64_t, T, const T*, T*);                                               \
  template void leaky_relu_backward<T>(int64_t, T, const T*, const T*, T*);                                    \
  template void pool_forward<T>(const PoolParams&, const PoolGeometry&, const T*, T*);                         \
  template void pool_backward<T>(const PoolParams&, const PoolGeometry&, const T*, const T*, T*);              \
  template void global_avg_pool_forward<T>(int64_t, int64_t, const T*, T*);                                    \
  template void global_avg_pool_backward<T>(int64_t, int64_t, const T*, T*);                                   \
  template void channel_affine_forward<T>(const ChannelAffine&, int64_t, int64_t, int64_t, const T*, T*);      \
  template void channel_affine_backward<T>(const ChannelAffine&, int64_t, int64_t, int64_t, const T*, T*);     \
  template void add_forward<T>(const Shape&, const T*, const Shape&, const T*, const Shape&, T*);              \
  template void add_backward<T>(const Shape&, const T*, const Shape&, T*);                                     \
  template void concat_forward<T>(const std::vector<Shape>&, const std::vector<const T*>&, int, T*);           \
  template void concat_backward<T>(const std::vector<Shape>&, int, const T*, const std::vector<T*>&);
CVT_AUTOGRAD_INSTANTIATE(float)
CVT_AUTOGRAD_INSTANTIATE(double)
#undef CVT_AUTOGRAD_INSTANTIATE

}  // namespace cvt::autograd
