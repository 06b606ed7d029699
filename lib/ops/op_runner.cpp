#include "ops/op_runner.h"

#include <tbb/task_arena.h>

#include "ops/registry.h"

namespace cvt {

Result<Tensor*> HeapKernelContext::output(int i, DType dtype, const Shape& shape) {
  if (i < 0 || i >= num_outputs()) return internal_error("output index " + std::to_string(i) + " out of range");
  CVT_ASSIGN_OR_RETURN(outputs_[i], Tensor::try_alloc(dtype, shape));
  return &outputs_[i];
}

Status HeapKernelContext::alias_output(int i, const Tensor& view) {
  if (i < 0 || i >= num_outputs()) return internal_error("output index " + std::to_string(i) + " out of range");
  outputs_[i] = view;
  return Status::ok();
}

Result<std::vector<Tensor>> run_single_op(NodeDesc node, const std::vector<Tensor>& inputs,
                                          const SingleOpOptions& opts) {
  if (node.inputs.empty())
    for (size_t i = 0; i < inputs.size(); ++i)
      node.inputs.push_back(inputs[i].empty_handle() ? "" : "in" + std::to_string(i));
  if (node.outputs.empty()) node.outputs.push_back("out0");
  if (node.constant_inputs.empty()) node.constant_inputs.resize(node.inputs.size());
  if (node.name.empty()) node.name = node.op_type;
  CVT_ASSIGN_OR_RETURN(auto kernel, create_kernel(node));
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(t.empty_handle() ? nullptr : &t);
  HeapKernelContext ctx(ptrs, static_cast<int>(node.outputs.size()), opts.use_reference);
  Status st;
  tbb::task_arena arena(opts.threads > 0 ? opts.threads : 1);
  arena.execute([&] { st = kernel->run(ctx); });
  if (!st.is_ok()) return st.with_context(node.label());
  return std::move(ctx.outputs());
}

}  // namespace cvt
