// Darknet .cfg files: `[section]` headers followed by `key=value` lines, the
// format of pjreddie/darknet and its forks. This file only parses the text and
// reads typed values; it knows nothing about layers (see importer.cpp).
#pragma once
#include <string>
#include <vector>

#include "core/status.h"

namespace cvt::darknet {

struct CfgOption {
  std::string key, value;
  int line = 0;
};

struct CfgSection {
  std::string type;  // lower case, without brackets: "convolutional"
  int line = 0;      // line of the "[type]" header (1-based)
  std::vector<CfgOption> options;
  const CfgOption* find(const std::string& key) const;  // the last occurrence wins
};

struct CfgFile {
  std::string label;  // file name for messages
  std::vector<CfgSection> sections;
};

/// Parses cfg text as darknet does: whitespace is removed everywhere, lines
/// starting with '#' or ';' are comments, every non-header line must be key=value.
/// Errors name the file and the line.
Result<CfgFile> parse_cfg_text(const std::string& text, const std::string& label);
Result<CfgFile> parse_cfg_file(const std::string& path);

/// Typed access to one section. The first bad value is kept in status() (with
/// file, line, section and key); getters then return the default, so a layer
/// reads all its keys with their defaults written next to them and checks once.
class SectionReader {
 public:
  SectionReader(const CfgSection& s, const std::string& label) : s_(s), label_(label) {}
  bool has(const std::string& key) const { return s_.find(key) != nullptr; }
  int get_int(const std::string& key, int def);
  float get_float(const std::string& key, float def);
  std::string get_string(const std::string& key, const std::string& def);
  std::vector<int> get_ints(const std::string& key);      // "a,b,c"; empty when absent
  std::vector<float> get_floats(const std::string& key);  // "a,b,c"; empty when absent
  // Records an error about `key` (or the section when key is empty).
  void fail(const std::string& key, const std::string& why);
  // "tiny.cfg:12: [convolutional]": prefix of messages about this section.
  std::string where() const;
  const Status& status() const { return st_; }

 private:
  const CfgSection& s_;
  std::string label_;
  Status st_;
};

}  // namespace cvt::darknet
