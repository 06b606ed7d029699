#include "io/darknet/importer.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "graph/build.h"
#include "io/darknet/builder.h"
#include "ops/registry.h"

namespace cvt::darknet {

std::string Builder::node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                          Attributes attrs, int opset) {
  if (!g_) return name;
  Node n;
  n.desc.op_type = op;
  n.desc.opset = opset;
  n.desc.name = name;
  n.desc.attrs = std::move(attrs);
  for (const std::string& in : inputs) {
    n.desc.inputs.push_back(in);
    n.inputs.push_back(in.empty() ? -1 : g_->add_value(in));
  }
  n.desc.outputs = {name};
  n.outputs = {g_->add_value(name)};
  g_->nodes.push_back(std::move(n));
  return name;
}

std::string Builder::constant(const std::string& name, Tensor t) {
  if (g_) g_->set_constant(g_->add_value(name), std::make_shared<Tensor>(std::move(t)));
  return name;
}

Result<std::vector<float>> Builder::weights(int64_t n, int i, const std::string& what) {
  params.back() += n;
  if (!wr_) return std::vector<float>();
  const CfgSection& s = cfg_.sections[i + 1];
  return wr_->read(n, "layer " + std::to_string(i) + " [" + s.type + "] (" + cfg_.label + ":" + std::to_string(s.line) +
                          ") " + what);
}

Result<std::string> Builder::activation(const std::string& x, const std::string& act, const std::string& name,
                                        SectionReader& r) {
  Attributes a;
  if (act == "linear") return x;
  if (act == "leaky") {
    a.set("alpha", attr_float(0.1f));
    return node("LeakyRelu", name, {x}, a);
  }
  if (act == "relu") return node("Relu", name, {x});
  if (act == "logistic") return node("Sigmoid", name, {x});
  if (act == "tanh") return node("Tanh", name, {x});
  if (act == "elu") return node("Elu", name, {x});
  if (act == "selu") return node("Selu", name, {x});
  if (act == "relu6") {
    std::string lo = constant(name + "_lo", Tensor::scalar(0.f)), hi = constant(name + "_hi", Tensor::scalar(6.f));
    return node("Clip", name, {x, lo, hi});
  }
  if (act == "swish") return node("Mul", name, {x, node("Sigmoid", name + "_sigmoid", {x})});
  if (act == "mish") {
    if (find_op("", "Mish", 18)) return node("Mish", name, {x}, {}, 18);
    std::string sp = node("Softplus", name + "_softplus", {x});
    return node("Mul", name, {x, node("Tanh", name + "_tanh", {sp})});
  }
  r.fail("activation", "unsupported activation (supported: linear, leaky, relu, logistic, mish, swish, tanh, elu, selu, relu6)");
  return r.status();
}

std::string Builder::flatten(const LayerOut& in, const std::string& name) {
  if (in.flat) return in.value;
  Attributes a;
  a.set("axis", attr_int(1));
  return node("Flatten", name, {in.value}, a);
}

// Walks [net] then every layer; outputs are the [yolo]/[region] heads, or the last layer.
Status Builder::run() {
  const CfgSection& net = cfg_.sections[0];
  SectionReader r(net, cfg_.label);
  if (net.type != "net" && net.type != "network") r.fail("", "the first section must be [net], not [" + net.type + "]");
  CVT_RETURN_IF_ERROR(r.status());
  const int width = opts_.width > 0 ? opts_.width : r.get_int("width", 0);
  const int height = opts_.height > 0 ? opts_.height : r.get_int("height", 0);
  const int channels = r.get_int("channels", 0);
  if (width < 1 || height < 1 || channels < 1 || width > 16384 || height > 16384 || channels > 4096)
    r.fail("", "width, height and channels must be set (image networks only)");
  CVT_RETURN_IF_ERROR(r.status());
  if (info_) {
    info_->width = width;
    info_->height = height;
    info_->channels = channels;
  }
  layers_.push_back({"data", channels, height, width, false});
  if (g_) {
    ValueInfo vi;
    vi.name = "data";
    vi.shape = {1, channels, height, width};
    vi.has_shape = true;
    g_->inputs.push_back(vi);
    g_->input_ids.push_back(g_->add_value("data"));
  }
  for (size_t k = 1; k < cfg_.sections.size(); ++k) {
    CVT_RETURN_IF_ERROR(layer(cfg_.sections[k], int(k) - 1));
    const LayerOut& l = layers_.back();
    if (double(l.c) * double(l.h) * double(l.w) > double(int64_t(1) << 31) || params.back() > (int64_t(1) << 36))
      return limit_exceeded(cfg_.label + ": layer " + std::to_string(k - 1) + " output too large");
  }
  if (cfg_.sections.size() < 2) return invalid_model(cfg_.label + ": no layers after [net]");
  if (info_) {
    info_->heads = heads_;
    info_->num_layers = int(cfg_.sections.size()) - 1;
    for (size_t k = 1; k < layers_.size(); ++k) {
      const LayerOut& l = layers_[k];
      info_->layers.push_back({l.value, l.flat ? Shape{1, l.c} : Shape{1, l.c, l.h, l.w}});
    }
  }
  if (g_) {
    auto add_output = [&](const std::string& name, Shape shape) {
      ValueInfo vi;
      vi.name = name;
      vi.shape = std::move(shape);
      vi.has_shape = true;
      g_->outputs.push_back(vi);
      g_->output_ids.push_back(g_->add_value(name));
    };
    if (!heads_.empty()) {
      for (const DarknetHead& h : heads_) add_output(h.output, {1, layers_[h.layer + 1].c, h.grid_h, h.grid_w});
    } else {
      const LayerOut& l = layers_.back();
      if (l.value == "data") return invalid_model(cfg_.label + ": the network computes nothing");
      add_output(l.value, l.flat ? Shape{1, l.c} : Shape{1, l.c, l.h, l.w});
    }
  }
  return Status::ok();
}

}  // namespace cvt::darknet

