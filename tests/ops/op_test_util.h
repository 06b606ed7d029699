// Test helpers shared by the per-op test files: NodeDesc and attribute builders,
// single-op runs, fast-vs-reference checks, ISA sweeps and the [.perf] timers.
// tensor_ops_test_util.h adds a fluent builder and literals on top of these.
#pragma once
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tbb/task_arena.h>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/op_runner.h"
#include "test_util.h"

namespace cvt::op_test {

// Attribute values for make_node and NodeDesc::attrs.set, one per kind the tests use.
inline Attribute attr_int(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
inline Attribute attr_ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
inline Attribute attr_float(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
inline Attribute attr_str(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}

using AttrList = std::vector<std::pair<std::string, Attribute>>;

// A node of `op` at `opset` with `outputs` named outputs (kernels size their outputs by them);
// `domain` is for contrib ops such as com.microsoft's.
inline NodeDesc make_node(const std::string& op, int opset, AttrList attrs = {}, int outputs = 1,
                          const std::string& domain = "") {
  NodeDesc n;
  n.op_type = op;
  n.opset = opset;
  n.domain = domain;
  for (auto& [k, v] : attrs) n.attrs.set(k, v);
  for (int i = 0; i < outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  return n;
}

// One run of `n`: the reference loops or the fast path, inside an arena of `threads`.
inline Result<std::vector<Tensor>> run(const NodeDesc& n, const std::vector<Tensor>& in, bool ref = false,
                                       int threads = 1) {
  return run_single_op(n, in, SingleOpOptions{ref, threads});
}

// The reference at 1 thread, then the fast path at 1 and 2 threads: all must succeed and every
// output must be within atol + rtol * |ref|. Returns the reference outputs.
inline std::vector<Tensor> run_all_outputs(const NodeDesc& n, const std::vector<Tensor>& in, double atol,
                                           double rtol) {
  auto ref = run(n, in, true, 1);
  REQUIRE_OK(ref);
  for (int threads : {1, 2}) {
    auto fast = run(n, in, false, threads);
    REQUIRE_OK(fast);
    REQUIRE(fast.value().size() == ref.value().size());
    for (size_t i = 0; i < ref.value().size(); ++i) CHECK_TENSOR_NEAR(fast.value()[i], ref.value()[i], atol, rtol);
  }
  return ref.value();
}

// run_all_outputs for a single-output op: its reference output.
inline Tensor run_all(const NodeDesc& n, const std::vector<Tensor>& in, double atol, double rtol) {
  return run_all_outputs(n, in, atol, rtol)[0];
}

// A run that must succeed: its first output.
inline Tensor run_ok(const NodeDesc& node, const std::vector<Tensor>& inputs, bool ref, int threads) {
  auto r = run_single_op(node, inputs, SingleOpOptions{ref, threads});
  INFO(r.status().to_string());
  REQUIRE(r.is_ok());
  return r.value()[0];
}

// Names the inputs (empty handles stay "") and marks those listed in `constant` as load-time
// constants, so the kernel pre-packs them as it does for weights in a model.
inline void set_constants(NodeDesc& node, const std::vector<Tensor>& inputs, std::vector<int> constant) {
  node.inputs.clear();
  node.constant_inputs.assign(inputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(inputs[i].empty_handle() ? "" : "in" + std::to_string(i));
  for (int i : constant)
    if (!inputs[i].empty_handle()) node.constant_inputs[i] = std::make_shared<Tensor>(inputs[i]);
}

// Same shape and the same bytes (threads and packing must not change a single bit).
inline bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Restores the ISA cap when a test lowers it.
struct IsaCapGuard {
  ~IsaCapGuard() { set_isa_cap(Isa::kAvx512); }
};

// Every ISA this CPU can run, scalar first.
/// fn() on a team of `threads` threads, as a session runs its kernels.
template <class Fn>
void in_arena(int threads, Fn fn) {
  tbb::task_arena arena(threads);
  arena.execute([&] {
    TeamScope team;
    fn();
  });
}

inline std::vector<Isa> runnable_isas() {
  std::vector<Isa> v{Isa::kScalar};
  if (cpu_features().has_avx2_fma()) v.push_back(Isa::kAvx2);
  if (cpu_features().has_avx512()) v.push_back(Isa::kAvx512);
  return v;
}

// Typed read-back of a tensor whose dtype must be T.
template <typename T>
std::vector<T> values(const Tensor& t) {
  REQUIRE(t.dtype() == dtype_of<T>());
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// ---- [.perf] timers --------------------------------------------------------------------------

// Mean wall time of one run, in ms, over at least 0.2 s.
inline double time_ms(const NodeDesc& n, const std::vector<Tensor>& in, bool ref, int threads) {
  REQUIRE_OK(run(n, in, ref, threads));
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    (void)run(n, in, ref, threads);
    ++reps;
    elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < 200);
  return elapsed / reps;
}

// Warns the reference, fast@1 and fast@2 times of `n`.
inline void report_timing(const std::string& label, const NodeDesc& n, const std::vector<Tensor>& in) {
  WARN(label << ": ref " << time_ms(n, in, true, 1) << " ms, fast@1 " << time_ms(n, in, false, 1) << " ms, fast@2 "
             << time_ms(n, in, false, 2) << " ms");
}

// CPU time of this thread: other processes on a shared machine do not count.
inline double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace cvt::op_test
