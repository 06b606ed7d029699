#include "io/image.h"

#include <cctype>
#include <cstdlib>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/atomic_file.h"

namespace cvt {
namespace {

uint32_t be16(const std::string& b, size_t i) { return (uint8_t(b[i]) << 8) | uint8_t(b[i + 1]); }
uint32_t be32(const std::string& b, size_t i) { return (be16(b, i) << 16) | be16(b, i + 2); }
uint32_t le16(const std::string& b, size_t i) { return uint8_t(b[i]) | (uint8_t(b[i + 1]) << 8); }
int32_t le32(const std::string& b, size_t i) { return int32_t(le16(b, i) | (le16(b, i + 2) << 16)); }

// OpenCV has its own pixel limit; make it agree with ours before the first decode.
const bool g_opencv_limit_set = [] {
  setenv("OPENCV_IO_MAX_IMAGE_PIXELS", std::to_string(ImageLimits::kMaxPixels).c_str(), 0);
  return true;
}();

bool starts_with(const std::string& b, const char* magic, size_t n, size_t at = 0) {
  return b.size() >= at + n && b.compare(at, n, magic, n) == 0;
}

}  // namespace

const char* sniff_image_format(const std::string& b) {
  // OpenCV asks its codecs in turn and GDCM, last in line, claims any buffer
  // with "DICM" at byte 128, e.g. a WebP header libwebp rejects (found by fuzzing).
  if (starts_with(b, "DICM", 4, 128)) return nullptr;
  if (starts_with(b, "\xFF\xD8\xFF", 3)) return "jpeg";
  if (starts_with(b, "\x89PNG\r\n\x1a\n", 8)) return "png";
  if (starts_with(b, "BM", 2)) return "bmp";
  if (starts_with(b, "II*\0", 4) || starts_with(b, "MM\0*", 4)) return "tiff";
  if (starts_with(b, "RIFF", 4) && starts_with(b, "WEBP", 4, 8)) return "webp";
  if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && std::isspace(uint8_t(b[2]))) return "pnm";
  if (starts_with(b, "GIF87a", 6) || starts_with(b, "GIF89a", 6)) return "gif";
  return nullptr;
}

Result<std::pair<int, int>> probe_image_size(const std::string& b) {
  (void)g_opencv_limit_set;
  if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return std::make_pair(int(be32(b, 16)), int(be32(b, 20)));
  if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {
    int32_t w = le32(b, 18), h = le32(b, 22);
    return std::make_pair(std::abs(w), std::abs(h));
  }
  if (b.size() >= 10 && (b.compare(0, 6, "GIF87a") == 0 || b.compare(0, 6, "GIF89a") == 0))
    return std::make_pair(int(le16(b, 6)), int(le16(b, 8)));
  if (b.size() >= 4 && uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xD8) {
    // Walk JPEG segments to the first start-of-frame marker.
    size_t i = 2;
    while (i + 9 < b.size()) {
      if (uint8_t(b[i]) != 0xFF) return Status(ErrorCode::kDecodeError, "corrupt JPEG marker stream");
      uint8_t marker = uint8_t(b[i + 1]);
      if (marker == 0xFF) {
        ++i;
        continue;
      }
      if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
        i += 2;
        continue;
      }
      uint32_t len = be16(b, i + 2);
      bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
      if (sof) return std::make_pair(int(be16(b, i + 7)), int(be16(b, i + 5)));
      if (len < 2) return Status(ErrorCode::kDecodeError, "corrupt JPEG segment length");
      i += 2 + len;
    }
    return Status(ErrorCode::kDecodeError, "truncated JPEG: no frame header");
  }
  if (starts_with(b, "RIFF", 4) && starts_with(b, "WEBP", 4, 8) && b.size() >= 30) {
    // The first chunk says which of the three WebP bitstreams follows.
    if (starts_with(b, "VP8 ", 4, 12) && starts_with(b, "\x9d\x01\x2a", 3, 23))  // lossy: 14-bit sizes after the start code
      return std::make_pair(int(le16(b, 26) & 0x3FFF), int(le16(b, 28) & 0x3FFF));
    if (starts_with(b, "VP8L", 4, 12) && uint8_t(b[20]) == 0x2F) {  // lossless: two 14-bit (size - 1) fields
      const uint32_t bits = uint32_t(le16(b, 21)) | uint32_t(le16(b, 23)) << 16;
      return std::make_pair(int((bits & 0x3FFF) + 1), int(((bits >> 14) & 0x3FFF) + 1));
    }
    if (starts_with(b, "VP8X", 4, 12)) {  // extended: 24-bit (size - 1) canvas fields
      const auto le24 = [&](size_t i) { return int(le16(b, i) | uint32_t(uint8_t(b[i + 2])) << 16); };
      return std::make_pair(le24(24) + 1, le24(27) + 1);
    }
  }
  return std::make_pair(0, 0);
}

Result<std::pair<int, int>> read_image_size(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(std::string bytes, read_file(path, ImageLimits::kMaxFileBytes));
  const char* format = sniff_image_format(bytes);
  if (!format) return Status(ErrorCode::kDecodeError, path + ": not a supported image format");
  auto size = probe_image_size(bytes);
  if (!size.is_ok()) return Status(ErrorCode::kDecodeError, path + ": " + size.status().message());
  if (size.value().first > 0 && size.value().second > 0) return size;
  // TIFF, PNM and unusual headers: decode, through the same checks as the CLI.
  CVT_ASSIGN_OR_RETURN(cv::Mat img, decode_image_bytes(bytes, path));
  return std::make_pair(img.cols, img.rows);
}

Result<cv::Mat> decode_image_bytes(const std::string& bytes, const std::string& label) {
  if (bytes.empty()) return Status(ErrorCode::kDecodeError, label + ": empty file");
  // OpenCV tries every codec it was built with, including ones that abort the
  // process on hostile input (GDCM's DICOM reader asserts); only photo formats
  // reach it.
  const char* format = sniff_image_format(bytes);
  if (!format)
    return Status(ErrorCode::kDecodeError, label + ": not a supported image format (JPEG, PNG, BMP, TIFF, WebP, PNM)");
  if (std::string(format) == "gif")
    return Status(ErrorCode::kDecodeError, label + ": GIF is not supported (OpenCV has no GIF decoder); convert it to PNG");
  auto size = probe_image_size(bytes);
  if (!size.is_ok()) return Status(ErrorCode::kDecodeError, label + ": " + size.status().message());
  auto [w, h] = size.value();
  if (w < 0 || h < 0 || w > ImageLimits::kMaxSide || h > ImageLimits::kMaxSide ||
      int64_t(w) * int64_t(h) > ImageLimits::kMaxPixels)
    return Status(ErrorCode::kLimitExceeded, label + ": image is " + std::to_string(w) + "x" + std::to_string(h) +
                                                 ", beyond the limit of " + std::to_string(ImageLimits::kMaxPixels) + " pixels");
  cv::Mat img;
  try {
    cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    img = cv::imdecode(buf, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return Status(ErrorCode::kDecodeError, label + ": cannot decode image (" + e.msg + ")");
  }
  if (img.empty()) return Status(ErrorCode::kDecodeError, label + ": cannot decode image (unknown format or corrupt data)");
  return img;
}

Result<cv::Mat> load_image(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(std::string bytes, read_file(path, ImageLimits::kMaxFileBytes));
  return decode_image_bytes(bytes, path);
}

}  // namespace cvt
