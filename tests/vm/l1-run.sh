#!/bin/sh
# The VM checks, run where /dev/kvm is: inside the nested L1 guest, or
# directly on a host with KVM.  $1: directory with capsem-vmm, vm-host,
# the test guest (l2-initrd.cpio) and the kernels (names in kernels.txt).
# Each case prints "CAPSEM-RESULT <case>-exit PASS|FAIL" (from vm-host)
# and the guest's "L2 ..." lines; the runner checks them.
D=${1:-/vm}
VMM="$D/capsem-vmm"
HOST="$D/vm-host"
INITRD="$D/l2-initrd.cpio"
MEM=${CAPSEM_VM_MEM:-256}
CON="console=ttyS0 loglevel=${CAPSEM_VM_LOGLEVEL:-4}"
# A case takes seconds; one that hangs (L2 stuck under nested TCG) is
# ended here and reported, so that the runner can say so and retry.
CASE_TIMEOUT=${CAPSEM_VM_CASE_TIMEOUT:-120}
. "$D/l1-lib.sh"	# timeout: 124 when it stops a case
. "$D/kernels.txt"	# STOCK_VMLINUX STOCK_BZIMAGE GUEST_VMLINUX GUEST_BZIMAGE DISK

run() {
	name=$1; want=$2; reason=$3; shift 3
	t0=$(date +%s)
	echo "CAPSEM-CASE $name start"
	timeout "$CASE_TIMEOUT" "$HOST" --case "$name" --expect-status "$want" \
	    ${reason:+--expect-reason "$reason"} -- \
	    "$VMM" --standalone --mem "$MEM" --initrd "$INITRD" "$@"
	[ $? = 124 ] && echo "CAPSEM-CASE-TIMEOUT $name"
	echo "CAPSEM-CASE $name end $(( $(date +%s) - t0 ))s"
}

# The same, with vm-host as the session parent: capsem-vmm as a child
# (fd 3 channel, every input as a message and an fd).
run_parent() {
	name=$1; want=$2; reason=$3; shift 3
	t0=$(date +%s)
	echo "CAPSEM-CASE $name start"
	timeout "$CASE_TIMEOUT" "$HOST" --case "$name" --expect-status "$want" \
	    ${reason:+--expect-reason "$reason"} --parent --mem "$MEM" \
	    --initrd "$INITRD" "$@" -- "$VMM"
	[ $? = 124 ] && echo "CAPSEM-CASE-TIMEOUT $name"
	echo "CAPSEM-CASE $name end $(( $(date +%s) - t0 ))s"
}

# 1. PVH boot of the stock Debian kernel (decompressed vmlinux), 2 vCPUs
run pvh-stock 0 "" --kernel "$STOCK_VMLINUX" --cpus 2 \
    --cmdline "$CON capsem.test=boot"
if [ -n "$GUEST_VMLINUX" ]; then
	# 2. our guest kernel: every device, the vmm started as a child
	dd if=/dev/zero of=/tmp/scratch.img bs=1024 count=1024 2>/dev/null
	run_parent devices 0 "" --kernel "$GUEST_VMLINUX" --cpus 2 --disk "$DISK" \
	    --disk-rw /tmp/scratch.img --cmdline "$CON capsem.test=devices"
	echo "SCRATCH-HOST devices $(head -c 14 /tmp/scratch.img)"
	# 2b. the same devices, the vmm standalone (its own fds, same sandbox)
	dd if=/dev/zero of=/tmp/scratch2.img bs=1024 count=1024 2>/dev/null
	run devices-standalone 0 "" --kernel "$GUEST_VMLINUX" --cpus 1 \
	    --disk "$DISK" --disk /tmp/scratch2.img,rw \
	    --cmdline "$CON capsem.test=devices"
	echo "SCRATCH-HOST devices-standalone $(head -c 14 /tmp/scratch2.img)"
	# 3. Linux boot protocol (bzImage), RAM above the 3 GiB hole too
	run bzimage 0 "" --kernel "$GUEST_BZIMAGE" --mem 3584 \
	    --cmdline "$CON capsem.test=boot"
	K="$GUEST_VMLINUX"
else
	echo "CAPSEM-NOTE no guest kernel: device cases skipped"
	run bzimage 0 "" --kernel "$STOCK_BZIMAGE" \
	    --cmdline "$CON capsem.test=boot"
	K="$STOCK_VMLINUX"
fi
# 4. a kernel panic ends the vmm non-zero with the reason
run panic 1 "guest kernel panic" --kernel "$K" \
    --cmdline "$CON capsem.test=panic"
# 5. guest poweroff ends it with 0
run poweroff 0 "powered off" --kernel "$K" \
    --cmdline "$CON capsem.test=poweroff"
# 6. a guest that triple-faults ends it non-zero with the reason
run triple-fault 1 "triple fault" --kernel "$D/triple-fault.elf" --cmdline "x"
# 7. vCPU 0, right after narrowing its seccomp filter (vmm_vcpu.seccomp),
#    makes a call the main thread may make: killed by SIGSYS (128 + 31)
run vcpu-seccomp 159 "" --kernel "$D/triple-fault.elf" --cmdline "x" \
    --test-vcpu-forbidden=kvm-create-vm
echo "CAPSEM-RUN-END"
