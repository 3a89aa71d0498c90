#!/usr/bin/env bash
# One time-boxed fine-tuning stage of the default model on a GPU node, for a short allocation (a
# ten-minute slot, a preemptible job): needs only the trainer bundle (scripts/pack-trainer.sh),
# no Rust toolchain and no network. It measures the device's training rate with two short epochs,
# sizes two phases to what is left of the budget (augmented training with the paper's balanced
# loss, then a low rate without augmentation, as the default model's last stages on the CPU),
# and exports three candidates at half precision, to be ranked and confirmed on validation cases
# elsewhere (README, "The default model"). Every step is logged to OUT/stage.log, also when the
# device fails, so one short try says what the node lacks.
#
#   scripts/gpu-stage.sh [options] TRAINER.tar.xz OUT_DIR
#
#   --budget SECONDS   wall time for the whole stage, export included (default 480)
#   --device DEVICE    scarseg's training device (default wgpu: Vulkan, NVIDIA's driver has it)
#   --init WEIGHTS     weights to start from (default: the bundled default model's)
#   --seed N           seed of the calibration epochs; the phases use N + 1 and N + 2 (default 30)
#   --size N           network input side (default 128, the default model's)
#   --batch N          batch size (default 16)
#   --validation N     phantom validation cases scored after every epoch (default 32)
#   --pattern P        where in the wall the phantom draws scar: ischemic (default), mixed, mid-wall
#                      or subepicardial; with mixed, stage.log also follows each pattern's
#                      validation scar Dice
#   --probe N          training cases of each of the two calibration epochs (default 128)
#   --epoch-seconds N  seconds of training steps per epoch; a run cut off loses less than one
#                      (default 20)
#
# OUT_DIR receives seven files: three model folders, cand-a-best, cand-b-best and cand-b-last
# (manifest.json and f16 weights.safetensors each: `scarseg eval --weights OUT_DIR/cand-b-last`),
# and stage.log, which ends with both phases' train_log.csv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

budget=480 device=wgpu init="$ROOT/public/models/scarseg-atto-phantom/weights.safetensors"
seed=30 size=128 batch=16 validation=32 probe=128 epoch_seconds=20 pattern=ischemic
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget | --device | --init | --seed | --size | --batch | --validation | --probe | --epoch-seconds | --pattern)
      [ $# -ge 2 ] || { echo "gpu-stage: $1 needs a value" >&2; exit 2; }
      name="${1#--}"
      declare "${name//-/_}=$2"
      shift 2
      ;;
    # The comment block above, whatever its length.
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "gpu-stage: unknown option $1" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -eq 2 ] || { echo "usage: scripts/gpu-stage.sh [options] TRAINER.tar.xz OUT_DIR" >&2; exit 2; }
bundle="$(realpath "${args[0]}")" out="$(realpath -m "${args[1]}")"
for n in budget seed size batch validation probe epoch_seconds; do
  [[ "${!n}" =~ ^[1-9][0-9]*$ ]] || { echo "gpu-stage: --${n//_/-} must be a positive whole number, not ${!n}" >&2; exit 2; }
done
case "$pattern" in
  ischemic | mixed | mid-wall | subepicardial) ;;
  *) echo "gpu-stage: --pattern must be ischemic, mixed, mid-wall or subepicardial, not $pattern" >&2; exit 2 ;;
esac
[ -f "$bundle" ] || { echo "gpu-stage: $bundle: no such file" >&2; exit 2; }
[ -f "$init" ] || { echo "gpu-stage: $init: no such file (--init)" >&2; exit 2; }

start=$SECONDS
mkdir -p "$out"
log="$out/stage.log"
: > "$log"
say() { echo "[$((SECONDS - start)) s] $*" | tee -a "$log" >&2; }
left() { echo $((budget - (SECONDS - start))); }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xJf "$bundle"
run="$work/scarseg-trainer/run"
[ -x "$run" ] || { say "$bundle holds no scarseg-trainer/run"; exit 1; }
say "bundle: $(grep '^commit:' "$work/scarseg-trainer/BUNDLE.txt" || true); budget $budget s on $device; $pattern scar"
{
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "CPUs: $(nproc)"
} 2>&1 | sed 's/^/  /' | tee -a "$log" >&2

# Column NAME of row ROW (1: the first epoch; default the last) of a train_log.csv; empty when
# the file is missing.
field() {
  [ -f "$1" ] || return 0
  awk -F, -v name="$2" -v row="${3:-0}" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
    row == 0 || NR - 1 == row { v = $c } END { print v }' "$1"
}

# One training run under a hard time limit; a run cut off keeps its last finished epoch (the
# checkpoint and best.safetensors are written whole or not at all).
train() {
  local dir="$1" limit="$2"
  shift 2
  say "train $* (at most $limit s)"
  local rc=0
  timeout --signal=TERM --kill-after=10 "$limit" "$run" train --device "$device" --variant atto \
    --size "$size" --batch "$batch" --phantom-validation "$validation" --roi-fraction 0.9 \
    --loss scarsegnet --pattern "$pattern" --out "$dir" "$@" > "$dir.log" 2>&1 || rc=$?
  tail -n 3 "$dir.log" | sed 's/^/  /' | tee -a "$log" >&2
  case $rc in
    0) ;;
    124 | 137) say "stopped at the time limit after $(field "$dir/train_log.csv" epoch || true) epoch(s)" ;;
    *) say "training failed (exit $rc); its log:"; sed 's/^/  /' "$dir.log" >> "$log"; return 1 ;;
  esac
  [ -f "$dir/checkpoint/model.safetensors" ] || { say "no epoch finished in $limit s"; return 1; }
}

