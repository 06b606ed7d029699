// COCO RLE implementation. Each routine follows the behaviour of pycocotools'
// maskApi (BSD) as documented in docs/evaluation.md; written from that description.
#include "eval/rle.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace cvt::eval {

Rle rle_encode(const uint8_t* mask, uint64_t h, uint64_t w) {
  Rle r{h, w, {}};
  const uint64_t n = h * w;
  uint8_t prev = 0;
  uint32_t run = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t v = mask[i] ? 1 : 0;
    if (v != prev) {
      r.counts.push_back(run);
      run = 0;
      prev = v;
    }
    ++run;
  }
  r.counts.push_back(run);
  return r;
}

Status rle_validate(const Rle& r) {
  uint64_t total = 0;
  for (uint32_t c : r.counts) total += c;
  if (total != r.h * r.w)
    return invalid_argument("RLE counts sum to " + std::to_string(total) + " but size " + std::to_string(r.h) +
                            "x" + std::to_string(r.w) + " has " + std::to_string(r.h * r.w) + " pixels");
  return Status::ok();
}

Result<std::vector<uint8_t>> rle_decode(const Rle& r) {
  const uint64_t n = r.h * r.w;
  std::vector<uint8_t> m(n, 0);
  uint64_t pos = 0;
  uint8_t v = 0;
  for (uint32_t c : r.counts) {
    if (c > n - pos) return invalid_argument("invalid RLE: counts exceed " + std::to_string(n) + " pixels");
    if (v) std::fill(m.begin() + pos, m.begin() + pos + c, 1);
    pos += c;
    v = !v;
  }
  return m;
}

std::string rle_to_string(const Rle& r) {
  std::string s;
  for (size_t i = 0; i < r.counts.size(); ++i) {
    int64_t x = r.counts[i];
    if (i > 2) x -= int64_t(r.counts[i - 2]);  // the reference starts deltas at index 3
    bool more = true;
    while (more) {
      int c = int(x & 0x1f);
      x >>= 5;  // arithmetic shift keeps the sign for negative deltas
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(char(c + 48));
    }
  }
  return s;
}

Result<Rle> rle_from_string(std::string_view s, uint64_t h, uint64_t w) {
  Rle r{h, w, {}};
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= s.size()) return invalid_argument("invalid RLE string: truncated value at char " + std::to_string(p));
      const int c = int(static_cast<unsigned char>(s[p])) - 48;
      if (c < 0 || c > 63) return invalid_argument("invalid RLE string: character '" + std::string(1, s[p]) +
                                                   "' at position " + std::to_string(p) + " is outside '0'..'o'");
      if (k > 11) return invalid_argument("invalid RLE string: value too long at position " + std::to_string(p));
      x |= int64_t(c & 0x1f) << (5 * k);
      more = c & 0x20;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= int64_t(-1) * (int64_t(1) << (5 * k));  // sign-extend
    }
    if (r.counts.size() > 2) x += int64_t(r.counts[r.counts.size() - 2]);
    if (x < 0 || x > int64_t(UINT32_MAX))
      return invalid_argument("invalid RLE string: run " + std::to_string(r.counts.size()) + " decodes to " +
                              std::to_string(x));
    r.counts.push_back(uint32_t(x));
  }
  return r;
}

uint64_t rle_area(const Rle& r) {
  uint64_t a = 0;
  for (size_t j = 1; j < r.counts.size(); j += 2) a += r.counts[j];
  return a;
}

Box rle_to_bbox(const Rle& r) {
  const uint64_t h = r.h;
  const size_t m = r.counts.size() / 2 * 2;  // a trailing background run adds nothing
  if (m == 0 || h == 0) return {0, 0, 0, 0};
  uint64_t xs = r.w, ys = h, xe = 0, ye = 0, pos = 0;
  bool any = false;
  for (size_t j = 0; j < m; ++j) {
    const uint64_t start = pos;
    pos += r.counts[j];
    if (j % 2 == 0 || r.counts[j] == 0) continue;  // background, or an empty foreground run
    any = true;
    const uint64_t x0 = start / h, y0 = start % h;
    const uint64_t x1 = (pos - 1) / h, y1 = (pos - 1) % h;
    xs = std::min(xs, x0);
    xe = std::max(xe, x1);
    if (x0 < x1) {  // the run wraps to another column: it covers the full height
      ys = 0;
      ye = h - 1;
    } else {
      ys = std::min(ys, y0);
      ye = std::max(ye, y1);
    }
  }
  // Only zero-length foreground runs: the reference returns wrapped unsigned values here;
  // an empty box is what every caller expects.
  if (!any) return {0, 0, 0, 0};
  return {double(xs), double(ys), double(xe - xs + 1), double(ye - ys + 1)};
}

