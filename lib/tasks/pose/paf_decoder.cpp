#include "tasks/pose/paf_decoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace cvt {

Status PoseSkeleton::validate(int paf_channels) const {
  const int n = int(parts.size());
  if (n == 0) return invalid_argument("pose skeleton has no parts");
  for (size_t k = 0; k < limbs.size(); ++k) {
    const PoseLimb& l = limbs[k];
    const std::string where = "pose limb " + std::to_string(k);
    if (l.part_a < 0 || l.part_a >= n || l.part_b < 0 || l.part_b >= n)
      return invalid_argument(where + ": part index out of range 0.." + std::to_string(n - 1));
    if (l.part_a == l.part_b) return invalid_argument(where + ": joins a part to itself");
    if (l.paf_x < 0 || l.paf_x >= paf_channels || l.paf_y < 0 || l.paf_y >= paf_channels)
      return invalid_argument(where + ": PAF channel out of range 0.." + std::to_string(paf_channels - 1));
  }
  return Status::ok();
}

Status PoseMaps::allocate(int w, int h, int n_heatmaps, int n_pafs) {
  if (w <= 0 || h <= 0 || n_heatmaps < 0 || n_pafs < 0 || int64_t(w) * h > (int64_t(1) << 26))
    return limit_exceeded("pose maps of " + std::to_string(w) + "x" + std::to_string(h) + " are out of range");
  width = w;
  height = h;
  num_heatmaps = n_heatmaps;
  num_pafs = n_pafs;
  heatmaps.assign(plane() * n_heatmaps, 0.f);
  pafs.assign(plane() * n_pafs, 0.f);
  return Status::ok();
}

void gaussian_smooth(float* plane, int width, int height, float sigma) {
  if (sigma <= 0 || width <= 0 || height <= 0) return;
  const int radius = std::max(1, int(std::ceil(3 * sigma)));
  std::vector<float> k(2 * radius + 1);
  float sum = 0;
  for (int i = -radius; i <= radius; ++i) sum += k[i + radius] = std::exp(-0.5f * i * i / (sigma * sigma));
  for (float& v : k) v /= sum;
  std::vector<float> tmp(size_t(width) * height);
  for (int y = 0; y < height; ++y) {  // horizontal pass into tmp
    const float* row = plane + size_t(y) * width;
    float* out = tmp.data() + size_t(y) * width;
    for (int x = 0; x < width; ++x) {
      float acc = 0;
      for (int i = -radius; i <= radius; ++i) acc += k[i + radius] * row[std::clamp(x + i, 0, width - 1)];
      out[x] = acc;
    }
  }
  std::vector<float> col(height);
  for (int x = 0; x < width; ++x) {  // vertical pass back into plane
    for (int y = 0; y < height; ++y) col[y] = tmp[size_t(y) * width + x];
    for (int y = 0; y < height; ++y) {
      float acc = 0;
      for (int i = -radius; i <= radius; ++i) acc += k[i + radius] * col[std::clamp(y + i, 0, height - 1)];
      plane[size_t(y) * width + x] = acc;
    }
  }
}

std::vector<PosePeak> find_peaks(const float* plane, int width, int height, float threshold) {
  std::vector<PosePeak> peaks;
  auto at = [&](int x, int y) {
    return x < 0 || y < 0 || x >= width || y >= height ? -std::numeric_limits<float>::infinity()
                                                      : plane[size_t(y) * width + x];
  };
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const float v = plane[size_t(y) * width + x];
      if (!(v > threshold)) continue;
      // Strictly above the neighbours already visited, at least equal to the others: one peak per plateau.
      if (!(v > at(x - 1, y - 1) && v > at(x, y - 1) && v > at(x + 1, y - 1) && v > at(x - 1, y))) continue;
      if (!(v >= at(x + 1, y) && v >= at(x - 1, y + 1) && v >= at(x, y + 1) && v >= at(x + 1, y + 1))) continue;
      float sw = 0, sx = 0, sy = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const float w = at(x + dx, y + dy);
          if (w > 0) {
            sw += w;
            sx += w * float(x + dx);
            sy += w * float(y + dy);
          }
        }
      peaks.push_back({sx / sw, sy / sw, v});
    }
  return peaks;
}

std::vector<LimbConnection> match_limb(const std::vector<PosePeak>& peaks_a, const std::vector<PosePeak>& peaks_b,
                                       const float* paf_x, const float* paf_y, int width, int height,
                                       const PafParams& p) {
  std::vector<LimbConnection> cand;
  const int n = std::max(1, p.line_samples);
  for (int i = 0; i < int(peaks_a.size()); ++i)
    for (int j = 0; j < int(peaks_b.size()); ++j) {
      const PosePeak& a = peaks_a[i];
      const PosePeak& b = peaks_b[j];
      const float dx = b.x - a.x, dy = b.y - a.y;
      const float len = std::sqrt(dx * dx + dy * dy);
      if (len < 1e-6f) continue;
      const float ux = dx / len, uy = dy / len;
      float sum = 0;
      int above = 0;
      for (int s = 0; s < n; ++s) {
        const float t = n == 1 ? 0.5f : float(s) / float(n - 1);
        const int px = std::clamp(int(std::lround(a.x + t * dx)), 0, width - 1);
        const int py = std::clamp(int(std::lround(a.y + t * dy)), 0, height - 1);
        const size_t o = size_t(py) * width + px;
        const float v = paf_x[o] * ux + paf_y[o] * uy;
        sum += v;
        if (v > p.paf_threshold) ++above;
      }
      const float score = sum / n + std::min(0.5f * float(height) / len - 1.f, 0.f);
      if (score > 0 && float(above) >= p.min_above_fraction * float(n)) cand.push_back({i, j, score});
    }
  // Best first; ties keep (a, b) order so the result never depends on the sort implementation.
  std::stable_sort(cand.begin(), cand.end(), [](const LimbConnection& l, const LimbConnection& r) { return l.score > r.score; });
  std::vector<char> used_a(peaks_a.size(), 0), used_b(peaks_b.size(), 0);
  std::vector<LimbConnection> out;
  const size_t most = std::min(peaks_a.size(), peaks_b.size());
  for (const LimbConnection& c : cand) {
    if (used_a[c.a] || used_b[c.b]) continue;
    used_a[c.a] = used_b[c.b] = 1;
    out.push_back(c);
    if (out.size() == most) break;
  }
  return out;
}

