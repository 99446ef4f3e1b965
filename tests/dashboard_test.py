#!/usr/bin/python3
"""The live dashboard in a real browser (issue 12, part 5):

headless Chromium (Debian's chromium and chromium-driver, driven by
python3-selenium) opens the dashboard of a real upgraded while a canary
upgrade runs 10 -> 50 -> 100 % with pauses, promoted step by step with
upgradectl; the DOM shows the upgrade, its weight changing and its
completion, all without a reload (the page's load-time marker and its one
navigation entry stay). A screenshot is saved for people to look at.
Also: /api/state is JSON, /api/events is an event stream, nothing but GET.

The event stream's limits, over http.client and raw sockets (no browser):
at most MAX_STREAMS at once (the next is answered 503); a client that stops
reading while events pour in is dropped and the others go on; a client
reconnecting with Last-Event-ID: N is sent N+1, N+2... first, or a "reset"
when N is past the log's end or older than the events kept.

Everything listens on 127.0.0.1 with ports the OS picks, and the browser may
resolve no other host; every wait is bounded.
Run by CTest:  dashboard_test.py --upgraded P --upgradectl P --screenshot PNG
"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import daemon  # noqa: E402  (tests/support/daemon.py)

ARGS = None
UPGRADE_ID = "0000000000000000000000000000da5b"
MAX_STREAMS = 8  # dashboard::Options::max_clients
REPLAY_EVENTS = 1024  # dashboard::Options::replay_events


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


class WithDaemon(unittest.TestCase):
    """A daemon with --dashboard and a component spec "db" whose swap hook
    records each step it runs."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="noodle-dash-")
        os.makedirs(os.path.join(self.work, "hooks"))
        hook = os.path.join(self.work, "hooks", "swap.sh")
        with open(hook, "w") as f:
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


class DashboardTest(WithDaemon):

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
        seqs = self.js("return Array.from(document.querySelectorAll('#events li[data-seq]')).map(e => +e.dataset.seq)")
        self.assertEqual(seqs, sorted(set(seqs), reverse=True))  # each event once, newest first
        self.assertEqual(self.js("return window.noodleDashboard.loadedAt"), loaded_at)
        self.assertEqual(self.js("return performance.getEntriesByType('navigation').length"), 1)
        self.assertEqual(self.js("return performance.getEntriesByType('navigation')[0].type"), "navigate")
        self.driver.save_screenshot(ARGS.screenshot)
        print("dashboard screenshots: %s, %s" % (ARGS.screenshot, ARGS.screenshot.replace(".png", "-paused.png")))
        self.assertTrue(os.path.getsize(ARGS.screenshot) > 0)


class Stream:
    """One /api/events request over http.client; message() reads its SSE
    messages one by one (comments and the retry line skipped)."""

    def __init__(self, url, last_event_id=None, timeout=30):
        where = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(where.hostname, where.port, timeout=timeout)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/api/events", headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        if self.status == 200:
            self.resp.readline()  # "retry: ...": the stream is joined once its first line came
        else:
            self.body = self.resp.read()
            self.close()  # a kept-alive connection would hold one of the server's threads

    def message(self):
        """{"event", "id", "data"} of the next message; None at the end."""
        fields = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if not line:
                if "event" in fields:
                    return fields
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value

    def close(self):
        self.conn.close()


