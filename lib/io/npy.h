// NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order): what
// `cvtool run` reads and writes, and how reference tensors are exchanged with PyTorch.
#pragma once
#include <string>

#include "core/tensor.h"

namespace cvt {

Result<Tensor> read_npy(const std::string& path);
Result<Tensor> parse_npy(const std::string& bytes, const std::string& label);
Status write_npy(const std::string& path, const Tensor& t);

}  // namespace cvt
