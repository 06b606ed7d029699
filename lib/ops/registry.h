// The op registry: one explicit table, filled by each op family's
// register_*() function (no static self-registration, which silently drops
// ops from a static library).
#pragma once
#include <string>
#include <vector>

#include "ops/kernel.h"

namespace cvt {

// Looks up (domain, op_type) valid at `opset`. Returns nullptr when absent.
const OpSchema* find_op(const std::string& domain, const std::string& op_type, int opset);
// Builds the kernel or explains why not (unknown op, opset outside range, bad attribute).
Result<std::unique_ptr<Kernel>> create_kernel(const NodeDesc& node);
const std::vector<OpSchema>& all_ops();

// Op families. Each lives in its own file under ops/ and appends its schemas.
void register_conv_ops(std::vector<OpSchema>& t);        // Conv, ConvTranspose
void register_gemm_ops(std::vector<OpSchema>& t);        // Gemm, MatMul
void register_pool_ops(std::vector<OpSchema>& t);        // MaxPool, AveragePool, Global*, LpPool
void register_norm_ops(std::vector<OpSchema>& t);        // BatchNormalization, InstanceNormalization, LRN
void register_activation_ops(std::vector<OpSchema>& t);  // Relu, LeakyRelu, PRelu, Sigmoid, ...
void register_eltwise_ops(std::vector<OpSchema>& t);     // Add, Sub, ..., Exp, Log, Where, comparisons
void register_reduce_ops(std::vector<OpSchema>& t);      // Reduce*, ArgMax/ArgMin, Softmax, LogSoftmax
void register_shape_ops(std::vector<OpSchema>& t);       // Reshape, Flatten, Transpose, Squeeze, ...
void register_tensor_ops(std::vector<OpSchema>& t);      // Concat, Split, Slice, Gather, Pad, Cast, ...
void register_resize_ops(std::vector<OpSchema>& t);      // Resize, Upsample
void register_roi_ops(std::vector<OpSchema>& t);         // RoiAlign
void register_nms_ops(std::vector<OpSchema>& t);         // NonMaxSuppression
void register_control_flow_ops(std::vector<OpSchema>& t);  // If, Loop (sub-graphs)
void register_quant_ops(std::vector<OpSchema>& t);       // QuantizeLinear, QLinearConv, ..., com.microsoft QLinear*

}  // namespace cvt
