#include "graph/session.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/parallel.h"
#include "graph/memory_plan.h"

namespace cvt {
namespace {

// Value v of a run: a constant read in place (fixed), else the run's value table.
const Tensor& value_of(const std::vector<Tensor>& values, const std::vector<const Tensor*>& fixed, int v) {
  return fixed[v] ? *fixed[v] : values[v];
}

// The context one node runs in: inputs from the value table, outputs placed
// in the planned arena slot when one fits, else on the heap.
class NodeContext final : public KernelContext, public SubgraphRunner {
 public:
  NodeContext(const Graph& g, const Node& node, std::vector<Tensor>& values, const std::vector<const Tensor*>& fixed,
              std::vector<int>& root, std::vector<int64_t>& produced_bytes, const ExecOptions& opts,
              const OuterLookup& outer_lookup)
      : g_(g), node_(node), values_(values), fixed_(fixed), root_(root), produced_bytes_(produced_bytes), opts_(opts),
        outer_(outer_lookup) {}

  int num_inputs() const override { return static_cast<int>(node_.inputs.size()); }
  const Tensor* input(int i) const override {
    if (i < 0 || i >= num_inputs() || node_.inputs[i] < 0) return nullptr;
    return &value_of(values_, fixed_, node_.inputs[i]);
  }
  int num_outputs() const override { return static_cast<int>(node_.outputs.size()); }

  Result<Tensor*> output(int i, DType dtype, const Shape& shape) override {
    if (i < 0 || i >= num_outputs()) return internal_error("output index out of range");
    CVT_RETURN_IF_ERROR(check_shape(shape, dtype));
    int v = node_.outputs[i];
    if (v < 0) {  // unused optional output: still give the kernel somewhere to write
      scratch_.emplace_back();
      CVT_ASSIGN_OR_RETURN(scratch_.back(), Tensor::try_alloc(dtype, shape));
      return &scratch_.back();
    }
    const int64_t bytes = shape_numel(shape) * static_cast<int64_t>(dtype_size(dtype));
    produced_bytes_[v] = bytes;
    root_[v] = v;
    MemoryPlan* plan = opts_.plan;
    if (plan && plan->valid && plan->offset[v] >= 0 && bytes <= plan->slot_bytes[v]) {
      char* base = static_cast<char*>(plan->arena.get()) + plan->offset[v];
      values_[v] = Tensor::wrap(dtype, shape, base, plan->arena);
    } else if (plan && static_cast<size_t>(v) < plan->output_buffers.size() && plan->output_buffers[v] &&
               plan->output_buffers[v].use_count() == 1 && bytes <= plan->output_buffer_bytes[v]) {
      values_[v] = Tensor::wrap(dtype, shape, plan->output_buffers[v].get(), plan->output_buffers[v]);
    } else {
      CVT_ASSIGN_OR_RETURN(values_[v], Tensor::try_alloc(dtype, shape));
    }
    return &values_[v];
  }

  Status alias_output(int i, const Tensor& view) override {
    if (i < 0 || i >= num_outputs()) return internal_error("output index out of range");
    int v = node_.outputs[i];
    if (v < 0) return Status::ok();
    // Find which input's buffer the view points into: that buffer must now live
    // as long as this value does.
    int src_root = -1;
    for (int in : node_.inputs) {
      if (in < 0) continue;
      const Tensor& t = value_of(values_, fixed_, in);
      const char* p = static_cast<const char*>(view.raw());
      const char* lo = static_cast<const char*>(t.raw());
      if (p && lo && p >= lo && p <= lo + t.nbytes()) {
        src_root = root_[in];
        break;
      }
    }
    MemoryPlan* plan = opts_.plan;
    if (plan && plan->valid && plan->root[v] != src_root) {
      // The plan did not expect this alias: copy so liveness stays correct, and re-plan next run.
      plan->valid = false;
      values_[v] = view.clone();
      root_[v] = v;
      produced_bytes_[v] = static_cast<int64_t>(view.nbytes());
      return Status::ok();
    }
    values_[v] = view;
    root_[v] = src_root;
    produced_bytes_[v] = 0;
    return Status::ok();
  }

  bool use_reference() const override { return opts_.use_reference; }
  SubgraphRunner* subgraph_runner() override { return this; }

  Result<std::vector<Tensor>> run(const Graph& sub, const std::vector<Tensor>& inputs) override {
    OuterLookup lookup = [this](const std::string& name) -> const Tensor* {
      int id = g_.find_value(name);
      if (id >= 0 && fixed_[id]) return fixed_[id];
      if (id >= 0 && (values_[id].raw() || values_[id].numel() == 0) && !values_[id].empty_handle()) return &values_[id];
      return outer_ ? outer_(name) : nullptr;
    };
    ExecOptions sub_opts;
    sub_opts.use_reference = opts_.use_reference;
    return execute_graph(sub, inputs, lookup, sub_opts);
  }

