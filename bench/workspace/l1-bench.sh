#!/bin/sh
# The workspace benchmark inside L1 (started by tests/vm/l1-init.sh; bench.py
# made the payload $1): one capsem session (capsemctl start --image, -w, as
# root) runs workload.sh on /workspace (capsem-fsd + capsem-vmm) and then on
# its /tmp (tmpfs); then qemu -M microvm with QEMU's virtiofsd boots the same
# kernel with qemu-init.sh, which runs the same workload.sh on its
# /workspace.  Same memory (512 MB) and 1 vCPU for both.  The guests' BENCH-
# lines are copied to L1's console; bench.py makes the table.
D=${1:-/vm}
. "$D/l1-lib.sh"	# timeout, session_env (T, CAPSEM_HOME, PATH), dump
session_env capsem-wsbench
MEM=512
K="$D/image/vmlinux"

capsemctl ca init >$T/ca.out 2>&1 || dump ca-init $T/ca.out

# -- capsem: /workspace, then /tmp, in one session -------------------------
WS=$T/ws-capsem
mkdir -p $WS
cp "$D/src.tar" "$D/workload.sh" $WS/
echo "BENCH-NOTE capsem session starting at $(cut -d' ' -f1 /proc/uptime) s"
timeout 1500 capsemctl start --image "$D/image" --user root --mem $MEM \
    --cpus 1 -w $WS -- /bin/sh -c 'sh /workspace/workload.sh capsem /workspace/w; sh /workspace/workload.sh tmpfs /tmp/w' \
    </dev/null 2>$T/c.err | tr -d '\r' | tee $T/c.out | grep '^BENCH-'
echo "BENCH-NOTE capsem session over at $(cut -d' ' -f1 /proc/uptime) s"
grep -q 'BENCH-DONE tmpfs' $T/c.out || { dump capsem-out $T/c.out; dump capsem-err $T/c.err; }
rm -rf $WS

# -- qemu microvm + virtiofsd: /workspace ------------------------------------
QWS=$T/ws-qemu
mkdir -p $QWS
cp "$D/src.tar" "$D/workload.sh" $QWS/
vfsd() {	# $1: sandbox mode
	rm -f $T/vfs.sock
	"$D/bin/virtiofsd" --socket-path=$T/vfs.sock -o source=$QWS \
	    -o cache=auto -o sandbox=$1 >$T/vfsd.log 2>&1 &
	VFSD=$!
	n=0
	while [ ! -S $T/vfs.sock ] && kill -0 $VFSD 2>/dev/null && [ $n -lt 100 ]; do
		n=$((n + 1)); sleep 0.2
	done
	[ -S $T/vfs.sock ]
}
vfsd namespace || { dump virtiofsd-namespace $T/vfsd.log; kill $VFSD 2>/dev/null
	echo "BENCH-NOTE virtiofsd -o sandbox=namespace failed here; using chroot"
	vfsd chroot || dump virtiofsd-chroot $T/vfsd.log; }
echo "BENCH-NOTE qemu starting at $(cut -d' ' -f1 /proc/uptime) s"
timeout 1500 "$D/qemu/qemu-system-x86_64" -M microvm,acpi=off,memory-backend=mem \
    -accel kvm -cpu host -m $MEM -smp 1 \
    -object memory-backend-memfd,id=mem,size=${MEM}M,share=on \
    -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
    -L "$D/qemu" -kernel "$K" -initrd "$D/qemu-initrd.cpio" \
    -chardev socket,id=c,path=$T/vfs.sock \
    -device vhost-user-fs-device,chardev=c,tag=workspace \
    -append "console=ttyS0 loglevel=4 reboot=t panic=-1" \
    </dev/null 2>&1 | tr -d '\r' | tee $T/q.out | grep '^BENCH-'
echo "BENCH-NOTE qemu over at $(cut -d' ' -f1 /proc/uptime) s"
grep -q 'BENCH-DONE qemu' $T/q.out || { dump qemu-out $T/q.out; dump virtiofsd $T/vfsd.log; }
kill $VFSD 2>/dev/null
rm -rf "$T"
echo "CAPSEM-RUN-END"
