// Minimisers for the image optimisation of Gatys et al.: L-BFGS with a
// backtracking (Armijo) line search, which only accepts steps that lower the
// loss, and Adam. Both work on a flat float vector with double dot products.
#pragma once
#include <functional>
#include <vector>

#include "core/status.h"

namespace cvt {

/// Loss at x; fills grad (same size as x).
using Objective = std::function<Result<double>(const std::vector<float>& x, std::vector<float>& grad)>;
/// Called after every iteration with the loss at the new point and the evaluations used so far.
using StepCallback = std::function<void(int iteration, double loss, int evaluations)>;

struct LbfgsOptions {
  int iterations = 50;
  int history = 8;
  float first_step = 8.f;  // largest change of any element in the first step (pixels)
};
/// Stops early when no step along the search direction lowers the loss.
Status minimize_lbfgs(std::vector<float>& x, const Objective& f, const LbfgsOptions& o, const StepCallback& on_step);

struct AdamOptions {
  int iterations = 50;
  double learning_rate = 2.0;  // pixels
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};
Status minimize_adam(std::vector<float>& x, const Objective& f, const AdamOptions& o, const StepCallback& on_step);

}  // namespace cvt
