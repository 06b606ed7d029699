// Control flow: If and Loop. Their bodies are sub-graphs (GRAPH attributes)
// that the runtime executes through KernelContext::subgraph_runner(); outer
// values are visible to a body by name. Shapes may change every run (and, for
// loop-carried values, every iteration), so outputs are the body's own heap
// tensors handed on as aliases, never copies into a planned slot.
#include <algorithm>
#include <cstring>
#include <string>

#include "graph/graph.h"
#include "ops/registry.h"
#include "ops/tensor_ops.h"

namespace cvt {
namespace {

using KernelOr = Result<std::unique_ptr<Kernel>>;

// A Loop without a trip count whose condition never turns false would spin
// forever on a malicious file; no real export comes close to this.
constexpr int64_t kMaxLoopIterations = int64_t(1) << 24;

Result<bool> bool_scalar(const Tensor& t, const char* what) {
  if (t.numel() != 1) return invalid_argument(std::string(what) + " must hold exactly one value, got shape " + shape_str(t.shape()));
  if (t.dtype() == DType::kBool) return *t.data<bool>();
  CVT_ASSIGN_OR_RETURN(double v, double_scalar_input(t, what));
  return v != 0;
}

Result<SubgraphRunner*> runner_of(KernelContext& ctx, const char* op) {
  SubgraphRunner* r = ctx.subgraph_runner();
  if (!r) return unsupported(std::string(op) + " needs a graph runtime (it cannot run as a single op)");
  return r;
}

// ---- If -------------------------------------------------------------------------------------

KernelOr make_if(const NodeDesc& node) {
  std::shared_ptr<Graph> then_g = node.attrs.get_graph("then_branch");
  std::shared_ptr<Graph> else_g = node.attrs.get_graph("else_branch");
  if (!then_g || !else_g) return invalid_model("If needs the graph attributes 'then_branch' and 'else_branch'");
  if (!then_g->inputs.empty() || !else_g->inputs.empty()) return invalid_model("If branches must not declare inputs");
  if (then_g->outputs.size() != node.outputs.size() || else_g->outputs.size() != node.outputs.size())
    return invalid_model("If has " + std::to_string(node.outputs.size()) + " outputs but its branches produce " +
                         std::to_string(then_g->outputs.size()) + " and " + std::to_string(else_g->outputs.size()));
  return make_kernel(
      [then_g, else_g](KernelContext& ctx) -> Status {
        CVT_ASSIGN_OR_RETURN(const Tensor* cond, required_input(ctx, 0, "cond"));
        CVT_ASSIGN_OR_RETURN(bool take_then, bool_scalar(*cond, "If cond"));
        CVT_ASSIGN_OR_RETURN(SubgraphRunner * runner, runner_of(ctx, "If"));
        const Graph& branch = take_then ? *then_g : *else_g;
        auto outs = runner->run(branch, {});
        if (!outs.is_ok()) return outs.status().with_context(take_then ? "then_branch" : "else_branch");
        for (int i = 0; i < ctx.num_outputs(); ++i) CVT_RETURN_IF_ERROR(ctx.alias_output(i, outs.value()[i]));
        return Status::ok();
      },
      "if_subgraph");
}

// ---- Loop -----------------------------------------------------------------------------------

struct LoopShape {
  int carried = 0;  // loop-carried dependencies (N)
  int scans = 0;    // scan outputs (K)
  // Per carried value: the body only appends to it (out = Concat(in, x, axis=0), `in` read by
  // nothing else). torchvision's mask pasting grows its result this way, which costs O(N^2)
  // copies; the fast path feeds the body an empty [0, ...] value and concatenates the
  // appended pieces once at the end. The reference path runs the body as written.
  std::vector<bool> append_only;
};

// Whether body output 1+k is Concat(body input 2+k, ..., axis 0) and that input has no other reader.
bool is_append_only(const Graph& body, int k) {
  const int in_id = body.input_ids[2 + k], out_id = body.output_ids[1 + k];
  for (int id : body.output_ids)
    if (id == in_id) return false;
  int readers = 0;
  const Node* concat = nullptr;
  for (const Node& n : body.nodes) {
    for (int i : n.inputs) readers += i == in_id;
    for (const auto& [name, attr] : n.desc.attrs.all())
      if (attr.graph)
        for (const std::string& ref : attr.graph->outer_refs) readers += ref == body.value_name(in_id) ? 2 : 0;
    if (!n.outputs.empty() && n.outputs[0] == out_id) concat = &n;
  }
  return concat && readers == 1 && concat->desc.op_type == "Concat" && concat->desc.attrs.get_int("axis", 1) == 0 &&
         concat->inputs.size() >= 2 && concat->inputs[0] == in_id;
}

// Concatenates pieces along axis 0 (all share dtype and trailing dims).
Status concat_pieces(KernelContext& ctx, int out_index, const std::vector<Tensor>& pieces) {
  const Tensor& first = pieces.front();
  Shape shape = first.shape();
  if (shape.empty()) return invalid_argument("Loop: a value appended along axis 0 must have rank >= 1");
  int64_t rows = 0;
  for (const Tensor& p : pieces) {
    if (p.dtype() != first.dtype() || p.rank() != first.rank() ||
        !std::equal(p.shape().begin() + 1, p.shape().end(), shape.begin() + 1))
      return invalid_argument("Loop: appended piece " + shape_str(p.shape()) + " does not fit " + shape_str(shape));
    rows += p.dim(0);
  }
  shape[0] = rows;
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(out_index, first.dtype(), shape));
  char* dst = static_cast<char*>(y->raw());
  for (const Tensor& p : pieces) {
    if (p.nbytes()) std::memcpy(dst, p.raw(), p.nbytes());
    dst += p.nbytes();
  }
  return Status::ok();
}

// Stacks per-iteration scan values along a new leading axis.
Status stack_scan_output(KernelContext& ctx, int out_index, const std::vector<Tensor>& parts, const ValueInfo& info) {
  if (parts.empty()) {
    // Zero iterations: the element shape is whatever the body declares (unknown dims become 0).
    Shape shape{0};
    if (info.has_shape)
      for (int64_t d : info.shape) shape.push_back(d < 0 ? 0 : d);
    CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(out_index, info.dtype, shape));
    (void)y;
    return Status::ok();
  }
  const Tensor& first = parts.front();
  for (size_t k = 1; k < parts.size(); ++k)
    if (parts[k].shape() != first.shape() || parts[k].dtype() != first.dtype())
      return invalid_argument("Loop scan output " + std::to_string(out_index) + " changes from " + shape_str(first.shape()) +
                              " to " + shape_str(parts[k].shape()) + " at iteration " + std::to_string(k));
  Shape shape = first.shape();
  shape.insert(shape.begin(), static_cast<int64_t>(parts.size()));
  CVT_ASSIGN_OR_RETURN(Tensor * y, ctx.output(out_index, first.dtype(), shape));
  char* dst = static_cast<char*>(y->raw());
  for (const Tensor& p : parts) {
    if (p.nbytes()) std::memcpy(dst, p.raw(), p.nbytes());
    dst += p.nbytes();
  }
  return Status::ok();
}

