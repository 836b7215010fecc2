/*
 * The session directory's liveness lock (cli/home.c), what `logs -f`
 * waits on: held by a process (the session parent), seen from another
 * without taking it, gone when the holder exits however it exits, and
 * asking takes nothing (the holder's lock is never refused for it).
 */
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "home.h"

static int
open_dir(const char *d)
{
	int	 fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	return fd;
}

/* A child that takes the lock, says so on the pipe and waits. */
static pid_t
holder(const char *d)
{
	int	 p[2], fd;
	char	 c;
	pid_t	 pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1 || session_dir_lock(fd) == -1)
			_exit(1);
		if (write(p[1], "l", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

START_TEST(held_seen_released)
{
	char	 d[] = "/tmp/capsem-dirlock-XXXXXX";
	int	 fd, st;
	pid_t	 pid;

	ck_assert_ptr_nonnull(mkdtemp(d));
	fd = open_dir(d);
	ck_assert_int_eq(session_dir_locked(fd), 0);
	pid = holder(d);
	ck_assert_int_eq(session_dir_locked(fd), 1);
	ck_assert_int_eq(session_dir_locked(fd), 1);	/* asking took nothing */
	/* a second holder (a named session's next parent) is not refused */
	ck_assert_int_eq(session_dir_lock(fd), 0);
	close(fd);
	fd = open_dir(d);
	ck_assert_int_eq(session_dir_locked(fd), 1);
	kill(pid, SIGKILL);			/* however it ends */
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(session_dir_locked(fd), 0);
	close(fd);
	rmdir(d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("dirlock");
	TCase	*tc = tcase_create("dirlock");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, held_seen_released);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
