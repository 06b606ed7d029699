// Placeholder until the resize op family lands: registers nothing.
#include "ops/registry.h"
namespace cvt {
void register_resize_ops(std::vector<OpSchema>&) {}
}  // namespace cvt
