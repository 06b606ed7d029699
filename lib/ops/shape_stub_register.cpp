// Placeholder until the shape op family lands: registers nothing.
#include "ops/registry.h"
namespace cvt {
void register_shape_ops(std::vector<OpSchema>&) {}
}  // namespace cvt
