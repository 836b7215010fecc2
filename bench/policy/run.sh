#!/bin/sh
# bench/policy/run.sh [BUILDDIR]: build bench_policy against the policy
# library of a meson build directory (default build/) and run it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:-$top/build}
lib="$build/policyd/libcapsem-policy.a"
[ -f "$lib" ] || ninja -C "$build" policyd/libcapsem-policy.a
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror \
    -I"$top/common" -I"$top/policyd" -I"$build" \
    "$here/bench_policy.c" "$lib" -linih -o "$out/bench_policy"
"$out/bench_policy"
