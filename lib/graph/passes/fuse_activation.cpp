// Activation fusion: Conv -> Relu | LeakyRelu | Clip becomes one Conv whose
// output epilogue applies the activation (see kFusedActivationAttr in ops/conv.h),
// and so does SiLU written as Mul(conv, Sigmoid(conv)) (YOLOX, YOLOv5 and later).
// Does not fuse a lone Sigmoid or HardSwish (no such epilogue kind), nor into Gemm.
#include <limits>

#include "graph/passes.h"
#include "ops/conv.h"

namespace cvt {

std::vector<int> value_use_counts(const Graph& g) {
  std::vector<int> uses(g.num_values(), 0);
  for (int id : g.output_ids)
    if (id >= 0) ++uses[id];
  for (const Node& n : g.nodes) {
    for (int id : n.inputs)
      if (id >= 0) ++uses[id];
    for (const auto& [name, attr] : n.desc.attrs.all())
      if (attr.graph)
        for (const std::string& ref : attr.graph->outer_refs) {
          int id = g.find_value(ref);
          if (id >= 0) ++uses[id];
        }
  }
  return uses;
}

namespace {

// A float scalar constant (Clip's min / max inputs), or nothing.
bool scalar_constant(const Graph& g, const Node& n, size_t i, float* v) {
  if (i >= n.inputs.size() || n.inputs[i] < 0) return true;  // omitted: keep the default
  const auto& t = g.constant(n.inputs[i]);
  if (!t || t->dtype() != DType::kFloat32 || t->numel() != 1) return false;
  *v = t->data<float>()[0];
  return true;
}

// The activation `n` computes, as (name, params), if the conv epilogue can apply it.
bool fusable_activation(const Graph& g, const Node& n, std::string* kind, std::vector<float>* params) {
  if (!n.desc.domain.empty() || n.outputs.size() != 1 || n.inputs.empty()) return false;
  const std::string& op = n.desc.op_type;
  if (op == "Relu") {
    *kind = "Relu";
    params->clear();
    return true;
  }
  if (op == "LeakyRelu") {
    *kind = "LeakyRelu";
    *params = {n.desc.attrs.get_float("alpha", 0.01f)};
    return true;
  }
  if (op == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (n.desc.opset < 11) {
      if (n.inputs.size() != 1) return false;
      lo = n.desc.attrs.get_float("min", std::numeric_limits<float>::lowest());
      hi = n.desc.attrs.get_float("max", std::numeric_limits<float>::max());
    } else if (!scalar_constant(g, n, 1, &lo) || !scalar_constant(g, n, 2, &hi)) {
      return false;
    }
    if (!(lo <= hi)) return false;  // min > max (or NaN) has its own semantics: leave it to Clip
    *kind = "Clip";
    *params = {lo, hi};
    return true;
  }
  return false;
}

}  // namespace

namespace {

// A Conv that can take an activation: plain ONNX Conv, one output, none fused yet.
bool conv_without_activation(const Node& n) {
  return plain_conv(n) && !n.desc.attrs.has(kFusedActivationAttr);
}

void set_activation(Node& conv, const std::string& kind, const std::vector<float>& params) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = kind;
  conv.desc.attrs.set(kFusedActivationAttr, a);
  Attribute p;
  p.kind = Attribute::Kind::kFloats;
  p.floats = params;
  conv.desc.attrs.set(kFusedActivationParamsAttr, p);
}

// Mul(c, Sigmoid(c)) or Mul(Sigmoid(c), c) where c is a Conv output used by
// exactly those two nodes and the Sigmoid output only by the Mul: the Conv takes
// the Mul's output with a SiLU epilogue, the Sigmoid and Mul go.
void fuse_silu(Graph& g, const std::vector<int>& uses, std::vector<int>& producer, std::vector<bool>& removed) {
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& mul = g.nodes[k];
    if (removed[k] || mul.desc.op_type != "Mul" || !mul.desc.domain.empty() || mul.inputs.size() != 2 ||
        mul.outputs.size() != 1 || mul.inputs[0] < 0 || mul.inputs[1] < 0)
      continue;
    for (int side = 0; side < 2; ++side) {
      const int sig_out = mul.inputs[side], conv_out = mul.inputs[1 - side];
      const int sk = producer[sig_out], ck = producer[conv_out];
      if (sk < 0 || ck < 0 || removed[sk] || removed[ck]) continue;
      Node& sig = g.nodes[sk];
      if (sig.desc.op_type != "Sigmoid" || !sig.desc.domain.empty() || sig.inputs.size() != 1 ||
          sig.inputs[0] != conv_out || sig.outputs.size() != 1)
        continue;
      if (uses[conv_out] != 2 || uses[sig_out] != 1 || !conv_without_activation(g.nodes[ck])) continue;
      Node& conv = g.nodes[ck];
      set_activation(conv, "Silu", {});
      conv.outputs[0] = mul.outputs[0];
      conv.desc.outputs[0] = mul.desc.outputs[0];
      producer[mul.outputs[0]] = ck;
      removed[sk] = removed[k] = true;
      break;
    }
  }
}

}  // namespace

Status fuse_activation(Graph& g) {
  std::vector<int> uses = value_use_counts(g);
  std::vector<int> producer = value_producers(g);
  std::vector<bool> removed(g.nodes.size(), false);
  fuse_silu(g, uses, producer, removed);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (removed[k]) continue;
    Node& act = g.nodes[k];
    std::string kind;
    std::vector<float> params;
    if (act.inputs.empty() || act.inputs[0] < 0 || !fusable_activation(g, act, &kind, &params)) continue;
    const int mid = act.inputs[0];
    const int pk = producer[mid];
    if (pk < 0 || removed[pk] || uses[mid] != 1) continue;  // graph outputs count as a use
    Node& conv = g.nodes[pk];
    if (!conv_without_activation(conv)) continue;  // not a Conv, or already carries one
    set_activation(conv, kind, params);
    conv.outputs[0] = act.outputs[0];
    conv.desc.outputs[0] = act.desc.outputs[0];
    producer[act.outputs[0]] = pk;
    removed[k] = true;
  }
  drop_nodes(g, removed);
  return Status::ok();
}

}  // namespace cvt
