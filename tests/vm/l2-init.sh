#!/bin/sh
# PID 1 of the test guest (L2).  capsem.test=NAME on the kernel command
# line picks what it does; every result is one "L2 ..." line on the
# console, read by the runner.  It ends with reboot -f (the vmm's clean end).
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
t=$(sed -n 's/.*capsem\.test=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
echo "L2-MARKER boot $t"
echo "L2 cpus: $(grep -c ^processor /proc/cpuinfo)"
echo "L2 memtotal: $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"

case "$t" in
panic)
	# init exiting panics every kernel ("Attempted to kill init!")
	exit 3
	;;
poweroff)
	echo "L2-MARKER done $t"
	poweroff -f
	;;
devices)
	# console round trip over hvc0
	stty -F /dev/hvc0 raw -echo 2>/dev/null
	exec 3<>/dev/hvc0
	echo "PING 4242" >&3
	read -r -t 30 line <&3	# busybox ash
	echo "L2 console: $line"
	# block device: read-only image, content hash; writes refused
	echo "L2 blk sha256=$(sha256sum /dev/vda | cut -d' ' -f1)"
	if dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null; then
		echo "L2 blk-ro: writable"
	else
		echo "L2 blk-ro: refused"
	fi
	# writable scratch disk: written here, read back, checked by the host
	echo capsem-scratch | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
	echo "L2 scratch: $(dd if=/dev/vdb bs=14 count=1 2>/dev/null)"
	# rng
	echo "L2 rng-current: $(cat /sys/class/misc/hw_random/rng_current 2>&1)"
	echo "L2 rng: $(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')"
	# vsock
	/bin/guest-check control READY
	/bin/guest-check refused 2 4444
	/bin/guest-check refused 1 1443
	/bin/guest-check echo 1443 10485760
	# the vmm's sandbox, as the host sees it
	echo "SANDBOX?" >&3
	read -r -t 30 line <&3	# busybox ash
	echo "L2 sandbox: $line"
	;;
esac
echo "L2-MARKER done $t"
reboot -f
