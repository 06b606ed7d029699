// Image sizes for evaluation. EXIF orientation is not applied (sizes are as stored).
#include "eval/image_size.h"

#include "io/image.h"

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;

namespace cvt::eval {

Result<std::pair<int64_t, int64_t>> image_size(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(auto wh, read_image_size(path));
  return std::pair<int64_t, int64_t>{wh.first, wh.second};
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
