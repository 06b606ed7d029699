// Normalization ops: factories with per-opset attributes (BatchNorm spatial / is_test /
// training_mode, LayerNorm axis, GroupNorm scale layout), validation, and the fast
// path: params folded into one multiply-add per element, parallel over planes / groups.
#include "ops/norm.h"

#include <cmath>

#include "core/parallel.h"
#include "ops/broadcast.h"
#include "ops/eltwise.h"
#include "ops/registry.h"

namespace cvt {
namespace {

constexpr int kMaxOpset = 22;
constexpr int64_t kGrainElems = 16384;

int64_t grain_for(int64_t unit_elems) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, unit_elems)); }

bool is_float(const Tensor* t) { return t && (t->dtype() == DType::kFloat32 || t->dtype() == DType::kFloat64); }

std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i)
    v[i] = t.dtype() == DType::kFloat64 ? t.data<double>()[i] : static_cast<double>(t.data<float>()[i]);
  return v;
}

void store_doubles(const std::vector<double>& v, Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (t.dtype() == DType::kFloat64) t.data<double>()[i] = v[i];
    else t.data<float>()[i] = static_cast<float>(v[i]);
  }
}

Status need_inputs(KernelContext& ctx, const char* op, std::initializer_list<int> required) {
  for (int i : required) {
    if (!ctx.input(i)) return invalid_model(std::string(op) + ": input " + std::to_string(i) + " is missing");
    if (!is_float(ctx.input(i))) return dtype_unsupported(op, ctx.input(i)->dtype());
  }
  if (ctx.input(0)->rank() < 2)
    return shape_mismatch(std::string(op) + " needs (N, C, ...) input, got " + shape_str(ctx.input(0)->shape()));
  return Status::ok();
}

ChannelLayout channel_layout(const Tensor& x) {
  ChannelLayout l{x.dim(0), x.dim(1), 0};
  l.plane = (l.batch * l.channels) != 0 ? x.numel() / (l.batch * l.channels) : 0;
  return l;
}

// ---- BatchNormalization ---------------------------------------------------------------
struct BatchNormNode {
  double epsilon = 1e-5, momentum = 0.9;
  bool spatial = true;
  bool training = false;
  int opset = 0;
};

Status run_batchnorm(const BatchNormNode& n, KernelContext& ctx) {
  CVT_RETURN_IF_ERROR(need_inputs(ctx, "BatchNormalization", {0, 1, 2, 3, 4}));
  const Tensor& x = *ctx.input(0);
  ChannelLayout l = channel_layout(x);
  const int64_t params = ctx.input(1)->numel();
  if (!n.spatial && params != l.channels && params == l.channels * l.plane) {
    l.channels = params;  // spatial=0: one set of statistics per (channel, position)
    l.plane = 1;
  }
  for (int i = 1; i <= 4; ++i)
    if (ctx.input(i)->numel() != l.channels)
      return shape_mismatch("BatchNormalization: input " + std::to_string(i) + " has shape " +
                            shape_str(ctx.input(i)->shape()) + ", expected " + std::to_string(l.channels) +
                            " values for input " + shape_str(x.shape()) + (n.spatial ? "" : " (spatial=0)"));
  BatchNormParams p;
  p.scale = as_doubles(*ctx.input(1));
  p.bias = as_doubles(*ctx.input(2));
  p.mean = as_doubles(*ctx.input(3));
  p.var = as_doubles(*ctx.input(4));
  p.epsilon = n.epsilon;
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
  if (n.training) {
    // Normalise with the batch statistics; report running averages (and, before
    // opset 14, the batch statistics themselves as saved_mean / saved_var).
    std::vector<double> batch_mean, batch_var;
    channel_moments(l, x, batch_mean, batch_var);
    std::vector<double> running_mean = p.mean, running_var = p.var;
    for (int64_t c = 0; c < l.channels; ++c) {
      running_mean[c] = p.mean[c] * n.momentum + batch_mean[c] * (1 - n.momentum);
      running_var[c] = p.var[c] * n.momentum + batch_var[c] * (1 - n.momentum);
    }
    p.mean = batch_mean;
    p.var = batch_var;
    const std::vector<double>* extra[] = {&running_mean, &running_var, &batch_mean, &batch_var};
    for (int i = 1; i < ctx.num_outputs() && i <= 4; ++i) {
      const Tensor& like = *ctx.input(i % 2 == 1 ? 3 : 4);  // mean-like or var-like
      CVT_ASSIGN_OR_RETURN(Tensor * o, ctx.output(i, like.dtype(), like.shape()));
      store_doubles(*extra[i - 1], *o);
    }
  }
  if (ctx.use_reference()) batchnorm_ref(p, l, x, *y);
  else batchnorm_fast(p, l, x, *y);
  return Status::ok();
}

