// Runs one op outside any graph: the harness for per-op conformance tests and
// for constant folding. Outputs are heap tensors.
#pragma once
#include <vector>

#include "ops/kernel.h"

namespace cvt {

struct SingleOpOptions {
  bool use_reference = false;
  int threads = 1;  // runs inside a tbb::task_arena of this size
};

// `inputs` entries may be empty handles (Tensor()) for omitted optional inputs.
// node.inputs / constant_inputs are filled in from `inputs` when left empty.
Result<std::vector<Tensor>> run_single_op(NodeDesc node, const std::vector<Tensor>& inputs,
                                          const SingleOpOptions& opts = {});

// A KernelContext whose outputs are plain heap tensors.
class HeapKernelContext : public KernelContext {
 public:
  HeapKernelContext(std::vector<const Tensor*> inputs, int num_outputs, bool use_reference)
      : inputs_(std::move(inputs)), outputs_(num_outputs), use_reference_(use_reference) {}
  int num_inputs() const override { return static_cast<int>(inputs_.size()); }
  const Tensor* input(int i) const override {
    return i < static_cast<int>(inputs_.size()) ? inputs_[i] : nullptr;
  }
  int num_outputs() const override { return static_cast<int>(outputs_.size()); }
  Result<Tensor*> output(int i, DType dtype, const Shape& shape) override;
  Status alias_output(int i, const Tensor& view) override;
  bool use_reference() const override { return use_reference_; }
  SubgraphRunner* subgraph_runner() override { return runner_; }
  void set_subgraph_runner(SubgraphRunner* r) { runner_ = r; }
  std::vector<Tensor>& outputs() { return outputs_; }

 private:
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor> outputs_;
  bool use_reference_;
  SubgraphRunner* runner_ = nullptr;
};

}  // namespace cvt