 private:
  const Graph& g_;
  const Node& node_;
  std::vector<Tensor>& values_;
  const std::vector<const Tensor*>& fixed_;
  std::vector<int>& root_;
  std::vector<int64_t>& produced_bytes_;
  const ExecOptions& opts_;
  const OuterLookup& outer_;
  std::vector<Tensor> scratch_;
};

// A Concat with nothing outside its axis: its inputs are whole chunks of its
// output, which the planner may place there (memory_plan.h).
void record_concat(const Node& node, int index, const std::vector<Tensor>& values,
                   const std::vector<const Tensor*>& fixed, std::vector<ConcatRecord>& out) {
  if (node.desc.op_type != "Concat" || !node.desc.domain.empty() || node.outputs.empty() || node.outputs[0] < 0) return;
  const Tensor& y = values[node.outputs[0]];
  int64_t axis = node.desc.attrs.get_int("axis", 1);
  if (axis < 0) axis += y.rank();
  if (axis < 0 || axis >= y.rank()) return;
  for (int64_t d = 0; d < axis; ++d)
    if (y.dim(static_cast<int>(d)) != 1) return;
  ConcatRecord r{index, {}};
  for (int in : node.inputs) {
    if (in < 0) return;
    r.chunk_bytes.push_back(static_cast<int64_t>(value_of(values, fixed, in).nbytes()));
  }
  out.push_back(std::move(r));
}

}  // namespace

Result<std::vector<Tensor>> execute_graph(const Graph& g, const std::vector<Tensor>& inputs, const OuterLookup& outer,
                                          const ExecOptions& opts) {
  if (inputs.size() != g.input_ids.size())
    return invalid_argument("graph expects " + std::to_string(g.input_ids.size()) + " inputs, got " + std::to_string(inputs.size()));
  const int nv = g.num_values();
  std::vector<Tensor> values(nv);
  std::vector<int> root(nv, -1);
  std::vector<int64_t> produced_bytes(nv, 0);
  std::vector<ConcatRecord> concats;  // for the planner, when it will plan after this run
  // Constants are read in place (fixed), not copied into the value table each run:
  // a few hundred Tensor copies a run for a quantised model.
  std::vector<const Tensor*> fixed(nv, nullptr);
  for (int v = 0; v < nv; ++v) fixed[v] = g.constant(v).get();
  for (size_t i = 0; i < inputs.size(); ++i) {
    values[g.input_ids[i]] = inputs[i];
    fixed[g.input_ids[i]] = nullptr;  // an input overrides an initializer of its name
  }
  for (const std::string& name : g.outer_refs) {
    const Tensor* t = outer ? outer(name) : nullptr;
    if (!t) return invalid_model("sub-graph reads '" + name + "', which the enclosing graph does not provide");
    values[g.find_value(name)] = *t;
    fixed[g.find_value(name)] = nullptr;
  }
  const std::vector<int> last_use = compute_last_use(g);
  std::vector<bool> is_output(nv, false);
  for (int id : g.output_ids) is_output[id] = true;
  if (opts.profile_out) opts.profile_out->clear();

  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& node = g.nodes[k];
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int in = node.inputs[i];
      if (in >= 0 && values[in].empty_handle() && !fixed[in])
        return internal_error(node.desc.label() + ": input '" + node.desc.inputs[i] + "' was not computed");
    }
    NodeContext ctx(g, node, values, fixed, root, produced_bytes, opts, outer);
    auto t0 = std::chrono::steady_clock::now();
    Status st = node.kernel->run(ctx);
    if (!st.is_ok()) return st.with_context(node.desc.label());
    if (opts.profile_out) {
      NodeProfile p;
      p.name = node.desc.name;
      p.op_type = node.desc.op_type;
      p.impl = node.kernel->impl_name();
      p.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (!node.outputs.empty() && node.outputs[0] >= 0) p.output_shape = values[node.outputs[0]].shape();
      opts.profile_out->push_back(std::move(p));
    }
    for (int out : node.outputs)
      if (out >= 0 && values[out].empty_handle())
        return internal_error(node.desc.label() + ": kernel did not produce output '" + g.value_name(out) + "'");
    if (opts.plan && !opts.plan->valid) record_concat(node, static_cast<int>(k), values, fixed, concats);
    // Release heap values nobody reads any more (arena slots are simply reused).
    for (int in : node.inputs)
      if (in >= 0 && last_use[in] == static_cast<int>(k) && !is_output[in] && !g.constant(in)) {
        if (opts.shapes_out) {
          if (opts.shapes_out->size() != static_cast<size_t>(nv)) opts.shapes_out->assign(nv, Shape{});
          (*opts.shapes_out)[in] = values[in].shape();
        }
        values[in] = Tensor();
      }
  }
  if (opts.shapes_out) {
    if (opts.shapes_out->size() != static_cast<size_t>(nv)) opts.shapes_out->assign(nv, Shape{});
    for (int v = 0; v < nv; ++v)
      if (fixed[v]) (*opts.shapes_out)[v] = fixed[v]->shape();
      else if (!values[v].empty_handle()) (*opts.shapes_out)[v] = values[v].shape();
  }
  if (opts.plan && !opts.plan->valid) build_memory_plan(g, produced_bytes, concats, root, last_use, *opts.plan);

  if (opts.plan) {  // keep the outputs' own buffers for the next run
    MemoryPlan& plan = *opts.plan;
    plan.output_buffers.resize(static_cast<size_t>(nv));
    plan.output_buffer_bytes.resize(static_cast<size_t>(nv), 0);
    for (int id : g.output_ids)
      if (root[id] == id && values[id].owner() && values[id].owner() != plan.arena) {
        plan.output_buffers[id] = values[id].owner();
        plan.output_buffer_bytes[id] = produced_bytes[id];
      }
  }
  std::vector<Tensor> outputs;
  for (int id : g.output_ids) {
    const Tensor& t = value_of(values, fixed, id);
    // Outputs never live in the arena (the plan excludes them). An output that
    // is, or views, a constant or a graph input is copied so callers own it.
    outputs.push_back(root[id] < 0 && !t.empty_handle() ? t.clone() : t);
  }
  return outputs;
}

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionOptions& opts) {
  if (!model || !model->graph) return invalid_argument("no model");
  std::unique_ptr<Session> s(new Session());
  s->model_ = std::move(model);
  s->opts_ = opts;
  s->threads_ = opts.threads > 0 ? opts.threads : tbb::this_task_arena::max_concurrency();
  s->arena_ = std::make_unique<tbb::task_arena>(s->threads_);
  return s;
}

