// Header parsers for image sizes. EXIF orientation is not applied (sizes are as stored).
#include "eval/image_size.h"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace cvt::eval {

namespace {

uint32_t be16(const unsigned char* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t be32(const unsigned char* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t le16(const unsigned char* p) { return uint32_t(p[1]) << 8 | p[0]; }
int32_t le32(const unsigned char* p) {
  return int32_t(uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]);
}

// Walk JPEG markers up to the first start-of-frame segment.
bool jpeg_size(std::ifstream& f, int64_t& w, int64_t& h) {
  f.seekg(2);
  unsigned char m[2], seg[7];
  for (int guard = 0; guard < 10000; ++guard) {
    if (!f.read(reinterpret_cast<char*>(m), 2) || m[0] != 0xFF) return false;
    while (m[1] == 0xFF)  // fill bytes
      if (!f.read(reinterpret_cast<char*>(&m[1]), 1)) return false;
    const unsigned char t = m[1];
    if (t == 0xD8 || t == 0x01 || (t >= 0xD0 && t <= 0xD7)) continue;  // no length
    if (t == 0xD9 || t == 0xDA) return false;  // end of image / scan before any frame header
    unsigned char len[2];
    if (!f.read(reinterpret_cast<char*>(len), 2)) return false;
    const uint32_t n = be16(len);
    if (n < 2) return false;
    const bool sof = t >= 0xC0 && t <= 0xCF && t != 0xC4 && t != 0xC8 && t != 0xCC;
    if (sof) {
      if (!f.read(reinterpret_cast<char*>(seg), 5)) return false;
      h = be16(seg + 1);
      w = be16(seg + 3);
      return w > 0 && h > 0;
    }
    f.seekg(n - 2, std::ios::cur);
  }
  return false;
}

}  // namespace

Result<std::pair<int64_t, int64_t>> image_size(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error("cannot open image '" + path + "'");
  unsigned char h[32] = {0};
  f.read(reinterpret_cast<char*>(h), sizeof h);
  const auto got = f.gcount();
  f.clear();
  int64_t w = 0, ht = 0;
  if (got >= 24 && h[0] == 0x89 && h[1] == 'P' && h[2] == 'N' && h[3] == 'G') {
    w = be32(h + 16);
    ht = be32(h + 20);
  } else if (got >= 4 && h[0] == 0xFF && h[1] == 0xD8) {
    if (!jpeg_size(f, w, ht)) w = ht = 0;
  } else if (got >= 26 && h[0] == 'B' && h[1] == 'M') {
    w = le32(h + 18);
    ht = std::abs(le32(h + 22));  // negative height: top-down rows
  } else if (got >= 10 && h[0] == 'G' && h[1] == 'I' && h[2] == 'F') {
    w = le16(h + 6);
    ht = le16(h + 8);
  }
  if (w > 0 && ht > 0) return std::pair<int64_t, int64_t>{w, ht};
  // Anything else (WebP, TIFF, ...): let OpenCV decode it.
  try {
    const cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
    if (!m.empty()) return std::pair<int64_t, int64_t>{m.cols, m.rows};
  } catch (const cv::Exception&) {
  }
  return invalid_argument("cannot read the size of image '" + path + "'");
}

std::vector<std::string> list_image_files(const std::string& dir) {
  static const char* kExt[] = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"};
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string x = e.path().extension().string();
    std::transform(x.begin(), x.end(), x.begin(), ::tolower);
    if (std::find(std::begin(kExt), std::end(kExt), x) != std::end(kExt)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cvt::eval
