#!/usr/bin/env bash
# Sets up a fresh machine and runs every check and test: formatting, clippy (native and wasm32),
# the unit and integration tests (flex, plus wgpu on Mesa's lavapipe), and the wasm32 build of
# the library crates. `.ci/run` calls exactly this.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

apt_install mesa-vulkan-drivers
ensure_wasm_target

FEATURES="scarseg-model/train"

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== clippy (native)"
cargo clippy --workspace --all-targets --features "$FEATURES" -- -D warnings

echo "== tests"
cargo test --workspace --features "$FEATURES"

echo "== wasm32 build of the library crates (WebGPU + flex)"
cargo build --target wasm32-unknown-unknown -p scarseg-model --features web
cargo build --target wasm32-unknown-unknown -p scarseg-imaging
cargo clippy --target wasm32-unknown-unknown -p scarseg-model -p scarseg-imaging --features scarseg-model/web -- -D warnings

echo "== the page: trunk build and static privacy checks"
apt_install binaryen
ensure_trunk
ensure_wasm_bindgen
trunk --config trunk.toml build --release
python3 tests/check_page.py dist

echo "all checks passed"
