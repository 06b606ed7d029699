// Placeholder until the pool op family lands: registers nothing.
#include "ops/registry.h"
namespace cvt {
void register_pool_ops(std::vector<OpSchema>&) {}
}  // namespace cvt
