#!/usr/bin/env bash
# Runs one of the reference's Python scripts in its own virtual environment (outside the clone),
# installing the pinned packages on first use: `tools/reference/run.sh make_fixtures.py`.
# Not part of CI: the fixtures it writes are committed, and CI only reads them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${SCARSEG_REFERENCE_VENV:-$HOME/.cache/scarseg/reference-venv}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import torch, timm, safetensors, onnx, onnxruntime' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$HERE/requirements.txt"
fi
script="$1"
shift
exec "$VENV/bin/python" "$HERE/$script" "$@"
