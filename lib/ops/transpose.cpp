// Transpose kernels (see transpose.h): the odometer oracle and the fast path.
// Both copy whole elements by size, so every dtype shares one code path.
#include "ops/transpose.h"

#include <algorithm>
#include <cstring>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/tensor_ops.h"

namespace cvt {

TransposeProblem simplify_transpose(const Shape& in_shape, const std::vector<int>& perm) {
  const int rank = static_cast<int>(in_shape.size());
  // Drop size-1 axes: they never change where an element lands.
  std::vector<int> new_index(rank, -1);
  Shape kept_dims;
  for (int a = 0; a < rank; ++a)
    if (in_shape[a] != 1) {
      new_index[a] = static_cast<int>(kept_dims.size());
      kept_dims.push_back(in_shape[a]);
    }
  std::vector<int> kept_perm;
  for (int p : perm)
    if (new_index[p] >= 0) kept_perm.push_back(new_index[p]);

  // Group runs of output axes whose input axes are consecutive.
  struct Group { int first_in_axis; int64_t size; };
  std::vector<Group> groups;  // in output order
  for (size_t k = 0; k < kept_perm.size(); ++k) {
    if (k > 0 && kept_perm[k] == kept_perm[k - 1] + 1) {
      groups.back().size *= kept_dims[kept_perm[k]];
    } else {
      groups.push_back({kept_perm[k], kept_dims[kept_perm[k]]});
    }
  }
  std::vector<int> by_input(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) by_input[g] = static_cast<int>(g);
  std::sort(by_input.begin(), by_input.end(),
            [&](int a, int b) { return groups[a].first_in_axis < groups[b].first_in_axis; });
  TransposeProblem p;
  p.perm.resize(groups.size());
  for (size_t i = 0; i < by_input.size(); ++i) {
    p.dims.push_back(groups[by_input[i]].size);
    p.perm[by_input[i]] = static_cast<int>(i);
  }
  return p;
}

bool transpose_is_reshape(const Shape& in_shape, const std::vector<int>& perm) {
  return simplify_transpose(in_shape, perm).dims.size() <= 1;
}

namespace {

// Odometer over the output of a permutation, starting at output flat index
// `first`, writing `count` elements.
template <typename T>
void permute_range(const T* src, T* dst, const Shape& dims, const std::vector<int>& perm, int64_t first,
                   int64_t count) {
  const int rank = static_cast<int>(perm.size());
  std::vector<int64_t> in_strides = row_strides(dims);
  std::vector<int64_t> out_dims(rank), step(rank), idx(rank);
  for (int k = 0; k < rank; ++k) {
    out_dims[k] = dims[perm[k]];
    step[k] = in_strides[perm[k]];
  }
  int64_t rem = first, src_off = 0;
  for (int k = rank - 1; k >= 0; --k) {
    idx[k] = rem % out_dims[k];
    rem /= out_dims[k];
    src_off += idx[k] * step[k];
  }
  const int last = rank - 1;
  for (int64_t i = 0; i < count;) {
    // Innermost run without carries.
    int64_t run = std::min(out_dims[last] - idx[last], count - i);
    const T* s = src + src_off;
    const int64_t st = step[last];
    for (int64_t j = 0; j < run; ++j) dst[first + i + j] = s[j * st];
    i += run;
    src_off += run * st;
    idx[last] += run;
    for (int k = last; k > 0 && idx[k] == out_dims[k]; --k) {
      src_off -= idx[k] * step[k];
      idx[k] = 0;
      ++idx[k - 1];
      src_off += step[k - 1];
    }
  }
}

// Rows of `row_bytes` moved as units: the last axis stays last.
void permute_rows(const uint8_t* src, uint8_t* dst, const TransposeProblem& p, size_t elem_size) {
  const int rank = static_cast<int>(p.dims.size());
  const int64_t row = p.dims[rank - 1];
  const size_t row_bytes = static_cast<size_t>(row) * elem_size;
  Shape outer_dims(p.dims.begin(), p.dims.end() - 1);
  std::vector<int> outer_perm(p.perm.begin(), p.perm.end() - 1);
  std::vector<int64_t> in_strides = row_strides(outer_dims);
  const int orank = rank - 1;
  std::vector<int64_t> out_dims(orank), step(orank);
  int64_t rows = 1;
  for (int k = 0; k < orank; ++k) {
    out_dims[k] = outer_dims[outer_perm[k]];
    step[k] = in_strides[outer_perm[k]];
    rows *= out_dims[k];
  }
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / static_cast<int64_t>(row_bytes + 1));
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> idx(orank);
    int64_t rem = lo, src_row = 0;
    for (int k = orank - 1; k >= 0; --k) {
      idx[k] = rem % out_dims[k];
      rem /= out_dims[k];
      src_row += idx[k] * step[k];
    }
    for (int64_t r = lo; r < hi; ++r) {
      std::memcpy(dst + static_cast<size_t>(r) * row_bytes, src + static_cast<size_t>(src_row) * row_bytes, row_bytes);
      for (int k = orank - 1; k >= 0; --k) {
        src_row += step[k];
        if (++idx[k] < out_dims[k]) break;
        src_row -= idx[k] * step[k];
        idx[k] = 0;
      }
    }
  });
}

