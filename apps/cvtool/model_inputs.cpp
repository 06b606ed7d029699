#include "model_inputs.h"

#include <sstream>

#include "io/onnx/importer.h"

cvt::Result<LoadedModel> load_any_model(const ModelOptions& o, const std::string& name_or_path, bool reference_kernels) {
  LoadedModel lm;
  ModelOptions mo = o;
  mo.model = name_or_path;
  CVT_ASSIGN_OR_RETURN(lm.resolved, resolve_model(mo, ""));
  if (lm.resolved.manifest.format != "onnx")
    return cvt::unsupported(lm.resolved.model_path + ": format '" + lm.resolved.manifest.format + "' is not supported here yet");
  CVT_ASSIGN_OR_RETURN(lm.model, cvt::import_onnx_file(lm.resolved.model_path, cvt::import_options_for_reference(reference_kernels)));
  return lm;
}

cvt::Result<std::map<std::string, cvt::Shape>> parse_shape_overrides(const std::vector<std::string>& specs) {
  std::map<std::string, cvt::Shape> out;
  for (const std::string& s : specs) {
    size_t eq = s.rfind('=');
    if (eq == std::string::npos || eq == 0) return cvt::invalid_argument("--shape expects NAME=1x3x224x224, got '" + s + "'");
    cvt::Shape shape;
    std::stringstream ss(s.substr(eq + 1));
    std::string dim;
    while (std::getline(ss, dim, 'x')) {
      try {
        size_t used = 0;
        long long v = std::stoll(dim, &used);
        if (used != dim.size() || v < 0) throw std::invalid_argument(dim);
        shape.push_back(v);
      } catch (...) {
        return cvt::invalid_argument("--shape '" + s + "': '" + dim + "' is not a dimension");
      }
    }
    CVT_RETURN_IF_ERROR(cvt::check_shape(shape, cvt::DType::kFloat32));
    out[s.substr(0, eq)] = shape;
  }
  return out;
}

cvt::Result<std::vector<cvt::Shape>> concrete_input_shapes(const cvt::Graph& g, const std::map<std::string, cvt::Shape>& overrides,
                                                          int64_t default_spatial) {
  std::vector<cvt::Shape> shapes;
  for (const auto& in : g.inputs) {
    auto it = overrides.find(in.name);
    if (it != overrides.end()) {
      shapes.push_back(it->second);
      continue;
    }
    if (!in.has_shape) return cvt::invalid_argument("input '" + in.name + "' has no declared shape: give --shape " + in.name + "=...");
    cvt::Shape s = in.shape;
    for (size_t d = 0; d < s.size(); ++d)
      if (s[d] < 0) s[d] = (d == 0 && s.size() == 4) ? 1 : (s.size() >= 3 && d + 2 >= s.size() ? default_spatial : 1);
    shapes.push_back(s);
  }
  for (const auto& [name, shape] : overrides) {
    bool found = false;
    for (const auto& in : g.inputs) found = found || in.name == name;
    if (!found) return cvt::invalid_argument("--shape names '" + name + "', which is not a model input");
  }
  return shapes;
}
