// Loading any model (by registry name or path) and building its inputs for
// `cvtool run` and `cvtool inspect`.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "model_options.h"

struct LoadedModel {
  cvt::ResolvedModel resolved;
  std::shared_ptr<cvt::Model> model;
};

// `reference_kernels` keeps the weights the fast kernels pack (--kernels ref reads them).
cvt::Result<LoadedModel> load_any_model(const ModelOptions& o, const std::string& name_or_path, bool reference_kernels = false);
// "--shape NAME=1x3x224x224" values -> map.
cvt::Result<std::map<std::string, cvt::Shape>> parse_shape_overrides(const std::vector<std::string>& specs);
// Concrete shape for each graph input: override, else declared dims (dynamic: 1 for the
// first axis, `default_spatial` for others).
cvt::Result<std::vector<cvt::Shape>> concrete_input_shapes(const cvt::Graph& g, const std::map<std::string, cvt::Shape>& overrides,
                                                          int64_t default_spatial = 224);
