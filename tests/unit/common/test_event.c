/* event loop: fd readiness, timers in deadline order, cancel, exit. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"

struct rec {
	struct event_loop *loop;
	char	 order[16];
	size_t	 n;
	int	 reads;
	int	 pipefd[2];
};

static void
timer_mark(void *arg)
{
	struct rec *r = arg;

	r->order[r->n++] = 't';
}

static void timer_a(void *arg) { struct rec *r = arg; r->order[r->n++] = 'a'; }
static void timer_b(void *arg) { struct rec *r = arg; r->order[r->n++] = 'b'; }
static void timer_c(void *arg) { struct rec *r = arg; r->order[r->n++] = 'c'; event_loop_exit(r->loop); }

START_TEST(timers_in_order)
{
	struct rec r;
	uint64_t t0, id;

	memset(&r, 0, sizeof(r));
	r.loop = event_loop_new();
	ck_assert_ptr_nonnull(r.loop);
	t0 = event_now_ms();
	timer_add(r.loop, 60, timer_c, &r);
	timer_add(r.loop, 20, timer_a, &r);
	id = timer_add(r.loop, 30, timer_mark, &r);
	timer_add(r.loop, 40, timer_b, &r);
	timer_cancel(r.loop, id);
	ck_assert_int_eq(event_loop_run(r.loop), 0);
	ck_assert_str_eq(r.order, "abc");
	ck_assert_uint_ge(event_now_ms() - t0, 60);
	event_loop_free(r.loop);
}
END_TEST

static void
on_read(int fd, uint32_t events, void *arg)
{
	struct rec *r = arg;
	char	 c;

	ck_assert(events & EV_READ);
	if (read(fd, &c, 1) == 1)
		r->reads++;
	if (r->reads == 3) {
		event_del(r->loop, fd);
		event_loop_exit(r->loop);
	}
}

START_TEST(fd_readiness)
{
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.loop = event_loop_new();
	ck_assert_int_eq(pipe(r.pipefd), 0);
	ck_assert_int_eq(event_add(r.loop, r.pipefd[0], EV_READ, on_read, &r), 0);
	ck_assert_int_eq(event_add(r.loop, r.pipefd[0], EV_READ, on_read, &r), -1);
	ck_assert_int_eq(write(r.pipefd[1], "xyz", 3), 3);
	ck_assert_int_eq(event_loop_run(r.loop), 0);
	ck_assert_int_eq(r.reads, 3);
	close(r.pipefd[0]);
	close(r.pipefd[1]);
	event_loop_free(r.loop);
}
END_TEST

static void
never_called(int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	ck_abort_msg("no event expected");
}

static void
stop_loop(void *arg)
{
	event_loop_exit(arg);
}

/* event_watch: add once, then modify, then remove; a removed fd is quiet. */
START_TEST(watch_add_mod_del)
{
	struct rec r;
	bool	 watched = false;

	memset(&r, 0, sizeof(r));
	r.loop = event_loop_new();
	ck_assert_int_eq(pipe(r.pipefd), 0);
	event_watch(r.loop, r.pipefd[0], &watched, EV_READ, false, on_read, &r);
	ck_assert(watched);
	/* registered: a second event_add is refused */
	ck_assert_int_eq(event_add(r.loop, r.pipefd[0], EV_READ, on_read, &r),
	    -1);
	event_watch(r.loop, r.pipefd[0], &watched, 0, false, on_read, &r);
	ck_assert(watched);
	event_watch(r.loop, r.pipefd[0], &watched, EV_READ, false, on_read, &r);
	ck_assert_int_eq(write(r.pipefd[1], "xyz", 3), 3);
	ck_assert_int_eq(event_loop_run(r.loop), 0);
	ck_assert_int_eq(r.reads, 3);	/* on_read removed it itself */

	watched = true;
	ck_assert_int_eq(event_add(r.loop, r.pipefd[0], EV_READ, never_called,
	    &r), 0);
	event_watch(r.loop, r.pipefd[0], &watched, EV_READ, true, on_read, &r);
	ck_assert(!watched);
	event_watch(r.loop, r.pipefd[0], &watched, EV_READ, true, on_read, &r);
	ck_assert(!watched);
	ck_assert_int_eq(write(r.pipefd[1], "q", 1), 1);
	timer_add(r.loop, 50, stop_loop, r.loop);
	ck_assert_int_eq(event_loop_run(r.loop), 0);
	close(r.pipefd[0]);
	close(r.pipefd[1]);
	event_loop_free(r.loop);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("event");
	TCase	*tc = tcase_create("event");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, timers_in_order);
	tcase_add_test(tc, fd_readiness);
	tcase_add_test(tc, watch_add_mod_del);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
