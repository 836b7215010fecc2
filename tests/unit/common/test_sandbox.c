/*
 * sandbox: run sandbox_probe (the children's sandbox_enter with a small
 * allowlist), check what /proc says about it, then make it call a
 * forbidden syscall and check that the kernel killed it with SIGSYS.
 * A thread's narrower filter (sandbox_narrow_thread) binds that thread
 * only: the call it forbids kills from that thread, the main thread may
 * still make it.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *probe_path;

struct probe {
	pid_t	 pid;
	int	 to, from;
	char	 ready[300];
};

static void
probe_start(struct probe *p)
{
	int	 in[2], out[2];
	ssize_t	 n;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	if ((p->pid = fork()) == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[1]);
		close(out[0]);
		execl(probe_path, "sandbox_probe", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->to = in[1];
	p->from = out[0];
	n = read(p->from, p->ready, sizeof(p->ready) - 1);
	ck_assert_int_gt(n, 6);
	p->ready[n] = '\0';
	ck_assert_msg(strncmp(p->ready, "ready ", 6) == 0, "probe said: %s",
	    p->ready);
}

static int
probe_do(struct probe *p, const char *cmd)
{
	int	 status;

	ck_assert_int_eq(write(p->to, cmd, strlen(cmd)),
	    (ssize_t)strlen(cmd));
	ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
	close(p->to);
	close(p->from);
	return status;
}

/* Value of a "Key:\tvalue" line of /proc/PID/status. */
static void
proc_status(pid_t pid, const char *key, char *val, size_t len)
{
	char	 path[64], line[256];
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	val[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t klen = strlen(key);

		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			char *v = line + klen + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(val, len, "%s", v);
		}
	}
	fclose(f);
}

START_TEST(status_shows_sandbox)
{
	struct probe	 p;
	char		 v[64];
	int		 status;

	probe_start(&p);
	proc_status(p.pid, "CapEff", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000000");
	proc_status(p.pid, "CapPrm", v, sizeof(v));
	ck_assert_str_eq(v, "0000000000000000");
	proc_status(p.pid, "CapBnd", v, sizeof(v));
	if (geteuid() == 0)
		ck_assert_str_eq(v, "0000000000000000");
	proc_status(p.pid, "NoNewPrivs", v, sizeof(v));
	ck_assert_str_eq(v, "1");
	proc_status(p.pid, "Seccomp", v, sizeof(v));
	ck_assert_str_eq(v, "2");
	proc_status(p.pid, "Uid", v, sizeof(v));
	ck_assert_msg(strncmp(v, "0\t", 2) != 0, "probe runs as root: %s", v);
	ck_assert_msg(strstr(p.ready, "caps=none") != NULL, "%s", p.ready);
	status = probe_do(&p, "allowed\n");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "allowed call: status 0x%x", status);
}
END_TEST

static void
expect_sigsys(const char *cmd)
{
	struct probe	 p;
	int		 status;

	probe_start(&p);
	status = probe_do(&p, cmd);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	    "%s: status 0x%x, not SIGSYS", cmd, status);
}

START_TEST(socket_kills) { expect_sigsys("socket\n"); }
END_TEST
START_TEST(open_kills) { expect_sigsys("openat\n"); }
END_TEST
START_TEST(execve_kills) { expect_sigsys("execve\n"); }
END_TEST
START_TEST(ptrace_kills) { expect_sigsys("ptrace\n"); }
END_TEST
START_TEST(narrowed_thread_kills) { expect_sigsys("thread-narrow\n"); }
END_TEST

START_TEST(narrowed_thread_leaves_main)
{
	struct probe	 p;
	int		 status;

	probe_start(&p);
	status = probe_do(&p, "thread-main\n");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "getpid on the main thread after a thread narrowed: status 0x%x",
	    status);
}
END_TEST

int
main(int argc, char *argv[])
{
	Suite	*s = suite_create("sandbox");
	TCase	*tc = tcase_create("sandbox");
	SRunner	*sr;
	int	 failed;

	if (argc != 2) {
		fprintf(stderr, "usage: test_sandbox /path/to/sandbox_probe\n");
		return 2;
	}
	probe_path = argv[1];
	tcase_add_test(tc, status_shows_sandbox);
	tcase_add_test(tc, socket_kills);
	tcase_add_test(tc, open_kills);
	tcase_add_test(tc, execve_kills);
	tcase_add_test(tc, ptrace_kills);
	tcase_add_test(tc, narrowed_thread_kills);
	tcase_add_test(tc, narrowed_thread_leaves_main);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
