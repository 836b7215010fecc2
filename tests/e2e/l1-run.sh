#!/bin/sh
# The end-to-end sessions, run where /dev/kvm is (inside the nested L1
# guest, started by tests/vm/l1-init.sh).  $1: the payload directory made by
# e2e.py (capsemctl, the four children in libexec/, the guest kernel and
# initrd, the upstream and catcher, PKI, user.toml).
#
# Prints raw material between markers; e2e.py decides PASS/FAIL:
#   E2E-FILE-BEGIN <name> ... E2E-FILE-END <name>    a file's contents
#   E2E-RC <case> <status>                           an exit status
# Every wait is bounded (timeout, counted polls).
D=${1:-/vm}
. "$D/l1-lib.sh"	# timeout (124 when it stops a session), session_env, dump
session_env capsem-e2e
K="$D/guest-vmlinux"
I="$D/l2-initrd.cpio"
VMOPTS="--kernel $K --initrd $I --mem ${E2E_MEM:-256} --cpus 1"

sed "s|@PKI@|$D/pki|" "$D/user.toml" >"$CAPSEM_HOME/user.toml"

# wait_for PATTERN FILE SECONDS PID: until PATTERN is in FILE; 1 if PID
# ended or the time ran out first.
wait_for() {
	n=0
	while ! grep -q "$1" "$2" 2>/dev/null; do
		kill -0 "$4" 2>/dev/null || return 1
		n=$((n + 1))
		[ "$n" -ge $(($3 * 5)) ] && return 1
		sleep 0.2
	done
	return 0
}

# The only session there is (each case runs one at a time).
session_id() {
	n=0
	while [ "$n" -lt 50 ]; do
		id=$(capsemctl list -q 2>/dev/null | head -n 1)
		[ -n "$id" ] && { echo "$id"; return 0; }
		n=$((n + 1))
		sleep 0.2
	done
	return 1
}

# Every process of the session, as /proc shows it: "PROC pid name ..."
proc_report() {
	for pid in $(sed -n 's/.* pid \([0-9][0-9]*\) .*/\1/p' "$1"); do
		echo "PROC $pid $(grep -E '^(Name|CapEff|Seccomp|NoNewPrivs):' \
		    /proc/$pid/status 2>&1 | tr '\t\n' '  ')"
	done
}

leftovers() {
	# not the timeout watchers; with direct KVM, e2e.py runs us in our
	# own pid namespace, so these are ours
	ps -o pid,args 2>/dev/null |
	    grep -E 'capsem-(certd|policyd|netproxy|vmm)|capsemctl' |
	    grep -v -e grep -e ' timeout ' > "$1"
}

# -- the host side of the network: loopback, upstream, catchers ----------
ip link set lo up
ip addr add 203.0.113.7/32 dev lo
ip addr add 8.8.8.8/32 dev lo
e2e-upstream api 127.0.0.2 8443 "$D/pki/api.pem" "$D/pki/api.key" \
    >$T/upstream.log 2>&1 &
UPSTREAM=$!
e2e-catcher tcp:203.0.113.7:443 tcp:203.0.113.7:22 tcp:203.0.113.7:8080 \
    tcp:203.0.113.7:80 udp:8.8.8.8:53 tcp:8.8.8.8:53 udp:8.8.8.8:5353 \
    tcp:8.8.8.8:443 >$T/catcher.log 2>&1 &
CATCHER=$!
n=0
while [ "$(grep -c LISTEN $T/upstream.log $T/catcher.log 2>/dev/null |
    awk -F: '{s += $2} END {print s}')" != 9 ] && [ $n -lt 50 ]; do
	n=$((n + 1))
	sleep 0.2
done
# positive control: the catcher does see what reaches it from L1
e2e-catcher send tcp:203.0.113.7:22 capsem-control >/dev/null 2>&1
e2e-catcher send udp:8.8.8.8:5353 capsem-control >/dev/null 2>&1
sleep 0.5
echo "E2E-CATCHER-BASELINE $(grep -c '^CATCH ' $T/catcher.log)"

capsemctl ca init >$T/ca.out 2>&1
echo "E2E-RC ca-init $?"
dump ca-init $T/ca.out

