// The im2col B packer over phase-split copies (runs found once a panel, copied
// row after row) against the packer that reads the input planes and tests every
// tap's bounds, bit for bit: every panel width, output widths around them, strides,
// dilations, pads, and depth / pixel windows that start mid-channel and mid-row;
// and the AVX-512 packer of 32-column panels (masked loads) the same way.
#include <algorithm>
#include <limits>

#include "ops/conv.h"
#include "ops/op_test_util.h"
#include "test_util.h"

using namespace cvt;
using namespace cvt::op_test;
using cvt::testing::random_tensor;

TEST_CASE("phase im2col packer equals the bounds-testing im2col packer, every panel width", "[ops][conv]") {
  struct Case {
    Shape x, w;
    std::vector<int64_t> strides, dilations, pads;
  };
  // 28 wide: every panel crosses output rows.
  const Case c = GENERATE(Case{{1, 5, 9, 28}, {4, 5, 3, 3}, {}, {}, {1, 1, 1, 1}},
                          Case{{1, 3, 11, 111}, {4, 3, 3, 3}, {2, 2}, {}, {0, 0, 0, 0}},  // SqueezeNet's stem, 55 wide
                          Case{{1, 4, 14, 56}, {4, 4, 3, 3}, {2, 2}, {}, {1, 1, 1, 1}},   // 28 wide at stride 2
                          Case{{1, 6, 8, 16}, {2, 6, 1, 1}, {2, 2}, {}, {}},              // 1x1 stride 2: 8 wide
                          Case{{1, 2, 6, 7}, {3, 2, 3, 3}, {}, {2, 2}, {2, 2, 2, 2}},     // dilated, 7 wide
                          Case{{1, 3, 5, 33}, {2, 3, 2, 2}, {}, {}, {0, 1, 1, 0}},        // 34 wide, asymmetric pads
                          Case{{1, 2, 4, 32}, {2, 2, 1, 3}, {}, {}, {0, 1, 0, 1}},        // exactly 32 wide
                          Case{{1, 3, 7, 1}, {2, 3, 3, 1}, {3, 1}, {}, {1, 0, 1, 0}});    // 1 column, stride 3
  ConvAttrs attrs;
  attrs.kernel_shape = {c.w[2], c.w[3]};
  attrs.strides = c.strides, attrs.dilations = c.dilations, attrs.pads = c.pads;
  auto resolved = resolve_conv(attrs, c.x, c.w);
  REQUIRE_OK(resolved);
  const ConvParams& p = resolved.value();
  CAPTURE(shape_str(c.x), shape_str(c.w), p.out[1], p.out[2]);
  const PhaseLayout layout = phase_layout(p);
  const int64_t stride = layout.plane_len();
  const Tensor x = random_tensor(c.x, 7);
  std::vector<float> planes(static_cast<size_t>(p.in_channels * stride), 0.f);
  for (int64_t ch = 0; ch < p.in_channels; ++ch)
    fill_phase_plane_f32(layout, Isa::kScalar, x.data<float>() + ch * p.in_pixels(), planes.data() + ch * stride);
  const std::vector<int64_t> taps = layout.tap_offsets(p.kernel[1], p.kernel[2], p.dilation[1], p.dilation[2]);
  const PhaseIm2col src{&p, &layout, planes.data(), stride, taps.data()};
  const int64_t depth = p.in_channels * p.kernel_size(), pixels = p.out_pixels();
  // Depth rows from a tap inside a channel, pixels from inside an output row.
  for (int64_t k0 : {int64_t{0}, std::min<int64_t>(depth - 1, p.kernel_size() + 1)})
    for (int64_t n0 : {int64_t{0}, std::min<int64_t>(pixels - 1, 5), std::min<int64_t>(pixels - 1, 37)}) {
      const int64_t kc = depth - k0, nc = pixels - n0;
      CAPTURE(k0, kc, n0, nc);
      for (int nr : {4, 6, 8, 14, 16, 32}) {
        CAPTURE(nr);
        const size_t len = static_cast<size_t>((nc + nr - 1) / nr * nr * kc);
        std::vector<float> want(len, -7.f), got(len, std::numeric_limits<float>::quiet_NaN());
        im2col_pack(p, x.data<float>(), k0, kc, n0, nc, nr, want.data());
        phase_im2col_pack(src, k0, kc, n0, nc, nr, got.data());
        int64_t mismatches = 0;
        for (size_t i = 0; i < len; ++i) mismatches += want[i] != got[i];
        CHECK(mismatches == 0);
        if (nr == 32 && cpu_features().avx512f) {  // the masked-load packer of the AVX-512 panels
          std::fill(got.begin(), got.end(), std::numeric_limits<float>::quiet_NaN());
          phase_im2col_pack32_f32__avx512(src, k0, kc, n0, nc, got.data());
          int64_t masked_mismatches = 0;
          for (size_t i = 0; i < len; ++i) masked_mismatches += want[i] != got[i];
          CHECK(masked_mismatches == 0);
        }
      }
    }
}