// Batched 2-D swap (B, R, C) -> (B, C, R) through a small square buffer:
// source rows are read as contiguous runs and destination rows written as
// contiguous runs, so large power-of-two strides do not thrash the cache.
template <typename T>
void permute_tiles(const T* src, T* dst, int64_t batch, int64_t R, int64_t C) {
  constexpr int64_t kTile = 32;
  const int64_t col_tiles = (C + kTile - 1) / kTile;
  // 4-byte elements: 8x8 register blocks where the CPU has AVX2.
  const auto block_b32 = active_isa() >= Isa::kAvx2 ? transpose_block_b32__avx2 : transpose_block_b32__scalar;
  parallel_for(0, batch * col_tiles, 1, [&](int64_t lo, int64_t hi) {
    T tile[kTile][kTile];
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t b = t / col_tiles, c0 = (t % col_tiles) * kTile;
      const int64_t nc = std::min(C, c0 + kTile) - c0;
      const T* s = src + b * R * C;
      T* d = dst + b * R * C;
      for (int64_t r0 = 0; r0 < R; r0 += kTile) {
        const int64_t nr = std::min(R, r0 + kTile) - r0;
        if constexpr (sizeof(T) == 4) {
          block_b32(reinterpret_cast<const uint32_t*>(s + r0 * C + c0), C, reinterpret_cast<uint32_t*>(d + c0 * R + r0),
                    R, nr, nc);
          continue;
        }
        for (int64_t r = 0; r < nr; ++r) {
          const T* in = s + (r0 + r) * C + c0;
          for (int64_t c = 0; c < nc; ++c) tile[c][r] = in[c];
        }
        for (int64_t c = 0; c < nc; ++c) std::memcpy(d + (c0 + c) * R + r0, tile[c], static_cast<size_t>(nr) * sizeof(T));
      }
    }
  });
}

bool is_batched_swap(const TransposeProblem& p) {
  const int rank = static_cast<int>(p.perm.size());
  if (rank < 2 || p.perm[rank - 1] != rank - 2 || p.perm[rank - 2] != rank - 1) return false;
  for (int k = 0; k < rank - 2; ++k)
    if (p.perm[k] != k) return false;
  return true;
}

}  // namespace

void transpose_block_b32__scalar(const uint32_t* src, int64_t ld_src, uint32_t* dst, int64_t ld_dst, int64_t rows,
                                 int64_t cols) noexcept {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = src[r * ld_src + c];
}

const char* transpose_path(const Shape& in_shape, const std::vector<int>& perm) {
  TransposeProblem p = simplify_transpose(in_shape, perm);
  if (p.dims.size() <= 1) return "copy";
  if (p.perm.back() == static_cast<int>(p.dims.size()) - 1) return "rows";
  if (is_batched_swap(p)) return "tiles";
  return "generic";
}

void transpose_ref(const void* src, void* dst, const Shape& in_shape, const std::vector<int>& perm,
                   size_t elem_size) {
  const int64_t n = shape_numel(in_shape);
  if (n <= 0) return;
  if (in_shape.empty()) {
    std::memcpy(dst, src, elem_size);
    return;
  }
  with_element_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    permute_range(static_cast<const T*>(src), static_cast<T*>(dst), in_shape, perm, 0, n);
  });
}

void transpose_fast(const void* src, void* dst, const Shape& in_shape, const std::vector<int>& perm,
                    size_t elem_size) {
  const int64_t n = shape_numel(in_shape);
  if (n <= 0) return;
  TransposeProblem p = simplify_transpose(in_shape, perm);
  const int rank = static_cast<int>(p.dims.size());
  if (rank <= 1) {
    std::memcpy(dst, src, static_cast<size_t>(n) * elem_size);
    return;
  }
  if (p.perm.back() == rank - 1) {
    permute_rows(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), p, elem_size);
    return;
  }
  with_element_size(elem_size, [&](auto tag) {
    using T = decltype(tag);
    const T* s = static_cast<const T*>(src);
    T* d = static_cast<T*>(dst);
    if (is_batched_swap(p)) {
      const int64_t batch = rank == 3 ? p.dims[0] : 1;
      permute_tiles(s, d, batch, p.dims[rank - 2], p.dims[rank - 1]);
      return;
    }
    parallel_for(0, n, int64_t(1) << 15,
                 [&](int64_t lo, int64_t hi) { permute_range(s, d, p.dims, p.perm, lo, hi - lo); });
  });
}

}  // namespace cvt
