# Shared by the scripts: a persistent target directory outside the clone, so a rerun on the same
# machine is incremental, and helpers that install only what is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/scarseg/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
# wgpu (lavapipe) warns on every device start without one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/scarseg-runtime-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# apt_install PACKAGE... installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]}"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${missing[@]}"
  fi
}

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
}

# The wasm-bindgen version that Cargo.lock pins (empty when nothing uses wasm-bindgen).
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Tools built from source: their release profiles ask for fat LTO and one codegen unit, which
# makes a fresh machine's install take several times longer for no benefit to us. They are built
# at opt-level 0 except for the crates they spend their time in, at 1 (2-core Xeon, 2026-12-05,
# back to back: trunk 363-390 s at opt-level 1 everywhere, 160-186 s at 0, 177 s so, its no-op
# page build 7.4 s at 1, 9.9 s at 0, 6.8 s so; wasm-bindgen-cli 139 s at 1, 62 s at 0, 95 s so,
# the page build 8.2 s, 22 s, 9.3-10.1 s).
# Not in $CARGO_TARGET_DIR: there the tools' build dependencies at their profile replaced the
# page's own (same crates, other settings), and the next page build rebuilt all of burn.
#   install_tool "CRATE..." CARGO_INSTALL_ARGS...   (CRATE...: the ones kept at opt-level 1)
install_tool() {
  local hot=()
  for crate in $1; do hot+=(--config "profile.release.package.$crate.opt-level=1"); done
  shift
  env -u CARGO_TARGET_DIR CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 cargo install "${hot[@]}" "$@"
}

ensure_trunk() {
  if ! trunk --version 2>/dev/null | grep -q '0.21.14'; then
    # Without `update_check`, trunk never contacts a registry on its own. It spends its time
    # hashing (subresource integrity) and minifying the page.
    install_tool "sha2 minify-html minify-html-common minify-js lightningcss cssparser lol_html base64 base64-simd" \
      trunk --version 0.21.14 --locked --no-default-features --features rustls
  fi
}

ensure_wasm_bindgen() {
  local version
  version="$(locked_wasm_bindgen_version)"
  [ -n "$version" ] || return 0
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$version"; then
    # --locked fails for this version: a locked dependency is gone from the registry. It spends
    # its time reading, rewriting and writing the wasm modules.
    install_tool "walrus wasmparser wasm-encoder wasm-bindgen-cli-support gimli leb128fmt hashbrown indexmap" \
      wasm-bindgen-cli --version "$version"
  fi
}

# What building the page takes besides cargo: the wasm32 target, trunk, and the wasm-bindgen CLI
# that matches Cargo.lock.
ensure_page_tools() {
  ensure_wasm_target
  ensure_trunk
  ensure_wasm_bindgen
}

# A venv with the Python packages pinned in FILE (a requirements file), made or remade only when
# FILE changes; prints its python.
ensure_venv() {
  local requirements="$1" venv stamp
  venv="$HOME/.cache/scarseg/venv-$(basename "$requirements" .txt)"
  stamp="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    echo "$stamp" > "$venv/.stamp"
  fi
  echo "$venv/bin/python"
}


# The node packages locked in DIR/package-lock.json, installed (without their install scripts)
# into a folder outside the clone with DIR's scripts beside them, made or remade only when DIR
# changes; prints that folder. Node and npm from apt where missing.
ensure_node_modules() {
  local dir="$1" home stamp
  command -v npm >/dev/null || apt_install nodejs npm
  home="$HOME/.cache/scarseg/node-$(basename "$dir")"
  stamp="$(cat "$dir/package.json" "$dir/package-lock.json" "$dir"/.npmrc 2>/dev/null | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$home/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$home"
    mkdir -p "$home"
    cp "$dir/package.json" "$dir/package-lock.json" "$home"/
    if [ -f "$dir/.npmrc" ]; then cp "$dir/.npmrc" "$home"/; fi
    (cd "$home" && npm ci --no-audit --no-fund --ignore-scripts >&2)
    echo "$stamp" > "$home/.stamp"
  fi
  # The scripts are copied every time (cheap), so that an edit to one needs no reinstall; Node
  # resolves their imports from the node_modules beside them.
  cp "$dir"/*.mjs "$home"/
  echo "$home"
}
