#!/usr/bin/env bash
# Runs every benchmark that needs no browser and writes its table under benchmarks/:
#   model.md   ScarSeg's forward per variant on flex and wgpu (bench_forward example)
#   README.md  ScarSeg against PyTorch and ONNX Runtime on the CPU (peers.py)
# The browser benchmark is `benchmarks/web.sh` (it writes web.md).
# `benchmarks/run.sh --quick` runs atto only.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
quick=()
variants=atto,femto,pico,nano
if [ "${1:-}" = "--quick" ]; then quick=(--quick); variants=atto; fi

cargo build --profile bench-dev -p scarseg-model --features train --examples
"$CARGO_TARGET_DIR/bench-dev/examples/bench_forward" "${quick[@]}"
# The reference's virtual environment (PyTorch, timm, ONNX Runtime) comes from its runner.
tools/reference/run.sh ../../benchmarks/peers.py \
  --scarseg-bin "$CARGO_TARGET_DIR/bench-dev/examples/bench_peers" --variants "$variants"
