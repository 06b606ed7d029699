// Graph passes. Each one keeps outputs unchanged (tests/graph proves it) and
// lives in its own file under graph/passes/.
#pragma once
#include "graph/graph.h"

namespace cvt {

// Nodes whose inputs are all constants are evaluated once, at load.
Status fold_constants(Graph& g);
// Nodes that no graph output depends on are dropped.
Status remove_dead_nodes(Graph& g);
// Conv followed by BatchNormalization (inference form, constant parameters):
// the scale and shift are folded into the conv's weights and bias.
Status fold_batchnorm(Graph& g);
// Conv followed by Relu / LeakyRelu / Clip (constant bounds): the activation
// moves into the conv's output epilogue when the conv output has no other use.
Status fuse_activation(Graph& g);
// Conv followed by Add(conv_out, other), the conv output read only there (the
// ResNet residual): `other` becomes Conv input 3, added in the conv's output
// epilogue before any fused activation. Off with CVT_FUSE_RESIDUAL=0.
Status fuse_residual(Graph& g);
// Conv [+ fused activation] followed by MaxPool, the conv output read only there
// (the stems): one Conv that writes the pooled output, pooling bands of its rows
// while they are cached. Off with CVT_FUSE_MAXPOOL=0.
Status fuse_maxpool(Graph& g);
// Slice of a Slice (constant parameters, other axes, the inner result read only
// there) becomes one Slice over both axes (YOLOX's Focus).
Status fuse_slices(Graph& g);
// How many node inputs (and sub-graph outer references) read each value; graph
// outputs count as one use each.
std::vector<int> value_use_counts(const Graph& g);
// A plain ONNX Conv (default domain) with one output: what the fusion passes start from.
bool plain_conv(const Node& n);
// False when the environment variable `name` is "0" (a pass turned off for A/B measurements).
bool pass_enabled(const char* name);
// The node index producing each value; -1 for graph inputs and constants.
std::vector<int> value_producers(const Graph& g);
// Drops the nodes marked in `removed`, keeping the order.
void drop_nodes(Graph& g, const std::vector<bool>& removed);
// A new constant value named `base` (made unique) holding `t`; returns its id.
int add_constant_value(Graph& g, const std::string& base, Tensor t);
// The default pipeline run by importers.
Status optimize_graph(Graph& g);

}  // namespace cvt