class StreamLimitsTest(WithDaemon):
    def setUp(self):
        super().setUp()
        self.streams = []
        self.daemon.ctl("component", "register", "-f", self.spec)
        self.version = 0  # db's minor version
        self.others = 0  # components registered besides db

    def tearDown(self):
        for s in self.streams:
            s.close()
        super().tearDown()

    def open(self, last_event_id=None):
        s = Stream(self.daemon.url, last_event_id)
        self.streams.append(s)
        return s

    def seq(self):
        with urllib.request.urlopen(self.daemon.url + "api/state", timeout=10) as r:
            return json.load(r)["seq"]

    def upgrade(self, weights):
        """Runs one canary upgrade of db through `weights` to its end: a few
        events per weight."""
        self.version += 1
        to = "1.%d.0" % self.version
        before = self.seq()
        out = self.daemon.ctl("upgrade", "start", "db", to, "--strategy", "canary", "--pause", "1ms",
                              "--weights", ",".join(str(w) for w in weights))
        wait_for(lambda: self.component_version() == to, 120, "db at " + to + ": " + out)
        return before, self.seq()

    def register_another(self):
        """One more event: a new component registered."""
        self.others += 1
        spec = os.path.join(self.work, "c%d.json" % self.others)
        with open(spec, "w") as f:
            json.dump({"name": "c%d" % self.others, "version": "1.0.0", "type": "Service"}, f)
        self.daemon.ctl("component", "register", "-f", spec)

    def component_version(self):
        with urllib.request.urlopen(self.daemon.url + "api/state", timeout=10) as r:
            return {c["name"]: c["version"] for c in json.load(r)["components"]}.get("db")

    def test_too_many_streams_get_503(self):
        for _ in range(MAX_STREAMS):
            self.assertEqual(self.open().status, 200)
        refused = self.open()
        self.assertEqual(refused.status, 503)
        self.assertIn(b"too many", refused.body)
        # A stream that ends gives its place back (found at its next write).
        self.streams.pop(0).close()
        self.assertTrue(daemon.wait_for(lambda: self.open().status == 200, 30), "no place came free")

    def test_a_client_that_stops_reading_is_dropped(self):
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(slow.close)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills soon
        where = urllib.parse.urlsplit(self.daemon.url)
        slow.connect((where.hostname, where.port))
        slow.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        # The other places go to readers that keep up, each on a thread.
        readers = [self.open() for _ in range(MAX_STREAMS - 1)]
        last = {}

        def read(i, s):
            try:
                while (m := s.message()) is not None:
                    last[i] = int(m["id"])
            except (OSError, ValueError, AttributeError):
                pass  # closed at the test's end

        threads = [threading.Thread(target=read, args=(i, s), daemon=True) for i, s in enumerate(readers)]
        for t in threads:
            t.start()
        self.assertEqual(self.open().status, 503)  # the slow one holds the last place
        # Events pour in until the slow client's place comes free: its queue
        # overflows, or a write of it blocks past the server's 5 s write
        # timeout, whichever comes first (bounded in count and time).
        deadline = time.monotonic() + 90
        for _ in range(400):
            self.upgrade(range(5, 101, 5))  # canary's most weights: 20
            if self.open().status == 200:
                break
            if time.monotonic() > deadline:
                self.fail("the client that stopped reading still holds its place after 90 s")
        else:
            self.fail("the client that stopped reading still holds its place")
        # The readers that keep up got every event, and the pages are served.
        end = self.seq()
        wait_for(lambda: all(last.get(i) == end for i in range(len(readers))), 60, "the readers at seq %d" % end)
        self.assertTrue(all(t.is_alive() for t in threads))
        self.assertEqual(self.component_version(), "1.%d.0" % self.version)
        # The slow client's connection was ended: its end comes after what was buffered.
        slow.settimeout(30)
        received = 0
        for _ in range(100000):
            chunk = slow.recv(65536)
            if not chunk:
                break
            received += len(chunk)
        else:
            self.fail("the slow client's stream did not end")
        print("slow client dropped after %d events; it had received %d bytes" % (end, received))
        # By now seq 1 is older than the events kept for resuming: a reset.
        self.assertGreater(end, REPLAY_EVENTS + 1)
        self.streams.pop().close()  # the place found free above
        resumed = wait_for(lambda: (lambda s: s if s.status == 200 else None)(self.open(last_event_id=1)), 30,
                           "a place for a resuming stream")
        m = resumed.message()
        self.assertEqual((m["event"], int(m["id"])), ("reset", end))

    def test_last_event_id_resumes_after_it(self):
        _, end = self.upgrade([10, 50, 100])
        after = end - 5
        s = self.open(last_event_id=after)
        got = [int(s.message()["id"]) for _ in range(5)]
        self.assertEqual(got, list(range(after + 1, end + 1)))
        # Then live, from the next seq on.
        self.register_another()
        m = s.message()
        self.assertEqual((m["event"], int(m["id"])), ("log", end + 1))
        self.assertEqual(json.loads(m["data"])["seq"], end + 1)

    def test_last_event_id_at_the_end_goes_live(self):
        _, end = self.upgrade([50, 100])
        s = self.open(last_event_id=end)
        self.register_another()
        m = s.message()
        self.assertEqual((m["event"], int(m["id"])), ("log", end + 1))

    def test_last_event_id_beyond_the_log_resets(self):
        end = self.seq()
        m = self.open(last_event_id=end + 100).message()
        self.assertEqual((m["event"], int(m["id"])), ("reset", end))
        self.assertEqual(json.loads(m["data"]), {"seq": end})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--upgraded", required=True)
    parser.add_argument("--upgradectl", required=True)
    parser.add_argument("--screenshot", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
