#!/usr/bin/python3
"""The live dashboard in a real browser (issue 12, part 5):

headless Chromium (Debian's chromium and chromium-driver, driven by
python3-selenium) opens the dashboard of a real upgraded while a canary
upgrade runs 10 -> 50 -> 100 % with pauses, promoted step by step with
upgradectl; the DOM shows the upgrade, its weight changing and its
completion, all without a reload (the page's load-time marker and its one
navigation entry stay). A screenshot is saved for people to look at.
Also: /api/state is JSON, /api/events is an event stream, nothing but GET.

Everything listens on 127.0.0.1 with ports the OS picks, and the browser may
resolve no other host; every wait is bounded.
Run by CTest:  dashboard_test.py --upgraded P --upgradectl P --screenshot PNG
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import daemon  # noqa: E402  (tests/support/daemon.py)

ARGS = None
UPGRADE_ID = "0000000000000000000000000000da5b"


def wait_for(cond, seconds, what):
    """daemon.wait_for, failing with what it waited for."""
    value = daemon.wait_for(cond, seconds)
    if not value:
        raise AssertionError("timed out waiting for " + what)
    return value


class Daemon(daemon.Daemon):
    """upgraded with --dashboard; upgradectl through it must succeed."""

    def __init__(self, work):
        super().__init__(ARGS.upgraded, ARGS.upgradectl, work, "--dashboard", "127.0.0.1:0")
        found = re.search(r"dashboard on (http://127\.0\.0\.1:\d+/)", self.stderr())
        assert found, "no dashboard line in the log:\n" + self.stderr()
        self.url = found.group(1)

    def ctl(self, *args):
        rc, out, err = self.run_ctl(*args)
        assert rc == 0, "upgradectl %s: %s%s" % (" ".join(args), out, err)
        return out


def browser(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--user-data-dir=" + profile, "--window-size=1400,1000", "--no-proxy-server",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-default-apps", "--disable-extensions",
              # Only the daemon's address resolves: nothing is fetched from elsewhere.
              "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


class DashboardTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="noodle-dash-")
        os.makedirs(os.path.join(self.work, "hooks"))
        hook = os.path.join(self.work, "hooks", "swap.sh")
        with open(hook, "w") as f:  # records each step it runs
            f.write('#!/bin/sh\necho "$NOODLE_TO $NOODLE_REVERT" >> "%s/swaps"\nexit 0\n' % self.work)
        os.chmod(hook, 0o755)
        self.spec = os.path.join(self.work, "db.json")
        with open(self.spec, "w") as f:
            json.dump({"name": "db", "version": "1.0.0", "type": "Service",
                       "hooks": {"swap": {"argv": [hook]}}}, f)
        self.daemon = Daemon(self.work)
        self.driver = None

    def tearDown(self):
        if self.driver is not None:
            self.driver.quit()
        rc = self.daemon.stop()
        shutil.rmtree(self.work, ignore_errors=True)
        self.assertEqual(rc, 0)

    def js(self, script):
        return self.driver.execute_script(script)

    def row(self, selector, attr):
        return self.js("const r = document.querySelector(%s); return r ? r.getAttribute(%s) : null;"
                       % (json.dumps(selector), json.dumps(attr)))

    def test_api(self):
        with urllib.request.urlopen(self.daemon.url + "api/state", timeout=10) as r:
            self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
            state = json.load(r)
        self.assertEqual(state["components"], [])
        self.assertTrue(state["audit"]["verified_at_start"])
        with urllib.request.urlopen(self.daemon.url + "api/events", timeout=10) as r:
            self.assertTrue(r.headers["Content-Type"].startswith("text/event-stream"))
            self.assertIn(b"retry:", r.readline())
        with self.assertRaises(urllib.error.HTTPError):  # read-only
            urllib.request.urlopen(urllib.request.Request(self.daemon.url + "api/state", data=b"{}"), timeout=10)

    def test_canary_live_in_browser(self):
        self.daemon.ctl("component", "register", "-f", self.spec)
        self.driver = browser(os.path.join(self.work, "profile"))
        self.driver.get(self.daemon.url)
        wait_for(lambda: self.js("return window.noodleDashboard && window.noodleDashboard.states > 0"), 30, "a state")
        loaded_at = self.js("return window.noodleDashboard.loadedAt")
        wait_for(lambda: self.js("return document.getElementById('conn').textContent === 'live'"), 30, "the stream")
        self.assertEqual(self.row('tr.component[data-name="db"] td.version', "class"), "version")
        self.assertEqual(self.js("return document.querySelector('tr.component[data-name=\"db\"] td.version')"
                                 ".textContent"), "1.0.0")

        self.daemon.ctl("upgrade", "start", "db", "1.1.0", "--strategy", "canary", "--weights", "10,50,100",
                        "--id", UPGRADE_ID)
        upgrade = 'tr.upgrade[data-id="%s"]' % UPGRADE_ID
        seen = []
        for weight in ("10", "50"):
            wait_for(lambda: self.row(upgrade, "data-phase") == "paused" and self.row(upgrade, "data-weight") == weight,
                     60, "the canary paused at %s%%" % weight)
            seen.append(self.row(upgrade, "data-weight"))
            if weight == "50":
                self.driver.save_screenshot(ARGS.screenshot.replace(".png", "-paused.png"))
            self.daemon.ctl("upgrade", "promote", UPGRADE_ID)
        self.assertEqual(seen, ["10", "50"])
        history = 'tr.history[data-id="%s"]' % UPGRADE_ID
        wait_for(lambda: self.row(history, "data-phase") == "completed", 60, "the upgrade completed")
        wait_for(lambda: self.js("return document.querySelector('tr.component[data-name=\"db\"] td.version')"
                                 ".textContent") == "1.1.0", 30, "db at 1.1.0")
        self.assertIsNone(self.row(upgrade, "data-id"))  # no longer in flight

        # The events came live over SSE, into the same page: no reload.
        weights = self.js("return window.noodleDashboard.weights[%s]" % json.dumps(UPGRADE_ID))
        self.assertEqual([w for w in weights if w in (10, 50)], [10, 50], weights)
        events = self.js("return Array.from(document.querySelectorAll('#events li')).map(e => e.textContent)")
        self.assertTrue(any("UpgradePromoted" in e for e in events), events)
        self.assertTrue(any("UpgradeCompleted" in e for e in events), events)
        self.assertEqual(self.js("return window.noodleDashboard.loadedAt"), loaded_at)
        self.assertEqual(self.js("return performance.getEntriesByType('navigation').length"), 1)
        self.assertEqual(self.js("return performance.getEntriesByType('navigation')[0].type"), "navigate")
        self.driver.save_screenshot(ARGS.screenshot)
        print("dashboard screenshots: %s, %s" % (ARGS.screenshot, ARGS.screenshot.replace(".png", "-paused.png")))
        self.assertTrue(os.path.getsize(ARGS.screenshot) > 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--upgraded", required=True)
    parser.add_argument("--upgradectl", required=True)
    parser.add_argument("--screenshot", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
