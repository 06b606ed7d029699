// OpenPose-style multi-person pose decoding (Cao et al., CVPR 2017) from keypoint
// heatmaps and part affinity fields: heatmap smoothing, peaks by non-maximum
// suppression, candidate limbs scored by the PAF line integral, greedy bipartite
// matching per limb, people assembled limb by limb and merged. Works for any
// part/limb table (COCO-18, BODY_25, ...). No network, no image I/O here.
#pragma once
#include <string>
#include <vector>

#include "core/status.h"

namespace cvt {

/// A limb joins two parts; its field is the PAF channel pair (paf_x, paf_y).
struct PoseLimb {
  int part_a = 0, part_b = 0;
  int paf_x = 0, paf_y = 0;  // channel indices within the PAF block
  bool redundant = false;    // may join two people but never starts one (COCO's ear-shoulder limbs)
};

struct PoseSkeleton {
  std::vector<std::string> parts;
  std::vector<PoseLimb> limbs;  // in assembly order: a limb's part_a should be reached by earlier limbs
  /// Checks indices against `paf_channels` (the number of PAF planes the model gives).
  Status validate(int paf_channels) const;
};

struct PafParams {
  float peak_threshold = 0.05f;     // a heatmap peak must exceed this
  float smooth_sigma = 3.0f;        // Gaussian smoothing of the heatmaps, in map pixels (0 = none)
  int line_samples = 10;            // points sampled on each candidate limb
  float paf_threshold = 0.05f;      // a sample counts when PAF . limb direction exceeds this
  float min_above_fraction = 0.8f;  // fraction of samples that must count
  int min_parts = 3;                // people with fewer parts are dropped
  float min_score = 0.4f;           // people whose score / parts is lower are dropped
  int max_people = 0;               // keep the best this many (0 = all)
};

/// Heatmaps and PAFs in one frame of width x height map pixels, planar.
struct PoseMaps {
  int width = 0, height = 0;
  int num_heatmaps = 0, num_pafs = 0;
  std::vector<float> heatmaps;  // num_heatmaps planes
  std::vector<float> pafs;      // num_pafs planes
  float* heatmap(int k) { return heatmaps.data() + size_t(k) * plane(); }
  const float* heatmap(int k) const { return heatmaps.data() + size_t(k) * plane(); }
  float* paf(int c) { return pafs.data() + size_t(c) * plane(); }
  const float* paf(int c) const { return pafs.data() + size_t(c) * plane(); }
  size_t plane() const { return size_t(width) * height; }
  Status allocate(int w, int h, int n_heatmaps, int n_pafs);
};

/// Map coordinates: the centre of map pixel (i, j) is (i, j).
struct PosePeak {
  float x = 0, y = 0, score = 0;
};

struct PoseKeypoint {
  float x = 0, y = 0, score = 0;  // score 0: part not found (x = y = 0)
};

struct PersonPose {
  float score = 0;  // (sum of part scores + sum of limb scores) / number of parts, OpenPose's person criterion
  int num_parts = 0;
  std::vector<PoseKeypoint> keypoints;  // one per skeleton part
};

/// Smooths a plane in place (separable Gaussian, truncated at 3 sigma, borders replicated).
void gaussian_smooth(float* plane, int width, int height, float sigma);

/// Local maxima above `threshold` (>= all 8 neighbours; a plateau yields its first pixel in raster
/// order), refined to the score-weighted centroid of their 3x3 neighbourhood.
std::vector<PosePeak> find_peaks(const float* plane, int width, int height, float threshold);

/// A candidate limb between peak `a` of part_a and peak `b` of part_b.
struct LimbConnection {
  int a = 0, b = 0;
  float score = 0;
};

/// Scores every pair of peaks by the PAF line integral (mean of PAF . direction over line_samples
/// points, plus the distance prior min(0.5 * map_height / length - 1, 0)); keeps pairs with a positive
/// score and enough samples above paf_threshold; then greedily matches them one-to-one, best first.
std::vector<LimbConnection> match_limb(const std::vector<PosePeak>& peaks_a, const std::vector<PosePeak>& peaks_b,
                                       const float* paf_x, const float* paf_y, int width, int height,
                                       const PafParams& p);

/// The whole decoder: `maps` holds at least skeleton.parts.size() heatmaps (in part order) and the PAF
/// channels the limbs name. People are sorted by score, best first; coordinates are map coordinates.
Result<std::vector<PersonPose>> decode_people(const PoseMaps& maps, const PoseSkeleton& skeleton, const PafParams& p);

}  // namespace cvt
