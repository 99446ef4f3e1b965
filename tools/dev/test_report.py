#!/usr/bin/env python3
"""The JSON test report and the coverage table, from the tools' own output.

  test_report.py build --junit FILE... --tests TESTS.json [--perf PERF.json]
                       [--overall SUMMARY.json] [--coverage LABEL=SUMMARY.json...]
                       [--schema SCHEMA.json] -o REPORT.json
  test_report.py modules SUMMARY.json [--fail-under PERCENT]

Inputs, never hand-typed numbers: CTest's JUnit (`ctest --output-junit`), the
suites' labels (`ctest --show-only=json-v1`), gcovr's `--json-summary` (the
total and one per category; absent without --coverage, and the coverage
figures are then null) and the figures performance_test writes to
$NOODLE_PERF_REPORT. `build` validates the report against
tests/report.schema.json before writing it. `modules` prints line, branch and
function coverage per module and exits 3 when the total line coverage is
under --fail-under.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

# Every CTest suite carries exactly one of these (faults is an extra label).
CATEGORIES = ("unit", "integration", "e2e", "performance", "security")
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "report.schema.json"


def suite_labels(tests_json):
    """{suite name: [labels]} from `ctest --show-only=json-v1`."""
    info = json.loads(Path(tests_json).read_text())
    labels = {}
    for test in info.get("tests", []):
        props = {p["name"]: p["value"] for p in test.get("properties", [])}
        labels[test["name"]] = list(props.get("LABELS", []))
    return labels


def junit_outcomes(paths):
    """{testcase name: passed|failed|skipped} over CTest's JUnit files."""
    outcomes = {}
    for path in paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                outcome = "failed"
            elif case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
                outcome = "skipped"
            else:
                outcome = "passed"
            outcomes[case.get("name")] = outcome
    return outcomes


def category_of(name, labels):
    found = [c for c in CATEGORIES if c in labels.get(name, [])]
    if not found:
        raise SystemExit(f"test_report: suite '{name}' has none of the labels {', '.join(CATEGORIES)}")
    return found[0]


def coverage_figures(summary_path):
    """{lines, branches, functions} percentages from a gcovr JSON summary."""
    s = json.loads(Path(summary_path).read_text())
    return {"lines": s["line_percent"], "branches": s["branch_percent"], "functions": s["function_percent"]}


def benchmarks(perf_path):
    """The seed's benchmark keys from performance_test's figures (seconds, MB)."""
    if not perf_path or not Path(perf_path).is_file():
        return None
    perf = json.loads(Path(perf_path).read_text())
    seq, mem, conc = perf.get("sequential", {}), perf.get("memory", {}), perf.get("concurrent", {})
    return {
        "avg_upgrade_time": seq.get("avg_s"),
        "min_upgrade_time": seq.get("min_s"),
        "max_upgrade_time": seq.get("max_s"),
        "memory_usage": mem.get("rss_after_mb"),
        "memory_growth": mem.get("growth_mb"),
        "concurrent_total_time": conc.get("total_s"),
    }


def toolchain():
    def first_line(cmd, pattern):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
        except OSError:
            return None
        m = re.search(pattern, out)
        return m.group(1) if m else None

    gxx = first_line(["g++", "-dumpfullversion"], r"(\S+)")
    cmake = first_line(["cmake", "--version"], r"version (\S+)")
    return f"g++ {gxx or '?'} / cmake {cmake or '?'} / ctest / python {platform.python_version()}"