Result<std::unique_ptr<Kernel>> make_batchnorm(const NodeDesc& node) {
  BatchNormNode n;
  n.opset = node.opset;
  n.epsilon = node.attrs.get_float("epsilon", 1e-5f);
  n.momentum = node.attrs.get_float("momentum", 0.9f);
  if (!(n.epsilon >= 0)) return invalid_model("epsilon must be non-negative");
  if (node.opset < 9) n.spatial = node.attrs.get_int("spatial", 1) != 0;
  int extra_outputs = 0;
  for (size_t i = 1; i < node.outputs.size(); ++i) extra_outputs += node.outputs[i].empty() ? 0 : 1;
  if (node.opset >= 14) {
    const int64_t mode = node.attrs.get_int("training_mode", 0);
    if (mode != 0 && mode != 1) return invalid_model("training_mode must be 0 or 1");
    n.training = mode == 1;
  } else {
    // Before opset 14 the training form is the one with extra outputs; is_test
    // (opset <= 6) is not consulted, as in other runtimes.
    n.training = extra_outputs > 0;
  }
  if (!n.training && extra_outputs > 0)
    return invalid_model("running_mean / running_var outputs need training_mode=1");
  return make_kernel([n](KernelContext& ctx) { return run_batchnorm(n, ctx); },
                     n.training ? "BatchNormalization_training" : "BatchNormalization_affine");
}

// ---- InstanceNormalization / LayerNormalization / GroupNormalization ---------------------
Status run_group_norm(const GroupNormSpec& s, KernelContext& ctx, const Tensor& x, Tensor& y, float* mean,
                      float* inv_std) {
  if (ctx.use_reference()) group_norm_ref(s, x, y, mean, inv_std);
  else group_norm_fast(s, x, y, mean, inv_std);
  return Status::ok();
}

Status run_instancenorm(double epsilon, KernelContext& ctx) {
  CVT_RETURN_IF_ERROR(need_inputs(ctx, "InstanceNormalization", {0, 1, 2}));
  const Tensor& x = *ctx.input(0);
  const ChannelLayout l = channel_layout(x);
  for (int i : {1, 2})
    if (ctx.input(i)->numel() != l.channels)
      return shape_mismatch("InstanceNormalization: " + std::string(i == 1 ? "scale" : "B") + " has shape " +
                            shape_str(ctx.input(i)->shape()) + ", expected " + std::to_string(l.channels) + " values");
  const std::vector<double> scale = as_doubles(*ctx.input(1)), bias = as_doubles(*ctx.input(2));
  GroupNormSpec s{l.batch * l.channels, l.plane, l.channels, 1, std::max<int64_t>(1, l.plane), scale.data(), bias.data(), epsilon};
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
  return run_group_norm(s, ctx, x, *y, nullptr, nullptr);
}

