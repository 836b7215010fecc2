#!/bin/sh
# The agent-image sessions, run where /dev/kvm is (inside the nested L1
# guest started by tests/vm/l1-init.sh, or directly).  $1: the payload
# directory made by agent_image.py (capsemctl, the four children in
# libexec/, e2e-catcher, user.toml); $2: the agent image directory
# (vmlinux, initrd.img, rootfs.erofs; default $1/image).
#
# Each case is one real `capsemctl start --kernel --initrd --disk --user
# agent -- command` session.  Prints raw material between markers (the
# same as tests/e2e/l1-run.sh); agent_image.py decides PASS/FAIL:
#   E2E-FILE-BEGIN <name> ... E2E-FILE-END <name>    a file's contents
#   E2E-RC <case> <status>                           an exit status
#   AGENT-TIME <case> <seconds>                      how long a session ran
# Every wait is bounded (timeout, counted polls).
D=${1:-/vm}
. "$D/l1-lib.sh"	# timeout (124 when it stops a session), session_env, dump
IMG=${2:-$D/image}
session_env capsem-agent
VMOPTS="--kernel $IMG/vmlinux --initrd $IMG/initrd.img --disk $IMG/rootfs.erofs --mem ${AGENT_MEM:-2048}"
AS=agent	# the session user (--user)
# How long one agent may try to reach its API inside the guest.
AGENT_TIMEOUT=${AGENT_TIMEOUT:-240}

cp "$D/user.toml" "$CAPSEM_HOME/user.toml"

uptime_s() {
	cut -d' ' -f1 /proc/uptime
}

# The only session there is (cases run one at a time); "" if none came.
session_id() {
	n=0
	while [ "$n" -lt 100 ]; do
		id=$(capsemctl list -q 2>/dev/null | head -n 1)
		[ -n "$id" ] && { echo "$id"; return 0; }
		kill -0 "$1" 2>/dev/null || return 1
		n=$((n + 1))
		sleep 0.2
	done
	return 1
}

# session_end: after a case's session ($name, $P, $ID, $t0): its status,
# time, output, console log and audit log.
session_end() {
	# a line a minute while it runs (a slow agent under nested TCG is not
	# a frozen L1); past its limit and a minute, stopped, then killed
	n=0
	while kill -0 $P 2>/dev/null; do
		n=$((n + 1))
		[ $((n % 60)) -eq 0 ] && echo "AGENT-WAIT $name $(uptime_s)"
		if [ $n -eq $((limit + 60)) ]; then
			echo "AGENT-OVERDUE $name: capsemctl stop"
			[ -n "$ID" ] && capsemctl stop "$ID" >/dev/null 2>&1
		fi
		[ $n -ge $((limit + 90)) ] && kill -9 $P 2>/dev/null
		sleep 1
	done
	wait $P
	echo "E2E-RC $name $?"
	echo "AGENT-TIME $name $t0 $(uptime_s)"
	dump "$name-out" "$T/$name.out"
	dump "$name-err" "$T/$name.err"
	if [ -n "$ID" ]; then
		dump "$name-console" "$CAPSEM_HOME/sessions/$ID/console.log"
		dump "$name-audit" "$CAPSEM_HOME/sessions/$ID/audit.jsonl"
	fi
	echo "E2E-CASE $name end"
}

# session NAME SECONDS command...: one session, its output, status, time,
# console log and audit log.
session() {
	name=$1 limit=$2
	shift 2
	echo "E2E-CASE $name start"
	t0=$(uptime_s)
	if [ "$1" = --agent ]; then	# as a user starts it: the image's agent
		shift
		timeout "$limit" capsemctl start --image "$IMG" \
		    --mem ${AGENT_MEM:-2048} "$@" \
		    </dev/null >"$T/$name.out" 2>"$T/$name.err" &
	else
		timeout "$limit" capsemctl start $VMOPTS --user $AS -- "$@" \
		    </dev/null >"$T/$name.out" 2>"$T/$name.err" &
	fi
	P=$!
	ID=$(session_id $P)
	session_end
}

