#!/usr/bin/env python3
"""The real, sandboxed capsem-fsd behind the host kernel's FUSE driver.

usage: test_fsd.py FSD_BRIDGE CAPSEM_FSD [unittest args: tests to run]
Runs as root (mount, /dev/fuse, mknod, other processes' /proc).

Each test makes a fresh layout in a temp dir:
  host/w              the workspace (the backing directory fsd serves)
  host/outside/secret a host file fsd must never reach
  guest/m             the mount point (stands for the guest's /workspace)
  guest/outside/secret a decoy: what a relative escape resolves to on the
                      client side, since the mount's parent is the client's
mounts host/w on guest/m through fsd-bridge, and unmounts in tearDown
(umount, then umount -l), checking the bridge's exit code and that fsd
found no request malformed.

The mount caches attributes and names for 1 s (FS_ATTR_TIMEOUT_S): data
is re-read at each open, but a size the host changed may be seen only
once the cached attributes expire.  The tests that depend on that wait
just over 1 s; that is the cache's documented lifetime, not a timing
threshold.
"""
import ctypes
import errno
import hashlib
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from proctest import alive, proc_status  # noqa: E402

BRIDGE = None
FSD = None
ATTR_CACHE_S = 1.0     # fsd's FS_ATTR_TIMEOUT_S
SECRET = b"host secret\n"
DECOY = b"guest decoy\n"

libc = ctypes.CDLL(None, use_errno=True)


def snapshot(root):
    """Everything observable of a tree: type, mode, owner, size, content
    or link target, mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ["."]:
            p = os.path.normpath(os.path.join(dirpath, name))
            st = os.lstat(p)
            what = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid,
                                             st.st_size, st.st_mtime_ns, what)
    return out


def children_of(pid):
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += [int(x) for x in f.read().split()]
    return kids


def mounted(path):
    """From the mount table: os.path.ismount cannot stat a dead FUSE
    mount (ENOTCONN) and says no."""
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Bridge:
    """fsd-bridge [-r] [-i n] FSD DIR MOUNTPOINT, up to its ready line."""

    def __init__(self, backing, mnt, args, errpath):
        self.mnt = mnt
        self.err = open(errpath, "w+")
        self.p = subprocess.Popen([BRIDGE, *args, FSD, backing, mnt],
                                  stdout=subprocess.PIPE, stderr=self.err,
                                  text=True)
        line = self.p.stdout.readline()
        if not line.startswith("ready "):
            self.p.wait(30)
            raise AssertionError(f"bridge did not mount: {line!r} "
                                 f"{self.stderr()}")
        self.ready = line[len("ready "):].strip()
        kids = children_of(self.p.pid)
        if len(kids) != 1:
            raise AssertionError(f"bridge children {kids}")
        self.fsd = kids[0]
        self.rc = None
        self.lines = []

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def finish(self):
        """Unmount and collect the bridge's last words."""
        if self.rc is not None:
            return self.rc
        if mounted(self.mnt):
            r = subprocess.run(["umount", self.mnt], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        try:
            out, _ = self.p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, _ = self.p.communicate()
        self.lines = out.splitlines()
        self.rc = self.p.returncode
        self.errtext = self.stderr()
        self.err.close()
        return self.rc

    def value(self, key):
        for line in self.lines:
            if line.startswith(key + " "):
                return line[len(key) + 1:]
        return None


class FsdTest(unittest.TestCase):
    bridge_args = ()
    expect_rc = 0

    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="capsem-fsd-")
        t = os.path.realpath(self.tmpdir.name)
        self.t = t
        self.w = os.path.join(t, "host", "w")
        self.hout = os.path.join(t, "host", "outside")
        self.gm = os.path.join(t, "guest")
        self.m = os.path.join(self.gm, "m")
        self.gout = os.path.join(self.gm, "outside")
        for d in (self.w, self.hout, self.m, self.gout):
            os.makedirs(d)
        with open(os.path.join(self.hout, "secret"), "wb") as f:
            f.write(SECRET)
        with open(os.path.join(self.gout, "secret"), "wb") as f:
            f.write(DECOY)
        self.populate()
        self.outside_before = snapshot(self.hout)
        self.b = None

    def populate(self):
        pass

    def mount(self, *args):
        self.b = Bridge(self.w, self.m, list(self.bridge_args) + list(args),
                        os.path.join(self.t, "bridge.err"))
        return self.b

    def end(self):
        """Unmount; the bridge must exit as expected, with no violation."""
        b = self.b
        rc = b.finish()
        self.assertIsNone(b.value("violation"), b.lines)
        self.assertEqual(rc, self.expect_rc, f"{b.lines} {b.errtext}")
        if rc == 0:
            self.assertIsNotNone(b.value("status"), b.lines)
        return b

    def tearDown(self):
        try:
            if self.b is not None and self.b.rc is None:
                self.end()
            self.assertEqual(snapshot(self.hout), self.outside_before,
                             "a file outside the workspace changed")
        finally:
            if mounted(self.m):
                subprocess.run(["umount", "-l", self.m], capture_output=True)
            if self.b is not None and self.b.p.poll() is None:
                self.b.p.kill()
                self.b.p.wait()
            self.tmpdir.cleanup()

    # helpers
    def mp(self, *parts):
        return os.path.join(self.m, *parts)

    def wp(self, *parts):
        return os.path.join(self.w, *parts)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def write(self, path, data, mode="wb"):
        with open(path, mode) as f:
            f.write(data)

    def assertErrno(self, err, fn, *args):
        with self.assertRaises(OSError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.errno, err,
                         f"{fn.__name__}{args}: {cm.exception}")


