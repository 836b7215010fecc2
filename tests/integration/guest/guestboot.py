"""Helpers to boot the capsem guest kernel under qemu (TCG, microvm) with a
test initrd. Used by kernel_boot_test.py, init_boot_test.py and
bench/boot-kernel/bench.py.

Needs: qemu-system-x86, busybox-static, nftables, cpio, gzip.
"""
import os
import re
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BUILD_SH = os.path.join(SOURCE_ROOT, "guest", "kernel", "build.sh")
BUSYBOX = "/bin/busybox"


def need(*programs):
    """Names of the programs missing from PATH/absolute paths."""
    missing = []
    for p in programs:
        if os.path.isabs(p):
            if not os.access(p, os.X_OK):
                missing.append(p)
        elif shutil.which(p) is None:
            missing.append(p)
    return missing


def build_kernel():
    """Run guest/kernel/build.sh (cached); returns its output directory."""
    r = subprocess.run([BUILD_SH], stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("guest/kernel/build.sh failed")
    lines = r.stdout.strip().splitlines()
    return lines[-1]


def tsc_khz():
    """The host TSC frequency: under TCG the guest TSC follows the host's.
    Given to the guest as tsc_early_khz= so it never calibrates (which can
    hang a micro-VM without a timer reference on a busy host)."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            m = re.match(r"cpu MHz\s*:\s*([0-9.]+)", line)
            if m:
                return int(float(m.group(1)) * 1000)
    return 2000000


def copy_file(src, root, dst=None):
    dst = os.path.join(root, (dst or src).lstrip("/"))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(os.path.realpath(src), dst)
    return dst


def copy_with_libs(binary, root):
    """Copy a dynamic binary and the shared libraries ldd lists."""
    copy_file(binary, root)
    out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        m = re.search(r"(/\S+)", line.split("=>")[-1])
        if m and os.path.exists(m.group(1)):
            copy_file(m.group(1), root)


def add_busybox(root):
    copy_file(BUSYBOX, root, "/bin/busybox")
    for d in ("proc", "sys", "dev", "tmp", "etc", "sbin", "usr/bin", "usr/sbin"):
        os.makedirs(os.path.join(root, d), exist_ok=True)


def make_cpio(root, out):
    """A gzip'd newc cpio of root, files owned by 0:0."""
    with open(out, "wb") as f:
        find = subprocess.Popen(["find", "."], cwd=root, stdout=subprocess.PIPE)
        cpio = subprocess.Popen(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
                                cwd=root, stdin=find.stdout, stdout=subprocess.PIPE)
        find.stdout.close()
        gz = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=f)
        cpio.stdout.close()
        if gz.wait() != 0 or cpio.wait() != 0 or find.wait() != 0:
            raise RuntimeError("making the initrd failed")


def write_exec(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def qemu_boot(kernel, initrd, append="", extra=(), timeout=300, memory=256):
    """Boot under qemu microvm (TCG, acpi=off so virtio-mmio devices are put
    on the command line). The serial console is the returned output; the
    guest ends with a reboot (reboot=t) and -no-reboot makes qemu exit.
    Returns (output, seconds of wall time)."""
    cmdline = f"console=ttyS0 reboot=t panic=-1 tsc_early_khz={tsc_khz()} {append}"
    argv = ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", "tcg",
            "-m", str(memory), "-smp", "1", "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", cmdline.strip()]
    argv += list(extra)
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        out = r.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") + "\n[qemu timed out]\n"
    return out, time.monotonic() - t0
