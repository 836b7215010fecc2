#!/bin/sh
# bench/audit: what the session database costs the proxy, in one run.
#
#   A  the last build before the database (BASE, default 3282ff5): policyd
#      writes audit.jsonl only, one JSON line per verdict and per outcome
#   B  this tree's build: the same lines, and the database (policyd/store.c:
#      a row per event, WAL, a batch committed 100 ms after its first row)
#
# Both behind one nginx (TLS, a 100-byte body), h2load --h1, rounds
# interleaved A B, B A, ... so that drift in load falls on both alike
# (bench/proxy/ab.py); by default only the scenario the database could
# cost most: keep-alive small requests, 200 connections.  Prints each
# round and the medians with B/A.  A also differs from B by what came with
# the database's issue (model-call recognition, budgets: for requests that
# are not model calls, one classification per request), so B/A bounds the
# database's cost from above.  No thresholds: this prints, it does not
# judge.  A is built once per BASE, from `git archive`, under
# $CAPSEM_BENCH_CACHE (default /var/cache/capsem/bench).
#
# usage: bench/audit/run.sh [BUILD_DIR] [ROUNDS] [SECONDS] [SCENARIO_PREFIX]
# (SCENARIO_PREFIX "" runs every ab.py scenario; needs what bench/proxy
# needs: nginx, h2load, openssl, python3, unshare)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
rounds=${2:-7}
seconds=${3:-10}
scenario=${4-keep-alive}
base=${BASE:-3282ff5}
cache=${CAPSEM_BENCH_CACHE:-/var/cache/capsem/bench}

for f in cli/capsemctl certd/capsem-certd policyd/capsem-policyd \
    netproxy/capsem-netproxy; do
	if [ ! -x "$build/$f" ]; then
		echo "bench/audit: $build/$f missing (ninja -C $build first)" >&2
		exit 1
	fi
done
for t in nginx h2load openssl python3 unshare git meson ninja; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "bench/audit: $t not installed (apt-get install nginx" \
		    "nghttp2-client openssl meson ninja-build)" >&2
		exit 1
	fi
done
commit=$(git -C "$top" rev-parse --verify "$base^{commit}") || {
	echo "bench/audit: $base is not a commit of $top" >&2
	exit 1
}
a="$cache/audit-$commit"
if [ ! -x "$a/build/policyd/capsem-policyd" ]; then
	echo "bench/audit: building A ($commit) in $a" >&2
	rm -rf "$a"
	mkdir -p "$a/src"
	git -C "$top" archive "$commit" | tar -x -C "$a/src"
	meson setup "$a/build" "$a/src" -Dtests=false >"$a/setup.log" 2>&1 ||
	    { cat "$a/setup.log" >&2; exit 1; }
	ninja -C "$a/build" >"$a/build.log" 2>&1 ||
	    { tail -30 "$a/build.log" >&2; exit 1; }
fi
echo "A = $commit (audit.jsonl only)"
echo "B = $(git -C "$top" rev-parse HEAD)$(git -C "$top" diff --quiet HEAD || echo ' + uncommitted changes') (audit.jsonl and the session database)"
exec python3 "$top/bench/proxy/ab.py" "$a/build" "$build" "$rounds" \
    "$seconds" "$scenario"
