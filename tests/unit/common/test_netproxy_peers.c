/*
 * netproxy_peers: channels take free slots, their handlers get the peer
 * (and through it the server's struct), a channel netproxy closes leaves
 * its slot, close_all empties the table.
 */
#include <sys/socket.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "imsg.h"
#include "log.h"
#include "netproxy_peers.h"

#define TEST_MSG	4242

struct server {
	struct event_loop *loop;
	struct netproxy_peer *last_from;
	int		 nmsgs;
};

static void
on_test_msg(void *ctx, struct imsg *imsg)
{
	struct netproxy_peer *peer = ctx;
	struct server	*srv = peer->ctx;

	(void)imsg;
	srv->last_from = peer;
	srv->nmsgs++;
	event_loop_exit(srv->loop);
}

static const struct imsg_handler test_handlers[] = {
	{ TEST_MSG, 0, 16, IMSG_FD_NONE, on_test_msg },
};

static void
stop(void *arg)
{
	event_loop_exit(arg);
}

/* Run the loop until a handler stops it or 200 ms pass. */
static void
run_a_while(struct server *srv)
{
	uint64_t id = timer_add(srv->loop, 200, stop, srv->loop);

	ck_assert_uint_ne(id, 0);
	ck_assert_int_eq(event_loop_run(srv->loop), 0);
	timer_cancel(srv->loop, id);
}

START_TEST(slots_messages_close)
{
	struct netproxy_peers table;
	struct netproxy_peer *p0, *p1;
	struct server	 srv;
	struct imsgbuf	 out;
	int		 sv0[2], sv1[2];

	log_init(1, 0);
	memset(&table, 0, sizeof(table));
	memset(&srv, 0, sizeof(srv));
	ck_assert_ptr_nonnull(srv.loop = event_loop_new());
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv0), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv1), 0);
	ck_assert_uint_eq(netproxy_peers_count(&table), 0);

	p0 = netproxy_peers_add(&table, srv.loop, PROC_POLICYD, PROC_NETPROXY,
	    0, sv0[0], 64, test_handlers, 1, &srv);
	p1 = netproxy_peers_add(&table, srv.loop, PROC_POLICYD, PROC_NETPROXY,
	    1, sv1[0], 64, test_handlers, 1, &srv);
	ck_assert_ptr_eq(table.slots[0], p0);
	ck_assert_ptr_eq(table.slots[1], p1);
	ck_assert_uint_eq(p1->instance, 1);
	ck_assert_uint_eq(p1->slot, 1);
	ck_assert_ptr_eq(p1->ctx, &srv);
	ck_assert_uint_eq(netproxy_peers_count(&table), 2);

	/* A message on instance 1 reaches the handler with its peer. */
	imsgbuf_init(&out, sv1[1], 64);
	ck_assert_int_eq(imsg_compose(&out, TEST_MSG, 7, -1, "hi", 2), 0);
	ck_assert_int_eq(imsgbuf_flush(&out), 0);
	run_a_while(&srv);
	ck_assert_int_eq(srv.nmsgs, 1);
	ck_assert_ptr_eq(srv.last_from, p1);
	imsgbuf_clear(&out);

	/* Instance 0 closes: its slot is free again, the next add takes it. */
	close(sv0[1]);
	run_a_while(&srv);
	ck_assert_ptr_null(table.slots[0]);
	ck_assert_uint_eq(netproxy_peers_count(&table), 1);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv0), 0);
	p0 = netproxy_peers_add(&table, srv.loop, PROC_POLICYD, PROC_NETPROXY,
	    2, sv0[0], 64, test_handlers, 1, &srv);
	ck_assert_uint_eq(p0->slot, 0);
	ck_assert_uint_eq(netproxy_peers_count(&table), 2);

	netproxy_peers_close_all(&table);
	ck_assert_uint_eq(netproxy_peers_count(&table), 0);
	close(sv0[1]);
	close(sv1[1]);
	event_loop_free(srv.loop);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("netproxy_peers");
	TCase	*tc = tcase_create("netproxy_peers");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, slots_messages_close);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
