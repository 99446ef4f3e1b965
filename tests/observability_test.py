#!/usr/bin/python3
"""The daemon's observability against a real upgraded (issue 12, part 4):

- /metrics is scraped and parsed with Debian's python3-prometheus-client
  text parser, and its counters move as upgrades run;
- the lifecycle lines (logfmt and JSON) are exactly the transitions of a
  completed upgrade, a rejected one, one that fails in a hook with no
  rollback and one rolled back, with their fields;
- bad settings are refused at start (exit 2) with a helpful message, and a
  busy port is named.

Everything listens on 127.0.0.1 with ports the OS picks; every wait is
bounded. Run by CTest:  observability_test.py --upgraded P --upgradectl P
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

import zmq
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import daemon  # noqa: E402  (tests/support/daemon.py)
from daemon import wait_for  # noqa: E402

UPGRADED = UPGRADECTL = None

# Forward steps fail, reverts succeed: a failed upgrade that rolls back.
FAILING_HOOK = """#!/bin/sh
if [ "$NOODLE_REVERT" = "1" ]; then exit 0; fi
echo "switching to $NOODLE_TO"
echo "error: release \\"$NOODLE_TO\\" is missing (dir=/srv)" >&2
exit 3
"""


class Daemon(daemon.Daemon):
    """upgraded with `flags`; upgradectl answers (exit code, all it printed)."""

    def __init__(self, work, *flags):
        super().__init__(UPGRADED, UPGRADECTL, work, "--snapshot-every", "50", *flags)

    def metrics_url(self):
        found = wait_for(lambda: re.search(r"metrics on (http://\S+/metrics)", self.stderr()), 10)
        assert found, "no metrics line in the log:\n" + self.stderr()
        return found.group(1)

    def ctl(self, *args):
        rc, out, err = self.run_ctl(*args)
        return rc, out + err


class Work:
    """A temp dir with hook scripts under hooks/ and component specs."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="noodle-obs-")
        os.makedirs(os.path.join(self.path, "hooks"), mode=0o755)
        os.chmod(self.path, 0o755)
        self.ok = self.hook("ok.sh", "#!/bin/sh\nexit 0\n")
        self.failing = self.hook("fail.sh", FAILING_HOOK)

    def hook(self, name, text):
        path = os.path.join(self.path, "hooks", name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
        return path

    def spec(self, name, version, hook):
        path = os.path.join(self.path, name + ".json")
        with open(path, "w") as f:
            json.dump({"name": name, "version": version, "hooks": {"swap": {"argv": [hook]}}}, f)
        return path

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
        text = r.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {}
    for f in families.values():
        for s in f.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.work = Work()
        self.daemon = Daemon(self.work.path, "--metrics", "127.0.0.1:0")
        self.url = self.daemon.metrics_url()

    def tearDown(self):
        self.daemon.stop()
        self.work.remove()

    def test_metrics_parse_and_move_as_upgrades_run(self):
        families, before = scrape(self.url)
        kinds = {"noodle_upgrades": "counter", "noodle_upgrades_requested": "counter",
                 "noodle_upgrades_in_flight": "gauge", "noodle_upgrade_duration_seconds": "histogram",
                 "noodle_step_duration_seconds": "histogram", "noodle_log_append_seconds": "histogram",
                 "noodle_log_last_seq": "gauge", "noodle_log_synced_writes": "counter",
                 "noodle_log_disk_full": "gauge", "noodle_bus_subscribers": "gauge",
                 "noodle_commands_refused": "counter"}
        for name, kind in kinds.items():
            self.assertIn(name, families)
            self.assertEqual(families[name].type, kind, name)
            self.assertTrue(families[name].documentation, name)
        self.assertEqual(value(before, "noodle_upgrades_total", outcome="completed"), 0)
        self.assertEqual(value(before, "noodle_log_disk_full"), 0)

        rc, out = self.daemon.ctl("component", "register", "-f", self.work.spec("db", "1.0.0", self.work.ok))
        self.assertEqual(rc, 0, out)
        for version in ("1.1.0", "1.2.0"):
            rc, out = self.daemon.ctl("upgrade", "start", "db", version, "--wait", "60s")
            self.assertEqual(rc, 0, out)
        rc, out = self.daemon.ctl("upgrade", "start", "db", "9.0.0")  # a major change: refused
        self.assertEqual(rc, 1, out)

        # The projector thread counts after the replies: wait until it has.
        def moved():
            samples = scrape(self.url)[1]
            return samples if value(samples, "noodle_upgrades_total", outcome="rejected") == 1 else None
        after = wait_for(moved, 10)
        self.assertIsNotNone(after)
        delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)
        self.assertEqual(delta("noodle_upgrades_total", outcome="completed"), 2)
        self.assertEqual(delta("noodle_upgrades_total", outcome="rejected"), 1)
        self.assertEqual(delta("noodle_upgrades_total", outcome="rolled_back"), 0)
        self.assertEqual(delta("noodle_upgrades_requested_total"), 3)
        self.assertEqual(delta("noodle_commands_refused_total", reason="validation_failed"), 1)
        self.assertEqual(value(after, "noodle_upgrades_in_flight"), 0)
        self.assertGreater(delta("noodle_log_last_seq"), 5)
        self.assertGreater(delta("noodle_log_synced_writes_total"), 0)
        self.assertGreater(delta("noodle_log_append_seconds_count"), 0)
        self.assertEqual(delta("noodle_step_duration_seconds_count", outcome="succeeded"), 2)
        self.assertEqual(delta("noodle_upgrade_duration_seconds_count", outcome="completed"), 2)
        self.assertEqual(value(after, "noodle_upgrade_duration_seconds_bucket", outcome="completed", le="+Inf"),
                         value(after, "noodle_upgrade_duration_seconds_count", outcome="completed"))
        self.assertEqual(value(after, "noodle_log_last_seq"),
                         value(after, "noodle_log_appended_events_total") + value(before, "noodle_log_last_seq")
                         - value(before, "noodle_log_appended_events_total"))

    def test_subscribers_are_counted(self):
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(self.daemon.events)
        try:
            self.assertTrue(wait_for(lambda: value(scrape(self.url)[1], "noodle_bus_subscribers") == 1, 10))
        finally:
            sub.close()
            ctx.term()
        self.assertTrue(wait_for(lambda: value(scrape(self.url)[1], "noodle_bus_subscribers") == 0, 10))

    def test_other_paths_are_not_found(self):
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(self.url.replace("/metrics", "/nothing"), timeout=10)
        self.assertEqual(e.exception.code, 404)


