// Session: runs a Model. Owns the thread arena (--threads) and the memory plan:
// the first run for a set of input shapes records every intermediate's size and
// lifetime, then intermediates are packed into one arena by liveness. A new
// input shape re-plans; a data-dependent size that outgrows its slot falls back
// to the heap for that value, so dynamic shapes are always correct.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tbb/task_arena.h>

#include "graph/graph.h"

namespace cvt {

struct SessionOptions {
  int threads = 0;             // 0 = all cores
  bool use_reference = false;  // plain reference kernels everywhere (--kernels ref)
  bool profile = false;        // per-node timings in last_profile()
  bool plan_memory = true;     // arena planning (off: one heap allocation per value)
};

struct NodeProfile {
  std::string name, op_type, impl;
  double ms = 0;
  Shape output_shape;
};

struct MemoryPlan {
  std::vector<Shape> input_shapes;  // the inputs this plan was made for
  bool valid = false;
  std::vector<int64_t> offset;      // per value id: byte offset in the arena, -1 = heap
  std::vector<int64_t> slot_bytes;  // per value id
  std::vector<int> root;            // per value id: the value whose buffer it aliases
  size_t arena_bytes = 0;
  std::shared_ptr<void> arena;
  // Per graph output id: its buffer in the last run and that buffer's bytes, reused
  // once the caller has let go of it. A fresh one each run page-faulted afresh
  // whenever malloc had returned the last one to the system (YOLOX-nano's 1.2 MB
  // output transpose: 0.1 ms, or 3.6 ms in such runs).
  std::vector<std::shared_ptr<void>> output_buffers;
  std::vector<int64_t> output_buffer_bytes;
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model, const SessionOptions& opts = {});
  ~Session();

  const Model& model() const { return *model_; }
  const Graph& graph() const { return *model_->graph; }
  // Inputs by position (graph input order); outputs in graph output order.
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs);
  Result<std::vector<Tensor>> run_named(const std::vector<std::pair<std::string, Tensor>>& feeds);

  const std::vector<NodeProfile>& last_profile() const { return profile_; }
  // Shape of every value id in the last run (empty for values never computed).
  const std::vector<Shape>& last_value_shapes() const { return value_shapes_; }
  size_t arena_bytes() const { return plan_.arena_bytes; }
  int threads() const { return threads_; }

 private:
  Session() = default;
  std::shared_ptr<const Model> model_;
  SessionOptions opts_;
  int threads_ = 1;
  std::unique_ptr<tbb::task_arena> arena_;
  MemoryPlan plan_;
  std::vector<NodeProfile> profile_;
  std::vector<Shape> value_shapes_;
};

// Runs a graph with heap tensors and optional planning; shared by Session and
// control-flow sub-graphs. `outer` resolves names a sub-graph reads from its parent.
using OuterLookup = std::function<const Tensor*(const std::string&)>;
struct ExecOptions {
  bool use_reference = false;
  bool profile = false;
  MemoryPlan* plan = nullptr;  // null: heap only
  std::vector<NodeProfile>* profile_out = nullptr;
  std::vector<Shape>* shapes_out = nullptr;
};
Result<std::vector<Tensor>> execute_graph(const Graph& g, const std::vector<Tensor>& inputs, const OuterLookup& outer,
                                          const ExecOptions& opts);

}  // namespace cvt