def build_report(junit, tests_json, perf=None, overall=None, coverage=(), env=None):
    labels = suite_labels(tests_json)
    outcomes = junit_outcomes(junit)
    per_label_cov = {}
    for item in coverage:
        label, _, path = item.partition("=")
        per_label_cov[label] = coverage_figures(path)
    results = {}
    for c in CATEGORIES:
        results[f"{c}_tests"] = {"total": 0, "passed": 0, "failed": 0, "skipped": 0,
                                 "coverage": per_label_cov.get(c)}
    for name, outcome in outcomes.items():
        entry = results[f"{category_of(name, labels)}_tests"]
        entry["total"] += 1
        entry[outcome] += 1
    results["performance_tests"]["benchmarks"] = benchmarks(perf)
    totals = {k: sum(r[k] for r in results.values()) for k in ("total", "passed", "failed", "skipped")}
    env = os.environ if env is None else env
    return {
        "test_suite": "noodlecore",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "environment": env.get("TEST_ENV", "local"),
        "toolchain": toolchain(),
        "results": results,
        "summary": {
            "total_tests": totals["total"],
            "passed": totals["passed"],
            "failed": totals["failed"],
            "skipped": totals["skipped"],
            "overall_coverage": coverage_figures(overall)["lines"] if overall else None,
            "success": totals["failed"] == 0 and totals["total"] > 0,
        },
    }


def validate(report, schema_path=SCHEMA):
    import jsonschema
    jsonschema.validate(report, json.loads(Path(schema_path).read_text()))


def module_of(filename):
    """engine/core/src/x.cc -> engine/core; store/src/x.cc -> store."""
    parts = Path(filename).parts
    if parts[0] in ("engine", "tools") and len(parts) > 2:
        return f"{parts[0]}/{parts[1]}"
    return parts[0]


def module_table(summary):
    rows = {}
    for f in summary["files"]:
        # A top-level row per module, and rows for engine/* and tools/*.
        for key in {module_of(f["filename"]), Path(f["filename"]).parts[0]}:
            r = rows.setdefault(key, [0] * 6)
            for i, k in enumerate(("line_covered", "line_total", "branch_covered",
                                   "branch_total", "function_covered", "function_total")):
                r[i] += f[k]

    def pct(a, b):
        return f"{100.0 * a / b:.1f}" if b else "-"

    def row(name, lc, lt, bc, bt, fc, ft):
        return f"{name:<22} {f'{lc}/{lt}':>13} {pct(lc, lt):>6} {pct(bc, bt):>7} {pct(fc, ft):>6}"

    lines = [f"{'module':<22} {'lines':>13} {'line%':>6} {'branch%':>7} {'func%':>6}"]
    for key in sorted(rows, key=lambda k: (k.split("/")[0], "/" in k, k)):
        lc, lt, bc, bt, fc, ft = rows[key]
        name = ("  " + key) if "/" in key else key
        lines.append(row(name, lc, lt, bc, bt, fc, ft))
    lines.append(row("total", *(summary[k] for k in ("line_covered", "line_total", "branch_covered",
                                                     "branch_total", "function_covered", "function_total"))))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write the JSON test report")
    b.add_argument("--junit", action="append", default=[], required=True)
    b.add_argument("--tests", required=True, help="ctest --show-only=json-v1 output")
    b.add_argument("--perf", help="performance_test's $NOODLE_PERF_REPORT file")
    b.add_argument("--overall", help="gcovr --json-summary of the whole run")
    b.add_argument("--coverage", action="append", default=[], metavar="LABEL=SUMMARY")
    b.add_argument("--schema", default=str(SCHEMA))
    b.add_argument("-o", "--output", required=True)
    m = sub.add_parser("modules", help="print coverage per module; gate on line coverage")
    m.add_argument("summary")
    m.add_argument("--fail-under", type=float, default=90.0)
    a = ap.parse_args(argv)
    if a.cmd == "build":
        report = build_report(a.junit, a.tests, a.perf, a.overall, a.coverage)
        validate(report, a.schema)
        Path(a.output).write_text(json.dumps(report, indent=2) + "\n")
        s = report["summary"]
        print(f"test report: {a.output} ({s['total_tests']} suites, {s['passed']} passed, "
              f"{s['failed']} failed, {s['skipped']} skipped)")
        return 0
    summary = json.loads(Path(a.summary).read_text())
    print(module_table(summary))
    line = 100.0 * summary["line_covered"] / summary["line_total"] if summary["line_total"] else 0.0
    if line < a.fail_under:
        print(f"coverage gate: product line coverage {line:.1f} % is under {a.fail_under:g} %", file=sys.stderr)
        return 3
    print(f"coverage gate: product line coverage {line:.1f} % >= {a.fail_under:g} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
