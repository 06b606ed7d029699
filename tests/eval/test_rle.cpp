// RLE codec, rasterisation, merge and IoU against fixture G (docs/evaluation.md; vectors
// published in faster_coco_eval's mask API tests, Apache-2.0) plus round-trip properties.
#include <catch2/catch.hpp>

#include <random>

#include "eval/rle.h"

using namespace cvt::eval;

namespace {

const std::vector<Box> kBoxes = {{3, 5, 4, 1}, {5, 3, 3, 5}, {8, 5, 8, 5}, {3, 4, 7, 3}, {2, 5, 2, 7},
                                 {8, 1, 9, 9}, {8, 1, 9, 6}, {7, 1, 9, 4}, {4, 5, 4, 5}, {2, 4, 5, 4}};
const std::vector<std::string> kBoxRles = {
    "Q21c000000o7",        "W35?000]7",        "U55?0000000000000[2", "P23a000000000000T6",
    "]17=0k9",             "Q59;000000000000000k1", "Q56>000000000000000k1", "]44`0000000000000000_2",
    "e25?00000[7",         "\\14`00000000P8"};
const std::vector<std::vector<double>> kPolys = {
    {7, 8, 9, 3, 7, 1, 5, 1, 5, 8, 3, 4, 4, 7, 7, 8}, {4, 4, 7, 5, 5, 9, 3, 1, 2, 3, 1, 6, 6, 2, 2, 9},
    {5, 3, 7, 1, 2, 5, 4, 9, 6, 6, 4, 8, 2, 9, 7, 4}, {5, 1, 1, 4, 7, 9, 2, 3, 6, 9, 7, 4, 3, 8, 1, 2},
    {7, 5, 5, 8, 5, 3, 8, 8, 2, 6, 8, 7, 4, 6, 2, 6}, {8, 8, 4, 7, 6, 3, 9, 4, 9, 4, 7, 8, 7, 8, 2, 9},
    {2, 8, 8, 6, 5, 8, 4, 8, 9, 4, 8, 3, 4, 5, 9, 7}, {4, 1, 8, 3, 8, 7, 9, 1, 3, 7, 5, 4, 9, 1, 9, 7},
    {1, 4, 2, 9, 3, 4, 5, 5, 1, 4, 2, 1, 3, 1, 8, 8}, {6, 6, 4, 5, 9, 9, 1, 9, 8, 6, 5, 4, 3, 4, 7, 1}};
const std::vector<std::string> kPolyRles = {"U36>1OO2Lm6",
                                            "h02`012N_O0`00@1>OB3`0MQ8",
                                            "]1120=210AN>1BOT9",
                                            "f01c01^OO>0E0R11[O0AO]8",
                                            "e22a0O@0b0010X7",
                                            "f2110>212OO2Mj6",
                                            "S21c00M1AO?110@O?0l6",
                                            "V31c010000g6",
                                            "f04?OBN?131O01N10X7",
                                            "`11c00K0E1:0F090F2a0MX7"};

Rle from_str(const std::string& s, uint64_t h = 20, uint64_t w = 20) {
  auto r = rle_from_string(s, h, w);
  REQUIRE(r.is_ok());
  return r.value();
}

}  // namespace

TEST_CASE("fixture G: frBbox strings and toBbox round trip", "[eval][rle]") {
  for (size_t i = 0; i < kBoxes.size(); ++i) {
    INFO("box " << i);
    Rle r = rle_from_bbox(kBoxes[i], 20, 20);
    CHECK(rle_to_string(r) == kBoxRles[i]);
    CHECK(rle_to_bbox(from_str(kBoxRles[i])) == kBoxes[i]);
    CHECK(rle_area(r) == uint64_t(kBoxes[i][2] * kBoxes[i][3]));
  }
}

TEST_CASE("fixture G: frPoly strings", "[eval][rle]") {
  for (size_t i = 0; i < kPolys.size(); ++i) {
    INFO("polygon " << i);
    CHECK(rle_to_string(rle_from_polygon(kPolys[i], 20, 20)) == kPolyRles[i]);
  }
}

TEST_CASE("fixture G: merge union and intersection of the box RLEs", "[eval][rle]") {
  std::vector<Rle> rles;
  for (const auto& s : kBoxRles) rles.push_back(from_str(s));
  CHECK(rle_to_string(rle_merge({rles[0]}, false)) == kBoxRles[0]);
  CHECK(rle_to_string(rle_merge(rles, false)) == "\\18<00N1100N2000000000000000000k1");
  CHECK(rle_to_string(rle_merge(rles, true)) == "`<");
  // Union equals the pixel-wise OR of the decoded masks.
  std::vector<uint8_t> any(400, 0);
  for (const auto& r : rles) {
    auto m = rle_decode(r);
    REQUIRE(m.is_ok());
    for (size_t i = 0; i < 400; ++i) any[i] |= m.value()[i];
  }
  CHECK(rle_merge(rles, false) == rle_encode(any.data(), 20, 20));
  CHECK(rle_merge({rles[0], Rle{10, 10, {100}}}, false) == Rle{});  // size mismatch -> empty
}

