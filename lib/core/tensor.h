// Tensor: a dtype, a shape and a contiguous row-major (NCHW for images) buffer.
// Storage is shared and reference counted; reshaping shares it. There are no
// strided views: kernels may assume dense memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace cvt {

enum class DType : uint8_t { kFloat32, kFloat64, kFloat16, kInt8, kUInt8, kInt16, kUInt16, kInt32, kUInt32, kInt64, kUInt64, kBool };

using Shape = std::vector<int64_t>;

size_t dtype_size(DType t);
const char* dtype_name(DType t);
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kInt8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::kInt16; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::kUInt16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kInt32; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::kUInt32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::kUInt64; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }

// Bounds on sizes that come from untrusted files (models, images, npy).
struct Limits {
  static constexpr int64_t kMaxRank = 8;
  static constexpr int64_t kMaxElements = int64_t(1) << 32;       // 4 G elements
  static constexpr int64_t kMaxBytes = int64_t(16) << 30;         // 16 GiB per tensor
};

// Process-wide cap on one tensor's bytes, at most Limits::kMaxBytes. Lowered by
// fuzzers and memory-bounded deployments; check_shape() enforces it.
int64_t tensor_byte_limit();
void set_tensor_byte_limit(int64_t bytes);

// Process-wide cap on the arithmetic one node may do (multiply-adds, window
// reads, Loop iterations), 0 = none (the default). A file of a few hundred bytes
// can legitimately ask for hours of work; fuzzers and services that run
// untrusted models set a cap so that such a file is an error, not a hang.
int64_t node_work_limit();
void set_node_work_limit(int64_t units);
// limit_exceeded when `units` (computed in double, so no overflow) is over the cap.
Status check_node_work(double units, const char* what);

// Product of dims, or -1 when any dim is negative or the product overflows kMaxElements.
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);
// Validates rank, non-negative dims and element/byte bounds.
Status check_shape(const Shape& s, DType t);

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-initialised, 64-byte aligned storage. Aborts on bad shapes:
  // validate untrusted shapes with check_shape() or use try_alloc().
  Tensor(DType dtype, Shape shape);
  static Result<Tensor> try_alloc(DType dtype, Shape shape);
  // Non-owning (owner may be null) or co-owning wrapper around external memory.
  static Tensor wrap(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner);
  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);
  template <typename T>
  static Tensor scalar(T v) { return from_vector<T>({}, {v}); }

  bool empty_handle() const { return data_ == nullptr && numel_ == 0 && shape_.empty(); }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T> T* data() { return static_cast<T*>(data_); }
  template <typename T> const T* data() const { return static_cast<const T*>(data_); }

  // Same storage, new shape (numel must match).
  Tensor reshaped(Shape shape) const;
  Tensor clone() const;
  // Values as int64 (for shape-like inputs of any integer dtype).
  std::vector<int64_t> to_int64_vector() const;
  std::vector<float> to_float_vector() const;
  const std::shared_ptr<void>& owner() const { return owner_; }

 private:
  DType dtype_ = DType::kFloat32;
  Shape shape_;
  int64_t numel_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  CVT_ASSERT(static_cast<int64_t>(values.size()) == t.numel());
  T* d = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) d[i] = values[i];
  return t;
}

// Allocates `bytes` with 64-byte alignment; freed by the returned owner.
std::shared_ptr<void> aligned_buffer(size_t bytes, bool zero);

}  // namespace cvt
