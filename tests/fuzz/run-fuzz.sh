#!/bin/sh
# run-fuzz.sh FUZZER SECONDS [SEED_DIR...]: run a libFuzzer target for a
# bounded time on a scratch corpus seeded from the committed seeds, so the
# source tree is never written to.  Crashes are kept under $FUZZ_ARTIFACTS.
set -eu
fuzzer=$1; seconds=$2; shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/capsem-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
art=${FUZZ_ARTIFACTS:-/tmp/capsem-fuzz-artifacts}
mkdir -p "$art"
exec_ok=0
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$art/$(basename "$fuzzer")-" \
    "$work/corpus" "$@" || exec_ok=$?
exit $exec_ok
