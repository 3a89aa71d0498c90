#!/usr/bin/env bash
# Times the analysis after the network on the CPU (post-processing, burdens, classic methods,
# gray zone, sectors, where in the wall scar lies, the outline checks, AHA segments, a brush stroke's move, a label volume as corrections, the
# suggested RV insertion, the DICOM segmentation written and read back and its measurement report written; `crates/scarseg-pipeline/examples/analysis_cost.rs`) and
# writes benchmarks/analysis.md.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
cargo build --profile bench-dev -p scarseg-pipeline --example analysis_cost
out=benchmarks/analysis.md
{
  echo "# What the analysis after the network costs"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) logical CPUs."
  echo "Command: \`benchmarks/analysis.sh\` (this file is its output), $(date -u +%Y-%m-%d); profile bench-dev (the dev profile with every dependency and scarseg-imaging, where the metrics live, at opt-level 3), one thread."
  echo "Each figure is the median of 7 runs on a 10-slice phantom stack; its exact labels stand in for the"
  echo "network's probability maps. The network's own forward is in model.md and web.md."
  echo
  "$CARGO_TARGET_DIR/bench-dev/examples/analysis_cost" 7
} | tee "$out.tmp"
mv "$out.tmp" "$out"
