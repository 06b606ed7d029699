// Conv forward/backward as im2col + GEMM, in float (engine GEMM) or double
// (plain loop). The column matrix of one image and group is
// (C/g * R * S) x (P * Q); col2im scatters it back with +=.
#include <algorithm>
#include <vector>

#include "autograd/grad_ops.h"
#include "core/parallel.h"
#include "ops/gemm.h"

namespace cvt::autograd {

template <>
void gemm<float>(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool trans_a, const float* b,
                 int64_t ldb, bool trans_b, float* c, int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.f);
    return;
  }
  GemmShape shape;
  shape.m = m;
  shape.n = n;
  shape.k = k;
  shape.accumulate = accumulate;
  gemm_f32(gemm_kernels(), shape, 1, [&](int64_t, GemmOperands& ops) {
    ops.a = MatrixView{a, lda, trans_a};
    ops.b = MatrixView{b, ldb, trans_b};
    ops.c = c;
    ops.ldc = ldc;
  });
}

template <>
void gemm<double>(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, bool trans_a, const double* b,
                  int64_t ldb, bool trans_b, double* c, int64_t ldc, bool accumulate) {
  parallel_for(0, m, 8, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t t = 0; t < k; ++t) s += (trans_a ? a[t * lda + i] : a[i * lda + t]) * (trans_b ? b[j * ldb + t] : b[t * ldb + j]);
        c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
      }
  });
}

namespace {

struct Geometry {
  int64_t cg, kg, h, w, p, q, r, s;  // channels / outputs per group, in and out planes, kernel
  int64_t rows() const { return cg * r * s; }
  int64_t cols() const { return p * q; }
};

Geometry geometry(const ConvParams& cp) {
  return {cp.in_channels / cp.group, cp.out_channels / cp.group, cp.in[1], cp.in[2], cp.out[1], cp.out[2], cp.kernel[1], cp.kernel[2]};
}

// Input coordinate read by output `o` at tap `t` along axis `a` (1 = H, 2 = W).
inline int64_t src(const ConvParams& cp, int a, int64_t o, int64_t t) {
  return o * cp.stride[a] - cp.pad_begin[a] + t * cp.dilation[a];
}

template <typename T>
void im2col(const ConvParams& cp, const Geometry& g, const T* x, T* col) {
  parallel_for(0, g.rows(), 4, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t c = row / (g.r * g.s), ri = (row / g.s) % g.r, si = row % g.s;
      T* dst = col + row * g.cols();
      for (int64_t oy = 0; oy < g.p; ++oy) {
        const int64_t iy = src(cp, 1, oy, ri);
        for (int64_t ox = 0; ox < g.q; ++ox) {
          const int64_t ix = src(cp, 2, ox, si);
          dst[oy * g.q + ox] = (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) ? x[(c * g.h + iy) * g.w + ix] : T(0);
        }
      }
    }
  });
}

// One task per input channel: every write of a channel happens in one fixed order.
template <typename T>
void col2im_add(const ConvParams& cp, const Geometry& g, const T* col, T* dx) {
  parallel_for(0, g.cg, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c)
      for (int64_t ri = 0; ri < g.r; ++ri)
        for (int64_t si = 0; si < g.s; ++si) {
          const T* s = col + ((c * g.r + ri) * g.s + si) * g.cols();
          for (int64_t oy = 0; oy < g.p; ++oy) {
            const int64_t iy = src(cp, 1, oy, ri);
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t ox = 0; ox < g.q; ++ox) {
              const int64_t ix = src(cp, 2, ox, si);
              if (ix >= 0 && ix < g.w) dx[(c * g.h + iy) * g.w + ix] += s[oy * g.q + ox];
            }
          }
        }
  });
}

}  // namespace

template <typename T>
void conv_forward(const ConvParams& cp, const T* x, const T* w, const T* bias, T* y) {
  const Geometry g = geometry(cp);
  std::vector<T> col(size_t(g.rows() * g.cols()));
  for (int64_t n = 0; n < cp.batch; ++n)
    for (int64_t grp = 0; grp < cp.group; ++grp) {
      im2col(cp, g, x + (n * cp.in_channels + grp * g.cg) * g.h * g.w, col.data());
      T* yg = y + (n * cp.out_channels + grp * g.kg) * g.cols();
      gemm<T>(g.kg, g.cols(), g.rows(), w + grp * g.kg * g.rows(), g.rows(), false, col.data(), g.cols(), false, yg,
              g.cols(), false);
      if (bias)
        for (int64_t k = 0; k < g.kg; ++k)
          for (int64_t i = 0; i < g.cols(); ++i) yg[k * g.cols() + i] += bias[grp * g.kg + k];
    }
}

template <typename T>
void conv_backward(const ConvParams& cp, const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias) {
  const Geometry g = geometry(cp);
  std::vector<T> col(size_t(g.rows() * g.cols()));
  for (int64_t n = 0; n < cp.batch; ++n)
    for (int64_t grp = 0; grp < cp.group; ++grp) {
      const T* dyg = dy + (n * cp.out_channels + grp * g.kg) * g.cols();
      if (dbias)
        for (int64_t k = 0; k < g.kg; ++k) {
          double s = 0;
          for (int64_t i = 0; i < g.cols(); ++i) s += dyg[k * g.cols() + i];
          dbias[grp * g.kg + k] += T(s);
        }
      if (dw) {
        im2col(cp, g, x + (n * cp.in_channels + grp * g.cg) * g.h * g.w, col.data());
        // dW (kg x rows) += dY (kg x cols) * col^T
        gemm<T>(g.kg, g.rows(), g.cols(), dyg, g.cols(), false, col.data(), g.cols(), true, dw + grp * g.kg * g.rows(),
                g.rows(), true);
      }
      if (dx) {
        // dcol (rows x cols) = W^T (rows x kg) * dY (kg x cols)
        gemm<T>(g.rows(), g.cols(), g.kg, w + grp * g.kg * g.rows(), g.rows(), true, dyg, g.cols(), false, col.data(),
                g.cols(), false);
        col2im_add(cp, g, col.data(), dx + (n * cp.in_channels + grp * g.cg) * g.h * g.w);
      }
    }
}

template void conv_forward<float>(const ConvParams&, const float*, const float*, const float*, float*);
template void conv_forward<double>(const ConvParams&, const double*, const double*, const double*, double*);
template void conv_backward<float>(const ConvParams&, const float*, const float*, const float*, float*, float*, float*);
template void conv_backward<double>(const ConvParams&, const double*, const double*, const double*, double*, double*,
                                    double*);

}  // namespace cvt::autograd
