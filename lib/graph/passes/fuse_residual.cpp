// Residual fusion (ResNet blocks): Conv -> Add(conv_out, other) becomes one
// Conv computing conv(x) + bias + other, with `other` appended as input 3 and
// kResidualAttr set (see ops/conv.h). Runs before fuse_activation, so a Relu
// after the Add then moves into the same epilogue. The fused Conv takes the
// Add's place in the node order: every input of both is ready there.
// Shapes are not known here; the kernel falls back to a broadcasting add when
// `other` does not have exactly the conv output's shape.
#include <string>

#include "graph/passes.h"
#include "ops/conv.h"

namespace cvt {

namespace {

bool plain_add(const Node& n) {
  // Opset < 7 Add has its own broadcast / axis attributes: leave it alone.
  return n.desc.op_type == "Add" && n.desc.domain.empty() && n.desc.opset >= 7 && n.inputs.size() == 2 &&
         n.outputs.size() == 1 && n.inputs[0] >= 0 && n.inputs[1] >= 0 && n.outputs[0] >= 0 &&
         n.inputs[0] != n.inputs[1];
}

// A Conv that can take a residual: plain ONNX Conv, one output, nothing fused yet.
bool fusable_conv(const Node& n) {
  return plain_conv(n) && n.inputs.size() >= 2 && n.inputs.size() <= 3 && !n.desc.attrs.has(kFusedActivationAttr) &&
         !n.desc.attrs.has(kResidualAttr);
}

}  // namespace

Status fuse_residual(Graph& g) {
  if (!pass_enabled("CVT_FUSE_RESIDUAL")) return Status::ok();
  std::vector<int> uses = value_use_counts(g);
  std::vector<int> producer = value_producers(g);
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (removed[k] || !plain_add(g.nodes[k])) continue;
    // Of the Add inputs that are single-use Conv outputs, take the later conv:
    // the other operand is then usually ready long before, and moving the conv
    // to the Add's place extends the fewest lifetimes.
    int pick = -1;
    for (int i = 0; i < 2; ++i) {
      const int v = g.nodes[k].inputs[i];
      const int pk = producer[v];
      if (pk < 0 || removed[pk] || uses[v] != 1 || !fusable_conv(g.nodes[pk])) continue;
      if (pick < 0 || pk > producer[g.nodes[k].inputs[pick]]) pick = i;
    }
    if (pick < 0) continue;
    Node add = std::move(g.nodes[k]);
    const int pk = producer[add.inputs[pick]];
    Node conv = std::move(g.nodes[pk]);
    const int other = add.inputs[1 - pick];
    conv.inputs.resize(3, -1);  // keep the optional bias slot so the residual is input 3
    conv.desc.inputs.resize(3);
    conv.inputs.push_back(other);
    conv.desc.inputs.push_back(add.desc.inputs[1 - pick]);
    Attribute a;
    a.kind = Attribute::Kind::kInt;
    a.i = 1;
    conv.desc.attrs.set(kResidualAttr, a);
    conv.outputs[0] = add.outputs[0];
    conv.desc.outputs[0] = add.desc.outputs[0];
    g.nodes[k] = std::move(conv);
    producer[add.outputs[0]] = static_cast<int>(k);
    removed[pk] = true;
  }
  drop_nodes(g, removed);
  return Status::ok();
}

}  // namespace cvt
