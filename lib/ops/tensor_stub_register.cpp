// Placeholder until the tensor op family lands: registers nothing.
#include "ops/registry.h"
namespace cvt {
void register_tensor_ops(std::vector<OpSchema>&) {}
}  // namespace cvt
