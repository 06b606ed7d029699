// The ONNX backend conformance suite (Debian libonnx-testdata): every case
// whose ops all load is run and must match; cases with an unsupported op are
// skipped and counted. Prints how many ran and were skipped per folder.
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "graph/session.h"
#include "io/onnx/importer.h"
#include "io/onnx/tensor_proto.h"
#include "test_paths.h"
#include "test_util.h"

using namespace cvt;
namespace fs = std::filesystem;

namespace {

struct CaseResult {
  enum Kind { kPassed, kSkipped, kFailed } kind;
  std::string why;
  std::set<std::string> ops;
};

CaseResult run_case(const fs::path& dir) {
  CaseResult r{CaseResult::kSkipped, "", {}};
  auto model = import_onnx_file((dir / "model.onnx").string());
  if (!model.is_ok()) {
    r.why = model.status().to_string();
    // Unsupported ops / dtypes are skips; anything else on a valid ONNX file is a failure.
    r.kind = model.status().code() == ErrorCode::kUnsupported ? CaseResult::kSkipped : CaseResult::kFailed;
    return r;
  }
  for (const Node& n : model.value()->graph->nodes) r.ops.insert(n.desc.op_type);
  auto session = Session::create(model.value(), {});
  if (!session.is_ok()) return {CaseResult::kFailed, session.status().to_string(), r.ops};
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  const Graph& g = session.value()->graph();
  for (const fs::path& set : sets) {
    std::vector<Tensor> inputs;
    for (size_t i = 0; fs::exists(set / ("input_" + std::to_string(i) + ".pb")); ++i) {
      auto t = load_tensor_pb((set / ("input_" + std::to_string(i) + ".pb")).string());
      if (!t.is_ok()) return {CaseResult::kSkipped, t.status().to_string(), r.ops};
      inputs.push_back(t.value());
    }
    if (inputs.size() != g.inputs.size())
      return {CaseResult::kSkipped, "test feeds " + std::to_string(inputs.size()) + " inputs, graph has " + std::to_string(g.inputs.size()), r.ops};
    auto outs = session.value()->run(inputs);
    if (!outs.is_ok()) {
      bool unsupported = outs.status().code() == ErrorCode::kUnsupported;
      return {unsupported ? CaseResult::kSkipped : CaseResult::kFailed, outs.status().to_string(), r.ops};
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      fs::path p = set / ("output_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) continue;
      auto expected = load_tensor_pb(p.string());
      if (!expected.is_ok()) return {CaseResult::kSkipped, expected.status().to_string(), r.ops};
      std::string diff = testing::compare_tensors(outs.value()[i], expected.value(), 1e-5, 1e-3);
      if (!diff.empty())
        return {CaseResult::kFailed, set.filename().string() + " output " + std::to_string(i) + " ('" + g.outputs[i].name + "'): " + diff, r.ops};
    }
  }
  r.kind = CaseResult::kPassed;
  return r;
}

}  // namespace

TEST_CASE("ONNX backend conformance suite", "[conformance][onnx]") {
  const std::string root = testing::onnx_testdata_dir();
  if (!testing::exists(root)) SKIP("libonnx-testdata not installed (" + root + ")");
  std::map<std::string, std::pair<std::string, std::string>> failures;  // case -> (folder, why)
  std::map<std::string, int> passed_ops;
  int total_run = 0, total_skipped = 0;
  for (const char* folder : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    fs::path base = fs::path(root) / folder;
    if (!fs::exists(base)) continue;
    std::vector<fs::path> cases;
    for (const auto& e : fs::directory_iterator(base))
      if (fs::exists(e.path() / "model.onnx")) cases.push_back(e.path());
    std::sort(cases.begin(), cases.end());
    int run = 0, skipped = 0, failed = 0;
    for (const auto& c : cases) {
      CaseResult r = run_case(c);
      if (r.kind == CaseResult::kSkipped) {
        if (std::getenv("CVTOOL_CONFORMANCE_VERBOSE")) std::cout << "skip " << folder << "/" << c.filename().string() << ": " << r.why << "\n";
        ++skipped;
        continue;
      }
      ++run;
      if (r.kind == CaseResult::kFailed) {
        ++failed;
        failures[c.filename().string()] = {folder, r.why};
      } else {
        for (const auto& op : r.ops) passed_ops[op]++;
      }
    }
    std::cout << "onnx conformance " << folder << ": " << cases.size() << " cases, " << run << " run (" << run - failed
              << " passed, " << failed << " failed), " << skipped << " skipped (unsupported)\n";
    total_run += run;
    total_skipped += skipped;
  }
  std::cout << "onnx conformance total: " << total_run << " run, " << total_skipped << " skipped\n";
  for (const auto& [name, fw] : failures) {
    INFO(fw.first << "/" << name << ": " << fw.second);
    CHECK(false);
  }
  // Every op the foundation promises is exercised by at least one passing case.
  const char* required[] = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm",
                            "MatMul", "BatchNormalization", "InstanceNormalization", "LRN", "Relu", "LeakyRelu", "PRelu",
                            "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu", "Softmax", "Add", "Sub", "Mul", "Div",
                            "Pow", "Max", "Min", "Sum", "Exp", "Log", "Sqrt", "Neg", "Abs", "Concat", "Split", "Slice", "Reshape",
                            "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Pad", "Resize", "Upsample", "Shape", "Gather",
                            "ConstantOfShape", "Cast", "Identity", "Dropout", "ReduceMean", "ReduceMax", "ReduceSum", "ArgMax",
                            "RoiAlign", "NonMaxSuppression", "If", "Loop", "NonZero", "TopK", "ScatterElements", "Range",
                            "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
                            "ConvInteger", "MatMulInteger"};
  for (const char* op : required) {
    INFO("no passing conformance case exercises " << op);
    CHECK(passed_ops.count(op) == 1);
  }
}
