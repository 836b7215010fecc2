#!/usr/bin/env python3
"""The host probe as a user meets it: `capsemctl start` on a host whose KVM
cannot run the guest, and `capsemctl doctor`.

usage: test_hostprobe.py CAPSEMCTL

Fake hosts are trees of /proc/cpuinfo, /sys/module/* and /dev/kvm named by
CAPSEM_PROBE_ROOT; the real host is checked against an independent reading
of the same files (on these build machines: PVM, so the kvm line FAILs).
Runs as root, as CI does.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

CAPSEMCTL = None

CPUINFO = {
    "intel": "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\n"
             "flags\t\t: fpu vmx sse2 xsave avx\n\n",
    "amd": "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: EPYC\n"
           "flags\t\t: fpu svm sse2 xsave avx\n\n",
    "pvm": "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
           "flags\t\t: fpu sse2 hypervisor xsave avx\n\n",
}


def fake_host(tmp, cpu, modules, dev=True):
    root = os.path.join(tmp, "host-%s-%s" % (cpu, "-".join(modules) or "none"))
    for d in ("proc", "dev", "sys/module"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(root, "proc", "cpuinfo"), "w") as f:
        f.write(CPUINFO[cpu])
    for m in modules:
        os.makedirs(os.path.join(root, "sys", "module", m), exist_ok=True)
    if dev:
        open(os.path.join(root, "dev", "kvm"), "w").close()
    return root


def real_kind():
    """The real host's kind, read here the way hostprobe.h says."""
    flags = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                break
    mod = lambda m: os.path.exists("/sys/module/" + m)
    dev = os.path.exists("/dev/kvm")
    if mod("kvm_pvm") and dev:
        return "pvm"
    if not dev:
        return "no-device"
    if "vmx" not in flags and "svm" not in flags:
        return "no-virt"
    if not mod("kvm_intel") and not mod("kvm_amd"):
        return "no-module"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "no-access"
    return "hardware"


