// Per-layer summary of a model: output shapes, parameters, MACs, and the
// receptive field / effective stride of every output with respect to the
// first image input (textbook rules: rf += (k_eff - 1) * jump, jump *= stride).
#pragma once
#include <string>
#include <vector>

#include "graph/session.h"

namespace cvt {

struct LayerInfo {
  std::string name, op_type, impl;
  std::vector<Shape> input_shapes;
  Shape output_shape;
  std::string params_text;   // "k=3x3 s=2 p=1,1,1,1 d=1 g=1"
  int64_t params = 0;        // constant elements this node owns (weights, bias)
  int64_t macs = 0;          // multiply-accumulates for Conv/ConvTranspose/Gemm/MatMul
  bool rf_known = false;
  bool rf_global = false;    // covers the whole input (global pooling, fully connected)
  double rf_h = 1, rf_w = 1;
  double stride_h = 1, stride_w = 1;
};

struct ModelSummary {
  std::vector<LayerInfo> layers;
  int64_t total_params = 0;
  int64_t total_macs = 0;
  std::vector<Shape> input_shapes;
};

// Runs the model once on zero inputs of the given shapes (one per graph input)
// to learn every intermediate shape, then derives the per-layer figures.
Result<ModelSummary> inspect_model(Session& session, const std::vector<Shape>& input_shapes);

}  // namespace cvt
