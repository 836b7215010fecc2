#!/usr/bin/env python3
"""capsemctl as a CLI: `list` as a table (running, ended, stale, --prune),
--help and -h on every command, `help COMMAND`, and the exit-code table of
capsemctl(1) on bad arguments.

usage: test_cli.py CAPSEMCTL CERTD POLICYD NETPROXY VMM
Runs real host-only sessions (as root, as CI does).
"""
import json
import sqlite3
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

CAPSEMCTL = None
CHILDREN = {}

# Every command of the table, and arguments each refuses as a usage error.
BAD_ARGS = {
    "start": [["--bogus"], ["frobnicator"], ["--mem", "1", "shell"],
              ["--host-only", "--", "x"],
              ["-w", "x", "--no-workspace", "--", "true"],
              ["--no-workspace", "--workspace", "x", "shell"],
              ["-w", ":ro", "--", "true"], ["-w", "", "shell"]],
    "proxy": [[], ["--bogus"]],
    "list": [["extra"], ["--bogus"], ["--json", "-q"]],
    "status": [[], ["a", "b"], ["--bogus", "x"]],
    "attach": [[], ["a", "b"], ["../x"]],
    "stop": [[], ["a", "b"]],
    "reload": [[], ["a", "b"]],
    "logs": [[], ["--bogus", "x"]],
    "doctor": [["frobnicator"], ["--bogus"]],
    "ca": [[], ["frobnicate"], ["mint"]],
    "policy": [[], ["frobnicate"], ["check"]],
    "image": [[], ["frobnicate"], ["build", "a", "b"]],
    "version": [["extra"]],
    "help": [["frobnicate"], ["a", "b"]],
}


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="capsem-cli-")
        tmp = self.tmpdir.name
        libexec = os.path.join(tmp, "libexec")
        os.makedirs(libexec)
        for name, path in CHILDREN.items():
            os.symlink(os.path.abspath(path), os.path.join(libexec, name))
        self.env = dict(os.environ, CAPSEM_LIBEXEC_DIR=libexec,
                        CAPSEM_HOME=os.path.join(tmp, "home"),
                        XDG_RUNTIME_DIR=os.path.join(tmp, "run"))
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        self.tmpdir.cleanup()

    def ctl(self, *args, cwd=None):
        return subprocess.run([CAPSEMCTL, *args], env=self.env, cwd=cwd,
                              capture_output=True, text=True, timeout=60)

    def start(self, *args):
        p = subprocess.Popen([CAPSEMCTL, "start", "--host-only", *args],
                             env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        sid = p.stdout.readline().strip()
        self.assertTrue(sid, p.stderr.read() if p.poll() is not None else "")
        return p, sid

    def rows(self):
        r = self.ctl("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.rstrip("\n").split("\n")
        self.assertEqual(lines[0].split(), ["ID", "NAME", "AGENT/COMMAND",
                                            "STARTED", "STATE", "REQUESTS",
                                            "DENIED"])
        return {x.split()[0]: x for x in lines[1:]}

    def test_list_table_running_and_ended(self):
        p1, a = self.start("-n", "work.1", "claude")
        p2, b = self.start()
        rows = self.rows()
        self.assertRegex(rows[a], r"^work\.1 +work\.1 +claude +\d+s ago +"
                                  r"running +0 +0$")
        self.assertRegex(rows[b], r"^%s +- +host-only +\d+s ago +running "
                                  r"+0 +0$" % b)
        j = {e["id"]: e for e in json.loads(self.ctl("list", "--json").stdout)}
        self.assertEqual(j[a]["name"], "work.1")
        self.assertEqual(j[a]["what"], "claude")
        self.assertEqual(j[a]["state"], "running")
        self.assertIs(j[a]["running"], True)
        self.assertIsNone(j[b]["name"])
        self.assertEqual(sorted(self.ctl("list", "-q").stdout.split()),
                         sorted([a, b]))
        # an ended session keeps its row, with its status
        self.assertEqual(self.ctl("stop", a).returncode, 0)
        p1.wait(timeout=30)
        rows = self.rows()
        self.assertRegex(rows[a], r" ended\(0\) ")
        self.assertNotIn(a, self.ctl("list", "-q").stdout.split())
        self.assertRegex(rows[b], r" running ")
        j = {e["id"]: e for e in json.loads(self.ctl("list", "--json").stdout)}
        self.assertEqual(j[a]["state"], "ended(0)")
        self.assertIs(j[a]["running"], False)

    def test_list_counts_verdicts(self):
        """REQUESTS and DENIED: the session database's events (policyd
        writes them; rows added here the way it does), the workspace row
        not counted."""
        p, sid = self.start("claude")
        path = os.path.join(self.env["CAPSEM_HOME"], "sessions", sid, "db",
                            "session.db")
        db = None
        for _ in range(300):    # policyd makes it as it starts (bounded)
            try:
                db = sqlite3.connect("file:%s?mode=rw" % path, uri=True,
                                     timeout=10)
                db.execute("SELECT 1 FROM events LIMIT 1")
                break
            except sqlite3.Error:
                if db is not None:
                    db.close()
                db = None
                time.sleep(0.05)
        self.assertIsNotNone(db, "no database")
        with db:
            for kind, verdict in (("conn", "allow"), ("request", "deny"),
                                  ("dns", "deny"), ("workspace", "allow")):
                db.execute("INSERT INTO events (time, kind, host, port,"
                           " verdict) VALUES ('t', ?, 'h', 443, ?)",
                           (kind, verdict))
        db.close()
        self.assertRegex(self.rows()[sid], r" running +3 +2$")

    def test_list_stale_and_prune(self):
        p, sid = self.start()
        kids = [int(x) for x in re.findall(
            r"pid (\d+)", self.ctl("status", sid).stdout)]
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(timeout=10)
        time.sleep(0.2)
        rows = self.rows()
        self.assertRegex(rows[sid], r" stale ")
        sessdir = os.path.join(self.env["CAPSEM_HOME"], "sessions", sid)
        self.assertTrue(os.path.isdir(sessdir))
        r = self.ctl("list", "--prune")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("removed 1 stale session", r.stderr)
        self.assertNotIn(sid, r.stdout)
        self.assertFalse(os.path.exists(sessdir))
        sock = os.path.join(self.env["XDG_RUNTIME_DIR"], "capsem",
                            sid + ".sock")
        self.assertFalse(os.path.exists(sock))
        # a running session is never pruned
        p2, live = self.start()
        r = self.ctl("list", "--prune")
        self.assertIn("removed 0 stale sessions", r.stderr)
        self.assertRegex(self.rows()[live], r" running ")

    def test_help_everywhere(self):
        for args in (["--help"], ["-h"], ["help"]):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertEqual(r.stderr, "")
            self.assertIn("usage: capsemctl", r.stdout)
        for cmd in BAD_ARGS:
            for flag in ("--help", "-h"):
                r = self.ctl(cmd, flag)
                self.assertEqual(r.returncode, 0, (cmd, flag, r.stderr))
                self.assertTrue(r.stdout.startswith("usage: capsemctl " + cmd),
                                (cmd, r.stdout))
            r = self.ctl("help", cmd)
            self.assertEqual(r.returncode, 0)
            self.assertTrue(r.stdout.startswith("usage: capsemctl " + cmd))

    def test_usage_errors_exit_2(self):
        r = self.ctl("frobnicate")
        self.assertEqual(r.returncode, 2)
        r = self.ctl()
        self.assertEqual(r.returncode, 2)
        for cmd, cases in BAD_ARGS.items():
            for args in cases:
                r = self.ctl(cmd, *args)
                self.assertEqual(r.returncode, 2, (cmd, args, r.stdout,
                                                   r.stderr))
                self.assertTrue(r.stderr.strip(), (cmd, args))
                self.assertNotIn("Traceback", r.stderr)

    def test_workspace_refused_before_start(self):
        """A workspace that cannot be shared: one line, exit 1, and
        nothing started or made (no session, no CAPSEM_HOME)."""
        tmp = self.tmpdir.name
        home = self.env["CAPSEM_HOME"]
        os.makedirs(os.path.join(tmp, "work"))
        cases = [
            (["-w", "/nonexistent", "--", "true"],
             "workspace /nonexistent: No such file or directory"),
            (["-w", "/nonexistent:ro", "shell"],
             "workspace /nonexistent: No such file or directory"),
            (["-w", "/", "--", "true"], "workspace /: refusing"),
            (["--workspace", tmp, "claude"], "holds capsem's own directory"),
            (["--kernel", "/nonexistent", "--initrd", "/nonexistent",
              "-w", "/", "--", "true"], "workspace /: refusing"),
        ]
        for args, want in cases:
            r = self.ctl("start", *args)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertEqual(len(r.stderr.strip().split("\n")), 1, r.stderr)
            self.assertIn(want, r.stderr)
            if "refusing" in want or "holds" in want:
                self.assertIn("--force overrides", r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertFalse(os.path.exists(home), (args, os.listdir(tmp)))
        # the default is the current directory, and says --no-workspace
        r = self.ctl("start", "shell", cwd=tmp)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("workspace %s:" % os.path.realpath(tmp), r.stderr)
        self.assertIn("--no-workspace shares nothing", r.stderr)
        # a bare kernel shares nothing by default: not refused for that
        r = self.ctl("start", "--kernel", "/nonexistent", "--initrd",
                     "/nonexistent", "--", "true", cwd=tmp)
        self.assertNotIn("workspace", r.stderr)

    def test_failures_exit_1(self):
        for args in (["status", "nosuch"], ["stop", "nosuch"],
                     ["reload", "nosuch"], ["attach", "nosuch"],
                     ["logs", "nosuch"]):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 1, (args, r.stderr))


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    CAPSEMCTL = os.path.abspath(sys.argv[1])
    for name, path in zip(("capsem-certd", "capsem-policyd",
                           "capsem-netproxy", "capsem-vmm"), sys.argv[2:]):
        CHILDREN[name] = path
    del sys.argv[1:]
    unittest.main(verbosity=2)
