// Turning an imported graph into a runnable one: optional optimisation passes,
// then one kernel per node from the op registry (recursing into sub-graphs).
// Every importer (ONNX, Darknet) ends with finalize_graph().
#pragma once
#include "graph/graph.h"

namespace cvt {

Status finalize_graph(Graph& g, bool optimize);

}  // namespace cvt
