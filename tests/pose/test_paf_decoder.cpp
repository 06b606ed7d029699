// PAF decoder on synthetic heatmaps and fields: peaks, limb scoring, matching,
// person assembly and merging, for a small generic skeleton.
#include <catch2/catch.hpp>
#include <cmath>

#include "tasks/pose/paf_decoder.h"

using namespace cvt;

namespace {

// A chain skeleton 0-1-2-...: limb k joins parts (k, k+1) with PAF channels (2k, 2k+1).
PoseSkeleton chain(int nparts) {
  PoseSkeleton s;
  for (int k = 0; k < nparts; ++k) s.parts.push_back("p" + std::to_string(k));
  for (int k = 0; k + 1 < nparts; ++k) s.limbs.push_back({k, k + 1, 2 * k, 2 * k + 1, false});
  return s;
}

PoseMaps blank(int w, int h, int nparts, int npafs) {
  PoseMaps m;
  REQUIRE(m.allocate(w, h, nparts, npafs).is_ok());
  return m;
}

// A Gaussian bump of height `peak` at (cx, cy), kept where it exceeds what is already there.
void add_peak(PoseMaps& m, int part, float cx, float cy, float peak = 0.9f, float sigma = 1.5f) {
  float* p = m.heatmap(part);
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x) {
      const float d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      p[y * m.width + x] = std::max(p[y * m.width + x], peak * std::exp(-d2 / (2 * sigma * sigma)));
    }
}

// The unit vector a->b on every pixel within `half_width` of the segment (overwrites).
void add_field(PoseMaps& m, int cx_channel, float ax, float ay, float bx, float by, float magnitude = 1.f) {
  const float half_width = 1.5f;
  const float dx = bx - ax, dy = by - ay, len = std::sqrt(dx * dx + dy * dy);
  const float ux = dx / len, uy = dy / len;
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x) {
      const float px = x - ax, py = y - ay;
      const float along = px * ux + py * uy, across = std::abs(px * uy - py * ux);
      if (along >= -1 && along <= len + 1 && across <= half_width) {
        m.paf(cx_channel)[y * m.width + x] = magnitude * ux;
        m.paf(cx_channel + 1)[y * m.width + x] = magnitude * uy;
      }
    }
}

PafParams params(int min_parts) {
  PafParams p;
  p.smooth_sigma = 0;  // the synthetic bumps are smooth already
  p.min_parts = min_parts;
  p.min_score = 0.2f;
  return p;
}

bool near(const PoseKeypoint& k, float x, float y, float tol = 0.3f) {
  return k.score > 0 && std::abs(k.x - x) <= tol && std::abs(k.y - y) <= tol;
}

}  // namespace

TEST_CASE("pose: peaks are local maxima above the threshold, one per plateau, refined", "[pose]") {
  PoseMaps m = blank(20, 16, 1, 0);
  add_peak(m, 0, 5.f, 6.f);
  add_peak(m, 0, 14.4f, 9.f, 0.5f);
  add_peak(m, 0, 2.f, 14.f, 0.04f);  // below the threshold
  auto peaks = find_peaks(m.heatmap(0), m.width, m.height, 0.05f);
  REQUIRE(peaks.size() == 2);
  CHECK(peaks[0].x == Approx(5.f).margin(1e-4));
  CHECK(peaks[0].y == Approx(6.f).margin(1e-4));
  CHECK(peaks[0].score == Approx(0.9f));
  CHECK(peaks[1].x > 14.05f);  // the sub-pixel centroid moves from pixel 14 towards the true centre
  CHECK(peaks[1].x < 14.4f);
  CHECK(peaks[1].y == Approx(9.f).margin(1e-4));

  std::vector<float> flat(6 * 5, 0.f);
  for (int y = 1; y <= 2; ++y)
    for (int x = 1; x <= 3; ++x) flat[y * 6 + x] = 0.7f;  // a 3x2 plateau
  auto plateau = find_peaks(flat.data(), 6, 5, 0.05f);
  REQUIRE(plateau.size() == 1);
  CHECK(plateau[0].score == Approx(0.7f));
}

TEST_CASE("pose: Gaussian smoothing keeps the mass and the peak position", "[pose]") {
  PoseMaps m = blank(31, 31, 1, 0);
  m.heatmap(0)[15 * 31 + 15] = 1.f;
  gaussian_smooth(m.heatmap(0), 31, 31, 2.f);
  double sum = 0;
  for (size_t i = 0; i < m.plane(); ++i) sum += m.heatmap(0)[i];
  CHECK(sum == Approx(1.0).epsilon(1e-4));
  auto peaks = find_peaks(m.heatmap(0), 31, 31, 0.f);
  REQUIRE(peaks.size() == 1);
  CHECK(peaks[0].x == Approx(15.f));
  CHECK(peaks[0].score == Approx(1.0 / (2 * M_PI * 4)).epsilon(0.02));
}