# 1. Calibration, two short epochs with augmentation (the loader's pace counts too): the device's
# rate once its kernels are compiled (the second epoch's), what an epoch costs besides its steps
# (validation, checkpoint) and what a run costs once (start, device checks, kernel compilation).
t0=$SECONDS
train "$work/probe" $(($(left) / 2)) --phantom "$probe" --epochs 2 --lr 1e-5 --seed "$seed" \
  --init-from "$init"
probe_wall=$((SECONDS - t0))
p="$work/probe/train_log.csv"
if [ "$(field "$p" epoch)" != 2 ]; then
  say "calibration did not finish its two epochs of $probe cases in time: this device is too slow for a budget of $budget s"
  exit 1
fi
read -r rate per_epoch fixed <<< "$(awk -v w="$probe_wall" -v n="$probe" \
  -v r="$(field "$p" samples_per_second 2)" -v w1="$(field "$p" wall_seconds 1)" \
  -v w2="$(field "$p" wall_seconds 2)" 'BEGIN {
    e = w2 - w1 - n / r; if (e < 0) e = 0
    f = w - 2 * (w2 - w1); if (f < 1) f = 1
    printf "%.2f %.2f %.0f\n", r, e, f }')"
say "rate $rate samples/s; an epoch costs $per_epoch s besides its steps, a run $fixed s"

# 2. Two phases in what is left, less a reserve for exporting; epochs of about --epoch-seconds of
# steps, a whole number of batches.
reserve=20
read -r cases epoch_cost <<< "$(awk -v r="$rate" -v e="$per_epoch" -v s="$epoch_seconds" -v b="$batch" 'BEGIN {
  c = int(r * s / b) * b; if (c < b) c = b
  printf "%d %.1f\n", c, c / r + e }')"
avail=$(($(left) - reserve))
# Each phase needs a run's fixed cost and one epoch at least, with a margin for a slow one.
need="$(awk -v f="$fixed" -v c="$epoch_cost" 'BEGIN { printf "%d\n", 2 * (f + c) * 1.25 + 1 }')"
if [ "$avail" -lt "$need" ]; then
  say "too little time left for the two phases: $avail s, they need $need s at this rate (a larger --budget, or a smaller --epoch-seconds)"
  exit 1
fi
epochs() { awk -v t="$1" -v f="$fixed" -v c="$epoch_cost" 'BEGIN { n = int((t - f) / c); print (n < 1 ? 1 : n) }'; }
time_a=$((avail * 65 / 100))
time_b=$((avail - time_a))
epochs_a="$(epochs "$time_a")" epochs_b="$(epochs "$time_b")"
say "plan: epochs of $cases cases ($epoch_cost s each); phase A $epochs_a epoch(s) in $time_a s, phase B $epochs_b in $time_b s"

# Phase A: augmented, the balanced loss at the last CPU stages' peak rate, from --init.
train "$work/a" "$time_a" --phantom "$cases" --epochs "$epochs_a" --lr 1.5e-4 \
  --seed $((seed + 1)) --init-from "$init"
# Phase B: no augmentation at a low rate, from phase A's last finished epoch.
b_limit=$(($(left) - reserve))
train "$work/b" "$b_limit" --phantom "$cases" --epochs "$epochs_b" --lr 2.5e-5 \
  --seed $((seed + 2)) --no-augment --init-from "$work/a/checkpoint/model.safetensors"

# 3. The candidates, each a model folder at half precision as the page would load it (its
# manifest keeps the run's command, device, machine and wall time).
# The last epoch's weights beside the run's run.json, where export reads the run's settings.
cp "$work/b/checkpoint/model.safetensors" "$work/b/last.safetensors"
export_one() { # name checkpoint
  "$run" export --checkpoint "$2" --name "$1" --out "$work/export" --roi --threshold 0.55 \
    > "$work/export-$1.log" 2>&1 || { say "export of $1 failed:"; sed 's/^/  /' "$work/export-$1.log" >> "$log"; return 1; }
  mkdir -p "$out/$1"
  cp "$work/export/$1/manifest.json" "$work/export/$1/weights.safetensors" "$out/$1/"
}
export_one cand-a-best "$work/a/best.safetensors"
export_one cand-b-best "$work/b/best.safetensors"
export_one cand-b-last "$work/b/last.safetensors"
for phase in a b; do
  say "phase $phase: $(field "$work/$phase/train_log.csv" epoch) epoch(s), $(field "$work/$phase/train_log.csv" steps) steps, last validation scar Dice $(field "$work/$phase/train_log.csv" val_scar_dice); its train_log.csv:"
  sed 's/^/  /' "$work/$phase/train_log.csv" >> "$log"
  if [ -f "$work/$phase/train_val_by_pattern.csv" ]; then
    say "phase $phase: validation scar Dice by pattern:"
    sed 's/^/  /' "$work/$phase/train_val_by_pattern.csv" >> "$log"
  fi
done
say "done: $(cd "$out" && echo cand-*/* stage.log)"
