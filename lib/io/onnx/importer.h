// ONNX importer: ModelProto -> cvt::Model. Translates nodes into NodeDesc and
// creates their kernels through the op registry, so a model with an op we do
// not support fails here, at load, with the node named.
#pragma once
#include <memory>
#include <string>

#include "graph/graph.h"

namespace cvt {

struct OnnxImportOptions {
  bool optimize = true;  // constant folding, dead-node removal (graph/passes)
  // Free each weight once its kernels have packed their own copy (see
  // finalize_graph). Set false to run the reference kernels (--kernels ref)
  // or to read the weights from the graph afterwards.
  bool release_packed_weights = true;
};

// Weights are kept only when the reference kernels will run.
inline OnnxImportOptions import_options_for_reference(bool use_reference) {
  OnnxImportOptions o;
  o.release_packed_weights = !use_reference;
  return o;
}

Result<std::shared_ptr<Model>> import_onnx_file(const std::string& path, const OnnxImportOptions& opts = {});
// `base_dir` resolves external data; `label` names the source in errors.
Result<std::shared_ptr<Model>> import_onnx_bytes(const std::string& bytes, const std::string& base_dir,
                                                 const std::string& label, const OnnxImportOptions& opts = {});

// Bounds on what an untrusted model file may ask for.
struct OnnxLimits {
  static constexpr int64_t kMaxFileBytes = int64_t(4) << 30;
  static constexpr int64_t kMaxNodes = 1 << 20;
  static constexpr int kMaxSubgraphDepth = 16;
};

}  // namespace cvt
