#!/usr/bin/env bash
# Fuzz every entry point in fuzz/fuzz_targets.h with libFuzzer under ASan+UBSan.
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 600)] [target ...]
# Builds build-asan with clang (CVTOOL_FUZZ=ON, shared with scripts/sanitize.sh asan), seeds a corpus per target from
# the real files in ../shared, the ONNX backend test models, Debian's darknet
# cfgs and the repo's manifests, then runs each target for the given time.
# Crashes land in .cache/fuzz/artifacts/<target>/: copy each into
# tests/data/fuzz/<target>/ (the test suite replays that folder) and fix it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_TARGET=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(onnx_model darknet_model model_manifest eval_readers image_decode)
SHARED="${CVTOOL_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}"
OUT="$ROOT/.cache/fuzz"

# shellcheck source=scripts/clang_toolchain.sh
source scripts/clang_toolchain.sh
ensure_clang_libfuzzer || { echo "fuzz.sh: clang and libfuzzer-14-dev are needed (apt-get install clang libfuzzer-14-dev)" >&2; exit 1; }

LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# The same build directory as scripts/sanitize.sh asan: one clang ASan+UBSan build serves both.
CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCVTOOL_FUZZ=ON \
  -DCVTOOL_KEEP_ASSERTS=ON "${LAUNCHER[@]}" >&2
cmake --build build-asan --target $(printf 'fuzz_%s ' "${TARGETS[@]}") >&2

seed() {  # seed TARGET FILE [PREFIX_BYTE_HEX]
  local dir="$OUT/corpus/$1" name
  mkdir -p "$dir"
  name="$(basename "$2")"
  if [ -n "${3:-}" ]; then { printf "\\x$3"; cat "$2"; } > "$dir/${3}_$name"; else cp "$2" "$dir/$name"; fi
}

for t in "${TARGETS[@]}"; do
  mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
  cp -n tests/data/fuzz/"$t"/* "$OUT/corpus/$t/" 2>/dev/null || true  # (head closing a find pipe is fine: || true)
  case "$t" in
    onnx_model)
      for f in /usr/share/libonnx-testdata/data/node/*/model.onnx; do
        [ -f "$f" ] && cp "$f" "$OUT/corpus/$t/$(basename "$(dirname "$f")").onnx"
      done
      seed "$t" "$SHARED/models/classify/opt-mnist.onnx" ;;
    darknet_model)
      for f in /usr/share/darknet/cfg/*.cfg "$SHARED"/models/detect/*.cfg "$SHARED"/models/classify/*.cfg; do
        [ -f "$f" ] && seed "$t" "$f"
      done ;;
    model_manifest)
      for f in models/*.json; do seed "$t" "$f"; done ;;
    eval_readers)
      for f in "$SHARED"/data/coco-139/*.json "$SHARED"/data/coco-mmpose/*.json; do seed "$t" "$f" 00; done
      { find "$SHARED/data/eval" -name '*.txt' | head -20 | while read -r f; do seed "$t" "$f" 02; done; } || true
      { find "$SHARED/data/eval" -name '*.xml' | head -20 | while read -r f; do seed "$t" "$f" 03; done; } || true
      { find "$SHARED/data/eval" -name '*.json' | head -10 | while read -r f; do seed "$t" "$f" 00; done; } || true ;;
    image_decode)
      for f in "$SHARED"/data/images/*; do
        [ "$(stat -c %s "$f")" -le 200000 ] && seed "$t" "$f"
      done ;;
  esac
  echo "== $t: ${SECONDS_PER_TARGET}s, corpus $(ls "$OUT/corpus/$t" | wc -l) files" >&2
  set +e
  build-asan/fuzz_"$t" "$OUT/corpus/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=3072 \
    -max_len=262144 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" > "$OUT/$t.log" 2>&1
  rc=$?
  set -e
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$OUT/$t.log" | grep -oE '[0-9]+$' || echo "?")
  echo "$t: exit $rc, $runs executions, $(ls "$OUT/artifacts/$t" | wc -l) artifacts (log $OUT/$t.log)"
done
