// Liveness-based arena planning for intermediate tensors.
#pragma once
#include <vector>

#include "graph/graph.h"
#include "graph/session.h"

namespace cvt {

// Per value id: index of the last node reading it (sub-graph outer reads
// included), or -1 when no node reads it.
std::vector<int> compute_last_use(const Graph& g);

// A Concat seen in the recorded run whose inputs were whole chunks of its output
// (nothing outside the axis): node index and the bytes of each input, in order.
struct ConcatRecord {
  int node;
  std::vector<int64_t> chunk_bytes;
};

// From one recorded run (bytes produced per value, the Concats above, which
// buffer each value aliases, last uses): assigns arena offsets so that buffers
// alive at the same time never overlap. Buffers reachable from graph outputs
// stay on the heap. A recorded Concat's inputs are placed where they belong in
// its output where allowed (concat_slices), so their producers write there and
// the Concat has nothing to copy.
void build_memory_plan(const Graph& g, const std::vector<int64_t>& produced_bytes,
                       const std::vector<ConcatRecord>& concats, const std::vector<int>& root,
                       const std::vector<int>& last_use, MemoryPlan& plan);

}  // namespace cvt