class TestFiles(FsdTest):
    """Ordinary file work, seen on the host at once."""

    def test_create_write_append_read_truncate(self):
        self.mount()
        fd = os.open(self.mp("a"), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o640)
        os.write(fd, b"hello ")
        # written through: the host has it before the file is closed
        self.assertEqual(self.read(self.wp("a")), b"hello ")
        os.close(fd)
        self.write(self.mp("a"), b"world\n", "ab")
        self.assertEqual(self.read(self.mp("a")), b"hello world\n")
        self.assertEqual(self.read(self.wp("a")), b"hello world\n")
        st = os.stat(self.wp("a"))
        self.assertEqual((st.st_uid, st.st_gid), (os.getuid(), os.getgid()))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        mst = os.stat(self.mp("a"))
        self.assertEqual((mst.st_uid, mst.st_gid), (os.getuid(), os.getgid()))
        self.assertEqual(mst.st_size, 12)

        os.truncate(self.mp("a"), 5)
        self.assertEqual(self.read(self.wp("a")), b"hello")
        with open(self.mp("a"), "r+b") as f:
            f.truncate(2)
            self.assertEqual(self.read(self.wp("a")), b"he")
        self.write(self.mp("a"), b"new")       # O_TRUNC
        self.assertEqual(self.read(self.wp("a")), b"new")
        os.chmod(self.mp("a"), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.wp("a")).st_mode), 0o600)
        os.utime(self.mp("a"), (1000000000, 1200000000))
        self.assertEqual(os.stat(self.wp("a")).st_mtime, 1200000000)

        # a large write (several 128 KiB requests) and read back
        big = os.urandom(1024 * 1024 + 17)
        self.write(self.mp("big"), big)
        self.assertEqual(self.read(self.wp("big")), big)
        self.assertEqual(self.read(self.mp("big")), big)

        os.unlink(self.mp("a"))
        self.assertFalse(os.path.lexists(self.wp("a")))
        self.assertErrno(errno.ENOENT, os.stat, self.mp("a"))

    def test_rename_and_delete(self):
        self.mount()
        os.makedirs(self.mp("d1", "sub"))
        os.mkdir(self.mp("d2"))
        self.assertTrue(os.path.isdir(self.wp("d1", "sub")))
        self.write(self.mp("d1", "f"), b"f")
        self.write(self.mp("d1", "sub", "g"), b"g")

        # a file within a directory, then across directories
        os.rename(self.mp("d1", "f"), self.mp("d1", "f2"))
        self.assertEqual(sorted(os.listdir(self.wp("d1"))), ["f2", "sub"])
        os.rename(self.mp("d1", "f2"), self.mp("d2", "f3"))
        self.assertEqual(self.read(self.wp("d2", "f3")), b"f")
        self.assertEqual(self.read(self.mp("d2", "f3")), b"f")
        self.assertFalse(os.path.lexists(self.wp("d1", "f2")))

        # a directory across directories; what is beneath follows
        os.rename(self.mp("d1", "sub"), self.mp("d2", "sub2"))
        self.assertEqual(self.read(self.wp("d2", "sub2", "g")), b"g")
        self.assertEqual(self.read(self.mp("d2", "sub2", "g")), b"g")
        self.write(self.mp("d2", "sub2", "g"), b"g2")
        self.assertEqual(self.read(self.wp("d2", "sub2", "g")), b"g2")

        # rename over an existing file replaces it
        self.write(self.mp("d2", "other"), b"other")
        os.rename(self.mp("d2", "f3"), self.mp("d2", "other"))
        self.assertEqual(self.read(self.wp("d2", "other")), b"f")
        self.assertFalse(os.path.lexists(self.wp("d2", "f3")))

        # RENAME_NOREPLACE over an existing name: EEXIST, nothing moves
        self.write(self.mp("d2", "x"), b"x")
        AT_FDCWD, RENAME_NOREPLACE = -100, 1
        r = libc.renameat2(AT_FDCWD, self.mp("d2", "x").encode(), AT_FDCWD,
                           self.mp("d2", "other").encode(), RENAME_NOREPLACE)
        self.assertEqual((r, ctypes.get_errno()), (-1, errno.EEXIST))
        self.assertEqual(self.read(self.wp("d2", "other")), b"f")
        r = libc.renameat2(AT_FDCWD, self.mp("d2", "x").encode(), AT_FDCWD,
                           self.mp("d2", "y").encode(), RENAME_NOREPLACE)
        self.assertEqual(r, 0, os.strerror(ctypes.get_errno()))
        self.assertEqual(self.read(self.wp("d2", "y")), b"x")
        # RENAME_EXCHANGE swaps
        RENAME_EXCHANGE = 2
        r = libc.renameat2(AT_FDCWD, self.mp("d2", "y").encode(), AT_FDCWD,
                           self.mp("d2", "other").encode(), RENAME_EXCHANGE)
        self.assertEqual(r, 0, os.strerror(ctypes.get_errno()))
        self.assertEqual(self.read(self.wp("d2", "y")), b"f")
        self.assertEqual(self.read(self.wp("d2", "other")), b"x")
        self.assertEqual(self.read(self.mp("d2", "other")), b"x")

        # a hard link within the mount
        os.link(self.mp("d2", "y"), self.mp("d2", "ylink"))
        self.assertEqual(os.stat(self.wp("d2", "y")).st_nlink, 2)

        # delete files and directories
        self.assertErrno(errno.ENOTEMPTY, os.rmdir, self.mp("d2"))
        for n in ("y", "ylink", "other"):
            os.unlink(self.mp("d2", n))
        os.unlink(self.mp("d2", "sub2", "g"))
        os.rmdir(self.mp("d2", "sub2"))
        os.rmdir(self.mp("d2"))
        os.rmdir(self.mp("d1"))
        self.assertEqual(os.listdir(self.w), [])
        self.assertEqual(os.listdir(self.m), [])

    def test_host_edit_seen_after_reopen(self):
        self.mount()
        self.write(self.mp("f"), b"one\n")
        self.assertEqual(self.read(self.mp("f")), b"one\n")
        # same size: data is re-read at each open (no FOPEN_KEEP_CACHE)
        self.write(self.wp("f"), b"two\n")
        self.assertEqual(self.read(self.mp("f")), b"two\n")
        # a new size: seen once the cached attributes expire (1 s)
        self.write(self.wp("f"), b"three, longer\n")
        time.sleep(ATTR_CACHE_S + 0.2)
        self.assertEqual(self.read(self.mp("f")), b"three, longer\n")
        # a file the host made, and one it removed
        self.write(self.wp("g"), b"host made\n")
        self.assertEqual(self.read(self.mp("g")), b"host made\n")
        os.unlink(self.wp("g"))
        time.sleep(ATTR_CACHE_S + 0.2)
        self.assertErrno(errno.ENOENT, open, self.mp("g"))
        self.assertNotIn("g", os.listdir(self.m))

    def test_git(self):
        self.mount()
        repo = self.mp("repo")
        os.mkdir(repo)
        env = dict(os.environ, HOME=self.t, GIT_CONFIG_NOSYSTEM="1",
                   GIT_CONFIG_GLOBAL="/dev/null")
        ident = ["-c", "user.name=Capsem Test", "-c", "user.email=t@example.org"]

        def git(*args, cwd=repo):
            r = subprocess.run(["git", *ident, *args], cwd=cwd, env=env,
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, f"git {args}: {r.stderr}")
            return r.stdout

        git("init", "-q", "-b", "main")
        os.makedirs(os.path.join(repo, "src", "deep"))
        for i in range(20):
            self.write(os.path.join(repo, "src", f"f{i}.txt"),
                       f"file {i}\n".encode() * (i + 1))
        self.write(os.path.join(repo, "src", "deep", "x.c"), b"int x;\n")
        os.symlink("f1.txt", os.path.join(repo, "src", "link"))
        git("add", "-A")
        git("commit", "-q", "-m", "first")
        self.assertEqual(git("status", "--porcelain"), "")
        self.write(os.path.join(repo, "src", "f0.txt"), b"changed\n")
        self.assertIn("src/f0.txt", git("status", "--porcelain"))
        git("commit", "-q", "-am", "second")
        self.assertEqual(git("status", "--porcelain"), "")
        # the host's copy is a good repository
        host = self.wp("repo")
        log = git("log", "--format=%s", cwd=host)
        self.assertEqual(log.split(), ["second", "first"])
        git("fsck", "--strict", cwd=host)
        self.assertEqual(git("status", "--porcelain", cwd=host), "")
        self.assertEqual(os.readlink(os.path.join(host, "src", "link")),
                         "f1.txt")

    def test_python_venv(self):
        self.mount()
        venv = self.mp("venv")
        r = subprocess.run([sys.executable, "-m", "venv", venv],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                            "import sys; print(sys.prefix)"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), venv)
        self.assertTrue(os.path.isfile(self.wp("venv", "pyvenv.cfg")))
        self.assertTrue(os.path.islink(self.wp("venv", "bin", "python")))

    def test_many_files(self):
        self.mount()
        d = self.mp("many")
        os.mkdir(d)
        n = 10000
        for i in range(n):
            os.close(os.open(os.path.join(d, f"file-{i:05d}"),
                             os.O_CREAT | os.O_WRONLY, 0o644))
        names = os.listdir(d)
        self.assertEqual(len(names), n)
        self.assertEqual(set(names), {f"file-{i:05d}" for i in range(n)})
        for name in names:
            self.assertTrue(stat.S_ISREG(os.stat(os.path.join(d, name)).st_mode))
        self.assertEqual(len(os.listdir(self.wp("many"))), n)
        with os.scandir(d) as it:
            self.assertEqual(sum(1 for e in it if e.is_file()), n)


