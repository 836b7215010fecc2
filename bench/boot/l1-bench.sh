#!/bin/sh
# Boot-time benchmark, run where /dev/kvm is (inside the nested L1 guest or
# on a KVM host): the same kernel + initrd booted to the same marker
# ("L2-MARKER done boot", then the guest reboots) by capsem-vmm and by
# qemu -accel kvm -M microvm.  Prints BENCH lines.
D=${1:-/vm}
. "$D/kernels.txt"
K=${GUEST_VMLINUX:-$STOCK_VMLINUX}
I="$D/l2-initrd.cpio"
ROUNDS=${CAPSEM_BENCH_ROUNDS:-3}
CMD="console=ttyS0 loglevel=4 capsem.test=boot reboot=t panic=-1"
if [ -x "$D/qemu/qemu-system-x86_64" ]; then
	Q="$D/qemu/qemu-system-x86_64"; QL="$D/qemu"
else
	Q=qemu-system-x86_64; QL=/usr/share/qemu
fi

now() { cut -d' ' -f1 /proc/uptime | tr -d .; }	# centiseconds

one() {	# $1: vmm|qemu  -> prints centiseconds, or FAIL
	t0=$(now)
	if [ "$1" = vmm ]; then
		"$D/capsem-vmm" --standalone -v --kernel "$K" --initrd "$I" \
		    --mem 256 --cpus 1 --cmdline "$CMD" </dev/null >/tmp/b.out 2>&1
	else
		"$Q" -M microvm,acpi=off -accel kvm -cpu host -m 256 -smp 1 \
		    -nodefaults -no-user-config -nographic -no-reboot \
		    -serial stdio -L "$QL" -kernel "$K" -initrd "$I" \
		    -append "$CMD" </dev/null >/tmp/b.out 2>&1
	fi
	t1=$(now)
	if grep -q "L2-MARKER done boot" /tmp/b.out; then
		echo $((t1 - t0))
	else
		echo FAIL
		tail -5 /tmp/b.out >&2
	fi
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "BENCH kernel: $(basename "$K"), initrd $(wc -c < "$I") bytes, $ROUNDS rounds"
v=""; q=""; rss=""
for _ in $(seq "$ROUNDS"); do
	x=$(one vmm); v="$v $x"
	m=$(grep -o 'vmm -\{0,1\}[0-9]* KiB' /tmp/b.out | tail -1)
	[ -n "$m" ] && rss="$m ($(grep -o 'max RSS [0-9]* KiB, guest RAM touched [0-9]* KiB' /tmp/b.out | tail -1))"
	y=$(one qemu); q="$q $y"
done
echo "BENCH capsem-vmm runs (1/100 s):$v"
echo "BENCH qemu-microvm runs (1/100 s):$q"
case "$v$q" in *FAIL*) echo "BENCH failed"; exit 1;; esac
mv=$(echo "$v" | median); mq=$(echo "$q" | median)
echo "BENCH capsem-vmm median: $((mv / 100)).$(printf %02d $((mv % 100))) s"
echo "BENCH qemu-microvm median: $((mq / 100)).$(printf %02d $((mq % 100))) s"
echo "BENCH ratio qemu/capsem-vmm: $(awk -v a="$mq" -v b="$mv" 'BEGIN { printf "%.2f", a / b }')"
echo "BENCH capsem-vmm memory beyond guest RAM: $rss"