# request_session NAME HOST API-PATH command...: an agent's first requests.
# The session is stopped as soon as the audit log has a request to HOST
# whose path starts with API-PATH (the model API; the agents retry for
# minutes against an upstream that cannot answer); the guest's own timeout
# bounds it otherwise.
request_session() {
	name=$1 host=$2 api=$3 limit=$((AGENT_TIMEOUT + 120))
	shift 3
	echo "E2E-CASE $name start"
	t0=$(uptime_s)
	timeout $limit capsemctl start $VMOPTS --user $AS -- \
	    /usr/bin/env "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" &
	P=$!
	ID=$(session_id $P)
	A="$CAPSEM_HOME/sessions/$ID/audit.jsonl"
	n=0 seen=
	while [ -n "$ID" ] && kill -0 $P 2>/dev/null; do
		if [ -z "$seen" ] && grep "\"host\":\"$host\"" "$A" 2>/dev/null |
		    grep -q '"event":"request"'; then
			seen=1
			echo "AGENT-SEEN $name first $(uptime_s)"
		fi
		if grep "\"host\":\"$host\"" "$A" 2>/dev/null |
		    grep '"event":"request"' | grep -q "\"path\":\"$api"; then
			echo "AGENT-SEEN $name api $(uptime_s)"
			sleep 3		# whatever else it sends right after
			capsemctl stop "$ID" >"$T/$name.stop" 2>&1
			echo "E2E-RC $name-stop $?"
			break
		fi
		n=$((n + 1))
		[ $((n % 120)) -eq 0 ] && echo "AGENT-WAIT $name $(uptime_s)"
		[ "$n" -ge $(((AGENT_TIMEOUT + 100) * 2)) ] && break
		sleep 0.5
	done
	session_end
}

# -- the host side: loopback and catchers where an escape would go --------
ip link set lo up 2>/dev/null
ip addr add 203.0.113.7/32 dev lo 2>/dev/null
ip addr add 8.8.8.8/32 dev lo 2>/dev/null
e2e-catcher tcp:203.0.113.7:443 tcp:203.0.113.7:22 tcp:203.0.113.7:80 \
    udp:8.8.8.8:53 tcp:8.8.8.8:53 >$T/catcher.log 2>&1 &
CATCHER=$!
n=0
while [ "$(grep -c LISTEN $T/catcher.log 2>/dev/null)" != 5 ] && [ $n -lt 50 ]; do
	n=$((n + 1))
	sleep 0.2
done
# positive control: the catcher does see what reaches it from here
e2e-catcher send tcp:203.0.113.7:22 capsem-control >/dev/null 2>&1
sleep 0.5
echo "E2E-CATCHER-BASELINE $(grep -c '^CATCH ' $T/catcher.log)"

echo "AGENT-L1-CPU $(grep -m 1 '^model name' /proc/cpuinfo)"
echo "AGENT-L1-FLAGS $(grep -o -E 'avx[^ ]*|xsave[^ ]*|fma|f16c|bmi[12]|movbe' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "AGENT-L1-MEM $(grep MemTotal /proc/meminfo)"
kvm-cpuid	# what KVM_GET_SUPPORTED_CPUID offers the vmm's guests

capsemctl ca init >$T/ca.out 2>&1
echo "E2E-RC ca-init $?"
dump ca-init $T/ca.out

# -- 1. boot, the guest CPU, the agents' versions ---------------------------
session cpu 300 /bin/sh -c 'echo "GUEST-UPTIME $(cut -d" " -f1 /proc/uptime)"; echo "GUEST-USER $(id -un) $HOME"; echo "GUEST-FLAGS $(grep -o -E "avx[^ ]*|xsave[^ ]*|fma|f16c|bmi[12]|movbe" /proc/cpuinfo | sort -u | tr "\n" " ")"; echo "GUEST-XSTATE $(dmesg 2>/dev/null | grep -m 1 -o "xstate features 0x[0-9a-f]*")"; echo "GUEST-CPUS $(nproc)"'
# the same as root: the kernel's own account of XSAVE, raw CPUID and XCR0
AS=root
session cpu-root 300 /bin/sh -c "dmesg | grep -i -E 'fpu|xsave|xstate|avx'; python3 -c \"import base64; exec(base64.b64decode('$(cat $D/guest_cpuid.b64)'))\""
AS=agent
# With a second vmm to compare (agent_image.py --compare-vmm), the same
# with it.
if [ -d "$D/libexec-compare" ]; then
	AS=root
	CAPSEM_LIBEXEC_DIR="$D/libexec-compare" session cpu-root-compare 300 /bin/sh -c "dmesg | grep -i -E 'fpu|xsave|xstate|avx'; python3 -c \"import base64; exec(base64.b64decode('$(cat $D/guest_cpuid.b64)'))\""
	export CAPSEM_LIBEXEC_DIR="$D/libexec"
	AS=agent
fi
# `capsemctl start --image DIR AGENT ARGS`: the manifest's command, the
# image's user, the agent's key variable holding the placeholder
ANTHROPIC_API_KEY=sk-ant-agent-image-not-for-the-guest \
    session claude-version 300 --agent claude --version
session gemini-version 300 --agent gemini --version
session codex-version 300 --agent codex --version

