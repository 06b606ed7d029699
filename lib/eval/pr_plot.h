// Precision-recall curves as a PNG (OpenCV drawing): one curve per class plus the mean,
// labelled axes, grid and legend. Rendering only; the numbers come from the evaluators.
#pragma once
#include <string>
#include <vector>

#include "core/status.h"

namespace cvt::eval {

struct PrCurve {
  std::string label;
  std::vector<double> recall, precision;  // same length; points drawn in order
};

/// Write `path` (PNG). `mean` is drawn thick and black on top of the per-class curves.
Status write_pr_plot(const std::string& path, const std::vector<PrCurve>& classes, const PrCurve& mean,
                     const std::string& title);

}  // namespace cvt::eval
