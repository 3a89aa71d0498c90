#!/usr/bin/env bash
# Compares the CLI's two CPU devices, burn's `flex` and libtorch (`--features tch`), and writes
# benchmarks/libtorch.md: training samples per second over one phantom epoch at the default
# model's size and batch, and `scarseg eval` of the bundled model on the same validation cases
# (time per case, and the scar and myocardium Dice, which should agree: same weights, same cases).
# Needs PyTorch 2.9.0, which scripts/libtorch.sh installs on first use (about 6 GB).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
# Set libtorch up once for the whole script: scripts/libtorch.sh imports torch (seconds) on every
# call, which the eval timings below would otherwise include.
if [ -z "${LIBTORCH_USE_PYTORCH:-}" ]; then
  exec scripts/libtorch.sh "$0" "$@"
fi
# One binary for both devices (cargo features add backends; flex's code is the same either way).
cargo build --release -p scarseg-cli --features tch
bin="$CARGO_TARGET_DIR/release/scarseg"
out=benchmarks/libtorch.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cases=40
model=public/models/scarseg-atto-phantom
{
  echo "# CPU training and inference: burn's flex against libtorch"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) logical CPUs, no GPU."
  echo "Command: \`benchmarks/libtorch.sh\` (this file is its output), $(date -u +%Y-%m-%d); PyTorch 2.9.0 (pip) for libtorch."
  echo "Training: \`scarseg train --phantom 96 --phantom-validation 1 --size 128 --batch 8 --epochs 1 --roi-fraction 0.9 --seed 1 --variant atto\`, rate from the epoch's log line."
  echo "Inference: \`scarseg eval --weights $model --phantom $cases --validation\` (two passes per slice), wall time over the cases."
  echo
  echo "| device | training samples/s | eval s per case | eval scar Dice | eval myocardium Dice |"
  echo "|---|---|---|---|---|"
  for device in flex libtorch; do
    rm -rf "$work/run" "$work/eval"
    line=$("$bin" train --device "$device" --phantom 96 --phantom-validation 1 --size 128 \
      --batch 8 --epochs 1 --roi-fraction 0.9 --seed 1 --variant atto --out "$work/run" 2>&1 |
      grep 'val scar Dice' | tail -1)
    rate=$(echo "$line" | sed -E 's/.* ([0-9.]+) samples\/s.*/\1/')
    start=$(date +%s.%N)
    "$bin" eval --device "$device" --weights "$model" --phantom "$cases" --validation \
      --out "$work/eval" > /dev/null 2>&1
    end=$(date +%s.%N)
    per_case=$(python3 -c "print(f'{($end - $start) / $cases:.3f}')")
    dice=$(python3 -c "
import json
m = json.load(open('$work/eval/eval.json'))['summary']
print(f\"{m['scar_dice']['mean']:.4f} | {m['myocardium_dice']['mean']:.4f}\")")
    echo "| $device | $rate | $per_case | $dice |"
  done
} | tee "$out.tmp"
mv "$out.tmp" "$out"
