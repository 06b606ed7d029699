// A reverse-mode tape over an inference Graph, from its single input up to a
// set of target values (feature layers). forward() runs the graph's own
// kernels node by node and keeps every value the backward pass needs;
// backward() walks the same nodes in reverse with the per-op gradients of
// grad_ops.h and returns d(loss)/d(input). Weights are constants: only the
// input's gradient is computed.
//
// Import the model with optimize = false so nodes are the file's own ops
// (no folded BatchNorm, no fused activations) and layer names survive.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace cvt::autograd {

/// Op types with a backward on the tape.
const std::vector<std::string>& differentiable_ops();

class FeatureTape {
 public:
  /// Errors: kNotFound for a target that is not a value of the graph (the
  /// message lists activation outputs to choose from); kUnsupported when a
  /// target depends on the input through an op without a backward.
  static Result<std::unique_ptr<FeatureTape>> create(std::shared_ptr<const Model> model,
                                                     const std::vector<std::string>& targets);
  /// Runs up to the targets; returns them in target order (float32).
  Result<std::vector<Tensor>> forward(const Tensor& input);
  /// d(loss)/d(input) given d(loss)/d(target i) (an empty Tensor() = no gradient),
  /// for the values of the last forward().
  Result<Tensor> backward(const std::vector<Tensor>& target_grads);
  /// Names of the activation outputs (Relu, LeakyRelu) in graph order: layer choices.
  static std::vector<std::string> activation_layers(const Graph& g);

 private:
  FeatureTape() = default;
  Status backward_node(const Node& node, std::vector<Tensor>& grads);
  const Tensor* value(int id) const;

  std::shared_ptr<const Model> model_;
  std::vector<int> nodes_;           // indices into graph.nodes, topological
  std::vector<char> requires_grad_;  // per value id: depends on the input
  std::vector<int> target_ids_;
  int input_id_ = -1;
  std::vector<Tensor> values_;
};

}  // namespace cvt::autograd
