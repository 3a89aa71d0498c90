#!/usr/bin/env bash
# Runs a command with libtorch available, for the CLI's opt-in `tch` feature (`--device libtorch`,
# CPU training about 3x faster than flex: benchmarks/libtorch.md):
#   scripts/libtorch.sh cargo build --release -p scarseg-cli --features tch
#   scripts/libtorch.sh "$CARGO_TARGET_DIR/release/scarseg" train --device libtorch ...
# burn's tch 0.22 builds against PyTorch 2.9.0 exactly; this installs that wheel (about 6 GB with
# its CUDA libraries) into a virtual environment outside the clone on first use. Not part of CI.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
VENV="${SCARSEG_LIBTORCH_VENV:-$HOME/.cache/scarseg/libtorch-venv}"
if ! "$VENV/bin/python" -c 'import torch; assert torch.__version__.startswith("2.9.0")' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch==2.9.0
fi
export PATH="$VENV/bin:$PATH"
# torch-sys finds libtorch through the `torch` that `python` imports.
export LIBTORCH_USE_PYTORCH=1
torch_lib="$("$VENV/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)"
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$@"
