#!/usr/bin/env bash
# Sets up a fresh machine and runs every check and test: formatting, clippy (native and wasm32),
# the unit and integration tests (flex, plus wgpu on Mesa's lavapipe, and the `scarseg` CLI end
# to end), the release build of the web app with its static privacy checks, and the web app in
# headless Chromium on the CPU fallback and on WebGPU (SwiftShader), and the offline trainer
# bundle. `.ci/run` calls exactly this.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

# Each step prints its wall time, so a slow CI run shows where the time went.
STEP_START=$SECONDS
step() {
  echo "   (took $((SECONDS - STEP_START)) s)"
  STEP_START=$SECONDS
  echo "== $*"
}

apt_install mesa-vulkan-drivers binaryen chromium chromium-driver
ensure_wasm_target
ensure_trunk
ensure_wasm_bindgen

step "cargo fmt"
cargo fmt --all -- --check

step "clippy (native)"
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
cargo test --workspace

step "the analysis tools' tests (Python, standard library only)"
python3 -m unittest discover -s tests -p 'test_*.py'

step "clippy (wasm32: the page, the worker and the library crates they use)"
cargo clippy --target wasm32-unknown-unknown -p scarseg-web -p scarseg-model -p scarseg-imaging \
  -p scarseg-pipeline -- -D warnings

step "the page: trunk release build and static privacy checks"
trunk --config trunk.toml build --release
python3 tests/check_page.py dist

step "the page in headless Chromium (CPU fallback and WebGPU on SwiftShader)"
cargo build -p scarseg-cli
python3 tests/browser_test.py dist "$CARGO_TARGET_DIR/debug/scarseg"

step "the offline trainer bundle: a packed debug build trains an epoch on lavapipe through it"
bundle_dir="$(mktemp -d)"
scripts/pack-trainer.sh --profile dev "$bundle_dir/trainer.tar.xz"
tests/pack_trainer.sh "$bundle_dir/trainer.tar.xz"
rm -rf "$bundle_dir"

step "done"
echo "all checks passed in $SECONDS s"
