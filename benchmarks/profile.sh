#!/usr/bin/env bash
# Profiles ScarSegNet's forward on the CPU backend (`flex`, rayon + simd) and writes
# benchmarks/profile.md: the time of each part of the network at 256 x 256 and burn's 3x3
# convolution against its matrix product alone (`profile_forward`), then PyTorch's time for the
# same convolutions (`conv_torch.py`, in the reference's virtual environment). Weights: the bundled default model (atto).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
cargo build --profile bench-dev -p scarseg-model --features flex --example profile_forward
weights=public/models/scarseg-atto-phantom/weights.safetensors
out=benchmarks/profile.md
{
  echo "# Where the CPU forward's time goes"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) logical CPUs."
  echo "Command: \`benchmarks/profile.sh\` (this file is its output), $(date -u +%Y-%m-%d)."
  echo "Each row is the median of 7 runs of that part alone, inputs made beforehand, output read back."
  echo
  "$CARGO_TARGET_DIR/bench-dev/examples/profile_forward" "$weights" 256 7
  echo
  tools/reference/run.sh ../../benchmarks/conv_torch.py
} | tee "$out.tmp"
mv "$out.tmp" "$out"
