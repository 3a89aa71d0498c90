#!/usr/bin/env bash
# Sets up a fresh machine and serves the web app on http://127.0.0.1:8080 with trunk, from the
# root index.html and trunk.toml.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

apt_install binaryen
ensure_page_tools

exec trunk --config trunk.toml serve --release --address 127.0.0.1 --port "${PORT:-8080}"
