# Sourced by scripts/fuzz.sh and scripts/sanitize.sh: one place that knows which
# Debian packages give clang and libFuzzer, and how to install them when missing.
LIBFUZZER_ARCHIVE=/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a

# ensure_clang_libfuzzer: installs clang and libfuzzer-14-dev from apt when missing;
# returns 0 when both are usable afterwards.
ensure_clang_libfuzzer() {
  local need=()
  command -v clang++ >/dev/null || need+=(clang)
  [ -e "$LIBFUZZER_ARCHIVE" ] || need+=(libfuzzer-14-dev)
  if [ ${#need[@]} -gt 0 ]; then
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >&2 || true
  fi
  command -v clang++ >/dev/null && [ -e "$LIBFUZZER_ARCHIVE" ]
}
