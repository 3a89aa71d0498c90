#!/usr/bin/env bash
# Checks the offline trainer bundle (scripts/pack-trainer.sh) the way a GPU node uses it: unpacked
# in an empty folder, its checksums hold, and `run train --device wgpu` trains an epoch (Mesa's
# lavapipe here) through the bundled Vulkan loader when told to use the bundled libraries, and
# through the machine's own loader otherwise.
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
train "$tmp/system"
case "$(loaded_vulkan "$tmp/system")" in
  "$dir"/*) fail "the bundled loader was used although the machine has one" ;;
  */libvulkan.so.1) ;;
  *) fail "no libvulkan.so.1 loaded" ;;
esac
echo "pack_trainer: bundle checks passed ($(du -h "$bundle" | cut -f1))"