Rle rle_from_polygon(const std::vector<double>& xy, uint64_t h, uint64_t w) {
  const size_t k = xy.size() / 2;
  Rle r{h, w, {}};
  if (k == 0) {
    r.counts.push_back(uint32_t(h * w));
    return r;
  }
  // 1. Scale by 5 and round (truncation toward zero, as a C int cast), then walk each edge
  //    along its major axis so the boundary is dense.
  constexpr double kScale = 5;
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) x[j] = int(kScale * xy[2 * j] + .5);
  for (size_t j = 0; j < k; ++j) y[j] = int(kScale * xy[2 * j + 1] + .5);
  x[k] = x[0];
  y[k] = y[0];
  std::vector<int> u, v;
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx >= dy) {
      const double s = dx == 0 ? 0.0 : double(ye - ys) / dx;
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(int(ys + s * t + .5));
      }
    } else {
      const double s = double(xe - xs) / dy;
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(int(xs + s * t + .5));
      }
    }
  }
  // 2. Keep points where the upsampled x crosses a pixel-centre column; each gives the first
  //    covered row of that column (a boundary toggle in column-major order).
  std::vector<uint32_t> a;
  for (size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = double(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / kScale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > double(w - 1)) continue;
    double yd = double(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / kScale - .5;
    if (yd < 0) yd = 0;
    else if (yd > double(h)) yd = double(h);
    yd = std::ceil(yd);
    a.push_back(uint32_t(int(xd) * int(h) + int(yd)));
  }
  // 3. Sorted toggle positions -> run lengths; a zero-length run cancels a toggle pair.
  a.push_back(uint32_t(h * w));
  std::sort(a.begin(), a.end());
  uint32_t prev = 0;
  for (auto& t : a) {
    const uint32_t cur = t;
    t -= prev;
    prev = cur;
  }
  size_t j = 0;
  r.counts.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      r.counts.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) r.counts.back() += a[j++];
    }
  }
  return r;
}

Rle rle_from_bbox(const Box& b, uint64_t h, uint64_t w) {
  const double xs = b[0], xe = xs + b[2], ys = b[1], ye = ys + b[3];
  return rle_from_polygon({xs, ys, xs, ye, xe, ye, xe, ys}, h, w);
}

namespace {

// Walks two run-length sequences in lock step, calling fn(len, a_on, b_on) per segment.
// Trailing zero-length runs are consumed the same way the reference does.
template <typename Fn>
void walk_pair(const Rle& A, const Rle& B, Fn&& fn) {
  uint64_t ca = A.counts.empty() ? 0 : A.counts[0], cb = B.counts.empty() ? 0 : B.counts[0];
  size_t ia = 1, ib = 1;
  bool va = false, vb = false;
  uint64_t remaining = 1;
  while (remaining > 0) {
    const uint64_t c = std::min(ca, cb);
    const bool seg_a = va, seg_b = vb;
    ca -= c;
    if (ca == 0 && ia < A.counts.size()) {
      ca = A.counts[ia++];
      va = !va;
    }
    cb -= c;
    if (cb == 0 && ib < B.counts.size()) {
      cb = B.counts[ib++];
      vb = !vb;
    }
    remaining = ca + cb;
    fn(c, seg_a, seg_b, va, vb, remaining == 0);
  }
}

}  // namespace

Rle rle_merge(const std::vector<Rle>& rles, bool intersect) {
  if (rles.empty()) return Rle{};
  Rle acc = rles[0];
  for (size_t i = 1; i < rles.size(); ++i) {
    const Rle& B = rles[i];
    if (B.h != acc.h || B.w != acc.w) return Rle{};
    Rle out{acc.h, acc.w, {}};
    uint64_t pending = 0;
    bool cur = false;  // value of the segment being accumulated (starts as background)
    walk_pair(acc, B, [&](uint64_t c, bool, bool, bool va, bool vb, bool last) {
      pending += c;
      const bool next = intersect ? (va && vb) : (va || vb);
      // Emit when the value of the next segment differs, or at the very end.
      if (next != cur || last) {
        out.counts.push_back(uint32_t(pending));
        pending = 0;
      }
      cur = next;
    });
    acc = std::move(out);
  }
  return acc;
}

double rle_iou(const Rle& d, const Rle& g, bool g_crowd) {
  // The reference first computes the IoU of the RLE bounding boxes and only looks at the
  // pixels when those overlap; the box value decides the "0" and "-1" cases.
  const double box = box_iou_coco(rle_to_bbox(d), rle_to_bbox(g), g_crowd);
  if (!(box > 0)) return box;
  if (d.h != g.h || d.w != g.w) return -1;
  uint32_t inter = 0, uni = 0;
  walk_pair(d, g, [&](uint64_t c, bool a, bool b, bool, bool, bool) {
    if (a || b) uni += uint32_t(c);
    if (a && b) inter += uint32_t(c);
  });
  if (inter == 0) uni = 1;
  else if (g_crowd) uni = uint32_t(rle_area(d));
  return double(inter) / double(uni);
}

}  // namespace cvt::eval
