// Darknet layers -> NodeDescs, one Builder method per [section] type, each
// reading its keys with darknet's defaults written next to them.
#include <algorithm>
#include <cmath>
#include <set>

#include "io/darknet/builder.h"
#include "ops/registry.h"

namespace cvt::darknet {

static Status need_4d(SectionReader& r, const LayerOut& in) {
  if (in.flat) r.fail("", "needs an image-shaped input, but the previous layer is flat ([connected]/[softmax])");
  return r.status();
}

Status Builder::conv(SectionReader& r, int i) {
  const LayerOut in = prev();
  CVT_RETURN_IF_ERROR(need_4d(r, in));
  const int filters = r.get_int("filters", 1);
  const int size = r.get_int("size", 1);
  const int stride = r.get_int("stride", 1);
  const int stride_x = r.get_int("stride_x", stride), stride_y = r.get_int("stride_y", stride);
  int dilation = r.get_int("dilation", 1);
  if (size == 1) dilation = 1;
  const int pad = r.get_int("pad", 0);
  int padding = r.get_int("padding", 0);
  if (pad) padding = size / 2;
  const int groups = r.get_int("groups", 1);
  const bool bn = r.get_int("batch_normalize", 0) != 0;
  const bool flipped = r.get_int("flipped", 0) != 0;
  const std::string act = r.get_string("activation", "logistic");
  for (const char* k : {"binary", "xnor", "antialiasing", "share_index", "deform", "dontload", "dontloadscales"})
    if (r.get_int(k, 0) != 0) r.fail(k, "not supported");
  if (filters < 1 || filters > (1 << 20)) r.fail("filters", "must be in [1, 2^20]");
  if (size < 1 || size > 1024) r.fail("size", "must be in [1, 1024]");
  if (padding < 0 || padding > 1024) r.fail("padding", "must be in [0, 1024]");
  if (dilation > 1024 || stride_x > 1024 || stride_y > 1024) r.fail("stride", "stride and dilation must be <= 1024");
  if (stride_x < 1 || stride_y < 1) r.fail("stride", "must be >= 1");
  if (dilation < 1) r.fail("dilation", "must be >= 1");
  if (groups < 1 || in.c % groups || filters % groups)
    r.fail("groups", "must divide the input channels (" + std::to_string(in.c) + ") and filters");
  CVT_RETURN_IF_ERROR(r.status());
  // darknet: out = (in + 2*padding - size) / stride + 1, with the padding scaled by the dilation at run time.
  const int64_t oh = (in.h + 2 * padding - size) / stride_y + 1, ow = (in.w + 2 * padding - size) / stride_x + 1;
  const int64_t dk = int64_t(dilation) * (size - 1) + 1, dp = int64_t(padding) * dilation;
  if (oh < 1 || ow < 1 || (in.h + 2 * dp - dk) / stride_y + 1 != oh || (in.w + 2 * dp - dk) / stride_x + 1 != ow)
    r.fail("size", "kernel does not fit the " + std::to_string(in.h) + "x" + std::to_string(in.w) + " input");
  CVT_RETURN_IF_ERROR(r.status());
  const int64_t n = filters, per = in.c / groups * size * size;
  CVT_ASSIGN_OR_RETURN(std::vector<float> bias, weights(n, i, "biases"));
  std::vector<float> scales, mean, var;
  if (bn) {
    CVT_ASSIGN_OR_RETURN(scales, weights(n, i, "batch-norm scales"));
    CVT_ASSIGN_OR_RETURN(mean, weights(n, i, "batch-norm means"));
    CVT_ASSIGN_OR_RETURN(var, weights(n, i, "batch-norm variances"));
  }
  CVT_ASSIGN_OR_RETURN(std::vector<float> w, weights(n * per, i, "weights"));
  std::string y = "conv_" + std::to_string(i);
  if (g_) {
    Tensor wt(DType::kFloat32, {n, in.c / groups, size, size}), bt(DType::kFloat32, {n});
    float* wp = wt.data<float>();
    for (int64_t k = 0; k < n; ++k) {
      // (x - mean) / std * scale + bias, folded into the weights and the bias.
      double s = bn ? scales[k] / bn_std(var[k]) : 1.0;
      bt.data<float>()[k] = float(bn ? bias[k] - mean[k] * s : bias[k]);
      for (int64_t j = 0; j < per; ++j) wp[k * per + j] = float(w[flipped ? j * n + k : k * per + j] * s);
    }
    Attributes a;
    a.set("kernel_shape", attr_ints({size, size}));
    a.set("strides", attr_ints({stride_y, stride_x}));
    a.set("dilations", attr_ints({dilation, dilation}));
    a.set("pads", attr_ints({dp, dp, dp, dp}));
    a.set("group", attr_int(groups));
    std::string wn = constant(y + "_w", std::move(wt)), bn_ = constant(y + "_b", std::move(bt));
    std::string pre = node("Conv", act == "linear" ? y : y + "_conv", {in.value, wn, bn_}, a);
    CVT_ASSIGN_OR_RETURN(y, activation(pre, act, y, r));
  } else if (act != "linear") {
    CVT_RETURN_IF_ERROR(activation("x", act, y, r).status());
  }
  layers_.push_back({y, n, oh, ow, false});
  return Status::ok();
}

Status Builder::connected(SectionReader& r, int i) {
  const LayerOut in = prev();
  const int outputs = r.get_int("output", 1);
  const bool bn = r.get_int("batch_normalize", 0) != 0;
  const std::string act = r.get_string("activation", "logistic");
  if (outputs < 1 || outputs > (1 << 24)) r.fail("output", "must be in [1, 2^24]");
  CVT_RETURN_IF_ERROR(r.status());
  const int64_t inputs = in.c * in.h * in.w;
  CVT_ASSIGN_OR_RETURN(std::vector<float> bias, weights(outputs, i, "biases"));
  CVT_ASSIGN_OR_RETURN(std::vector<float> w, weights(int64_t(outputs) * inputs, i, "weights"));
  std::vector<float> scales, mean, var;
  if (bn) {
    CVT_ASSIGN_OR_RETURN(scales, weights(outputs, i, "batch-norm scales"));
    CVT_ASSIGN_OR_RETURN(mean, weights(outputs, i, "batch-norm means"));
    CVT_ASSIGN_OR_RETURN(var, weights(outputs, i, "batch-norm variances"));
  }
  std::string y = "fc_" + std::to_string(i);
  if (g_) {
    // Files with a major or minor version above 1000 store the matrix transposed.
    const bool transpose = info_ && (info_->major > 1000 || info_->minor > 1000);
    Tensor wt(DType::kFloat32, {outputs, inputs}), bt(DType::kFloat32, {outputs});
    for (int64_t k = 0; k < outputs; ++k) {
      double s = bn ? scales[k] / bn_std(var[k]) : 1.0;
      bt.data<float>()[k] = float(bn ? bias[k] - mean[k] * s : bias[k]);
      for (int64_t j = 0; j < inputs; ++j)
        wt.data<float>()[k * inputs + j] = float(w[transpose ? j * outputs + k : k * inputs + j] * s);
    }
    Attributes a;
    a.set("transB", attr_int(1));
    std::string x = flatten(in, y + "_flatten");
    std::string wn = constant(y + "_w", std::move(wt)), bn_ = constant(y + "_b", std::move(bt));
    std::string pre = node("Gemm", act == "linear" ? y : y + "_gemm", {x, wn, bn_}, a);
    CVT_ASSIGN_OR_RETURN(y, activation(pre, act, y, r));
  } else {
    CVT_RETURN_IF_ERROR(activation("x", act, y, r).status());
  }
  layers_.push_back({y, outputs, 1, 1, true});
  return Status::ok();
}

Status Builder::maxpool(SectionReader& r, int i) {
  const LayerOut in = prev();
  CVT_RETURN_IF_ERROR(need_4d(r, in));
  const int stride = r.get_int("stride", 1);
  const int stride_x = r.get_int("stride_x", stride), stride_y = r.get_int("stride_y", stride);
  const int size = r.get_int("size", stride);
  const int padding = r.get_int("padding", size - 1);  // darknet pads size-1 in total: size 2 stride 1 keeps the size
  for (const char* k : {"maxpool_depth", "antialiasing"})
    if (r.get_int(k, 0) != 0) r.fail(k, "not supported");
  if (size < 1 || size > 1024) r.fail("size", "must be in [1, 1024]");
  if (stride_x < 1 || stride_y < 1 || stride_x > 1024 || stride_y > 1024) r.fail("stride", "must be in [1, 1024]");
  if (padding < 0 || padding >= 2 * size) r.fail("padding", "must be in [0, 2*size)");
  CVT_RETURN_IF_ERROR(r.status());
  const int64_t oh = (in.h + padding - size) / stride_y + 1, ow = (in.w + padding - size) / stride_x + 1;
  if (oh < 1 || ow < 1) r.fail("size", "window larger than the input");
  CVT_RETURN_IF_ERROR(r.status());
  // Darknet starts windows at -padding/2; the rest of the padding is at the end.
  const int64_t b = padding / 2, e = padding - b;
  Attributes a;
  a.set("kernel_shape", attr_ints({size, size}));
  a.set("strides", attr_ints({stride_y, stride_x}));
  a.set("pads", attr_ints({b, b, e, e}));
  layers_.push_back({node("MaxPool", "maxpool_" + std::to_string(i), {in.value}, a), in.c, oh, ow, false});
  return Status::ok();
}

Status Builder::route(SectionReader& r, int i) {
  std::vector<int> ids = r.get_ints("layers");
  const int groups = r.get_int("groups", 1), group_id = r.get_int("group_id", 0);
  if (ids.empty()) r.fail("layers", "missing or empty");
  if (groups < 1 || group_id < 0 || group_id >= groups) r.fail("group_id", "must be in [0, groups)");
  CVT_RETURN_IF_ERROR(r.status());
  std::vector<std::string> parts;
  LayerOut out;
  for (int id : ids) {
    int src = id < 0 ? i + id : id;
    if (src < 0 || src >= i) {
      r.fail("layers", "refers to layer " + std::to_string(src) + ", outside 0.." + std::to_string(i - 1));
      return r.status();
    }
    const LayerOut& l = layers_[src + 1];
    CVT_RETURN_IF_ERROR(need_4d(r, l));
    if (!parts.empty() && (l.h != out.h || l.w != out.w))
      r.fail("layers", "joins layers of different sizes (" + std::to_string(out.h) + "x" + std::to_string(out.w) +
                           " and " + std::to_string(l.h) + "x" + std::to_string(l.w) + ")");
    if (l.c % groups) r.fail("groups", "does not divide the " + std::to_string(l.c) + " channels of layer " + std::to_string(src));
    CVT_RETURN_IF_ERROR(r.status());
    const int64_t part = l.c / groups;
    std::string v = l.value;
    if (groups > 1) {
      std::string name = "route_" + std::to_string(i) + "_slice" + std::to_string(parts.size());
      auto c = [&](const char* k, int64_t x) { return constant(name + "_" + k, Tensor::from_vector<int64_t>({1}, {x})); };
      v = node("Slice", name, {l.value, c("starts", part * group_id), c("ends", part * (group_id + 1)), c("axes", 1)});
    }
    parts.push_back(v);
    out.c += part;
    out.h = l.h;
    out.w = l.w;
  }
  if (parts.size() == 1) {
    out.value = parts[0];
  } else {
    Attributes a;
    a.set("axis", attr_int(1));
    out.value = node("Concat", "route_" + std::to_string(i), parts, a);
  }
  layers_.push_back(out);
  return Status::ok();
}

// Darknet adds the first min(C) channels of the `from` layer, sub-sampled with
// stride w_from / w_in when it is larger; other channels pass through.
Result<std::string> Builder::fit_shortcut(const LayerOut& l, const LayerOut& in, const std::string& name, SectionReader& r) {
  if (l.flat != in.flat || (in.flat && l.c != in.c)) {
    r.fail("from", "mixes flat and image-shaped layers");
    return r.status();
  }
  const int64_t stride = in.w ? l.w / in.w : 0;
  if (stride < 1 || l.w != in.w * stride || l.h != in.h * stride) {
    r.fail("from", "adds a " + std::to_string(l.h) + "x" + std::to_string(l.w) + " layer to a " + std::to_string(in.h) + "x" +
                       std::to_string(in.w) + " one (only equal sizes or an integer down-sampling are supported)");
    return r.status();
  }
  std::string v = l.value;
  auto ints = [&](const char* k, std::vector<int64_t> x) {
    return constant(name + "_" + k, Tensor::from_vector<int64_t>({int64_t(x.size())}, x));
  };
  const int64_t c = std::min(l.c, in.c);
  if (stride > 1 || l.c > in.c)
    v = node("Slice", name + "_slice", {v, ints("starts", {0, 0, 0}), ints("ends", {c, in.h * stride, in.w * stride}),
                                        ints("axes", {1, 2, 3}), ints("steps", {1, stride, stride})});
  if (c < in.c) v = node("Pad", name + "_pad", {v, ints("pads", {0, 0, 0, 0, 0, in.c - c, 0, 0})});
  return v;
}

Status Builder::shortcut(SectionReader& r, int i) {
  const LayerOut in = prev();
  std::vector<int> from = r.get_ints("from");
  const std::string act = r.get_string("activation", "linear");
  if (from.empty()) r.fail("from", "missing");
  if (r.get_string("weights_type", "none") != "none") r.fail("weights_type", "not supported");
  if (r.get_float("alpha", 1) != 1 || r.get_float("beta", 1) != 1) r.fail("alpha", "alpha/beta other than 1 are not supported");
  CVT_RETURN_IF_ERROR(r.status());
  std::string y = in.value;
  for (size_t k = 0; k < from.size(); ++k) {
    int src = from[k] < 0 ? i + from[k] : from[k];
    if (src < 0 || src >= i) {
      r.fail("from", "refers to layer " + std::to_string(src) + ", outside 0.." + std::to_string(i - 1));
      return r.status();
    }
    const LayerOut& l = layers_[src + 1];
    const std::string name = "shortcut_" + std::to_string(i);
    const std::string suffix = std::to_string(k);
    CVT_ASSIGN_OR_RETURN(std::string add, fit_shortcut(l, in, name + "_from" + suffix, r));
    y = node("Add", k + 1 < from.size() || act != "linear" ? name + "_add" + suffix : name, {y, add});
  }
  CVT_ASSIGN_OR_RETURN(y, activation(y, act, "shortcut_" + std::to_string(i), r));
  layers_.push_back({y, in.c, in.h, in.w, in.flat});
  return Status::ok();
}

Status Builder::upsample(SectionReader& r, int i) {
  const LayerOut in = prev();
  CVT_RETURN_IF_ERROR(need_4d(r, in));
  const int stride = r.get_int("stride", 2);
  const float scale = r.get_float("scale", 1.f);
  if (stride < 1 || stride > 1024) r.fail("stride", "must be in [1, 1024] (downsampling upsample layers are not supported)");
  CVT_RETURN_IF_ERROR(r.status());
  std::string name = "upsample_" + std::to_string(i);
  std::string scales = constant(name + "_scales", Tensor::from_vector<float>({4}, {1, 1, float(stride), float(stride)}));
  Attributes a;
  a.set("mode", attr_string("nearest"));
  a.set("coordinate_transformation_mode", attr_string("asymmetric"));
  a.set("nearest_mode", attr_string("floor"));
  std::string y = node("Resize", scale == 1.f ? name : name + "_resize", {in.value, "", scales}, a);
  if (scale != 1.f) y = node("Mul", name, {y, constant(name + "_scale", Tensor::scalar(scale))});
  layers_.push_back({y, in.c, in.h * stride, in.w * stride, false});
  return Status::ok();
}

Status Builder::head(SectionReader& r, int i, const std::string& type) {
  const LayerOut in = prev();
  CVT_RETURN_IF_ERROR(need_4d(r, in));
  DarknetHead h;
  h.layer = i;
  h.type = type;
  h.output = type + "_" + std::to_string(i);
  h.classes = r.get_int("classes", 20);
  h.num = r.get_int("num", 1);
  h.coords = r.get_int("coords", 4);
  h.anchors = r.get_floats("anchors");
  h.mask = r.get_ints("mask");
  h.scale_x_y = r.get_float("scale_x_y", 1.f);
  h.new_coords = r.get_int("new_coords", 0);
  h.softmax = r.get_int("softmax", 0) != 0;
  h.grid_w = int(in.w);
  h.grid_h = int(in.h);
  if (h.classes < 1 || h.num < 1) r.fail("classes", "classes and num must be >= 1");
  if (type == "yolo" && h.coords != 4) r.fail("coords", "must be 4");
  if (h.mask.empty())
    for (int k = 0; k < h.num; ++k) h.mask.push_back(k);
  if (int(h.anchors.size()) < 2 * h.num) r.fail("anchors", "needs num=" + std::to_string(h.num) + " (w,h) pairs");
  for (int m : h.mask)
    if (m < 0 || m >= h.num) r.fail("mask", "index " + std::to_string(m) + " outside 0.." + std::to_string(h.num - 1));
  const int64_t want = int64_t(h.mask.size()) * (h.coords + 1 + h.classes);
  if (in.c != want)
    r.fail("", "expects " + std::to_string(want) + " input channels (" + std::to_string(h.mask.size()) + " anchors x (" +
                   std::to_string(h.coords + 1) + " + " + std::to_string(h.classes) + " classes)), the previous layer has " +
                   std::to_string(in.c));
  CVT_RETURN_IF_ERROR(r.status());
  node("Identity", h.output, {in.value});
  heads_.push_back(h);
  layers_.push_back({in.value, in.c, in.h, in.w, false});
  return Status::ok();
}

Status Builder::softmax(SectionReader& r, int i) {
  const LayerOut in = prev();
  const int groups = r.get_int("groups", 1);
  const float temperature = r.get_float("temperature", 1.f);
  const int64_t n = in.c * in.h * in.w;
  if (groups < 1 || n % groups) r.fail("groups", "must divide the " + std::to_string(n) + " inputs");
  if (!(temperature > 0)) r.fail("temperature", "must be > 0");
  CVT_RETURN_IF_ERROR(r.status());
  const std::string name = "softmax_" + std::to_string(i);
  std::string x = flatten(in, name + "_flatten");
  if (temperature != 1.f) x = node("Mul", name + "_temp", {x, constant(name + "_itemp", Tensor::scalar(1.f / temperature))});
  auto shape = [&](const char* k, std::vector<int64_t> s) {
    return constant(name + "_" + k, Tensor::from_vector<int64_t>({int64_t(s.size())}, s));
  };
  std::string y;
  if (find_op("", "Softmax", kOpset)) {
    Attributes a;
    a.set("axis", attr_int(-1));
    if (groups == 1) {
      y = node("Softmax", name, {x}, a);
    } else {
      x = node("Reshape", name + "_groups", {x, shape("gshape", {1, groups, n / groups})});
      y = node("Reshape", name, {node("Softmax", name + "_sm", {x}, a), shape("oshape", {1, n})});
    }
  } else {
    // Until the Softmax op is registered: max-subtracted exp over groups with pool / matmul ops.
    const int64_t k = n / groups;
    x = node("Reshape", name + "_groups", {x, shape("gshape", {groups, 1, k})});
    std::string mx = node("GlobalMaxPool", name + "_max", {x});
    std::string ex = node("Exp", name + "_exp", {node("Sub", name + "_sub", {x, mx})});
    std::string sum = node("MatMul", name + "_sum", {node("Reshape", name + "_2d", {ex, shape("s2d", {groups, k})}),
                                                      constant(name + "_ones", Tensor::from_vector<float>({k, 1}, std::vector<float>(k, 1.f)))});
    std::string div = node("Div", name + "_div", {ex, node("Reshape", name + "_sum3", {sum, shape("s3d", {groups, 1, 1})})});
    y = node("Reshape", name, {div, shape("oshape", {1, n})});
  }
  layers_.push_back({y, n, 1, 1, true});
  return Status::ok();
}

Status Builder::crop(SectionReader& r, int i) {
  const LayerOut in = prev();
  CVT_RETURN_IF_ERROR(need_4d(r, in));
  const int ch = r.get_int("crop_height", 1), cw = r.get_int("crop_width", 1);
  const bool noadjust = r.get_int("noadjust", 0) != 0;
  if (ch < 1 || cw < 1 || ch > in.h || cw > in.w) r.fail("crop_height", "crop must fit in the input");
  CVT_RETURN_IF_ERROR(r.status());
  // At inference darknet crops the centre and maps [0,1] to [-1,1] unless noadjust.
  const std::string name = "crop_" + std::to_string(i);
  const int64_t dh = (in.h - ch) / 2, dw = (in.w - cw) / 2;
  auto c = [&](const char* k, int64_t a, int64_t b) { return constant(name + "_" + k, Tensor::from_vector<int64_t>({2}, {a, b})); };
  std::string y = node("Slice", noadjust ? name : name + "_slice",
                       {in.value, c("starts", dh, dw), c("ends", dh + ch, dw + cw), c("axes", 2, 3)});
  if (!noadjust) {
    y = node("Mul", name + "_scale", {y, constant(name + "_two", Tensor::scalar(2.f))});
    y = node("Add", name, {y, constant(name + "_minus_one", Tensor::scalar(-1.f))});
  }
  layers_.push_back({y, in.c, ch, cw, false});
  return Status::ok();
}

Status Builder::layer(const CfgSection& s, int i) {
  SectionReader r(s, cfg_.label);
  const std::string& t = s.type;
  params.push_back(0);
  if (t == "convolutional" || t == "conv") return conv(r, i);
  if (t == "connected" || t == "conn") return connected(r, i);
  if (t == "maxpool" || t == "max") return maxpool(r, i);
  if (t == "route") return route(r, i);
  if (t == "shortcut") return shortcut(r, i);
  if (t == "upsample") return upsample(r, i);
  if (t == "yolo" || t == "region") return head(r, i, t);
  if (t == "softmax" || t == "soft") return softmax(r, i);
  if (t == "crop") return crop(r, i);
  if (t == "avgpool" || t == "avg") {
    const LayerOut in = prev();
    CVT_RETURN_IF_ERROR(need_4d(r, in));
    layers_.push_back({node("GlobalAveragePool", "avgpool_" + std::to_string(i), {in.value}), in.c, 1, 1, false});
    return Status::ok();
  }
  if (t == "dropout" || t == "cost") {  // identities at inference
    layers_.push_back(prev());
    return Status::ok();
  }
  static const std::set<std::string> known = {
      "local", "deconvolutional", "deconv", "rnn", "gru", "lstm", "crnn", "conv_lstm", "history", "reorg", "reorg3d",
      "normalization", "lrn", "batchnorm", "detection", "logistic", "l2norm", "scale_channels", "sam", "gaussian_yolo",
      "iseg", "contrastive", "implicit", "empty", "silence", "activation", "net", "network"};
  if (known.count(t)) {
    r.fail("", t == "net" || t == "network" ? "only the first section may be [net]" : "layer type not supported");
    return Status(ErrorCode::kUnsupported, r.status().message());
  }
  r.fail("", "unknown section [" + t + "]");
  return r.status();
}

}  // namespace cvt::darknet
