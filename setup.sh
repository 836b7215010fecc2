#!/bin/sh
# setup.sh: take a fresh Debian 12 machine to a built capsem.
#   ./setup.sh start [agent]   (as root) install deps, build, install, start
#   ./setup.sh test            (as root) install deps, build, run every suite
#   ./setup.sh deps | build    the steps alone
set -eu
cd "$(dirname "$0")"

BUILD=${CAPSEM_BUILD_DIR:-build}
FUZZ_BUILD=${CAPSEM_FUZZ_BUILD_DIR:-build-fuzz}

# Everything the build and the tests need, from Debian's archive.
PACKAGES="meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libmbedtls-dev libseccomp-dev libcap-dev libinih-dev libbsd-dev libsqlite3-dev check
  python3 mandoc openssl curl nginx dnsutils iproute2 util-linux
  nftables iptables busybox-static cpio xz-utils kmod
  qemu-system-x86 linux-source-6.1 bc bison flex libelf-dev libssl-dev
  rsync erofs-utils build-essential gzip binutils ca-certificates
  git python3-venv"

# What `capsemctl image build` runs (guest/image/*.sh check for them with
# img_need), as PROGRAM:PACKAGE.  A program already on PATH is left alone
# (npm often comes with a Node that is not Debian's); otherwise its Debian
# package is installed.  tests/unit/setup keeps this list and the scripts'
# img_need lines the same.
IMAGE_PROGRAMS="debootstrap:debootstrap npm:npm mkfs.erofs:erofs-utils
  cpio:cpio gzip:gzip readelf:binutils chroot:coreutils mount:mount
  sha256sum:coreutils"

deps() {
	# The package lists also serve the vm suite's `apt-get download`.
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq || echo "setup.sh: apt-get update failed" >&2
	fi
	missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		    grep -q "install ok installed" || missing="$missing $p"
	done
	for pp in $IMAGE_PROGRAMS; do
		command -v "${pp%%:*}" >/dev/null 2>&1 ||
		    missing="$missing ${pp#*:}"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup.sh: missing packages:$missing (run as root)" >&2
		exit 1
	fi
	echo "setup.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() {
	[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --prefix=/usr/local
	ninja -C "$BUILD"
}

lint_man() {
	for m in man/*.[1-8]; do
		mandoc -Tlint -W warning "$m"
	done
	echo "man pages: lint clean"
}

run_tests() {
	lint_man
	meson test -C "$BUILD" --print-errorlogs --suite unit --suite integration
	meson test -C "$BUILD" --print-errorlogs --suite vm
	[ -f "$FUZZ_BUILD/build.ninja" ] ||
	    CC=clang meson setup "$FUZZ_BUILD" -Dfuzz=true \
	        -Dfuzz_seconds="${CAPSEM_FUZZ_SECONDS:-30}"
	ninja -C "$FUZZ_BUILD"
	meson test -C "$FUZZ_BUILD" --print-errorlogs --suite fuzz
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
deps)	deps ;;
build)	deps; build ;;
test)	deps; build; run_tests ;;
start)
	deps; build
	meson install -C "$BUILD" --quiet
	exec /usr/local/bin/capsemctl start "$@"
	;;
*)
	echo "usage: setup.sh start [agent] | test | deps | build" >&2
	exit 2
	;;
esac