def parse_logfmt(line):
    fields = {}
    for key, raw in re.findall(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?=\s|$)', line):
        fields[key] = json.loads(raw) if raw.startswith('"') else raw
    return fields


class LifecycleLinesTest(unittest.TestCase):
    """One scenario per format: the transitions, exactly, with their fields."""

    def run_scenario(self, log_format):
        work = Work()
        try:
            daemon = Daemon(work.path, "--log-format", log_format, "--log-level", "info")
            try:
                for name, hook in (("db", work.ok), ("web", work.failing)):
                    rc, out = daemon.ctl("component", "register", "-f", work.spec(name, "1.0.0", hook))
                    self.assertEqual(rc, 0, out)
                self.assertEqual(daemon.ctl("upgrade", "start", "db", "1.1.0", "--wait", "60s")[0], 0)
                self.assertEqual(daemon.ctl("upgrade", "start", "db", "9.0.0")[0], 1)
                self.assertEqual(daemon.ctl("upgrade", "start", "web", "1.1.0", "--no-rollback", "--wait", "60s")[0], 1)
                self.assertEqual(daemon.ctl("upgrade", "start", "web", "1.2.0", "--wait", "60s")[0], 1)
                # The lines come from the projector thread after the replies.
                wait_for(lambda: "upgrade.rolled_back" in daemon.stderr(), 10)
            finally:
                self.assertEqual(daemon.stop(), 0)
            text = daemon.stderr()
        finally:
            work.remove()
        lines = [l for l in text.splitlines() if l.strip()]
        self.assertTrue(lines)
        records = []
        for line in lines:  # every line of the log takes the format, not only lifecycle lines
            record = json.loads(line) if log_format.lower() == "json" else parse_logfmt(line)
            for key in ("ts", "level", "msg"):
                self.assertIn(key, record, line)
            self.assertRegex(record["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            records.append(record)
        return records

    def check(self, records, log_format):
        by_upgrade = {}
        for r in records:
            if r["msg"].startswith("upgrade."):
                self.assertEqual(r["level"], "info")
                by_upgrade.setdefault(r["upgrade"], []).append(r)
        runs = {(rs[0]["component"], rs[0]["to"]): rs for rs in by_upgrade.values()}
        self.assertEqual(len(runs), len(by_upgrade))
        msgs = {key: [r["msg"] for r in rs] for key, rs in runs.items()}
        self.assertEqual(msgs, {
            ("db", "1.1.0"): ["upgrade.requested", "upgrade.started", "upgrade.completed"],
            ("db", "9.0.0"): ["upgrade.requested", "upgrade.rejected"],
            ("web", "1.1.0"): ["upgrade.requested", "upgrade.started", "upgrade.step_failed", "upgrade.failed"],
            ("web", "1.2.0"): ["upgrade.requested", "upgrade.started", "upgrade.step_failed", "upgrade.failed",
                               "upgrade.rolled_back"],
        })
        number = (lambda v: isinstance(v, (int, float))) if log_format == "json" else \
            (lambda v: re.fullmatch(r"\d+\.\d+s", v) is not None)
        requested, started, completed = runs[("db", "1.1.0")]
        for r in (requested, started, completed):
            self.assertEqual((r["component"], r["from"], r["to"]), ("db", "1.0.0", "1.1.0"))
            self.assertRegex(r["upgrade"], r"^[0-9a-f]{32}$")
        self.assertEqual(requested["strategy"], "immediate")
        self.assertTrue(requested["by"])
        self.assertTrue(number(completed["duration"]), completed)
        rejected = runs[("db", "9.0.0")][1]
        self.assertEqual(rejected["from"], "1.1.0")
        self.assertIn("breaking_change", rejected["reasons"])
        _, _, step_failed, failed = runs[("web", "1.1.0")]
        self.assertEqual(str(step_failed["exit_code"]), "3")
        self.assertEqual(str(step_failed["step"]), "1")  # as the reason says: "step 1 (swap) failed"
        self.assertIn("step 1 (swap) failed", failed["reason"])
        self.assertEqual(step_failed["action"], "swap")
        self.assertIn('release "1.1.0" is missing (dir=/srv)', step_failed["output"])
        self.assertTrue(step_failed["cause"])
        self.assertIn(str(failed["rollback"]).lower(), ("false",))
        self.assertTrue(failed["reason"])
        rolled_back = runs[("web", "1.2.0")][-1]
        self.assertEqual((rolled_back["from"], rolled_back["to"], rolled_back["restored"]), ("1.0.0", "1.2.0", "1.0.0"))
        self.assertTrue(rolled_back["reason"])
        self.assertIn(str(runs[("web", "1.2.0")][3]["rollback"]).lower(), ("true",))
        self.assertTrue(number(rolled_back["duration"]), rolled_back)
        seqs = [int(r["seq"]) for rs in runs.values() for r in rs]
        self.assertEqual(len(seqs), len(set(seqs)))

    def test_logfmt_lines(self):
        self.check(self.run_scenario("logfmt"), "logfmt")

    def test_json_lines(self):
        self.check(self.run_scenario("JSON"), "json")


class StrictSettingsTest(unittest.TestCase):
    def setUp(self):
        self.work = Work()

    def tearDown(self):
        self.work.remove()

    def refused(self, *flags, env=None):
        """upgraded's exit code and output; endpoints the flags leave out on free ports."""
        args = [UPGRADED, "--data-dir", os.path.join(self.work.path, "data")] + list(flags)
        for endpoint in ("--commands", "--events", "--replay"):
            if endpoint not in flags:
                args += [endpoint, "tcp://127.0.0.1:0"]
        run = subprocess.run(args, capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {})))
        return run.returncode, run.stdout + run.stderr

    def config(self, settings):
        path = os.path.join(self.work.path, "upgraded.json")
        with open(path, "w") as f:
            json.dump(settings, f)
        return path

    def test_bad_log_levels_and_formats_are_refused(self):
        rc, out = self.refused("--log-level", "verbose")
        self.assertEqual(rc, 2, out)
        self.assertIn("'verbose'", out)
        self.assertIn("trace, debug, info, warn, error, off", out)
        self.assertFalse(os.path.exists(os.path.join(self.work.path, "data")))  # nothing done
        self.assertEqual(self.refused(env={"NOODLE_LOG_LEVEL": "loud"})[0], 2)
        self.assertEqual(self.refused("--config", self.config({"log_level": "warning"}))[0], 2)
        rc, out = self.refused("--log-format", "xml")
        self.assertEqual(rc, 2, out)
        self.assertIn("text, logfmt, json", out)

    def test_levels_are_case_insensitive(self):
        daemon = Daemon(self.work.path, "--log-level", "WARN", "--log-format", "Json")
        self.assertEqual(daemon.stop(), 0)
        self.assertNotIn('"level":"info"', daemon.stderr())

    def test_unknown_config_keys_are_refused_with_a_suggestion(self):
        rc, out = self.refused("--config", self.config({"log_levle": "info"}))
        self.assertEqual(rc, 2, out)
        self.assertIn("unknown key 'log_levle'", out)
        self.assertIn("did you mean 'log_level'?", out)
        rc, out = self.refused("--config", self.config({"zzzzzzzzzzzz": 1}))
        self.assertEqual(rc, 2, out)
        self.assertIn("valid keys: data_dir, commands", out)
        rc, out = self.refused("--config", self.config({"max_running": "many"}))
        self.assertEqual(rc, 2, out)
        self.assertIn("'max_running'", out)

    def test_a_busy_port_is_named(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            rc, out = self.refused("--commands", "tcp://127.0.0.1:%d" % port)
            self.assertEqual(rc, 1, out)
            self.assertIn("cannot bind the command endpoint tcp://127.0.0.1:%d: Address already in use" % port, out)
            rc, out = self.refused("--metrics", "127.0.0.1:%d" % port)
            self.assertEqual(rc, 1, out)
            self.assertIn("cannot bind the metrics endpoint 127.0.0.1:%d: Address already in use" % port, out)
        rc, out = self.refused("--metrics", "9464")
        self.assertEqual(rc, 1, out)
        self.assertIn("not host:port", out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--upgraded", required=True)
    parser.add_argument("--upgradectl", required=True)
    known, rest = parser.parse_known_args()
    UPGRADED, UPGRADECTL = known.upgraded, known.upgradectl
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