TEST_CASE("fixture G: RLE IoU with and without crowd", "[eval][rle]") {
  const Rle a = from_str(kBoxRles[0]), b = from_str(kBoxRles[1]);
  CHECK(rle_iou(a, a, false) == 1.0);
  CHECK(rle_iou(a, b, false) == Approx(2.0 / 17).epsilon(1e-12));
  CHECK(rle_iou(b, a, false) == Approx(2.0 / 17).epsilon(1e-12));
  // crowd: intersection over the detection's own area
  CHECK(rle_iou(a, b, true) == Approx(0.5).epsilon(1e-12));
  CHECK(rle_iou(b, a, true) == Approx(2.0 / 15).epsilon(1e-12));
  // polygons (numpy's round(4) rounds half to even: 5/32 -> 0.1562)
  const Rle p0 = from_str(kPolyRles[0]), p1 = from_str(kPolyRles[1]), p2 = from_str(kPolyRles[2]);
  CHECK(std::nearbyint(rle_iou(p0, p1, false) * 1e4) / 1e4 == 0.1562);
  CHECK(std::nearbyint(rle_iou(p0, p2, false) * 1e4) / 1e4 == 0.1);
  CHECK(std::nearbyint(rle_iou(p1, p2, false) * 1e4) / 1e4 == 0.2174);
  // disjoint boxes give 0, overlapping masks of different sizes give -1
  CHECK(rle_iou(from_str(kBoxRles[0]), rle_from_bbox({15, 15, 2, 2}, 20, 20), false) == 0.0);
  CHECK(rle_iou(a, rle_from_bbox({3, 5, 4, 1}, 30, 30), false) == -1.0);
}

TEST_CASE("fixture G: uncompressed <-> compressed codec", "[eval][rle]") {
  Rle u{1350, 1080, {0, 5, 5, 5, 5, 2, 3, 5, 2, 3, 5, 2, 3, 55}};
  CHECK(rle_to_string(u) == "05500MN3ON3ONe1");
  auto back = rle_from_string("05500MN3ON3ONe1", 1350, 1080);
  REQUIRE(back.is_ok());
  CHECK(back.value() == u);
}

TEST_CASE("fixture G: toBbox of small masks", "[eval][rle]") {
  // [[0,1],[1,1]] (row-major) -> column-major {0,1,1,1}
  const uint8_t m2[4] = {0, 1, 1, 1};
  CHECK(rle_to_bbox(rle_encode(m2, 2, 2)) == Box{0, 0, 2, 2});
  std::vector<uint8_t> m(100, 0);
  for (int y = 2; y < 4; ++y)
    for (int x = 3; x < 6; ++x) m[x * 10 + y] = 1;
  CHECK(rle_to_bbox(rle_encode(m.data(), 10, 10)) == Box{3, 2, 3, 2});
}

TEST_CASE("zero-length leading runs give the same box as the canonical encoding", "[eval][rle]") {
  // Canonical: 5 background, 3 foreground, rest background, on 4x4. The variant inserts
  // empty foreground/background pairs that must not move the box to (0,0).
  Rle canon{4, 4, {5, 3, 8}};
  Rle zeros{4, 4, {0, 0, 0, 0, 5, 3, 0, 0, 8}};
  CHECK(rle_to_bbox(zeros) == rle_to_bbox(canon));
  auto dec = rle_decode(zeros);
  REQUIRE(dec.is_ok());
  CHECK(rle_encode(dec.value().data(), 4, 4) == canon);
  CHECK(rle_area(zeros) == 3);
  // The compressed codec keeps the zeros.
  auto rt = rle_from_string(rle_to_string(zeros), 4, 4);
  REQUIRE(rt.is_ok());
  CHECK(rt.value() == zeros);
}

TEST_CASE("invalid RLE counts are errors, not crashes", "[eval][rle]") {
  CHECK_FALSE(rle_decode(Rle{4, 4, {10, 10}}).is_ok());    // overflows 16 pixels
  CHECK_FALSE(rle_validate(Rle{4, 4, {3, 2}}).is_ok());    // too short
  CHECK(rle_validate(Rle{4, 4, {3, 2, 11}}).is_ok());
  CHECK_FALSE(rle_from_string("ab\x7f", 4, 4).is_ok());    // char outside '0'..'o'
  CHECK_FALSE(rle_from_string("Q", 4, 4).is_ok());         // continuation bit with no next char
  auto neg = rle_from_string("0O", 4, 4);                  // second run decodes to -1
  CHECK_FALSE(neg.is_ok());
}

TEST_CASE("encode/decode round trip on random masks", "[eval][rle]") {
  std::mt19937 rng(7);
  for (int t = 0; t < 20; ++t) {
    const uint64_t h = 1 + rng() % 37, w = 1 + rng() % 29;
    std::vector<uint8_t> m(h * w);
    uint64_t area = 0;
    for (auto& v : m) area += (v = (rng() % 10) >= 4);
    const Rle r = rle_encode(m.data(), h, w);
    CHECK(rle_area(r) == area);
    CHECK(rle_validate(r).is_ok());
    auto dec = rle_decode(r);
    REQUIRE(dec.is_ok());
    CHECK(dec.value() == m);
    auto s = rle_from_string(rle_to_string(r), h, w);
    REQUIRE(s.is_ok());
    CHECK(s.value() == r);
  }
}
