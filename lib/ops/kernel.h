// The contract between the graph runtime and an op family.
//
// An importer turns a node of a model file into a NodeDesc (op type, opset,
// attributes, which inputs are constants). The registry maps the op type to a
// factory that validates the attributes and returns a Kernel. Kernels never see
// protobuf. At run time the executor hands a Kernel a KernelContext: inputs in,
// outputs allocated through the context (so the runtime can place them in its
// planned arena), errors returned as Status.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace cvt {

class Graph;  // graph/graph.h; only control-flow kernels look inside

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kStrings, kTensor, kGraph };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  std::shared_ptr<Tensor> tensor;
  std::shared_ptr<Graph> graph;
};

class Attributes {
 public:
  void set(const std::string& name, Attribute a) { map_[name] = std::move(a); }
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  const Attribute* find(const std::string& name) const {
    auto it = map_.find(name);
    return it == map_.end() ? nullptr : &it->second;
  }
  int64_t get_int(const std::string& name, int64_t def) const;
  float get_float(const std::string& name, float def) const;
  std::string get_string(const std::string& name, const std::string& def) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> def = {}) const;
  std::vector<std::string> get_strings(const std::string& name) const;
  std::shared_ptr<const Tensor> get_tensor(const std::string& name) const;
  std::shared_ptr<Graph> get_graph(const std::string& name) const;
  const std::map<std::string, Attribute>& all() const { return map_; }

 private:
  std::map<std::string, Attribute> map_;
};

// What a kernel factory sees of a node.
struct NodeDesc {
  std::string name;     // node name (or "<op_type>_<index>" when the file has none)
  std::string op_type;  // "Conv"
  std::string domain;   // "" for the default ONNX domain, "com.microsoft", ...
  int opset = 0;        // opset version of `domain` imported by the model
  Attributes attrs;
  std::vector<std::string> inputs;   // value names; "" marks an omitted optional input
  std::vector<std::string> outputs;
  // Same length as inputs; non-null where the input is a constant known at load
  // time (initializer or Constant output), so kernels can pre-pack weights.
  std::vector<std::shared_ptr<const Tensor>> constant_inputs;

  bool has_input(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
  const Tensor* constant(size_t i) const {
    return i < constant_inputs.size() ? constant_inputs[i].get() : nullptr;
  }
  // "node 'Conv_3' (Conv, opset 11)": prefix for every error about this node.
  std::string label() const;
};

// Executes a sub-graph with given inputs; provided by the runtime to
// control-flow kernels (If, Loop). Outer-scope values are resolved by name.
class SubgraphRunner {
 public:
  virtual ~SubgraphRunner() = default;
  virtual Result<std::vector<Tensor>> run(const Graph& g, const std::vector<Tensor>& inputs) = 0;
};

class KernelContext {
 public:
  virtual ~KernelContext() = default;
  virtual int num_inputs() const = 0;
  // nullptr for an omitted optional input.
  virtual const Tensor* input(int i) const = 0;
  virtual int num_outputs() const = 0;
  // Allocates output i (checked against Limits). Contents are unspecified.
  virtual Result<Tensor*> output(int i, DType dtype, const Shape& shape) = 0;
  // Output i shares input storage (Reshape, Identity, Squeeze ...). The
  // runtime keeps the storage alive; the kernel must not write through it.
  virtual Status alias_output(int i, const Tensor& view) = 0;
  // Reference kernels requested (--kernels ref): use the plain loops.
  virtual bool use_reference() const = 0;
  virtual SubgraphRunner* subgraph_runner() { return nullptr; }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status run(KernelContext& ctx) = 0;
  // Name of the implementation chosen, for -v / --profile ("conv2d_f32_im2col_gemm__avx2").
  virtual std::string impl_name() const { return "generic"; }
  // False when the kernel keeps its own (packed) copy of constant input i and
  // never reads the graph's copy with the fast kernels; the runtime may then
  // free the graph's copy (release_packed_constants) and leave only its shape.
  virtual bool reads_constant_input(int /*i*/) const { return true; }
};

// A constant whose bytes were freed after packing: shape and dtype, no data.
inline bool is_released(const Tensor& t) { return t.raw() == nullptr && t.numel() > 0; }
inline Status released_weights_error(const char* what) {
  return internal_error(std::string("constant ") + what +
                        " was freed after packing; to run the reference kernels, import the model with "
                        "release_packed_weights = false");
}

using KernelFactory = Result<std::unique_ptr<Kernel>> (*)(const NodeDesc&);

struct OpSchema {
  const char* domain;    // "" = ai.onnx
  const char* op_type;
  int min_opset;         // lowest opset whose semantics the factory implements
  int max_opset;         // highest (inclusive)
  KernelFactory factory;
};

// Helper for kernels that are a plain function of the context.
template <typename Fn>
class LambdaKernel final : public Kernel {
 public:
  LambdaKernel(Fn fn, std::string impl) : fn_(std::move(fn)), impl_(std::move(impl)) {}
  Status run(KernelContext& ctx) override { return fn_(ctx); }
  std::string impl_name() const override { return impl_; }

 private:
  Fn fn_;
  std::string impl_;
};
template <typename Fn>
std::unique_ptr<Kernel> make_kernel(Fn fn, std::string impl = "generic") {
  return std::make_unique<LambdaKernel<Fn>>(std::move(fn), std::move(impl));
}

/// An input of a float32-only kernel: present and float32, or the error naming it.
inline Status require_f32_input(const Tensor* t, const char* what) {
  if (!t) return invalid_argument(std::string("missing input ") + what);
  if (t->dtype() != DType::kFloat32)
    return unsupported(std::string("input ") + what + " has dtype " + dtype_name(t->dtype()) +
                       "; only float32 is implemented");
  return Status::ok();
}

}  // namespace cvt