TEST_CASE("pose: two people whose limbs cross are told apart by the fields", "[pose]") {
  // Person 1: (10,5) (10,20) (50,55); person 2: (50,5) (50,20) (10,55): the lower limbs cross at (30,37.5).
  PoseSkeleton sk = chain(3);
  PoseMaps m = blank(64, 64, 3, 4);
  add_peak(m, 0, 10, 5);
  add_peak(m, 1, 10, 20);
  add_peak(m, 2, 50, 55);
  add_peak(m, 0, 50, 5, 0.8f);
  add_peak(m, 1, 50, 20, 0.8f);
  add_peak(m, 2, 10, 55, 0.8f);
  add_field(m, 0, 10, 5, 10, 20);
  add_field(m, 0, 50, 5, 50, 20);
  add_field(m, 2, 10, 20, 50, 55);
  add_field(m, 2, 50, 20, 10, 55);  // overwrites person 1's field around the crossing
  auto people = decode_people(m, sk, params(3));
  REQUIRE(people.is_ok());
  REQUIRE(people.value().size() == 2);
  const PersonPose& a = people.value()[0];  // higher peaks: person 1 first
  const PersonPose& b = people.value()[1];
  CHECK(a.num_parts == 3);
  CHECK(b.num_parts == 3);
  CHECK(near(a.keypoints[0], 10, 5));
  CHECK(near(a.keypoints[1], 10, 20));
  CHECK(near(a.keypoints[2], 50, 55));
  CHECK(near(b.keypoints[0], 50, 5));
  CHECK(near(b.keypoints[1], 50, 20));
  CHECK(near(b.keypoints[2], 10, 55));
  CHECK(a.score > b.score);
  // Without the crossing fields the lower limbs would have no support at all.
  PoseMaps no_field = m;
  std::fill(no_field.paf(2), no_field.paf(2) + 2 * no_field.plane(), 0.f);
  auto halves = decode_people(no_field, sk, params(3));
  REQUIRE(halves.is_ok());
  CHECK(halves.value().empty());  // two parts each, below min_parts 3
}

TEST_CASE("pose: a missing limb splits a person into fragments", "[pose]") {
  PoseSkeleton sk = chain(4);
  PoseMaps m = blank(40, 60, 4, 6);
  const float xs[4] = {20, 20, 20, 20}, ys[4] = {5, 18, 31, 44};
  for (int k = 0; k < 4; ++k) add_peak(m, k, xs[k], ys[k]);
  add_field(m, 0, 20, 5, 20, 18);
  add_field(m, 4, 20, 31, 20, 44);  // limb 1 (parts 1-2) has no field
  auto two = decode_people(m, sk, params(2));
  REQUIRE(two.is_ok());
  REQUIRE(two.value().size() == 2);
  for (const PersonPose& p : two.value()) CHECK(p.num_parts == 2);
  const PersonPose& upper = near(two.value()[0].keypoints[0], 20, 5) ? two.value()[0] : two.value()[1];
  CHECK(near(upper.keypoints[1], 20, 18));
  CHECK(upper.keypoints[2].score == 0.f);
  CHECK(upper.keypoints[3].score == 0.f);
  auto none = decode_people(m, sk, params(3));  // each fragment is below 3 parts
  REQUIRE(none.is_ok());
  CHECK(none.value().empty());

  add_field(m, 2, 20, 18, 20, 31);  // with the limb back: one whole person
  auto one = decode_people(m, sk, params(3));
  REQUIRE(one.is_ok());
  REQUIRE(one.value().size() == 1);
  CHECK(one.value()[0].num_parts == 4);
  CHECK(one.value()[0].score == Approx((4 * 0.9f + 3 * 1.f) / 4).epsilon(0.05));
}

