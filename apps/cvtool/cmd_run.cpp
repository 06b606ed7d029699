// `cvtool run MODEL`: raw inference on .npy tensors with latency statistics.
// What conformance tests, benchmarks and curious users drive.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>

#include "commands.h"
#include "graph/session.h"
#include "io/npy.h"
#include "model_inputs.h"

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

struct RunOptions {
  ModelOptions model;
  std::string model_arg;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::vector<std::string> shapes;  // NAME=1x3x224x224
  std::string output_dir;
  int warmup = 0, repeat = 1, threads = 0;
  unsigned seed = 0;
  std::string kernels = "auto";
  bool profile = false;
  bool force = false;
};

cvt::Tensor random_input(cvt::DType dtype, const cvt::Shape& shape, unsigned seed) {
  cvt::Tensor t(dtype, shape);
  if (dtype == cvt::DType::kFloat32) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.f, 1.f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(rng);
  }
  return t;  // other dtypes: zeros
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

int run_model(const RunOptions& o) {
  auto lm = load_any_model(o.model, o.model_arg, o.kernels == "ref");
  if (!lm.is_ok()) {
    std::cerr << "cvtool: error: " << lm.status().message() << "\n";
    return model_error_exit_code(lm.status());
  }
  const cvt::Graph& g = *lm.value().model->graph;
  auto overrides = parse_shape_overrides(o.shapes);
  if (!overrides.is_ok()) {
    std::cerr << "cvtool: error: " << overrides.status().message() << "\n";
    return kExitUsage;
  }
  std::map<std::string, cvt::Tensor> given;
  json inputs_json = json::array();
  for (const std::string& spec : o.inputs) {
    size_t eq = spec.find('=');
    std::string name = eq == std::string::npos ? (g.inputs.size() == 1 ? g.inputs[0].name : "") : spec.substr(0, eq);
    std::string file = eq == std::string::npos ? spec : spec.substr(eq + 1);
    if (name.empty()) {
      std::cerr << "cvtool: error: --input needs NAME=FILE.npy for a model with several inputs\n";
      return kExitUsage;
    }
    auto t = cvt::read_npy(file);
    if (!t.is_ok()) {
      std::cerr << "cvtool: error: " << t.status().message() << "\n";
      return kExitUsage;
    }
    given[name] = t.value();
  }
  auto shapes = concrete_input_shapes(g, overrides.value());
  std::vector<cvt::Tensor> feeds;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const auto& in = g.inputs[i];
    auto it = given.find(in.name);
    if (it != given.end()) {
      feeds.push_back(it->second);
      inputs_json.push_back({{"name", in.name}, {"shape", it->second.shape()}, {"dtype", cvt::dtype_name(it->second.dtype())}, {"source", "npy"}});
      given.erase(it);
    } else {
      if (!shapes.is_ok()) {
        std::cerr << "cvtool: error: " << shapes.status().message() << "\n";
        return kExitUsage;
      }
      feeds.push_back(random_input(in.dtype, shapes.value()[i], o.seed + unsigned(i)));
      inputs_json.push_back({{"name", in.name}, {"shape", shapes.value()[i]}, {"dtype", cvt::dtype_name(in.dtype)}, {"source", "random"}});
    }
  }
  if (!given.empty()) {
    std::cerr << "cvtool: error: the model has no input named '" << given.begin()->first << "'\n";
    return kExitUsage;
  }
  cvt::SessionOptions so;
  so.threads = o.threads;
  so.use_reference = o.kernels == "ref";
  so.profile = o.profile;
  auto session = cvt::Session::create(lm.value().model, so);
  if (!session.is_ok()) {
    std::cerr << "cvtool: error: " << session.status().message() << "\n";
    return kExitInternal;
  }
  std::vector<double> times;
  // Per node, its time in every timed run: a single run's node times move by tens
  // of percent on a shared machine, so --profile reports each node's median.
  std::vector<std::vector<double>> node_ms;
  cvt::Result<std::vector<cvt::Tensor>> outs = cvt::Status(cvt::ErrorCode::kInternal, "not run");
  for (int i = 0; i < o.warmup + o.repeat; ++i) {
    // The last run's outputs go first, as in a pipeline that has used them: the
    // session then writes into their buffers instead of fresh, page-faulting ones.
    outs = cvt::Status(cvt::ErrorCode::kInternal, "not run");
    auto t0 = std::chrono::steady_clock::now();
    outs = session.value()->run(feeds);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!outs.is_ok()) {
      std::cerr << "cvtool: error: " << outs.status().message() << "\n";
      return outs.status().code() == cvt::ErrorCode::kShapeMismatch || outs.status().code() == cvt::ErrorCode::kInvalidArgument ? kExitUsage : kExitInternal;
    }
    if (i >= o.warmup) times.push_back(ms);
    if (i >= o.warmup && o.profile) {
      const auto& prof = session.value()->last_profile();
      if (node_ms.empty()) node_ms.resize(prof.size());
      if (prof.size() == node_ms.size())
        for (size_t n = 0; n < prof.size(); ++n) node_ms[n].push_back(prof[n].ms);
    }
  }
  json outputs_json = json::array();
  if (!o.output_dir.empty()) {
    std::error_code ec;
    fs::create_directories(o.output_dir, ec);
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const cvt::Tensor& t = outs.value()[i];
    json oj = {{"name", g.outputs[i].name}, {"shape", t.shape()}, {"dtype", cvt::dtype_name(t.dtype())}};
    if (!o.output_dir.empty()) {
      std::string safe = g.outputs[i].name;
      for (char& c : safe)
        if (c == '/' || c == '\\' || c == ':') c = '_';
      fs::path p = fs::path(o.output_dir) / (safe + ".npy");
      std::error_code ec;
      if (fs::exists(p, ec) && !o.force) {
        std::cerr << "cvtool: error: " << p.string() << " exists (use --force)\n";
        return kExitUsage;
      }
      cvt::Status st = cvt::write_npy(p.string(), t);
      if (!st.is_ok()) {
        std::cerr << "cvtool: error: " << st.message() << "\n";
        return kExitInternal;
      }
      oj["path"] = p.string();
    }
    outputs_json.push_back(oj);
  }
  const double median = median_of(times);
  const auto [fastest, slowest] = std::minmax_element(times.begin(), times.end());
  json r = {{"schema", "cvtool.run/1"},
            {"model", {{"path", lm.value().resolved.model_path}, {"name", lm.value().resolved.manifest.name}, {"sha256", lm.value().resolved.sha256}}},
            {"inputs", inputs_json},
            {"outputs", outputs_json},
            {"threads", session.value()->threads()},
            {"warmup", o.warmup},
            {"repeat", o.repeat},
            {"latency_ms", {{"median", median}, {"min", times.empty() ? 0 : *fastest}, {"max", times.empty() ? 0 : *slowest}}},
            {"arena_bytes", session.value()->arena_bytes()}};
  if (o.profile) {
    json prof = json::array();
    const auto& last = session.value()->last_profile();
    for (size_t n = 0; n < last.size(); ++n) {
      const auto& p = last[n];
      // The node list is the same every run; were it not, the last run's times stand.
      const bool runs = node_ms.size() == last.size() && !node_ms[n].empty();
      const double ms = runs ? median_of(node_ms[n]) : p.ms;
      const double min_ms = runs ? *std::min_element(node_ms[n].begin(), node_ms[n].end()) : p.ms;
      prof.push_back({{"name", p.name}, {"op", p.op_type}, {"impl", p.impl}, {"ms", ms}, {"min_ms", min_ms},
                      {"shape", p.output_shape}});
    }
    r["profile"] = prof;
  }
  std::cout << r.dump() << "\n";
  return kExitOk;
}

}  // namespace

