#!/bin/busybox sh
# /init of the qemu guest of the triple-fault A/B (bench/triplefault): run
# ab-work with the workload and rounds from the kernel command line
# (ab.work=, ab.rounds=), the same command a capsem session runs, then
# reboot: the kernel prints "reboot: Restarting system" and (reboot=t)
# resets the CPU, which ends qemu -no-reboot.  The guest kernel has no
# ioperm/iopl and no /dev/port, so isa-debug-exit is out of reach.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
w=info r=1
for a in $(cat /proc/cmdline); do
	case $a in
	ab.work=*) w=${a#ab.work=} ;;
	ab.rounds=*) r=${a#ab.rounds=} ;;
	esac
done
dmesg | grep -i -e xstate -e xsave -e 'x86/fpu' | sed 's/^/AB-DMESG /'
/bin/ab-work "$w" "$r"
reboot -f