# -- 1. basic session: console, exit status, status, console.log ---------
t0=$(date +%s)
echo "E2E-CASE basic start"
rm -f $T/s1.in
mkfifo $T/s1.in
timeout 150 capsemctl start $VMOPTS -- /bin/sh -c \
    'echo hello-from-guest; read line; echo "got-$line"; exit 7' \
    <$T/s1.in >$T/s1.out 2>$T/s1.err &
P=$!
exec 3>$T/s1.in
if wait_for hello-from-guest $T/s1.out 120 $P; then
	ID=$(session_id)
	echo "E2E-SESSION basic $ID"
	capsemctl status "$ID" >$T/s1.status 2>&1
	echo "E2E-RC basic-status $?"
	dump basic-status $T/s1.status
	proc_report $T/s1.status
	leftovers $T/s1.during.ps	# control: the same ps sees a live session
	dump basic-during-ps $T/s1.during.ps
else
	echo "E2E-NOTE basic: the guest never said hello"
fi
echo go >&3
wait $P
echo "E2E-RC basic $?"
exec 3>&-
leftovers $T/s1.ps
dump basic-out $T/s1.out
dump basic-err $T/s1.err
dump basic-leftovers $T/s1.ps
[ -n "$ID" ] && dump basic-console-log "$CAPSEM_HOME/sessions/$ID/console.log"
echo "E2E-CASE basic end $(($(date +%s) - t0))s"

# -- 1a. console input sent before and faster than the guest reads it -----
# Typed while the VM boots and while the guest sleeps: every byte arrives,
# in order.  3000 numbered lines of 100 bytes (a canonical tty keeps at most
# 4095 per line).
t0=$(date +%s)
echo "E2E-CASE console-input start"
Y=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
i=0
while [ $i -lt 3000 ]; do printf '%05d%s\n' $i "$Y"; i=$((i + 1)); done >$T/big.in
echo "WANT $(head -c 300000 $T/big.in | md5sum | cut -d' ' -f1)" >$T/ci.want
cat $T/big.in | timeout 150 capsemctl start $VMOPTS -- /bin/sh -c \
    'stty -echo; sleep 3; head -c 300000 >/tmp/in; echo "GOT $(wc -c </tmp/in) $(md5sum </tmp/in | cut -d" " -f1)"' \
    >$T/ci.out 2>$T/ci.err
echo "E2E-RC console-input $?"
grep -a -o 'GOT [0-9]* [0-9a-f]*' $T/ci.out >>$T/ci.want
dump console-input $T/ci.want
dump console-input-err $T/ci.err
tail -c 600 $T/ci.out >$T/ci.tail
dump console-input-tail $T/ci.tail
echo "E2E-CASE console-input end $(($(date +%s) - t0))s"

# -- 1a2. a terminal that stops reading stalls the guest, not the session --
# stdout is a FIFO whose only reader does not read: the session must still
# answer `status`, and once read, all 2,000,000 bytes arrive.
t0=$(date +%s)
echo "E2E-CASE console-stall start"
rm -f $T/st.fifo $T/st.status
mkfifo $T/st.fifo
exec 7<>$T/st.fifo
timeout 150 capsemctl start $VMOPTS -n stall -- /bin/sh -c \
    'head -c 2000000 /dev/zero | tr "\000" x; echo; echo STALL-END' \
    </dev/null >$T/st.fifo 2>$T/st.err 7>&- &
P=$!
n=0
while ! capsemctl list -q 2>/dev/null | grep -qx stall && [ $n -lt 300 ]; do
	n=$((n + 1)); sleep 0.2
done
sleep 5		# the guest fills the FIFO, the socket, then waits
i=0; ok=0
while [ $i -lt 5 ]; do
	timeout 10 capsemctl status stall >>$T/st.status 2>&1 && ok=$((ok + 1))
	i=$((i + 1)); sleep 1
