#!/usr/bin/env bash
# Sanitizer runs of the test suite.
#   scripts/sanitize.sh asan [catch2 test spec]   ASan + UBSan build (build-asan), any UB or leak fails
#   scripts/sanitize.sh tsan [catch2 test spec]   ThreadSanitizer build (build-tsan) of the threaded paths
# The default selection is the whole suite for asan, and the multithreaded paths
# (kernels at 1 and 2 threads, sessions, --jobs batches) for tsan.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KIND=${1:-asan}
shift || true
export CVTOOL_MODEL_MIRROR="${CVTOOL_MODEL_MIRROR:-$(cd "$ROOT/.." && pwd)/shared/models}"
export CVTOOL_SHARED_DIR="${CVTOOL_SHARED_DIR:-$(dirname "$CVTOOL_MODEL_MIRROR")}"
export CVTOOL_MODELS_DIR="${CVTOOL_MODELS_DIR:-$ROOT/.cache/models}"
export CVTOOL_REFNETS_DIR="${CVTOOL_REFNETS_DIR:-$ROOT/.cache/refnets}"
# Darknet cross-check data, when scripts/test.sh has generated it.
if [ -d "$ROOT/.cache/darknet_opencv" ]; then
  export CVTOOL_DARKNET_REFS="${CVTOOL_DARKNET_REFS:-$ROOT/.cache/darknet_opencv}"
fi
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

case "$KIND" in
  asan)
    DIR=build-asan
    FLAGS=(-DCVTOOL_SANITIZE=ON)
    # clang (installed when missing): the same build then also holds the fuzzers (scripts/fuzz.sh).
    # shellcheck source=scripts/clang_toolchain.sh
    source scripts/clang_toolchain.sh
    if ensure_clang_libfuzzer; then
      export CXX=clang++
      FLAGS+=(-DCVTOOL_FUZZ=ON)
    fi
    # Leaks are checked; protobuf's and OpenCV's process-lifetime singletons are not leaks.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
    export LSAN_OPTIONS="suppressions=$ROOT/scripts/sanitizers/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    SPEC=("$@") ;;
  tsan)
    DIR=build-tsan
    FLAGS=(-DCVTOOL_TSAN=ON)
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/scripts/sanitizers/tsan.supp"
    SPEC=("$@")
    [ ${#SPEC[@]} -eq 0 ] && SPEC=("[ops],[graph],[batch],[robust]") ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [catch2 test spec]" >&2; exit 2 ;;
esac

cmake -S . -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCVTOOL_KEEP_ASSERTS=ON "${FLAGS[@]}" "${LAUNCHER[@]}" >&2
ninja -C "$DIR" >&2
if [ "$KIND" = tsan ]; then
  # The canary races on purpose: TSan must see it, or this build cannot see races at all.
  canary=$("$DIR/cvtool_tests" "[.tsan_canary]" 2>&1 || true)
  if grep -q "ThreadSanitizer: data race" <<<"$canary"; then
    echo "TSan canary: race between parallel_for chunks reported, as it must be" >&2
  else
    echo "TSan canary: the deliberate race was NOT reported; this TSan build is blind" >&2
    exit 1
  fi
fi
# The CLI tests run the sanitized binary too, so its reports fail them as well.
"$DIR/cvtool_tests" "${SPEC[@]}"
