// `cvtool models list | pull | verify | info`: the model registry from the command line.
#include <iostream>
#include <memory>

#include "commands.h"
#include "model_options.h"

using nlohmann::json;

namespace {

struct ModelsOptions {
  ModelOptions model;
  std::vector<std::string> names;
  bool force = false;
  bool json_out = false;
};

json manifest_json(const cvt::Manifest& m) {
  json files = json::array();
  for (const auto& f : m.files) files.push_back({{"path", f.path}, {"role", f.role}, {"sha256", f.sha256}, {"size", f.size}, {"url", f.url}});
  return {{"name", m.name}, {"task", m.task}, {"format", m.format}, {"description", m.description}, {"license", m.license},
          {"source", m.source}, {"default", m.raw.value("default", false)}, {"files", files}, {"manifest", m.manifest_path}};
}

int run_list(const ModelsOptions& o) {
  auto reg = make_registry(o.model);
  auto all = reg.list();
  if (!all.is_ok()) {
    std::cerr << "cvtool: error: " << all.status().message() << "\n";
    return kExitInternal;
  }
  if (o.json_out) {
    json arr = json::array();
    for (const auto& m : all.value()) {
      json j = manifest_json(m);
      j["cached"] = reg.verify(m, nullptr).is_ok();
      arr.push_back(j);
    }
    std::cout << arr.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("%-22s %-15s %-7s %-7s %s\n", "NAME", "TASK", "DEFAULT", "CACHED", "DESCRIPTION");
  for (const auto& m : all.value())
    std::printf("%-22s %-15s %-7s %-7s %s\n", m.name.c_str(), m.task.c_str(), m.raw.value("default", false) ? "yes" : "",
                reg.verify(m, nullptr).is_ok() ? "yes" : "no", m.description.c_str());
  std::printf("\ncache: %s\nmirror: %s\n", reg.config().cache_dir.c_str(),
              reg.config().mirror_dir.empty() ? "(none; set --mirror or CVTOOL_MODEL_MIRROR)" : reg.config().mirror_dir.c_str());
  return kExitOk;
}

std::vector<cvt::Manifest> selected(const ModelsOptions& o, const cvt::ModelRegistry& reg, int& code) {
  std::vector<cvt::Manifest> out;
  if (o.names.empty() || (o.names.size() == 1 && o.names[0] == "all")) {
    auto all = reg.list();
    if (!all.is_ok()) {
      std::cerr << "cvtool: error: " << all.status().message() << "\n";
      code = kExitInternal;
      return out;
    }
    return all.value();
  }
  for (const auto& n : o.names) {
    auto m = reg.find(n);
    if (!m.is_ok()) {
      std::cerr << "cvtool: error: " << m.status().message() << "\n";
      code = kExitUsage;
      return {};
    }
    out.push_back(m.value());
  }
  return out;
}

int run_pull(const ModelsOptions& o) {
  auto reg = make_registry(o.model);
  int code = 0;
  auto ms = selected(o, reg, code);
  if (code) return code;
  int result = kExitOk;
  for (const auto& m : ms) {
    cvt::Status st = reg.pull(m, o.force);
    if (st.is_ok()) std::cerr << "cvtool: pulled " << m.name << " into " << reg.config().cache_dir << "\n";
    else {
      std::cerr << "cvtool: error: " << st.message() << "\n";
      result = kExitModel;
    }
  }
  return result;
}

int run_verify(const ModelsOptions& o) {
  auto reg = make_registry(o.model);
  int code = 0;
  auto ms = selected(o, reg, code);
  if (code) return code;
  int result = kExitOk;
  json out = json::array();
  for (const auto& m : ms) {
    std::vector<std::string> lines;
    cvt::Status st = reg.verify(m, &lines);
    out.push_back({{"name", m.name}, {"ok", st.is_ok()}, {"files", lines}});
    if (!st.is_ok()) result = kExitModel;
  }
  std::cout << out.dump(2) << "\n";
  return result;
}

int run_info(const ModelsOptions& o) {
  auto reg = make_registry(o.model);
  if (o.names.size() != 1) {
    std::cerr << "cvtool: error: models info takes one NAME\n";
    return kExitUsage;
  }
  auto m = reg.find(o.names[0]);
  if (!m.is_ok()) {
    std::cerr << "cvtool: error: " << m.status().message() << "\n";
    return kExitUsage;
  }
  json j = m.value().raw;
  j["manifest"] = m.value().manifest_path;
  j["cached"] = reg.verify(m.value(), nullptr).is_ok();
  std::cout << j.dump(2) << "\n";
  return kExitOk;
}

}  // namespace

void register_models_command(CLI::App& root, std::function<int()>& run_selected) {
  auto o = std::make_shared<ModelsOptions>();
  CLI::App* cmd = root.add_subcommand("models", "List, pull and verify registered models (SHA-256 checked)");
  cmd->require_subcommand(1);
  auto add = [&](const char* name, const char* help, int (*fn)(const ModelsOptions&), bool takes_names) {
    CLI::App* sub = cmd->add_subcommand(name, help);
    add_model_options(sub, o->model, false);
    if (takes_names) sub->add_option("names", o->names, "Model names (default: all)");
    sub->callback([o, fn, &run_selected] { run_selected = [o, fn] { return fn(*o); }; });
    return sub;
  };
  add("list", "Registered models, their task and whether they are cached", run_list, false)->add_flag("--json", o->json_out, "JSON output");
  add("pull", "Copy model files from the mirror (or download them) into the cache and verify them", run_pull, true)
      ->add_flag("--force", o->force, "Fetch again even when the cache is valid");
  add("verify", "Check the SHA-256 of cached model files", run_verify, true);
  add("info", "The manifest of one model", run_info, true);
  cmd->footer(
      "Examples:\n"
      "  cvtool models list\n"
      "  cvtool models pull tiny-darknet --mirror ../shared/models\n"
      "  CVTOOL_MODEL_MIRROR=../shared/models cvtool models pull all\n"
      "  cvtool models verify\n"
      "Exit codes: 0 ok, 2 unknown model, 4 missing file or checksum mismatch.");
}
