// Packed single-precision GEMM shared by Gemm, MatMul, Conv and ConvTranspose:
// C = op(A) * op(B) (+ row bias) (+ C) with a fused activation epilogue.
// Not a general BLAS: float32 only, row-major, no strided batches.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>

#include <vector>

#include "core/cpu_features.h"
#include "core/status.h"
#include "core/tensor.h"

namespace cvt {

/// Elementwise transform fused into the last write of an output tile.
struct Epilogue {
  enum class Kind : uint8_t { kNone, kClamp, kLeakyRelu, kSilu };
  Kind kind = Kind::kNone;
  float lo = -std::numeric_limits<float>::infinity();  // kClamp bounds (relu: lo = 0)
  float hi = std::numeric_limits<float>::infinity();
  float slope = 0.01f;  // kLeakyRelu: x < 0 ? slope * x : x

  static Epilogue none() { return {}; }
  static Epilogue relu() { return clamp(0.f, std::numeric_limits<float>::infinity()); }
  static Epilogue clamp(float lo, float hi) { Epilogue e; e.kind = Kind::kClamp; e.lo = lo; e.hi = hi; return e; }
  static Epilogue leaky_relu(float slope) { Epilogue e; e.kind = Kind::kLeakyRelu; e.slope = slope; return e; }
  /// x * sigmoid(x) (Sigmoid -> Mul on the conv output, as YOLOX / YOLOv5+ write SiLU).
  static Epilogue silu() { Epilogue e; e.kind = Kind::kSilu; return e; }
  float apply(float v) const {
    if (kind == Kind::kClamp) return v < lo ? lo : (v > hi ? hi : v);
    if (kind == Kind::kLeakyRelu) return v < 0.f ? v * slope : v;
    if (kind == Kind::kSilu) return v * (v >= 0.f ? 1.f / (1.f + std::exp(-v)) : std::exp(v) / (1.f + std::exp(v)));
    return v;
  }
};

/// What a micro-kernel does with its MR x NR tile besides accumulating.
struct UkernelParams {
  bool load_c = false;              // C += acc instead of C = acc
  const float* c_in = nullptr;      // with load_c: C's old value read here (same ldc), not from C
  const float* row_bias = nullptr;  // added once (on the first K block), one value per tile row
  bool finish = false;              // last K block: apply the epilogue
  bool prefetch_b = false;          // B comes from memory: fetch its rows ahead (where the kernel can)
  // Rows of nr floats, fetch_ld apart, to bring into L2 (where the kernel can):
  // fetch_count of them (0: kc), one every fetch_every k steps.
  const float* fetch_rows = nullptr;
  int64_t fetch_ld = 0;
  int64_t fetch_count = 0;
  int fetch_every = 1;
  Epilogue epilogue;
};

// c[i*ldc + j] (=|+=) sum_k a[k*MR + i] * b[k*NR + j] for i < mr, j < nr.
// `a` is an MR-row panel, `b` an NR-column panel, both zero padded.
using GemmUkernelFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                               int nr, const UkernelParams& p) noexcept;

// The same tile with B read in place: 16 full columns of a row-major matrix,
// b[k*ldb + j]; no packing (nr is always NR).
using GemmStridedBUkernelFn = void (*)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                       int mr, const UkernelParams& p) noexcept;

// The same tile with B's row k read in place at b + b_offsets[k] (nr columns,
// nr <= NR): a conv's taps straight from its input planes, no packing.
using GemmIndirectBUkernelFn = void (*)(int64_t kc, const float* a, const float* b, const int64_t* b_offsets,
                                        float* c, int64_t ldc, int mr, int nr, const UkernelParams& p) noexcept;

// The same tile with A read in place: row i of the tile at a[k*lda + i] (op(A)
// of a transposed view, e.g. a pointwise conv's input planes as pixel rows).
using GemmStridedAUkernelFn = void (*)(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                                       int64_t ldc, int mr, int nr, const UkernelParams& p) noexcept;

/// One micro-kernel and the cache blocking that suits it.
struct GemmKernelSet {
  Isa isa;
  int mr, nr;          // register tile
  int64_t kc;          // K block: one B panel (kc x nr) stays in L1
  int64_t mc;          // M block: one packed A block (mc x kc) stays in L2
  int64_t nc;          // widest N strip handled by one task
  GemmUkernelFn ukernel;
  const char* name;    // "gemm_f32_6x16__avx2"
  GemmStridedBUkernelFn ukernel_strided_b = nullptr;  // where the ISA has one
  GemmIndirectBUkernelFn ukernel_indirect_b = nullptr;  // likewise
  GemmStridedAUkernelFn ukernel_strided_a = nullptr;    // likewise
};

