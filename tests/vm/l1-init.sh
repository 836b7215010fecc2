#!/bin/busybox sh
# PID 1 of the first-level guest (the nested-KVM harness).  Moves itself to
# a tmpfs (pivot_root, which the vmm's sandbox uses, does not work on the
# initramfs root), loads kvm + kvm_amd, runs /vm/l1-run.sh, powers off.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
if [ ! -e /.switched ]; then
	mkdir -p /newroot
	mount -t tmpfs -o size=2g tmpfs /newroot
	cp -a /bin /lib /lib64 /vm /init /newroot/ 2>/dev/null
	[ -d /etc ] && cp -a /etc /newroot/
	mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp
	touch /newroot/.switched
	umount /proc /sys /dev
	exec switch_root /newroot /init
fi
for m in $(cat /vm/modules.order); do
	insmod "/vm/modules/$m" || echo "L1: insmod $m failed"
done
if [ -c /dev/kvm ]; then
	echo "L1: /dev/kvm ready"
else
	echo "L1: no /dev/kvm"
fi
sh /vm/l1-run.sh /vm
echo "L1-DONE"
poweroff -f
