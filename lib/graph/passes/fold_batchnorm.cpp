// BatchNorm folding: Conv -> BatchNormalization (inference form, all four
// parameters constant) becomes one Conv with W' = W * s and B' = (B - mean) * s + beta,
// s = scale / sqrt(var + eps), computed in double. Leaves the training form,
// spatial=0 and convs whose weights are computed at run time alone.
#include <cmath>

#include "graph/passes.h"

namespace cvt {

namespace {

const Tensor* float_constant(const Graph& g, int id, int64_t numel) {
  if (id < 0) return nullptr;
  const auto& t = g.constant(id);
  if (!t || t->dtype() != DType::kFloat32 || t->numel() != numel) return nullptr;
  return t.get();
}

bool inference_batchnorm(const Node& bn) {
  if (bn.desc.op_type != "BatchNormalization" || !bn.desc.domain.empty() || bn.inputs.size() != 5) return false;
  for (size_t i = 1; i < bn.outputs.size(); ++i)
    if (bn.outputs[i] >= 0) return false;  // training form (running stats out)
  if (bn.desc.opset >= 14 && bn.desc.attrs.get_int("training_mode", 0) != 0) return false;
  if (bn.desc.opset < 9 && bn.desc.attrs.get_int("spatial", 1) == 0) return false;
  return true;
}

}  // namespace

Status fold_batchnorm(Graph& g) {
  std::vector<int> uses = value_use_counts(g);
  std::vector<int> producer = value_producers(g);
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& bn = g.nodes[k];
    if (!inference_batchnorm(bn) || bn.inputs[0] < 0) continue;
    const int mid = bn.inputs[0];
    const int pk = producer[mid];
    if (pk < 0 || removed[pk] || uses[mid] != 1) continue;
    Node& conv = g.nodes[pk];
    if (conv.desc.op_type != "Conv" || !conv.desc.domain.empty() || conv.outputs.size() != 1) continue;
    if (conv.desc.attrs.has("cvtool_activation")) continue;  // activation already after the conv output
    if (conv.desc.attrs.has("cvtool_residual")) continue;    // so is a residual add
    if (conv.inputs.size() < 2 || conv.inputs[1] < 0) continue;
    const auto& w = g.constant(conv.inputs[1]);
    if (!w || w->dtype() != DType::kFloat32 || w->shape().size() < 3) continue;
    const int64_t K = w->shape()[0];
    if (K <= 0) continue;
    const Tensor* scale = float_constant(g, bn.inputs[1], K);
    const Tensor* beta = float_constant(g, bn.inputs[2], K);
    const Tensor* mean = float_constant(g, bn.inputs[3], K);
    const Tensor* var = float_constant(g, bn.inputs[4], K);
    if (!scale || !beta || !mean || !var) continue;
    const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] >= 0;
    const Tensor* bias = has_bias ? float_constant(g, conv.inputs[2], K) : nullptr;
    if (has_bias && !bias) continue;
    const double eps = bn.desc.attrs.get_float("epsilon", 1e-5f);

    auto w_new = Tensor::try_alloc(DType::kFloat32, w->shape());
    auto b_new = Tensor::try_alloc(DType::kFloat32, Shape{K});
    if (!w_new.is_ok() || !b_new.is_ok()) continue;
    const int64_t per_k = w->numel() / K;
    const float* wp = w->data<float>();
    float* wq = w_new.value().data<float>();
    float* bq = b_new.value().data<float>();
    for (int64_t c = 0; c < K; ++c) {
      const double s = static_cast<double>(scale->data<float>()[c]) /
                       std::sqrt(static_cast<double>(var->data<float>()[c]) + eps);
      for (int64_t i = 0; i < per_k; ++i)
        wq[c * per_k + i] = static_cast<float>(static_cast<double>(wp[c * per_k + i]) * s);
      const double b0 = bias ? bias->data<float>()[c] : 0.0;
      bq[c] = static_cast<float>((b0 - mean->data<float>()[c]) * s + beta->data<float>()[c]);
    }
    // Parameters nothing else reads are released, so weights are not held twice.
    std::vector<int> dropped = {conv.inputs[1], bn.inputs[1], bn.inputs[2], bn.inputs[3], bn.inputs[4]};
    if (has_bias) dropped.push_back(conv.inputs[2]);
    for (int id : dropped)
      if (--uses[id] == 0) g.set_constant(id, nullptr);
    const int w_id = add_constant_value(g, conv.desc.inputs[1] + "_bnfold", std::move(w_new).value());
    const int b_id = add_constant_value(g, conv.desc.name + "_bnfold_bias", std::move(b_new).value());
    conv.inputs.resize(3, -1);
    conv.desc.inputs.resize(3);
    conv.inputs[1] = w_id;
    conv.desc.inputs[1] = g.value_name(w_id);
    conv.inputs[2] = b_id;
    conv.desc.inputs[2] = g.value_name(b_id);
    conv.outputs[0] = bn.outputs[0];
    conv.desc.outputs[0] = bn.desc.outputs[0];
    uses.resize(g.num_values(), 0);
    producer.resize(g.num_values(), -1);
    producer[bn.outputs[0]] = pk;
    removed[k] = true;
  }
  drop_nodes(g, removed);
  return Status::ok();
}

}  // namespace cvt
