#!/usr/bin/env bash
# Measures how long a study archive (ZIP, gzipped tar) dropped on the page holds the page's main thread, in headless
# Chromium; writes benchmarks/archive_open.md. Builds the release page and the CLI (for the
# phantom series).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
apt_install chromium chromium-driver binaryen
ensure_page_tools
trunk --config trunk.toml build --release
cargo build -p scarseg-cli
python3 benchmarks/archive_open.py dist "$CARGO_TARGET_DIR/debug/scarseg" benchmarks/archive_open.md
