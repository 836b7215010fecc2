#!/usr/bin/env python3
"""The test image of guest/image/build-test-image.sh boots and works.

    test_image_boot.py BUILD-TEST-IMAGE.SH CAPSEM-INIT CAPSEM-RELAY CAPSEM-DNS

Builds the image (cached by content hash), checks that a second build gives
the same directory and that manifest.json describes the files in it, then
boots it as a session does: the image's kernel and base initrd with a
per-session initrd appended (session.conf and a fresh CA, as the session
parent writes them), rootfs.erofs on virtio-blk (read-only), the session
command on hvc0 as the image's "agent" user. Under qemu TCG microvm, like
tests/integration/guest/init_boot_test.py, whose helpers it uses.

The session command runs `curl --version` and `nft --version` and a few
checks of what the end-to-end tests rely on (the CA bundle with the session
CA appended, the redirect rules loaded by that nft, relay and DNS
forwarder running). Suite 'vm'.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "guest"))
import guestboot  # noqa: E402

SESSION_SCRIPT = r"""
echo "CURL-VERSION $(curl --version | head -n 1)"
echo "CURL-PROTOCOLS $(curl --version | grep '^Protocols:')"
echo "NFT-VERSION $(nft --version)"
check() { if "$@" >/dev/null 2>&1; then echo "CHECK $NAME ok"; else echo "CHECK $NAME FAILED"; fi; }
NAME=agent-user check test "$(id -un):$(id -u)" = agent:1000
NAME=overlay-root check sh -c 'grep -q "^overlay / overlay" /proc/mounts'
NAME=ca-bundle-roots check sh -c 'test $(grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt) -gt 100'
NAME=ca-bundle-session check grep -q "$(sed -n 2p /capsem/ca.pem)" /etc/ssl/certs/ca-certificates.crt
NAME=relay check pidof capsem-relay
NAME=dns check pidof capsem-dns
NAME=curl-bundle-path check sh -c 'test "$CURL_CA_BUNDLE" = /etc/ssl/certs/ca-certificates.crt'
echo "SESSION done"
exit 3
"""

CHECKS = ["agent-user", "overlay-root", "ca-bundle-roots", "ca-bundle-session",
          "relay", "dns", "curl-bundle-path"]


def run_build(script, bins):
    r = subprocess.run([script] + bins, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{script} failed with status {r.returncode}")
    return r.stdout.strip().splitlines()[-1]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def session_initrd(tmp):
    """The per-session part, appended to the image's base initrd."""
    root = os.path.join(tmp, "session")
    os.makedirs(os.path.join(root, "capsem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=capsem image test CA",
                    "-keyout", os.path.join(tmp, "ca.key"),
                    "-out", os.path.join(root, "capsem", "ca.pem")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conf = ["user=agent", "root=/dev/vda", "rootfstype=erofs",
            "console=/dev/hvc0", "control=none", "arg=/bin/sh", "arg=-c",
            "arg=" + SESSION_SCRIPT.strip().replace("\n", "; ")]
    with open(os.path.join(root, "capsem", "session.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")
    out = os.path.join(tmp, "session.gz")
    guestboot.make_cpio(root, out)
    return out


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("SKIP: needs root (the image has files owned by uid 1000)")
        return 77
    missing = guestboot.need("qemu-system-x86_64", guestboot.BUSYBOX, "/usr/bin/curl",
                             "/usr/sbin/nft", "cpio", "mkfs.erofs", "openssl")
    if missing:
        print(f"SKIP: missing {' '.join(missing)}")
        return 77
    script = os.path.abspath(sys.argv[1])
    bins = [os.path.abspath(a) for a in sys.argv[2:]]
    failed = 0

    def result(ok, what):
        nonlocal failed
        print(("ok - " if ok else "not ok - ") + what)
        if not ok:
            failed += 1

    image = run_build(script, bins)
    result(os.path.basename(image).startswith("test-"), f"image directory {image}")
    result(run_build(script, bins) == image, "a second build is a cache hit")
    with open(os.path.join(image, "manifest.json")) as f:
        manifest = json.load(f)
    for name in ("rootfs.erofs", "initrd.img", "vmlinux", "bzImage"):
        entry = manifest["files"].get(name, {})
        path = os.path.join(image, name)
        result(entry.get("sha256") == sha256_file(path) and
               entry.get("size") == os.path.getsize(path),
               f"manifest sha256 and size of {name}")
    result(manifest.get("rootfstype") == "erofs", "manifest rootfstype erofs")

    with tempfile.TemporaryDirectory(prefix="capsem-imgboot-") as tmp:
        initrd = os.path.join(tmp, "initrd")
        with open(initrd, "wb") as out:
            for part in (os.path.join(image, "initrd.img"), session_initrd(tmp)):
                with open(part, "rb") as f:
                    out.write(f.read())
        hvc = os.path.join(tmp, "hvc0.log")
        rootfs = os.path.join(image, "rootfs.erofs")
        devices = ["-drive", f"id=vda,file={rootfs},format=raw,if=none,readonly=on",
                   "-device", "virtio-blk-device,drive=vda",
                   "-device", "virtio-serial-device",
                   "-chardev", f"file,id=hvc0,path={hvc}",
                   "-device", "virtconsole,chardev=hvc0",
                   # Seeds the guest CRNG: curl (OpenSSL) blocks in getrandom()
                   # until it is, ~10 s per run under TCG without it.
                   "-object", "rng-random,id=rng0,filename=/dev/urandom",
                   "-device", "virtio-rng-device,rng=rng0"]
        out, secs = guestboot.qemu_boot(os.path.join(image, "vmlinux"), initrd,
                                        extra=devices)
        print(f"# guest ran and powered off in {secs:.1f} s")
        try:
            with open(hvc, encoding="utf-8", errors="replace") as f:
                session = f.read()
        except FileNotFoundError:
            session = ""

    curl_version = "curl " + manifest["versions"]["curl"].split("-")[0]
    nft_version = "nftables v" + manifest["versions"]["nftables"].split("-")[0]
    lines = session.splitlines()
    result(any(line.startswith("CURL-VERSION " + curl_version) for line in lines),
           f"curl --version inside prints {curl_version}")
    result(any(line.startswith("CURL-PROTOCOLS") and " https " in line + " "
               for line in lines), "curl inside speaks https")
    result(any(line.startswith("NFT-VERSION " + nft_version) for line in lines),
           f"nft --version inside prints {nft_version}")
    for name in CHECKS:
        result(f"CHECK {name} ok" in session, f"session: {name}")
    for want in ("stage root at", "stage network at", "stage ready at",
                 "session ended with status 3", "stage poweroff at"):
        result(want in out, f"console: {want}")
    result("[qemu timed out]" not in out, "guest powered off by itself")
    if failed:
        print("# serial console:")
        print("\n".join("# " + line for line in out.splitlines()))
        print("# hvc0:")
        print("\n".join("# " + line for line in lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
