// `cvtool classify`: top-k ImageNet-style classification, one JSON record per image.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "batch.h"
#include "commands.h"
#include "io/image.h"
#include "model_options.h"
#include "tasks/classify/classify.h"

using json = nlohmann::ordered_json;

namespace {

struct ClassifyOptions {
  BatchOptions batch;
  ModelOptions model;
  int topk = 5;
  std::string kernels = "auto";
  bool profile = false;
};

// Per-node time summed over all images, printed as a table on stderr at the end.
struct ProfileTable {
  std::mutex mu;
  std::map<std::string, std::tuple<std::string, std::string, double, int>> rows;  // name -> op, impl, ms, count
  void add(const std::vector<cvt::NodeProfile>& prof) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& p : prof) {
      auto& r = rows[p.name];
      r = {p.op_type, p.impl, std::get<2>(r) + p.ms, std::get<3>(r) + 1};
    }
  }
  void print() {
    std::vector<std::pair<double, std::string>> order;
    double total = 0;
    for (const auto& [name, r] : rows) {
      order.push_back({std::get<2>(r), name});
      total += std::get<2>(r);
    }
    std::sort(order.rbegin(), order.rend());
    std::fprintf(stderr, "%-36s %-18s %-36s %10s %6s\n", "NODE", "OP", "KERNEL", "MS/IMAGE", "%");
    for (const auto& [ms, name] : order) {
      const auto& r = rows[name];
      std::fprintf(stderr, "%-36.36s %-18.18s %-36.36s %10.3f %5.1f%%\n", name.c_str(), std::get<0>(r).c_str(),
                   std::get<1>(r).c_str(), ms / std::max(1, std::get<3>(r)), total > 0 ? 100.0 * ms / total : 0.0);
    }
  }
};

int run_classify(const ClassifyOptions& o) {
  auto inputs = expand_inputs(o.batch);
  if (!inputs.is_ok()) {
    std::cerr << "cvtool: error: " << inputs.status().message() << "\n";
    return kExitUsage;
  }
  if (inputs.value().empty() && o.batch.skip_done.empty()) {
    std::cerr << "cvtool: error: no input images (give files, folders, globs, @list.txt or -)\n";
    return kExitUsage;
  }
  auto resolved = resolve_model(o.model, "classify");
  if (!resolved.is_ok()) {
    std::cerr << "cvtool: error: " << resolved.status().message() << "\n";
    return model_error_exit_code(resolved.status());
  }
  cvt::SessionOptions so;
  so.threads = threads_per_job(o.batch);
  so.use_reference = o.kernels == "ref";
  so.profile = o.profile;
  ProfileTable profile;
  std::vector<std::unique_ptr<cvt::Classifier>> workers;
  for (int j = 0; j < std::max(1, o.batch.jobs); ++j) {
    auto c = cvt::Classifier::create(resolved.value(), so);
    if (!c.is_ok()) {
      std::cerr << "cvtool: error: " << c.status().message() << "\n";
      return kExitModel;  // unreadable model, unsupported op, or a manifest that contradicts the file
    }
    workers.push_back(std::move(c).value());
  }
  const cvt::ResolvedModel& rm = resolved.value();
  json model_json = {{"name", rm.manifest.name},
                     {"task", "classify"},
                     {"sha256", rm.sha256},
                     {"input_size", {workers[0]->contract().width, workers[0]->contract().height}}};
  json params = {{"topk", o.topk}, {"threads", so.threads}, {"jobs", o.batch.jobs}};
  log_info(o.batch, "classify: model " + rm.manifest.name + ", " + std::to_string(inputs.value().size()) + " inputs");

  int code = run_batch(o.batch, inputs.value(), [&](size_t index, const std::string& path, int worker) {
    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now();
    json r = make_envelope("cvtool.classify/1", path, index);
    r["model"] = model_json;
    r["params"] = params;
    r["topk"] = json::array();
    r["k"] = o.topk;
    double decode_ms = 0;
    auto img = decode_input(r, path, t0, &decode_ms);
    if (!img.is_ok()) {
      return r;
    }
    cvt::StageTimes times;
    auto result = workers[worker]->classify(img.value(), o.topk, &times);
    if (!finish_stages(r, result.status(), times, decode_ms, t0)) return r;
    for (const auto& s : result.value()) r["topk"].push_back({{"class_id", s.class_id}, {"label", s.label}, {"score", s.score}});
    if (o.profile) profile.add(workers[worker]->session().last_profile());
    return r;
  });
  if (o.profile) profile.print();
  return code;
}

}  // namespace

void register_classify_command(CLI::App& root, std::function<int()>& run_selected) {
  auto o = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = root.add_subcommand("classify", "Classify images (top-k labels and scores), one JSON record per image");
  add_batch_options(cmd, o->batch);
  add_model_options(cmd, o->model);
  cmd->add_option("-k,--topk", o->topk, "Number of classes to report per image")->check(CLI::Range(1, 100000));
  cmd->add_option("--kernels", o->kernels, "auto: fastest kernels; ref: plain reference loops (slow, for checking)")
      ->check(CLI::IsMember({"auto", "ref"}));
  cmd->add_flag("--profile", o->profile, "Per-layer time table (kernel chosen, ms per image) on stderr at the end");
  cmd->footer(
      "Examples:\n"
      "  cvtool classify ../shared/data/images/eagle.jpg\n"
      "  cvtool classify -r photos/ --topk 3 -o results.jsonl\n"
      "  cvtool classify 'photos/**/*.jpg' --jobs 2 --shard 0/4\n"
      "  cvtool classify -r photos/ -o results.jsonl --skip-done results.jsonl   # resume\n"
      "Default model: tiny-darknet (ImageNet, 1000 classes). See `cvtool models list`.\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage, 3 some inputs failed (their records carry \"error\"),\n"
      "            4 model missing / unreadable / checksum mismatch.");
  cmd->callback([o, &run_selected] { run_selected = [o] { return run_classify(*o); }; });
}
