#!/bin/busybox sh
# /init of the qemu + virtiofsd guest of the workspace benchmark: mount
# virtiofs tag "workspace" at /workspace, run the workload, reboot (qemu
# -no-reboot exits).  First the kernel's XSAVE/FPU lines: qemu 7.2 in this
# nested setup does not preset XCR0, so this guest may run without
# XSAVE/AVX (bench.py says so under its table).
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /workspace
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
dmesg | grep -i -e xstate -e xsave -e 'x86/fpu' | sed 's/^/BENCH-NOTE qemu guest dmesg: /'
echo "BENCH-NOTE qemu guest: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
echo "BENCH-NOTE qemu guest: init, mounting virtiofs"
if mount -t virtiofs workspace /workspace; then
	cd /workspace && sh /workspace/workload.sh qemu /workspace/w
else
	echo "BENCH-FAIL qemu: mount virtiofs"
fi
reboot -f
