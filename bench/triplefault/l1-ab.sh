#!/bin/sh
# The triple-fault A/B inside L1 (started by tests/vm/l1-init.sh; ab.py made
# the payload $1 and its ab.conf: RUNS, ROUNDS, RUN_TIMEOUT, optionally
# QCPU_noavx, qemu's -cpu for "noavx").  First one
# calibration each (a PVH kernel whose first instruction is ud2, from
# tests/vm/nested.py: a certain triple fault) to show what each side's
# triple fault looks like to this script; then RUNS rounds of, alternating,
# a capsem session (capsemctl start --image, root, 512 MB, 1 vCPU,
# --no-workspace) and qemu -accel kvm -M microvm (same vmlinux, a busybox
# initrd: qemu-init.sh) running the same ab-work, for the workloads "avx"
# and "noavx" (ab-work.c says what they do; qemu's noavx also hides AVX
# from the guest's CPUID).  One "AB-RUN vmm workload n class rc=.. secs=..
# cpu=.." line per run on L1's console; the output of every run that is not
# "ok" is dumped (AB-FILE markers).  ab.py makes the table.
D=${1:-/vm}
. "$D/l1-lib.sh"	# timeout, session_env (T, CAPSEM_HOME, PATH)
QCPU_noavx=host,-avx,-avx2,-fma,-f16c,-avx512f,-xop,-fma4,-vaes,-vpclmulqdq
. "$D/ab.conf"	# RUNS ROUNDS RUN_TIMEOUT [QCPU_noavx]
session_env capsem-ab
K="$D/image/vmlinux"
Q="$D/qemu/qemu-system-x86_64"
QCPU_avx=host
QAPPEND="console=ttyS0 loglevel=4 reboot=t panic=-1"

