#!/usr/bin/env python3
"""The capsem guest kernel boots and has what the guest needs.

    kernel_boot_test.py CAPSEM-INIT

Builds (or finds in its cache) the kernel with guest/kernel/build.sh, then
boots it under qemu-system-x86_64 -accel tcg -M microvm,acpi=off twice -- the
bzImage, and the uncompressed vmlinux through its PVH entry (how capsem-vmm
boots it) -- with a busybox initrd whose /init prints CHECK lines:
  - a virtio-mmio device given on the command line (virtio-rng) is bound;
  - dummy0 exists (DUMMY=y creates it), takes an address and a default route;
  - the nft ruleset capsem-init loads (redirect + reject) loads;
  - erofs, squashfs, overlay, ext4, fuse and virtiofs are in /proc/filesystems;
  - an erofs image on a virtio-blk device mounts read-only;
  - no module support, no IPv6 (no /proc/net/if_inet6), no PCI bus.
The guest powers off with `reboot -f` (reboot=t). Suite 'vm' (slow: the first
kernel build takes ~13 minutes on 2 cores).
"""
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guestboot  # noqa: E402

CHECKS = [
    "virtio-mmio-rng", "dummy0", "dummy0-route", "nft-rules", "nft-redirect",
    "fs-erofs", "fs-squashfs", "fs-overlay", "fs-ext4", "fs-fuse", "fs-virtiofs",
    "erofs-mount", "no-modules", "no-ipv6", "no-pci",
]

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "STAGE init $(cut -d' ' -f1 /proc/uptime)"
check() { if "$@" >/dev/null 2>&1; then echo "CHECK $NAME ok"; else echo "CHECK $NAME FAILED"; fi; }
NAME=virtio-mmio-rng check grep -q virtio_rng /sys/class/misc/hw_random/rng_available
NAME=dummy0 check ip link show dummy0
ip addr add 10.0.2.15/24 dev dummy0; ip link set dummy0 up
NAME=dummy0-route check ip route add default dev dummy0
/capsem-init --print-rules > /rules.nft
NAME=nft-rules check /usr/sbin/nft -f /rules.nft
NAME=nft-redirect check sh -c '/usr/sbin/nft list ruleset | grep -q "redirect to :10443"'
for fs in erofs squashfs overlay ext4 fuse virtiofs; do
    NAME=fs-$fs check grep -qw $fs /proc/filesystems
done
mkdir -p /mnt
NAME=erofs-mount check sh -c 'mount -t erofs -o ro /dev/vda /mnt && cat /mnt/marker | grep -q capsem-erofs'
NAME=no-modules check sh -c '! test -e /proc/modules'
NAME=no-ipv6 check sh -c '! test -e /proc/net/if_inet6'
NAME=no-pci check sh -c '! test -e /sys/bus/pci'
echo "STAGE done $(cut -d' ' -f1 /proc/uptime)"
reboot -f
"""


def make_initrd(tmp, capsem_init):
    root = os.path.join(tmp, "root")
    guestboot.add_busybox(root)
    guestboot.copy_with_libs("/usr/sbin/nft", root)
    guestboot.copy_file(capsem_init, root, "/capsem-init")
    guestboot.write_exec(os.path.join(root, "init"), INIT)
    initrd = os.path.join(tmp, "initrd.gz")
    guestboot.make_cpio(root, initrd)
    return initrd


def make_erofs(tmp):
    src = os.path.join(tmp, "erofs-src")
    os.makedirs(src)
    with open(os.path.join(src, "marker"), "w") as f:
        f.write("capsem-erofs\n")
    img = os.path.join(tmp, "test.erofs")
    subprocess.run(["mkfs.erofs", "--quiet", img, src], check=True)
    return img


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    missing = guestboot.need("qemu-system-x86_64", guestboot.BUSYBOX,
                             "/usr/sbin/nft", "cpio", "mkfs.erofs")
    if missing:
        print(f"SKIP: missing {' '.join(missing)}")
        return 77
    kdir = guestboot.build_kernel()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="capsem-kboot-") as tmp:
        initrd = make_initrd(tmp, os.path.abspath(sys.argv[1]))
        img = make_erofs(tmp)
        devices = ["-device", "virtio-rng-device",
                   "-drive", f"id=vda,file={img},format=raw,if=none,readonly=on",
                   "-device", "virtio-blk-device,drive=vda"]
        for name, kernel in (("bzImage", "bzImage"), ("vmlinux (PVH)", "vmlinux")):
            out, secs = guestboot.qemu_boot(os.path.join(kdir, kernel), initrd,
                                            extra=devices)
            print(f"# {name}: booted and ended in {secs:.1f} s")
            for check in CHECKS:
                if f"CHECK {check} ok" in out:
                    print(f"ok - {name}: {check}")
                else:
                    failed += 1
                    print(f"not ok - {name}: {check}")
            if "STAGE done" not in out:
                failed += 1
                print(f"not ok - {name}: init did not finish")
            if failed:
                print("# console output:")
                print("\n".join("# " + line for line in out.splitlines()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