done
echo "E2E-RC stall-status-answers $ok"
capsemctl list -q 2>/dev/null | grep -qx stall
echo "E2E-RC stall-still-running $?"
cat $T/st.fifo >$T/st.out 7>&- &	# not a writer itself
C=$!
exec 7>&-
wait $P
echo "E2E-RC console-stall $?"
n=0
while kill -0 $C 2>/dev/null && [ $n -lt 300 ]; do n=$((n + 1)); sleep 0.2; done
kill $C 2>/dev/null
echo "STALL-X $(tr -cd x <$T/st.out | wc -c)" >$T/st.got
grep -c STALL-END $T/st.out | sed 's/^/STALL-END-LINES /' >>$T/st.got
dump console-stall $T/st.got
dump console-stall-err $T/st.err
# the guest kernel's last words, should it have died (#19)
tail -c 6000 "$CAPSEM_HOME/sessions/stall/console.log" >$T/st.con 2>&1
dump console-stall-console-log $T/st.con
echo "E2E-CASE console-stall end $(($(date +%s) - t0))s"

# -- 1b. an image: `start --image DIR claude|-- command` on its erofs root --
IMG="$D/image"
IMGOPTS="--image $IMG --mem ${E2E_MEM:-256} --cpus 1"
t0=$(date +%s)
echo "E2E-CASE image start"
# the image's "claude" is busybox env: it prints what the agent gets
ANTHROPIC_API_KEY=sk-ant-e2e-real-secret-4242 \
CAPSEM_AGENT_ENV="$D/agent.env" timeout 150 capsemctl start $IMGOPTS \
    -e E2E_GIVEN=from-option claude E2E_ARG=agent-arg \
    </dev/null >$T/i1.out 2>$T/i1.err
echo "E2E-RC image-agent $?"
dump image-agent-out $T/i1.out
dump image-agent-err $T/i1.err
# (session.conf carries each argument on one line: no line breaks in them)
E2E_API_KEY=e2e-real-key-77 timeout 150 capsemctl start $IMGOPTS -- /bin/sh -c 'echo "ID $(id -un) $(id -u)"; echo "KEYVAR=$E2E_API_KEY"; curl -s -o /dev/null -H "x-api-key: $E2E_API_KEY" https://api.example.test/with-key; echo "HOST $(hostname)"; grep -E " / |/dev/vda" /proc/mounts | sed "s/^/MOUNT /"; echo "VDA-RO $(cat /sys/block/vda/ro)"; grep -q "$(hostname)" /etc/hosts && echo HOSTS-HAS-NAME; echo "HTTP=$(curl -s -o /dev/null -w %{http_code} https://api.example.test/from-image)"; exit 3' \
    </dev/null >$T/i2.out 2>$T/i2.err
echo "E2E-RC image-command $?"
dump image-command-out $T/i2.out
dump image-command-err $T/i2.err
ID=$(head -n 1 $T/i2.out)	# the session id, printed once it is ready
[ -n "$ID" ] && dump image-command-audit "$CAPSEM_HOME/sessions/$ID/audit.jsonl"
timeout 60 capsemctl start --image "$D/no-such-image" -- /bin/true \
    >$T/i3.out 2>&1
echo "E2E-RC image-missing $?"
dump image-missing $T/i3.out
ID=$(timeout 60 capsemctl start -d $IMGOPTS -- /bin/sh -c \
    'echo detached-ran; sleep 2; exit 5' 2>$T/d.err)
echo "E2E-RC detach-start $?"
echo "E2E-SESSION detach $ID"
dump detach-err $T/d.err
capsemctl list >$T/d.list 2>&1
dump detach-list $T/d.list
n=0
while [ -n "$ID" ] && capsemctl list -q 2>/dev/null | grep -qx "$ID" &&
    [ $n -lt 450 ]; do
	n=$((n + 1))
	sleep 0.2
done
capsemctl list -q 2>/dev/null | grep -qx "$ID"
echo "E2E-RC detach-gone $(( ! $? ))"
capsemctl list >$T/d.list2 2>&1
dump detach-list-ended $T/d.list2
capsemctl logs "$ID" >$T/d.logs 2>&1
echo "E2E-RC detach-logs $?"
dump detach-logs $T/d.logs
# capsemctl doctor where a session runs: with the image as the default,
# every check passes (the probe sees kvm_amd and svm here)
mkdir -p "$CAPSEM_HOME/images"
ln -sfn "$IMG" "$CAPSEM_HOME/images/default"
ANTHROPIC_API_KEY=e2e-doctor-key timeout 60 capsemctl doctor >$T/doc.out 2>&1
echo "E2E-RC doctor $?"
dump doctor $T/doc.out
timeout 60 capsemctl doctor --json >$T/doc.json 2>&1
dump doctor-json $T/doc.json
rm -f "$CAPSEM_HOME/images/default"
echo "E2E-CASE image end $(($(date +%s) - t0))s"