Status run_layernorm(int64_t axis_attr, double epsilon, KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* scale = ctx.input(1);
  const Tensor* bias = ctx.input(2);
  if (!x || !scale) return invalid_model("LayerNormalization needs X and Scale");
  for (const Tensor* t : {x, scale, bias})
    if (t && !is_float(t)) return dtype_unsupported("LayerNormalization", t->dtype());
  const int64_t r = x->rank();
  const int64_t axis = axis_attr < 0 ? axis_attr + r : axis_attr;
  if (axis < 0 || axis >= r)
    return invalid_model("LayerNormalization axis " + std::to_string(axis_attr) + " is out of range for rank " + std::to_string(r));
  const Shape norm_shape(x->shape().begin() + axis, x->shape().end());
  const int64_t inner = shape_numel(norm_shape);
  const int64_t outer = inner ? x->numel() / inner : 0;
  // Scale and B broadcast (unidirectionally) to the normalised dims: expand them once.
  std::vector<double> expanded[2];
  for (int k = 0; k < 2; ++k) {
    const Tensor* t = k == 0 ? scale : bias;
    if (!t) continue;
    if (!broadcasts_to(t->shape(), norm_shape))
      return shape_mismatch(std::string("LayerNormalization: ") + (k == 0 ? "Scale " : "B ") + shape_str(t->shape()) +
                            " does not broadcast to the normalised shape " + shape_str(norm_shape));
    const std::vector<double> v = as_doubles(*t);
    const auto strides = broadcast_strides(t->shape(), norm_shape);
    expanded[k].resize(static_cast<size_t>(inner));
    for (int64_t i = 0; i < inner; ++i) {
      int64_t off = 0;
      for (int64_t d = static_cast<int64_t>(norm_shape.size()) - 1, rest = i; d >= 0; --d) {
        off += (rest % norm_shape[d]) * strides[d];
        rest /= norm_shape[d];
      }
      expanded[k][i] = v[off];
    }
  }
  GroupNormSpec s{outer, inner, 1, 0, 1, expanded[0].data(), bias ? expanded[1].data() : nullptr, epsilon};
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x->dtype(), x->shape()));
  Shape stat_shape = x->shape();
  std::fill(stat_shape.begin() + axis, stat_shape.end(), 1);
  float* stats[2] = {nullptr, nullptr};
  for (int k = 0; k < 2; ++k)
    if (ctx.num_outputs() > 1 + k) {
      CVT_ASSIGN_OR_RETURN(Tensor * t, ctx.output(1 + k, DType::kFloat32, stat_shape));
      stats[k] = t->data<float>();
    }
  return run_group_norm(s, ctx, *x, *y, stats[0], stats[1]);
}

Status run_groupnorm(int64_t groups, double epsilon, KernelContext& ctx) {
  CVT_RETURN_IF_ERROR(need_inputs(ctx, "GroupNormalization", {0, 1, 2}));
  const Tensor& x = *ctx.input(0);
  const ChannelLayout l = channel_layout(x);
  if (l.channels % groups != 0)
    return shape_mismatch("GroupNormalization: " + std::to_string(l.channels) + " channels do not split into " +
                          std::to_string(groups) + " groups");
  const int64_t per_group = l.channels / groups;
  std::vector<double> params[2];
  for (int k = 0; k < 2; ++k) {
    const Tensor& t = *ctx.input(1 + k);
    const std::vector<double> v = as_doubles(t);
    if (t.numel() == l.channels) {
      params[k] = v;  // opset 21 layout: one value per channel
    } else if (t.numel() == groups) {
      for (int64_t c = 0; c < l.channels; ++c) params[k].push_back(v[c / per_group]);  // opset 18: per group
    } else {
      return shape_mismatch("GroupNormalization: " + std::string(k == 0 ? "scale " : "bias ") + shape_str(t.shape()) +
                            " has neither " + std::to_string(l.channels) + " (channels) nor " + std::to_string(groups) +
                            " (groups) values");
    }
  }
  GroupNormSpec s{l.batch * groups, per_group * l.plane, groups, per_group, std::max<int64_t>(1, l.plane),
                  params[0].data(), params[1].data(), epsilon};
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
  return run_group_norm(s, ctx, x, *y, nullptr, nullptr);
}

Status run_lrn(const LrnParams& p, KernelContext& ctx) {
  CVT_RETURN_IF_ERROR(need_inputs(ctx, "LRN", {0}));
  const Tensor& x = *ctx.input(0);
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(0, x.dtype(), x.shape()));
  if (ctx.use_reference()) lrn_ref(p, channel_layout(x), x, *y);
  else lrn_fast(p, channel_layout(x), x, *y);
  return Status::ok();
}

}  // namespace

// ---- fast paths ------------------------------------------------------------------------------
void batchnorm_fast(const BatchNormParams& p, const ChannelLayout& l, const Tensor& x, Tensor& y) {
  // Fold the four vectors into y = x * a + b per channel.
  std::vector<double> a(l.channels), b(l.channels);
  for (int64_t c = 0; c < l.channels; ++c) {
    a[c] = p.scale[c] / std::sqrt(p.var[c] + p.epsilon);
    b[c] = p.bias[c] - p.mean[c] * a[c];
  }
  visit_dtype(x.dtype(), FloatTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    if (l.plane == 1) {  // spatial=0 or (N, C): walk rows of C
      parallel_for(0, l.batch, grain_for(l.channels), [&](int64_t lo, int64_t hi) {
        for (int64_t n = lo; n < hi; ++n)
          for (int64_t c = 0; c < l.channels; ++c)
            yp[n * l.channels + c] = static_cast<T>(xp[n * l.channels + c] * a[c] + b[c]);
      });
      return;
    }
    parallel_for(0, l.batch * l.channels, grain_for(l.plane), [&](int64_t lo, int64_t hi) {
      for (int64_t nc = lo; nc < hi; ++nc) {
        const T ac = static_cast<T>(a[nc % l.channels]), bc = static_cast<T>(b[nc % l.channels]);
        const T* xi = xp + nc * l.plane;
        T* yi = yp + nc * l.plane;
        for (int64_t i = 0; i < l.plane; ++i) yi[i] = xi[i] * ac + bc;
      }
    });
  });
}