// ISA kernels (lib/ops/x86/gemm_*.cpp); raw pointers, no validation.
void gemm_f32_ukernel_6x16__avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                                 int nr, const UkernelParams& p) noexcept;
void gemm_f32_ukernel_6x16_strided_b__avx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                           int64_t ldc, int mr, const UkernelParams& p) noexcept;
void gemm_f32_ukernel_14x32_strided_b__avx512(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                                           int64_t ldc, int mr, const UkernelParams& p) noexcept;
void gemm_f32_ukernel_14x32_indirect_b__avx512(int64_t kc, const float* a, const float* b,
                                               const int64_t* b_offsets, float* c, int64_t ldc, int mr, int nr,
                                               const UkernelParams& p) noexcept;
void gemm_f32_ukernel_14x32_strided_a__avx512(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                                              int64_t ldc, int mr, int nr, const UkernelParams& p) noexcept;
void gemm_f32_ukernel_14x32__avx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                                    int nr, const UkernelParams& p) noexcept;
void gemm_f32_ukernel_4x8__scalar(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                                  int nr, const UkernelParams& p) noexcept;

/// The kernel set for `isa` (clamped to what the CPU runs); gemm_kernels() uses active_isa().
const GemmKernelSet& gemm_kernels(Isa isa);
inline const GemmKernelSet& gemm_kernels() { return gemm_kernels(active_isa()); }

/// A strided row-major matrix, read as its transpose when `trans` is set:
/// op(X)[r][c] = trans ? data[c*ld + r] : data[r*ld + c].
struct MatrixView {
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
  float at(int64_t r, int64_t c) const { return trans ? data[c * ld + r] : data[r * ld + c]; }
};

/// Packs rows [k0, k0+kc) x cols [n0, n0+nc) of a virtual B into NR panels at
/// dst (panel j at dst + j*kc*nr, last panel zero padded). Lets conv feed
/// im2col straight into the packed layout.
using PackBFn = std::function<void(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst)>;

/// op(A) (M x K) packed once into MR-row panels per K block, e.g. conv weights.
/// Panel (block p starting at k0, panel i) lives at k0 * padded_rows + i * kc * MR.
class PackedA {
 public:
  PackedA() = default;
  PackedA(const GemmKernelSet& ks, int64_t m, int64_t k, MatrixView a, float scale = 1.f);
  /// A = X^T for a virtual K x M matrix X given by its B packer (called with
  /// nr = MR: a B panel of MR columns is an A panel of MR rows), K blocks in
  /// parallel, into caller-owned `storage` of storage_floats(ks, m, k) floats
  /// (or into its own storage when that is null).
  PackedA(const GemmKernelSet& ks, int64_t m, int64_t k, const PackBFn& pack_transposed, float* storage = nullptr);
  static int64_t storage_floats(const GemmKernelSet& ks, int64_t m, int64_t k);
  const float* panel(int64_t k0, int64_t kc, int64_t row0) const {
    return data_.get() + k0 * padded_rows_ + (row0 / mr_) * kc * mr_;
  }
  int64_t rows() const { return m_; }
  int64_t depth() const { return k_; }
  Isa isa() const { return isa_; }
  bool empty() const { return !data_; }

 private:
  std::shared_ptr<float> data_;
  int64_t m_ = 0, k_ = 0, padded_rows_ = 0;
  int mr_ = 1;
  Isa isa_ = Isa::kScalar;
};

/// op(B) (K x N) packed once into NR-column panels per K block, e.g. FC weights.
class PackedB {
 public:
  PackedB() = default;
  PackedB(const GemmKernelSet& ks, int64_t k, int64_t n, MatrixView b);
  /// From a packing function (conv's im2col); the K blocks are packed in parallel.
  /// Into `storage` (storage_floats() floats, not owned) when given, else an owned buffer.
  PackedB(const GemmKernelSet& ks, int64_t k, int64_t n, const PackBFn& pack, float* storage = nullptr);
  static int64_t storage_floats(const GemmKernelSet& ks, int64_t k, int64_t n);
  const float* panel(int64_t k0, int64_t kc, int64_t col0) const {
    return data_.get() + k0 * padded_cols_ + (col0 / nr_) * kc * nr_;
  }
  int64_t cols() const { return n_; }
  int64_t depth() const { return k_; }
  Isa isa() const { return isa_; }
  bool empty() const { return !data_; }

