#include "autograd/tape.h"

#include <algorithm>
#include <cstring>

#include "autograd/grad_ops.h"
#include "ops/op_runner.h"

namespace cvt::autograd {

const std::vector<std::string>& differentiable_ops() {
  static const std::vector<std::string> ops = {"Conv",        "Relu", "LeakyRelu", "MaxPool", "AveragePool",
                                               "GlobalAveragePool", "BatchNormalization", "Add", "Concat"};
  return ops;
}

std::vector<std::string> FeatureTape::activation_layers(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes)
    if ((n.desc.op_type == "Relu" || n.desc.op_type == "LeakyRelu") && !n.outputs.empty() && n.outputs[0] >= 0)
      names.push_back(g.value_name(n.outputs[0]));
  return names;
}

Result<std::unique_ptr<FeatureTape>> FeatureTape::create(std::shared_ptr<const Model> model,
                                                         const std::vector<std::string>& targets) {
  auto t = std::unique_ptr<FeatureTape>(new FeatureTape());
  t->model_ = model;
  const Graph& g = *model->graph;
  if (g.input_ids.size() != 1) return invalid_argument("a feature extractor needs exactly one input, this graph has " + std::to_string(g.input_ids.size()));
  t->input_id_ = g.input_ids[0];
  if (targets.empty()) return invalid_argument("no feature layers requested");
  for (const std::string& name : targets) {
    int id = g.find_value(name);
    if (id < 0 || g.constant(id)) {
      std::string list;
      for (const std::string& n : activation_layers(g)) list += (list.empty() ? "" : ", ") + n;
      return Status(ErrorCode::kNotFound, "layer '" + name + "' is not a value of model '" + g.name + "'; activation layers: " + list);
    }
    t->target_ids_.push_back(id);
  }
  // Values the targets need, walking producers backwards.
  std::vector<char> needed(g.num_values(), 0);
  for (int id : t->target_ids_) needed[id] = 1;
  std::vector<char> use_node(g.nodes.size(), 0);
  for (int i = int(g.nodes.size()) - 1; i >= 0; --i) {
    const Node& n = g.nodes[i];
    if (!std::any_of(n.outputs.begin(), n.outputs.end(), [&](int o) { return o >= 0 && needed[o]; })) continue;
    use_node[i] = 1;
    for (int in : n.inputs) {
      if (in < 0) continue;
      needed[in] = 1;
      if (g.constant(in) && is_released(*g.constant(in)))  // the backward pass reads every weight
        return invalid_argument("weight '" + g.value_name(in) + "' was freed after packing; import the model with "
                                "release_packed_weights = false for gradients");
    }
  }
  t->requires_grad_.assign(g.num_values(), 0);
  t->requires_grad_[t->input_id_] = 1;
  const auto& ops = differentiable_ops();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!use_node[i]) continue;
    const Node& n = g.nodes[i];
    t->nodes_.push_back(int(i));
    bool rg = std::any_of(n.inputs.begin(), n.inputs.end(), [&](int in) { return in >= 0 && t->requires_grad_[in]; });
    if (!rg) continue;
    if (std::find(ops.begin(), ops.end(), n.desc.op_type) == ops.end())
      return unsupported("node '" + n.desc.name + "' (" + n.desc.op_type +
                         ") has no gradient in cvtool; choose feature layers before it");
    for (int o : n.outputs)
      if (o >= 0) t->requires_grad_[o] = 1;
  }
  for (size_t k = 0; k < targets.size(); ++k)
    if (!t->requires_grad_[t->target_ids_[k]]) return invalid_argument("layer '" + targets[k] + "' does not depend on the input");
  return t;
}

const Tensor* FeatureTape::value(int id) const {
  if (id < 0) return nullptr;
  if (!values_[id].empty_handle()) return &values_[id];
  return model_->graph->constant(id).get();
}

Result<std::vector<Tensor>> FeatureTape::forward(const Tensor& input) {
  const Graph& g = *model_->graph;
  if (input.dtype() != DType::kFloat32 || input.rank() != 4) return invalid_argument("feature input must be a float32 NCHW tensor");
  values_.assign(g.num_values(), Tensor());
  values_[input_id_] = input;
  for (int ni : nodes_) {
    const Node& n = g.nodes[ni];
    std::vector<const Tensor*> ins;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const Tensor* v = value(n.inputs[k]);
      if (n.inputs[k] >= 0 && !v) return internal_error("value '" + g.value_name(n.inputs[k]) + "' was not computed");
      ins.push_back(v);
    }
    HeapKernelContext ctx(ins, int(n.outputs.size()), false);
    CVT_RETURN_IF_ERROR(n.kernel->run(ctx).with_context(n.desc.label()));
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (n.outputs[k] >= 0) values_[n.outputs[k]] = std::move(ctx.outputs()[k]);
  }
  std::vector<Tensor> out;
  for (int id : target_ids_) {
    if (values_[id].dtype() != DType::kFloat32) return invalid_argument("layer '" + g.value_name(id) + "' is not float32");
    out.push_back(values_[id]);
  }
  return out;
}

namespace {

std::vector<double> doubles(const Tensor& t) {
  std::vector<float> f = t.to_float_vector();
  return {f.begin(), f.end()};
}

}  // namespace