void channel_moments(const ChannelLayout& l, const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  mean.assign(l.channels, 0.0);
  var.assign(l.channels, 0.0);
  const std::vector<double> v = as_doubles(x);
  const double count = static_cast<double>(l.batch * l.plane);
  for (int64_t n = 0; n < l.batch; ++n)
    for (int64_t c = 0; c < l.channels; ++c)
      for (int64_t i = 0; i < l.plane; ++i) mean[c] += v[(n * l.channels + c) * l.plane + i];
  for (double& m : mean) m /= count;
  for (int64_t n = 0; n < l.batch; ++n)
    for (int64_t c = 0; c < l.channels; ++c)
      for (int64_t i = 0; i < l.plane; ++i) {
        const double d = v[(n * l.channels + c) * l.plane + i] - mean[c];
        var[c] += d * d;
      }
  for (double& s : var) s /= count;
}

// Sum of f(x[i]) in double over 8 interleaved partial sums: breaks the add latency
// chain and vectorises; the fixed split keeps the result thread-count independent.
template <class T, class F>
double lane_sum(const T* x, int64_t n, F f) {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += f(static_cast<double>(x[i + k]));
  for (; i < n; ++i) part[0] += f(static_cast<double>(x[i]));
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

void group_norm_fast(const GroupNormSpec& s, const Tensor& x, Tensor& y, float* mean_out, float* inv_std_out) {
  visit_dtype(x.dtype(), FloatTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    // Per-element affine (LayerNorm): convert scale / bias to T once.
    const bool per_element = s.affine_period == 1 && s.affine_cycle == 1 && s.affine_per_group == 0;
    std::vector<T> scale_t, bias_t;
    if (per_element) {
      scale_t.assign(static_cast<size_t>(s.size), T(1));
      bias_t.assign(static_cast<size_t>(s.size), T(0));
      for (int64_t i = 0; i < s.size; ++i) {
        if (s.scale) scale_t[i] = static_cast<T>(s.scale[i]);
        if (s.bias) bias_t[i] = static_cast<T>(s.bias[i]);
      }
    }
    parallel_for(0, s.groups, grain_for(s.size), [&](int64_t lo, int64_t hi) {
      for (int64_t g = lo; g < hi; ++g) {
        const T* xi = xp + g * s.size;
        T* yi = yp + g * s.size;
        // Two passes in double: no cancellation in the variance.
        const double mean = s.size ? lane_sum(xi, s.size, [](double v) { return v; }) / static_cast<double>(s.size) : 0.0;
        const double sq = lane_sum(xi, s.size, [mean](double v) { return (v - mean) * (v - mean); });
        const double inv_std = 1.0 / std::sqrt((s.size ? sq / static_cast<double>(s.size) : 0.0) + s.epsilon);
        if (mean_out) mean_out[g] = static_cast<float>(mean);
        if (inv_std_out) inv_std_out[g] = static_cast<float>(inv_std);
        // (x - mean) first: folding mean into the bias loses digits when inv_std is large.
        const T mean_t = static_cast<T>(mean), inv_t = static_cast<T>(inv_std);
        if (per_element) {
          for (int64_t i = 0; i < s.size; ++i) yi[i] = (xi[i] - mean_t) * inv_t * scale_t[i] + bias_t[i];
          continue;
        }
        const int64_t affine_base = (g % s.affine_cycle) * s.affine_per_group;
        for (int64_t start = 0; start < s.size; start += s.affine_period) {
          const int64_t k = affine_base + start / s.affine_period;
          const T ac = static_cast<T>((s.scale ? s.scale[k] : 1.0) * inv_std);
          const T bc = static_cast<T>(s.bias ? s.bias[k] : 0.0);
          const int64_t end = std::min(s.size, start + s.affine_period);
          for (int64_t i = start; i < end; ++i) yi[i] = (xi[i] - mean_t) * ac + bc;
        }
      }
    });
  });
}

