#!/usr/bin/env bash
# Runs a command with libtorch available, for the CLI's opt-in `tch` feature (`--device libtorch`,
# CPU training 1.9x flex's rate on 2 cores: benchmarks/libtorch.md):
#   scripts/libtorch.sh cargo build --release -p scarseg-cli --features tch
#   scripts/libtorch.sh "$CARGO_TARGET_DIR/release/scarseg" train --device libtorch ...
# burn's tch 0.22 builds against PyTorch 2.9.0 exactly; this installs that wheel (about 6 GB with
# its CUDA libraries) into a virtual environment outside the clone on first use. Not part of CI.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
VENV="${SCARSEG_LIBTORCH_VENV:-$HOME/.cache/scarseg/libtorch-venv}"
TORCH_VERSION=2.9.0
# libtorch's library folder, if the environment has the right torch (importing it takes seconds,
# so once per call).
torch_lib() {
  "$VENV/bin/python" -c "import os, torch
assert torch.__version__.startswith('$TORCH_VERSION')
print(os.path.join(os.path.dirname(torch.__file__), 'lib'))" 2>/dev/null
}
if ! lib="$(torch_lib)"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "torch==$TORCH_VERSION"
  # torch_lib hides Python's traceback, so say what failed rather than exit silently.
  lib="$(torch_lib)" || {
    echo "scripts/libtorch.sh: torch $TORCH_VERSION was installed into $VENV but does not import" >&2
    exit 1
  }
fi
export PATH="$VENV/bin:$PATH"
# torch-sys finds libtorch through the `torch` that `python` imports.
export LIBTORCH_USE_PYTORCH=1
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$@"
