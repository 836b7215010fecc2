#!/bin/sh
# bench/mint: leaf certificates per second through capsem-certd's imsg
# interface (first-seen names: one ECDSA P-256 signature each; cached
# names), printed beside `openssl speed -seconds 3 ecdsap256` sign/s from
# the same run, as ratios.  No thresholds: this prints, it does not judge.
#
# usage: bench/mint/run.sh [BUILD_DIR] [first-seen-names] [cached-requests]
set -eu

build=${1:-build}
names=${2:-2000}
cached=${3:-20000}
bench="$build/tests/integration/certd/capsem-mint-bench"
certd="$build/certd/capsem-certd"

for f in "$bench" "$certd"; do
	if [ ! -x "$f" ]; then
		echo "bench/mint: $f missing (ninja -C $build first)" >&2
		exit 1
	fi
done

echo "== openssl speed -seconds 3 ecdsap256"
ossl=$(openssl speed -seconds 3 ecdsap256 2>/dev/null |
	awk '/nistp256/ && $NF ~ /^[0-9.]+$/ { print $(NF-1) }' | tail -n 1)
if [ -z "$ossl" ]; then
	echo "bench/mint: could not read openssl's sign/s" >&2
	exit 1
fi

echo "== capsem-certd via imsg ($names first-seen names, $cached cached requests)"
out=$("$bench" "$certd" "$names" "$cached")
first=$(echo "$out" | sed -n 's/^first_seen_per_s=//p')
hit=$(echo "$out" | sed -n 's/^cached_per_s=//p')

awk -v o="$ossl" -v f="$first" -v h="$hit" 'BEGIN {
	printf "%-34s %12s %10s\n", "", "per second", "vs openssl"
	printf "%-34s %12.0f %10s\n", "openssl ECDSA P-256 sign", o, "1.00"
	printf "%-34s %12.0f %10.3f\n", "certd mint, first-seen name", f, f / o
	printf "%-34s %12.0f %10.3f\n", "certd mint, cached name", h, h / o
}'
