// Conv attributes and shape rules: parse_conv_attrs, check_conv_weight and
// resolve_conv (auto_pad, pads, dilations, groups). The kernels are in conv.cpp.
#include <string>
#include <vector>

#include "ops/conv.h"

namespace cvt {

namespace {

// Beyond this an attribute is corrupt, and products of two stay far from overflow.
constexpr int64_t kMaxAttr = int64_t(1) << 30;

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    s += i ? ',' : '[';
    s += std::to_string(v[i]);
  }
  return v.empty() ? "[]" : s + "]";
}

Status check_range(const char* name, const std::vector<int64_t>& v, int64_t lo) {
  for (int64_t x : v)
    if (x < lo || x > kMaxAttr)
      return invalid_argument(std::string(name) + " " + join(v) + ": values must be in [" + std::to_string(lo) +
                              ", 2^30]");
  return Status::ok();
}

Status check_len(const char* name, const std::vector<int64_t>& v, size_t want) {
  if (!v.empty() && v.size() != want)
    return invalid_argument(std::string(name) + " " + join(v) + " has " + std::to_string(v.size()) +
                            " values, expected " + std::to_string(want));
  return Status::ok();
}

int64_t attr_or(const std::vector<int64_t>& v, size_t i, int64_t def) { return v.empty() ? def : v[i]; }

}  // namespace

