// Constant folding: evaluate nodes whose inputs are all known at load time
// (Constant, shape arithmetic on initializers, weight reshapes/transposes).
#include "graph/passes.h"
#include "ops/op_runner.h"

namespace cvt {

static constexpr size_t kMaxFoldedBytes = size_t(256) << 20;  // keep load-time memory bounded

Status fold_constants(Graph& g) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (Node& n : g.nodes) {
    bool foldable = true;
    for (const auto& [name, attr] : n.desc.attrs.all())
      if (attr.graph) foldable = false;  // control flow stays in the graph
    std::vector<Tensor> inputs;
    for (int id : n.inputs) {
      if (id < 0) {
        inputs.emplace_back();
        continue;
      }
      if (!g.constant(id)) {
        foldable = false;
        break;
      }
      inputs.push_back(*g.constant(id));
    }
    if (!foldable) {
      kept.push_back(std::move(n));
      continue;
    }
    auto outs = run_single_op(n.desc, inputs);
    size_t bytes = 0;
    if (outs.is_ok())
      for (const Tensor& t : outs.value()) bytes += t.nbytes();
    if (!outs.is_ok() || bytes > kMaxFoldedBytes) {
      // Not foldable (unsupported here or too big): leave it; kernel creation reports real errors.
      kept.push_back(std::move(n));
      continue;
    }
    for (size_t i = 0; i < n.outputs.size() && i < outs.value().size(); ++i)
      if (n.outputs[i] >= 0) {
        Tensor t = outs.value()[i];
        // Views into an input constant are copied so the folded value owns its memory.
        g.set_constant(n.outputs[i], std::make_shared<Tensor>(t.clone()));
      }
  }
  g.nodes = std::move(kept);
  return Status::ok();
}

}  // namespace cvt
