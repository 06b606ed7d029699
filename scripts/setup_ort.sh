#!/usr/bin/env bash
# Install ONNX Runtime for Node (CPU) into .cache/ort, for scripts/ort_run.mjs.
# --ignore-scripts: the package's install script fetches optional GPU/CUDA
# extras from a host we cannot reach; the CPU library ships in the tarball.
# Usage: scripts/setup_ort.sh [VERSION]   (default: pinned below)
set -euo pipefail
ORT_VERSION="${1:-${ORT_VERSION:-1.30.0}}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.cache/ort"

check() {
  (cd "$DEST" && node -e '
    const ort = require("onnxruntime-node");
    const v = require("onnxruntime-node/package.json").version;
    if (!ort.InferenceSession) process.exit(1);
    console.log(v);') 2>/dev/null
}

if have="$(check)" && [ "$have" = "$ORT_VERSION" ]; then
  echo "setup_ort: onnxruntime-node $have already in $DEST" >&2
  exit 0
fi
command -v npm >/dev/null || { echo "setup_ort: npm not found (apt-get install nodejs npm)" >&2; exit 1; }
mkdir -p "$DEST"
[ -f "$DEST/package.json" ] || echo '{"name":"cvtool-ort-cache","private":true}' > "$DEST/package.json"
echo "setup_ort: installing onnxruntime-node@$ORT_VERSION into $DEST" >&2
npm install --prefix "$DEST" --ignore-scripts --no-audit --no-fund --save-exact \
  "onnxruntime-node@$ORT_VERSION" >&2
if have="$(check)"; then
  echo "setup_ort: ok, onnxruntime-node $have (CPU)" >&2
else
  echo "setup_ort: onnxruntime-node installed but failed to load its native library" >&2
  exit 1
fi
