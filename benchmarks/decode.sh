#!/usr/bin/env bash
# Measures DICOM decoding per slice, uncompressed against JPEG-LS Lossless (pure_jpegls), 12-bit
# lossy JPEG (ScarSeg's jpeg12; encoded by DCMTK's dcmcjpeg) and JPEG 2000 Lossless
# (hayro-jpeg2000; encoded by GDCM's gdcmconv), the encoders installed here, on phantom test
# slices stored as 12-bit MR images, and writes benchmarks/decode.md.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
apt_install dcmtk libgdcm-tools
cargo build --release -p scarseg-imaging --example decode_speed
out=benchmarks/decode.md
{
  echo "# DICOM decoding per slice"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) logical CPUs (one thread)."
  echo "Command: \`benchmarks/decode.sh\` (this file is its output; \`cargo run --release -p scarseg-imaging --example decode_speed 50 20\`), $(date -u +%Y-%m-%d)."
  echo
  "$CARGO_TARGET_DIR/release/examples/decode_speed" 50 20
} | tee "$out"