void register_run_command(CLI::App& root, std::function<int()>& run_selected) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = root.add_subcommand("run", "Raw inference on .npy tensors; prints output shapes and latency as JSON");
  cmd->add_option("model", o->model_arg, "Model: a registry name or a path to an .onnx file")->required();
  cmd->add_option("-i,--input", o->inputs, "NAME=FILE.npy (repeatable; FILE.npy alone for a single-input model)");
  cmd->add_option("--shape", o->shapes, "NAME=1x3x224x224: shape of a random input (dynamic dims default to 1 / 224)");
  cmd->add_option("--output-dir", o->output_dir, "Write every output as <name>.npy here");
  cmd->add_flag("--force", o->force, "Overwrite existing .npy outputs");
  cmd->add_option("--warmup", o->warmup, "Untimed runs first")->check(CLI::Range(0, 100000));
  cmd->add_option("--repeat", o->repeat, "Timed runs")->check(CLI::Range(1, 100000));
  cmd->add_option("-t,--threads", o->threads, "Threads (0 = all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--seed", o->seed, "Seed of random inputs");
  cmd->add_option("--kernels", o->kernels, "auto or ref (plain reference loops)")->check(CLI::IsMember({"auto", "ref"}));
  cmd->add_flag("--profile", o->profile,
                "Per-node kernel times: \"ms\" the median over the timed runs, \"min_ms\" the fastest");
  add_model_options(cmd, o->model, false);
  cmd->footer(
      "Examples:\n"
      "  cvtool run resnet18.onnx --input input=x.npy --output-dir out/\n"
      "  cvtool run tiny-darknet --warmup 3 --repeat 20 --threads 1\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage (bad input file/shape), 4 model missing/unreadable/unsupported.");
  cmd->callback([o, &run_selected] { run_selected = [o] { return run_model(*o); }; });
}
