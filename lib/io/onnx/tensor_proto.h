// ONNX TensorProto <-> Tensor. Protobuf types stay out of this header so that
// only the importer's translation units depend on them.
#pragma once
#include <string>

#include "core/tensor.h"

namespace onnx {
class TensorProto;
}

namespace cvt {

// `base_dir` resolves external data locations (relative paths only).
Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir);
// Reads a serialized TensorProto file (the ONNX test suite's input_0.pb ...).
Result<Tensor> load_tensor_pb(const std::string& path);
Result<DType> dtype_from_onnx(int onnx_type);

}  // namespace cvt