Status FeatureTape::backward_node(const Node& node, std::vector<Tensor>& grads) {
  const Graph& g = *model_->graph;
  const int out_id = node.outputs[0];
  if (grads[out_id].empty_handle()) return Status::ok();
  const float* dy = grads[out_id].data<float>();
  const Tensor& y = values_[out_id];
  // Gradient buffer of input k, or null when it needs none.
  auto dx_of = [&](size_t k) -> float* {
    const int id = k < node.inputs.size() ? node.inputs[k] : -1;
    if (id < 0 || !requires_grad_[id]) return nullptr;
    if (grads[id].empty_handle()) grads[id] = Tensor(DType::kFloat32, value(id)->shape());
    return grads[id].data<float>();
  };
  const std::string& op = node.desc.op_type;
  const Tensor& x = *value(node.inputs[0]);
  if (x.dtype() != DType::kFloat32) return unsupported(node.desc.label() + ": gradients are float32 only");
  if (op == "Conv") {
    CVT_ASSIGN_OR_RETURN(ConvAttrs attrs, parse_conv_attrs(node.desc, false));
    const Tensor& w = *value(node.inputs[1]);
    CVT_ASSIGN_OR_RETURN(ConvParams p, resolve_conv(attrs, x.shape(), w.shape()));
    if (p.spatial_rank > 2) return unsupported(node.desc.label() + ": 3-D convolution has no gradient");
    if (float* dx = dx_of(0)) conv_backward<float>(p, x.data<float>(), w.data<float>(), dy, dx, nullptr, nullptr);
  } else if (op == "Relu" || op == "LeakyRelu") {
    const float alpha = op == "Relu" ? 0.f : node.desc.attrs.get_float("alpha", 0.01f);
    if (float* dx = dx_of(0)) leaky_relu_backward<float>(x.numel(), alpha, x.data<float>(), dy, dx);
  } else if (op == "MaxPool" || op == "AveragePool") {
    CVT_ASSIGN_OR_RETURN(PoolParams p, parse_pool_attrs(node.desc, op == "MaxPool" ? PoolKind::kMax : PoolKind::kAverage));
    CVT_ASSIGN_OR_RETURN(PoolGeometry geo, pool_geometry(p, x.shape()));
    if (float* dx = dx_of(0)) pool_backward<float>(p, geo, x.data<float>(), dy, dx);
  } else if (op == "GlobalAveragePool") {
    const int64_t planes = x.dim(0) * x.dim(1);
    if (float* dx = dx_of(0)) global_avg_pool_backward<float>(planes, x.numel() / std::max<int64_t>(1, planes), dy, dx);
  } else if (op == "BatchNormalization") {
    if (node.desc.attrs.get_int("training_mode", 0) != 0) return unsupported(node.desc.label() + ": training-mode BatchNorm has no gradient");
    for (size_t k = 1; k <= 4; ++k)
      if (!value(node.inputs[k]) || requires_grad_[node.inputs[k]]) return unsupported(node.desc.label() + ": BatchNorm parameters must be constants");
    const ChannelAffine f = batchnorm_affine(doubles(*value(node.inputs[1])), doubles(*value(node.inputs[2])),
                                             doubles(*value(node.inputs[3])), doubles(*value(node.inputs[4])),
                                             node.desc.attrs.get_float("epsilon", 1e-5f));
    const int64_t channels = x.rank() > 1 ? x.dim(1) : 1;
    if (int64_t(f.a.size()) != channels) return shape_mismatch(node.desc.label() + ": parameter count differs from channels");
    if (float* dx = dx_of(0))
      channel_affine_backward<float>(f, x.dim(0), channels, x.numel() / std::max<int64_t>(1, x.dim(0) * channels), dy, dx);
  } else if (op == "Add") {
    for (size_t k = 0; k < 2; ++k)
      if (float* dx = dx_of(k)) add_backward<float>(y.shape(), dy, value(node.inputs[k])->shape(), dx);
  } else if (op == "Concat") {
    int64_t axis = node.desc.attrs.get_int("axis", 1);
    if (axis < 0) axis += x.rank();
    std::vector<Shape> shapes;
    std::vector<float*> dxs;
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      shapes.push_back(value(node.inputs[k])->shape());
      dxs.push_back(dx_of(k));
    }
    concat_backward<float>(shapes, int(axis), dy, dxs);
  } else {
    return unsupported(node.desc.label() + ": no gradient for " + op + " (" + g.name + ")");
  }
  return Status::ok();
}

Result<Tensor> FeatureTape::backward(const std::vector<Tensor>& target_grads) {
  const Graph& g = *model_->graph;
  if (target_grads.size() != target_ids_.size()) return invalid_argument("one gradient per target expected");
  if (values_.empty()) return invalid_argument("backward() before forward()");
  std::vector<Tensor> grads(g.num_values());
  for (size_t k = 0; k < target_ids_.size(); ++k) {
    const Tensor& d = target_grads[k];
    if (d.empty_handle()) continue;
    const int id = target_ids_[k];
    if (d.dtype() != DType::kFloat32 || d.shape() != values_[id].shape())
      return shape_mismatch("gradient of '" + g.value_name(id) + "' must be float32 " + shape_str(values_[id].shape()));
    if (grads[id].empty_handle()) grads[id] = d.clone();
    else
      for (int64_t i = 0; i < d.numel(); ++i) grads[id].data<float>()[i] += d.data<float>()[i];
  }
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    const Node& n = g.nodes[*it];
    if (n.outputs.empty() || n.outputs[0] < 0 || !requires_grad_[n.outputs[0]]) continue;
    CVT_RETURN_IF_ERROR(backward_node(n, grads));
    for (int o : n.outputs)  // done with this node's output gradient
      if (o >= 0 && o != input_id_) grads[o] = Tensor();
  }
  if (grads[input_id_].empty_handle()) return Tensor(DType::kFloat32, values_[input_id_].shape());
  return grads[input_id_];
}

}  // namespace cvt::autograd
