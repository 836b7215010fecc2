#!/bin/sh
# Build the capsem guest kernel from Debian's linux-source-6.1 package.
#
#   guest/kernel/build.sh [-n]
#
# Starts from `make allnoconfig` (x86_64), merges capsem.config, runs
# olddefconfig and checks that every option the fragment asks for survived
# (olddefconfig silently drops options whose parents are off); then builds
# bzImage (and vmlinux, which carries the PVH entry note).
#
# Output is cached outside the source tree, keyed by a hash of the fragment,
# this script, the linux-source package version and the compiler version:
#   ${CAPSEM_CACHE:-/var/cache/capsem}/kernel/<hash>/{bzImage,vmlinux,config}
# A cache hit returns at once. The last line on stdout is that directory.
#
#   -n   only configure and check the options (no build); prints the .config path
#
# Needs: linux-source-6.1 (pinned below), gcc, make, bc, bison, flex,
# libelf-dev, libssl-dev, cpio, xz-utils.

set -eu

PINNED_SOURCE_VERSION="6.1.192-3"
SOURCE_PACKAGE="linux-source-6.1"
SOURCE_TARBALL="/usr/src/linux-source-6.1.tar.xz"

here=$(cd "$(dirname "$0")" && pwd)
fragment="$here/capsem.config"
script="$here/build.sh"
cache="${CAPSEM_CACHE:-/var/cache/capsem}/kernel"
jobs="${CAPSEM_KERNEL_JOBS:-2}"

configure_only=0
if [ "${1:-}" = "-n" ]; then
	configure_only=1
fi

die() {
	echo "build.sh: $*" >&2
	exit 1
}

# --- source version pin ---------------------------------------------------
version=$(dpkg-query -W -f '${Version}' "$SOURCE_PACKAGE" 2>/dev/null) ||
	die "$SOURCE_PACKAGE is not installed (apt-get install $SOURCE_PACKAGE)"
# Debian's archive keeps only the newest 6.1 source, so a newer patch
# release is built with a warning (the options are verified below and the
# version is part of the cache key); another series is refused unless
# CAPSEM_KERNEL_ALLOW_UNPINNED=1.
if [ "$version" != "$PINNED_SOURCE_VERSION" ]; then
	case "$version" in
	6.1.*) ;;
	*)
		if [ "${CAPSEM_KERNEL_ALLOW_UNPINNED:-0}" != 1 ]; then
			die "$SOURCE_PACKAGE is $version, pinned $PINNED_SOURCE_VERSION" \
			    "(update PINNED_SOURCE_VERSION after checking, or set CAPSEM_KERNEL_ALLOW_UNPINNED=1)"
		fi
		;;
	esac
	echo "build.sh: warning: $SOURCE_PACKAGE $version is not the pinned $PINNED_SOURCE_VERSION" >&2
fi
[ -r "$SOURCE_TARBALL" ] || die "$SOURCE_TARBALL missing"

compiler=$(gcc --version | head -n 1)

hash=$( {
	printf 'source %s\ncompiler %s\n' "$version" "$compiler"
	cat "$fragment" "$script"
} | sha256sum | cut -c1-16)
out="$cache/$hash"

if [ "$configure_only" = 0 ] && [ -s "$out/bzImage" ] && [ -s "$out/vmlinux" ] &&
   [ -s "$out/config" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
# One build at a time per cache (the object directory is shared).
exec 9>"$cache/.lock"
flock 9

# Another build may have finished while we waited.
if [ "$configure_only" = 0 ] && [ -s "$out/bzImage" ] && [ -s "$out/vmlinux" ] &&
   [ -s "$out/config" ]; then
	echo "$out"
	exit 0
fi

# --- source tree (extracted once per package version) ---------------------
src="$cache/src-$version"
if [ ! -f "$src/.capsem-extracted" ]; then
	echo "build.sh: extracting $SOURCE_TARBALL" >&2
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -C "$src.tmp" -xJf "$SOURCE_TARBALL" --strip-components=1
	touch "$src.tmp/.capsem-extracted"
	mv "$src.tmp" "$src"
fi

# Object directory: shared between builds so a small change to the fragment
# rebuilds incrementally.
obj="$cache/obj-$version"
mkdir -p "$obj"

export KBUILD_BUILD_USER=capsem KBUILD_BUILD_HOST=capsem
# Reproducible version string: the date of the source package, not of the build.
export KBUILD_BUILD_TIMESTAMP="$(date -u -r "$SOURCE_TARBALL" '+%Y-%m-%d %H:%M:%S UTC')"
kmake() {
	make -s -C "$src" O="$obj" ARCH=x86_64 "$@"
}

# --- configuration --------------------------------------------------------
# Wanted options: "CONFIG_X=value" lines and "# CONFIG_X is not set" lines.
wanted="$obj/capsem.wanted"
sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*=.*\)$/\1/p' \
       -e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1=n/p' \
       "$fragment" > "$wanted"

echo "build.sh: configuring (allnoconfig + capsem.config)" >&2
kmake allnoconfig >&2
# Merge: drop every symbol the fragment mentions, then append the fragment.
symbols="$obj/capsem.symbols"
sed 's/=.*//' "$wanted" > "$symbols"
awk -v symfile="$symbols" '
	BEGIN { while ((getline s < symfile) > 0) want[s] = 1 }
	{
		sym = ""
		if ($0 ~ /^CONFIG_[A-Za-z0-9_]*=/) { sym = $0; sub(/=.*/, "", sym) }
		else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]* is not set$/) { sym = $2 }
		if (!(sym in want)) print
	}' "$obj/.config" > "$obj/.config.merged"
cat "$fragment" >> "$obj/.config.merged"
mv "$obj/.config.merged" "$obj/.config"
kmake olddefconfig >&2

# --- check that every option survived ------------------------------------
missing=""
while IFS= read -r line; do
	sym=${line%%=*}
	val=${line#*=}
	if [ "$val" = n ]; then
		if grep -q "^$sym=" "$obj/.config"; then
			missing="$missing $sym(wanted off, is $(grep "^$sym=" "$obj/.config" | cut -d= -f2-))"
		fi
	else
		got=$(grep "^$sym=" "$obj/.config" | cut -d= -f2- || true)
		if [ "$got" != "$val" ]; then
			missing="$missing $sym(wanted $val, is ${got:-unset})"
		fi
	fi
done < "$wanted"
if [ -n "$missing" ]; then
	die "options that did not survive olddefconfig:$missing"
fi
# The kernel must not be able to load modules at all.
if grep -q '^CONFIG_MODULES=y' "$obj/.config" || grep -q '=m$' "$obj/.config"; then
	die "configuration has modules"
fi

if [ "$configure_only" = 1 ]; then
	echo "$obj/.config"
	exit 0
fi

# --- build ----------------------------------------------------------------
echo "build.sh: building bzImage with make -j$jobs (about 13 minutes on 2 cores)" >&2
kmake -j"$jobs" bzImage >&2

tmp="$cache/.$hash.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$obj/vmlinux" "$tmp/vmlinux"
cp "$obj/.config" "$tmp/config"
printf 'source %s %s\ncompiler %s\n' "$SOURCE_PACKAGE" "$version" "$compiler" > "$tmp/VERSION"
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
