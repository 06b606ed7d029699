#include "graph/memory_plan.h"

#include <algorithm>

namespace cvt {

std::vector<int> compute_last_use(const Graph& g) {
  std::vector<int> last(g.num_values(), -1);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    for (int in : n.inputs)
      if (in >= 0) last[in] = static_cast<int>(k);
    for (const auto& [name, attr] : n.desc.attrs.all())
      if (attr.graph)
        for (const std::string& ref : attr.graph->outer_refs) {
          int id = g.find_value(ref);
          if (id >= 0) last[id] = static_cast<int>(k);
        }
  }
  return last;
}

void build_memory_plan(const Graph& g, const std::vector<int64_t>& produced_bytes, const std::vector<int>& root,
                       const std::vector<int>& last_use, MemoryPlan& plan) {
  const int nv = g.num_values();
  std::vector<int> producer(nv, -1);
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (int o : g.nodes[k].outputs)
      if (o >= 0) producer[o] = static_cast<int>(k);

  struct Buffer {
    int value;
    int64_t bytes;
    int begin, end;  // node index range in which the buffer is alive (inclusive)
    int64_t offset = -1;
  };
  std::vector<Buffer> buffers;
  std::vector<int> buffer_of(nv, -1);
  for (int v = 0; v < nv; ++v)
    if (root[v] == v && producer[v] >= 0 && produced_bytes[v] > 0) {
      buffer_of[v] = static_cast<int>(buffers.size());
      buffers.push_back({v, (produced_bytes[v] + 63) / 64 * 64, producer[v], producer[v]});
    }
  std::vector<bool> pinned(buffers.size(), false);  // reachable from a graph output
  for (int v = 0; v < nv; ++v) {
    int r = root[v];
    if (r < 0 || buffer_of[r] < 0) continue;
    Buffer& b = buffers[buffer_of[r]];
    b.end = std::max(b.end, std::max(last_use[v], producer[v]));
  }
  for (int id : g.output_ids)
    if (root[id] >= 0 && buffer_of[root[id]] >= 0) pinned[buffer_of[root[id]]] = true;

  // Greedy by size: biggest first, each at the lowest offset that does not
  // overlap a placed buffer whose lifetime intersects its own.
  std::vector<int> order;
  for (size_t i = 0; i < buffers.size(); ++i)
    if (!pinned[i]) order.push_back(static_cast<int>(i));
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<int> placed;
  int64_t total = 0;
  for (int bi : order) {
    Buffer& b = buffers[bi];
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (int pi : placed) {
      const Buffer& p = buffers[pi];
      if (p.begin <= b.end && b.begin <= p.end) busy.push_back({p.offset, p.offset + p.bytes});
    }
    std::sort(busy.begin(), busy.end());
    int64_t candidate = 0;
    for (const auto& [lo, hi] : busy) {
      if (candidate + b.bytes <= lo) break;
      candidate = std::max(candidate, hi);
    }
    b.offset = candidate;
    total = std::max(total, candidate + b.bytes);
    placed.push_back(bi);
  }

  plan.offset.assign(nv, -1);
  plan.slot_bytes.assign(nv, 0);
  plan.root = root;
  for (size_t i = 0; i < buffers.size(); ++i)
    if (!pinned[i]) {
      plan.offset[buffers[i].value] = buffers[i].offset;
      plan.slot_bytes[buffers[i].value] = buffers[i].bytes;
    }
  plan.arena_bytes = static_cast<size_t>(total);
  plan.arena = total > 0 ? aligned_buffer(plan.arena_bytes, false) : nullptr;
  plan.valid = plan.arena != nullptr || total == 0;
}

}  // namespace cvt
