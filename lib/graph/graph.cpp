#include "graph/graph.h"

namespace cvt {

size_t Graph::constant_bytes() const {
  size_t n = 0;
  for (const auto& c : constants_)
    if (c) n += c->nbytes();
  return n;
}

size_t Graph::total_node_count() const {
  size_t n = nodes.size();
  for (const Node& node : nodes)
    for (const auto& [name, attr] : node.desc.attrs.all())
      if (attr.graph) n += attr.graph->total_node_count();
  return n;
}

}  // namespace cvt
