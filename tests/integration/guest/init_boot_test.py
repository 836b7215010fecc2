#!/usr/bin/env python3
"""capsem-init as PID 1 of the real guest kernel, end to end.

    init_boot_test.py CAPSEM-INIT CAPSEM-RELAY CAPSEM-DNS

Boots the capsem kernel under qemu (TCG, microvm) with
  - a per-session initrd as the session parent makes it: /init (capsem-init),
    /capsem/bin/{capsem-relay,capsem-dns}, /capsem/session.conf and
    /capsem/ca.pem (a fresh self-signed CA from openssl);
  - a read-only erofs root image on virtio-blk (busybox, nft, /etc/passwd with
    an unprivileged user, a system CA bundle);
  - a virtio console (hvc0) whose output goes to a file.
The session command (a shell script run as that user on hvc0) prints CHECK
lines about what an agent depends on: its uid, the CA in every trust store
variable and in the system bundle, resolv.conf, dummy0 with its address and
default route, relay and DNS forwarder running, a writable overlay over the
read-only image; then exits 7. The serial console must show init's boot
stages and the exit status, and the guest must power off by itself.
Suite 'vm'.
"""
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guestboot  # noqa: E402

SESSION_SCRIPT = r"""
check() { if "$@" >/dev/null 2>&1; then echo "CHECK $NAME ok"; else echo "CHECK $NAME FAILED"; fi; }
NAME=uid check test "$(id -u):$(id -g)" = 1000:1000
NAME=console check test "$(tty)" = /dev/hvc0
NAME=env check test "$CAPSEM_TEST" = "yes it works"
NAME=ssl-cert-file check test "$SSL_CERT_FILE" = /etc/ssl/certs/ca-certificates.crt
NAME=requests check test "$REQUESTS_CA_BUNDLE" = /etc/ssl/certs/ca-certificates.crt
NAME=curl check test "$CURL_CA_BUNDLE" = /etc/ssl/certs/ca-certificates.crt
NAME=git check test "$GIT_SSL_CAINFO" = /etc/ssl/certs/ca-certificates.crt
NAME=node check cmp "$NODE_EXTRA_CA_CERTS" /capsem/ca.pem
NAME=bundle-has-ca check grep -q "$(sed -n 2p /capsem/ca.pem)" /etc/ssl/certs/ca-certificates.crt
NAME=bundle-kept-roots check grep -q "image system roots" /etc/ssl/certs/ca-certificates.crt
NAME=resolv check grep -q "^nameserver 127.0.0.1" /etc/resolv.conf
NAME=dummy0-addr check sh -c 'ip addr show dummy0 | grep -q "inet 10.0.2.15/24"'
NAME=default-route check sh -c 'ip route | grep -q "^default dev dummy0"'
NAME=relay check pidof capsem-relay
NAME=dns check pidof capsem-dns
NAME=overlay-root check sh -c 'grep -q "^overlay / overlay" /proc/mounts'
NAME=home-writable check sh -c 'echo x > "$HOME/file" && test -s "$HOME/file"'
NAME=cwd check test "$(pwd)" = /home/agent
NAME=hostname check test "$(hostname)" = capsem-test
NAME=ssh-rejected check sh -c '! nc -w 5 203.0.113.7 22 </dev/null'
echo "SESSION done"
exit 7
"""

APPLETS = ["sh", "id", "tty", "test", "cmp", "grep", "sed", "ip", "pidof",
           "echo", "cat", "hostname", "pwd", "nc", "mount", "ls", "env"]


def make_root_image(tmp):
    root = os.path.join(tmp, "image")
    guestboot.add_busybox(root)
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", applet))
    guestboot.copy_with_libs("/usr/sbin/nft", root)
    os.makedirs(os.path.join(root, "etc", "ssl", "certs"))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n"
                "agent:x:1000:1000:agent:/home/agent:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nagent:x:1000:\nusers:x:100:agent\n")
    with open(os.path.join(root, "etc", "ssl", "certs", "ca-certificates.crt"), "w") as f:
        f.write("# image system roots\n")
    for d in ("root", "home/agent", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chown(os.path.join(root, "home", "agent"), 1000, 1000)
    img = os.path.join(tmp, "root.erofs")
    subprocess.run(["mkfs.erofs", "--quiet", img, root], check=True)
    return img


def make_session_initrd(tmp, init, relay, dns):
    root = os.path.join(tmp, "initrd")
    os.makedirs(os.path.join(root, "capsem", "bin"))
    guestboot.copy_file(init, root, "/init")
    guestboot.copy_file(relay, root, "/capsem/bin/capsem-relay")
    guestboot.copy_file(dns, root, "/capsem/bin/capsem-dns")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=capsem test CA",
                    "-keyout", os.path.join(tmp, "ca.key"),
                    "-out", os.path.join(root, "capsem", "ca.pem")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conf = ["# session.conf written by the test",
            "user=agent", "hostname=capsem-test", "root=/dev/vda",
            "rootfstype=erofs", "console=/dev/hvc0", "control=none",
            "env=CAPSEM_TEST=yes it works", "arg=/bin/sh", "arg=-c",
            "arg=" + SESSION_SCRIPT.strip().replace("\n", "; ")]
    with open(os.path.join(root, "capsem", "session.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")
    initrd = os.path.join(tmp, "session.gz")
    guestboot.make_cpio(root, initrd)
    return initrd


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    missing = guestboot.need("qemu-system-x86_64", guestboot.BUSYBOX,
                             "/usr/sbin/nft", "cpio", "mkfs.erofs", "openssl")
    if missing:
        print(f"SKIP: missing {' '.join(missing)}")
        return 77
    init, relay, dns = (os.path.abspath(a) for a in sys.argv[1:])
    kdir = guestboot.build_kernel()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="capsem-iboot-") as tmp:
        img = make_root_image(tmp)
        initrd = make_session_initrd(tmp, init, relay, dns)
        hvc = os.path.join(tmp, "hvc0.log")
        devices = ["-drive", f"id=vda,file={img},format=raw,if=none,readonly=on",
                   "-device", "virtio-blk-device,drive=vda",
                   "-device", "virtio-serial-device",
                   "-chardev", f"file,id=hvc0,path={hvc}",
                   "-device", "virtconsole,chardev=hvc0"]
        out, secs = guestboot.qemu_boot(os.path.join(kdir, "vmlinux"), initrd,
                                        extra=devices)
        print(f"# guest ran and powered off in {secs:.1f} s")
        try:
            with open(hvc, encoding="utf-8", errors="replace") as f:
                session = f.read()
        except FileNotFoundError:
            session = ""
        names = [line.split("NAME=")[1].split()[0]
                 for line in SESSION_SCRIPT.splitlines() if line.startswith("NAME=")]
        for name in names:
            if f"CHECK {name} ok" in session:
                print(f"ok - session: {name}")
            else:
                failed += 1
                print(f"not ok - session: {name}")
        for want in ("stage mounts at", "stage root at", "stage network at",
                     "stage ready at", "session ended with status 7",
                     "stage poweroff at"):
            if want in out:
                print(f"ok - console: {want}")
            else:
                failed += 1
                print(f"not ok - console: {want}")
        if "[qemu timed out]" in out:
            failed += 1
            print("not ok - guest did not power off")
        if failed:
            print("# serial console:")
            print("\n".join("# " + line for line in out.splitlines()))
            print("# hvc0:")
            print("\n".join("# " + line for line in session.splitlines()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
