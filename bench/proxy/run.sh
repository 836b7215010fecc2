#!/bin/sh
# bench/proxy: capsem's proxy beside its peers, one run, same machine, same
# upstream (nginx, TLS, a 100-byte and a 1 MiB body):
#
#   direct     h2load -> nginx
#   capsem     h2load -> capsemctl proxy (netproxy terminates TLS, policy,
#              re-encrypts) -> nginx
#   squid      h2load -> squid-openssl https_port accel + TLS cache_peer -> nginx
#   mitmproxy  h2load -> mitmdump --mode reverse -> nginx
#
# Load: h2load --h1, 10 and 200 connections; keep-alive (timed, -D) and a
# new connection per request (Connection: close, -n; h2load resumes TLS
# sessions on reconnect); and 300 full TLS handshakes one after another
# (Python's ssl, a new session each time: handshake latency, handshakes/s
# in the req/s column).  Prints requests/s, MB/s, p50/p99 latency, peak
# RSS of each proxy (all its processes), and capsem's ratio to each peer.
# No thresholds: this prints, it does not judge.  Peers that are not
# installed are skipped (apt-get install nginx nghttp2-client squid-openssl
# mitmproxy).  Needs root or unprivileged user namespaces (h2load runs in
# a mount namespace whose /etc/hosts names the test host).
#
# usage: bench/proxy/run.sh [BUILD_DIR] [SECONDS]
# (ab.py BUILD_A BUILD_B [ROUNDS] [SECONDS]: two capsem builds, A/B)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
seconds=${2:-8}
for f in "$build/cli/capsemctl" "$build/certd/capsem-certd" \
    "$build/policyd/capsem-policyd" "$build/netproxy/capsem-netproxy"; do
	if [ ! -x "$f" ]; then
		echo "bench/proxy: $f missing (ninja -C $build first)" >&2
		exit 1
	fi
done
for t in nginx h2load openssl python3 unshare; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "bench/proxy: $t not installed" >&2
		exit 1
	fi
done
exec python3 "$here/bench.py" "$(cd "$build" && pwd)" "$seconds"
