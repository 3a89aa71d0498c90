#!/usr/bin/env bash
# Measures whether `scarseg train`'s data loader keeps up, with 1 loader thread and with one per
# logical CPU, and writes benchmarks/loader.md: samples per second of a one-epoch phantom run and
# the share of the epoch the device waited for data. At 32 x 32 the network costs little, so the
# loader (phantom generation, crop, augmentation, resampling) sets the pace, as it would beside a
# fast GPU; at 128 x 128 (the default model's size) the CPU network does.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
cargo build --release -p scarseg-cli
bin="$CARGO_TARGET_DIR/release/scarseg"
out=benchmarks/loader.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cpus=$(nproc)
{
  echo "# Data loader throughput in \`scarseg train\`"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $cpus logical CPUs, no GPU; device \`flex\`."
  echo "Command: \`benchmarks/loader.sh\` (this file is its output), $(date -u +%Y-%m-%d)."
  echo "Each row: \`scarseg train --phantom 128 --phantom-validation 1 --epochs 1 --roi-fraction 0.9 --seed 1\` with the size, batch and loader threads shown; figures from the epoch's log line."
  echo
  echo "| input | batch | loader threads | samples/s | share of the epoch waiting for data |"
  echo "|---|---|---|---|---|"
  for setting in "32 16" "128 8"; do
    set -- $setting
    for threads in 1 "$cpus"; do
      rm -rf "$work/run"
      line=$("$bin" train --phantom 128 --phantom-validation 1 --epochs 1 --roi-fraction 0.9 \
        --seed 1 --size "$1" --batch "$2" --loader-threads "$threads" --out "$work/run" 2>&1 |
        grep 'val scar Dice' | tail -1)
      rate=$(echo "$line" | sed -E 's/.* ([0-9.]+) samples\/s.*/\1/')
      wait=$(echo "$line" | sed -E 's/.*, ([0-9]+)% of it waiting.*/\1/')
      echo "| $1 x $1 | $2 | $threads | $rate | $wait% |"
    done
  done
} | tee "$out.tmp"
mv "$out.tmp" "$out"
