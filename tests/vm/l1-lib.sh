# Sourced by every l1-run.sh (vm, e2e, agent-image) from its payload
# directory.  Not executable on its own.

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