# -- 1b'. the workspace: the current directory at /workspace (capsem-fsd) --
# The agent user works on files the host made; the host sees the results
# at once, as its own user's; escapes through links and special files fail;
# git works in the guest and the host's git reads what it made.
t0=$(date +%s)
echo "E2E-CASE workspace start"
W=$T/work/proj
mkdir -p "$W"
echo host-made >"$W/from-host.txt"
echo outside-secret >$T/outside.txt
ln -s $T/outside.txt "$W/host-link"
WS_SCRIPT='echo "PWD $(pwd)"; echo "WSMOUNT $(grep " /workspace " /proc/mounts | cut -d" " -f3,4)"; sed "s/^/READ /" from-host.txt; mkdir -p d/e && echo guest-made >d/e/f.txt && mv d/e/f.txt d/g.txt && echo again >>d/g.txt && echo MADE; echo tmp >gone.txt && rm gone.txt && mkdir rmd && rmdir rmd && echo REMOVED; echo "OWNER $(stat -c %U:%u d/g.txt)"; ln -s /etc/passwd guest-link && echo GUEST-LINK; echo "HOSTLINK $(readlink host-link)"; cat host-link >/dev/null 2>&1 && echo HOSTLINK-READ; mknod fifo p 2>/dev/null && echo MKNOD-FIFO-MADE; mknod dev c 1 3 2>/dev/null && echo MKNOD-DEV-MADE; echo x >suid && chmod 4755 suid; echo "SUIDMODE $(stat -c %a suid)"; i=0; while [ $i -lt 300 ]; do echo $i >many-$i; i=$((i + 1)); done; echo "MANY $(ls | grep -c ^many-)"; mkdir repo && cd repo && git init -q && echo one >a.txt && mkdir src && echo two >src/b.txt && git add -A && git -c user.name=agent -c user.email=agent@capsem.test commit -q -m guest-commit && echo "GIT-LOG $(git log --format=%s)"; echo "GIT-CLEAN [$(git status --porcelain)]"; echo edited >src/b.txt; echo "GIT-DIRTY [$(git status --porcelain)]"; exit 0'
(cd "$W" && timeout 150 capsemctl start $IMGOPTS -- /bin/sh -c "$WS_SCRIPT" </dev/null >$T/ws.out 2>$T/ws.err)
echo "E2E-RC workspace $?"
{
	echo "HOST-G $(tr '\n' , <"$W/d/g.txt")"
	echo "HOST-OWNER $(stat -c %u "$W/d/g.txt")"
	[ -e "$W/gone.txt" ] && echo HOST-GONE-EXISTS
	[ -e "$W/rmd" ] && echo HOST-RMD-EXISTS
	echo "HOST-GUESTLINK $(readlink "$W/guest-link")"
	[ -e "$W/fifo" ] || [ -L "$W/fifo" ] && echo HOST-FIFO-EXISTS
	[ -e "$W/dev" ] && echo HOST-DEV-EXISTS
	echo "HOST-SUIDMODE $(stat -c %a "$W/suid")"
	echo "HOST-OUTSIDE $(cat $T/outside.txt)"
	echo "HOST-MANY $(ls "$W" | grep -c ^many-)"
	echo "HOST-GITLOG $(git -C "$W/repo" log --format=%s 2>&1)"
	git -C "$W/repo" fsck --strict >/dev/null 2>&1 && echo HOST-GITFSCK-OK
	echo "HOST-GITSTATUS [$(git -C "$W/repo" status --porcelain 2>&1)]"
	echo "HOST-GITOWNER $(stat -c %u "$W/repo/.git/HEAD")"
} >$T/ws.host
dump workspace-out $T/ws.out
dump workspace-err $T/ws.err
dump workspace-host $T/ws.host
ID=$(head -n 1 $T/ws.out)
[ -n "$ID" ] && dump workspace-record "$CAPSEM_HOME/sessions/$ID/session.json"
[ -n "$ID" ] && head -n 1 "$CAPSEM_HOME/sessions/$ID/audit.jsonl" >$T/ws.audit
dump workspace-audit $T/ws.audit
[ -n "$ID" ] && capsemctl logs "$ID" 2>&1 | grep " workspace " >$T/ws.logs
dump workspace-logs $T/ws.logs
# read-only: every change refused, the host unchanged
# (busybox rm asks on a terminal before removing an unwritable file: -f)
before=$(tar -C "$W" -cf - . | md5sum)
WSRO_SCRIPT='echo "ROMOUNT $(grep " /workspace " /proc/mounts | cut -d" " -f4 | cut -d, -f1)"; echo "RO-READ $(cat from-host.txt)"; echo x >new.txt 2>/dev/null || echo RO-CREATE-REFUSED; echo x >>from-host.txt 2>/dev/null || echo RO-WRITE-REFUSED; mkdir newdir 2>/dev/null || echo RO-MKDIR-REFUSED; rm -f from-host.txt 2>/dev/null || echo RO-RM-REFUSED; mv d dd 2>/dev/null || echo RO-MV-REFUSED; touch -c from-host.txt 2>&1 | grep -q "Read-only" && echo RO-EROFS; exit 0'
(cd "$T/work" && timeout 150 capsemctl start $IMGOPTS -w "$W:ro" -- /bin/sh -c "$WSRO_SCRIPT" </dev/null >$T/wsro.out 2>$T/wsro.err)
echo "E2E-RC workspace-ro $?"
after=$(tar -C "$W" -cf - . | md5sum)
echo "before $before after $after" >$T/wsro.diff
[ "$before" = "$after" ]
echo "E2E-RC workspace-ro-unchanged $?"
dump workspace-ro-out $T/wsro.out
dump workspace-ro-err $T/wsro.err
dump workspace-ro-diff $T/wsro.diff
# refusals, before anything starts
(cd / && timeout 60 capsemctl start $IMGOPTS -- /bin/true) >$T/wsroot.out 2>&1
echo "E2E-RC workspace-root $?"
dump workspace-root $T/wsroot.out
echo "E2E-CASE workspace end $(($(date +%s) - t0))s"

