// Helpers shared by the shape, tensor and resize op families: axis and
// int-list parsing, ONNX dtype codes, float16 conversion, element-size dispatch.
// Nothing here allocates tensors; kernels do that through the KernelContext.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ops/kernel.h"

namespace cvt {

// Highest opset these families accept. Opsets 19-21 changed only types that
// DType does not have (float8, int4) or added modes handled here (Pad wrap,
// Resize half_pixel_symmetric).
constexpr int kTensorOpsMaxOpset = 21;

// Axis in [-rank, rank-1] -> [0, rank-1]; `what` names the attribute for errors.
Result<int> normalize_axis(int64_t axis, int rank, const std::string& what);
// Normalises every axis and rejects repeats.
Result<std::vector<int>> normalize_axes(const std::vector<int64_t>& axes, int rank,
                                        const std::string& what);

// Values of a 0-D or 1-D int32/int64 tensor (shape, axes, pads, repeats inputs).
Result<std::vector<int64_t>> int_list_input(const Tensor& t, const std::string& what);
// Single value of a one-element numeric tensor, as int64 / double.
Result<int64_t> int_scalar_input(const Tensor& t, const std::string& what);
Result<double> double_scalar_input(const Tensor& t, const std::string& what);

// Required input i, or an error naming it.
Result<const Tensor*> required_input(const KernelContext& ctx, int i, const char* what);

// TensorProto.DataType code (1 = FLOAT, 7 = INT64, ...) and Cast-1 names ("FLOAT").
Result<DType> dtype_from_onnx(int64_t code);
Result<DType> dtype_from_onnx_name(const std::string& name);

// IEEE binary16, round to nearest even; NaN stays NaN, overflow becomes inf.
float half_to_float(uint16_t h);
uint16_t double_to_half(double v);

// Row-major element strides of `shape`.
std::vector<int64_t> row_strides(const Shape& shape);

// product of dims [begin, end)
int64_t dims_product(const Shape& shape, int begin, int end);

// Copies `count` elements of `elem_size` bytes from src[src_index[i]] to dst[i].
void gather_elements_bytes(const void* src, void* dst, const int64_t* src_index, int64_t count,
                           size_t elem_size);

// dst[i] = src[2 * i], i < n, 4-byte elements (Slice with step 2 on the last
// axis); reads src[0 .. 2n - 2] only. The AVX2 one 8 outputs a step.
void copy_stride2_b32__scalar(const uint32_t* src, int64_t n, uint32_t* dst) noexcept;
void copy_stride2_b32__avx2(const uint32_t* src, int64_t n, uint32_t* dst) noexcept;

// Calls fn(T{}) with the unsigned integer type of the element size (1/2/4/8).
// Byte-level ops (copies, permutations) use it so every dtype shares one loop.
template <typename Fn>
void with_element_size(size_t elem_size, Fn&& fn) {
  switch (elem_size) {
    case 1: fn(uint8_t{}); break;
    case 2: fn(uint16_t{}); break;
    case 4: fn(uint32_t{}); break;
    default: fn(uint64_t{}); break;
  }
}

// Calls fn(T{}) for the C++ type of a numeric dtype (not float16); returns
// false for float16 so the caller can report it as unsupported.
template <typename Fn>
bool with_numeric_type(DType dt, Fn&& fn) {
  switch (dt) {
    case DType::kFloat32: fn(float{}); return true;
    case DType::kFloat64: fn(double{}); return true;
    case DType::kInt8: fn(int8_t{}); return true;
    case DType::kUInt8: fn(uint8_t{}); return true;
    case DType::kInt16: fn(int16_t{}); return true;
    case DType::kUInt16: fn(uint16_t{}); return true;
    case DType::kInt32: fn(int32_t{}); return true;
    case DType::kUInt32: fn(uint32_t{}); return true;
    case DType::kInt64: fn(int64_t{}); return true;
    case DType::kUInt64: fn(uint64_t{}); return true;
    case DType::kBool: fn(bool{}); return true;
    case DType::kFloat16: return false;
  }
  return false;
}

Status unsupported_dtype(const char* op, DType dt);

// Parts of register_tensor_ops(), one per file.
void register_slice_pad_ops(std::vector<OpSchema>& t);       // slice_pad.cpp: Slice, Pad
void register_gather_scatter_ops(std::vector<OpSchema>& t);  // gather_scatter.cpp
void register_cast_ops(std::vector<OpSchema>& t);            // cast.cpp: Cast, CastLike
void register_topk_ops(std::vector<OpSchema>& t);            // topk.cpp: TopK, CumSum, OneHot

// Stores the value 1 (true for bool) of dtype `dt` at `dst`.
void store_one(DType dt, void* dst);
// Stores `v` converted (static_cast; float16 rounded) to dtype `dt` at `dst`.
void store_double_as(DType dt, double v, void* dst);
// Fills `count` elements of `elem_size` bytes with the element at `value`.
void fill_bytes(void* dst, int64_t count, const void* value, size_t elem_size);

}  // namespace cvt
