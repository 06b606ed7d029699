// Feed-forward style transfer (Johnson et al.): one network per style, RGB
// 0-255 in, RGB out (already tanh*150+127.5, clipped to 0-255 here). Any image
// size: the input is padded to a multiple of 4 (the network's stride) and the
// output cropped back. Images whose activations would not fit the memory
// budget run in overlapping tiles blended with linear ramps. Instance norm
// makes a tile's output depend on the whole tile, so one pass over the whole
// image, downscaled to fit the budget, measures every layer's statistics and
// all tiles normalise with those: tiles agree on colour and contrast and leave
// no seams (the statistics of a downscaled image are close to, not equal to,
// the full-size ones: see the tiling test and README for the measured error).
#pragma once
#include <memory>
#include <opencv2/core.hpp>

#include "graph/session.h"
#include "models/registry.h"

namespace cvt {

struct StylizeOptions {
  int max_size = 0;             // bound on the longest side (0 = keep the image size)
  float strength = 1.f;         // 1 = stylised only, 0 = the content image
  int tile = 0;                 // 0 = tile only when needed, < 0 = never, > 0 = tiles of this size
  int overlap = 128;            // pixels shared by neighbouring tiles
  int64_t max_memory_mb = 1024; // activation budget deciding when to tile
  int stats_size = 0;           // tiles' statistics: 0 = from the image downscaled to the memory budget,
                                // > 0 = downscaled to this longest side, < 0 = each tile its own
};

struct StylizeInfo {
  int width = 0, height = 0;    // of the output
  int tiles = 1, tile_size = 0, stats_size = 0;  // stats_size: longest side of the statistics pass
  double stats_ms = 0, infer_ms = 0;
};

/// Peak bytes per pixel of the style network (activations + GEMM scratch), measured.
inline constexpr int64_t kStyleBytesPerPixel = 400;

/// Tile starts along an axis of `length` for tiles of `tile` with at least `overlap` shared pixels.
std::vector<int> tile_starts(int length, int tile, int overlap);
/// Blend weight of the pixel at `u` in a tile of `size` that has neighbours before / after:
/// 0 in the outer quarter of the overlap, then a linear ramp to 1.
float tile_weight(int u, int size, int overlap, bool before, bool after);

class Stylizer {
 public:
  static Result<std::unique_ptr<Stylizer>> create(const ResolvedModel& model, const SessionOptions& opts);
  ~Stylizer();
  /// The network itself: (1, 3, H, W) float RGB 0-255 -> its raw output (not clipped).
  Result<Tensor> run_network(const Tensor& rgb);
  /// 8-bit BGR image -> stylised 8-bit BGR image (size bounded by max_size).
  Result<cv::Mat> stylize(const cv::Mat& bgr, const StylizeOptions& o, StylizeInfo* info);
  Session& session() { return *session_; }
  struct StatsBook;  // instance-norm statistics shared with the wrapped kernels

 private:
  Stylizer() = default;
  Result<cv::Mat> run_rgb(const cv::Mat& rgb_padded);  // CV_32FC3 RGB 0-255, sides multiple of 4
  Result<cv::Mat> run_tiled(const cv::Mat& rgb_padded, const StylizeOptions& o, StylizeInfo* info);
  std::shared_ptr<StatsBook> book_;
  std::unique_ptr<Session> session_;
};

}  // namespace cvt
