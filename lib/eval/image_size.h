// Image dimensions from the file header (PNG, JPEG, BMP, GIF, WebP) without decoding pixels;
// other formats are decoded through io/image. Used to place normalised (YOLO) boxes.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace cvt::eval {

/// (width, height) of an image file.
Result<std::pair<int64_t, int64_t>> image_size(const std::string& path);

/// Image files (by common extension) directly inside `dir`, sorted by name.
std::vector<std::string> list_image_files(const std::string& dir);

}  // namespace cvt::eval