# -- 1c. a terminal: window size, Ctrl-] detach, attach, exit status ------
t0=$(date +%s)
echo "E2E-CASE attach start"
# pseudo-terminals for e2e-pty
if [ ! -e /dev/pts/ptmx ]; then
	mkdir -p /dev/pts
	mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
fi
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
printf '%s\n' 'size 33 101' 'expect $ ' \
    'send stty size; echo "MARK-$((20+22))"\r' 'expect MARK-42' \
    'size 44 120' 'sleep 1000' \
    'send stty size; echo "MARK-$((40+3))"\r' 'expect MARK-43' \
    'send \x1d' 'expect detached from session' >$T/pty1
timeout 150 e2e-pty -t 100 $T/pty1 -- capsemctl start $IMGOPTS -- /bin/sh \
    >$T/a1.out 2>&1
echo "E2E-RC attach-front $?"
dump attach-front $T/a1.out
ID=$(session_id)
echo "E2E-SESSION attach $ID"
capsemctl list >$T/a.list 2>&1
dump attach-list $T/a.list
printf '%s\n' 'size 25 90' 'expect attached to session' 'sleep 1000' \
    'send echo "BACK-$((2+3))"; stty size\r' 'expect BACK-5' \
    'send exit 9\r' 'expect ended' >$T/pty2
timeout 100 e2e-pty -t 60 $T/pty2 -- capsemctl attach "$ID" >$T/a2.out 2>&1
echo "E2E-RC attach-client $?"
dump attach-client $T/a2.out
n=0
while ! capsemctl list 2>/dev/null | grep -q "^$ID .*ended(" && [ $n -lt 50 ]; do
	n=$((n + 1))
	sleep 0.2
