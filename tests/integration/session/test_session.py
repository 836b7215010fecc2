#!/usr/bin/env python3
"""A real host-only session: five processes, each child in its sandbox,
supervision that ends the whole session when any child dies.

usage: test_session.py CAPSEMCTL CERTD POLICYD NETPROXY VMM FSD
Runs as root (as CI does): it looks into other processes' namespaces.
"""
import json
import sqlite3
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from proctest import alive, proc_status  # noqa: E402

CAPSEMCTL = None
CHILDREN = {}          # proc name -> built binary


def wait_gone(pids, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


class Session:
    """capsemctl start --host-only in its own CAPSEM_HOME and runtime dir."""

    def __init__(self, tmp, extra_env=None, args=()):
        self.tmp = tmp
        libexec = os.path.join(tmp, "libexec")
        os.makedirs(libexec, exist_ok=True)
        for name, path in CHILDREN.items():
            link = os.path.join(libexec, name)
            if not os.path.lexists(link):
                os.symlink(os.path.abspath(path), link)
        self.env = dict(os.environ)
        self.env.update({
            "CAPSEM_LIBEXEC_DIR": libexec,
            "CAPSEM_HOME": os.path.join(tmp, "home"),
            "XDG_RUNTIME_DIR": os.path.join(tmp, "run"),
        })
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
        if extra_env:
            self.env.update(extra_env)
        self.p = subprocess.Popen([CAPSEMCTL, "start", "--host-only", *args],
                                  env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.id = self.p.stdout.readline().strip()
        if not self.id:
            err = self.p.stderr.read()
            raise AssertionError(f"session did not start: {err}")
        self.children = self.wait_children()

    def ctl(self, *args, check=True):
        r = subprocess.run([CAPSEMCTL, *args], env=self.env,
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"capsemctl {args}: {r.returncode} {r.stderr}")
        return r

    def wait_children(self):
        """{name: pid} of the parent's children, from capsemctl status."""
        r = self.ctl("status", "--json", self.id)
        st = json.loads(r.stdout)
        kids = {}
        for p in st["processes"]:
            if p["process"] != "capsemctl":
                kids[p["process"] + ("" if p["instance"] == 0 else str(p["instance"]))] = p["pid"]
        return kids

    def finish(self, timeout=15):
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            raise AssertionError("session did not end")
        return self.p.returncode, err

    def socket_path(self):
        return os.path.join(self.env["XDG_RUNTIME_DIR"], "capsem",
                            self.id + ".sock")

    def kill_all(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()
        for pid in self.children.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class SessionTest(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="capsem-session-")
        self.sessions = []

    def tearDown(self):
        for s in self.sessions:
            s.kill_all()
        self.tmpdir.cleanup()

    def start(self):
        s = Session(self.tmpdir.name)
        self.sessions.append(s)
        return s

    def test_five_processes_each_sandboxed(self):
        s = self.start()
        self.assertEqual(sorted(s.children),
                         ["capsem-certd", "capsem-netproxy", "capsem-policyd",
                          "capsem-vmm"])
        for name, pid in s.children.items():
            with self.subTest(child=name):
                st = proc_status(pid)
                self.assertEqual(int(st["PPid"]), s.p.pid, "child of the parent")
                self.assertEqual(st["CapEff"], "0000000000000000")
                self.assertEqual(st["CapPrm"], "0000000000000000")
                self.assertEqual(st["CapBnd"], "0000000000000000")
                self.assertEqual(st["NoNewPrivs"], "1")
                self.assertEqual(st["Seccomp"], "2")
                uids = st["Uid"].split()
                self.assertNotIn("0", uids, f"{name} runs with uid 0: {uids}")
                # Its root is an empty directory: no /etc/passwd to open;
                # policyd's holds the session's db/ and nothing else.
                if name == "capsem-policyd":
                    self.assertEqual(os.listdir(f"/proc/{pid}/root"), ["dir"])
                    self.assertTrue(os.path.samefile(
                        f"/proc/{pid}/root/dir",
                        os.path.join(s.env["CAPSEM_HOME"], "sessions", s.id, "db")))
                else:
                    self.assertEqual(os.listdir(f"/proc/{pid}/root"), [])
                self.assertFalse(os.path.exists(f"/proc/{pid}/root/etc/passwd"))
                # Nothing open but stdio, channels and the event loop.
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if name == "capsem-policyd" and target.endswith(
                            f"/sessions/{s.id}/audit.jsonl"):
                        continue    # the audit log the parent opened for it
                    if name == "capsem-policyd" and re.fullmatch(
                            r"/dir(/session\.db(-wal|-shm)?)?", target):
                        continue    # the database, in its own root
                    self.assertNotIn("ca.key", target)
                    self.assertTrue(
                        target.startswith(("socket:", "anon_inode:", "pipe:",
                                           "/dev/null", "/dev/pts", "/dev/tty"))
                        or int(fd) <= 2,
                        f"{name} has fd {fd} -> {target}")

    def start_with_workspace(self):
        ws = os.path.join(self.tmpdir.name, "project")
        os.makedirs(ws, exist_ok=True)
        s = Session(self.tmpdir.name, args=("-w", ws))
        self.sessions.append(s)
        return s, ws

    def test_workspace_fsd_sandboxed(self):
        """-w adds capsem-fsd: sandboxed like the others, holding only the
        workspace directory, as the user who started the session."""
        s, ws = self.start_with_workspace()
        self.assertEqual(sorted(s.children),
                         ["capsem-certd", "capsem-fsd", "capsem-netproxy",
                          "capsem-policyd", "capsem-vmm"])
        pid = s.children["capsem-fsd"]
        st = proc_status(pid)
        self.assertEqual(int(st["PPid"]), s.p.pid)
        self.assertEqual(st["CapEff"], "0000000000000000")
        self.assertEqual(st["CapPrm"], "0000000000000000")
        self.assertEqual(st["CapBnd"], "0000000000000000")
        self.assertEqual(st["NoNewPrivs"], "1")
        self.assertEqual(st["Seccomp"], "2")
        # it keeps our uid: the files it makes are the user's
        self.assertEqual(st["Uid"].split(), [str(os.getuid())] * 4)
        self.assertEqual(os.listdir(f"/proc/{pid}/root"), [])
        self.assertNotEqual(os.readlink(f"/proc/{pid}/ns/net"),
                            os.readlink("/proc/self/ns/net"))
        links = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-o",
                                "link"], capture_output=True, text=True,
                               check=True).stdout
        self.assertEqual([l.split(":")[1].strip() for l in links.splitlines()],
                         ["lo"])
        held = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if int(fd) <= 2 or target.startswith(("socket:", "anon_inode:",
                                                  "pipe:", "/dev/null")):
                continue
            held.append(target)
        self.assertEqual(held, [ws], "fsd holds more than the workspace")
        text = s.ctl("status", s.id).stdout
        self.assertIn("capsem-fsd", text)
        self.assertIn("read-write", text)
        with open(os.path.join(s.env["CAPSEM_HOME"], "sessions", s.id,
                               "session.json")) as f:
            rec = json.load(f)
        self.assertEqual((rec["workspace"], rec["workspace_mode"]), (ws, "rw"))
        s.ctl("stop", s.id)
        code, err = s.finish()
        self.assertEqual(code, 0, err)
        self.assertTrue(wait_gone(list(s.children.values())))
        # policyd recorded it first, in audit.jsonl and in the database,
        # and `logs` shows it
        sdir = os.path.join(s.env["CAPSEM_HOME"], "sessions", s.id)
        with open(os.path.join(sdir, "audit.jsonl")) as f:
            first = json.loads(f.readline())
        self.assertEqual((first["event"], first["path"], first["mode"],
                          first["session"]), ("workspace", ws, "rw", s.id))
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(
            sdir, "db", "session.db"), uri=True)
        row = db.execute("SELECT kind, path, mode FROM events ORDER BY id"
                         " LIMIT 1").fetchone()
        db.close()
        self.assertEqual(row, ("workspace", ws, "rw"))
        shown = s.ctl("logs", s.id).stdout.splitlines()
        self.assertTrue(shown and shown[0].endswith(" workspace %s rw" % ws),
                        shown[:2])

    def test_workspace_refused_before_start(self):
        """/ and a missing directory: one line, exit 1, nothing started."""
        env = dict(os.environ, CAPSEM_HOME=os.path.join(self.tmpdir.name, "h"),
                   XDG_RUNTIME_DIR=os.path.join(self.tmpdir.name, "run"))
        for arg, why in (("/", "--force"), ("/no/such/dir", "No such file")):
            with self.subTest(dir=arg):
                r = subprocess.run([CAPSEMCTL, "start", "--host-only", "-w",
                                    arg], env=env, capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1,
                                 r.stderr)
                self.assertIn(why, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_ca_key_only_reaches_certd(self):
        s = self.start()
        key = os.path.join(s.env["CAPSEM_HOME"], "ca", "ca.key")
        self.assertTrue(os.path.exists(key), "start made no CA")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        for pid in list(s.children.values()) + [s.p.pid]:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except FileNotFoundError:
                    continue
                self.assertNotEqual(target, key, f"pid {pid} holds ca.key")
        r = s.ctl("status", s.id)
        self.assertIn("capsem-certd", r.stdout)

    def test_network_namespaces(self):
        s = self.start()
        host_ns = os.readlink("/proc/self/ns/net")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        try:
            for name, pid in s.children.items():
                with self.subTest(child=name):
                    ns = os.readlink(f"/proc/{pid}/ns/net")
                    if name == "capsem-netproxy":
                        self.assertEqual(ns, host_ns)
                        continue
                    self.assertNotEqual(ns, host_ns)
                    links = subprocess.run(
                        ["nsenter", "-t", str(pid), "-n", "ip", "-o", "link"],
                        capture_output=True, text=True, check=True).stdout
                    names = [l.split(":")[1].strip() for l in links.splitlines()]
                    self.assertEqual(names, ["lo"])
                    probe = subprocess.run(
                        ["nsenter", "-t", str(pid), "-n", sys.executable, "-c",
                         "import socket,sys\n"
                         "s=socket.socket()\ns.settimeout(3)\n"
                         f"sys.exit(0 if s.connect_ex(('127.0.0.1',{port})) else 1)"],
                        capture_output=True, text=True)
                    self.assertEqual(probe.returncode, 0,
                                     f"{name}'s namespace reached the host listener")
        finally:
            listener.close()

    def test_list_status_stop(self):
        s = self.start()
        self.assertIn(s.id, s.ctl("list").stdout.split())
        self.assertEqual([e["id"] for e in json.loads(
            s.ctl("list", "--json").stdout)].count(s.id), 1)
        text = s.ctl("status", s.id).stdout
        for name in s.children:
            self.assertIn(name, text)
        self.assertIn("seccomp=kill", text)
        mode = os.stat(s.socket_path()).st_mode & 0o777
        self.assertEqual(mode, 0o600)
        pids = list(s.children.values()) + [s.p.pid]
        r = s.ctl("stop", s.id)
        self.assertIn("stopping", r.stdout)
        code, err = s.finish()
        self.assertEqual(code, 0, err)
        self.assertTrue(wait_gone(pids), "processes of the session remain")
        self.assertFalse(os.path.exists(s.socket_path()))
        self.assertNotIn(s.id, s.ctl("list", "-q").stdout.split())
        r = s.ctl("status", s.id, check=False)
        self.assertEqual(r.returncode, 1)

    def test_sigterm_ends_cleanly(self):
        s = self.start()
        pids = list(s.children.values())
        s.p.send_signal(signal.SIGTERM)
        code, err = s.finish()
        self.assertEqual(code, 0, err)
        self.assertTrue(wait_gone(pids))
        self.assertFalse(os.path.exists(s.socket_path()))

    def test_other_user_refused(self):
        s = self.start()
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", CAPSEMCTL, "status", s.id],
                           env=s.env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("capsem-certd", r.stdout)

    def test_kill_each_child_ends_session(self):
        for victim in ["capsem-certd", "capsem-policyd", "capsem-netproxy",
                       "capsem-vmm", "capsem-fsd"]:
            with self.subTest(child=victim):
                s = self.start_with_workspace()[0]
                pids = list(s.children.values()) + [s.p.pid]
                os.kill(s.children[victim], signal.SIGKILL)
                code, err = s.finish()
                self.assertNotEqual(code, 0)
                self.assertRegex(
                    err, rf"{victim}(\[0\])? \(pid {s.children[victim]}\) "
                         r"killed by signal 9")
                self.assertTrue(wait_gone(pids), "processes remain")
                self.assertFalse(os.path.exists(s.socket_path()))

    def test_parent_killed_takes_children(self):
        s = self.start()
        pids = list(s.children.values())
        s.p.kill()
        s.p.wait()
        self.assertTrue(wait_gone(pids), "children outlived the parent")

    def test_reload(self):
        s = self.start()
        user = os.path.join(s.env["CAPSEM_HOME"], "user.toml")
        with open(user, "w") as f:
            f.write('[network]\ndefault = "deny"\nallow = ["example.com"]\n')
        r = s.ctl("reload", s.id)
        self.assertIn("policy reloaded", r.stdout)
        # A broken file: refused with file:line, the old policy stays.
        with open(user, "w") as f:
            f.write('[network]\ndefault = "maybe"\n')
        r = s.ctl("reload", s.id, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"user\.toml:2: ")
        # SIGHUP reloads too; the session keeps running either way.
        with open(user, "w") as f:
            f.write('[network]\ndefault = "deny"\n')
        s.p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertIn(s.id, s.ctl("list").stdout.split())

    def test_bad_config_is_a_config_error(self):
        home = os.path.join(self.tmpdir.name, "home")
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, "user.toml"), "w") as f:
            f.write('[network]\nallow = ["ok.example", 42]\n')
        env = dict(os.environ, CAPSEM_HOME=home,
                   XDG_RUNTIME_DIR=os.path.join(self.tmpdir.name, "run"))
        libexec = os.path.join(self.tmpdir.name, "libexec")
        os.makedirs(libexec, exist_ok=True)
        for name, path in CHILDREN.items():
            if not os.path.lexists(os.path.join(libexec, name)):
                os.symlink(os.path.abspath(path), os.path.join(libexec, name))
        env["CAPSEM_LIBEXEC_DIR"] = libexec
        r = subprocess.run([CAPSEMCTL, "start", "--host-only"], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"user\.toml:2: ")

    def test_named_session(self):
        s = Session(self.tmpdir.name, args=("-n", "my-task.1"))
        self.sessions.append(s)
        self.assertEqual(s.id, "my-task.1")
        self.assertIn("my-task.1", s.ctl("list").stdout.split())
        # the name is taken while it runs
        r = s.ctl("start", "--host-only", "-n", "my-task.1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("named my-task.1 is running already", r.stderr)
        self.assertTrue(os.path.isdir(os.path.join(
            s.env["CAPSEM_HOME"], "sessions", "my-task.1")))
        s.ctl("stop", "my-task.1")
        code, err = s.finish()
        self.assertEqual(code, 0, err)
        # and free again afterwards
        s2 = Session(self.tmpdir.name, args=("-n", "my-task.1"))
        self.sessions.append(s2)
        self.assertEqual(s2.id, "my-task.1")
        s2.ctl("stop", "my-task.1")
        self.assertEqual(s2.finish()[0], 0)
        r = s.ctl("start", "--host-only", "-n", "../x", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad session name", r.stderr)

    def test_start_agent_usage(self):
        env = dict(os.environ, CAPSEM_HOME=os.path.join(self.tmpdir.name, "home"))
        r = subprocess.run([CAPSEMCTL, "start", "frobnicator"], env=env,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown agent "frobnicator"', r.stderr)
        r = subprocess.run([CAPSEMCTL, "start", "-e", "1BAD=x", "shell"],
                           env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not NAME=VALUE", r.stderr)
        r = subprocess.run([CAPSEMCTL, "start", "--disk", "/x", "claude"],
                           env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("go with --kernel", r.stderr)
        # a host that cannot run the VM: tests/integration/hostprobe

    def test_start_usage_errors(self):
        r = subprocess.run([CAPSEMCTL, "start", "--bogus"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: capsemctl start", r.stderr)
        r = subprocess.run([CAPSEMCTL, "frobnicate"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([CAPSEMCTL, "version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^capsemctl \d+\.\d+")


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    CAPSEMCTL = os.path.abspath(sys.argv[1])
    for name, path in zip(["capsem-certd", "capsem-policyd", "capsem-netproxy",
                           "capsem-vmm", "capsem-fsd"], sys.argv[2:]):
        CHILDREN[name] = path
    if os.geteuid() != 0:
        sys.exit("test_session.py: must run as root (it enters other "
                 "processes' namespaces)")
    unittest.main(argv=[sys.argv[0], "-v"])
