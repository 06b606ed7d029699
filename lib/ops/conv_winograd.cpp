// Winograd F(4x4, 3x3): the tiled driver and weight transform. See conv_winograd.h.
// The tile transforms (ops/winograd_transforms.h) are built twice, baseline here
// and AVX2 in x86/winograd_avx2.cpp; AVX-512 has its own 16-lane input and output
// passes (x86/winograd_avx512.cpp). The GEMM kernel set's ISA picks.
#include "ops/conv_winograd.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/int_math.h"
#include "core/parallel.h"
#include "ops/winograd_transforms.h"

namespace cvt {
namespace {

using namespace winograd;
// Tiles per block: V and M of one block (36 x (C + K) x block floats) stay near L2/L3 sizes.
constexpr int64_t kBlockBytes = int64_t(3) << 20;

using TransformFn = void (*)(const float (*)[kLanes], float (*)[kLanes]) noexcept;
void input_transform__baseline(const float (*d)[kLanes], float (*v)[kLanes]) noexcept { input_transform(d, v); }
void output_transform__baseline(const float (*m)[kLanes], float (*o)[kLanes]) noexcept { output_transform(m, o); }

struct TileGeometry {
  int64_t tiles_h, tiles_w, per_image, total;
};

TileGeometry tile_geometry(const ConvParams& p) {
  TileGeometry g;
  g.tiles_h = ceil_div(p.out[1], kT);
  g.tiles_w = ceil_div(p.out[2], kT);
  g.per_image = g.tiles_h * g.tiles_w;
  g.total = g.per_image * p.batch;
  return g;
}

}  // namespace

void winograd_f43_weight_tile(const float* g, float* u) {
  // G g G^T with G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1], in double.
  static const double G[kA][3] = {{0.25, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};
  double t[kA][3];
  for (int i = 0; i < kA; ++i)
    for (int j = 0; j < 3; ++j) t[i][j] = G[i][0] * g[0 * 3 + j] + G[i][1] * g[1 * 3 + j] + G[i][2] * g[2 * 3 + j];
  for (int i = 0; i < kA; ++i)
    for (int j = 0; j < kA; ++j) u[i * kA + j] = float(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
}

void winograd_f43_input_tile(const float* d, float* v) {
  float dl[kPositions][kLanes] = {}, vl[kPositions][kLanes];
  for (int i = 0; i < kPositions; ++i) dl[i][0] = d[i];
  input_transform(dl, vl);
  for (int i = 0; i < kPositions; ++i) v[i] = vl[i][0];
}

void winograd_f43_output_tile(const float* m, float* o) {
  float ml[kPositions][kLanes] = {}, ol[kT * kT][kLanes];
  for (int i = 0; i < kPositions; ++i) ml[i][0] = m[i];
  output_transform(ml, ol);
  for (int i = 0; i < kT * kT; ++i) o[i] = ol[i][0];
}

bool winograd_eligible_weights(const ConvAttrs& a, const Shape& w) {
  if (w.size() != 4 || w[2] != 3 || w[3] != 3 || a.group != 1) return false;
  for (int64_t s : a.strides)
    if (s != 1) return false;
  for (int64_t d : a.dilations)
    if (d != 1) return false;
  return w[0] >= 8 && w[1] >= 8;
}

bool winograd_eligible(const ConvParams& p) {
  return p.spatial_rank == 2 && p.group == 1 && p.kernel[1] == 3 && p.kernel[2] == 3 && p.stride[1] == 1 &&
         p.stride[2] == 1 && p.dilation[1] == 1 && p.dilation[2] == 1 && p.in_channels >= 8 && p.out_channels >= 8 &&
         p.out[1] >= 2 && p.out[2] >= 2;
}

// Winograd saves multiplies but pays input / output transforms per channel and runs
// its 36 GEMMs with depth C: with few input channels the im2col GEMM is faster.
// Measured per layer on AVX2 (in-model minimums; CVT_CONV_WINOGRAD=0 for the A/B),
// since the 8-tile gather / scatter:
// - SqueezeNet's 16 -> 64 expands run 1.3-1.4x slower in Winograd, its 32 -> 128
//   and 48 -> 192 the same either way;
// - from 64 input channels on it wins, however many outputs: SqueezeNet's
//   64 -> 256 expands 0.70 -> 0.55-0.60 ms, GoogLeNet's 64 -> 192 conv3
//   8.8 -> 5.7 ms, ResNet's 64 -> 64 ... 512 -> 512 1.2-1.6x.
// The AVX-512 passes (16 lanes on split rows) made the transforms ~3x cheaper, and
// Winograd wins from 16 input channels (1 thread, in-model minimums): SqueezeNet's
// 16 -> 64 expands 0.35-0.40 -> 0.29-0.32 ms, 32 -> 128 0.32-0.38 -> 0.21-0.27,
// 48 -> 192 a tie; Tiny Darknet 6.5 -> 5.5 ms whole, GoogLeNet / YOLOX unchanged.
bool winograd_preferred(const ConvParams& p, Isa isa) {
  const int64_t tiles = ((p.out[1] + kWinogradTile - 1) / kWinogradTile) * ((p.out[2] + kWinogradTile - 1) / kWinogradTile);
  const int64_t min_channels = isa >= Isa::kAvx512 ? 16 : 64;
  return winograd_eligible(p) && tiles >= 9 && p.in_channels / p.group >= min_channels;
}

WinogradWeights winograd_pack_weights(const GemmKernelSet& ks, const float* w, int64_t k, int64_t c) {
  // Transformed weights as [position][k][c], then one packed (K x C) operand per position.
  std::vector<float> t(static_cast<size_t>(kPositions * k * c));
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t cc = 0; cc < c; ++cc) {
      float u[kPositions];
      winograd_f43_weight_tile(w + (kk * c + cc) * 9, u);
      for (int xi = 0; xi < kPositions; ++xi) t[(xi * k + kk) * c + cc] = u[xi];
    }
  WinogradWeights out;
  out.k = k;
  out.c = c;
  for (int xi = 0; xi < kPositions; ++xi) out.u.emplace_back(ks, k, c, MatrixView{t.data() + xi * k * c, c, false});
  return out;
}

namespace {

// Where one tile of a block reads and writes: computed once per block, not per
// channel (the divisions used to cost as much as the input transform).
struct TileSpot {
  int64_t image;     // n
  int64_t in_at;     // offset of the 6x6 window's top-left in an input plane (may be outside)
  int64_t out_at;    // offset of the 4x4 output tile's top-left in an output plane
  int64_t ih0, iw0;  // window origin, for the border tiles
  int rows, cols;    // output rows / columns inside the plane
  bool interior;     // the whole 6x6 window lies inside the input
};

// One tile's 6x6 window of the plane xc into lane l of d, zeros outside the input.
void gather_tile(const float* xc, int64_t in_h, int64_t in_w, const TileSpot& s, int l, float (*d)[kLanes]) {
  if (s.interior) {
    const float* src = xc + s.in_at;
    for (int i = 0; i < kA; ++i, src += in_w)
      for (int j = 0; j < kA; ++j) d[i * kA + j][l] = src[j];
    return;
  }
  for (int i = 0; i < kA; ++i) {
    const int64_t ih = s.ih0 + i;
    const bool row_in = ih >= 0 && ih < in_h;
    for (int j = 0; j < kA; ++j) {
      const int64_t iw = s.iw0 + j;
      d[i * kA + j][l] = row_in && iw >= 0 && iw < in_w ? xc[ih * in_w + iw] : 0.f;
    }
  }
}

// Output transform result + bias (+ residual), then the activation, into the plane.
template <Epilogue::Kind kKind>
void scatter_tile(const float (*o)[kLanes], int l, const TileSpot& s, int64_t out_w, float b, const Epilogue& e,
                  const float* residual, float* y) {
  auto act = [&](float v) {
    if constexpr (kKind == Epilogue::Kind::kClamp) return v < e.lo ? e.lo : (v > e.hi ? e.hi : v);
    if constexpr (kKind == Epilogue::Kind::kLeakyRelu) return v < 0.f ? v * e.slope : v;
    return v;
  };
  for (int i = 0; i < s.rows; ++i) {
    float* yr = y + s.out_at + i * out_w;
    const float* rr = residual ? residual + s.out_at + i * out_w : nullptr;
    for (int j = 0; j < s.cols; ++j) yr[j] = act(rr ? o[i * kT + j][l] + b + rr[j] : o[i * kT + j][l] + b);
  }
}

template <Epilogue::Kind kKind>
void output_pass(const ConvParams& p, bool avx2, TransformFn transform, const TileSpot* spots, const uint8_t* row_run,
                 int64_t nt, int64_t block, int64_t m_pos, const float* m, const float* bias, const float* residual,
                 float* y) {
  const int64_t K = p.out_channels, plane = p.out[1] * p.out[2], out_w = p.out[2];
  parallel_for(0, K, 4, [&](int64_t k_lo, int64_t k_hi) {
    alignas(32) float mt[kPositions][kLanes], o[kT * kT][kLanes];
    for (int64_t k = k_lo; k < k_hi; ++k) {
      const float b = bias ? bias[k] : 0.f;
      for (int64_t b0 = 0; b0 < nt; b0 += kLanes) {
        const int64_t lanes = std::min<int64_t>(kLanes, nt - b0);
        if (lanes == kLanes) {  // fixed-size copies: one vector move each, not a memcpy loop
          for (int xi = 0; xi < kPositions; ++xi)
            std::memcpy(mt[xi], m + xi * m_pos + k * block + b0, sizeof(mt[xi]));
        } else {
          for (int xi = 0; xi < kPositions; ++xi) {
            std::memcpy(mt[xi], m + xi * m_pos + k * block + b0, sizeof(float) * lanes);
            for (int64_t l = lanes; l < kLanes; ++l) mt[xi][l] = 0.f;
          }
        }
        transform(mt, o);
        if (row_run[b0 / kLanes]) {  // 8 whole tiles side by side (AVX2 only sets these)
          const TileSpot& s = spots[b0];
          const int64_t at = (s.image * K + k) * plane + s.out_at;
          winograd_scatter8__avx2(o, b, p.activation, residual ? residual + at : nullptr, out_w, y + at);
          continue;
        }
        if (avx2) {  // tiles on different rows or cut short: lanes to tiles, then 4-wide rows
          WinogradTileOut out;
          for (int64_t l = 0; l < lanes; ++l) {
            const TileSpot& s = spots[b0 + l];
            const int64_t at = (s.image * K + k) * plane + s.out_at;
            out.y[l] = y + at, out.residual[l] = residual ? residual + at : nullptr;
            out.rows[l] = s.rows, out.cols[l] = s.cols;
          }
          winograd_scatter_tiles__avx2(o, int(lanes), out, b, p.activation, out_w);
          continue;
        }
        for (int64_t l = 0; l < lanes; ++l) {
          const TileSpot& s = spots[b0 + l];
          const int64_t at = (s.image * K + k) * plane;
          scatter_tile<kKind>(o, int(l), s, out_w, b, p.activation, residual ? residual + at : nullptr, y + at);
        }
      }
    }
  });
}

// A block's tiles for the 8-lane passes: where each reads and writes, and which
// groups of 8 lie side by side on one tile row with their windows inside the input
// (gather_run) or their outputs whole (scatter_run), to move with AVX2 shuffles.
struct Lanes8Plan {
  std::vector<TileSpot> spots;
  std::vector<uint8_t> gather_run, scatter_run;
};

Lanes8Plan plan_lanes8(const ConvParams& p, const TileGeometry& g, bool avx2, int64_t t0, int64_t nt) {
  const int64_t in_h = p.in[1], in_w = p.in[2], out_h = p.out[1], out_w = p.out[2];
  Lanes8Plan plan;
  plan.spots.resize(static_cast<size_t>(nt));
  for (int64_t b = 0; b < nt; ++b) {
    const int64_t t = t0 + b, ty = (t % g.per_image) / g.tiles_w, tx = t % g.tiles_w;
    TileSpot& s = plan.spots[b];
    s.image = t / g.per_image;
    s.ih0 = ty * kT - p.pad_begin[1], s.iw0 = tx * kT - p.pad_begin[2];
    s.in_at = s.ih0 * in_w + s.iw0;
    s.out_at = ty * kT * out_w + tx * kT;
    s.rows = int(std::min<int64_t>(kT, out_h - ty * kT)), s.cols = int(std::min<int64_t>(kT, out_w - tx * kT));
    s.interior = s.ih0 >= 0 && s.iw0 >= 0 && s.ih0 + kA <= in_h && s.iw0 + kA <= in_w;
  }
  plan.gather_run.assign(static_cast<size_t>(nt / kLanes + 1), 0);
  plan.scatter_run = plan.gather_run;
  for (int64_t b0 = 0; b0 + kLanes <= nt && avx2; b0 += kLanes) {
    bool in_run = true, out_run = true;
    for (int l = 0; l < kLanes && (in_run || out_run); ++l) {
      const TileSpot &s = plan.spots[b0 + l], &s0 = plan.spots[b0];
      const bool beside = s.image == s0.image && s.ih0 == s0.ih0 && s.iw0 == s0.iw0 + kT * l;
      in_run = in_run && beside && s.interior;
      out_run = out_run && beside && s.rows == kT && s.cols == kT;
    }
    plan.gather_run[b0 / kLanes] = in_run;
    plan.scatter_run[b0 / kLanes] = out_run;
  }
  return plan;
}

// Input transform of a block's nt tiles, per channel, 8 tiles at a time, into v[xi * v_pos + c * block + tile].
void input_pass_lanes8(const ConvParams& p, const Lanes8Plan& plan, TransformFn transform, const float* x,
                       int64_t nt, int64_t block, int64_t v_pos, float* v) {
  const int64_t C = p.in_channels, in_h = p.in[1], in_w = p.in[2];
  const std::vector<TileSpot>& spots = plan.spots;
  parallel_for(0, C, 4, [&](int64_t c_lo, int64_t c_hi) {
    alignas(32) float d[kPositions][kLanes], vt[kPositions][kLanes];
    for (int64_t c = c_lo; c < c_hi; ++c)
      for (int64_t b0 = 0; b0 < nt; b0 += kLanes) {
        if (plan.gather_run[b0 / kLanes]) {
          const TileSpot& s = spots[b0];
          winograd_gather8__avx2(x + (s.image * C + c) * in_h * in_w + s.in_at, in_w, d);
        } else {
          for (int l = 0; l < kLanes; ++l) {
            if (b0 + l < nt) {
              const TileSpot& s = spots[b0 + l];
              gather_tile(x + (s.image * C + c) * in_h * in_w, in_h, in_w, s, l, d);
            } else {
              for (int i = 0; i < kPositions; ++i) d[i][l] = 0.f;
            }
          }
        }
        transform(d, vt);
        const int64_t lanes = std::min<int64_t>(kLanes, nt - b0);
        if (lanes == kLanes)  // fixed-size copies: one vector move each
          for (int xi = 0; xi < kPositions; ++xi)
            std::memcpy(v + xi * v_pos + c * block + b0, vt[xi], sizeof(vt[xi]));
        else
          for (int xi = 0; xi < kPositions; ++xi)
            std::memcpy(v + xi * v_pos + c * block + b0, vt[xi], sizeof(float) * lanes);
      }
  });
}

// Tiles [t0, t0 + nt) cut at image boundaries: body(image, first tile in it, count, offset in the block).
template <class Body>
void for_each_image_run(const TileGeometry& g, int64_t t0, int64_t nt, Body body) {
  for (int64_t t = t0; t < t0 + nt;) {
    const int64_t image = t / g.per_image, end = std::min(t0 + nt, (image + 1) * g.per_image);
    body(image, t - image * g.per_image, end - t, t - t0);
    t = end;
  }
}

WinogradPlane winograd_plane(const ConvParams& p, const TileGeometry& g) {
  return WinogradPlane{p.in[1], p.in[2], p.pad_begin[1], p.pad_begin[2], p.out[1], p.out[2], g.tiles_w};
}

// Input transform of a block's nt tiles on AVX-512, per channel, into v[xi * v_pos + c * block + tile].
void input_pass_avx512(const ConvParams& p, const TileGeometry& g, const float* x, int64_t t0, int64_t nt,
                       int64_t block, int64_t v_pos, float* v) {
  const WinogradPlane plane = winograd_plane(p, g);
  const int64_t C = p.in_channels, in_plane = p.in[1] * p.in[2];
  parallel_for(0, C, 4, [&](int64_t c_lo, int64_t c_hi) {
    float* rows = gemm_scratch(2, static_cast<size_t>(winograd_input_scratch_floats(plane)));  // split rows
    for (int64_t c = c_lo; c < c_hi; ++c)
      for_each_image_run(g, t0, nt, [&](int64_t image, int64_t first, int64_t count, int64_t at) {
        winograd_input_run__avx512(plane, x + (image * C + c) * in_plane, first, count, v + c * block + at, v_pos,
                                   rows);
      });
  });
}

// Output transform of the block on AVX-512, per output channel, + bias (+ residual) through the epilogue.
void output_pass_avx512(const ConvParams& p, const TileGeometry& g, const float* m, int64_t t0, int64_t nt,
                        int64_t block, int64_t m_pos, const float* bias, const float* residual, float* y) {
  const WinogradPlane plane = winograd_plane(p, g);
  const int64_t K = p.out_channels, out_plane = p.out[1] * p.out[2];
  parallel_for(0, K, 4, [&](int64_t k_lo, int64_t k_hi) {
    for (int64_t k = k_lo; k < k_hi; ++k)
      for_each_image_run(g, t0, nt, [&](int64_t image, int64_t first, int64_t count, int64_t at) {
        const int64_t plane_at = (image * K + k) * out_plane;
        winograd_output_run__avx512(plane, m + k * block + at, m_pos, first, count, bias ? bias[k] : 0.f,
                                    p.activation, residual ? residual + plane_at : nullptr, y + plane_at);
      });
  });
}

// The 8-lane output pass, built per epilogue kind.
void output_pass_lanes8(const ConvParams& p, bool avx2, TransformFn transform, const Lanes8Plan& plan, int64_t nt,
                        int64_t block, int64_t m_pos, const float* m, const float* bias, const float* residual,
                        float* y) {
  const auto pass = [&](auto kind) {
    output_pass<decltype(kind)::value>(p, avx2, transform, plan.spots.data(), plan.scatter_run.data(), nt, block,
                                       m_pos, m, bias, residual, y);
  };
  using Kind = Epilogue::Kind;
  switch (p.activation.kind) {
    case Kind::kClamp:
      pass(std::integral_constant<Kind, Kind::kClamp>{});
      break;
    case Kind::kLeakyRelu:
      pass(std::integral_constant<Kind, Kind::kLeakyRelu>{});
      break;
    case Kind::kNone:
      pass(std::integral_constant<Kind, Kind::kNone>{});
      break;
    default:  // SiLU: never fused here (conv_winograd_f43 asserts)
      break;
  }
}

}  // namespace

void conv_winograd_f43(const ConvParams& p, const GemmKernelSet& ks, const WinogradWeights& u, const float* x,
                       const float* bias, float* y, const float* residual) {
  const int64_t C = p.in_channels, K = p.out_channels;
  const TileGeometry g = tile_geometry(p);
  // SiLU is not fused here: the caller applies it over the finished output.
  CVT_ASSERT(p.activation.kind != Epilogue::Kind::kSilu);
  int64_t block = kBlockBytes / (int64_t(sizeof(float)) * kPositions * (C + K));
  block = std::clamp<int64_t>(block / kLanes * kLanes, 4 * kLanes, 64 * kLanes);
  block = std::min(block, ceil_div(g.total, kLanes) * kLanes);
  // With tiles for 2 blocks a thread of at least 48 (the GEMMs' N: narrower blocks
  // leave the 32-wide AVX-512 panels half empty), each thread runs whole blocks
  // (input transform, 36 GEMMs, output transform) on data that stays in its own
  // core's cache; the three passes split across threads moved V and M between cores
  // (ResNet-18's 56x56 convs: 0.90 -> 0.77 ms at 2 threads). But every thread then
  // reads all of U per block: only for U up to ~3 MB (VGG-16's 256 -> 256 convs,
  // 9.4 MB of U, ran 7.2 -> 8.6 ms). The tiles' arithmetic does not depend on the
  // block, so results do not depend on threads.
  constexpr int64_t kMinThreadBlock = 48, kMaxSharedWeightFloats = int64_t(3) << 18;
  const int threads = current_concurrency();
  const int64_t thread_block = ceil_div(ceil_div(g.total, 2 * int64_t(threads)), kLanes) * kLanes;
  const bool by_blocks =
      threads > 1 && thread_block >= kMinThreadBlock && kPositions * C * K <= kMaxSharedWeightFloats;
  if (by_blocks) block = std::min(block, thread_block);
  // Blocks of whole 8-tile groups, as even as that allows, and on several threads
  // as many as a multiple of the threads: blocks of one size left the last one
  // short (ResNet's 56x56 convs, 196 tiles at 2 threads: 56+56+56+28, one thread
  // ran 112 tiles to the other's 84).
  const int64_t groups = ceil_div(g.total, int64_t(kLanes));
  int64_t blocks = ceil_div(groups, block / kLanes);
  if (by_blocks) blocks = std::min(round_up(blocks, int64_t(threads)), groups);
  block = ceil_div(groups, blocks) * kLanes;
  // Floats per position. The transforms touch all 36 positions of a tile at once:
  // a whole number of 4 KiB pages plus one cache line apart, they fall in 36
  // different L1 sets. At C * block floats apart (often a page multiple) they
  // shared a few sets and every store or load missed (10x slower stores, measured).
  const auto position_stride = [](int64_t floats) { return round_up(floats, 1024) + 16; };
  const int64_t v_pos = position_stride(C * block), m_pos = position_stride(K * block);
  const bool avx2 = ks.isa >= Isa::kAvx2;
  const TransformFn in_transform = avx2 ? winograd_input_transform__avx2 : input_transform__baseline;
  const TransformFn out_transform = avx2 ? winograd_output_transform__avx2 : output_transform__baseline;

  const bool avx512 = ks.isa >= Isa::kAvx512;

  const auto run_block = [&](int64_t b) {
    const int64_t t0 = b * groups / blocks * kLanes, nt = std::min((b + 1) * groups / blocks * kLanes, g.total) - t0;
    // V [36][C][block] and M [36][K][block], on this thread's scratch (slot 3: not used by GEMM tasks).
    float* v = gemm_scratch(3, static_cast<size_t>(kPositions * (v_pos + m_pos)));
    float* m = v + kPositions * v_pos;
    // 1. Input transform.
    Lanes8Plan plan;
    if (avx512) {
      input_pass_avx512(p, g, x, t0, nt, block, v_pos, v);
    } else {
      plan = plan_lanes8(p, g, avx2, t0, nt);
      input_pass_lanes8(p, plan, in_transform, x, nt, block, v_pos, v);
    }
    // 2. 36 GEMMs: M[xi] (K x nt) = U[xi] (K x C) * V[xi] (C x nt).
    GemmShape s;
    s.m = K, s.n = nt, s.k = C;
    gemm_f32(ks, s, kPositions, [&](int64_t xi, GemmOperands& op) {
      op.packed_a = &u.u[xi];
      op.b = MatrixView{v + xi * v_pos, block, false};
      op.c = m + xi * m_pos;
      op.ldc = block;
    });
    // 3. Output transform, bias, residual and activation, scattered into the output planes.
    if (avx512)
      output_pass_avx512(p, g, m, t0, nt, block, m_pos, bias, residual, y);
    else
      output_pass_lanes8(p, avx2, out_transform, plan, nt, block, m_pos, m, bias, residual, y);
  };
  if (!by_blocks) {
    for (int64_t b = 0; b < blocks; ++b) run_block(b);
    return;
  }
  parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
    SerialScope serial;  // the passes inside stay on this thread
    for (int64_t b = lo; b < hi; ++b) run_block(b);
  });
}

}  // namespace cvt