Result<ConvAttrs> parse_conv_attrs(const NodeDesc& node, bool transpose) {
  ConvAttrs a;
  const std::string pad = node.attrs.get_string("auto_pad", "NOTSET");
  if (pad == "NOTSET" || pad.empty()) a.auto_pad = AutoPad::kNotSet;
  else if (pad == "SAME_UPPER") a.auto_pad = AutoPad::kSameUpper;
  else if (pad == "SAME_LOWER") a.auto_pad = AutoPad::kSameLower;
  else if (pad == "VALID") a.auto_pad = AutoPad::kValid;
  else return invalid_argument("auto_pad '" + pad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  a.kernel_shape = node.attrs.get_ints("kernel_shape");
  a.strides = node.attrs.get_ints("strides");
  a.dilations = node.attrs.get_ints("dilations");
  a.pads = node.attrs.get_ints("pads");
  a.group = node.attrs.get_int("group", 1);
  if (a.group < 1 || a.group > kMaxAttr) return invalid_argument("group " + std::to_string(a.group) + " must be >= 1");
  CVT_RETURN_IF_ERROR(check_range("kernel_shape", a.kernel_shape, 1));
  CVT_RETURN_IF_ERROR(check_range("strides", a.strides, 1));
  CVT_RETURN_IF_ERROR(check_range("dilations", a.dilations, 1));
  CVT_RETURN_IF_ERROR(check_range("pads", a.pads, 0));
  if (a.pads.size() % 2) return invalid_argument("pads " + join(a.pads) + " needs a begin and an end per axis");
  if (transpose) {
    a.output_padding = node.attrs.get_ints("output_padding");
    a.output_shape = node.attrs.get_ints("output_shape");
    CVT_RETURN_IF_ERROR(check_range("output_padding", a.output_padding, 0));
    CVT_RETURN_IF_ERROR(check_range("output_shape", a.output_shape, 0));
  }
  return a;
}

Status check_conv_weight(const ConvAttrs& a, const Shape& w, bool transpose) {
  if (w.size() < 3 || w.size() > 5)
    return shape_mismatch("weight W " + shape_str(w) + " must have rank 3, 4 or 5 (1-3 spatial dims)");
  const size_t sr = w.size() - 2;
  CVT_RETURN_IF_ERROR(check_len("kernel_shape", a.kernel_shape, sr));
  CVT_RETURN_IF_ERROR(check_len("strides", a.strides, sr));
  CVT_RETURN_IF_ERROR(check_len("dilations", a.dilations, sr));
  CVT_RETURN_IF_ERROR(check_len("pads", a.pads, 2 * sr));
  CVT_RETURN_IF_ERROR(check_len("output_padding", a.output_padding, sr));
  for (size_t i = 0; i < sr; ++i) {
    if (!a.kernel_shape.empty() && a.kernel_shape[i] != w[2 + i])
      return shape_mismatch("kernel_shape " + join(a.kernel_shape) + " disagrees with weight " + shape_str(w));
    if (w[2 + i] < 1) return shape_mismatch("weight " + shape_str(w) + " has an empty kernel");
  }
  // Conv W is (K, C/g, ...): K splits into groups. ConvTranspose W is (C, M/g, ...): C does.
  if (w[0] % a.group != 0)
    return shape_mismatch(std::string(transpose ? "input" : "output") + " channels " + std::to_string(w[0]) +
                          " of weight " + shape_str(w) + " are not divisible by group " + std::to_string(a.group));
  if (w[1] < 1) return shape_mismatch("weight " + shape_str(w) + " has no channels");
  return Status::ok();
}

// Shared by Conv and ConvTranspose: ranks, kernel, strides, dilations, explicit pads.
static Result<ConvParams> common_params(const ConvAttrs& a, const Shape& x, const Shape& w, bool transpose) {
  CVT_RETURN_IF_ERROR(check_conv_weight(a, w, transpose));
  if (x.size() != w.size())
    return shape_mismatch("input X " + shape_str(x) + " and weight W " + shape_str(w) + " must have the same rank");
  ConvParams p;
  p.spatial_rank = static_cast<int>(x.size()) - 2;
  p.batch = x[0];
  p.in_channels = x[1];
  p.group = a.group;
  const int off = 3 - p.spatial_rank;
  for (int i = 0; i < p.spatial_rank; ++i) {
    p.in[off + i] = x[2 + i];
    p.kernel[off + i] = w[2 + i];
    p.stride[off + i] = attr_or(a.strides, i, 1);
    p.dilation[off + i] = attr_or(a.dilations, i, 1);
    p.pad_begin[off + i] = attr_or(a.pads, i, 0);
    p.pad_end[off + i] = attr_or(a.pads, p.spatial_rank + i, 0);
    if (x[2 + i] > kMaxAttr) return limit_exceeded("input " + shape_str(x) + " is too large");
  }
  if (p.in_channels % p.group != 0)
    return shape_mismatch("input channels " + std::to_string(p.in_channels) + " are not divisible by group " +
                          std::to_string(p.group));
  return p;
}

Result<ConvParams> resolve_conv(const ConvAttrs& a, const Shape& x, const Shape& w) {
  CVT_ASSIGN_OR_RETURN(ConvParams p, common_params(a, x, w, false));
  p.out_channels = w[0];
  if (w[1] * p.group != p.in_channels)
    return shape_mismatch("weight " + shape_str(w) + " expects " + std::to_string(w[1]) + " x group " +
                          std::to_string(p.group) + " input channels, input X " + shape_str(x) + " has " +
                          std::to_string(p.in_channels));
  for (int i = 3 - p.spatial_rank; i < 3; ++i) {
    const int64_t in = p.in[i], s = p.stride[i], dk = (p.kernel[i] - 1) * p.dilation[i] + 1;
    if (a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
      p.out[i] = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (p.out[i] - 1) * s + dk - in);
      // The odd pixel goes to the end for SAME_UPPER, to the beginning for SAME_LOWER.
      p.pad_begin[i] = a.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      p.pad_end[i] = total - p.pad_begin[i];
      continue;
    }
    if (a.auto_pad == AutoPad::kValid) p.pad_begin[i] = p.pad_end[i] = 0;
    const int64_t padded = in + p.pad_begin[i] + p.pad_end[i];
    if (padded < dk)
      return shape_mismatch("dilated kernel extent " + std::to_string(dk) + " > padded input " +
                            std::to_string(padded) + " on spatial axis " + std::to_string(i - (3 - p.spatial_rank)) +
                            " (input " + shape_str(x) + ", weight " + shape_str(w) + ")");
    p.out[i] = (padded - dk) / s + 1;
  }
  CVT_RETURN_IF_ERROR(check_shape(p.output_shape(), DType::kFloat32));
  return p;
}

}  // namespace cvt
