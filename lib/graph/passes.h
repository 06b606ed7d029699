// Graph passes. Each one keeps outputs unchanged (tests/graph proves it) and
// lives in its own file under graph/passes/.
#pragma once
#include "graph/graph.h"

namespace cvt {

// Nodes whose inputs are all constants are evaluated once, at load.
Status fold_constants(Graph& g);
// Nodes that no graph output depends on are dropped.
Status remove_dead_nodes(Graph& g);
// The default pipeline run by importers.
Status optimize_graph(Graph& g);

}  // namespace cvt
