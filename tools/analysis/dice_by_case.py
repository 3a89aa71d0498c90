#!/usr/bin/env python3
"""Where a model misses scar: `scarseg eval`'s per-case scar Dice grouped by how each phantom case
was drawn (scar pattern, scar-to-blood contrast, transmurality, scar area).

    scarseg phantom --seed 1000000000 --count 100 --out CASES      # the validation cases' params
    scarseg eval --weights MODEL --phantom 100 --validation --out EVAL
    tools/analysis/dice_by_case.py EVAL/eval.csv CASES/cases.json

Test cases: `--seed 2000000000` and `eval` without `--validation`. With `--pattern P` on `eval`,
give `phantom` the same `--pattern P` (for `mixed`, the pattern table then splits the cases).
Standard library only.
"""
import csv
import json
import statistics
import sys


def pattern_table(rows):
    print("\n| scar pattern | cases | scar Dice mean | SD | missed (Dice 0) |")
    print("|---|---|---|---|---|")
    for pattern in ("ischemic", "mid-wall", "subepicardial"):
        d = [r["dice"] for r in rows if r["pattern"] == pattern]
        if d:
            sd = statistics.pstdev(d) if len(d) > 1 else 0.0
            missed = sum(1 for x in d if x == 0.0)
            print(f"| {pattern} | {len(d)} | {statistics.mean(d):.3f} | {sd:.3f} | {missed} |")


def table(rows, key, edges, label):
    print(f"\n| {label} | cases | scar Dice mean | SD | missed (Dice 0) |")
    print("|---|---|---|---|---|")
    for lo, hi in zip(edges, edges[1:]):
        d = [r["dice"] for r in rows if lo <= key(r) < hi]
        if not d:
            continue
        sd = statistics.pstdev(d) if len(d) > 1 else 0.0
        missed = sum(1 for x in d if x == 0.0)
        print(f"| {lo:g}-{hi:g} | {len(d)} | {statistics.mean(d):.3f} | {sd:.3f} | {missed} |")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    params = {f"phantom-{c['seed']}": c for c in json.load(open(sys.argv[2]))["cases"]}
    rows = []
    for r in csv.DictReader(open(sys.argv[1])):
        p = params.get(r["patient"])
        if p is None:
            sys.exit(f"{sys.argv[2]}: no case {r['patient']} (generate the same seeds as the eval)")
        ref = float(r["reference_scar_area_mm2"])
        if ref <= 0.0:
            continue  # no scar: Dice says nothing about missing one
        # cases.json files written before scar patterns existed hold ischemic cases only.
        rows.append({"dice": float(r["scar_dice"]), "contrast": p["scar_to_blood"],
                     "transmurality": p["transmurality"], "area": ref,
                     "pattern": p.get("pattern") or "ischemic"})
    if not rows:
        sys.exit(f"{sys.argv[1]}: no case with scar")
    print(f"{len(rows)} cases with scar; scar Dice {statistics.mean(r['dice'] for r in rows):.3f}")
    pattern_table(rows)
    table(rows, lambda r: r["contrast"], [0.8, 0.9, 1.0, 1.1, 1.2, 1.31], "scar / blood intensity")
    table(rows, lambda r: r["transmurality"], [0.0, 0.25, 0.5, 0.75, 1.01], "transmurality")
    table(rows, lambda r: r["area"], [0, 100, 200, 400, 800, 1e9], "scar area (mm2)")


if __name__ == "__main__":
    main()
