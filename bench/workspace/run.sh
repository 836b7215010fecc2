#!/bin/sh
# bench/workspace/run.sh BUILD_DIR: workspace file-system speed of capsem
# (capsem-fsd + capsem-vmm) against qemu microvm + virtiofsd and against
# the guest's tmpfs, in one nested L1 run.  See bench/workspace/bench.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR}
exec python3 "$here/bench.py" --build-dir "$build"
