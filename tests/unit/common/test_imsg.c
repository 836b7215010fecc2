/*
 * imsg framing: round trips, many messages per read, split messages, the
 * maximum size, oversize and malformed streams, fd passing, dispatch.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

struct pair {
	int		 fd[2];
	struct imsgbuf	 a, b;
};

static void
pair_open(struct pair *p, size_t maxlen)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
	imsgbuf_init(&p->a, p->fd[0], maxlen);
	imsgbuf_init(&p->b, p->fd[1], maxlen);
}

static void
pair_close(struct pair *p)
{
	imsgbuf_clear(&p->a);
	imsgbuf_clear(&p->b);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* Read until a message is complete on b. */
static int
get_one(struct imsgbuf *b, struct imsg *m)
{
	int r;

	while ((r = imsg_get(b, m)) == 0) {
		ssize_t n = imsgbuf_read(b);

		if (n == 0)
			return 0;
		if (n == -1 && errno != EAGAIN)
			return -1;
	}
	return r;
}

START_TEST(round_trip)
{
	struct pair	 p;
	struct imsg	 m;
	const char	 payload[] = "hello, certd";

	pair_open(&p, 0);
	ck_assert_int_eq(imsg_compose(&p.a, 42, 7, -1, payload,
	    sizeof(payload)), 0);
	ck_assert(imsgbuf_pending(&p.a));
	ck_assert_int_eq(imsgbuf_flush(&p.a), 0);
	ck_assert(!imsgbuf_pending(&p.a));
	ck_assert_int_eq(get_one(&p.b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 42);
	ck_assert_uint_eq(m.hdr.peerid, 7);
	ck_assert_uint_eq(m.hdr.pid, (uint32_t)getpid());
	ck_assert_uint_eq(m.len, sizeof(payload));
	ck_assert_int_eq(m.fd, -1);
	ck_assert_mem_eq(m.data, payload, sizeof(payload));
	ck_assert_int_eq(imsg_get(&p.b, &m), 0);
	pair_close(&p);
}
END_TEST

START_TEST(empty_payload_and_two_parts)
{
	struct pair	 p;
	struct imsg	 m;

	pair_open(&p, 0);
	ck_assert_int_eq(imsg_compose(&p.a, 1, 0, -1, NULL, 0), 0);
	ck_assert_int_eq(imsg_compose2(&p.a, 2, 0, -1, "abc", 3, "defg", 4), 0);
	ck_assert_int_eq(imsgbuf_flush(&p.a), 0);
	ck_assert_int_eq(get_one(&p.b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 1);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_eq(get_one(&p.b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 2);
	ck_assert_uint_eq(m.len, 7);
	ck_assert_mem_eq(m.data, "abcdefg", 7);
	pair_close(&p);
}
END_TEST

START_TEST(many_in_one_read)
{
	struct pair	 p;
	struct imsg	 m;
	uint32_t	 i, v;

	pair_open(&p, 0);
	for (i = 0; i < 500; i++)
		ck_assert_int_eq(imsg_compose(&p.a, 3, i, -1, &i, sizeof(i)), 0);
	ck_assert_int_eq(imsgbuf_flush(&p.a), 0);
	for (i = 0; i < 500; i++) {
		ck_assert_int_eq(get_one(&p.b, &m), 1);
		ck_assert_uint_eq(m.hdr.peerid, i);
		memcpy(&v, m.data, sizeof(v));
		ck_assert_uint_eq(v, i);
	}
	ck_assert_int_eq(imsg_get(&p.b, &m), 0);
	pair_close(&p);
}
END_TEST

START_TEST(split_across_reads)
{
	struct pair	 p;
	struct imsg	 m;
	struct imsg_hdr	 hdr;
	uint8_t		 wire[IMSG_HDR_SIZE + 100];
	size_t		 i;

	pair_open(&p, 0);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = 9;
	hdr.len = 100;
	memcpy(wire, &hdr, sizeof(hdr));
	for (i = 0; i < 100; i++)
		wire[IMSG_HDR_SIZE + i] = (uint8_t)i;
	/* One byte at a time: never a message before the last byte. */
	for (i = 0; i < sizeof(wire); i++) {
		ck_assert_int_eq(write(p.fd[0], wire + i, 1), 1);
		ck_assert_int_eq(imsgbuf_read(&p.b), 1);
		if (i + 1 < sizeof(wire))
			ck_assert_int_eq(imsg_get(&p.b, &m), 0);
	}
	ck_assert_int_eq(imsg_get(&p.b, &m), 1);
	ck_assert_uint_eq(m.len, 100);
	ck_assert_mem_eq(m.data, wire + IMSG_HDR_SIZE, 100);
	pair_close(&p);
}
END_TEST

START_TEST(maximum_size)
{
	struct pair	 p;
	struct imsg	 m;
	size_t		 max = 256 * 1024;
	uint8_t		*big = malloc(max + 1);
	pid_t		 pid;
	int		 status;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i <= max; i++)
		big[i] = (uint8_t)(i * 7);
	pair_open(&p, max);
	/* Over the maximum: refused at compose. */
	ck_assert_int_eq(imsg_compose(&p.a, 5, 0, -1, big, max + 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(imsg_compose(&p.a, 5, 0, -1, big, max), 0);
	/* The socket buffer is smaller than the message: write from a child. */
	if ((pid = fork()) == 0) {
		_exit(imsgbuf_flush(&p.a) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(get_one(&p.b, &m), 1);
	ck_assert_uint_eq(m.len, max);
	ck_assert_mem_eq(m.data, big, max);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(big);
	pair_close(&p);
}
END_TEST

START_TEST(oversize_rejected_by_reader)
{
	struct pair	 p;
	struct imsg	 m;
	struct imsg_hdr	 hdr;

	pair_open(&p, 1024);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = 1;
	hdr.len = 1025;		/* a lying sender */
	ck_assert_int_eq(write(p.fd[0], &hdr, sizeof(hdr)), sizeof(hdr));
	ck_assert_int_gt(imsgbuf_read(&p.b), 0);
	ck_assert_int_eq(imsg_get(&p.b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	pair_close(&p);
}
END_TEST

START_TEST(unknown_flags_rejected)
{
	struct pair	 p;
	struct imsg	 m;
	struct imsg_hdr	 hdr;

	pair_open(&p, 0);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = 1;
	hdr.flags = 0x80;
	ck_assert_int_eq(write(p.fd[0], &hdr, sizeof(hdr)), sizeof(hdr));
	ck_assert_int_gt(imsgbuf_read(&p.b), 0);
	ck_assert_int_eq(imsg_get(&p.b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	pair_close(&p);
}
END_TEST

START_TEST(truncated_header_and_payload)
{
	struct pair	 p;
	struct imsg	 m;
	struct imsg_hdr	 hdr;

	pair_open(&p, 0);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = 1;
	hdr.len = 10;
	/* Half a header, then EOF: no message, then EOF seen. */
	ck_assert_int_eq(write(p.fd[0], &hdr, 8), 8);
	ck_assert_int_eq(imsgbuf_read(&p.b), 8);
	ck_assert_int_eq(imsg_get(&p.b, &m), 0);
	/* The rest of the header and 5 of 10 payload bytes. */
	ck_assert_int_eq(write(p.fd[0], (char *)&hdr + 8, sizeof(hdr) - 8),
	    (ssize_t)(sizeof(hdr) - 8));
	ck_assert_int_eq(write(p.fd[0], "12345", 5), 5);
	shutdown(p.fd[0], SHUT_WR);
	ck_assert_int_eq(get_one(&p.b, &m), 0);	/* EOF before a message */
	pair_close(&p);
}
END_TEST

START_TEST(fd_passing)
{
	struct pair	 p;
	struct imsg	 m;
	int		 pipefd[2];
	char		 buf[16];

	pair_open(&p, 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(imsg_compose(&p.a, 11, 0, pipefd[1], "w", 1), 0);
	ck_assert_int_eq(imsg_compose(&p.a, 12, 0, -1, NULL, 0), 0);
	ck_assert_int_eq(imsgbuf_flush(&p.a), 0);
	/* The sender's copy was closed once sent. */
	ck_assert_int_eq(fcntl(pipefd[1], F_GETFD), -1);
	ck_assert_int_eq(get_one(&p.b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 11);
	ck_assert_uint_eq(m.hdr.flags, IMSGF_HASFD);
	ck_assert_int_ge(m.fd, 0);
	/* The received fd works: it is the write end of our pipe. */
	ck_assert_int_eq(write(m.fd, "through", 7), 7);
	ck_assert_int_eq(read(pipefd[0], buf, sizeof(buf)), 7);
	ck_assert_mem_eq(buf, "through", 7);
	imsg_free(&m);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_int_eq(get_one(&p.b, &m), 1);
	ck_assert_uint_eq(m.hdr.type, 12);
	ck_assert_int_eq(m.fd, -1);
	close(pipefd[0]);
	pair_close(&p);
}
END_TEST

START_TEST(hasfd_without_fd_rejected)
{
	struct pair	 p;
	struct imsg	 m;
	struct imsg_hdr	 hdr;

	pair_open(&p, 0);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = 1;
	hdr.flags = IMSGF_HASFD;
	ck_assert_int_eq(write(p.fd[0], &hdr, sizeof(hdr)), sizeof(hdr));
	ck_assert_int_gt(imsgbuf_read(&p.b), 0);
	ck_assert_int_eq(imsg_get(&p.b, &m), -1);
	ck_assert_int_eq(errno, ENOENT);
	pair_close(&p);
}
END_TEST

START_TEST(fd_flood_is_fatal)
{
	struct pair	 p;
	struct imsg	 m;
	int		 i, n = IMSG_MAX_QUEUED_FDS + 8, r = 0;

	pair_open(&p, 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(imsg_compose(&p.a, 1, (uint32_t)i,
		    dup(STDIN_FILENO), NULL, 0), 0);
	ck_assert_int_eq(imsgbuf_flush(&p.a), 0);
	/* Read everything before taking any message: the fd queue overflows. */
	while (imsgbuf_read(&p.b) > 0)
		;
	for (i = 0; i < n && (r = imsg_get(&p.b, &m)) == 1; i++)
		imsg_free(&m);
	/* Never a message paired with another message's fd. */
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, EBADMSG);
	pair_close(&p);
}
END_TEST

/* Dispatch: known types reach their handler; the rest kill the process. */
static int dispatched;

static void
on_ping(void *ctx, struct imsg *imsg)
{
	(void)ctx;
	dispatched += (int)imsg->len;
}

static const struct imsg_handler table[] = {
	{ 100, 4, 4, IMSG_FD_NONE, on_ping },
	{ 101, 0, 8, IMSG_FD_NONE, on_ping },
	{ 102, 0, 0, IMSG_FD_REQUIRED, on_ping },
};

static int
dispatch_in_child(uint32_t type, size_t len, int with_fd)
{
	struct imsg	 m;
	uint8_t		 data[16] = { 0 };
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == 0) {
		close(STDERR_FILENO);	/* the fatalx line is expected */
		memset(&m, 0, sizeof(m));
		m.hdr.type = type;
		m.hdr.len = (uint32_t)len;
		m.data = data;
		m.len = len;
		m.fd = with_fd ? dup(0) : -1;
		imsg_dispatch(table, 3, "test", NULL, &m);
		_exit(dispatched == (int)len ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(dispatch_rules)
{
	ck_assert_int_eq(dispatch_in_child(100, 4, 0), 0);
	ck_assert_int_eq(dispatch_in_child(101, 0, 0), 0);
	ck_assert_int_eq(dispatch_in_child(101, 8, 0), 0);
	ck_assert_int_eq(dispatch_in_child(102, 0, 1), 0);
	/* fatal: unknown type, wrong exact length, too long, fd rules */
	ck_assert_int_eq(dispatch_in_child(99, 0, 0), 1);
	ck_assert_int_eq(dispatch_in_child(100, 3, 0), 1);
	ck_assert_int_eq(dispatch_in_child(100, 5, 0), 1);
	ck_assert_int_eq(dispatch_in_child(101, 9, 0), 1);
	ck_assert_int_eq(dispatch_in_child(102, 0, 0), 1);
	ck_assert_int_eq(dispatch_in_child(100, 4, 1), 1);
}
END_TEST

START_TEST(write_backlog_bounded)
{
	struct pair	 p;
	uint8_t		 chunk[1024] = { 0 };
	int		 i, r = 0;

	pair_open(&p, 1024);
	for (i = 0; i < 100000 && r == 0; i++)
		r = imsg_compose(&p.a, 1, 0, -1, chunk, sizeof(chunk));
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_le(p.a.wq_bytes, p.a.wq_limit);
	pair_close(&p);
}
END_TEST

START_TEST(peer_gone)
{
	struct pair	 p;

	signal(SIGPIPE, SIG_DFL);	/* MSG_NOSIGNAL must protect us */
	pair_open(&p, 0);
	close(p.fd[1]);
	ck_assert_int_eq(imsg_compose(&p.a, 1, 0, -1, "x", 1), 0);
	ck_assert_int_eq(imsgbuf_write(&p.a), -1);
	ck_assert_int_eq(errno, EPIPE);
	imsgbuf_clear(&p.a);
	imsgbuf_clear(&p.b);
	close(p.fd[0]);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("imsg");
	TCase	*tc = tcase_create("imsg");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, empty_payload_and_two_parts);
	tcase_add_test(tc, many_in_one_read);
	tcase_add_test(tc, split_across_reads);
	tcase_add_test(tc, maximum_size);
	tcase_add_test(tc, oversize_rejected_by_reader);
	tcase_add_test(tc, unknown_flags_rejected);
	tcase_add_test(tc, truncated_header_and_payload);
	tcase_add_test(tc, fd_passing);
	tcase_add_test(tc, hasfd_without_fd_rejected);
	tcase_add_test(tc, fd_flood_is_fatal);
	tcase_add_test(tc, dispatch_rules);
	tcase_add_test(tc, write_backlog_bounded);
	tcase_add_test(tc, peer_gone);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
