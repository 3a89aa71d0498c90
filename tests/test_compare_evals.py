"""tools/analysis/compare_evals.py: the paired difference and its standard error, worked by hand;
slices of one patient as one cluster; the Wilcoxon signed-rank test against hand counts and
SciPy; the seed filter; failed cases; bad input as one line and a non-zero exit."""
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(__file__), "..", "tools", "analysis", "compare_evals.py")
HEADER = "patient,source,scar_dice,myocardium_dice\n"


def write(dirname, name, rows):
    path = os.path.join(dirname, name)
    with open(path, "w") as f:
        f.write(HEADER + "".join(f"{p},{p},{d},0.9\n" for p, d in rows))
    return path


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)


class CompareEvals(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        # Differences B - A on the three shared cases: 0.1, 0.0, 0.2. Mean 0.1; sample SD
        # sqrt((0 + 0.01 + 0.01) / 2) = 0.1; standard error 0.1 / sqrt(3) = 0.0577.
        self.a = write(d, "a.csv", [("phantom-1000000000", 0.5), ("phantom-1000000001", 0.6),
                                    ("phantom-1000000100", 0.7), ("phantom-1000000101", "")])
        self.b = write(d, "b.csv", [("phantom-1000000000", 0.6), ("phantom-1000000001", 0.6),
                                    ("phantom-1000000100", 0.9), ("phantom-1000000101", 0.8)])

    def tearDown(self):
        self.dir.cleanup()

    def test_paired_difference_by_hand(self):
        # A short row (its Dice column missing) is a failed case too.
        with open(self.a, "a") as f:
            f.write("phantom-1000000102\n")
        with open(self.b, "a") as f:
            f.write("phantom-1000000102,phantom-1000000102,0.3,0.9\n")
        r = run(self.a, self.b)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The failed cases (no Dice in A) are left out and counted.
        self.assertIn("3 shared cases of 3 patients (2 left out: missing or failed in one file): scar Dice A 0.6000, B 0.7000", r.stdout)
        self.assertIn("B - A = +0.1000, standard error 0.0577 (+1.7 SE)", r.stdout)

    def test_slices_of_one_patient_are_one_cluster(self):
        d = self.dir.name
        path_a, path_b = os.path.join(d, "sa.csv"), os.path.join(d, "sb.csv")
        # Patients p (two slices) and q (one): differences 0.2, 0.4 and -0.3; before, the
        # second slice of p replaced the first.
        rows_a = [("p", "p.nii [0]", 0.5), ("p", "p.nii [1]", 0.5), ("q", "q.nii", 0.5)]
        rows_b = [("p", "p.nii [0]", 0.7), ("p", "p.nii [1]", 0.9), ("q", "q.nii", 0.2)]
        for path, rows in ((path_a, rows_a), (path_b, rows_b)):
            with open(path, "w") as f:
                f.write(HEADER + "".join(f"{p},{s},{v},0.9\n" for p, s, v in rows))
        r = run(path_a, path_b)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Mean 0.1; per-patient sums of deviations 0.1 + 0.3 = 0.4 and -0.4; SE =
        # sqrt(2 / 1 x 0.32) / 3 = 0.8 / 3 = 0.2667 (three independent cases: 0.2082).
        self.assertIn("3 shared cases of 2 patients", r.stdout)
        self.assertIn("B - A = +0.1000, standard error 0.2667 (+0.4 SE)", r.stdout)
        # The signed-rank test takes each patient's mean difference: +0.3 and -0.3, tied at
        # rank 1.5 each.
        self.assertIn("W+ = 1.5 of 2 non-zero, two-sided p = 1 (exact)", r.stdout)

    def test_signed_rank_exact_and_approximate(self):
        d = self.dir.name
        def pair(name, differences):
            a = write(d, name + "a.csv", [(f"c{i}", 0.5) for i in range(len(differences))])
            b = write(d, name + "b.csv", [(f"c{i}", round(0.5 + x, 6))
                                          for i, x in enumerate(differences)])
            return run(a, b)
        # Eight differences, two negative: ranks by size 0.05 (1), 0.1 (2), 0.12 (3), 0.15 (4),
        # 0.2 (5), 0.25 (6), 0.3 (7), 0.4 (8); W- = 1 + 3 = 4, W+ = 32. Subsets of 1..8 summing
        # to 4 or less: {}, {1}, {2}, {3}, {1,2}, {4}, {1,3}: 7 of 256, p = 2 x 7 / 256 =
        # 0.0546875 (SciPy 1.17's wilcoxon: the same).
        r = pair("e", [0.1, 0.2, -0.05, 0.3, 0.15, 0.25, -0.12, 0.4])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("W+ = 32 of 8 non-zero, two-sided p = 0.05469 (exact)", r.stdout)
        # Sixty differences ((37 i mod 11) - 4) / 10, six of them zero, many tied: the normal
        # approximation with the tie correction; SciPy 1.17's wilcoxon gives p =
        # 0.04041502271965577 (statistic min(W+, W-) = 505.5).
        r = pair("n", [((i * 37) % 11 - 4) / 10 for i in range(60)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("of 54 non-zero, two-sided p = 0.04042 (normal approximation)", r.stdout)

    def test_from_seed_keeps_only_the_later_cases(self):
        d = self.dir.name
        a = write(d, "a2.csv", [("phantom-1000000000", 0.0), ("phantom-1000000100", 0.7),
                                ("phantom-1000000101", 0.5)])
        b = write(d, "b2.csv", [("phantom-1000000000", 1.0), ("phantom-1000000100", 0.6),
                                ("phantom-1000000101", 0.6)])
        r = run(a, b, "--from-seed", "1000000100")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Only seeds 100 and 101: differences -0.1 and +0.1, mean 0, SD sqrt(0.02) = 0.1414,
        # standard error 0.1.
        self.assertIn("2 shared cases of 2 patients (0 left out: missing or failed in one file): scar Dice A 0.6000, B 0.6000", r.stdout)
        self.assertIn("B - A = +0.0000, standard error 0.1000", r.stdout)

    def test_another_metric(self):
        d = self.dir.name
        path_a, path_b = os.path.join(d, "ma.csv"), os.path.join(d, "mb.csv")
        with open(path_a, "w") as f:
            f.write(HEADER + "phantom-1,phantom-1,0.5,0.90\nphantom-2,phantom-2,0.5,0.80\n")
        with open(path_b, "w") as f:
            f.write(HEADER + "phantom-1,phantom-1,0.1,0.95\nphantom-2,phantom-2,0.1,0.80\n")
        r = run(path_a, path_b, "--metric", "myocardium_dice")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Myocardium differences 0.05 and 0.0: mean 0.025, SD sqrt(2 * 0.025^2) = 0.0354,
        # standard error 0.025; the scar column (which falls by 0.4) is not read.
        self.assertIn("myocardium Dice A 0.8500, B 0.8750", r.stdout)
        self.assertIn("B - A = +0.0250, standard error 0.0250 (+1.0 SE)", r.stdout)
        r = run(path_a, path_b, "--metric", "burden")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ma.csv: no per-case column 'burden' (it has scar_dice, myocardium_dice)",
                      r.stderr)

    def test_bad_input_is_one_line_naming_the_file(self):
        missing = os.path.join(self.dir.name, "nope.csv")
        r = run(missing, self.b)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nope.csv", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

        other = os.path.join(self.dir.name, "other.csv")
        with open(other, "w") as f:
            f.write("x,y\n1,2\n")
        r = run(other, self.b)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("other.csv: not a scarseg eval.csv", r.stderr)

        binary = os.path.join(self.dir.name, "scan.dcm")
        with open(binary, "wb") as f:
            f.write(bytes(range(128, 256)) * 4)
        r = run(binary, self.b)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("scan.dcm: not a scarseg eval.csv", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

        word = write(self.dir.name, "word.csv", [("phantom-1000000000", "high")])
        r = run(word, self.b)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("word.csv: phantom-1000000000: scar_dice 'high' is not a number", r.stderr)

        lonely = write(self.dir.name, "one.csv", [("phantom-1000000000", 0.5)])
        r = run(lonely, self.b)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("1 shared case(s) of 1 patient(s): a paired comparison needs at least 2 patients", r.stderr)
        self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
