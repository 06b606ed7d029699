#include "graph/build.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "graph/passes.h"
#include "ops/registry.h"

namespace cvt {

namespace {

void collect_outer_refs(const Graph& g, std::set<std::string>& names) {
  for (const Node& n : g.nodes)
    for (const auto& [name, attr] : n.desc.attrs.all())
      if (attr.graph) {
        names.insert(attr.graph->outer_refs.begin(), attr.graph->outer_refs.end());
        collect_outer_refs(*attr.graph, names);
      }
}

// Tracks, per constant, the readers whose kernels are not created yet.
class ConstantReleaser {
 public:
  explicit ConstantReleaser(Graph& g) : g_(g), pending_(g.num_values(), 0), keep_(g.num_values(), false) {
    for (int id : g.output_ids) keep_[id] = true;
    std::set<std::string> outer;
    collect_outer_refs(g, outer);
    for (const std::string& name : outer)
      if (int id = g.find_value(name); id >= 0) keep_[id] = true;
    for (const Node& n : g.nodes)
      for (int v : n.inputs)
        if (v >= 0 && g.constant(v)) ++pending_[v];
  }

  // Called once the node's kernel exists.
  void kernel_created(const Node& n) {
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (v < 0 || !g_.constant(v)) continue;
      if (n.kernel->reads_constant_input(static_cast<int>(i))) keep_[v] = true;
      if (--pending_[v] == 0 && !keep_[v]) release(v);
    }
  }

 private:
  void release(int v) {
    const auto& c = g_.constant(v);
    auto shape_only = std::make_shared<const Tensor>(Tensor::wrap(c->dtype(), c->shape(), nullptr, nullptr));
    for (Node& n : g_.nodes)
      for (size_t i = 0; i < n.inputs.size(); ++i)
        if (n.inputs[i] == v) n.desc.constant_inputs[i] = shape_only;
    g_.set_constant(v, shape_only);
  }

  Graph& g_;
  std::vector<int> pending_;
  std::vector<bool> keep_;
};

Status create_kernels(Graph& g, bool release_packed) {
  std::unique_ptr<ConstantReleaser> releaser;
  if (release_packed) releaser = std::make_unique<ConstantReleaser>(g);
  for (Node& n : g.nodes) {
    n.desc.constant_inputs.resize(n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); ++i)
      n.desc.constant_inputs[i] = n.inputs[i] >= 0 ? g.constant(n.inputs[i]) : nullptr;
    CVT_ASSIGN_OR_RETURN(n.kernel, create_kernel(n.desc));
    for (const auto& [name, attr] : n.desc.attrs.all())
      if (attr.graph) CVT_RETURN_IF_ERROR(create_kernels(*attr.graph, false));
    if (releaser) releaser->kernel_created(n);
  }
  return Status::ok();
}

}  // namespace

Status finalize_graph(Graph& g, bool optimize, bool release_packed) {
  if (optimize) CVT_RETURN_IF_ERROR(optimize_graph(g));
  return create_kernels(g, release_packed);
}

}  // namespace cvt