namespace cvt {

using darknet::Builder;
using darknet::CfgFile;
using darknet::CfgSection;
using darknet::WeightReader;

Result<int64_t> darknet_parameter_count(const CfgFile& cfg, const DarknetImportOptions& opts) {
  Builder b(cfg, opts, nullptr, nullptr, nullptr);
  CVT_RETURN_IF_ERROR(b.run());
  int64_t total = 0;
  for (int64_t p : b.params) total += p;
  return total;
}

Result<std::shared_ptr<Model>> import_darknet(const CfgFile& cfg, std::istream& weights, int64_t weights_size,
                                              const std::string& label, const DarknetImportOptions& opts, DarknetInfo* info) {
  DarknetInfo local;
  DarknetInfo& di = info ? *info : local;
  di = DarknetInfo{};
  // Shapes and parameter counts first, so a short file is reported in bytes up front.
  Builder counter(cfg, opts, nullptr, nullptr, nullptr);
  CVT_RETURN_IF_ERROR(counter.run());
  int64_t total = 0;
  for (int64_t p : counter.params) total += p;
  if (total > (int64_t(1) << 36)) return limit_exceeded(cfg.label + ": more than 2^36 parameters");

  int32_t ver[3] = {0, 0, 0};
  weights.read(reinterpret_cast<char*>(ver), sizeof(ver));
  if (weights_size < 12 || weights.gcount() != sizeof(ver))
    return invalid_model(label + ": too short: " + std::to_string(weights_size) + " bytes, not even a 12-byte header");
  di.major = ver[0];
  di.minor = ver[1];
  di.revision = ver[2];
  // Since 0.2 "seen" is a size_t; before it was an int.
  const bool seen64 = (int64_t(di.major) * 10 + di.minor) >= 2 && di.major < 1000 && di.minor < 1000;
  di.header_bytes = seen64 ? 20 : 16;
  if (weights_size < di.header_bytes)
    return invalid_model(label + ": too short: " + std::to_string(weights_size) + " bytes, the header alone needs " +
                         std::to_string(di.header_bytes));
  if (seen64) {
    uint64_t seen = 0;
    weights.read(reinterpret_cast<char*>(&seen), 8);
    di.seen = seen;
  } else {
    uint32_t seen = 0;
    weights.read(reinterpret_cast<char*>(&seen), 4);
    di.seen = seen;
  }
  const int64_t need = di.header_bytes + total * 4;
  if (weights_size < need) {
    int64_t at = di.header_bytes, k = 0;
    while (k < int64_t(counter.params.size()) && at + counter.params[k] * 4 <= weights_size) at += counter.params[k++] * 4;
    const CfgSection& s = cfg.sections[k + 1];
    return invalid_model(label + ": too short: " + std::to_string(weights_size) + " bytes, but " + cfg.label + " needs " +
                         std::to_string(need) + " (" + std::to_string(di.header_bytes) + "-byte header + " +
                         std::to_string(total) + " floats); layer " + std::to_string(k) + " [" + s.type + "] (line " +
                         std::to_string(s.line) + ") is the first not covered");
  }
  auto model = std::make_shared<Model>();
  model->path = cfg.label;
  model->format = "darknet";
  model->producer = "darknet weights " + std::to_string(di.major) + "." + std::to_string(di.minor) + "." + std::to_string(di.revision);
  model->opsets[""] = darknet::kOpset;
  model->graph = std::make_shared<Graph>();
  model->graph->name = std::filesystem::path(cfg.label).stem().string();
  WeightReader wr(weights, di.header_bytes, label);
  Builder b(cfg, opts, model->graph.get(), &wr, &di);
  CVT_RETURN_IF_ERROR(b.run());
  di.weights_bytes = wr.offset() - di.header_bytes;
  di.trailing_bytes = weights_size - wr.offset();
  Status st = finalize_graph(*model->graph, opts.optimize);
  if (!st.is_ok()) return st.with_context(cfg.label);
  return model;
}

Result<std::shared_ptr<Model>> import_darknet_file(const std::string& cfg_path, const std::string& weights_path,
                                                   const DarknetImportOptions& opts, DarknetInfo* info) {
  namespace fs = std::filesystem;
  CVT_ASSIGN_OR_RETURN(CfgFile cfg, darknet::parse_cfg_file(cfg_path));
  std::error_code ec;
  if (!fs::exists(weights_path, ec)) return io_error(weights_path + ": no such file (darknet weights for " + cfg_path + ")");
  if (fs::is_directory(weights_path, ec)) return io_error(weights_path + ": is a directory, not a weights file");
  const auto size = fs::file_size(weights_path, ec);
  if (ec) return io_error(weights_path + ": " + ec.message());
  std::ifstream f(weights_path, std::ios::binary);
  if (!f) return io_error(weights_path + ": cannot open for reading");
  return import_darknet(cfg, f, static_cast<int64_t>(size), weights_path, opts, info);
}

}  // namespace cvt