Status loop_run(const std::shared_ptr<Graph>& body, const LoopShape& ls, KernelContext& ctx) {
  CVT_ASSIGN_OR_RETURN(SubgraphRunner * runner, runner_of(ctx, "Loop"));
  int64_t max_trips = -1;  // -1: no trip count
  if (const Tensor* m = ctx.input(0)) {
    CVT_ASSIGN_OR_RETURN(max_trips, int_scalar_input(*m, "Loop M"));
    if (max_trips < 0) max_trips = 0;
  }
  bool cond = true;
  const bool has_cond = ctx.input(1) != nullptr;
  if (has_cond) {
    CVT_ASSIGN_OR_RETURN(cond, bool_scalar(*ctx.input(1), "Loop cond"));
  }
  std::vector<Tensor> carried(ls.carried);
  std::vector<std::vector<Tensor>> appended(ls.carried);  // fast path: the pieces of an append-only value
  for (int i = 0; i < ls.carried; ++i) {
    const Tensor* v = ctx.input(2 + i);
    if (!v) return invalid_model("Loop-carried input " + std::to_string(i) + " is missing");
    carried[i] = *v;
    if (ls.append_only[i] && !ctx.use_reference() && v->rank() >= 1) {
      appended[i].push_back(*v);
      Shape empty = v->shape();
      empty[0] = 0;
      CVT_ASSIGN_OR_RETURN(carried[i], Tensor::try_alloc(v->dtype(), empty));
    }
  }
  std::vector<std::vector<Tensor>> scans(ls.scans);
  int64_t iter = 0;
  while ((max_trips < 0 || iter < max_trips) && cond) {
    if (iter >= kMaxLoopIterations)
      return limit_exceeded("Loop ran " + std::to_string(iter) + " iterations without stopping");
    CVT_RETURN_IF_ERROR(check_node_work(double(iter + 1), "Loop"));
    std::vector<Tensor> in;
    in.reserve(2 + carried.size());
    in.push_back(Tensor::scalar<int64_t>(iter));
    in.push_back(Tensor::scalar<bool>(cond));
    for (const Tensor& c : carried) in.push_back(c);
    auto outs = runner->run(*body, in);
    if (!outs.is_ok()) return outs.status().with_context("Loop body, iteration " + std::to_string(iter));
    std::vector<Tensor>& o = outs.value();
    if (has_cond) {
      CVT_ASSIGN_OR_RETURN(cond, bool_scalar(o[0], "Loop body cond output"));
    }
    for (int i = 0; i < ls.carried; ++i) {
      if (appended[i].empty()) {
        carried[i] = std::move(o[1 + i]);
      } else {
        appended[i].push_back(std::move(o[1 + i]));  // the body's Concat saw an empty prefix
      }
    }
    for (int k = 0; k < ls.scans; ++k) scans[k].push_back(std::move(o[1 + ls.carried + k]));
    ++iter;
  }
  for (int i = 0; i < ls.carried && i < ctx.num_outputs(); ++i) {
    if (appended[i].empty()) {
      CVT_RETURN_IF_ERROR(ctx.alias_output(i, carried[i]));
    } else {
      CVT_RETURN_IF_ERROR(concat_pieces(ctx, i, appended[i]));
    }
  }
  for (int k = 0; k < ls.scans && ls.carried + k < ctx.num_outputs(); ++k)
    CVT_RETURN_IF_ERROR(stack_scan_output(ctx, ls.carried + k, scans[k], body->outputs[1 + ls.carried + k]));
  return Status::ok();
}

