#!/bin/bash
# Build the small capsem test image: what the end-to-end VM tests boot.
#
#   guest/image/build-test-image.sh CAPSEM-INIT CAPSEM-RELAY CAPSEM-DNS [PROGRAM...]
#
# The root file system (erofs, read-only, merged /usr) holds:
#   - busybox (static) with every applet as a symlink;
#   - Debian's curl, nft and git with the shared libraries ldd lists for
#     them (git: its built-in commands only, no templates, no helpers);
#   - the host's CA bundle at /etc/ssl/certs/ca-certificates.crt (from the
#     ca-certificates package), which capsem-init appends the session CA to;
#   - /etc/passwd and /etc/group with root and "agent" (1000:1000,
#     home /home/agent), /etc/hosts, /etc/nsswitch.conf;
#   - each extra PROGRAM in /usr/local/bin (with its libraries if dynamic).
# Next to it: the base initrd (/init = capsem-init, /capsem/bin/capsem-relay,
# /capsem/bin/capsem-dns; guest/PROTOCOL section 4) and the guest kernel
# (vmlinux, bzImage from guest/kernel/build.sh, or $CAPSEM_KERNEL_DIR).
#
# Output, cached by a hash of the staged tree, the initrd, the kernel and
# this script:
#   ${CAPSEM_CACHE:-/var/cache/capsem}/images/test-<hash>/
#       rootfs.erofs  initrd.img  vmlinux  bzImage  manifest.json
# A cache hit returns at once. The last line on stdout is that directory.
#
# Needs (Debian): busybox-static curl nftables git ca-certificates erofs-utils
# cpio gzip binutils (readelf), and root (files owned by uid 1000 in the image).
# No network: everything comes from the host's installed packages.

set -euo pipefail

img_prog=build-test-image.sh
img_here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$img_here/lib.sh"

usage() {
	echo "usage: $img_prog CAPSEM-INIT CAPSEM-RELAY CAPSEM-DNS [PROGRAM...]" >&2
	exit 2
}

[ $# -ge 3 ] || usage
case $1 in -*) usage ;; esac
init_bin=$1
relay_bin=$2
dns_bin=$3
shift 3

BUSYBOX=/bin/busybox
CURL=/usr/bin/curl
NFT=/usr/sbin/nft
GIT=/usr/bin/git
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

[ "$(id -u)" = 0 ] || img_die "must run as root (the image has files owned by uid 1000)"
img_need mkfs.erofs erofs-utils cpio cpio gzip gzip readelf binutils \
	sha256sum coreutils "$CURL" curl "$NFT" nftables "$BUSYBOX" busybox-static \
	"$GIT" git
[ -s "$CA_BUNDLE" ] || img_die "$CA_BUNDLE missing (apt-get install ca-certificates)"
for b in "$init_bin" "$relay_bin" "$dns_bin"; do
	img_check_static "$b"
done
for p in "$@"; do
	if [ ! -f "$p" ] || [ ! -x "$p" ]; then
		img_die "$p: not an executable file"
	fi
done

cache="${CAPSEM_CACHE:-/var/cache/capsem}/images"
mkdir -p "$cache"
t0=$(date +%s)

