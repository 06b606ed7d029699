// Internal to the Darknet importer (importer.cpp, layers.cpp): the builder that
// walks a cfg, tracks darknet's layer shapes, reads weights and emits NodeDescs.
#pragma once
#include <istream>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "io/darknet/cfg.h"
#include "io/darknet/importer.h"

namespace cvt::darknet {

inline constexpr int kOpset = 13;

inline Attribute attr_int(int64_t v) { Attribute a; a.kind = Attribute::Kind::kInt; a.i = v; return a; }
inline Attribute attr_float(float v) { Attribute a; a.kind = Attribute::Kind::kFloat; a.f = v; return a; }
inline Attribute attr_string(std::string v) { Attribute a; a.kind = Attribute::Kind::kString; a.s = std::move(v); return a; }
inline Attribute attr_ints(std::vector<int64_t> v) { Attribute a; a.kind = Attribute::Kind::kInts; a.ints = std::move(v); return a; }

// One layer's output: a graph value with darknet's (c, h, w); `flat` values
// are 2-D [1, c] (after [connected] / [softmax]).
struct LayerOut {
  std::string value;
  int64_t c = 0, h = 0, w = 0;
  bool flat = false;
};

// Sequential float reader over the weights stream, tracking the byte offset.
class WeightReader {
 public:
  WeightReader(std::istream& in, int64_t offset, const std::string& label) : in_(in), offset_(offset), label_(label) {}
  Result<std::vector<float>> read(int64_t n, const std::string& what) {
    std::vector<float> v(static_cast<size_t>(n));
    in_.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * 4));
    if (in_.gcount() != static_cast<std::streamsize>(n * 4))
      return invalid_model(label_ + ": too short: " + what + " needs bytes " + std::to_string(offset_) + ".." +
                           std::to_string(offset_ + n * 4) + ", the file ends at " + std::to_string(offset_ + in_.gcount()));
    offset_ += n * 4;
    return v;
  }
  int64_t offset() const { return offset_; }

 private:
  std::istream& in_;
  int64_t offset_;
  std::string label_;
};

// Walks the cfg once. Without a graph it only computes shapes and counts
// parameters (`params` per layer); with one it also reads weights and emits nodes.
class Builder {
 public:
  Builder(const CfgFile& cfg, const DarknetImportOptions& opts, Graph* g, WeightReader* wr, DarknetInfo* info)
      : cfg_(cfg), opts_(opts), g_(g), wr_(wr), info_(info) {}

  Status run();
  std::vector<int64_t> params;  // floats per layer

 private:
  Status layer(const CfgSection& s, int index);
  Status conv(SectionReader& r, int i);
  Status connected(SectionReader& r, int i);
  Status maxpool(SectionReader& r, int i);
  Status route(SectionReader& r, int i);
  Status shortcut(SectionReader& r, int i);
  Result<std::string> fit_shortcut(const LayerOut& from, const LayerOut& in, const std::string& name, SectionReader& r);
  Status upsample(SectionReader& r, int i);
  Status head(SectionReader& r, int i, const std::string& type);
  Status softmax(SectionReader& r, int i);
  Status crop(SectionReader& r, int i);

  // Graph helpers (no-ops in counting mode).
  std::string node(const std::string& op, const std::string& name, std::vector<std::string> inputs, Attributes attrs = {},
                   int opset = kOpset);
  std::string constant(const std::string& name, Tensor t);
  Result<std::string> activation(const std::string& x, const std::string& act, const std::string& name, SectionReader& r);
  std::string flatten(const LayerOut& in, const std::string& name);
  Result<std::vector<float>> weights(int64_t n, int i, const std::string& what);
  const LayerOut& prev() const { return layers_.back(); }
  double bn_std(float var) const {
    return opts_.bn_eps_inside_sqrt ? std::sqrt(double(var) + opts_.bn_eps) : std::sqrt(double(var)) + opts_.bn_eps;
  }

  const CfgFile& cfg_;
  DarknetImportOptions opts_;
  Graph* g_;
  WeightReader* wr_;
  DarknetInfo* info_;
  std::vector<LayerOut> layers_;  // index 0 = network input, layer i at i + 1
  std::vector<DarknetHead> heads_;
};

}  // namespace cvt::darknet
