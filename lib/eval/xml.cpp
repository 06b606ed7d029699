// Recursive-descent XML reader with line tracking (see xml.h for the supported subset).
#include "eval/xml.h"

#include <cctype>

namespace cvt::eval {

const XmlNode* XmlNode::child(std::string_view n) const {
  for (const auto& c : children)
    if (c.name == n) return &c;
  return nullptr;
}

std::vector<const XmlNode*> XmlNode::children_named(std::string_view n) const {
  std::vector<const XmlNode*> out;
  for (const auto& c : children)
    if (c.name == n) out.push_back(&c);
  return out;
}

namespace {

constexpr int kMaxDepth = 256;  // untrusted input: bound the recursion

class Parser {
 public:
  Parser(std::string_view s, const std::string& file) : s_(s), file_(file) {}

  Result<XmlNode> document() {
    skip_misc();
    if (eof() || peek() != '<') return error("expected the root element");
    XmlNode root;
    CVT_RETURN_IF_ERROR(element(root, 0));
    skip_misc();
    if (!eof()) return error("unexpected content after the root element </" + root.name + ">");
    return root;
  }

 private:
  bool eof() const { return p_ >= s_.size(); }
  char peek(size_t off = 0) const { return p_ + off < s_.size() ? s_[p_ + off] : '\0'; }
  bool starts(std::string_view t) const { return s_.substr(p_, t.size()) == t; }
  void advance(size_t n = 1) {
    for (size_t i = 0; i < n && p_ < s_.size(); ++i, ++p_)
      if (s_[p_] == '\n') ++line_;
  }
  Status error(const std::string& msg) const {
    return invalid_argument(file_ + ":" + std::to_string(line_) + ": malformed XML: " + msg);
  }
  void skip_ws() {
    while (!eof() && std::isspace(static_cast<unsigned char>(peek()))) advance();
  }
  Status skip_until(std::string_view end, const char* what) {
    const int start = line_;
    while (!eof() && !starts(end)) advance();
    if (eof()) {
      line_ = start;
      return error(std::string("unterminated ") + what);
    }
    advance(end.size());
    return Status::ok();
  }
  // Prolog, comments, processing instructions and DOCTYPE between elements.
  void skip_misc() {
    for (;;) {
      skip_ws();
      if (starts("<?")) {
        if (!skip_until("?>", "processing instruction").is_ok()) return;
      } else if (starts("<!--")) {
        if (!skip_until("-->", "comment").is_ok()) return;
      } else if (starts("<!DOCTYPE")) {
        if (!skip_until(">", "DOCTYPE").is_ok()) return;
      } else {
        return;
      }
    }
  }
  static bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':' ||
           static_cast<unsigned char>(c) >= 0x80;
  }
  std::string name() {
    const size_t b = p_;
    while (!eof() && name_char(peek())) advance();
    return std::string(s_.substr(b, p_ - b));
  }
  Status decode_entities(std::string_view raw, std::string& out) {
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '&') {
        out.push_back(raw[i]);
        continue;
      }
      const size_t semi = raw.find(';', i);
      if (semi == std::string_view::npos || semi - i > 12) return error("unterminated entity reference");
      const std::string_view ent = raw.substr(i + 1, semi - i - 1);
      if (ent == "amp") out += '&';
      else if (ent == "lt") out += '<';
      else if (ent == "gt") out += '>';
      else if (ent == "quot") out += '"';
      else if (ent == "apos") out += '\'';
      else if (ent.size() > 1 && ent[0] == '#') {
        unsigned long cp = 0;
        try {
          cp = ent[1] == 'x' ? std::stoul(std::string(ent.substr(2)), nullptr, 16) : std::stoul(std::string(ent.substr(1)));
        } catch (...) {
          return error("bad character reference &" + std::string(ent) + ";");
        }
        // UTF-8 encode
        if (cp < 0x80) out += char(cp);
        else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) { out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
        else { out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
      } else {
        return error("unknown entity &" + std::string(ent) + ";");
      }
      i = semi;
    }
    return Status::ok();
  }

  Status element(XmlNode& node, int depth) {
    if (depth > kMaxDepth) return error("elements nested deeper than " + std::to_string(kMaxDepth));
    node.line = line_;
    advance();  // '<'
    node.name = name();
    if (node.name.empty()) return error("expected an element name after '<'");
    // attributes
    for (;;) {
      skip_ws();
      if (eof()) return error("unterminated start tag <" + node.name + ">");
      if (starts("/>")) {
        advance(2);
        return Status::ok();
      }
      if (peek() == '>') {
        advance();
        break;
      }
      std::string an = name();
      if (an.empty()) return error("unexpected '" + std::string(1, peek()) + "' in start tag <" + node.name + ">");
      skip_ws();
      if (peek() != '=') return error("attribute '" + an + "' of <" + node.name + "> has no value");
      advance();
      skip_ws();
      const char q = peek();
      if (q != '"' && q != '\'') return error("attribute '" + an + "' value must be quoted");
      advance();
      const size_t b = p_;
      while (!eof() && peek() != q) advance();
      if (eof()) return error("unterminated value of attribute '" + an + "'");
      std::string val;
      CVT_RETURN_IF_ERROR(decode_entities(s_.substr(b, p_ - b), val));
      advance();
      node.attrs.emplace_back(std::move(an), std::move(val));
    }
    // content
    std::string text;
    for (;;) {
      if (eof()) return error("element <" + node.name + "> opened on line " + std::to_string(node.line) +
                              " is never closed");
      if (starts("</")) {
        const int close_line = line_;
        advance(2);
        const std::string cn = name();
        skip_ws();
        if (peek() != '>') return error("malformed closing tag </" + cn);
        advance();
        if (cn != node.name) {
          line_ = close_line;
          return error("closing tag </" + cn + "> does not match <" + node.name + "> opened on line " +
                       std::to_string(node.line));
        }
        break;
      }
      if (starts("<!--")) {
        CVT_RETURN_IF_ERROR(skip_until("-->", "comment"));
      } else if (starts("<![CDATA[")) {
        advance(9);
        const size_t b = p_;
        const int start = line_;
        while (!eof() && !starts("]]>")) advance();
        if (eof()) {
          line_ = start;
          return error("unterminated CDATA section");
        }
        text += s_.substr(b, p_ - b);
        advance(3);
      } else if (starts("<?")) {
        CVT_RETURN_IF_ERROR(skip_until("?>", "processing instruction"));
      } else if (peek() == '<') {
        node.children.emplace_back();
        CVT_RETURN_IF_ERROR(element(node.children.back(), depth + 1));
      } else {
        const size_t b = p_;
        while (!eof() && peek() != '<') advance();
        CVT_RETURN_IF_ERROR(decode_entities(s_.substr(b, p_ - b), text));
      }
    }
    const size_t first = text.find_first_not_of(" \t\r\n");
    const size_t last = text.find_last_not_of(" \t\r\n");
    node.text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
    return Status::ok();
  }

  std::string_view s_;
  const std::string& file_;
  size_t p_ = 0;
  int line_ = 1;
};

}  // namespace

Result<XmlNode> parse_xml(std::string_view text, const std::string& filename) {
  Parser p(text, filename);
  return p.document();
}

}  // namespace cvt::eval
