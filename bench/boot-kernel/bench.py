#!/usr/bin/env python3
"""Boot time to init: the capsem guest kernel against Debian's stock kernel.

    bench/boot-kernel/bench.py [-n RUNS]

Both kernels boot the same busybox initrd under qemu-system-x86_64 -accel tcg
-M microvm,acpi=off (this machine has no /dev/kvm), each as a bzImage and as
an uncompressed vmlinux through its PVH entry (how capsem-vmm boots). The
/init prints the guest's /proc/uptime when it starts and powers off at once.
Printed per configuration: median time to init (guest uptime) and median wall
time of the whole qemu run, then the stock/capsem ratios. Not a test: no
thresholds.

Debian's kernel is fetched with `apt-get download` (linux-image-amd64's
dependency) into ${CAPSEM_CACHE:-/var/cache/capsem}/bench/ and unpacked with
dpkg-deb -x; nothing is installed. Needs qemu-system-x86, busybox-static,
cpio, xz-utils; the capsem kernel comes from guest/kernel/build.sh (cached).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration", "guest"))
import guestboot  # noqa: E402

INIT = r"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "INIT-UPTIME $(/bin/busybox cut -d' ' -f1 /proc/uptime)"
/bin/busybox reboot -f
"""


def stock_kernel():
    """Download and unpack Debian's stock kernel; return (vmlinuz, vmlinux)."""
    cache = os.path.join(os.environ.get("CAPSEM_CACHE", "/var/cache/capsem"), "bench")
    os.makedirs(cache, exist_ok=True)
    deps = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout
    m = re.search(r"Depends: (linux-image-\S+-amd64)", deps)
    if not m:
        raise RuntimeError("cannot find the package linux-image-amd64 depends on")
    pkg = m.group(1)
    root = os.path.join(cache, pkg)
    if not os.path.isdir(os.path.join(root, "boot")):
        subprocess.run(["apt-get", "download", pkg], cwd=cache, check=True,
                       stdout=subprocess.DEVNULL)
        debs = [f for f in os.listdir(cache) if f.startswith(pkg + "_") and f.endswith(".deb")]
        subprocess.run(["dpkg-deb", "-x", os.path.join(cache, debs[0]), root], check=True)
    boot = os.path.join(root, "boot")
    vmlinuz = os.path.join(boot, [f for f in os.listdir(boot) if f.startswith("vmlinuz-")][0])
    vmlinux = vmlinuz.replace("vmlinuz-", "vmlinux-extracted-")
    if not os.path.exists(vmlinux):
        # The bzImage payload is XZ: decompress from its magic (FACTS.md).
        with open(vmlinuz, "rb") as f:
            data = f.read()
        off = data.find(b"\xfd7zXZ\x00")
        if off < 0:
            raise RuntimeError("no XZ payload in " + vmlinuz)
        r = subprocess.run(["xz", "-dc"], input=data[off:], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        if not r.stdout.startswith(b"\x7fELF"):
            raise RuntimeError("XZ payload of " + vmlinuz + " is not an ELF")
        with open(vmlinux, "wb") as f:
            f.write(r.stdout)
    return vmlinuz, vmlinux


def measure(kernel, initrd, runs):
    uptimes, walls = [], []
    for _ in range(runs):
        out, wall = guestboot.qemu_boot(kernel, initrd, append="quiet", timeout=180)
        m = re.search(r"INIT-UPTIME ([0-9.]+)", out)
        if not m:
            print(f"  {os.path.basename(kernel)}: init not reached", file=sys.stderr)
            print(out[-2000:], file=sys.stderr)
            return None
        uptimes.append(float(m.group(1)))
        walls.append(wall)
    return statistics.median(uptimes), statistics.median(walls)


def main():
    ap = argparse.ArgumentParser(description="capsem kernel vs stock: boot to init")
    ap.add_argument("-n", type=int, default=3, help="runs per configuration")
    args = ap.parse_args()
    missing = guestboot.need("qemu-system-x86_64", guestboot.BUSYBOX, "cpio", "xz")
    if missing:
        sys.exit(f"missing: {' '.join(missing)}")
    kdir = guestboot.build_kernel()
    stock_z, stock_x = stock_kernel()
    with tempfile.TemporaryDirectory(prefix="capsem-bench-boot-") as tmp:
        root = os.path.join(tmp, "root")
        guestboot.add_busybox(root)
        guestboot.write_exec(os.path.join(root, "init"), INIT)
        initrd = os.path.join(tmp, "initrd.gz")
        guestboot.make_cpio(root, initrd)
        configs = [("capsem bzImage", os.path.join(kdir, "bzImage")),
                   ("stock  bzImage", stock_z),
                   ("capsem vmlinux (PVH)", os.path.join(kdir, "vmlinux")),
                   ("stock  vmlinux (PVH)", stock_x)]
        results = {}
        print(f"qemu TCG microvm, median of {args.n}; stock = {os.path.basename(stock_z)}")
        print(f"{'kernel':24} {'to init (guest s)':>18} {'wall (s)':>10}")
        for name, kernel in configs:
            r = measure(kernel, initrd, args.n)
            results[name] = r
            if r:
                print(f"{name:24} {r[0]:18.3f} {r[1]:10.2f}", flush=True)
        for kind in ("bzImage", "vmlinux (PVH)"):
            ours, theirs = results.get(f"capsem {kind}"), results.get(f"stock  {kind}")
            if ours and theirs:
                print(f"ratio stock/capsem, {kind}: to init {theirs[0] / ours[0]:.1f}x, "
                      f"wall {theirs[1] / ours[1]:.1f}x")


if __name__ == "__main__":
    main()
