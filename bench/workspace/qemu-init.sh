#!/bin/busybox sh
# /init of the qemu + virtiofsd guest of the workspace benchmark: mount
# virtiofs tag "workspace" at /workspace, run the workload, reboot (qemu
# -no-reboot exits).
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /workspace
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
echo "BENCH-NOTE qemu guest: init, mounting virtiofs"
if mount -t virtiofs workspace /workspace; then
	cd /workspace && sh /workspace/workload.sh qemu /workspace/w
else
	echo "BENCH-FAIL qemu: mount virtiofs"
fi
reboot -f
