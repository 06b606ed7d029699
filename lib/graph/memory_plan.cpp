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

namespace {

struct ConcatSlice {
  int member, group;  // buffer indices: an input's and its Concat output's
  int64_t at;         // byte offset of the input in the output
};

// Which inputs of the recorded Concats can be written straight into their
// output: the input owns its buffer (not a view, constant or graph input),
// starts 64-byte aligned in the output, is read by no graph output, and is in no
// other group; the output is neither a graph output nor itself a slice of
// another Concat.
std::vector<ConcatSlice> concat_slices(const Graph& g, const std::vector<int64_t>& produced_bytes,
                                       const std::vector<ConcatRecord>& concats, const std::vector<int>& root,
                                       const std::vector<int>& buffer_of, const std::vector<bool>& pinned) {
  std::vector<ConcatSlice> slices;
  std::vector<bool> member(pinned.size(), false), group(pinned.size(), false);
  for (const ConcatRecord& rec : concats) {
    const Node& n = g.nodes[static_cast<size_t>(rec.node)];
    const int o = n.outputs[0];
    const int ob = root[o] == o ? buffer_of[o] : -1;
    if (ob < 0 || pinned[ob] || member[ob] || rec.chunk_bytes.size() != n.inputs.size()) continue;
    int64_t at = 0;
    std::vector<ConcatSlice> mine;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int in = n.inputs[i];
      const int ib = in >= 0 && root[in] == in ? buffer_of[in] : -1;
      const bool seen = std::any_of(mine.begin(), mine.end(), [&](const ConcatSlice& c) { return c.member == ib; });
      if (ib >= 0 && ib != ob && !pinned[ib] && !member[ib] && !group[ib] && !seen && at % 64 == 0 &&
          produced_bytes[in] == rec.chunk_bytes[i])
        mine.push_back({ib, ob, at});
      at += rec.chunk_bytes[i];
    }
    if (at != produced_bytes[o] || mine.empty()) continue;  // the chunks must tile the output exactly
    group[ob] = true;
    for (const ConcatSlice& c : mine) member[c.member] = true;
    slices.insert(slices.end(), mine.begin(), mine.end());
  }
  return slices;
}

}  // namespace

void build_memory_plan(const Graph& g, const std::vector<int64_t>& produced_bytes,
                       const std::vector<ConcatRecord>& concats, const std::vector<int>& root,
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

  // Concat in place: member buffers become slices of their Concat's output buffer,
  // which then lives from the first member's producer to the last use of any of them.
  const std::vector<ConcatSlice> slices = concat_slices(g, produced_bytes, concats, root, buffer_of, pinned);
  std::vector<int> group_of(buffers.size(), -1);  // member buffer -> output buffer
  std::vector<int64_t> slice_at(buffers.size(), 0);
  for (const ConcatSlice& c : slices) {
    group_of[c.member] = c.group, slice_at[c.member] = c.at;
    Buffer& out = buffers[c.group];
    out.begin = std::min(out.begin, buffers[c.member].begin);
    out.end = std::max(out.end, buffers[c.member].end);
  }

  // Greedy by size: biggest first, each at the lowest offset that does not
  // overlap a placed buffer whose lifetime intersects its own.
  std::vector<int> order;
  for (size_t i = 0; i < buffers.size(); ++i)
    if (!pinned[i] && group_of[i] < 0) order.push_back(static_cast<int>(i));
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
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (pinned[i]) continue;
    const int v = buffers[i].value;
    if (group_of[i] >= 0) {  // exactly its slice: a larger result next time goes to the heap
      plan.offset[v] = buffers[group_of[i]].offset + slice_at[i];
      plan.slot_bytes[v] = produced_bytes[v];
    } else {
      plan.offset[v] = buffers[i].offset;
      plan.slot_bytes[v] = buffers[i].bytes;
    }
  }
  plan.arena_bytes = static_cast<size_t>(total);
  plan.arena = total > 0 ? aligned_buffer(plan.arena_bytes, false) : nullptr;
  plan.valid = plan.arena != nullptr || total == 0;
}

}  // namespace cvt
