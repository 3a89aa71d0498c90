#!/usr/bin/env bash
# Checks the offline trainer bundle (scripts/pack-trainer.sh) the way a GPU node uses it: unpacked
# in an empty folder, its checksums hold, and `run train --device wgpu` trains an epoch (Mesa's
# lavapipe here) through the bundled Vulkan loader when told to use the bundled libraries, and
# through the machine's own loader otherwise, with no XDG_RUNTIME_DIR warnings where the job has
# none set; and a time-boxed stage (scripts/gpu-stage.sh) runs through it.
#
#   tests/pack_trainer.sh BUNDLE.tar.xz
set -euo pipefail
bundle="$(realpath "${1:?usage: tests/pack_trainer.sh BUNDLE.tar.xz}")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "pack_trainer: $*" >&2; exit 1; }

tar -C "$tmp" -xJf "$bundle"
dir="$tmp/scarseg-trainer"
(cd "$dir" && sha256sum --quiet -c SHA256SUMS) || fail "checksums do not match"
[ -f "$dir/lib/libvulkan1/libvulkan.so.1" ] || fail "no bundled libvulkan.so.1"
[ -f "$dir/lib/libvulkan1/copyright" ] || fail "no licence beside the bundled loader"
grep -q "^commit: $(git rev-parse HEAD)" "$dir/BUNDLE.txt" || fail "BUNDLE.txt names another commit"

# One tiny epoch on wgpu; LD_DEBUG=libs records which libvulkan.so.1 the process loaded.
train() {
  local out="$1"
  shift
  env "$@" LD_DEBUG=libs LD_DEBUG_OUTPUT="$out.ld" "$dir/run" train --device wgpu \
    --phantom 2 --phantom-validation 1 --size 32 --batch 2 --epochs 1 --out "$out" \
    > "$out.log" 2>&1 || { cat "$out.log" >&2; fail "training through the bundle failed"; }
  [ -f "$out/best.safetensors" ] && [ -f "$out/train_log.csv" ] || fail "no weights or log in $out"
}
loaded_vulkan() { grep -h "calling init: .*libvulkan\.so\.1" "$1".ld.* | sed 's/.*calling init: //' | sort -u; }

train "$tmp/bundled" SCARSEG_BUNDLED_LIBS=always
[ "$(loaded_vulkan "$tmp/bundled")" = "$dir/lib/libvulkan1/libvulkan.so.1" ] \
  || fail "SCARSEG_BUNDLED_LIBS=always loaded $(loaded_vulkan "$tmp/bundled"), not the bundled loader"

# This machine has its own loader (Mesa's drivers depend on it): the wrapper must leave it alone.
# Run as a batch job often is, without XDG_RUNTIME_DIR: the wrapper supplies one, or every device
# start prints an "error:" line about it.
train "$tmp/system" -u XDG_RUNTIME_DIR
! grep -q XDG_RUNTIME_DIR "$tmp/system.log" || fail "run left XDG_RUNTIME_DIR unset: $(grep -m1 XDG_RUNTIME_DIR "$tmp/system.log")"
case "$(loaded_vulkan "$tmp/system")" in
  "$dir"/*) fail "the bundled loader was used although the machine has one" ;;
  */libvulkan.so.1) ;;
  *) fail "no libvulkan.so.1 loaded" ;;
esac
# A time-boxed stage (scripts/gpu-stage.sh) through the bundle, at a size lavapipe trains in
# seconds: it must plan within its budget, finish both phases and hand back three candidates
# that are model folders of the default model's tensors, every one, at half precision. The
# budget leaves room for a machine busy with other work: at 90 s, with a build beside it, the
# probe's 30 s left 40 s for phases that needed 41 (2026-12-06). With every scar pattern, its
# twelve validation cases hold two (ten ischemic, one subepicardial, one without scar), and the
# log follows each phase's Dice by pattern.
stage="$tmp/stage"
"$(dirname "${BASH_SOURCE[0]}")/../scripts/gpu-stage.sh" --budget 120 --epoch-seconds 2 --size 32 --batch 2 \
  --validation 12 --probe 4 --pattern mixed "$bundle" "$stage" 2> "$tmp/stage.err" \
  || { cat "$tmp/stage.err" >&2; fail "gpu-stage.sh failed"; }
for phase in a b; do
  grep -q "^\[[0-9]* s\] phase $phase: [1-9][0-9]* epoch(s)" "$stage/stage.log" \
    || { cat "$stage/stage.log" >&2; fail "gpu-stage.sh: phase $phase trained no epoch"; }
  grep -A3 "^\[[0-9]* s\] phase $phase: validation scar Dice by pattern:" "$stage/stage.log" \
    | grep -q "^  1,subepicardial,1," \
    || { cat "$stage/stage.log" >&2; fail "gpu-stage.sh: phase $phase's Dice by pattern is not in its log"; }
done
python3 - "$(dirname "${BASH_SOURCE[0]}")/../public/models/scarseg-atto-phantom/weights.safetensors" \
  "$stage"/cand-a-best "$stage"/cand-b-best "$stage"/cand-b-last <<'PY' \
  || fail "gpu-stage.sh: the candidates are not model folders of the default model's tensors in f16"
import hashlib, json, struct, sys
def header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"]) for k, v in h.items()}
ref = header(sys.argv[1])
for folder in sys.argv[2:]:
    weights = f"{folder}/weights.safetensors"
    got = header(weights)
    if got != ref:
        sys.exit(f"{weights}: {len(got)} tensors, {sum(got.get(k) != v for k, v in ref.items())} differ from the default model's")
    manifest = json.load(open(f"{folder}/manifest.json"))
    digest = hashlib.sha256(open(weights, "rb").read()).hexdigest()
    if manifest["weights"]["sha256"] != digest or "roi" not in manifest["preprocessing"]:
        sys.exit(f"{folder}/manifest.json: not the manifest of a two-pass model with these weights")
PY
[ "$(find "$stage" -type f | wc -l)" -eq 7 ] || fail "gpu-stage.sh: not the seven files it promises"

echo "pack_trainer: bundle checks passed ($(du -h "$bundle" | cut -f1))"