class TestInodeBound(FsdTest):
    bridge_args = ("-i", "1000")

    def test_enfile_when_full(self):
        b = self.mount()
        enfile = 0
        made = []
        for i in range(3000):
            p = self.mp(f"f{i}")
            try:
                os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
                made.append(p)
            except OSError as e:
                self.assertEqual(e.errno, errno.ENFILE, str(e))
                enfile += 1
        # hold what the mount has: stat every file that was made
        for p in made:
            os.stat(p)
        self.assertGreater(enfile, 0)
        self.assertLess(len(made), 1000)
        # a file refused its node was not made on the host either
        self.assertEqual(len(os.listdir(self.w)), len(made))
        self.assertTrue(alive(b.fsd))
        self.assertIsNone(b.p.poll())
        # a lookup of a host file the table has no room for: ENFILE too
        self.write(self.wp("hostmade"), b"x")
        self.assertErrno(errno.ENFILE, os.stat, self.mp("hostmade"))
        # what it holds still works
        self.write(made[0], b"still works")
        self.assertEqual(self.read(self.wp("f0")), b"still works")
        self.end()
        self.assertGreater(int(b.value("inodes_full")), 0)
        self.assertIn("nodes", b.value("status"))


class TestReadOnly(FsdTest):
    bridge_args = ("-r",)

    def populate(self):
        self.write(self.wp("f"), b"keep\n")
        os.chmod(self.wp("f"), 0o644)
        os.makedirs(self.wp("d", "empty"))
        self.write(self.wp("d", "g"), b"g\n")
        os.symlink("f", self.wp("l"))

    def test_every_change_erofs(self):
        before = snapshot(self.w)
        self.mount()
        E = errno.EROFS
        self.assertEqual(self.read(self.mp("f")), b"keep\n")
        self.assertEqual(self.read(self.mp("d", "g")), b"g\n")
        self.assertEqual(os.readlink(self.mp("l")), "f")
        self.assertEqual(sorted(os.listdir(self.mp("d"))), ["empty", "g"])
        cases = [
            ("create", os.open, self.mp("new"), os.O_CREAT | os.O_WRONLY),
            ("create excl", os.open, self.mp("new"),
             os.O_CREAT | os.O_EXCL | os.O_RDWR),
            ("write", os.open, self.mp("f"), os.O_WRONLY),
            ("read-write", os.open, self.mp("f"), os.O_RDWR),
            ("append", os.open, self.mp("f"), os.O_WRONLY | os.O_APPEND),
            ("O_TRUNC", os.open, self.mp("f"), os.O_RDONLY | os.O_TRUNC),
            ("mkdir", os.mkdir, self.mp("nd")),
            ("unlink", os.unlink, self.mp("f")),
            ("unlink link", os.unlink, self.mp("l")),
            ("rmdir", os.rmdir, self.mp("d", "empty")),
            ("rename", os.rename, self.mp("f"), self.mp("f2")),
            ("rename dir", os.rename, self.mp("d"), self.mp("d2")),
            ("chmod", os.chmod, self.mp("f"), 0o600),
            ("chmod dir", os.chmod, self.mp("d"), 0o700),
            ("truncate", os.truncate, self.mp("f"), 0),
            ("symlink", os.symlink, "f", self.mp("s")),
            ("link", os.link, self.mp("f"), self.mp("h")),
            ("utime", os.utime, self.mp("f"), (1, 1)),
            ("mkfifo", os.mkfifo, self.mp("p")),
        ]
        for case in cases:
            with self.subTest(case[0]):
                self.assertErrno(E, *case[1:])
        self.assertEqual(snapshot(self.w), before)
        # still serving reads after all that
        self.assertEqual(self.read(self.mp("f")), b"keep\n")


