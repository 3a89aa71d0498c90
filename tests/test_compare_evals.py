"""tools/analysis/compare_evals.py: the paired difference and its standard error, worked by hand;
the seed filter; failed cases; bad input as one line and a non-zero exit."""
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
        self.assertIn("3 shared cases (2 left out: missing or failed in one file): scar Dice A 0.6000, B 0.7000", r.stdout)
        self.assertIn("B - A = +0.1000, standard error 0.0577 (+1.7 SE)", r.stdout)

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
        self.assertIn("2 shared cases (0 left out: missing or failed in one file): scar Dice A 0.6000, B 0.6000", r.stdout)
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
        self.assertIn("1 shared case(s): a paired comparison needs at least 2", r.stderr)
        self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
