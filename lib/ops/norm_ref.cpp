// Reference normalization loops: the textbook formulas, element by element in
// double, no folding of parameters, no threads. The oracle for norm.cpp.
#include <cmath>

#include "ops/eltwise.h"
#include "ops/norm.h"

namespace cvt {
namespace {

double load(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kFloat64 ? t.data<double>()[i] : static_cast<double>(t.data<float>()[i]);
}
void store(Tensor& t, int64_t i, double v) {
  if (t.dtype() == DType::kFloat64) t.data<double>()[i] = v;
  else t.data<float>()[i] = static_cast<float>(v);
}

}  // namespace

void batchnorm_ref(const BatchNormParams& p, const ChannelLayout& l, const Tensor& x, Tensor& y) {
  for (int64_t n = 0; n < l.batch; ++n)
    for (int64_t c = 0; c < l.channels; ++c)
      for (int64_t i = 0; i < l.plane; ++i) {
        const int64_t at = (n * l.channels + c) * l.plane + i;
        store(y, at, (load(x, at) - p.mean[c]) / std::sqrt(p.var[c] + p.epsilon) * p.scale[c] + p.bias[c]);
      }
}

void group_norm_ref(const GroupNormSpec& s, const Tensor& x, Tensor& y, float* mean_out, float* inv_std_out) {
  for (int64_t g = 0; g < s.groups; ++g) {
    double sum = 0;
    for (int64_t i = 0; i < s.size; ++i) sum += load(x, g * s.size + i);
    const double mean = s.size ? sum / static_cast<double>(s.size) : 0.0;
    double sq = 0;
    for (int64_t i = 0; i < s.size; ++i) {
      const double d = load(x, g * s.size + i) - mean;
      sq += d * d;
    }
    const double std_dev = std::sqrt((s.size ? sq / static_cast<double>(s.size) : 0.0) + s.epsilon);
    if (mean_out) mean_out[g] = static_cast<float>(mean);
    if (inv_std_out) inv_std_out[g] = static_cast<float>(1.0 / std_dev);
    for (int64_t i = 0; i < s.size; ++i) {
      const int64_t k = (g % s.affine_cycle) * s.affine_per_group + i / s.affine_period;
      const double scale = s.scale ? s.scale[k] : 1.0, bias = s.bias ? s.bias[k] : 0.0;
      store(y, g * s.size + i, (load(x, g * s.size + i) - mean) / std_dev * scale + bias);
    }
  }
}

void lrn_ref(const LrnParams& p, const ChannelLayout& l, const Tensor& x, Tensor& y) {
  const int64_t below = (p.size - 1) / 2, above = p.size - 1 - below;
  for (int64_t n = 0; n < l.batch; ++n)
    for (int64_t c = 0; c < l.channels; ++c)
      for (int64_t i = 0; i < l.plane; ++i) {
        double sum = 0;
        for (int64_t k = c - below; k <= c + above; ++k) {
          if (k < 0 || k >= l.channels) continue;
          const double v = load(x, (n * l.channels + k) * l.plane + i);
          sum += v * v;
        }
        const int64_t at = (n * l.channels + c) * l.plane + i;
        store(y, at, load(x, at) / std::pow(p.bias + p.alpha / static_cast<double>(p.size) * sum, p.beta));
      }
}

}  // namespace cvt
