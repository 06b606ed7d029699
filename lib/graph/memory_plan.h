// Liveness-based arena planning for intermediate tensors.
#pragma once
#include <vector>

#include "graph/graph.h"
#include "graph/session.h"

namespace cvt {

// Per value id: index of the last node reading it (sub-graph outer reads
// included), or -1 when no node reads it.
std::vector<int> compute_last_use(const Graph& g);

// From one recorded run (bytes produced per value, which buffer each value
// aliases, last uses): assigns arena offsets so that buffers alive at the same
// time never overlap. Buffers reachable from graph outputs stay on the heap.
void build_memory_plan(const Graph& g, const std::vector<int64_t>& produced_bytes, const std::vector<int>& root,
                       const std::vector<int>& last_use, MemoryPlan& plan);

}  // namespace cvt
