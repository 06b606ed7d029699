// COCO run-length encoded masks with pycocotools' exact semantics: column-major runs
// starting with a background run, the 6-bit string codec, polygon rasterisation.
// Pure functions on value types; malformed input comes back as a Status, never a crash.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/box.h"

namespace cvt::eval {

/// A binary h x w mask as alternating run lengths (background first), column-major.
struct Rle {
  uint64_t h = 0, w = 0;
  std::vector<uint32_t> counts;
  bool operator==(const Rle& o) const { return h == o.h && w == o.w && counts == o.counts; }
};

/// Encode a column-major mask (mask[x*h + y] != 0 is foreground).
Rle rle_encode(const uint8_t* mask, uint64_t h, uint64_t w);
/// Decode to a column-major mask; fails when the runs overflow h*w (pycocotools >= 2.0.7).
Result<std::vector<uint8_t>> rle_decode(const Rle& r);
/// Check that the runs cover exactly h*w pixels.
Status rle_validate(const Rle& r);

/// COCO's compressed `counts` string (LEB128-like, 5 payload bits per char, chars 48..111,
/// counts from index 3 on stored as deltas to counts[i-2]).
std::string rle_to_string(const Rle& r);
Result<Rle> rle_from_string(std::string_view s, uint64_t h, uint64_t w);

uint64_t rle_area(const Rle& r);
/// Tight bounding box [x, y, w, h] of the foreground; zero-length runs are skipped.
Box rle_to_bbox(const Rle& r);
/// Rasterise a polygon [x0,y0,x1,y1,...] the way rleFrPoly does (5x upsampled boundary).
Rle rle_from_polygon(const std::vector<double>& xy, uint64_t h, uint64_t w);
/// A box rasterised as its 4-corner polygon (rleFrBbox).
Rle rle_from_bbox(const Box& b, uint64_t h, uint64_t w);
/// Union (or intersection) of masks of one size; sizes that differ give an empty 0x0 RLE.
Rle rle_merge(const std::vector<Rle>& rles, bool intersect);

/// pycocotools' rleIou for one pair: |d∩g|/|d∪g|, or |d∩g|/|d| when g is crowd;
/// -1 when the sizes differ (and the boxes overlap), 0 when the boxes do not overlap.
double rle_iou(const Rle& d, const Rle& g, bool g_crowd);

}  // namespace cvt::eval
