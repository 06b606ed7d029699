// Dead-node removal: keep only nodes that some graph output depends on.
#include <set>

#include "graph/passes.h"

namespace cvt {

Status remove_dead_nodes(Graph& g) {
  std::vector<bool> live(g.num_values(), false);
  for (int id : g.output_ids) live[id] = true;
  std::vector<bool> dead(g.nodes.size(), true);
  for (size_t k = g.nodes.size(); k-- > 0;) {
    const Node& n = g.nodes[k];
    bool needed = false;
    for (int o : n.outputs)
      if (o >= 0 && live[o]) needed = true;
    if (!needed) continue;
    dead[k] = false;
    for (int i : n.inputs)
      if (i >= 0) live[i] = true;
    for (const auto& [name, attr] : n.desc.attrs.all())
      if (attr.graph)
        for (const std::string& ref : attr.graph->outer_refs) {
          int id = g.find_value(ref);
          if (id >= 0) live[id] = true;
        }
  }
  drop_nodes(g, dead);
  return Status::ok();
}

Status optimize_graph(Graph& g) {
  CVT_RETURN_IF_ERROR(fold_constants(g));
  CVT_RETURN_IF_ERROR(remove_dead_nodes(g));
  CVT_RETURN_IF_ERROR(fuse_slices(g));
  CVT_RETURN_IF_ERROR(fold_batchnorm(g));   // before fusion: BN sits between Conv and Relu
  CVT_RETURN_IF_ERROR(fuse_residual(g));     // before fusion: the Add sits between Conv and Relu
  CVT_RETURN_IF_ERROR(fuse_activation(g));
  CVT_RETURN_IF_ERROR(fuse_maxpool(g));      // after fusion: a Relu sits between Conv and MaxPool
  return Status::ok();
}

}  // namespace cvt
