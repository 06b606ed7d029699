// N-D permutation of dense tensors by element size, shared by Transpose,
// DepthToSpace and SpaceToDepth. Output shape: out[k] = in_shape[perm[k]].
// Callers validate `perm`; these functions assume it is a permutation.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace cvt {

// The same permutation with size-1 axes dropped and axes that stay adjacent
// merged: NCHW->NHWC becomes (N, C, HW) with perm (0, 2, 1).
struct TransposeProblem {
  Shape dims;
  std::vector<int> perm;
};
TransposeProblem simplify_transpose(const Shape& in_shape, const std::vector<int>& perm);

// True when the permutation moves no data (only size-1 axes move): a reshape.
bool transpose_is_reshape(const Shape& in_shape, const std::vector<int>& perm);

// Oracle: one odometer over the output, no threads.
void transpose_ref(const void* src, void* dst, const Shape& in_shape, const std::vector<int>& perm,
                   size_t elem_size);
// Same result: row copies when the last axis stays last, blocked tiles for a
// batched 2-D swap (NCHW <-> NHWC), else an odometer; parallel over outputs.
void transpose_fast(const void* src, void* dst, const Shape& in_shape, const std::vector<int>& perm,
                    size_t elem_size);
// dst[c * ld_dst + r] = src[r * ld_src + c] for r < rows, c < cols, 4-byte
// elements (a tile of the batched 2-D swap); the AVX2 one in 8x8 register blocks.
void transpose_block_b32__scalar(const uint32_t* src, int64_t ld_src, uint32_t* dst, int64_t ld_dst, int64_t rows,
                                 int64_t cols) noexcept;
void transpose_block_b32__avx2(const uint32_t* src, int64_t ld_src, uint32_t* dst, int64_t ld_dst, int64_t rows,
                               int64_t cols) noexcept;
// Which path transpose_fast takes: "copy", "rows", "tiles" or "generic".
const char* transpose_path(const Shape& in_shape, const std::vector<int>& perm);

}  // namespace cvt
