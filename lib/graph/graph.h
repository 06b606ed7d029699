// The graph: values (by id) and nodes in topological order. No compute here;
// importers build it, passes rewrite it, Session runs it.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ops/kernel.h"

namespace cvt {

// Declared type of a graph input or output. Dims < 0 are dynamic; dim_names
// keeps the symbolic names ("batch", "height") where the file gives them.
struct ValueInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<std::string> dim_names;
  bool has_shape = false;
};

struct Node {
  NodeDesc desc;
  std::unique_ptr<Kernel> kernel;
  std::vector<int> inputs;   // value ids, -1 for an omitted optional input
  std::vector<int> outputs;  // value ids, -1 for an unused optional output
};

class Graph {
 public:
  std::string name;
  std::vector<Node> nodes;             // topological order
  std::vector<ValueInfo> inputs;       // runtime inputs (initializers excluded)
  std::vector<ValueInfo> outputs;
  std::vector<int> input_ids, output_ids;
  // Names used inside but defined in an enclosing graph (sub-graphs of If/Loop).
  std::vector<std::string> outer_refs;

  int num_values() const { return static_cast<int>(value_names_.size()); }
  const std::string& value_name(int id) const { return value_names_[id]; }
  int find_value(const std::string& name) const {
    auto it = value_ids_.find(name);
    return it == value_ids_.end() ? -1 : it->second;
  }
  int add_value(const std::string& name) {
    auto it = value_ids_.find(name);
    if (it != value_ids_.end()) return it->second;
    int id = num_values();
    value_names_.push_back(name);
    value_ids_[name] = id;
    constants_.emplace_back();
    return id;
  }
  const std::shared_ptr<const Tensor>& constant(int id) const { return constants_[id]; }
  void set_constant(int id, std::shared_ptr<const Tensor> t) { constants_[id] = std::move(t); }
  size_t constant_bytes() const;
  // Number of nodes including those inside sub-graphs.
  size_t total_node_count() const;

 private:
  std::vector<std::string> value_names_;
  std::unordered_map<std::string, int> value_ids_;
  std::vector<std::shared_ptr<const Tensor>> constants_;
};

// An imported model: the main graph plus what the file says about itself.
struct Model {
  std::string path;
  std::string format;        // "onnx", "darknet"
  std::string producer;      // producer_name + version
  int64_t ir_version = 0;
  std::map<std::string, int> opsets;  // domain -> version ("" = ai.onnx)
  std::shared_ptr<Graph> graph;
};

}  // namespace cvt
