// MaxPool fusion (the stems of ResNet, GoogLeNet, SqueezeNet): Conv [+ fused
// activation] -> MaxPool, the conv output read only there, becomes one Conv that
// carries the pool's attributes (kFusedMaxPoolAttr, see ops/conv.h) and writes
// the pooled output; the kernel pools bands of conv rows while they are in cache
// (ops/conv_maxpool.cpp). Runs after fuse_activation, so a Relu between the two
// is already in the conv. The Conv keeps its place: the pool's readers all come
// after it. Only where the banded kernel can run (conv_maxpool_fusable: constant
// weights of at most 64 output channels, a pool the row kernel takes): other
// convs before a pool (VGG's, AlexNet's) keep their arena slot and pool kernel.
// Off with CVT_FUSE_MAXPOOL=0.
#include <string>

#include "graph/passes.h"
#include "ops/conv.h"
#include "ops/pool.h"

namespace cvt {

namespace {

// A MaxPool with one input and no Indices output read.
bool plain_maxpool(const Node& n) {
  return n.desc.op_type == "MaxPool" && n.desc.domain.empty() && n.inputs.size() == 1 && n.inputs[0] >= 0 &&
         !n.outputs.empty() && n.outputs[0] >= 0 && (n.outputs.size() == 1 || n.outputs[1] < 0);
}

// A Conv that can take a pool: plain ONNX Conv, one output, no residual or pool fused yet.
bool fusable_conv(const Node& n) {
  return plain_conv(n) && n.inputs.size() >= 2 && n.inputs.size() <= 3 && !n.desc.attrs.has(kResidualAttr) &&
         !n.desc.attrs.has(kFusedMaxPoolAttr);
}

}  // namespace

Status fuse_maxpool(Graph& g) {
  if (!pass_enabled("CVT_FUSE_MAXPOOL")) return Status::ok();
  const std::vector<int> uses = value_use_counts(g);
  const std::vector<int> producer = value_producers(g);
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (!plain_maxpool(g.nodes[k])) continue;
    const int v = g.nodes[k].inputs[0], pk = producer[v];
    if (pk < 0 || removed[pk] || uses[v] != 1 || !fusable_conv(g.nodes[pk])) continue;
    Node& conv = g.nodes[pk];
    const Node& pool = g.nodes[k];
    const int w = conv.inputs[1];
    auto params = parse_pool_attrs(pool.desc, PoolKind::kMax);
    if (w < 0 || !g.constant(w) || !params.is_ok() ||
        !conv_maxpool_fusable(g.constant(w)->shape(), conv.desc.attrs.get_int("group", 1), params.value()))
      continue;
    Attribute marker;
    marker.kind = Attribute::Kind::kInt;
    marker.i = 1;
    conv.desc.attrs.set(kFusedMaxPoolAttr, marker);
    for (const auto& [name, value] : pool.desc.attrs.all())
      conv.desc.attrs.set(std::string(kFusedMaxPoolAttr) + "." + name, value);
    conv.outputs[0] = pool.outputs[0];
    conv.desc.outputs[0] = pool.desc.outputs[0];
    removed[k] = true;
  }
  drop_nodes(g, removed);
  return Status::ok();
}

}  // namespace cvt
