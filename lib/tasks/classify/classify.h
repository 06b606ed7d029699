// Image classification: pre-process (manifest contract), infer, softmax when
// the model outputs logits, top-k with labels. A straight line, one image at a time.
#pragma once
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "graph/session.h"
#include "models/registry.h"
#include "tasks/common/stage_times.h"

namespace cvt {

struct ClassScore {
  int class_id = 0;
  std::string label;
  float score = 0;
};

class Classifier {
 public:
  static Result<std::unique_ptr<Classifier>> create(const ResolvedModel& model, const SessionOptions& opts);
  Result<std::vector<ClassScore>> classify(const cv::Mat& bgr, int topk, StageTimes* times);
  const std::vector<std::string>& labels() const { return labels_; }
  Session& session() { return *session_; }
  const InputContract& contract() const { return contract_; }

 private:
  std::unique_ptr<Session> session_;
  InputContract contract_;
  std::vector<std::string> labels_;
  int output_index_ = 0;
  bool output_is_probability_ = false;
};

// Top-k of a score vector, highest first; ties keep the lower class id first.
std::vector<ClassScore> top_k(const float* scores, int n, int k, const std::vector<std::string>& labels);
// Softmax in place (max-subtracted, double accumulation).
void softmax_inplace(float* v, int n);

}  // namespace cvt
