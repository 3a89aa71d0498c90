#!/usr/bin/env python3
"""Is model B better than model A, or is the difference noise? Compares two `scarseg eval` runs
on the same cases case by case: the mean per-case difference in scar Dice (B - A), or in another
per-case column with `--metric` (myocardium_dice, scar_hd95_mm, ...), its standard error, and
the Wilcoxon signed-rank test of the per-patient differences (the non-parametric test ScarNet
compares methods with, Dice not being normally distributed). Two checkpoints of one run differ
by less than the spread of Dice between cases, so a paired difference tells them apart with far
fewer cases than two separate means. A classic method against the network works alike
(`scarseg eval --method nsd --out EVAL_A`).

    scarseg eval --weights A --phantom 300 --validation --out EVAL_A
    scarseg eval --weights B --phantom 300 --validation --out EVAL_B
    tools/analysis/compare_evals.py EVAL_A/eval.csv EVAL_B/eval.csv [--from-seed S] [--metric M]

A case is a slice (a row of eval.csv: its patient and source); the slices of one patient are
not independent of each other, so the standard error takes each patient's slices as one cluster
(as `scarseg eval`'s confidence intervals do) and the signed-rank test takes each patient's mean
difference. With one slice per patient, as the phantom's cases are, both are the textbook ones.

`--from-seed S` keeps only phantom cases with seed S or higher: after ranking checkpoints on the
first 100 validation cases (seeds from 1000000000), check the winner on cases it was not ranked
on with `--from-seed 1000000100` (or score only those cases: `scarseg eval --skip 100`). Cases
missing from either file, or with no value (a failed case, or no scar for an HD95), are left out
and counted. Standard library only.
"""
import argparse
import csv
import math
import statistics
import sys


def per_case(path, from_seed, metric="scar_dice"):
    """(patient, source) -> metric from one eval.csv, optionally only phantom seeds >= from_seed."""
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
        # A slice of a stack: the patient's slices are told apart by their source.
        case = (patient, r.get("source") or patient)
        if from_seed is not None:
            seed = patient.removeprefix("phantom-")
            if not seed.isdigit() or int(seed) < from_seed:
                continue
        if value != "":
            try:
                out[case] = float(value)
            except ValueError:
                sys.exit(f"{path}: {patient}: {metric} {value!r} is not a number")
    return out


def signed_rank(d):
    """Two-sided Wilcoxon signed-rank test of differences `d` (one per patient): (W+, n, p,
    how). Zero differences are left out (Wilcoxon's own rule, SciPy's default); ties share their
    mean rank. Exact for up to 50 differences (zeros included), by counting the sign patterns
    of their ranks; beyond, the normal approximation with the tie correction, without continuity correction
    (SciPy 1.16's `wilcoxon` defaults, which its test reproduces). p is None for no
    non-zero difference."""
    d = [x for x in d if x != 0.0]
    n = len(d)
    if n == 0:
        return 0.0, 0, None, "no non-zero difference"
    order = sorted(range(n), key=lambda i: abs(d[i]))
    ranks = [0.0] * n
    ties = []
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    w_plus = sum(r for r, x in zip(ranks, d) if x > 0)
    if n <= 50:
        # counts[s]: the sign patterns of the ranks whose positive ranks sum to s / 2 (ranks
        # doubled, so that a shared mean rank is a whole number too).
        doubled = [round(2 * r) for r in ranks]
        counts = [1] + [0] * sum(doubled)
        for rank in doubled:
            for s in range(len(counts) - 1, rank - 1, -1):
                counts[s] += counts[s - rank]
        low = min(w_plus, sum(ranks) - w_plus)
        p = min(1.0, 2 * sum(counts[: round(2 * low) + 1]) / 2**n)
        return w_plus, n, p, "exact"
    mean = n * (n + 1) / 4
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(t**3 - t for t in ties) / 48
    if var <= 0:
        return w_plus, n, None, "no variance"
    z = (w_plus - mean) / math.sqrt(var)
    return w_plus, n, 2 * (1 - statistics.NormalDist().cdf(abs(z))), "normal approximation"


def compare(a, b):
    """(n, mean A, mean B, mean B - A, standard error of that mean, per-patient mean
    differences) on the shared cases; the standard error takes each patient's cases as one
    cluster."""
    keys = sorted(set(a) & set(b))
    n = len(keys)
    patients = {}
    for k in keys:
        patients.setdefault(k[0], []).append(b[k] - a[k])
    if len(patients) < 2:
        raise ValueError(
            f"{n} shared case(s) of {len(patients)} patient(s): a paired comparison needs at "
            "least 2 patients")
    mean = sum(sum(v) for v in patients.values()) / n
    g = len(patients)
    sum_sq = sum(sum(x - mean for x in v) ** 2 for v in patients.values())
    se = math.sqrt(g / (g - 1) * sum_sq) / n
    # Rounded, so that differences equal but for floating-point noise (0.6 - 0.5 against
    # 0.5 - 0.4) tie as they should in the signed-rank test.
    by_patient = [round(sum(v) / len(v), 12) for v in patients.values()]
    return n, sum(a[k] for k in keys) / n, sum(b[k] for k in keys) / n, mean, se, by_patient


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
        n, ma, mb, diff, se, by_patient = compare(a, b)
    except ValueError as e:
        sys.exit(f"{args.eval_a}, {args.eval_b}: {e}")
    left_out = len(set(a) ^ set(b))
    print(f"{n} shared cases of {len(by_patient)} patients ({left_out} left out: missing or "
          f"failed in one file): {LABELS.get(args.metric, args.metric)} A {ma:.4f}, B {mb:.4f}")
    print(f"B - A = {diff:+.4f}, standard error {se:.4f} ({diff / se:+.1f} SE)" if se > 0 else
          f"B - A = {diff:+.4f}, identical on every case")
    w, m, pvalue, how = signed_rank(by_patient)
    if pvalue is None:
        print(f"Wilcoxon signed-rank test: not defined ({how})")
    else:
        print(f"Wilcoxon signed-rank test of the per-patient differences: W+ = {w:g} of {m} "
              f"non-zero, two-sided p = {pvalue:.4g} ({how})")


if __name__ == "__main__":
    main()
