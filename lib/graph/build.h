// Turning an imported graph into a runnable one: optional optimisation passes,
// then one kernel per node from the op registry (recursing into sub-graphs).
// Every importer (ONNX, Darknet) ends with finalize_graph().
#pragma once
#include "graph/graph.h"

namespace cvt {

// With release_packed, the graph's copy of a constant is freed as soon as
// every node reading it has a kernel that keeps its own packed copy
// (Kernel::reads_constant_input); only its shape and dtype stay. Constants read
// by sub-graphs or returned as outputs are kept. Freeing while kernels are
// created keeps peak memory near one copy of the weights. Such a graph cannot
// run the reference kernels (--kernels ref), which read the original weights.
Status finalize_graph(Graph& g, bool optimize, bool release_packed = false);

}  // namespace cvt
