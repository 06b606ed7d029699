#include "core/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace cvt {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512dq = __builtin_cpu_supports("avx512dq");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
#endif
    return c;
  }();
  return f;
}

std::string cpu_features_string() {
  const CpuFeatures& c = cpu_features();
  std::string s;
  auto add = [&](bool b, const char* n) {
    if (b) s += (s.empty() ? "" : " ") + std::string(n);
  };
  add(c.avx2, "avx2");
  add(c.fma, "fma");
  add(c.avx512f, "avx512f");
  add(c.avx512bw, "avx512bw");
  add(c.avx512vl, "avx512vl");
  add(c.avx512dq, "avx512dq");
  add(c.avx512vnni, "avx512vnni");
  return s.empty() ? "baseline" : s;
}

static Isa detected_isa() {
  const CpuFeatures& c = cpu_features();
  if (c.has_avx512() && c.fma) return Isa::kAvx512;
  if (c.has_avx2_fma()) return Isa::kAvx2;
  return Isa::kScalar;
}

static std::atomic<int> g_isa_cap{[] {
  const char* env = std::getenv("CVT_ISA");
  if (!env) return 2;
  if (!std::strcmp(env, "scalar")) return 0;
  if (!std::strcmp(env, "avx2")) return 1;
  return 2;
}()};

Isa active_isa() {
  int cap = g_isa_cap.load(std::memory_order_relaxed);
  int have = static_cast<int>(detected_isa());
  return static_cast<Isa>(cap < have ? cap : have);
}

void set_isa_cap(Isa cap) { g_isa_cap.store(static_cast<int>(cap)); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

}  // namespace cvt
