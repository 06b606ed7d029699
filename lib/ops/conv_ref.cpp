// Reference Conv: the direct 7-deep loop with double accumulation, no SIMD, no
// threads, no im2col. The oracle for every fast conv path.
#include "ops/conv.h"

namespace cvt {

Shape ConvParams::output_shape() const {
  Shape s{batch, out_channels};
  for (int i = 3 - spatial_rank; i < 3; ++i) s.push_back(out[i]);
  return s;
}

void conv_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
              const float* residual) {
  // in (N,C,D,H,W), w (K,C/g,KD,KH,KW), out (N,K,OD,OH,OW)
  const int64_t cg = p.in_channels / p.group, kg = p.out_channels / p.group;
  const auto [in_d, in_h, in_w] = p.in;
  const auto [kd_n, kh_n, kw_n] = p.kernel;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t k = 0; k < p.out_channels; ++k) {
      const int64_t g = k / kg;
      const float* wk = w + k * cg * p.kernel_size();
      float* yk = y + (n * p.out_channels + k) * p.out_pixels();
      const float* rk = residual ? residual + (n * p.out_channels + k) * p.out_pixels() : nullptr;
      for (int64_t od = 0; od < p.out[0]; ++od)
        for (int64_t oh = 0; oh < p.out[1]; ++oh)
          for (int64_t ow = 0; ow < p.out[2]; ++ow) {
            double sum = bias ? bias[k] : 0.0;
            for (int64_t c = 0; c < cg; ++c) {
              const float* xc = x + (n * p.in_channels + g * cg + c) * p.in_pixels();
              const float* wc = wk + c * p.kernel_size();
              for (int64_t kd = 0; kd < kd_n; ++kd) {
                const int64_t id = od * p.stride[0] - p.pad_begin[0] + kd * p.dilation[0];
                if (id < 0 || id >= in_d) continue;
                for (int64_t kh = 0; kh < kh_n; ++kh) {
                  const int64_t ih = oh * p.stride[1] - p.pad_begin[1] + kh * p.dilation[1];
                  if (ih < 0 || ih >= in_h) continue;
                  for (int64_t kw = 0; kw < kw_n; ++kw) {
                    const int64_t iw = ow * p.stride[2] - p.pad_begin[2] + kw * p.dilation[2];
                    if (iw < 0 || iw >= in_w) continue;
                    sum += double(xc[(id * in_h + ih) * in_w + iw]) * double(wc[(kd * kh_n + kh) * kw_n + kw]);
                  }
                }
              }
            }
            const int64_t o = (od * p.out[1] + oh) * p.out[2] + ow;
            // Rounded to float first, as the unfused Conv -> Add computes it.
            const float v = static_cast<float>(sum);
            yk[o] = p.activation.apply(rk ? v + rk[o] : v);
          }
    }
}

}  // namespace cvt
