#!/usr/bin/env bash
# Sets up a fresh machine and runs every check and test: formatting, clippy (native and wasm32,
# run inside the builds), the unit and integration tests (flex, plus wgpu on Mesa's lavapipe, and
# the `scarseg` CLI end to end), the release build of the web app with its static privacy checks,
# the web app in headless Chromium on the CPU fallback and on WebGPU (SwiftShader), the DICOM
# segmentations against dciodvfy, highdicom, dcmqi (3D Slicer's) and dcmjs (OHIF's), the DICOM and NIfTI decoders against
# pydicom and nibabel on their own test files, and the offline trainer bundle. `.ci/run` calls exactly this.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

# Each step prints its wall time, so a slow CI run shows where the time went.
STEP_START=$SECONDS
step() {
  echo "   (took $((SECONDS - STEP_START)) s)"
  STEP_START=$SECONDS
  echo "== $*"
}

apt_install mesa-vulkan-drivers binaryen chromium chromium-driver dicom3tools
ensure_page_tools

step "cargo fmt"
cargo fmt --all -- --check

# Clippy runs inside the builds below instead of as `cargo clippy` runs of their own: clippy-driver
# compiles like rustc, so with it as the wrapper of the workspace's crates (what `cargo clippy`
# itself sets up) they are linted while the tests and the page are built, and the dependencies
# are not type-checked twice more, natively and for wasm32 (16 of a fresh run's 66 minutes).
# `-D warnings` fails the build on any warning, rustc's or clippy's.
export RUSTC_WORKSPACE_WRAPPER=clippy-driver
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# `cargo test` builds every target clippy's --all-targets checks here (lib, bins, tests,
# examples; there are no benches).
step "tests, and clippy on every native target"
cargo test --workspace

step "the analysis tools' tests (Python, standard library only)"
python3 -m unittest discover -s tests -p 'test_*.py'

# trunk builds the page, the worker and the library crates they use for wasm32 through the same
# wrapper, so this is also clippy for wasm32.
step "the page: trunk release build (and clippy for wasm32), static privacy checks"
trunk --config trunk.toml build --release
python3 tests/check_page.py dist

step "the page in headless Chromium (CPU fallback and WebGPU on SwiftShader)"
cargo build -p scarseg-cli
python3 tests/browser_test.py dist "$CARGO_TARGET_DIR/debug/scarseg"

step "DICOM segmentations against dciodvfy (the IOD), highdicom, dcmqi/3D Slicer and dcmjs/OHIF (the masks and reports); the decoders against pydicom and nibabel on their test files"
"$(ensure_venv tests/requirements-dicom.txt)" tests/dicom_seg_check.py "$CARGO_TARGET_DIR/debug/scarseg" \
  "$(ensure_node_modules tests/ohif)/seg_check.mjs"
# `cargo test` above built the example.
"$(ensure_venv tests/requirements-dicom.txt)" tests/other_readers_check.py \
  "$CARGO_TARGET_DIR/debug/examples/decode_dump"

step "the offline trainer bundle: a packed debug build trains on lavapipe through it, and runs a time-boxed stage (gpu-stage.sh)"
bundle_dir="$(mktemp -d)"
scripts/pack-trainer.sh --profile dev "$bundle_dir/trainer.tar.xz"
tests/pack_trainer.sh "$bundle_dir/trainer.tar.xz"
rm -rf "$bundle_dir"

step "done"
echo "all checks passed in $SECONDS s"
