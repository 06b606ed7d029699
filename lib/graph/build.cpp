#include "graph/build.h"

#include "graph/passes.h"
#include "ops/registry.h"

namespace cvt {

static Status create_kernels(Graph& g) {
  for (Node& n : g.nodes) {
    n.desc.constant_inputs.resize(n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); ++i)
      n.desc.constant_inputs[i] = n.inputs[i] >= 0 ? g.constant(n.inputs[i]) : nullptr;
    CVT_ASSIGN_OR_RETURN(n.kernel, create_kernel(n.desc));
    for (const auto& [name, attr] : n.desc.attrs.all())
      if (attr.graph) CVT_RETURN_IF_ERROR(create_kernels(*attr.graph));
  }
  return Status::ok();
}

Status finalize_graph(Graph& g, bool optimize) {
  if (optimize) CVT_RETURN_IF_ERROR(optimize_graph(g));
  return create_kernels(g);
}

}  // namespace cvt