void lrn_fast(const LrnParams& p, const ChannelLayout& l, const Tensor& x, Tensor& y) {
  const int64_t below = (p.size - 1) / 2, above = p.size - 1 - below;
  const double scale = p.alpha / static_cast<double>(p.size);
  visit_dtype(x.dtype(), FloatTypes{}, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    parallel_for(0, l.batch * l.channels, grain_for(l.plane * std::min(p.size, l.channels)), [&](int64_t lo, int64_t hi) {
      std::vector<T> sum(static_cast<size_t>(l.plane));
      for (int64_t nc = lo; nc < hi; ++nc) {
        const int64_t n = nc / l.channels, c = nc % l.channels;
        std::fill(sum.begin(), sum.end(), T(0));
        const int64_t c0 = std::max<int64_t>(0, c - below), c1 = std::min(l.channels - 1, c + above);
        for (int64_t k = c0; k <= c1; ++k) {
          const T* xk = xp + (n * l.channels + k) * l.plane;
          for (int64_t i = 0; i < l.plane; ++i) sum[i] += xk[i] * xk[i];
        }
        const T* xi = xp + nc * l.plane;
        T* yi = yp + nc * l.plane;
        const T bias = static_cast<T>(p.bias), sc = static_cast<T>(scale);
        if (p.beta == 0.75) {  // the usual beta: d^0.75 = sqrt(d) * sqrt(sqrt(d)), no pow call
          for (int64_t i = 0; i < l.plane; ++i) {
            const T r = std::sqrt(bias + sc * sum[i]);
            yi[i] = xi[i] / (r * std::sqrt(r));
          }
        } else {
          const T beta = static_cast<T>(p.beta);
          for (int64_t i = 0; i < l.plane; ++i) yi[i] = xi[i] / std::pow(bias + sc * sum[i], beta);
        }
      }
    });
  });
}

void register_norm_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "BatchNormalization", 1, kMaxOpset, make_batchnorm});
  t.push_back({"", "InstanceNormalization", 1, kMaxOpset, [](const NodeDesc& n) -> Result<std::unique_ptr<Kernel>> {
                 const double eps = n.attrs.get_float("epsilon", 1e-5f);
                 if (!(eps >= 0)) return invalid_model("epsilon must be non-negative");
                 return make_kernel([eps](KernelContext& ctx) { return run_instancenorm(eps, ctx); }, "InstanceNormalization_planes");
               }});
  t.push_back({"", "LayerNormalization", 17, kMaxOpset, [](const NodeDesc& n) -> Result<std::unique_ptr<Kernel>> {
                 const int64_t axis = n.attrs.get_int("axis", -1);
                 const double eps = n.attrs.get_float("epsilon", 1e-5f);
                 if (!(eps >= 0)) return invalid_model("epsilon must be non-negative");
                 return make_kernel([axis, eps](KernelContext& ctx) { return run_layernorm(axis, eps, ctx); }, "LayerNormalization_rows");
               }});
  t.push_back({"", "GroupNormalization", 18, kMaxOpset, [](const NodeDesc& n) -> Result<std::unique_ptr<Kernel>> {
                 const int64_t groups = n.attrs.get_int("num_groups", 0);
                 const double eps = n.attrs.get_float("epsilon", 1e-5f);
                 if (groups < 1) return invalid_model("num_groups must be a positive integer");
                 if (!(eps >= 0)) return invalid_model("epsilon must be non-negative");
                 return make_kernel([groups, eps](KernelContext& ctx) { return run_groupnorm(groups, eps, ctx); }, "GroupNormalization_groups");
               }});
  t.push_back({"", "LRN", 1, kMaxOpset, [](const NodeDesc& n) -> Result<std::unique_ptr<Kernel>> {
                 LrnParams p;
                 p.size = n.attrs.get_int("size", 0);
                 p.alpha = n.attrs.get_float("alpha", 1e-4f);
                 p.beta = n.attrs.get_float("beta", 0.75f);
                 p.bias = n.attrs.get_float("bias", 1.0f);
                 if (p.size < 1) return invalid_model("LRN size must be a positive integer (it is required)");
                 return make_kernel([p](KernelContext& ctx) { return run_lrn(p, ctx); }, "LRN_channel_window");
               }});
}

}  // namespace cvt