 private:
  std::shared_ptr<float> data_;
  int64_t k_ = 0, n_ = 0, padded_cols_ = 0;
  int nr_ = 1;
  Isa isa_ = Isa::kScalar;
};

/// Packs rows [k0, k0+kc) x cols [n0, n0+nc) of a row-major (or transposed) B
/// into NR panels, as a PackBFn does.
void pack_b_panels(MatrixView b, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* dst);

/// One GEMM of a batch. Exactly one source per operand must be set.
struct GemmOperands {
  const PackedA* packed_a = nullptr;
  MatrixView a;                     // packed per task when packed_a is null
  const PackedB* packed_b = nullptr;
  MatrixView b;
  const PackBFn* pack_b = nullptr;  // takes precedence over `b`
  float* c = nullptr;
  int64_t ldc = 0;
  const float* row_bias = nullptr;  // M values, or null
  // With GemmShape::accumulate: the values to accumulate onto (ldc apart), read
  // instead of C's contents; C is then only written (a conv's residual input).
  const float* c_in = nullptr;
};

struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.f;        // scales op(A) while packing; must be 1 with packed_a
  bool accumulate = false;  // C += alpha*A*B (C pre-filled by the caller)
  Epilogue epilogue;
  /// C is a layer's output, too big to stay cached (a conv's output planes): tall
  /// blocks then run row tile by row tile, each across all its columns, so C (and
  /// c_in) are written and read as a few long row runs, not one short run per row.
  bool c_streams_out = false;
};

/// Whether gemm_f32 reads op(A) in place, not packed: a transposed view (tile
/// rows side by side) against a pre-packed B, on kernel sets that can.
bool reads_a_in_place(const GemmKernelSet& ks, const GemmShape& s, const GemmOperands& op);

/// Runs `batch` GEMMs of one shape; bind(i, ops) fills the pointers of GEMM i.
/// Output tiles run in parallel; each C element is always the same k-ordered
/// chain of FMAs (K is blocked by ks.kc only), so results are bit-identical
/// whatever the thread count or tiling.
void gemm_f32(const GemmKernelSet& ks, const GemmShape& shape, int64_t batch,
              const std::function<void(int64_t, GemmOperands&)>& bind);

/// Plain triple loop (reference path): C = alpha*op(A)*op(B) (+C if accumulate).
void gemm_f32_ref(int64_t m, int64_t n, int64_t k, float alpha, MatrixView a, MatrixView b, float* c,
                  int64_t ldc, bool accumulate);

/// Gemm op attributes (validated) and the reference op on float32 tensors.
struct GemmOpAttrs {
  float alpha = 1.f, beta = 1.f;
  bool trans_a = false, trans_b = false;
};
/// Element strides of C (rank <= 2) broadcast unidirectionally to (M, N), or an error.
struct BroadcastStrides {
  int64_t row = 0, col = 0;
};
Result<BroadcastStrides> gemm_c_strides(const Shape& c, int64_t m, int64_t n);
/// y = alpha*op(A)*op(B) + beta*C; shapes already validated, y allocated (M, N).
void gemm_op_ref(const GemmOpAttrs& attrs, const Tensor& a, const Tensor& b, const Tensor* c, Tensor& y);

/// numpy matmul: batch dims broadcast, 1-D operands promoted then squeezed.
struct MatMulPlan {
  Shape out;
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1;
  std::vector<int64_t> a_offsets, b_offsets;  // element offset of each output batch's operands
  bool b_is_matrix = false;                   // B has no batch dims: one (K, N) matrix for all
};
Result<MatMulPlan> plan_matmul(const Shape& a, const Shape& b);
void matmul_ref(const MatMulPlan& plan, const float* a, const float* b, float* y);

/// Thread-local scratch for kernels: `slot` (0-8) separates simultaneous users
/// in one task. Valid until the next call with the same slot on this thread.
/// Slot 8 is the calling thread's only, around whole conv paths (conv_maxpool.cpp).
float* gemm_scratch(int slot, size_t floats);

}  // namespace cvt
