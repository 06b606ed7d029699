// libFuzzer driver: CVT_FUZZ_TARGET names the entry point in fuzz_targets.h.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cvt::fuzz::set_fuzz_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cvt::fuzz::CVT_FUZZ_TARGET(data, size);
}
