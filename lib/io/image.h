// Image decoding through one path for the CLI, the tests and the fuzzers.
// Dimensions are read from the file header and bounded before decoding, so a
// hostile 100000x100000 PNG is rejected instead of exhausting memory.
#pragma once
#include <opencv2/core.hpp>
#include <string>

#include "core/status.h"

namespace cvt {

struct ImageLimits {
  static constexpr int64_t kMaxFileBytes = int64_t(512) << 20;
  static constexpr int64_t kMaxPixels = int64_t(1) << 28;  // 268 Mpx
  static constexpr int kMaxSide = 1 << 16;
};

// "jpeg", "png", "bmp", "tiff", "webp", "pnm" or "gif" from the magic bytes;
// nullptr for anything else, which is never handed to OpenCV.
const char* sniff_image_format(const std::string& bytes);
// Width/height from a PNG, JPEG, BMP, GIF or WebP header; {0,0} when the format is not recognised.
Result<std::pair<int, int>> probe_image_size(const std::string& bytes);
// Width/height of an image file: from its header, else by decoding it through
// decode_image_bytes (so only allowed formats ever reach OpenCV).
Result<std::pair<int, int>> read_image_size(const std::string& path);
// Decodes to 8-bit BGR (3 channels). Errors: kIoError (missing/unreadable), kDecodeError, kLimitExceeded.
Result<cv::Mat> decode_image_bytes(const std::string& bytes, const std::string& label);
Result<cv::Mat> load_image(const std::string& path);

}  // namespace cvt