namespace {

// A person being assembled: the peak index of every part (-1 = none).
struct Assembly {
  std::vector<int> peak;
  float score = 0;
  int count = 0;
};

}  // namespace

Result<std::vector<PersonPose>> decode_people(const PoseMaps& maps, const PoseSkeleton& sk, const PafParams& p) {
  const int nparts = int(sk.parts.size());
  CVT_RETURN_IF_ERROR(sk.validate(maps.num_pafs));
  if (maps.num_heatmaps < nparts)
    return invalid_argument("pose maps have " + std::to_string(maps.num_heatmaps) + " heatmaps, the skeleton needs " +
                            std::to_string(nparts));
  if (maps.heatmaps.size() < maps.plane() * maps.num_heatmaps || maps.pafs.size() < maps.plane() * maps.num_pafs)
    return internal_error("pose maps are smaller than their declared size");
  const int W = maps.width, H = maps.height;

  std::vector<std::vector<PosePeak>> peaks(nparts);
  std::vector<float> plane(maps.plane());
  for (int k = 0; k < nparts; ++k) {
    std::copy(maps.heatmap(k), maps.heatmap(k) + maps.plane(), plane.begin());
    gaussian_smooth(plane.data(), W, H, p.smooth_sigma);
    peaks[k] = find_peaks(plane.data(), W, H, p.peak_threshold);
  }

  std::vector<Assembly> people;
  for (const PoseLimb& limb : sk.limbs) {
    const auto& pa = peaks[limb.part_a];
    const auto& pb = peaks[limb.part_b];
    if (pa.empty() || pb.empty()) continue;
    const auto conns = match_limb(pa, pb, maps.paf(limb.paf_x), maps.paf(limb.paf_y), W, H, p);
    for (const LimbConnection& c : conns) {
      int found[2] = {-1, -1}, nfound = 0;
      for (int q = 0; q < int(people.size()) && nfound < 2; ++q)
        if (people[q].peak[limb.part_a] == c.a || people[q].peak[limb.part_b] == c.b) found[nfound++] = q;
      if (nfound == 1) {
        Assembly& person = people[found[0]];
        if (person.peak[limb.part_b] < 0) {  // a person with part_a here gains part_b
          person.peak[limb.part_b] = c.b;
          person.count += 1;
          person.score += pb[c.b].score + c.score;
        } else if (person.peak[limb.part_a] < 0) {  // or, reached through part_b, gains part_a
          person.peak[limb.part_a] = c.a;
          person.count += 1;
          person.score += pa[c.a].score + c.score;
        }
      } else if (nfound == 2) {
        Assembly& p1 = people[found[0]];
        Assembly& p2 = people[found[1]];
        bool disjoint = true;
        for (int k = 0; k < nparts && disjoint; ++k) disjoint = !(p1.peak[k] >= 0 && p2.peak[k] >= 0);
        if (disjoint) {  // two fragments of one person: merge
          for (int k = 0; k < nparts; ++k)
            if (p2.peak[k] >= 0) p1.peak[k] = p2.peak[k];
          p1.count += p2.count;
          p1.score += p2.score + c.score;
          people.erase(people.begin() + found[1]);
        }
      } else if (!limb.redundant) {
        Assembly person;
        person.peak.assign(nparts, -1);
        person.peak[limb.part_a] = c.a;
        person.peak[limb.part_b] = c.b;
        person.count = 2;
        person.score = pa[c.a].score + pb[c.b].score + c.score;
        people.push_back(std::move(person));
      }
    }
  }

  std::vector<PersonPose> out;
  for (const Assembly& a : people) {
    if (a.count < p.min_parts || a.score / float(a.count) < p.min_score) continue;
    PersonPose person;
    person.score = a.score / float(a.count);
    person.num_parts = a.count;
    person.keypoints.resize(nparts);
    for (int k = 0; k < nparts; ++k)
      if (a.peak[k] >= 0) {
        const PosePeak& pk = peaks[k][a.peak[k]];
        person.keypoints[k] = {pk.x, pk.y, pk.score};
      }
    out.push_back(std::move(person));
  }
  std::stable_sort(out.begin(), out.end(), [](const PersonPose& l, const PersonPose& r) { return l.score > r.score; });
  if (p.max_people > 0 && int(out.size()) > p.max_people) out.resize(p.max_people);
  return out;
}

}  // namespace cvt
