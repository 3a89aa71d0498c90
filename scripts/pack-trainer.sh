#!/usr/bin/env bash
# Packs `scarseg` into one self-contained archive for a GPU node that has no Rust toolchain and no
# network: the binary, the Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan driver
# needs (minimal CUDA container images ship neither), and a `run` wrapper that uses them only
# where the node lacks its own. Unpack it there and run `scarseg-trainer/run train --device wgpu ...`.
#
#   scripts/pack-trainer.sh [--profile release|dev] [OUT.tar.xz]
#
# Default: a release build, written to scarseg-trainer-x86_64.tar.xz in the current directory.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

profile=release
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="${2:?--profile needs release or dev}"; shift 2 ;;
    # The comment block above, whatever its length.
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "pack-trainer: unknown option $1" >&2; exit 1 ;;
    *) out="$1"; shift ;;
  esac
done
case "$profile" in
  release) bin_dir=release; build=(cargo build --release -p scarseg-cli) ;;
  dev) bin_dir=debug; build=(cargo build -p scarseg-cli) ;;
  *) echo "pack-trainer: --profile must be release or dev, not $profile" >&2; exit 1 ;;
esac
out="$(realpath -m "${out:-scarseg-trainer-$(uname -m).tar.xz}")"

# The Debian packages whose libraries travel: the loader, and glvnd's dispatch libraries that
# NVIDIA's ICD (libGLX_nvidia / libEGL_nvidia) links against. One folder each, so `run` adds
# only what the node is missing.
packages=(libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stage="$work/scarseg-trainer"
mkdir -p "$stage/bin" "$stage/lib"

(cd "$ROOT" && "${build[@]}")
cp "$CARGO_TARGET_DIR/$bin_dir/scarseg" "$stage/bin/scarseg"
strip "$stage/bin/scarseg"

mkdir -p "$work/debs"
if ! (cd "$work/debs" && apt-get download -q "${packages[@]}" >/dev/null 2>&1); then
  # apt-get download needs the package lists, which a fresh machine may not have yet.
  as_root apt-get update -q
  (cd "$work/debs" && apt-get download -q "${packages[@]}")
fi
for deb in "$work"/debs/*.deb; do
  pkg="$(dpkg-deb -f "$deb" Package)"
  mkdir -p "$work/x/$pkg"
  dpkg-deb -x "$deb" "$work/x/$pkg"
  mkdir -p "$stage/lib/$pkg"
  # Shared objects only (cp -P keeps the soname links), no docs or config.
  find "$work/x/$pkg" -name '*.so.*' \( -type f -o -type l \) -exec cp -P {} "$stage/lib/$pkg/" \;
  cp "$work/x/$pkg/usr/share/doc/$pkg/copyright" "$stage/lib/$pkg/copyright"
done

cat > "$stage/run" <<'EOF'
#!/bin/sh
# Runs the bundled scarseg. Each bundled library folder is put on LD_LIBRARY_PATH only when the
# node has no library of that name, so a node's own loader and driver libraries always win;
# SCARSEG_BUNDLED_LIBS=always uses every bundled one (for testing the bundle).
here="$(cd "$(dirname "$0")" && pwd)"
# The node's library cache, read once (empty where ldconfig cannot be run: then every folder is added).
known="$("$(command -v ldconfig || echo /sbin/ldconfig)" -p 2>/dev/null || true)"
add=""
for dir in "$here"/lib/*/; do
  for lib in "$dir"*.so.[0-9]; do
    [ -e "$lib" ] || continue
    name="$(basename "$lib")"
    if [ "${SCARSEG_BUNDLED_LIBS:-}" = always ] || ! printf '%s\n' "$known" | grep -q "[[:space:]]${name}[[:space:]]"; then
      add="$add:${dir%/}"
      break
    fi
  done
done
[ -n "$add" ] && export LD_LIBRARY_PATH="${add#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# NVIDIA's container toolkit can mount the driver's ICD file outside the loader's search path.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
             /usr/local/nvidia/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ] && ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
      export VK_ADD_DRIVER_FILES="$icd${VK_ADD_DRIVER_FILES:+:$VK_ADD_DRIVER_FILES}"
      break
    fi
  done
fi
# wgpu warns on every device start without one (batch jobs and containers often have none).
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/scarseg-runtime-$(id -u)"
  export XDG_RUNTIME_DIR
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
exec "$here/bin/scarseg" "$@"
EOF
chmod +x "$stage/run"

{
  echo "scarseg trainer bundle"
  echo "commit: $(git -C "$ROOT" rev-parse HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . || echo ' (with uncommitted changes)')"
  echo "profile: $profile"
  echo "built on: $(uname -m), $(rustc --version)"
  echo "libraries: $(cd "$work/debs" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')"
  echo
  echo "Unpack anywhere (tar xJf), then: scarseg-trainer/run train --device wgpu --phantom 2000 ..."
  echo "The libraries are Debian's, under their own licences (lib/PACKAGE/copyright)."
} > "$stage/BUNDLE.txt"
(cd "$stage" && find bin lib run BUNDLE.txt -type f -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)

mkdir -p "$(dirname "$out")"
# All cores: xz alone would take minutes over a 50 MB binary.
XZ_OPT="${XZ_OPT:--6 -T0}" tar -C "$work" -cJf "$out" scarseg-trainer
echo "packed $out ($(du -h "$out" | cut -f1))"
