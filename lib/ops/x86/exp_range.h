// The range limits shared by exp_avx2.h and exp_avx512.h, which must give the
// same bits: e^x's argument clamp and the float overflow point.
#pragma once

namespace cvt::x86 {

constexpr float kExpMaxArg = 88.3762626647949f;    // k stays <= 127
constexpr float kExpMinArg = -87.3365447505531f;   // k stays >= -126
constexpr float kExpOverflow = 88.72283935546875f;  // above: e^x is inf in float

}  // namespace cvt::x86
