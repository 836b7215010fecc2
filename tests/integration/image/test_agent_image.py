#!/usr/bin/env python3
"""The agent image of guest/image/build-agent-image.sh has working agents.

    test_agent_image.py BUILD-AGENT-IMAGE.SH CAPSEM-INIT CAPSEM-RELAY CAPSEM-DNS

Builds (or finds up to date) the image "capsem-test" under $CAPSEM_HOME
(default: ./agent-image-home in the directory the test runs in, so that a
second run is quick), checks manifest.json against the files, then mounts
the packed rootfs.erofs read-only under a tmpfs overlay in a private mount
namespace and, chrooted into it as the image's "agent" user, runs
`claude --version`, `gemini --version` and `codex --version`: each must
print the pinned version the manifest records, and nothing else (no
warnings about the settings the image carries). Also checks those settings
files (auto-update and telemetry off). Suite 'agent-image' (needs network
to the Debian archive and the npm registry the first time; not in CI).
"""
import hashlib
import json
import os
import subprocess
import sys

NAME = "capsem-test"

# Run in a private mount namespace: every mount goes away with it.
CHROOT_SCRIPT = r"""
set -eu
img=$1; shift
m=$(mktemp -d)
mkdir -p "$m/lower" "$m/rw" "$m/root"
mount -t erofs -o ro,loop "$img" "$m/lower"
mount -t tmpfs tmpfs "$m/rw"
mkdir -p "$m/rw/upper" "$m/rw/work"
mount -t overlay overlay -o "lowerdir=$m/lower,upperdir=$m/rw/upper,workdir=$m/rw/work" "$m/root"
mount -t proc proc "$m/root/proc"
mount --rbind /dev "$m/root/dev"
mount -t tmpfs tmpfs "$m/root/tmp"
for c in "$@"; do
    echo "== $c"
    chroot "$m/root" /usr/bin/env -i HOME=/home/agent USER=agent \
        PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
        /usr/sbin/runuser -u agent -- $c --version </dev/null 2>&1 || echo "== status $?"
done
for f in /etc/claude-code/managed-settings.json /home/agent/.claude.json \
         /etc/gemini-cli/settings.json /home/agent/.codex/config.toml; do
    echo "== file $f"
    cat "$m/root$f"
done
echo "== end"
"""


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sections(text):
    """Split "== key" sections of the chroot script's output."""
    out, key = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            key = line[3:]
            out[key] = []
        elif key is not None:
            out[key].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("SKIP: needs root (debootstrap, chroot, mount)")
        return 77
    for prog in ("debootstrap", "npm", "mkfs.erofs", "unshare"):
        if subprocess.run(["sh", "-c", f"command -v {prog}"],
                          stdout=subprocess.DEVNULL).returncode != 0:
            print(f"SKIP: {prog} missing")
            return 77
    script = os.path.abspath(sys.argv[1])
    guest_dirs = {os.path.dirname(os.path.abspath(a)) for a in sys.argv[2:]}
    if len(guest_dirs) != 1:
        print("capsem-init, capsem-relay and capsem-dns must share a directory")
        return 2
    env = dict(os.environ)
    env.setdefault("CAPSEM_HOME", os.path.abspath("agent-image-home"))
    env.pop("SUDO_USER", None)
    failed = 0

    def result(ok, what):
        nonlocal failed
        print(("ok - " if ok else "not ok - ") + what)
        if not ok:
            failed += 1

    r = subprocess.run([script, "-g", guest_dirs.pop(), NAME], env=env,
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(f"not ok - {script} failed with status {r.returncode}")
        return 1
    image = r.stdout.strip().splitlines()[-1]
    result(image == os.path.join(env["CAPSEM_HOME"], "images", NAME),
           f"image in $CAPSEM_HOME/images/{NAME}")
    with open(os.path.join(image, "manifest.json")) as f:
        manifest = json.load(f)
    for name in ("rootfs.erofs", "initrd.img", "vmlinux", "bzImage"):
        entry = manifest["files"].get(name, {})
        path = os.path.join(image, name)
        result(entry.get("sha256") == sha256_file(path) and
               entry.get("size") == os.path.getsize(path),
               f"manifest sha256 and size of {name}")

    if "erofs" not in open("/proc/filesystems").read():
        print("SKIP: the host kernel cannot mount erofs to look inside")
        return 77 if not failed else 1
    commands = ["node"] + [a["command"] for a in manifest["agents"].values()]
    r = subprocess.run(["unshare", "--mount", "--propagation", "private",
                        "sh", "-c", CHROOT_SCRIPT, "sh",
                        os.path.join(image, "rootfs.erofs")] + commands,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = sections(r.stdout)
    result(r.returncode == 0 and "end" in out, "image mounted and chrooted into")
    expect = {
        "node": manifest["versions"]["node"],
        "claude": f"{manifest['agents']['claude']['version']} (Claude Code)",
        "gemini": manifest["agents"]["gemini"]["version"],
        "codex": f"codex-cli {manifest['agents']['codex']['version']}",
    }
    for cmd in commands:
        got = out.get(cmd, "").strip()
        result(got == expect[cmd], f"{cmd} --version prints exactly {expect[cmd]!r}"
               + ("" if got == expect[cmd] else f" (got {got!r})"))

    def json_file(path):
        try:
            return json.loads(out.get("file " + path, ""))
        except ValueError:
            return {}

    claude_env = json_file("/etc/claude-code/managed-settings.json").get("env", {})
    for var in ("DISABLE_AUTOUPDATER", "DISABLE_TELEMETRY",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"):
        result(claude_env.get(var) == "1", f"claude managed settings: {var}=1")
    result(json_file("/home/agent/.claude.json").get("hasCompletedOnboarding") is True,
           "claude onboarding marked done")
    gemini = json_file("/etc/gemini-cli/settings.json")
    result(gemini.get("general", {}).get("enableAutoUpdate") is False,
           "gemini auto-update off")
    result(gemini.get("privacy", {}).get("usageStatisticsEnabled") is False and
           gemini.get("telemetry", {}).get("enabled") is False,
           "gemini usage statistics and telemetry off")
    codex = out.get("file /home/agent/.codex/config.toml", "")
    result("check_for_update_on_startup = false" in codex, "codex update check off")
    result("[analytics]\nenabled = false" in codex, "codex analytics off")
    if failed:
        print("\n".join("# " + line for line in r.stdout.splitlines()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