Session::~Session() = default;

Result<std::vector<Tensor>> Session::run(const std::vector<Tensor>& inputs) {
  const Graph& g = graph();
  if (inputs.size() != g.inputs.size())
    return invalid_argument("model expects " + std::to_string(g.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  std::vector<Shape> shapes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& vi = g.inputs[i];
    const Tensor& t = inputs[i];
    if (t.dtype() != vi.dtype)
      return invalid_argument("input '" + vi.name + "' must be " + dtype_name(vi.dtype) + ", got " + dtype_name(t.dtype()));
    if (vi.has_shape) {
      bool ok = vi.shape.size() == t.shape().size();
      for (size_t d = 0; ok && d < vi.shape.size(); ++d) ok = vi.shape[d] < 0 || vi.shape[d] == t.shape()[d];
      if (!ok)
        return Status(ErrorCode::kShapeMismatch, "input '" + vi.name + "' must have shape " + shape_str(vi.shape) +
                                                     " (-1 = any), got " + shape_str(t.shape()));
    }
    shapes.push_back(t.shape());
  }
  if (plan_.input_shapes != shapes) {
    plan_ = MemoryPlan();
    plan_.input_shapes = shapes;
  }
  ExecOptions eo;
  eo.use_reference = opts_.use_reference;
  eo.profile = opts_.profile;
  eo.plan = opts_.plan_memory ? &plan_ : nullptr;
  eo.profile_out = opts_.profile ? &profile_ : nullptr;
  eo.shapes_out = &value_shapes_;
  Result<std::vector<Tensor>> result = Status(ErrorCode::kInternal, "not run");
  arena_->execute([&] {
    TeamScope team;  // one set of threads for the run's many short loops
    result = execute_graph(g, inputs, nullptr, eo);
  });
  return result;
}

Result<std::vector<Tensor>> Session::run_named(const std::vector<std::pair<std::string, Tensor>>& feeds) {
  const Graph& g = graph();
  std::vector<Tensor> ordered(g.inputs.size());
  std::vector<bool> given(g.inputs.size(), false);
  for (const auto& [name, t] : feeds) {
    size_t i = 0;
    while (i < g.inputs.size() && g.inputs[i].name != name) ++i;
    if (i == g.inputs.size()) {
      std::string names;
      for (const auto& in : g.inputs) names += (names.empty() ? "" : ", ") + in.name;
      return Status(ErrorCode::kNotFound, "model has no input named '" + name + "' (inputs: " + names + ")");
    }
    ordered[i] = t;
    given[i] = true;
  }
  for (size_t i = 0; i < given.size(); ++i)
    if (!given[i]) return invalid_argument("missing input '" + g.inputs[i].name + "'");
  return run(ordered);
}

}  // namespace cvt