TEST_CASE("pose: fragments found first are merged by a later limb", "[pose]") {
  // Limb order 0-1, 2-3, then 1-2: two fragments, then the joining limb merges them.
  PoseSkeleton sk;
  sk.parts = {"a", "b", "c", "d"};
  sk.limbs = {{0, 1, 0, 1, false}, {2, 3, 2, 3, false}, {1, 2, 4, 5, false}};
  PoseMaps m = blank(40, 60, 4, 6);
  const float ys[4] = {5, 18, 31, 44};
  for (int k = 0; k < 4; ++k) add_peak(m, k, 20, ys[k]);
  add_field(m, 0, 20, 5, 20, 18);
  add_field(m, 2, 20, 31, 20, 44);
  add_field(m, 4, 20, 18, 20, 31);
  auto people = decode_people(m, sk, params(3));
  REQUIRE(people.is_ok());
  REQUIRE(people.value().size() == 1);
  CHECK(people.value()[0].num_parts == 4);
  for (int k = 0; k < 4; ++k) CHECK(near(people.value()[0].keypoints[k], 20, ys[k]));
}

TEST_CASE("pose: a redundant limb joins but never starts a person", "[pose]") {
  PoseSkeleton sk;
  sk.parts = {"a", "b"};
  sk.limbs = {{0, 1, 0, 1, true}};
  PoseMaps m = blank(30, 30, 2, 2);
  add_peak(m, 0, 10, 5);
  add_peak(m, 1, 10, 20);
  add_field(m, 0, 10, 5, 10, 20);
  auto r = decode_people(m, sk, params(1));
  REQUIRE(r.is_ok());
  CHECK(r.value().empty());
  sk.limbs[0].redundant = false;
  r = decode_people(m, sk, params(1));
  REQUIRE(r.is_ok());
  CHECK(r.value().size() == 1);
}

TEST_CASE("pose: a single isolated part makes nobody", "[pose]") {
  PoseSkeleton sk = chain(3);
  PoseMaps m = blank(32, 32, 3, 4);
  add_peak(m, 1, 16, 16);
  auto peaks = find_peaks(m.heatmap(1), m.width, m.height, 0.05f);
  REQUIRE(peaks.size() == 1);
  auto r = decode_people(m, sk, params(1));
  REQUIRE(r.is_ok());
  CHECK(r.value().empty());
}

TEST_CASE("pose: an empty image makes nobody; bad tables are errors", "[pose]") {
  PoseSkeleton sk = chain(3);
  PoseMaps m = blank(16, 12, 3, 4);
  PafParams p;  // defaults, smoothing on
  auto r = decode_people(m, sk, p);
  REQUIRE(r.is_ok());
  CHECK(r.value().empty());

  PoseSkeleton bad = sk;
  bad.limbs[1].paf_y = 4;  // only 4 PAF planes
  CHECK_FALSE(decode_people(m, bad, p).is_ok());
  bad = sk;
  bad.limbs[0].part_b = 7;
  CHECK_FALSE(decode_people(m, bad, p).is_ok());
  PoseMaps few = blank(16, 12, 2, 4);  // fewer heatmaps than parts
  CHECK_FALSE(decode_people(few, sk, p).is_ok());
}

TEST_CASE("pose: limb scoring applies the sample fraction and the distance prior", "[pose]") {
  PoseMaps m = blank(100, 20, 2, 2);
  std::vector<PosePeak> a = {{2, 10, 0.9f}}, b = {{97, 10, 0.9f}};
  add_field(m, 0, 2, 10, 97, 10, 0.6f);
  PafParams p;
  // Support everywhere, but 95 px on a 20 px high map: the prior 0.5*20/95 - 1 = -0.89 outweighs the mean 0.6.
  CHECK(match_limb(a, b, m.paf(0), m.paf(1), m.width, m.height, p).empty());
  std::vector<PosePeak> near_b = {{12, 10, 0.9f}};
  auto c = match_limb(a, near_b, m.paf(0), m.paf(1), m.width, m.height, p);
  REQUIRE(c.size() == 1);
  CHECK(c[0].score == Approx(0.6f));  // a 10 px limb: no distance penalty
  // Support on only 7 of 10 samples fails the 0.8 fraction.
  std::fill(m.paf(0) + 9 * 100 + 9, m.paf(0) + 9 * 100 + 12, 0.f);
  std::fill(m.paf(0) + 10 * 100 + 9, m.paf(0) + 10 * 100 + 12, 0.f);
  std::fill(m.paf(0) + 11 * 100 + 9, m.paf(0) + 11 * 100 + 12, 0.f);
  CHECK(match_limb(a, near_b, m.paf(0), m.paf(1), m.width, m.height, p).empty());
  p.min_above_fraction = 0.7f;
  c = match_limb(a, near_b, m.paf(0), m.paf(1), m.width, m.height, p);
  REQUIRE(c.size() == 1);
  CHECK(c[0].score == Approx(0.42f));
}
