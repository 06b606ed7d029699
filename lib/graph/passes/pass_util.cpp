// Bookkeeping shared by the rewriting passes: who produces each value, dropping
// fused-away nodes, fresh constants, and the switches that turn passes off.
#include <cstdlib>
#include <string>

#include "graph/passes.h"

namespace cvt {

bool plain_conv(const Node& n) {
  return n.desc.op_type == "Conv" && n.desc.domain.empty() && n.outputs.size() == 1;
}

bool pass_enabled(const char* name) {
  const char* e = std::getenv(name);
  return !(e && std::string(e) == "0");
}

std::vector<int> value_producers(const Graph& g) {
  std::vector<int> producer(g.num_values(), -1);
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (int o : g.nodes[k].outputs)
      if (o >= 0) producer[o] = static_cast<int>(k);
  return producer;
}

void drop_nodes(Graph& g, const std::vector<bool>& removed) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t k = 0; k < g.nodes.size(); ++k)
    if (!removed[k]) kept.push_back(std::move(g.nodes[k]));
  g.nodes = std::move(kept);
}

int add_constant_value(Graph& g, const std::string& base, Tensor t) {
  std::string name = base;
  for (int i = 1; g.find_value(name) >= 0; ++i) name = base + "_" + std::to_string(i);
  const int id = g.add_value(name);
  g.set_constant(id, std::make_shared<Tensor>(std::move(t)));
  return id;
}

}  // namespace cvt
