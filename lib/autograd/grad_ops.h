// Reverse-mode gradients of the ops a feature extractor needs: each op has a
// plain forward in T (float for use, double for finite-difference checks) and
// a backward that ACCUMULATES into the input gradients (dx += ...), so a value
// read by several nodes simply receives every contribution. Pointers to
// gradients that are not wanted may be null. Layouts are dense NCHW.
//
// What it does not do: 3-D convolution / pooling, fused conv epilogues (the
// tape imports graphs unoptimised), gradients of InstanceNorm or of any op not
// listed here.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/conv.h"
#include "ops/pool.h"

namespace cvt::autograd {

/// C (m x n) (+)= op(A) (m x k) * op(B) (k x n), row-major with leading dims.
/// float: the engine's packed GEMM; double: a plain loop.
template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, bool trans_a, const T* b, int64_t ldb,
          bool trans_b, T* c, int64_t ldc, bool accumulate);

/// Conv (1-D / 2-D, groups, dilation, pads as resolved by resolve_conv). bias may be null.
template <typename T>
void conv_forward(const ConvParams& p, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void conv_backward(const ConvParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias);

/// Relu is LeakyRelu with alpha 0. The derivative at exactly 0 is taken as alpha.
template <typename T>
void leaky_relu_forward(int64_t n, T alpha, const T* x, T* y);
template <typename T>
void leaky_relu_backward(int64_t n, T alpha, const T* x, const T* dy, T* dx);

/// MaxPool / AveragePool on (N, C, H, W) (or (N, C, W)) with the engine's geometry.
/// MaxPool routes each output's gradient to the first maximum of its window.
template <typename T>
void pool_forward(const PoolParams& p, const PoolGeometry& g, const T* x, T* y);
template <typename T>
void pool_backward(const PoolParams& p, const PoolGeometry& g, const T* x, const T* dy, T* dx);

/// GlobalAveragePool over `plane` elements of each of `planes` channels.
template <typename T>
void global_avg_pool_forward(int64_t planes, int64_t plane, const T* x, T* y);
template <typename T>
void global_avg_pool_backward(int64_t planes, int64_t plane, const T* dy, T* dx);

/// BatchNormalization, inference form: y = x * a[c] + b[c] with a = scale / sqrt(var + eps),
/// b = bias - mean * a (computed in double by batchnorm_affine()).
struct ChannelAffine {
  std::vector<double> a, b;
};
ChannelAffine batchnorm_affine(const std::vector<double>& scale, const std::vector<double>& bias,
                               const std::vector<double>& mean, const std::vector<double>& var, double eps);
template <typename T>
void channel_affine_forward(const ChannelAffine& f, int64_t batch, int64_t channels, int64_t plane, const T* x, T* y);
template <typename T>
void channel_affine_backward(const ChannelAffine& f, int64_t batch, int64_t channels, int64_t plane, const T* dy,
                             T* dx);

/// Add with numpy broadcasting. add_backward reduces dy over the dims input
/// `in_shape` was broadcast along and accumulates into d_in.
template <typename T>
void add_forward(const Shape& a_shape, const T* a, const Shape& b_shape, const T* b, const Shape& out_shape, T* y);
template <typename T>
void add_backward(const Shape& out_shape, const T* dy, const Shape& in_shape, T* d_in);

/// Concat along `axis` (non-negative): forward copies, backward splits.
template <typename T>
void concat_forward(const std::vector<Shape>& shapes, const std::vector<const T*>& xs, int axis, T* y);
template <typename T>
void concat_backward(const std::vector<Shape>& shapes, int axis, const T* dy, const std::vector<T*>& dxs);

}  // namespace cvt::autograd