# -- 2. each agent's first HTTPS request reaches the proxy, is audited -----
request_session claude-request api.anthropic.com /v1/messages \
    ANTHROPIC_API_KEY=sk-ant-capsem-placeholder \
    timeout "$AGENT_TIMEOUT" claude -p 'say hi'
request_session gemini-request generativelanguage.googleapis.com /v1beta/models/ \
    GEMINI_API_KEY=capsem-placeholder \
    timeout "$AGENT_TIMEOUT" gemini -p 'say hi'
request_session codex-request api.openai.com /v1/responses \
    OPENAI_API_KEY=sk-capsem-placeholder CODEX_API_KEY=sk-capsem-placeholder \
    timeout "$AGENT_TIMEOUT" codex exec --skip-git-repo-check 'say hi'

# -- 2b. a full turn per agent: the real proxy, a fake model API -----------
# fake-model-api (127.0.0.3:8443) speaks enough of the three APIs for one
# turn; user-turn.toml maps the API hosts to it, trusts its CA and has the
# proxy put in the real keys, which only L1 holds.  After the agent, the
# same session looks for the real key in the guest's environment and files
# (the pattern is split in two so that the command line does not hold it).
# timeout --foreground: under sh -c, a timeout of its own process group
# would put the agent in the background of the guest's terminal, where
# one that touches the terminal (gemini) is stopped by SIGTTOU/SIGTTIN.
TURN_ANSWER=capsem-fake-model-answer-4711
export ANTHROPIC_API_KEY=sk-ant-real-turn-key-5b1e9c
export GEMINI_API_KEY=AIza-real-turn-key-5b1e9c
export OPENAI_API_KEY="Bearer sk-real-turn-key-5b1e9c"
sed "s|@PKI@|$D/pki|" "$D/user-turn.toml" >"$CAPSEM_HOME/user.toml"
fake-model-api 127.0.0.3 8443 "$D/pki/api.pem" "$D/pki/api.key" \
    "$TURN_ANSWER" >$T/fake.log 2>&1 &
FAKE=$!
n=0
while ! grep -q FAKE-LISTEN $T/fake.log 2>/dev/null && [ $n -lt 50 ]; do
	n=$((n + 1)); sleep 0.2
done
KEYCHECK='echo "TURN-RC $?"; echo "KEY-IN-ENV $(env | grep -c "real-turn""-key")"; echo "KEY-IN-FILES $(grep -rl -D skip "real-turn""-key" /home /tmp /etc /root /capsem /run 2>/dev/null | wc -l)"'
session claude-turn $((AGENT_TIMEOUT + 120)) /bin/sh -c \
    "timeout --foreground -k 10 $AGENT_TIMEOUT claude -p 'say hi'; $KEYCHECK"
session gemini-turn $((AGENT_TIMEOUT + 120)) /bin/sh -c \
    "timeout --foreground -k 10 $AGENT_TIMEOUT gemini -p 'say hi'; $KEYCHECK"
session codex-turn $((AGENT_TIMEOUT + 120)) /bin/sh -c \
    "timeout --foreground -k 10 $AGENT_TIMEOUT codex exec --skip-git-repo-check 'say hi'; $KEYCHECK"
# as a user starts it: `capsemctl start --image DIR claude -p ...`
session claude-turn-agent $((AGENT_TIMEOUT + 120)) --agent claude -p 'say hi'
kill $FAKE 2>/dev/null
dump fake-log $T/fake.log
cp "$D/user.toml" "$CAPSEM_HOME/user.toml"
unset ANTHROPIC_API_KEY GEMINI_API_KEY OPENAI_API_KEY

# -- 3. nothing else gets out -----------------------------------------------
# (one line: session.conf values carry no control characters)
ESCAPES=$(tr '\n' ' ' <<'EOF'
g() { n=$1; shift; echo "G-BEGIN $n"; "$@" 2>&1; rc=$?; echo; echo "G-END $n rc=$rc"; };
CT="--connect-timeout 5 --max-time 20";
g raw-ip-443 curl -sS -k $CT -o /dev/null -w "HTTP=%{http_code}\n" https://203.0.113.7/raw;
g raw-ip-80 curl -sS $CT -o /dev/null -w "HTTP=%{http_code}\n" http://203.0.113.7/raw;
g raw-ip-22 timeout 10 bash -c "echo x >/dev/tcp/203.0.113.7/22";
g udp-8888-53 timeout 10 bash -c "echo x >/dev/udp/8.8.8.8/53";
g denied-host curl -sS $CT -o /dev/null -w "HTTP=%{http_code}\n" https://example.com/;
exit 0
EOF
)
session escape 300 /bin/bash -c "$ESCAPES"

sleep 0.5
kill $CATCHER 2>/dev/null
dump catcher $T/catcher.log
rm -rf "$T"
echo "CAPSEM-RUN-END"