done
capsemctl list >$T/a.list2 2>&1
dump attach-list-after $T/a.list2
capsemctl list -q >$T/a.list3 2>&1
dump attach-running-after $T/a.list3
timeout 30 capsemctl attach "$ID" </dev/null >$T/a3.out 2>&1
echo "E2E-RC attach-gone $?"
dump attach-gone $T/a3.out
# on a terminal, to the end: the status and the reason reach the terminal
printf '%s\n' 'expect exited with status 6' >$T/pty3
timeout 100 e2e-pty -t 80 $T/pty3 -- capsemctl start $IMGOPTS -- /bin/sh -c \
    'exit 6' >$T/a4.out 2>&1
dump attach-front-end $T/a4.out
echo "E2E-CASE attach end $(($(date +%s) - t0))s"

# -- 2+3. network and escape session ---------------------------------------
t0=$(date +%s)
echo "E2E-CASE net start"
timeout 400 capsemctl start $VMOPTS -- /bin/sh /e2e/guest-net.sh \
    </dev/null >$T/s2.out 2>$T/s2.err &
P=$!
ID=$(session_id)
echo "E2E-SESSION net $ID"
wait $P
echo "E2E-RC net $?"
sleep 0.5
leftovers $T/s2.ps
dump net-out $T/s2.out
dump net-err $T/s2.err
dump net-leftovers $T/s2.ps
[ -n "$ID" ] && dump net-audit "$CAPSEM_HOME/sessions/$ID/audit.jsonl"
# the guest kernel's last words, should the guest itself have failed
[ -n "$ID" ] && tail -c 4000 "$CAPSEM_HOME/sessions/$ID/console.log" \
    >$T/s2.con && dump net-console-log $T/s2.con
echo "E2E-CASE net end $(($(date +%s) - t0))s"

# -- 4. a child killed mid-session ends the session with the reason -------
for victim in capsem-netproxy capsem-certd capsem-policyd capsem-vmm \
    capsem-fsd; do
	t0=$(date +%s)
	t0s=$(cut -d' ' -f1 /proc/uptime)
	echo "E2E-CASE kill-$victim start"
	rm -f $T/k.out $T/k.err $T/k.status
	ID=
	# the guest keeps making allowed requests while the child dies
	timeout 150 capsemctl start $VMOPTS -w $T/work -- /bin/sh -c \
	    "i=0; while [ \$i -lt 600 ]; do curl -s --max-time 5 -o /dev/null \
	    https://api.example.test/loop-$victim-\$i; [ \$i = 0 ] && \
	    echo kill-ready; i=\$((i + 1)); done; echo not-killed" \
	    </dev/null >$T/k.out 2>$T/k.err &
	P=$!
	if wait_for kill-ready $T/k.out 120 $P; then
		t1=$(cut -d' ' -f1 /proc/uptime)
		ID=$(session_id)
		capsemctl status "$ID" >$T/k.status 2>&1
		VPID=$(grep "$victim" $T/k.status |
		    sed -n 's/.* pid \([0-9][0-9]*\) .*/\1/p' | head -n 1)
		echo "E2E-KILL $victim pid ${VPID:-none} ready-at $t1 s, killed at $(cut -d' ' -f1 /proc/uptime) s"
		[ -n "$VPID" ] && kill -9 "$VPID"
	else
		echo "E2E-NOTE kill-$victim: the guest never became ready"
		kill "$P" 2>/dev/null
	fi
	wait $P
	echo "E2E-RC kill-$victim $?"
	echo "E2E-NOTE kill-$victim: session over at $(cut -d' ' -f1 /proc/uptime) s (started at $t0s)"
	sleep 0.5
	leftovers $T/k.ps
	dump "kill-$victim-out" $T/k.out
	dump "kill-$victim-err" $T/k.err
	dump "kill-$victim-status" $T/k.status
	dump "kill-$victim-leftovers" $T/k.ps
	[ -n "$ID" ] && dump "kill-$victim-audit" \
	    "$CAPSEM_HOME/sessions/$ID/audit.jsonl"
	echo "E2E-CASE kill-$victim end $(($(date +%s) - t0))s"
done

kill $UPSTREAM $CATCHER 2>/dev/null
dump upstream $T/upstream.log
dump catcher $T/catcher.log
rm -rf "$T"
echo "CAPSEM-RUN-END"