class HostProbeTest(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="capsem-probe-")
        self.tmp = self.tmpdir.name
        self.home = os.path.join(self.tmp, "home")
        self.run_dir = os.path.join(self.tmp, "run")
        os.makedirs(self.run_dir, mode=0o700)
        self.env = dict(os.environ, CAPSEM_HOME=self.home,
                        XDG_RUNTIME_DIR=self.run_dir,
                        CAPSEM_CORP_CONFIG=os.path.join(self.tmp, "corp.toml"))
        self.env.pop("ANTHROPIC_API_KEY", None)

    def tearDown(self):
        self.tmpdir.cleanup()

    def ctl(self, *args, probe_root=None, extra=None):
        env = dict(self.env)
        if probe_root is not None:
            env["CAPSEM_PROBE_ROOT"] = probe_root
        env.update(extra or {})
        return subprocess.run([CAPSEMCTL, *args], env=env, capture_output=True,
                              text=True, timeout=120)

    def assert_nothing_left(self):
        self.assertFalse(os.path.exists(self.home), os.listdir(self.tmp))
        self.assertEqual(os.listdir(self.run_dir), [])
        # no process of ours: none has this test's CAPSEM_HOME
        mark = ("CAPSEM_HOME=" + self.home).encode() + b"\0"
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    env = f.read()
            except OSError:
                continue
            self.assertNotIn(mark, env, "process %s is left" % pid)

    def test_start_refused_on_pvm(self):
        root = fake_host(self.tmp, "pvm", ["kvm", "kvm_pvm"])
        for args in (["start", "claude"], ["start", "shell"],
                     ["start", "--", "true"],
                     ["start", "--kernel", "/nonexistent", "--initrd",
                      "/nonexistent", "--", "true"]):
            r = self.ctl(*args, probe_root=root)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertEqual(len(r.stderr.strip().split("\n")), 1, r.stderr)
            self.assertIn("PVM (kvm_pvm)", r.stderr)
            self.assertIn("nested virtualization", r.stderr)
            self.assertIn("capsemctl doctor", r.stderr)
            self.assertEqual(r.stdout, "")
            self.assert_nothing_left()

    def test_start_refused_each_kind(self):
        cases = [
            (fake_host(self.tmp, "amd", ["kvm"]), "modprobe kvm_amd"),
            (fake_host(self.tmp, "intel", [], dev=False), "modprobe kvm_intel"),
            (fake_host(self.tmp, "pvm", ["kvm"]), "no vmx/svm"),
        ]
        for root, fix in cases:
            r = self.ctl("start", "claude", probe_root=root)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(fix, r.stderr)
            self.assert_nothing_left()
        # the host side alone and the proxy need no KVM: not refused
        r = self.ctl("start", "--host-only", "-d",
                     probe_root=cases[0][0],
                     extra={"CAPSEM_LIBEXEC_DIR": "/nonexistent"})
        self.assertNotIn("cannot run the VM", r.stderr)

    def test_doctor_real_host(self):
        want = real_kind()
        r = self.ctl("doctor", "--json")
        d = json.loads(r.stdout)
        self.assertEqual(d["kvm"]["kind"], want, d["kvm"])
        kvm = [c for c in d["checks"] if c["name"] == "kvm"][0]
        self.assertEqual(kvm["status"], "ok" if want == "hardware" else "fail")
        text = self.ctl("doctor")
        line = [x for x in text.stdout.split("\n") if x.split()[1:2] == ["kvm"]]
        self.assertEqual(len(line), 1, text.stdout)
        if want == "pvm":      # these build machines
            self.assertTrue(line[0].startswith("FAIL"), line)
            self.assertIn("PVM", line[0])
            self.assertEqual(text.returncode, 1)
            self.assertEqual(r.returncode, 1)
            self.assertFalse(d["ok"])

    def test_doctor_hardware_host(self):
        root = fake_host(self.tmp, "amd", ["kvm", "kvm_amd"])
        r = self.ctl("doctor", probe_root=root)
        lines = dict((x.split()[1], x) for x in r.stdout.strip().split("\n")[:-1])
        self.assertEqual(set(lines), {"kvm", "userns", "sandbox", "seccomp",
                                      "image", "ca", "policy", "runtime",
                                      "disk", "api-key"}, r.stdout)
        for name in ("kvm", "sandbox", "seccomp", "ca", "policy", "runtime",
                     "disk"):
            self.assertTrue(lines[name].startswith("ok "), lines[name])
        self.assertIn("hardware KVM (kvm_amd)", lines["kvm"])
        self.assertIn("SIGSYS", lines["seccomp"])
        # not built yet, and no key: start would still start
        self.assertTrue(lines["image"].startswith("WARN"), lines["image"])
        self.assertIn("not built", lines["image"])
        self.assertTrue(lines["api-key"].startswith("WARN"))
        self.assertIn("ANTHROPIC_API_KEY", lines["api-key"])
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("can start here", r.stdout)
        # doctor makes nothing
        self.assertFalse(os.path.exists(self.home))
        r = self.ctl("doctor", "gemini", probe_root=root,
                     extra={"GEMINI_API_KEY": "x"})
        self.assertRegex(r.stdout, r"ok +api-key +GEMINI_API_KEY is set")

    def test_doctor_bad_files(self):
        root = fake_host(self.tmp, "intel", ["kvm", "kvm_intel"])
        os.makedirs(os.path.join(self.home, "ca"))
        with open(os.path.join(self.home, "user.toml"), "w") as f:
            f.write("[network]\nallow = [\"a.example\"]\nbogus = 1\n")
        r = self.ctl("doctor", probe_root=root)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"FAIL +policy +.*user\.toml:3: ")
        os.unlink(os.path.join(self.home, "user.toml"))
        # a CA key others can read
        r = self.ctl("ca", "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ctl("doctor", probe_root=root).returncode, 0)
        key = os.path.join(self.home, "ca", "ca.key")
        os.chmod(key, 0o644)
        r = self.ctl("doctor", probe_root=root)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"FAIL +ca +.*ca\.key is mode 0644")
        os.unlink(key)
        r = self.ctl("doctor", "--json", probe_root=root)
        ca = [c for c in json.loads(r.stdout)["checks"] if c["name"] == "ca"]
        self.assertEqual(ca[0]["status"], "fail")
        self.assertIn("only", ca[0]["detail"])

    def test_doctor_usage(self):
        r = self.ctl("doctor", "frobnicator")
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown agent "frobnicator"', r.stderr)
        r = self.ctl("doctor", "--bogus")
        self.assertEqual(r.returncode, 2)
        r = self.ctl("doctor", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: capsemctl doctor", r.stdout)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    CAPSEMCTL = os.path.abspath(sys.argv[1])
    del sys.argv[1:]
    unittest.main(verbosity=2)
