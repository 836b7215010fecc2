# Sourced by every l1-run.sh (vm, e2e, agent-image) from its payload
# directory ($D).  Not executable on its own.

# timeout SECONDS COMMAND...: the command's status, or 124 when it was
# stopped at the limit.  Busybox's timeout (the one in L1) returns the
# killed command's own status instead, so a hung case would not be seen.
timeout() {
	_tmo_t0=$(date +%s)
	command timeout "$@"
	_tmo_rc=$?
	[ $(($(date +%s) - _tmo_t0)) -ge "$1" ] && _tmo_rc=124
	return $_tmo_rc
}

# session_env NAME: capsemctl from $D, its own home, runtime dir and no
# corp config under a new $T=/tmp/NAME.XXXXXX.
session_env() {
	export PATH="$D/bin:/bin:/sbin:/usr/bin"
	export CAPSEM_LIBEXEC_DIR="$D/libexec"
	T=$(mktemp -d "/tmp/$1.XXXXXX") || exit 1
	export CAPSEM_HOME="$T/home"
	export XDG_RUNTIME_DIR="$T/run"
	export CAPSEM_CORP_CONFIG="$T/no-corp.toml"
	trap '' PIPE	# a session that died early must not end the run
	mkdir -p "$CAPSEM_HOME" "$XDG_RUNTIME_DIR"
	chmod 700 "$CAPSEM_HOME" "$XDG_RUNTIME_DIR"
	# An image session shares the current directory at /workspace, and
	# capsemctl start refuses / and a directory holding $CAPSEM_HOME:
	# run from a project-like directory of our own.
	mkdir -p "$T/work" && cd "$T/work" || exit 1
}

# dump NAME FILE: the file between markers, for the runner to read.
dump() {
	echo "E2E-FILE-BEGIN $1"
	cat "$2" 2>&1
	echo
	echo "E2E-FILE-END $1"
}
