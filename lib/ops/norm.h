// Normalization op family: BatchNormalization (inference and training-mode forms),
// InstanceNormalization, LRN, LayerNormalization, GroupNormalization.
// norm.cpp: factories + fast path (parallel over planes); norm_ref.cpp: the oracle.
#pragma once
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace cvt {

/// Per-channel affine view of x (N, C, ...): `channels` groups of `plane` contiguous
/// elements repeated `batch` times. BatchNorm with spatial=0 uses plane 1.
struct ChannelLayout {
  int64_t batch = 0, channels = 0, plane = 0;
};

/// Inference BatchNorm: y = (x - mean) / sqrt(var + eps) * scale + bias, all params
/// of length layout.channels (as double, whatever their dtype).
struct BatchNormParams {
  std::vector<double> scale, bias, mean, var;
  double epsilon = 1e-5;
};
void batchnorm_fast(const BatchNormParams& p, const ChannelLayout& l, const Tensor& x, Tensor& y);
void batchnorm_ref(const BatchNormParams& p, const ChannelLayout& l, const Tensor& x, Tensor& y);
/// Population mean and variance per channel over batch and plane (training mode).
void channel_moments(const ChannelLayout& l, const Tensor& x, std::vector<double>& mean, std::vector<double>& var);

/// Normalises x viewed as `groups` x `size` contiguous elements by each group's mean
/// and variance, then applies the affine entry of element i in group g, at
/// (g % affine_cycle) * affine_per_group + i / affine_period:
///   InstanceNorm (N*C groups of one plane): cycle C, per_group 1, period plane;
///   LayerNorm (outer x inner): cycle 1, per_group 0, period 1 (scale expanded to inner);
///   GroupNorm (N*G groups of C/G planes): cycle G, per_group C/G, period plane.
/// mean_out / inv_std_out (one float per group) are optional.
struct GroupNormSpec {
  int64_t groups = 0, size = 0;
  int64_t affine_cycle = 1, affine_per_group = 0, affine_period = 1;
  const double* scale = nullptr;  // null: 1
  const double* bias = nullptr;   // null: 0
  double epsilon = 1e-5;
};
void group_norm_fast(const GroupNormSpec& s, const Tensor& x, Tensor& y, float* mean_out, float* inv_std_out);
void group_norm_ref(const GroupNormSpec& s, const Tensor& x, Tensor& y, float* mean_out, float* inv_std_out);

/// LRN across channels: y = x / (bias + alpha / size * sum of x^2 over the channel window)^beta,
/// window [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C).
struct LrnParams {
  int64_t size = 1;
  double alpha = 1e-4, beta = 0.75, bias = 1.0;
};
void lrn_fast(const LrnParams& p, const ChannelLayout& l, const Tensor& x, Tensor& y);
void lrn_ref(const LrnParams& p, const ChannelLayout& l, const Tensor& x, Tensor& y);

}  // namespace cvt
