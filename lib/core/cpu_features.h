// CPU feature detection, done once. Only op dispatch consults it.
#pragma once
#include <string>

namespace cvt {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avxvnni = false;
  bool has_avx2_fma() const { return avx2 && fma; }
  bool has_avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
};

const CpuFeatures& cpu_features();
std::string cpu_features_string();

// The widest kernel family allowed: min(CPU support, CVT_ISA env / --isa override).
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
Isa active_isa();
void set_isa_cap(Isa cap);  // for tests and --isa; never raises above what the CPU has
const char* isa_name(Isa isa);

}  // namespace cvt
