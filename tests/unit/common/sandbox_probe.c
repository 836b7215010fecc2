/*
 * sandbox_probe: enters a sandbox through the same sandbox_enter() the
 * children use, says "ready <report>" on stdout, then reads one command
 * from stdin and does it:
 *   allowed   - an allowlisted call (getpid), then exit 0
 *   socket    - socket(AF_INET, SOCK_STREAM)      (not in the allowlist)
 *   openat    - open("/etc/passwd")                (not in the allowlist)
 *   execve    - execve("/bin/true")               (not in the allowlist)
 *   ptrace    - ptrace(PTRACE_TRACEME)             (not in the allowlist)
 *   thread-narrow - a thread narrows its filter to probe_thread.seccomp
 *               (sandbox_narrow_thread), then calls getpid (allowed to the
 *               process, not to that thread)
 *   thread-main - the same thread narrows and ends; then the main thread
 *               calls getpid (still allowed to it), then exit 0
 * Each forbidden one must kill the probe with SIGSYS; if it returns, the
 * probe exits 3.
 */
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "probe_seccomp.h"
#include "probe_thread_seccomp.h"

/* arg non-NULL: getpid after narrowing (the thread's filter forbids it) */
static void *
narrowed_thread(void *arg)
{
	sandbox_narrow_thread("probe thread", probe_thread_seccomp_rules,
	    PROBE_THREAD_SECCOMP_NRULES);
	if (arg != NULL)
		(void)syscall(SYS_getpid);
	return NULL;
}

static int
run_thread(int call_getpid)
{
	pthread_t	 t;
	static int	 yes = 1;

	if (pthread_create(&t, NULL, narrowed_thread,
	    call_getpid ? &yes : NULL) != 0 || pthread_join(t, NULL) != 0)
		return 5;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sandbox_spec spec = {
		.name = "probe",
		.new_netns = true,
		.nofile = 16,
		.rules = probe_seccomp_rules,
		.nrules = PROBE_SECCOMP_NRULES,
	};
	struct sandbox_report rep;
	char	 line[300], cmd[32];
	ssize_t	 n;
	int	 len;

	(void)argc;
	(void)argv;
	log_init(1, 0);
	log_procinit("probe");
	sandbox_enter(&spec, &rep);

	/* stdio's buffers use only write(); build the line by hand anyway. */
	sandbox_report_string(&rep, line + 6, sizeof(line) - 7);
	memcpy(line, "ready ", 6);
	len = (int)strlen(line);
	line[len++] = '\n';
	if (write(STDOUT_FILENO, line, (size_t)len) != len)
		return 2;
	if ((n = read(STDIN_FILENO, cmd, sizeof(cmd) - 1)) <= 0)
		return 2;
	cmd[n] = '\0';
	cmd[strcspn(cmd, "\n")] = '\0';

	if (strcmp(cmd, "allowed") == 0) {
		(void)getpid();
		return 0;
	}
	if (strcmp(cmd, "socket") == 0)
		(void)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	else if (strcmp(cmd, "openat") == 0)
		(void)syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
	else if (strcmp(cmd, "execve") == 0) {
		char *const args[] = { "true", NULL };

		(void)syscall(SYS_execve, "/bin/true", args, args);
	} else if (strcmp(cmd, "ptrace") == 0)
		(void)syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
	else if (strcmp(cmd, "thread-narrow") == 0) {
		if (run_thread(1) != 0)
			return 5;
	} else if (strcmp(cmd, "thread-main") == 0) {
		if (run_thread(0) != 0)
			return 5;
		(void)syscall(SYS_getpid);
		return 0;
	} else
		return 4;
	return 3;
}
