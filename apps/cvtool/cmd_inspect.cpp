// `cvtool inspect MODEL`: per layer the op, output shape, parameters, MACs,
// receptive field and effective stride; totals. JSON, or a table with --table.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "graph/inspect.h"
#include "model_inputs.h"

using json = nlohmann::ordered_json;

namespace {

struct InspectOptions {
  ModelOptions model;
  std::string model_arg;
  std::vector<std::string> shapes;
  bool table = false;
};

std::string human(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

int run_inspect(const InspectOptions& o) {
  auto lm = load_any_model(o.model, o.model_arg);
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
  auto shapes = concrete_input_shapes(g, overrides.value());
  if (!shapes.is_ok()) {
    std::cerr << "cvtool: error: " << shapes.status().message() << "\n";
    return kExitUsage;
  }
  auto session = cvt::Session::create(lm.value().model, {});
  if (!session.is_ok()) {
    std::cerr << "cvtool: error: " << session.status().message() << "\n";
    return kExitInternal;
  }
  auto summary = cvt::inspect_model(*session.value(), shapes.value());
  if (!summary.is_ok()) {
    std::cerr << "cvtool: error: " << summary.status().message() << "\n";
    return kExitInternal;
  }
  const cvt::ModelSummary& s = summary.value();
  if (o.table) {
    std::printf("%-28s %-20s %-20s %-34s %10s %10s %14s %8s\n", "LAYER", "OP", "OUTPUT", "PARAMS", "WEIGHTS", "MACS", "RF (HxW)", "STRIDE");
    for (const auto& L : s.layers) {
      std::string rf = !L.rf_known ? "-" : L.rf_global ? "global" : human(L.rf_h) + "x" + human(L.rf_w);
      std::string st = !L.rf_known || L.rf_global ? "-" : human(L.stride_h) + "x" + human(L.stride_w);
      std::printf("%-28.28s %-20.20s %-20.20s %-34.34s %10s %10s %14s %8s\n", L.name.c_str(), L.op_type.c_str(),
                  cvt::shape_str(L.output_shape).c_str(), L.params_text.c_str(), L.params ? human(double(L.params)).c_str() : "",
                  L.macs ? human(double(L.macs)).c_str() : "", rf.c_str(), st.c_str());
    }
    std::printf("\n%zu layers, %s parameters (%lld), %s MACs (%lld)\n", s.layers.size(), human(double(s.total_params)).c_str(),
                static_cast<long long>(s.total_params), human(double(s.total_macs)).c_str(), static_cast<long long>(s.total_macs));
    return kExitOk;
  }
  json layers = json::array();
  for (const auto& L : s.layers) {
    json l = {{"name", L.name}, {"op", L.op_type}, {"impl", L.impl}, {"input_shapes", L.input_shapes}, {"output_shape", L.output_shape},
              {"params", L.params_text}, {"weights", L.params}, {"macs", L.macs}};
    if (!L.rf_known) l["receptive_field"] = nullptr;
    else if (L.rf_global) l["receptive_field"] = "global";
    else l["receptive_field"] = {{"h", L.rf_h}, {"w", L.rf_w}, {"stride_h", L.stride_h}, {"stride_w", L.stride_w}};
    layers.push_back(l);
  }
  json inputs = json::array();
  for (size_t i = 0; i < g.inputs.size(); ++i) inputs.push_back({{"name", g.inputs[i].name}, {"shape", s.input_shapes[i]}});
  json outputs = json::array();
  for (const auto& out : g.outputs) outputs.push_back(out.name);
  json r = {{"schema", "cvtool.inspect/1"},
            {"model", {{"path", lm.value().resolved.model_path}, {"sha256", lm.value().resolved.sha256},
                       {"producer", lm.value().model->producer}, {"opsets", lm.value().model->opsets}}},
            {"inputs", inputs},
            {"outputs", outputs},
            {"layers", layers},
            {"totals", {{"layers", s.layers.size()}, {"params", s.total_params}, {"macs", s.total_macs}}}};
  std::cout << r.dump(2) << "\n";
  return kExitOk;
}

}  // namespace

void register_inspect_command(CLI::App& root, std::function<int()>& run_selected) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = root.add_subcommand("inspect", "Per-layer shapes, parameters, MACs and receptive fields of a model");
  cmd->add_option("model", o->model_arg, "Model: a registry name or a path to an .onnx file")->required();
  cmd->add_option("--shape", o->shapes, "NAME=1x3x224x224 for dynamic inputs (default: 1 for batch, 224 for spatial dims)");
  cmd->add_flag("--table", o->table, "A readable table instead of JSON");
  add_model_options(cmd, o->model, false);
  cmd->footer(
      "Output shapes follow H_out = floor((H_in + 2p - d(k-1) - 1)/s) + 1. The receptive field of a layer's\n"
      "output is measured in input pixels: rf += (d(k-1)) * jump, jump *= stride, from the first input.\n"
      "Examples:\n"
      "  cvtool inspect tiny-darknet --table\n"
      "  cvtool inspect model.onnx --shape images=1x3x640x640");
  cmd->callback([o, &run_selected] { run_selected = [o] { return run_inspect(*o); }; });
}
