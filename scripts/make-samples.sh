#!/usr/bin/env bash
# Regenerates public/samples/ with `scarseg phantom`: three single-slice PNG cases, a NIfTI stack,
# a DICOM series and two slices with the non-ischemic patterns (mid-wall, subepicardial), plus
# the index.json the page lists (with each sample's truth, its labels, which the page can load
# to compare the network with). Seeds are fixed, so the output is
# reproducible; they are outside the training, validation and test seed ranges.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
OUT=public/samples
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build -q -p scarseg-cli
BIN="$CARGO_TARGET_DIR/debug/scarseg"
"$BIN" phantom --out "$OUT/png" --count 3 --seed 9001 --format png
"$BIN" phantom --out "$OUT/nifti" --count 1 --seed 9101 --format nifti --slices 4
"$BIN" phantom --out "$OUT/dicom" --count 1 --seed 9201 --format dicom --slices 4
# Scar that spares the endocardium, for teaching what "where in the wall" shows and what the
# default model (which learnt ischemic scar only) does with it.
"$BIN" phantom --out "$OUT/patterns/mid-wall" --count 1 --seed 9301 --format png --pattern mid-wall
"$BIN" phantom --out "$OUT/patterns/subepicardial" --count 1 --seed 9408 --format png --pattern subepicardial
python3 - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
samples = []
for f in sorted((out / "png").glob("*.png")):
    if "_labels" not in f.name:
        samples.append({"name": f.stem, "description": "single LGE slice (PNG, 16 bit)",
                        "files": [f"png/{f.name}"], "labels": f"png/{f.stem}_labels.png"})
for f in sorted((out / "nifti").glob("*.nii.gz")):
    if "_labels" not in f.name:
        samples.append({"name": f.name.replace(".nii.gz", "") + " (NIfTI)",
                        "description": "4-slice stack, base to apex (NIfTI)",
                        "files": [f"nifti/{f.name}"],
                        "labels": f"nifti/{f.name.replace('.nii.gz', '')}_labels.nii.gz"})
for d in sorted(p for p in (out / "dicom").iterdir() if p.is_dir()):
    samples.append({"name": d.name + " (DICOM)", "description": "4-slice DICOM series",
                    "files": [f"dicom/{d.name}/{f.name}" for f in sorted(d.iterdir())],
                    "labels": f"dicom/{d.name}_labels.nii.gz"})
for d in sorted((out / "patterns").iterdir()):
    for f in sorted(d.glob("*.png")):
        if "_labels" not in f.name:
            where = "septal mid-wall" if d.name == "mid-wall" else "inferolateral subepicardial"
            samples.append({"name": f"{f.stem} ({d.name})",
                            "description": f"single LGE slice (PNG, 16 bit) with {where} scar: a "
                                           "non-ischemic pattern, which the default model did not learn",
                            "files": [f"patterns/{d.name}/{f.name}"],
                            "labels": f"patterns/{d.name}/{f.stem}_labels.png"})
(out / "index.json").write_text(json.dumps(samples, indent=1) + "\n")
print(f"{len(samples)} samples in {out}")
PY
