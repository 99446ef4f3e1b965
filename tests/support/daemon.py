"""A real upgraded for Python tests: ports the OS picks on 127.0.0.1, stderr
to a file, ended by its pid; and a bounded wait."""
import os
import select
import signal
import subprocess
import time


def wait_for(cond, seconds):
    """Polls cond until it is truthy or seconds pass (a bound, not a timing
    check); returns its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    return cond()


class Daemon:
    """upgraded with `flags` after the endpoints, data and hook root under `work`."""

    def __init__(self, upgraded, upgradectl, work, *flags):
        self.upgradectl = upgradectl
        self.stderr_path = os.path.join(work, "upgraded.%d.err" % time.monotonic_ns())
        args = [upgraded, "--data-dir", os.path.join(work, "data"), "--commands", "tcp://127.0.0.1:0",
                "--events", "tcp://127.0.0.1:0", "--replay", "tcp://127.0.0.1:0",
                "--hook-root", os.path.join(work, "hooks")] + list(flags)
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            self.stop()
            raise AssertionError("upgraded printed no ready line:\n" + self.stderr())
        _, self.commands, self.events, self.replay = line.split()

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def run_ctl(self, *args):
        """upgradectl against this daemon: (exit code, stdout, stderr)."""
        endpoints = ["--commands", self.commands, "--events", self.events, "--replay", self.replay]
        run = subprocess.run([self.upgradectl] + list(args) + endpoints, capture_output=True, text=True, timeout=120)
        return run.returncode, run.stdout, run.stderr

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode
