// Wall time of a task pipeline's three stages, in milliseconds, for the JSON records.
#pragma once

namespace cvt {

struct StageTimes {
  double pre = 0, infer = 0, post = 0;
};

}  // namespace cvt
