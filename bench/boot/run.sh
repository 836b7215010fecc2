#!/bin/sh
# bench/boot/run.sh BUILD_DIR: boot time of capsem-vmm against
# qemu -accel kvm -M microvm, same kernel, initrd and marker, in the same
# (nested, where there is no /dev/kvm) run.  See tests/vm/nested.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR}
exec python3 "$here/../../tests/vm/nested.py" --build-dir "$build" \
    --l1-script "$here/l1-bench.sh" --with-qemu --report BENCH
