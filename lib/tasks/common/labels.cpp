#include "tasks/common/labels.h"

#include <sstream>

#include "io/atomic_file.h"

namespace cvt {

Result<std::vector<std::string>> load_labels(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(std::string text, read_file(path, 16 << 20));
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

}  // namespace cvt