KernelOr make_loop(const NodeDesc& node) {
  std::shared_ptr<Graph> body = node.attrs.get_graph("body");
  if (!body) return invalid_model("Loop needs the graph attribute 'body'");
  LoopShape ls;
  ls.carried = static_cast<int>(node.inputs.size()) - 2;
  if (ls.carried < 0) return invalid_model("Loop needs the inputs M and cond (either may be empty)");
  if (static_cast<int>(body->inputs.size()) != 2 + ls.carried)
    return invalid_model("Loop body takes " + std::to_string(body->inputs.size()) + " inputs; expected 2 + " +
                         std::to_string(ls.carried) + " loop-carried values");
  ls.scans = static_cast<int>(body->outputs.size()) - 1 - ls.carried;
  if (ls.scans < 0)
    return invalid_model("Loop body produces " + std::to_string(body->outputs.size()) + " outputs; expected at least 1 + " +
                         std::to_string(ls.carried));
  if (static_cast<int>(node.outputs.size()) > ls.carried + ls.scans)
    return invalid_model("Loop has " + std::to_string(node.outputs.size()) + " outputs; its body yields " +
                         std::to_string(ls.carried) + " carried values and " + std::to_string(ls.scans) + " scan outputs");
  bool any_append = false;
  for (int k = 0; k < ls.carried; ++k) {
    ls.append_only.push_back(is_append_only(*body, k));
    any_append = any_append || ls.append_only.back();
  }
  return make_kernel([body, ls](KernelContext& ctx) { return loop_run(body, ls, ctx); },
                     any_append ? "loop_subgraph_append" : "loop_subgraph");
}

}  // namespace

void register_control_flow_ops(std::vector<OpSchema>& t) {
  t.push_back({"", "If", 1, 21, make_if});
  t.push_back({"", "Loop", 1, 21, make_loop});
}

}  // namespace cvt
