// Software prefetch `floats` past a pointer, for the GEMM micro-kernels.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace cvt::x86 {

// The address may lie past the buffer's end (a prefetch never faults), so it is
// computed as an integer, not by pointer arithmetic.
inline void prefetch_ahead(const float* p, int64_t floats) noexcept {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) + uintptr_t(floats) * sizeof(float)),
               _MM_HINT_T0);
}

}  // namespace cvt::x86
