#!/usr/bin/env python3
"""Is model B better than model A, or is the difference noise? Compares two `scarseg eval` runs
on the same cases case by case: the mean per-case difference in scar Dice (B - A), or in another
per-case column with `--metric` (myocardium_dice, scar_hd95_mm, ...), and its standard error.
Two checkpoints of one run differ by less than the spread of Dice between cases, so a paired
difference tells them apart with far fewer cases than two separate means.

    scarseg eval --weights A --phantom 300 --validation --out EVAL_A
    scarseg eval --weights B --phantom 300 --validation --out EVAL_B
    tools/analysis/compare_evals.py EVAL_A/eval.csv EVAL_B/eval.csv [--from-seed S] [--metric M]

`--from-seed S` keeps only phantom cases with seed S or higher: after ranking checkpoints on the
first 100 validation cases (seeds from 1000000000), check the winner on cases it was not ranked
on with `--from-seed 1000000100` (or score only those cases: `scarseg eval --skip 100`). Cases
missing from either file, or with no value (a failed case, or no scar for an HD95), are left out
and counted. Standard library only.
"""
import argparse
import csv
import math
import sys


def per_case(path, from_seed, metric="scar_dice"):
    """patient -> metric from one eval.csv, optionally only phantom seeds >= from_seed."""
    out = {}
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            rows = list(reader)
    except OSError as e:
        sys.exit(f"{path}: {e.strerror}")
    except (UnicodeDecodeError, csv.Error) as e:
        sys.exit(f"{path}: not a scarseg eval.csv ({e})")
    if "patient" not in columns or "scar_dice" not in columns:
        sys.exit(f"{path}: not a scarseg eval.csv (no patient / scar_dice columns)")
    if metric not in columns or metric in ("patient", "source"):
        numeric = ", ".join(c for c in columns if c not in ("patient", "source"))
        sys.exit(f"{path}: no per-case column {metric!r} (it has {numeric})")
    for r in rows:
        # A short row reads as None in its missing columns: treat it as a failed case.
        patient, value = r["patient"] or "", r[metric] or ""
        if from_seed is not None:
            seed = patient.removeprefix("phantom-")
            if not seed.isdigit() or int(seed) < from_seed:
                continue
        if value != "":
            try:
                out[patient] = float(value)
            except ValueError:
                sys.exit(f"{path}: {patient}: {metric} {value!r} is not a number")
    return out


def compare(a, b):
    """(n, mean A, mean B, mean B - A, standard error of that mean) on the shared cases."""
    keys = sorted(set(a) & set(b))
    n = len(keys)
    if n < 2:
        raise ValueError(f"{n} shared case(s): a paired comparison needs at least 2")
    d = [b[k] - a[k] for k in keys]
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    return n, sum(a[k] for k in keys) / n, sum(b[k] for k in keys) / n, mean, sd / math.sqrt(n)


LABELS = {"scar_dice": "scar Dice", "myocardium_dice": "myocardium Dice"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("eval_a")
    p.add_argument("eval_b")
    p.add_argument("--from-seed", type=int)
    p.add_argument("--metric", default="scar_dice", help="an eval.csv column (default scar_dice)")
    args = p.parse_args()
    a = per_case(args.eval_a, args.from_seed, args.metric)
    b = per_case(args.eval_b, args.from_seed, args.metric)
    try:
        n, ma, mb, diff, se = compare(a, b)
    except ValueError as e:
        sys.exit(f"{args.eval_a}, {args.eval_b}: {e}")
    left_out = len(set(a) ^ set(b))
    print(f"{n} shared cases ({left_out} left out: missing or failed in one file): "
          f"{LABELS.get(args.metric, args.metric)} A {ma:.4f}, B {mb:.4f}")
    print(f"B - A = {diff:+.4f}, standard error {se:.4f} ({diff / se:+.1f} SE)" if se > 0 else
          f"B - A = {diff:+.4f}, identical on every case")


if __name__ == "__main__":
    main()
