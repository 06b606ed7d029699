// Shallow-input convs (RGB stems) pixel by pixel: see ShallowConv in ops/conv.h;
// the fused stem + MaxPool (conv_maxpool.cpp) is their driver.
// The kernel (x86/conv_avx512.cpp) keeps an output pixel's channels in lanes, so
// only channels round up (to 16); with pixels in lanes (direct taps) 64 channels
// took 70 tile rows and a 111-wide row 128 lanes, and im2col wrote K values per
// output for 27-363 taps. The reference is conv_ref (conv_ref.cpp).
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/conv.h"

namespace cvt {

namespace {

// The extent of a padded axis that every tap of every output reads inside.
int64_t padded_extent(int64_t in, int64_t out, int64_t pad, int64_t kernel, int64_t stride, int64_t dilation) {
  return std::max(pad + in, (out - 1) * stride + (kernel - 1) * dilation + 1);
}

int64_t padded_h(const ConvParams& p) {
  return padded_extent(p.in[1], p.out[1], p.pad_begin[1], p.kernel[1], p.stride[1], p.dilation[1]);
}
int64_t padded_w(const ConvParams& p) {
  return padded_extent(p.in[2], p.out[2], p.pad_begin[2], p.kernel[2], p.stride[2], p.dilation[2]);
}

}  // namespace

bool shallow_weights_shape(const Shape& w, int64_t group) {
  return w.size() == 4 && group == 1 && w[1] <= kShallowMaxInChannels && w[0] <= 64;
}

std::vector<float> pack_shallow_weights(const float* w, const Shape& shape) {
  const int64_t outputs = shape[0], depth = shape[1] * shape[2] * shape[3], cp = (outputs + 15) / 16 * 16;
  std::vector<float> packed(static_cast<size_t>(depth * cp), 0.f);
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t k = 0; k < depth; ++k) packed[static_cast<size_t>(k * cp + o)] = w[o * depth + k];
  return packed;
}

bool shallow_conv_possible(const ConvParams& p, Isa isa) {
  constexpr int64_t kMaxPaddedFloats = int64_t(1) << 20;  // as the phase copies
  const bool flat = p.spatial_rank == 2 && p.kernel[0] == 1 && p.in[0] == 1 && p.out[0] == 1 && p.pad_begin[0] == 0;
  const int64_t h = padded_h(p), w = padded_w(p);
  const bool in_place = h == p.in[1] && w == p.in[2];
  return isa >= Isa::kAvx512 && flat && p.group == 1 && p.in_channels <= kShallowMaxInChannels &&
         p.out_channels <= 64 && (in_place || p.batch * p.in_channels * h * w <= kMaxPaddedFloats);
}

ShallowConv::ShallowConv(const ConvParams& p, const float* packed_w, const float* bias, const float* x) {
  const int64_t in_h = p.in[1], in_w = p.in[2], top = p.pad_begin[1], left = p.pad_begin[2];
  const int64_t pad_h = padded_h(p), pad_w = padded_w(p), plane = pad_h * pad_w, planes = p.batch * p.in_channels;
  x_ = x;
  if (pad_h != in_h || pad_w != in_w) {  // else no tap leaves the input (SqueezeNet's stem)
    // On the calling thread's slot 5 (the phase copies' slot, which this path does not use).
    float* copy = gemm_scratch(5, static_cast<size_t>(planes * plane));
    parallel_for(0, planes, 1, [&](int64_t lo, int64_t hi) {
      std::memset(copy + lo * plane, 0, sizeof(float) * static_cast<size_t>((hi - lo) * plane));
      for (int64_t i = lo; i < hi; ++i)
        for (int64_t r = 0; r < in_h; ++r)
          std::memcpy(copy + i * plane + (r + top) * pad_w + left, x + (i * in_h + r) * in_w, sizeof(float) * in_w);
    });
    x_ = copy;
  }
  image_ = p.in_channels * plane;
  const int vectors = static_cast<int>((p.out_channels + 15) / 16);
  bias_.assign(static_cast<size_t>(16 * vectors), 0.f);
  if (bias) std::copy(bias, bias + p.out_channels, bias_.begin());
  ShallowConvRows& s = rows_;
  s.plane = plane, s.pitch = pad_w, s.in_channels = p.in_channels;
  s.kernel_h = p.kernel[1], s.kernel_w = p.kernel[2], s.stride_h = p.stride[1], s.stride_w = p.stride[2];
  s.dilation_h = p.dilation[1], s.dilation_w = p.dilation[2];
  s.w = packed_w, s.bias = bias_.data(), s.vectors = vectors, s.out_w = p.out[2], s.act = p.activation;
}

void ShallowConv::rows(int64_t n, int64_t oh0, int64_t oh1, float* out) const {
  ShallowConvRows s = rows_;
  s.x = x_ + n * image_;
  conv_shallow_rows_f32__avx512(s, oh0, oh1, out);
}

}  // namespace cvt
