// Placeholder until the activation op family lands: registers nothing.
#include "ops/registry.h"
namespace cvt {
void register_activation_ops(std::vector<OpSchema>&) {}
}  // namespace cvt
