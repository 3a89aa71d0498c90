"""tools/analysis/dice_by_case.py: per-case scar Dice grouped by how the phantom drew each case,
on a hand-made eval.csv and cases.json, with the means and counts worked by hand; a case without
scar is left out; a cases.json without patterns (written before them) counts as ischemic; a case
the eval has and cases.json lacks is named."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(__file__), "..", "tools", "analysis", "dice_by_case.py")


def case(seed, pattern, contrast, transmurality):
    c = {"seed": seed, "scar_to_blood": contrast, "transmurality": transmurality}
    if pattern is not None:
        c["pattern"] = pattern
    return c


class DiceByCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        # Seeds 1-5: (pattern, scar Dice, reference scar mm2). Seed 5 has no scar.
        rows = [(1, "ischemic", 0.8, 150), (2, "ischemic", 0.6, 300), (3, "mid-wall", 0.5, 90),
                (4, "subepicardial", 0.0, 120), (5, None, 0.0, 0)]
        self.eval = os.path.join(d, "eval.csv")
        with open(self.eval, "w") as f:
            f.write("patient,source,scar_dice,reference_scar_area_mm2\n")
            f.writelines(f"phantom-{s},phantom-{s} [0],{dice},{area}\n" for s, _, dice, area in rows)
        self.cases = os.path.join(d, "cases.json")
        with open(self.cases, "w") as f:
            json.dump({"cases": [case(s, p, 1.0, 0.3) for s, p, _, _ in rows]}, f)

    def tearDown(self):
        self.dir.cleanup()

    def run_tool(self, *args):
        return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)

    def test_the_pattern_table_by_hand(self):
        r = self.run_tool(self.eval, self.cases)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Four cases with scar: (0.8 + 0.6 + 0.5 + 0) / 4 = 0.475.
        self.assertIn("4 cases with scar; scar Dice 0.475", r.stdout)
        # Ischemic: mean 0.7, population SD 0.1; one missed case, the subepicardial one.
        self.assertIn("| ischemic | 2 | 0.700 | 0.100 | 0 |", r.stdout)
        self.assertIn("| mid-wall | 1 | 0.500 | 0.000 | 0 |", r.stdout)
        self.assertIn("| subepicardial | 1 | 0.000 | 0.000 | 1 |", r.stdout)
        # By scar area: 90 and 120 mm2 lie in 0-100 and 100-200 with 150.
        self.assertIn("| 0-100 | 1 | 0.500 | 0.000 | 0 |", r.stdout)
        self.assertIn("| 100-200 | 2 | 0.400 | 0.400 | 1 |", r.stdout)

    def test_cases_without_patterns_are_ischemic(self):
        with open(self.cases, "w") as f:
            json.dump({"cases": [case(s, None, 1.0, 0.3) for s in range(1, 6)]}, f)
        r = self.run_tool(self.eval, self.cases)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("| ischemic | 4 | 0.475 |", r.stdout)
        self.assertNotIn("| mid-wall |", r.stdout)

    def test_a_case_missing_from_cases_json_is_named(self):
        with open(self.cases, "w") as f:
            json.dump({"cases": [case(1, "ischemic", 1.0, 0.3)]}, f)
        r = self.run_tool(self.eval, self.cases)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no case phantom-2", r.stderr)


if __name__ == "__main__":
    unittest.main()
