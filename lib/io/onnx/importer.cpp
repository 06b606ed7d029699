#include "io/onnx/importer.h"

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "graph/build.h"
#include "io/onnx/tensor_proto.h"
#include "ops/registry.h"

namespace cvt {
namespace {

struct ImportContext {
  std::string base_dir;
  std::string label;
  std::map<std::string, int> opsets;
};

// The protos are mutable so that each initializer's bytes are freed as soon as
// they are copied into a tensor: peak memory while importing stays near one
// copy of the weights, not two.
Result<std::shared_ptr<Graph>> import_graph(onnx::GraphProto& gp, const ImportContext& ctx,
                                            const std::set<std::string>& outer_names, int depth);

Result<ValueInfo> value_info_from_proto(const onnx::ValueInfoProto& vi) {
  ValueInfo info;
  info.name = vi.name();
  if (vi.has_type() && vi.type().has_tensor_type()) {
    const auto& tt = vi.type().tensor_type();
    auto dt = dtype_from_onnx(tt.elem_type());
    if (!dt.is_ok()) return dt.status().with_context("value '" + vi.name() + "'");
    info.dtype = dt.value();
    if (tt.has_shape()) {
      info.has_shape = true;
      for (const auto& d : tt.shape().dim()) {
        info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
        info.dim_names.push_back(d.has_dim_param() ? d.dim_param() : "");
      }
    }
  }
  return info;
}

Result<Attribute> attribute_from_proto(onnx::AttributeProto& a, const ImportContext& ctx,
                                       const std::set<std::string>& visible_names, int depth) {
  using AP = onnx::AttributeProto;
  Attribute r;
  if (!a.ref_attr_name().empty())
    return unsupported("attribute '" + a.name() + "' refers to a function attribute (functions are not supported)");
  switch (a.type()) {
    case AP::INT: r.kind = Attribute::Kind::kInt; r.i = a.i(); break;
    case AP::FLOAT: r.kind = Attribute::Kind::kFloat; r.f = a.f(); break;
    case AP::STRING: r.kind = Attribute::Kind::kString; r.s = a.s(); break;
    case AP::INTS: r.kind = Attribute::Kind::kInts; r.ints.assign(a.ints().begin(), a.ints().end()); break;
    case AP::FLOATS: r.kind = Attribute::Kind::kFloats; r.floats.assign(a.floats().begin(), a.floats().end()); break;
    case AP::STRINGS: r.kind = Attribute::Kind::kStrings; r.strings.assign(a.strings().begin(), a.strings().end()); break;
    case AP::TENSOR: {
      r.kind = Attribute::Kind::kTensor;
      CVT_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(a.t(), ctx.base_dir));
      r.tensor = std::make_shared<Tensor>(std::move(t));
      break;
    }
    case AP::GRAPH: {
      r.kind = Attribute::Kind::kGraph;
      CVT_ASSIGN_OR_RETURN(r.graph, import_graph(*a.mutable_g(), ctx, visible_names, depth + 1));
      break;
    }
    default:
      return unsupported("attribute '" + a.name() + "' has unsupported type " + std::to_string(a.type()));
  }
  return r;
}

// Kahn's algorithm over node indices; ONNX requires sorted graphs but files in
// the wild are not always, and a cycle must be an error rather than a hang.
Result<std::vector<int>> topological_order(const onnx::GraphProto& gp, const std::set<std::string>& available) {
  const int n = gp.node_size();
  std::map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const auto& o : gp.node(i).output())
      if (!o.empty()) producer[o] = i;
  std::vector<std::vector<int>> users(n);
  std::vector<int> missing(n, 0);
  for (int i = 0; i < n; ++i) {
    std::set<int> deps;
    for (const auto& in : gp.node(i).input()) {
      if (in.empty() || available.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return invalid_model("node '" + gp.node(i).name() + "' (" + gp.node(i).op_type() + ") reads '" + in +
                             "', which no node, initializer or graph input defines");
      deps.insert(it->second);
    }
    // Sub-graph bodies may read outer values produced by earlier nodes of this graph.
    for (const auto& a : gp.node(i).attribute())
      if (a.type() == onnx::AttributeProto::GRAPH)
        for (const auto& sn : a.g().node())
          for (const auto& in : sn.input()) {
            auto it = producer.find(in);
            if (it != producer.end() && it->second != i) deps.insert(it->second);
          }
    for (int d : deps) users[d].push_back(i);
    missing[i] = static_cast<int>(deps.size());
  }
  std::vector<int> order, ready;
  for (int i = n - 1; i >= 0; --i)
    if (missing[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    for (int u : users[i])
      if (--missing[u] == 0) ready.push_back(u);
  }
  if (static_cast<int>(order.size()) != n) return invalid_model("the graph has a cycle");
  return order;
}

Result<std::shared_ptr<Graph>> import_graph(onnx::GraphProto& gp, const ImportContext& ctx,
                                            const std::set<std::string>& outer_names, int depth) {
  if (depth > OnnxLimits::kMaxSubgraphDepth) return limit_exceeded("sub-graphs nested deeper than " + std::to_string(OnnxLimits::kMaxSubgraphDepth));
  if (gp.node_size() > OnnxLimits::kMaxNodes) return limit_exceeded("graph has " + std::to_string(gp.node_size()) + " nodes");
  auto g = std::make_shared<Graph>();
  g->name = gp.name();

  std::set<std::string> defined;  // names visible to this graph's nodes
  for (auto& init : *gp.mutable_initializer()) {
    auto t = tensor_from_proto(init, ctx.base_dir);
    if (!t.is_ok()) return t.status().with_context("initializer '" + init.name() + "'");
    std::string().swap(*init.mutable_raw_data());  // clear() would keep the capacity
    int id = g->add_value(init.name());
    g->set_constant(id, std::make_shared<Tensor>(std::move(t).value()));
    defined.insert(init.name());
  }
  for (const auto& in : gp.input()) {
    if (defined.count(in.name())) continue;  // IR < 4 lists initializers as inputs too
    CVT_ASSIGN_OR_RETURN(ValueInfo vi, value_info_from_proto(in));
    g->inputs.push_back(vi);
    g->input_ids.push_back(g->add_value(in.name()));
    defined.insert(in.name());
  }
  std::set<std::string> available = defined;
  available.insert(outer_names.begin(), outer_names.end());
  CVT_ASSIGN_OR_RETURN(std::vector<int> order, topological_order(gp, available));

  std::set<std::string> visible = available;  // grows as nodes define outputs
  for (const auto& np : gp.node())
    for (const auto& o : np.output()) visible.insert(o);

  for (size_t k = 0; k < order.size(); ++k) {
    onnx::NodeProto& np = *gp.mutable_node(order[k]);
    Node node;
    NodeDesc& d = node.desc;
    d.op_type = np.op_type();
    d.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    d.name = np.name().empty() ? np.op_type() + "_" + std::to_string(order[k]) : np.name();
    auto opset_it = ctx.opsets.find(d.domain);
    if (opset_it == ctx.opsets.end())
      return invalid_model("node '" + d.name + "' uses domain '" + d.domain + "', which the model does not import");
    d.opset = opset_it->second;
    for (auto& a : *np.mutable_attribute()) {
      auto attr = attribute_from_proto(a, ctx, visible, depth);
      if (!attr.is_ok()) return attr.status().with_context(d.label());
      d.attrs.set(a.name(), std::move(attr).value());
    }
    for (const auto& in : np.input()) {
      d.inputs.push_back(in);
      if (in.empty()) {
        node.inputs.push_back(-1);
        d.constant_inputs.push_back(nullptr);
        continue;
      }
      if (!defined.count(in) && outer_names.count(in) && g->find_value(in) < 0) g->outer_refs.push_back(in);
      int id = g->add_value(in);
      node.inputs.push_back(id);
      d.constant_inputs.push_back(g->constant(id));
    }
    // Sub-graph bodies may read outer names: make them values of this graph too.
    for (const auto& [name, attr] : d.attrs.all())
      if (attr.graph)
        for (const std::string& ref : attr.graph->outer_refs)
          if (!defined.count(ref) && g->find_value(ref) < 0 && outer_names.count(ref)) {
            g->outer_refs.push_back(ref);
            g->add_value(ref);
          }
    for (const auto& out : np.output()) {
      d.outputs.push_back(out);
      if (out.empty()) {
        node.outputs.push_back(-1);
        continue;
      }
      if (defined.count(out)) return invalid_model(d.label() + ": output '" + out + "' is defined twice");
      defined.insert(out);
      node.outputs.push_back(g->add_value(out));
    }
    g->nodes.push_back(std::move(node));
  }
  for (const auto& out : gp.output()) {
    CVT_ASSIGN_OR_RETURN(ValueInfo vi, value_info_from_proto(out));
    int id = g->find_value(out.name());
    if (id < 0 || (!defined.count(out.name()) && !outer_names.count(out.name())))
      return invalid_model("graph output '" + out.name() + "' is never produced");
    g->outputs.push_back(vi);
    g->output_ids.push_back(id);
  }
  return g;
}

Result<std::shared_ptr<Model>> import_model_proto(onnx::ModelProto& mp, const std::string& base_dir,
                                                  const std::string& label, const OnnxImportOptions& opts) {
  if (!mp.has_graph()) return invalid_model(label + ": the ONNX file has no graph");
  auto model = std::make_shared<Model>();
  model->path = label;
  model->format = "onnx";
  model->producer = mp.producer_name() + (mp.producer_version().empty() ? "" : " " + mp.producer_version());
  model->ir_version = mp.ir_version();
  for (const auto& op : mp.opset_import()) {
    std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    model->opsets[domain] = static_cast<int>(op.version());
  }
  if (mp.opset_import_size() == 0) model->opsets[""] = 1;  // IR v1 files had no opset_import
  auto it = model->opsets.find("");
  if (it != model->opsets.end() && (it->second < 1 || it->second > 21))
    return unsupported(label + ": ai.onnx opset " + std::to_string(it->second) + " (supported: 1-21)");
  ImportContext ctx{base_dir, label, model->opsets};
  auto g = import_graph(*mp.mutable_graph(), ctx, {}, 0);
  if (!g.is_ok()) return g.status().with_context(label);
  mp.Clear();  // the graph holds everything now; free the proto before packing weights
  model->graph = g.value();
  Status st = finalize_graph(*model->graph, opts.optimize, opts.release_packed_weights);
  if (!st.is_ok()) return st.with_context(label);
  return model;
}

const char* const kParseFailed = ": not a valid ONNX model (protobuf parse failed: truncated or corrupt file)";

}  // namespace

Result<std::shared_ptr<Model>> import_onnx_bytes(const std::string& bytes, const std::string& base_dir,
                                                 const std::string& label, const OnnxImportOptions& opts) {
  onnx::ModelProto mp;
  if (!mp.ParseFromString(bytes)) return invalid_model(label + kParseFailed);
  return import_model_proto(mp, base_dir, label, opts);
}

Result<std::shared_ptr<Model>> import_onnx_file(const std::string& path, const OnnxImportOptions& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) return io_error(path + ": no such file");
  if (fs::is_directory(path, ec)) return io_error(path + ": is a directory, not a model file");
  auto size = fs::file_size(path, ec);
  if (ec) return io_error(path + ": " + ec.message());
  if (static_cast<int64_t>(size) > OnnxLimits::kMaxFileBytes) return limit_exceeded(path + ": model file larger than 4 GiB");
  if (size == 0) return invalid_model(path + ": empty file");
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error(path + ": cannot open for reading");
  // Parsed straight from the stream: no second in-memory copy of the file.
  onnx::ModelProto mp;
  if (!mp.ParseFromIstream(&f)) return invalid_model(path + kParseFailed);
  return import_model_proto(mp, fs::path(path).parent_path().string(), path, opts);
}

}  // namespace cvt
