// A small XML reader for annotation files (Pascal VOC, CVAT-like): elements, attributes,
// text, comments, CDATA and the five predefined entities plus numeric references.
// No namespaces, no DTD validation. Errors name the file and line.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace cvt::eval {

struct XmlNode {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;
  std::string text;  // concatenated character data directly inside this element, trimmed
  std::vector<XmlNode> children;
  int line = 0;

  /// First child element with this name, or nullptr.
  const XmlNode* child(std::string_view n) const;
  std::vector<const XmlNode*> children_named(std::string_view n) const;
};

/// Parse a whole document; returns its root element. `filename` is only used in messages.
Result<XmlNode> parse_xml(std::string_view text, const std::string& filename);

}  // namespace cvt::eval
