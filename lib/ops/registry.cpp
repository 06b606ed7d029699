#include "ops/registry.h"

#include <mutex>

namespace cvt {

const std::vector<OpSchema>& all_ops() {
  static const std::vector<OpSchema> table = [] {
    std::vector<OpSchema> t;
    register_conv_ops(t);
    register_gemm_ops(t);
    register_pool_ops(t);
    register_norm_ops(t);
    register_activation_ops(t);
    register_eltwise_ops(t);
    register_reduce_ops(t);
    register_shape_ops(t);
    register_tensor_ops(t);
    register_resize_ops(t);
    register_roi_ops(t);
    register_nms_ops(t);
    register_control_flow_ops(t);
    register_quant_ops(t);
    return t;
  }();
  return table;
}

static bool same_domain(const std::string& a, const char* b) {
  auto norm = [](const std::string& d) { return d == "ai.onnx" ? std::string() : d; };
  return norm(a) == norm(b);
}

const OpSchema* find_op(const std::string& domain, const std::string& op_type, int opset) {
  for (const OpSchema& s : all_ops())
    if (op_type == s.op_type && same_domain(domain, s.domain) && opset >= s.min_opset && opset <= s.max_opset)
      return &s;
  return nullptr;
}

Result<std::unique_ptr<Kernel>> create_kernel(const NodeDesc& node) {
  const OpSchema* s = find_op(node.domain, node.op_type, node.opset);
  if (!s) {
    bool known = false;
    for (const OpSchema& o : all_ops())
      if (node.op_type == o.op_type && same_domain(node.domain, o.domain)) known = true;
    std::string what = known ? "opset " + std::to_string(node.opset) + " of op '" + node.op_type + "' is not supported"
                             : "unsupported op '" + (node.domain.empty() ? "" : node.domain + ".") + node.op_type + "'";
    return Status(ErrorCode::kUnsupported, node.label() + ": " + what);
  }
  auto r = s->factory(node);
  if (!r.is_ok()) return r.status().with_context(node.label());
  return r;
}

std::string NodeDesc::label() const {
  return "node '" + name + "' (" + (domain.empty() ? "" : domain + ".") + op_type + ", opset " + std::to_string(opset) + ")";
}

int64_t Attributes::get_int(const std::string& name, int64_t def) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kInt ? a->i : def;
}
float Attributes::get_float(const std::string& name, float def) const {
  const Attribute* a = find(name);
  if (!a) return def;
  if (a->kind == Attribute::Kind::kFloat) return a->f;
  if (a->kind == Attribute::Kind::kInt) return static_cast<float>(a->i);
  return def;
}
std::string Attributes::get_string(const std::string& name, const std::string& def) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kString ? a->s : def;
}
std::vector<int64_t> Attributes::get_ints(const std::string& name, std::vector<int64_t> def) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kInts ? a->ints : def;
}
std::vector<float> Attributes::get_floats(const std::string& name, std::vector<float> def) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kFloats ? a->floats : def;
}
std::vector<std::string> Attributes::get_strings(const std::string& name) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kStrings ? a->strings : std::vector<std::string>{};
}
std::shared_ptr<const Tensor> Attributes::get_tensor(const std::string& name) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kTensor ? a->tensor : nullptr;
}
std::shared_ptr<Graph> Attributes::get_graph(const std::string& name) const {
  const Attribute* a = find(name);
  return a && a->kind == Attribute::Kind::kGraph ? a->graph : nullptr;
}

}  // namespace cvt
