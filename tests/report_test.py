#!/usr/bin/env python3
"""The JSON test report (issue 13): tools/dev/test_report.py builds it from the
committed samples in tests/data/report/ (CTest JUnit, ctest --show-only=json-v1,
a gcovr JSON summary, performance_test's figures); it must validate against
tests/report.schema.json, carry the sample JUnit's counts and the samples'
figures, and a report of the wrong shape must fail validation."""
import copy
import json
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "report"
TOOL = ROOT / "tools" / "dev" / "test_report.py"
SCHEMA = json.loads((ROOT / "tests" / "report.schema.json").read_text())
CATEGORIES = ("unit", "integration", "e2e", "performance", "security")


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def build(out, coverage=True):
    args = ["build", "--junit", DATA / "junit.xml", "--tests", DATA / "tests.json",
            "--perf", DATA / "perf.json", "-o", out]
    if coverage:
        args += ["--overall", DATA / "gcovr-summary.json", "--coverage", f"unit={DATA / 'gcovr-summary.json'}"]
    r = run_tool(*args)
    if r.returncode != 0:
        raise AssertionError(f"test_report.py build failed: {r.stderr}")
    return json.loads(Path(out).read_text())


def junit_counts():
    """The sample JUnit's counts per category, read here independently."""
    labels = {t["name"]: next(p["value"] for p in t["properties"] if p["name"] == "LABELS")
              for t in json.loads((DATA / "tests.json").read_text())["tests"]}
    counts = {c: {"total": 0, "passed": 0, "failed": 0, "skipped": 0} for c in CATEGORIES}
    for case in ET.parse(DATA / "junit.xml").getroot().iter("testcase"):
        c = next(c for c in CATEGORIES if c in labels[case.get("name")])
        counts[c]["total"] += 1
        if case.find("failure") is not None:
            kind = "failed"
        elif case.find("skipped") is not None or case.get("status") == "disabled":
            kind = "skipped"
        else:
            kind = "passed"
        counts[c][kind] += 1
    return counts


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.report = build(Path(self.tmp.name) / "report.json")

    def tearDown(self):
        self.tmp.cleanup()

    def test_validates_against_the_schema(self):
        jsonschema.validate(self.report, SCHEMA)
        self.assertEqual(self.report["environment"], "local")
        self.assertIn("g++", self.report["toolchain"])
        self.assertNotIn("python_version", self.report)

    def test_counts_are_the_sample_junits(self):
        counts = junit_counts()
        root = ET.parse(DATA / "junit.xml").getroot()
        for c in CATEGORIES:
            got = {k: self.report["results"][f"{c}_tests"][k] for k in ("total", "passed", "failed", "skipped")}
            self.assertEqual(got, counts[c], c)
        s = self.report["summary"]
        self.assertEqual(s["total_tests"], int(root.get("tests")))
        self.assertEqual(s["failed"], int(root.get("failures")))
        self.assertEqual(s["skipped"], int(root.get("skipped")) + int(root.get("disabled")))
        self.assertEqual(s["passed"], s["total_tests"] - s["failed"] - s["skipped"])
        self.assertFalse(s["success"])  # the sample has a failure

    def test_figures_come_from_the_inputs(self):
        cov = json.loads((DATA / "gcovr-summary.json").read_text())
        perf = json.loads((DATA / "perf.json").read_text())
        r = self.report["results"]
        self.assertEqual(r["unit_tests"]["coverage"], {"lines": cov["line_percent"], "branches": cov["branch_percent"],
                                                       "functions": cov["function_percent"]})
        self.assertIsNone(r["e2e_tests"]["coverage"])  # no summary given for e2e
        self.assertEqual(self.report["summary"]["overall_coverage"], cov["line_percent"])
        b = r["performance_tests"]["benchmarks"]
        self.assertEqual(b["avg_upgrade_time"], perf["sequential"]["avg_s"])
        self.assertEqual(b["min_upgrade_time"], perf["sequential"]["min_s"])
        self.assertEqual(b["max_upgrade_time"], perf["sequential"]["max_s"])
        self.assertEqual(b["memory_usage"], perf["memory"]["rss_after_mb"])

    def test_without_coverage_the_figures_are_null(self):
        report = build(Path(self.tmp.name) / "plain.json", coverage=False)
        jsonschema.validate(report, SCHEMA)
        self.assertIsNone(report["summary"]["overall_coverage"])
        for c in CATEGORIES:
            self.assertIsNone(report["results"][f"{c}_tests"]["coverage"])

    def test_wrong_shapes_fail_validation(self):
        def broken(mutate):
            r = copy.deepcopy(self.report)
            mutate(r)
            return r

        cases = {
            "summary without passed": lambda r: r["summary"].pop("passed"),
            "a count as a string": lambda r: r["results"]["unit_tests"].update(total="8"),
            "a negative count": lambda r: r["results"]["e2e_tests"].update(failed=-1),
            "a missing category": lambda r: r["results"].pop("security_tests"),
            "python_version instead of toolchain": lambda r: r.update(python_version=r.pop("toolchain")),
            "coverage over 100": lambda r: r["results"]["unit_tests"]["coverage"].update(lines=120.0),
            "benchmarks without memory": lambda r: r["results"]["performance_tests"]["benchmarks"].pop("memory_usage"),
            "benchmarks on unit tests": lambda r: r["results"]["unit_tests"].update(benchmarks={}),
            "a bad timestamp": lambda r: r.update(timestamp="yesterday"),
        }
        for name, mutate in cases.items():
            with self.subTest(name):
                with self.assertRaises(jsonschema.ValidationError):
                    jsonschema.validate(broken(mutate), SCHEMA)

    def test_builder_refuses_an_invalid_report(self):
        # A schema the builder's output cannot meet: the build must fail, not write.
        bad = Path(self.tmp.name) / "strict.schema.json"
        bad.write_text(json.dumps(dict(SCHEMA, required=SCHEMA["required"] + ["python_version"])))
        out = Path(self.tmp.name) / "never.json"
        r = run_tool("build", "--junit", DATA / "junit.xml", "--tests", DATA / "tests.json", "--schema", bad, "-o", out)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(out.exists())

    def test_module_table_and_gate(self):
        ok = run_tool("modules", DATA / "gcovr-summary.json", "--fail-under", "85")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        for row in ("engine", "engine/core", "engine/service", "store", "total"):
            self.assertIn(row, ok.stdout)
        self.assertIn("340/400", ok.stdout)
        low = run_tool("modules", DATA / "gcovr-summary.json")  # default 90 %
        self.assertEqual(low.returncode, 3)
        self.assertIn("85.0 % is under 90 %", low.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
