// Winograd F(4x4, 3x3) tile transforms on kLanes tiles at once, in [position][lane]
// arrays so the compiler vectorises the lane loops. Included by conv_winograd.cpp
// (baseline x86-64) and x86/winograd_avx2.cpp (AVX2): the anonymous namespace
// gives each its own copy, so the two builds never merge at link time.
#pragma once

#include "ops/conv_winograd.h"

namespace cvt::winograd {
namespace {

constexpr int kA = kWinogradAlpha, kT = kWinogradTile;
constexpr int kLanes = 8;
constexpr int kPositions = kA * kA;

// B^T d for one 6-vector (rows of the 6x6 input tile), on kLanes lanes.
inline void bt_rows(const float (*d)[kLanes], float (*r)[kLanes], int stride) {
  for (int l = 0; l < kLanes; ++l) {
    const float d0 = d[0 * stride][l], d1 = d[1 * stride][l], d2 = d[2 * stride][l];
    const float d3 = d[3 * stride][l], d4 = d[4 * stride][l], d5 = d[5 * stride][l];
    r[0 * stride][l] = 4.f * d0 - 5.f * d2 + d4;
    r[1 * stride][l] = -4.f * (d1 + d2) + d3 + d4;
    r[2 * stride][l] = 4.f * (d1 - d2) - d3 + d4;
    r[3 * stride][l] = 2.f * (d3 - d1) - d2 + d4;
    r[4 * stride][l] = 2.f * (d1 - d3) - d2 + d4;
    r[5 * stride][l] = 4.f * d1 - 5.f * d3 + d5;
  }
}

// A^T m for one 6-vector, giving 4 outputs, on kLanes lanes.
inline void at_rows(const float (*m)[kLanes], float (*o)[kLanes], int in_stride, int out_stride) {
  for (int l = 0; l < kLanes; ++l) {
    const float m0 = m[0 * in_stride][l], m1 = m[1 * in_stride][l], m2 = m[2 * in_stride][l];
    const float m3 = m[3 * in_stride][l], m4 = m[4 * in_stride][l], m5 = m[5 * in_stride][l];
    const float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
    o[0 * out_stride][l] = m0 + s12 + s34;
    o[1 * out_stride][l] = d12 + 2.f * d34;
    o[2 * out_stride][l] = s12 + 4.f * s34;
    o[3 * out_stride][l] = d12 + 8.f * d34 + m5;
  }
}

// in[36][lanes] (row-major 6x6 per lane) -> v[36][lanes] = B^T d B.
inline void input_transform(const float (*d)[kLanes], float (*v)[kLanes]) {
  float t[kPositions][kLanes];
  for (int j = 0; j < kA; ++j) bt_rows(d + j, t + j, kA);        // columns: B^T d
  for (int i = 0; i < kA; ++i) bt_rows(t + i * kA, v + i * kA, 1);  // rows: (B^T d) B
}

// m[36][lanes] -> o[16][lanes] = A^T m A.
inline void output_transform(const float (*m)[kLanes], float (*o)[kLanes]) {
  float t[kT * kA][kLanes];
  for (int j = 0; j < kA; ++j) at_rows(m + j, t + j, kA, kA);          // columns: A^T m (4 x 6)
  for (int i = 0; i < kT; ++i) at_rows(t + i * kA, o + i * kT, 1, 1);  // rows: (A^T m) A (4 x 4)
}

}  // namespace
}  // namespace cvt::winograd
