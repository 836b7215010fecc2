# The workspace benchmark's workload, run inside a guest with busybox:
#   sh workload.sh LABEL DIR
# DIR is made (emptied) first; the tarball is /workspace/src.tar, copied to
# /tmp (untimed) so that every untar reads its input from tmpfs.  One line
# per step on stdout:  BENCH-STEP LABEL STEP MICROSECONDS STATUS
# Clock: the guest's own (busybox adjtimex: tv_sec, tv_usec).  Must be run
# as root (drop_caches).  Same text for capsem's /workspace, its /tmp and
# qemu + virtiofsd's /workspace.
L=$1
W=$2
now() {
	adjtimex 2>/dev/null | awk '/tv_sec/ {s = $2} /tv_usec/ {u = $2}
	    END {printf "%d%06d\n", s, u}'
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
step() {
	_n=$1; shift
	_t0=$(now)
	"$@"
	_rc=$?
	_t1=$(now)
	echo "BENCH-STEP $L $_n $((_t1 - _t0)) $_rc"
}
untar() {
	tar -xof /tmp/src.tar -C "$W" 2>/tmp/untar.err; _r=$?
	sync
	sort /tmp/untar.err | uniq -c | sort -rn | head -n 3 | sed "s/^/BENCH-ERR $L untar: /"
	return $_r
}
count() { echo "BENCH-INFO $L find-entries $(find "$W/tree" | wc -l)"; }
stat2() {	# every entry lstat'ed twice: ~10,500 stat calls
	find "$W/tree" -exec stat -c %s {} + >/dev/null &&
	    find "$W/tree" -exec stat -c %s {} + >/dev/null
}
wr() { dd if=/dev/zero of="$W/big" bs=1M count=200 conv=fsync 2>/dev/null; }
rd() { dd if="$W/big" of=/dev/null bs=1M 2>/dev/null; }
remove() {
	rm -rf "$W/tree" "$W/big" 2>/tmp/rm.err; _r=$?
	echo "BENCH-NOTE $L rm -rf done (rc $_r), sync next"
	sync
	head -n 3 /tmp/rm.err | sed "s/^/BENCH-ERR $L rm: /"
	return $_r
}

[ -f /tmp/src.tar ] || cp /workspace/src.tar /tmp/src.tar
# a tick a minute on the console (guest uptime; no file-system access):
# tells a slow step from a stuck guest
rm -f /tmp/tick.stop
(n=0; while [ ! -e /tmp/tick.stop ] && sleep 5; do n=$((n + 1))
	[ $((n % 12)) = 0 ] && echo "BENCH-TICK $L $(cut -d' ' -f1 /proc/uptime)"
done) &
TICK=$!
rm -rf "$W"
mkdir -p "$W" || exit 1
echo "BENCH-INFO $L mount $(grep " /$(echo "$W" | cut -d/ -f2) " /proc/mounts | cut -d' ' -f2-4)"
drop
step untar+sync untar
drop
step find-wc-cold count
step stat-x2 stat2
drop
step write-200M-fsync wr
drop
step read-200M-cold rd
step rm-rf+sync remove
touch /tmp/tick.stop
wait $TICK	# at most 5 s
echo "BENCH-DONE $L"
