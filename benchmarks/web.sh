#!/usr/bin/env bash
# Measures the web app in headless Chromium and onnxruntime-web beside it; writes
# benchmarks/web.md. Builds the release page, the CLI (for phantom inputs), the ONNX export of
# the default model (through the PyTorch reference's environment) and installs onnxruntime-web
# from the npm registry into a cache folder outside the clone.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
apt_install chromium chromium-driver binaryen
ensure_page_tools

ORT_VERSION=1.30.0
ORT_HOME="$HOME/.cache/scarseg/ort-web-$ORT_VERSION"
if [ ! -f "$ORT_HOME/node_modules/onnxruntime-web/dist/ort.all.min.js" ]; then
  mkdir -p "$ORT_HOME"
  (cd "$ORT_HOME" && npm init -y >/dev/null && npm install --no-audit --no-fund "onnxruntime-web@$ORT_VERSION")
fi

trunk --config trunk.toml build --release
cargo build -p scarseg-cli
size=$(python3 -c 'import json; print(json.load(open("public/models/scarseg-atto-phantom/manifest.json"))["preprocessing"]["size"])')
onnx="$HOME/.cache/scarseg/scarseg-atto-phantom-$size.onnx"
tools/reference/run.sh export_onnx.py public/models/scarseg-atto-phantom/weights.safetensors "$onnx" --size "$size"
python3 benchmarks/web.py dist "$CARGO_TARGET_DIR/debug/scarseg" "$onnx" \
  "$ORT_HOME/node_modules/onnxruntime-web/dist" benchmarks/web.md
