# Shell functions shared by build-test-image.sh and build-agent-image.sh.
# Sourced, not run. Needs bash. The sourcing script sets img_prog (its name,
# for messages) and img_here (its directory).
: "${img_prog:?}" "${img_here:?}"

# Every message goes to stderr: stdout carries only the result directory.
img_say() {
	printf '%s: %s\n' "$img_prog" "$*" >&2
}

img_die() {
	printf '%s: %s\n' "$img_prog" "$*" >&2
	exit 1
}

# img_need PROGRAM PACKAGE ...: fail naming the Debian packages to install.
img_need() {
	local missing=""
	while [ $# -ge 2 ]; do
		if ! command -v "$1" >/dev/null 2>&1; then
			missing="$missing $2"
		fi
		shift 2
	done
	if [ -n "$missing" ]; then
		img_die "missing programs; apt-get install$missing"
	fi
}

img_sha256() {
	sha256sum "$1" | cut -d' ' -f1
}

img_size() {
	stat -c %s "$1"
}

# Escape a string for a JSON string literal (no control bytes expected).
img_json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/ }
	s=${s//$'\n'/ }
	printf '"%s"' "$s"
}

# The installed version of a Debian package, or "none".
img_dpkg_version() {
	dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo none
}

# Where a host path goes in a merged-/usr image (/lib/x -> /usr/lib/x).
img_usr_path() {
	case $1 in
	/bin/* | /sbin/* | /lib/* | /lib64/* | /lib32/* | /libx32/*)
		printf '/usr%s' "$1"
		;;
	*)
		printf '%s' "$1"
		;;
	esac
}

# The skeleton of a merged-/usr root: /bin -> usr/bin and so on.
img_merged_usr() {
	local root=$1 d
	mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64"
	for d in bin sbin lib lib64; do
		ln -sfn "usr/$d" "$root/$d"
	done
}

# img_copy_file SRC ROOT [DST]: copy SRC (following symlinks) to ROOT/DST.
img_copy_file() {
	local src=$1 root=$2 dst=${3:-}
	[ -n "$dst" ] || dst=$(img_usr_path "$src")
	mkdir -p "$root$(dirname "$dst")"
	# Replace (never write through) a symlink already there.
	rm -f "$root$dst"
	cp -L --preserve=mode "$src" "$root$dst"
}

# img_copy_with_libs BINARY ROOT [DST]: the binary and every shared library
# ldd lists for it (a static binary has none), at their paths under /usr.
img_copy_with_libs() {
	local bin=$1 root=$2 dst=${3:-} line lib
	img_copy_file "$bin" "$root" "$dst"
	# ldd prints "not a dynamic executable" (status 1) for static binaries:
	# not a failure (under pipefail it would end the build, saying nothing)
	{ ldd "$bin" 2>/dev/null || true; } | while IFS= read -r line; do
		case $line in
		*"not found"*) img_die "$bin: $line" ;;
		*"=> /"*) lib=${line#*=> } ;;
		*/ld-linux*) lib=${line#"${line%%/*}"} ;;
		*) continue ;;
		esac
		lib=${lib%% (*}
		lib=${lib%% }
		[ -e "$lib" ] || continue
		img_copy_file "$lib" "$root"
	done
}

# img_tree_digest DIR: a digest of a directory tree's names, types, modes,
# owners, symlink targets and file contents.
img_tree_digest() {
	local dir=$1
	(
		cd "$dir" &&
		find . -printf '%p %y %m %U %G %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
	) | sha256sum | cut -d' ' -f1
}

# img_initrd INIT RELAY DNS OUT: the base initrd (gzip'd newc cpio) that
# guest/PROTOCOL describes: /init and /capsem/bin/capsem-{relay,dns}.
# Reproducible: fixed times, owner 0:0, sorted names.
img_initrd() {
	local init=$1 relay=$2 dns=$3 out=$4 tmp
	tmp=$(mktemp -d)
	mkdir -p "$tmp/capsem/bin"
	cp -L "$init" "$tmp/init"
	cp -L "$relay" "$tmp/capsem/bin/capsem-relay"
	cp -L "$dns" "$tmp/capsem/bin/capsem-dns"
	chmod 0755 "$tmp/init" "$tmp/capsem/bin/capsem-relay" "$tmp/capsem/bin/capsem-dns"
	find "$tmp" -exec touch -h -d @0 {} +
	(cd "$tmp" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -9 > "$out"
	rm -rf "$tmp"
}

# img_check_static FILE: fail unless FILE is a statically linked ELF.
img_check_static() {
	[ -x "$1" ] || img_die "$1: not an executable file"
	if readelf -lW "$1" 2>/dev/null | grep -q 'program interpreter' ||
	   readelf -dW "$1" 2>/dev/null | grep -q '(NEEDED)'; then
		img_die "$1: is dynamically linked (the guest programs must be static)"
	fi
}

# img_uuid HEX: a UUID-shaped string from the first 32 hex digits of HEX.
img_uuid() {
	local h=$1
	printf '%s-%s-%s-%s-%s' "${h:0:8}" "${h:8:4}" "${h:12:4}" "${h:16:4}" "${h:20:12}"
}

# img_mkfs_erofs DIR OUT HASH: a read-only erofs image of DIR, lz4hc
# compressed, every time stamp 0 and the UUID from HASH (reproducible).
img_mkfs_erofs() {
	mkfs.erofs --quiet -zlz4hc -T0 -U "$(img_uuid "$3")" "$2" "$1" >&2
}

# img_kernel_dir: the directory of the guest kernel (bzImage, vmlinux):
# $CAPSEM_KERNEL_DIR, or guest/kernel/build.sh's output (cached; building
# it takes about 13 minutes on 2 cores).
img_kernel_dir() {
	local dir
	if [ -n "${CAPSEM_KERNEL_DIR:-}" ]; then
		dir=$CAPSEM_KERNEL_DIR
	else
		[ -x "$img_here/../kernel/build.sh" ] ||
			img_die "guest/kernel/build.sh not found next to $img_here"
		dir=$("$img_here/../kernel/build.sh" | tail -n 1) ||
			img_die "guest/kernel/build.sh failed"
	fi
	[ -s "$dir/vmlinux" ] && [ -s "$dir/bzImage" ] ||
		img_die "$dir: no vmlinux and bzImage"
	printf '%s' "$dir"
}

# img_file_entry DIR NAME: one "files" entry of manifest.json.
img_file_entry() {
	printf '    %s: { "sha256": "%s", "size": %s }' "$(img_json_str "$2")" \
	    "$(img_sha256 "$1/$2")" "$(img_size "$1/$2")"
}

# img_elapsed START: seconds since START (from date +%s).
img_elapsed() {
	echo $(($(date +%s) - $1))
}