class TestEscapes(FsdTest):
    def test_symlinks_made_through_the_mount(self):
        self.mount()
        os.symlink("/etc/passwd", self.mp("abs"))
        os.symlink("../outside/secret", self.mp("rel"))
        # stored as symlinks, the targets as text
        self.assertEqual(os.readlink(self.wp("abs")), "/etc/passwd")
        self.assertEqual(os.readlink(self.wp("rel")), "../outside/secret")
        self.assertTrue(os.path.islink(self.wp("rel")))
        passwd = snapshot_file("/etc/passwd")
        # the relative link resolves client-side, beside the mount
        self.write(self.mp("rel"), b"through the link\n")
        self.assertEqual(self.read(os.path.join(self.gout, "secret")),
                         b"through the link\n")
        self.assertEqual(self.read(os.path.join(self.hout, "secret")), SECRET)
        self.assertEqual(snapshot_file("/etc/passwd"), passwd)
        self.assertTrue(os.path.islink(self.wp("rel")))

    def test_host_planted_symlink(self):
        os.symlink(os.path.join(self.hout, "secret"), self.wp("abs"))
        os.symlink("../outside/secret", self.wp("rel"))
        os.symlink("..", self.wp("up"))
        self.mount()
        for name, target in (("abs", os.path.join(self.hout, "secret")),
                             ("rel", "../outside/secret"), ("up", "..")):
            st = os.lstat(self.mp(name))
            self.assertTrue(stat.S_ISLNK(st.st_mode), name)
            self.assertEqual(os.readlink(self.mp(name)), target)
        # followed by the client, relative to the mount: the decoy
        self.assertEqual(self.read(self.mp("rel")), DECOY)
        self.assertEqual(os.path.realpath(self.mp("up")), self.gm)
        # writing through them changes nothing of the host's
        self.write(self.mp("rel"), b"x")
        self.assertEqual(self.read(os.path.join(self.hout, "secret")), SECRET)

    def test_dotdot_at_root_is_the_clients(self):
        self.mount()
        self.assertEqual(os.stat(self.mp("..")).st_ino, os.stat(self.gm).st_ino)
        self.assertEqual(sorted(os.listdir(self.mp(".."))), ["m", "outside"])
        self.assertEqual(self.read(self.mp("..", "outside", "secret")), DECOY)
        fd = os.open(self.m, os.O_RDONLY | os.O_DIRECTORY)
        try:
            st = os.stat("..", dir_fd=fd)
            self.assertEqual(st.st_ino, os.stat(self.gm).st_ino)
        finally:
            os.close(fd)

    def test_hard_links_across_the_mount(self):
        self.mount()
        self.write(self.mp("in"), b"in")
        self.assertErrno(errno.EXDEV, os.link,
                         os.path.join(self.hout, "secret"), self.mp("s"))
        self.assertErrno(errno.EXDEV, os.link, self.mp("in"),
                         os.path.join(self.hout, "in"))
        self.assertEqual(os.listdir(self.w), ["in"])

    def test_no_special_files_made(self):
        self.mount()
        self.assertErrno(errno.EPERM, os.mkfifo, self.mp("fifo"))
        self.assertErrno(errno.EPERM, os.mknod, self.mp("null"),
                         stat.S_IFCHR | 0o666, os.makedev(1, 3))
        self.assertErrno(errno.EPERM, os.mknod, self.mp("blk"),
                         stat.S_IFBLK | 0o666, os.makedev(7, 0))
        # a socket bound in the mount is an S_IFSOCK MKNOD: refused too
        import socket
        s = socket.socket(socket.AF_UNIX)
        try:
            self.assertErrno(errno.EPERM, s.bind, self.mp("sock"))
        finally:
            s.close()
        os.mknod(self.mp("reg"), stat.S_IFREG | 0o644)
        self.assertEqual(os.listdir(self.w), ["reg"])
        self.assertTrue(stat.S_ISREG(os.lstat(self.wp("reg")).st_mode))

    def test_setuid_setgid_dropped(self):
        self.mount()
        self.write(self.mp("f"), b"#!/bin/sh\n")
        os.mkdir(self.mp("d"))
        for mode in (0o4755, 0o2755, 0o6755):
            os.chmod(self.mp("f"), mode)
            st = os.stat(self.wp("f"))
            self.assertEqual(st.st_mode & (stat.S_ISUID | stat.S_ISGID), 0,
                             oct(mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o755)
        os.chmod(self.mp("d"), 0o2775)
        self.assertEqual(os.stat(self.wp("d")).st_mode & stat.S_ISGID, 0)
        fd = os.open(self.mp("g"), os.O_CREAT | os.O_WRONLY, 0o6755)
        os.close(fd)
        self.assertEqual(os.stat(self.wp("g")).st_mode &
                         (stat.S_ISUID | stat.S_ISGID), 0)
        # a setuid file the host has is shown without the bit
        self.write(self.wp("h"), b"x")
        os.chmod(self.wp("h"), 0o4755)
        self.assertEqual(os.stat(self.mp("h")).st_mode & stat.S_ISUID, 0)
        # chown: only to the user itself
        os.chown(self.mp("f"), os.getuid(), os.getgid())
        self.assertErrno(errno.EPERM, os.chown, self.mp("f"), 1234, -1)
        self.assertErrno(errno.EPERM, os.chown, self.mp("f"), -1, 1234)
        self.assertEqual(os.stat(self.wp("f")).st_uid, os.getuid())

    def test_host_planted_fifo_and_device(self):
        os.mkfifo(self.wp("fifo"))
        os.mknod(self.wp("null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
        b = self.mount()
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.mp("fifo")).st_mode))
        st = os.lstat(self.mp("null"))
        self.assertTrue(stat.S_ISCHR(st.st_mode))
        self.assertEqual(st.st_rdev, 0)        # the device number is hidden
        # the device: the mount is nodev, and fsd would give no device
        for flags in (os.O_RDONLY, os.O_WRONLY):
            with self.assertRaises(OSError) as cm:
                os.close(os.open(self.mp("null"), flags))
            self.assertIn(cm.exception.errno, (errno.EACCES, errno.EPERM,
                                               errno.ENXIO))
        # a FIFO is opened by the client's kernel as its own pipe: the
        # host's FIFO never gets a reader (its writer sees ENXIO) and
        # fsd is never asked to open it
        fd = os.open(self.mp("fifo"), os.O_RDONLY | os.O_NONBLOCK)
        try:
            self.assertErrno(errno.ENXIO, os.open, self.wp("fifo"),
                             os.O_WRONLY | os.O_NONBLOCK)
        finally:
            os.close(fd)
        # the bridge and fsd still serve
        self.write(self.mp("after"), b"ok")
        self.assertEqual(self.read(self.wp("after")), b"ok")
        self.assertTrue(alive(b.fsd))
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.wp("fifo")).st_mode))

    def test_file_handles(self):
        self.write(self.wp("f"), b"inside")
        self.mount()

        class FileHandle(ctypes.Structure):
            _fields_ = [("handle_bytes", ctypes.c_uint),
                        ("handle_type", ctypes.c_int),
                        ("f_handle", ctypes.c_ubyte * 128)]

        def handle_of(path):
            h = FileHandle()
            h.handle_bytes = 128
            mnt_id = ctypes.c_int()
            r = libc.name_to_handle_at(-100, path.encode(), ctypes.byref(h),
                                       ctypes.byref(mnt_id), 0)
            return (h if r == 0 else None), ctypes.get_errno()

        def open_handle(mfd, h):
            fd = libc.open_by_handle_at(mfd, ctypes.byref(h), os.O_RDONLY)
            return fd, ctypes.get_errno()

        mfd = os.open(self.m, os.O_RDONLY | os.O_DIRECTORY)
        try:
            h, err = handle_of(self.mp("f"))
            if h is not None:
                # the client's kernel may reopen a node it holds: the same
                # file, inside the workspace
                fd, err = open_handle(mfd, h)
                if fd >= 0:
                    self.assertEqual(os.read(fd, 100), b"inside")
                    self.assertEqual(os.fstat(fd).st_ino,
                                     os.stat(self.mp("f")).st_ino)
                    os.close(fd)
                # a node id the client does not hold: fsd offers no
                # export, so the handle goes nowhere
                forged = FileHandle()
                ctypes.memmove(ctypes.byref(forged), ctypes.byref(h),
                               ctypes.sizeof(h))
                for i in range(min(8, h.handle_bytes)):
                    forged.f_handle[i] = 0x7f if i == 0 else 0
                fd, err = open_handle(mfd, forged)
                self.assertEqual(fd, -1)
                self.assertIn(err, (errno.ESTALE, errno.EINVAL,
                                    errno.EOPNOTSUPP))
            else:
                self.assertIn(err, (errno.EOPNOTSUPP, errno.EINVAL))
            # a handle of the host's outside file, tried on the mount
            hh, err = handle_of(os.path.join(self.hout, "secret"))
            if hh is not None:
                fd, err = open_handle(mfd, hh)
                if fd >= 0:
                    data = os.read(fd, 100)
                    os.close(fd)
                    self.fail(f"host handle opened through the mount: {data}")
                self.assertIn(err, (errno.ESTALE, errno.EINVAL,
                                    errno.EOPNOTSUPP))
        finally:
            os.close(mfd)

    def test_rename_racing_lookup(self):
        os.makedirs(self.wp("a", "inner"))
        self.write(self.wp("a", "f"), b"beneath\n")
        self.write(self.wp("a", "inner", "g"), b"deeper\n")
        os.symlink("../../outside/secret", self.wp("a", "esc"))
        b = self.mount()
        done = threading.Event()
        errors = []
        seen = []

        def renamer():
            try:
                for _ in range(2000):
                    os.rename(self.mp("a"), self.mp("b"))
                    os.rename(self.mp("b"), self.mp("a"))
            except OSError as e:
                errors.append(f"rename: {e}")
            finally:
                done.set()

        def looker():
            n = 0
            while not done.is_set():
                for top in ("a", "b"):
                    for rel, want in (("f", b"beneath\n"),
                                      ("inner/g", b"deeper\n")):
                        try:
                            os.stat(self.mp(top, rel))
                            data = self.read(self.mp(top, rel))
                        except FileNotFoundError:
                            continue
                        except OSError as e:
                            if e.errno in (errno.ENOENT, errno.ESTALE):
                                continue
                            errors.append(f"{top}/{rel}: {e}")
                            return
                        n += 1
                        if data != want:
                            errors.append(f"{top}/{rel} read {data!r}")
                            return
                    try:
                        os.lstat(self.mp(top, "esc"))
                    except OSError:
                        pass
            seen.append(n)

        threads = [threading.Thread(target=renamer),
                   threading.Thread(target=looker),
                   threading.Thread(target=looker)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertTrue(alive(b.fsd))
        self.assertIsNone(b.p.poll())
        self.assertEqual(sorted(os.listdir(self.w)), ["a"])
        self.assertEqual(sorted(os.listdir(self.wp("a"))),
                         ["esc", "f", "inner"])
        self.assertEqual(self.read(self.wp("a", "f")), b"beneath\n")
        self.assertEqual(self.read(self.mp("a", "inner", "g")), b"deeper\n")
        self.assertEqual(os.readlink(self.wp("a", "esc")),
                         "../../outside/secret")
        self.assertEqual(self.read(os.path.join(self.gout, "secret")), DECOY)


def snapshot_file(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return (st.st_mtime_ns, st.st_size, hashlib.sha256(f.read()).digest())


class TestSandbox(FsdTest):
    def test_confinement(self):
        self.write(self.wp("f"), b"x")
        b = self.mount()
        for word in ("caps=none", "nnp=yes", "seccomp=kill", "netns=empty",
                     "root=empty"):
            self.assertIn(word, b.ready.split())
        st = proc_status(b.fsd)
        self.assertEqual(int(st["CapEff"], 16), 0)
        self.assertEqual(int(st["CapPrm"], 16), 0)
        self.assertEqual(st["NoNewPrivs"], "1")
        self.assertEqual(st["Seccomp"], "2")
        self.assertEqual(st["Uid"].split()[0], str(os.getuid()))
        self.assertNotEqual(os.readlink(f"/proc/{b.fsd}/ns/net"),
                            os.readlink("/proc/self/ns/net"))
        with open(f"/proc/{b.fsd}/net/dev") as f:
            ifaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
        self.assertEqual(ifaces, ["lo"])
        self.assertEqual(os.listdir(f"/proc/{b.fsd}/root"), [])
        # hold a file open through the mount so fsd has one
        with open(self.mp("f"), "rb") as held:
            held.read()
            links = {}
            for fd in os.listdir(f"/proc/{b.fsd}/fd"):
                try:
                    links[int(fd)] = os.readlink(f"/proc/{b.fsd}/fd/{fd}")
                except FileNotFoundError:
                    pass
        self.assertIn(self.w, links.values())
        self.assertTrue(any(v == self.wp("f") for v in links.values()),
                        links)
        for fd, target in links.items():
            if fd <= 2:
                continue        # stdio, as the bridge left it: the log
            ok = (target.startswith("socket:") or
                  target.startswith("anon_inode:") or
                  target == self.w or target.startswith(self.w + "/"))
            self.assertTrue(ok, f"fd {fd} -> {target}")

    def test_forbidden_syscalls_kill(self):
        for call in ("open", "socket"):
            with self.subTest(call):
                r = subprocess.run([FSD, f"--test-forbidden={call}"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, -signal.SIGSYS, r.stderr)


class TestFsdKilled(FsdTest):
    expect_rc = 4

    def test_kill_fsd_while_mounted(self):
        self.write(self.wp("f"), b"x")
        b = self.mount()
        self.assertEqual(self.read(self.mp("f")), b"x")
        os.kill(b.fsd, signal.SIGKILL)
        self.assertEqual(b.p.wait(timeout=60), 4)
        self.assertIn("fsd closed the channel", b.stderr())
        # the mount is dead (cached attributes aside: a new lookup and an
        # open must ask) but goes away without a hang
        for fn, args in ((os.stat, (self.mp("new"),)),
                         (os.open, (self.mp("f"), os.O_RDONLY))):
            with self.assertRaises(OSError) as cm:
                fn(*args)
            self.assertEqual(cm.exception.errno, errno.ENOTCONN)
        r = subprocess.run(["umount", "-l", self.m], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(mounted(self.m))
        self.end()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    BRIDGE = os.path.abspath(sys.argv[1])
    FSD = os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        sys.exit("test_fsd.py: must run as root (mount, /dev/fuse, mknod)")
    unittest.main(argv=[sys.argv[0], "-v", *sys.argv[3:]])
