#include "io/darknet/cfg.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "io/atomic_file.h"

namespace cvt::darknet {

const CfgOption* CfgSection::find(const std::string& key) const {
  for (auto it = options.rbegin(); it != options.rend(); ++it)
    if (it->key == key) return &*it;
  return nullptr;
}

Result<CfgFile> parse_cfg_text(const std::string& text, const std::string& label) {
  CfgFile f;
  f.label = label;
  size_t pos = 0;
  int line_no = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    // darknet's strip(): every whitespace character goes, inside the line too.
    std::string line;
    for (char c : raw)
      if (!std::isspace(static_cast<unsigned char>(c))) line += c;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    const std::string where = label + ":" + std::to_string(line_no) + ": ";
    if (line[0] == '[') {
      if (line.back() != ']' || line.size() < 3)
        return invalid_model(where + "malformed section header '" + raw + "' (expected [name])");
      CfgSection s;
      s.type = line.substr(1, line.size() - 2);
      std::transform(s.type.begin(), s.type.end(), s.type.begin(), [](unsigned char c) { return std::tolower(c); });
      s.line = line_no;
      f.sections.push_back(std::move(s));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0)
      return invalid_model(where + "cannot parse '" + raw + "': expected key=value or [section]");
    if (f.sections.empty()) return invalid_model(where + "option '" + line.substr(0, eq) + "' before the first [section]");
    f.sections.back().options.push_back({line.substr(0, eq), line.substr(eq + 1), line_no});
    if (static_cast<int64_t>(f.sections.size()) > 100000) return limit_exceeded(label + ": more than 100000 sections");
  }
  if (f.sections.empty()) return invalid_model(label + ": no [section] found (not a darknet .cfg file?)");
  return f;
}

Result<CfgFile> parse_cfg_file(const std::string& path) {
  CVT_ASSIGN_OR_RETURN(std::string text, read_file(path, int64_t(16) << 20));
  return parse_cfg_text(text, path);
}

std::string SectionReader::where() const { return label_ + ":" + std::to_string(s_.line) + ": [" + s_.type + "]"; }

void SectionReader::fail(const std::string& key, const std::string& why) {
  if (!st_.is_ok()) return;
  if (key.empty()) {
    st_ = invalid_model(where() + ": " + why);
    return;
  }
  const CfgOption* o = s_.find(key);
  int line = o ? o->line : s_.line;
  st_ = invalid_model(label_ + ":" + std::to_string(line) + ": [" + s_.type + "] key '" + key + "'" +
                      (o ? "='" + o->value + "'" : "") + ": " + why);
}

static bool parse_int(const std::string& s, int* v) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long x = std::strtol(s.c_str(), &end, 10);
  if (errno || *end != '\0' || x < -(1L << 30) || x > (1L << 30)) return false;
  *v = static_cast<int>(x);
  return true;
}

static bool parse_float(const std::string& s, float* v) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  float x = std::strtof(s.c_str(), &end);
  if (errno || *end != '\0') return false;
  *v = x;
  return true;
}

static std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t c = s.find(',', pos);
    if (c == std::string::npos) c = s.size();
    out.push_back(s.substr(pos, c - pos));
    pos = c + 1;
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // "1,2," as darknet tolerates
  return out;
}

int SectionReader::get_int(const std::string& key, int def) {
  const CfgOption* o = s_.find(key);
  if (!o) return def;
  int v = def;
  if (!parse_int(o->value, &v)) fail(key, "not an integer");
  return v;
}

float SectionReader::get_float(const std::string& key, float def) {
  const CfgOption* o = s_.find(key);
  if (!o) return def;
  float v = def;
  if (!parse_float(o->value, &v)) fail(key, "not a number");
  return v;
}

std::string SectionReader::get_string(const std::string& key, const std::string& def) {
  const CfgOption* o = s_.find(key);
  return o ? o->value : def;
}

std::vector<int> SectionReader::get_ints(const std::string& key) {
  std::vector<int> out;
  const CfgOption* o = s_.find(key);
  if (!o) return out;
  for (const std::string& item : split_commas(o->value)) {
    int v = 0;
    if (!parse_int(item, &v)) {
      fail(key, "'" + item + "' is not an integer");
      return {};
    }
    out.push_back(v);
  }
  return out;
}

std::vector<float> SectionReader::get_floats(const std::string& key) {
  std::vector<float> out;
  const CfgOption* o = s_.find(key);
  if (!o) return out;
  for (const std::string& item : split_commas(o->value)) {
    float v = 0;
    if (!parse_float(item, &v)) {
      fail(key, "'" + item + "' is not a number");
      return {};
    }
    out.push_back(v);
  }
  return out;
}

}  // namespace cvt::darknet
