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

# relay FILE: stdin into FILE without CRs, its BENCH- lines to the console
# at once
relay() {
	awk -v f="$1" '{ sub(/\r$/, ""); print > f
	    if (/^BENCH-/) { print; fflush() } }'
}

# capsem-fsd holds one O_PATH fd per node the guest knows (up to 32768,
# fewer if RLIMIT_NOFILE is lower): L1's init leaves the kernel's default
# hard limit of 4096, which caps it near 3,000 nodes and fails the untar
# (ENFILE).  A desktop session's hard limit is far higher (systemd: 524288).
_h=$(ulimit -Hn)
ulimit -Hn 65536 2>/dev/null
ulimit -Sn "$(ulimit -Hn)"
echo "BENCH-NOTE L1 RLIMIT_NOFILE hard limit $_h, now $(ulimit -Sn)/$(ulimit -Hn)"

# -- capsem: /workspace, then /tmp, in one session -------------------------
WS=$T/ws-capsem
mkdir -p $WS
cp "$D/src.tar" "$D/workload.sh" $WS/
echo "BENCH-NOTE capsem session starting at $(cut -d' ' -f1 /proc/uptime) s"
timeout 600 capsemctl start --image "$D/image" --user root --mem $MEM \
    --cpus 1 -w $WS -- /bin/sh -c 'sh /workspace/workload.sh capsem /workspace/w; sh /workspace/workload.sh tmpfs /tmp/w' \
    </dev/null 2>$T/c.err | relay $T/c.out
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
qemu_run() {	# $1: virtiofsd's sandbox mode
	vfsd $1 || { echo "BENCH-NOTE virtiofsd -o sandbox=$1 did not start"
		tail -c 2000 $T/vfsd.log | sed 's/^/VFSD /'; return 1; }
	echo "BENCH-NOTE qemu (virtiofsd -o sandbox=$1) starting at $(cut -d' ' -f1 /proc/uptime) s"
	timeout 240 "$D/qemu/qemu-system-x86_64" -M microvm,acpi=off,memory-backend=mem \
	    -accel kvm -cpu host -m $MEM -smp 1 \
	    -object memory-backend-memfd,id=mem,size=${MEM}M,share=on \
	    -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
	    -L "$D/qemu" -kernel "$K" -initrd "$D/qemu-initrd.cpio" \
	    -chardev socket,id=c,path=$T/vfs.sock \
	    -device vhost-user-fs-device,chardev=c,tag=workspace \
	    -append "console=ttyS0 reboot=t panic=-1" \
	    </dev/null 2>&1 | relay $T/q.out
	echo "BENCH-NOTE qemu over at $(cut -d' ' -f1 /proc/uptime) s"
	kill $VFSD 2>/dev/null
	grep -q 'BENCH-DONE qemu' $T/q.out && return 0
	tail -c 3000 $T/q.out | sed 's/^/QOUT /'
	tail -c 2000 $T/vfsd.log | sed 's/^/VFSD /'
	return 1
}
qemu_run namespace || qemu_run chroot
rm -rf "$T"
echo "CAPSEM-RUN-END"