now() { cut -d' ' -f1 /proc/uptime; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# abfile NAME FILE [BYTES]: the tail of FILE between markers
abfile() {
	echo "AB-FILE-BEGIN $1"
	tail -c "${3:-3000}" "$2" 2>&1 | tr -d '\r'
	echo
	echo "AB-FILE-END $1"
}

# cpu FILE: the guest's AB-CPU line, fields joined by commas, or "none"
cpu() {
	c=$(tr -d '\r' <"$1" | sed -n 's/^AB-CPU //p' | head -n 1 | tr ' ' ',')
	echo "${c:-none}"
}

# Signatures, in this order: a triple fault, a guest kernel panic/oops,
# a hang (our timeout), the marker, anything else.
classify_capsem() {	# $1 rc, $2 workload, files...
	_rc=$1 _w=$2; shift 2
	if cat "$@" 2>/dev/null | grep -q 'guest triple fault'; then echo triple-fault
	elif cat "$@" 2>/dev/null | grep -q -e 'Kernel panic' -e 'Oops' -e 'guest kernel panic'; then echo panic
	elif [ "$_rc" = 124 ]; then echo hang
	elif [ "$_rc" = 0 ] && tr -d '\r' <"$1" | grep -q "^AB-END $_w ok"; then echo ok
	else echo other
	fi
}
# qemu: -no-reboot makes any reset end qemu with status 0.  The clean end
# is a reset too (qemu-init.sh reboots; reboot=t), after the kernel printed
# "reboot: Restarting system"; a spontaneous triple fault prints nothing
# first, a panic (panic=-1) prints "Kernel panic".  (The guest kernel has no
# ioperm/iopl or /dev/port, so no isa-debug-exit status to tell them apart.)
classify_qemu() {	# $1 rc, $2 workload, $3 console
	if grep -q -e 'Kernel panic' -e 'Oops' "$3"; then echo panic
	elif [ "$1" = 124 ]; then echo hang
	elif [ "$1" = 0 ] && tr -d '\r' <"$3" | grep -q "^AB-END $2 ok" &&
	    grep -q 'reboot: Restarting system' "$3"; then echo ok
	elif [ "$1" = 0 ] && ! grep -q 'reboot: ' "$3"; then echo triple-fault
	else echo other
	fi
}

capsem_run() {	# $1 workload, $2 run number
	n=c-$1-$2
	t0=$(now)
	timeout "$RUN_TIMEOUT" capsemctl start -n "$n" --image "$D/image" \
	    --user root --mem 512 --cpus 1 --no-workspace -- /bin/sh -c \
	    "dmesg | grep -i -e xstate -e xsave -e 'x86/fpu' | sed 's/^/AB-DMESG /'; exec /usr/local/bin/ab-work $1 $ROUNDS" \
	    </dev/null >$T/c.out 2>$T/c.err
	rc=$?
	s=$(secs "$t0")
	con="$CAPSEM_HOME/sessions/$n/console.log"
	cl=$(classify_capsem $rc "$1" $T/c.out $T/c.err "$con")
	echo "AB-RUN capsem $1 $2 $cl rc=$rc secs=$s cpu=$(cpu $T/c.out)"
	if [ "$1-$2" = avx-1 ] || [ "$1-$2" = noavx-1 ]; then
		tr -d '\r' <$T/c.out | grep '^AB-' | sed "s/^/AB-OUT capsem $1 $2: /"
	fi
	if [ "$cl" != ok ]; then
		abfile "capsem-$1-$2-out" $T/c.out
		abfile "capsem-$1-$2-err" $T/c.err 6000
		abfile "capsem-$1-$2-console" "$con" 6000
	fi
	rm -rf "$CAPSEM_HOME/sessions/$n"	# L1's tmpfs is 2 GB
}

qemu_run() {	# $1 workload, $2 run number
	eval qcpu=\$QCPU_$1
	t0=$(now)
	rm -f $T/q.d
	timeout "$RUN_TIMEOUT" "$Q" -M microvm,acpi=off -accel kvm \
	    -cpu "$qcpu" -m 512 -smp 1 -nodefaults -no-user-config \
	    -nographic -no-reboot -serial stdio -L "$D/qemu" \
	    -d guest_errors,cpu_reset -D $T/q.d \
	    -kernel "$K" -initrd "$D/qemu-initrd.cpio" \
	    -append "$QAPPEND ab.work=$1 ab.rounds=$ROUNDS" \
	    </dev/null >$T/q.out 2>&1
	rc=$?
	s=$(secs "$t0")
	cl=$(classify_qemu $rc "$1" $T/q.out)
	echo "AB-RUN qemu $1 $2 $cl rc=$rc secs=$s cpu=$(cpu $T/q.out)"
	if [ "$2" = 1 ]; then
		tr -d '\r' <$T/q.out | grep '^AB-' | sed "s/^/AB-OUT qemu $1 $2: /"
	fi
	if [ "$cl" != ok ]; then
		abfile "qemu-$1-$2-out" $T/q.out 6000
		abfile "qemu-$1-$2-d" $T/q.d 1500
	fi
}

capsemctl ca init >$T/ca.out 2>&1 || abfile ca-init $T/ca.out

# -- calibration: a certain triple fault on each side -------------------------
t0=$(now)
timeout 120 capsemctl start -n cal --kernel "$D/triple-fault.elf" \
    --initrd "$D/image/initrd.img" --mem 512 --cpus 1 -- /bin/true \
    </dev/null >$T/c.out 2>$T/c.err
rc=$?
echo "AB-CAL capsem $(classify_capsem $rc none $T/c.out $T/c.err "$CAPSEM_HOME/sessions/cal/console.log") rc=$rc secs=$(secs "$t0")"
abfile capsem-cal-err $T/c.err 2000
rm -rf "$CAPSEM_HOME/sessions/cal"
t0=$(now)
rm -f $T/q.d
timeout 120 "$Q" -M microvm,acpi=off -accel kvm -cpu host -m 512 -smp 1 \
    -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
    -L "$D/qemu" -d guest_errors,cpu_reset -D $T/q.d -kernel "$D/triple-fault.elf" \
    -append "$QAPPEND" </dev/null >$T/q.out 2>&1
rc=$?
echo "AB-CAL qemu $(classify_qemu $rc none $T/q.out) rc=$rc secs=$(secs "$t0")"
abfile qemu-cal-out $T/q.out 2000
abfile qemu-cal-d $T/q.d 2000

# -- the A/B ------------------------------------------------------------------
i=1
while [ $i -le "$RUNS" ]; do
	for w in avx noavx; do
		capsem_run $w $i
		qemu_run $w $i
	done
	i=$((i + 1))
done
rm -rf "$T"
echo "CAPSEM-RUN-END"