work=$(mktemp -d "$cache/.test-stage.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

# --- the root tree ----------------------------------------------------------
img_merged_usr "$root"
img_copy_file "$BUSYBOX" "$root" /usr/bin/busybox
"$BUSYBOX" --list-full | while IFS= read -r applet; do
	target=$(img_usr_path "/$applet")
	[ "$target" = /usr/bin/busybox ] && continue
	[ -d "$root${target%/*}" ] || mkdir -p "$root${target%/*}"
	ln -sfn /usr/bin/busybox "$root$target"
done
# Real programs win over busybox applets of the same name.
img_copy_with_libs "$CURL" "$root"
img_copy_with_libs "$NFT" "$root"
img_copy_with_libs "$GIT" "$root"
for p in "$@"; do
	img_copy_with_libs "$p" "$root" "/usr/local/bin/$(basename "$p")"
done

mkdir -p "$root/etc/ssl/certs" "$root/root" "$root/home/agent" \
	"$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp" "$root/capsem"
cp -L "$CA_BUNDLE" "$root$CA_BUNDLE"
chmod 0644 "$root$CA_BUNDLE"
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
agent:x:1000:1000:capsem agent:/home/agent:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
users:x:100:agent
agent:x:1000:
nogroup:x:65534:
EOF
# The session's host name (capsem-init's default "capsem") must resolve from
# files: libraries that look it up (Kerberos, via curl) would otherwise wait
# 2 x 5 s for DNS.
cat > "$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	capsem
EOF
cat > "$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
cat > "$root/etc/os-release" <<'EOF'
NAME="capsem test image"
ID=capsem-test
EOF
chown 1000:1000 "$root/home/agent"
# Reproducible: one time stamp for everything.
find "$root" -exec touch -h -d @0 {} +

# --- initrd and kernel -----------------------------------------------------
img_initrd "$init_bin" "$relay_bin" "$dns_bin" "$work/initrd.img"
kdir=$(img_kernel_dir)

full_hash=$( {
	echo "tree $(img_tree_digest "$root")"
	echo "initrd $(img_sha256 "$work/initrd.img")"
	echo "vmlinux $(img_sha256 "$kdir/vmlinux")"
	echo "bzImage $(img_sha256 "$kdir/bzImage")"
	cat "$0" "$img_here/lib.sh"
} | sha256sum | cut -d' ' -f1)
hash=${full_hash:0:16}
out="$cache/test-$hash"

if [ -s "$out/manifest.json" ]; then
	echo "$out"
	exit 0
fi

exec 9>"$cache/.test.lock"
flock 9
if [ -s "$out/manifest.json" ]; then
	echo "$out"
	exit 0
fi

img_say "packing the root image (erofs)"
tmp="$cache/.test-$hash.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
img_mkfs_erofs "$root" "$tmp/rootfs.erofs" "$full_hash"
mv "$work/initrd.img" "$tmp/initrd.img"
cp "$kdir/vmlinux" "$kdir/bzImage" "$tmp/"
kernel_version=$(head -n 1 "$kdir/VERSION" 2>/dev/null || echo unknown)

{
	echo '{'
	echo '  "name": "test",'
	echo '  "kind": "test",'
	echo "  \"hash\": \"$hash\","
	echo "  \"created\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
	echo '  "rootfs": "rootfs.erofs",'
	echo '  "rootfstype": "erofs",'
	echo '  "user": "agent",'
	echo '  "versions": {'
	echo "    \"busybox-static\": $(img_json_str "$(img_dpkg_version busybox-static)"),"
	echo "    \"curl\": $(img_json_str "$(img_dpkg_version curl)"),"
	echo "    \"nftables\": $(img_json_str "$(img_dpkg_version nftables)"),"
	echo "    \"git\": $(img_json_str "$(img_dpkg_version git)"),"
	echo "    \"ca-certificates\": $(img_json_str "$(img_dpkg_version ca-certificates)"),"
	echo "    \"kernel\": $(img_json_str "$kernel_version")"
	echo '  },'
	echo '  "files": {'
	img_file_entry "$tmp" rootfs.erofs; echo ','
	img_file_entry "$tmp" initrd.img; echo ','
	img_file_entry "$tmp" vmlinux; echo ','
	img_file_entry "$tmp" bzImage; echo
	echo '  }'
	echo '}'
} > "$tmp/manifest.json"

rm -rf "$out"
mv "$tmp" "$out"
# Keep the four newest test images (each a different set of inputs).
ls -1dt "$cache"/test-* 2>/dev/null | tail -n +5 | xargs -r rm -rf
img_say "test image ready in $(img_elapsed "$t0") s: rootfs.erofs $(img_size "$out/rootfs.erofs") bytes"
echo "$out"
