/*
 * Unit tests of the guest programs' pure code: the relay header line, DNS
 * stream framing, upstream/listen address parsing, session.conf.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "session_conf.h"
#include "upstream.h"
#include "wire.h"

static struct sockaddr_in
sin_of(const char *ip, unsigned port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

START_TEST(header_format)
{
	char	 buf[RELAY_HEADER_MAX + 1];
	struct sockaddr_in sin = sin_of("203.0.113.7", 443);

	ck_assert_int_eq(relay_header_format(buf, sizeof(buf), &sin), 25);
	ck_assert_str_eq(buf, "CAPSEM/1 203.0.113.7 443\n");
	sin = sin_of("0.0.0.0", 1);
	ck_assert_int_gt(relay_header_format(buf, sizeof(buf), &sin), 0);
	ck_assert_str_eq(buf, "CAPSEM/1 0.0.0.0 1\n");
	sin = sin_of("255.255.255.255", 65535);
	ck_assert_int_gt(relay_header_format(buf, sizeof(buf), &sin), 0);
	ck_assert_str_eq(buf, "CAPSEM/1 255.255.255.255 65535\n");
	ck_assert_int_le(strlen(buf), RELAY_HEADER_MAX);
	/* no leading zeros */
	sin = sin_of("10.0.2.15", 80);
	ck_assert_int_gt(relay_header_format(buf, sizeof(buf), &sin), 0);
	ck_assert_str_eq(buf, "CAPSEM/1 10.0.2.15 80\n");
}
END_TEST

START_TEST(header_rejects)
{
	char	 buf[RELAY_HEADER_MAX + 1];
	struct sockaddr_in sin = sin_of("203.0.113.7", 0);

	ck_assert_int_eq(relay_header_format(buf, sizeof(buf), &sin), -1);
	sin = sin_of("203.0.113.7", 443);
	ck_assert_int_eq(relay_header_format(buf, 10, &sin), -1);
}
END_TEST

START_TEST(framer_whole_and_split)
{
	static struct dns_framer f;
	uint8_t	 in[2 + 14 + 2 + 12];
	size_t	 used;

	/* two messages back to back: 14 bytes then 12 bytes */
	in[0] = 0;
	in[1] = 14;
	for (int i = 0; i < 14; i++)
		in[2 + i] = (uint8_t)i;
	in[16] = 0;
	in[17] = 12;
	memset(in + 18, 0xab, 12);

	dns_framer_init(&f);
	used = dns_framer_feed(&f, in, sizeof(in));
	ck_assert_uint_eq(used, 16);
	ck_assert(f.ready);
	ck_assert_uint_eq(f.want, 14);
	ck_assert_int_eq(f.msg[13], 13);
	/* feeding stops at a boundary until next() */
	ck_assert_uint_eq(dns_framer_feed(&f, in + used, sizeof(in) - used), 0);
	dns_framer_next(&f);
	used += dns_framer_feed(&f, in + used, sizeof(in) - used);
	ck_assert_uint_eq(used, sizeof(in));
	ck_assert(f.ready);
	ck_assert_uint_eq(f.want, 12);
	ck_assert_int_eq(f.msg[0], 0xab);

	/* one byte at a time */
	dns_framer_init(&f);
	for (size_t i = 0; i < 16; i++) {
		ck_assert(!f.ready);
		ck_assert_uint_eq(dns_framer_feed(&f, in + i, 1), 1);
	}
	ck_assert(f.ready);
	ck_assert_uint_eq(f.want, 14);
	ck_assert(memcmp(f.msg, in + 2, 14) == 0);
}
END_TEST

START_TEST(framer_rejects_runt)
{
	static struct dns_framer f;
	const uint8_t in[] = { 0, 11, 1, 2, 3 };

	dns_framer_init(&f);
	dns_framer_feed(&f, in, sizeof(in));
	ck_assert(f.error);
	ck_assert(!f.ready);
}
END_TEST

START_TEST(framer_max)
{
	static struct dns_framer f;
	static uint8_t in[2 + DNS_MESSAGE_MAX];
	uint8_t	 prefix[2];

	ck_assert_int_eq(dns_frame_prefix(prefix, DNS_MESSAGE_MAX), 0);
	ck_assert_int_eq(dns_frame_prefix(prefix, DNS_MESSAGE_MAX + 1), -1);
	ck_assert_int_eq(dns_frame_prefix(prefix, 11), -1);
	in[0] = 0xff;
	in[1] = 0xff;
	dns_framer_init(&f);
	ck_assert_uint_eq(dns_framer_feed(&f, in, sizeof(in)), sizeof(in));
	ck_assert(f.ready);
	ck_assert_uint_eq(f.want, DNS_MESSAGE_MAX);
}
END_TEST

START_TEST(upstream_addresses)
{
	struct upstream up;
	const char *err;

	ck_assert_int_eq(upstream_parse(&up, "vsock:2:1443", &err), 0);
	ck_assert_int_eq(up.addr.svm.svm_family, AF_VSOCK);
	ck_assert_uint_eq(up.addr.svm.svm_cid, 2);
	ck_assert_uint_eq(up.addr.svm.svm_port, 1443);
	ck_assert_int_eq(upstream_parse(&up, "unix:/run/x.sock", &err), 0);
	ck_assert_int_eq(up.addr.sun.sun_family, AF_UNIX);
	ck_assert_str_eq(up.addr.sun.sun_path, "/run/x.sock");

	ck_assert_int_eq(upstream_parse(&up, "vsock:2", &err), -1);
	ck_assert_int_eq(upstream_parse(&up, "vsock::1443", &err), -1);
	ck_assert_int_eq(upstream_parse(&up, "vsock:2:0", &err), -1);
	ck_assert_int_eq(upstream_parse(&up, "vsock:02:1443", &err), -1);
	ck_assert_int_eq(upstream_parse(&up, "vsock:2:4294967296", &err), -1);
	ck_assert_int_eq(upstream_parse(&up, "vsock:-1:1443", &err), -1);
	ck_assert_int_eq(upstream_parse(&up, "unix:relative", &err), -1);
	ck_assert_int_eq(upstream_parse(&up, "unix:", &err), -1);
	ck_assert_int_eq(upstream_parse(&up, "tcp:1.2.3.4:5", &err), -1);
}
END_TEST

/* The connect watch relay and dns share. */
START_TEST(upstream_connect_events)
{
	struct sockaddr_in sin;
	struct pollfd pfd;
	socklen_t len = sizeof(sin);
	bool	 connecting;
	int	 sv[2], lis, fd;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	connecting = false;		/* connected before: go on */
	ck_assert_int_eq(upstream_connect_event(sv[0], &connecting, sv[1],
	    EV_READ), 0);
	connecting = true;		/* an event on the client: wait */
	ck_assert_int_eq(upstream_connect_event(sv[0], &connecting, sv[1],
	    EV_WRITE), 1);
	ck_assert(connecting);
	/* the upstream readable, not writable: wait */
	ck_assert_int_eq(upstream_connect_event(sv[0], &connecting, sv[0],
	    EV_READ), 1);
	ck_assert(connecting);
	ck_assert_int_eq(upstream_connect_event(sv[0], &connecting, sv[0],
	    EV_WRITE), 0);
	ck_assert(!connecting);
	connecting = true;
	ck_assert_int_eq(upstream_connect_event(sv[0], &connecting, sv[0],
	    EV_HUP), 0);
	ck_assert(!connecting);
	close(sv[0]);
	close(sv[1]);

	/* A refused connect: a port bound but not listening on loopback. */
	lis = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(lis, -1);
	sin = sin_of("127.0.0.1", 0);
	ck_assert_int_eq(bind(lis, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(lis, (struct sockaddr *)&sin, &len), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ne(fd, -1);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
		connecting = true;
		ck_assert_int_eq(upstream_connect_event(fd, &connecting, fd,
		    EV_WRITE), -1);
		ck_assert_int_eq(errno, ECONNREFUSED);
	}
	close(fd);
	close(lis);
}
END_TEST

START_TEST(listen_addresses)
{
	struct sockaddr_in sin;

	ck_assert_int_eq(inet_addrport_parse(&sin, "127.0.0.1:10443"), 0);
	ck_assert_uint_eq(ntohs(sin.sin_port), 10443);
	ck_assert_uint_eq(ntohl(sin.sin_addr.s_addr), 0x7f000001);
	ck_assert_int_eq(inet_addrport_parse(&sin, "127.0.0.1:0"), -1);
	ck_assert_int_eq(inet_addrport_parse(&sin, "127.0.0.1:65536"), -1);
	ck_assert_int_eq(inet_addrport_parse(&sin, "127.0.0.1"), -1);
	ck_assert_int_eq(inet_addrport_parse(&sin, ":53"), -1);
	ck_assert_int_eq(inet_addrport_parse(&sin, "localhost:53"), -1);
}
END_TEST

static const char good_conf[] =
    "# a comment\n"
    "\n"
    "user=agent\n"
    "cwd=/home/agent/work\n"
    "hostname=box-1.test\n"
    "root=/dev/vda\n"
    "rootfstype=erofs\n"
    "console=/dev/hvc0\n"
    "term=xterm\n"
    "control=vsock:2:1024\n"
    "net=off\n"
    "env=ANTHROPIC_API_KEY=placeholder=x # not a comment\n"
    "env=EMPTY=\n"
    "arg=claude\n"
    "arg=\n"
    "arg=--print hello world";

START_TEST(conf_good)
{
	struct session_conf *sc = malloc(sizeof(*sc));
	char	 err[128];

	ck_assert_ptr_nonnull(sc);
	session_conf_defaults(sc);
	ck_assert_str_eq(sc->user, "root");
	ck_assert(sc->net);
	ck_assert_int_eq(session_conf_parse(sc, good_conf, strlen(good_conf),
	    err, sizeof(err)), 0);
	ck_assert_str_eq(sc->user, "agent");
	ck_assert_str_eq(sc->cwd, "/home/agent/work");
	ck_assert_str_eq(sc->hostname, "box-1.test");
	ck_assert_str_eq(sc->root, "/dev/vda");
	ck_assert_str_eq(sc->rootfstype, "erofs");
	ck_assert_str_eq(sc->term, "xterm");
	ck_assert(!sc->net);
	ck_assert_uint_eq(sc->nenv, 2);
	ck_assert_str_eq(sc->env[0], "ANTHROPIC_API_KEY=placeholder=x # not a comment");
	ck_assert_str_eq(sc->env[1], "EMPTY=");
	ck_assert_ptr_null(sc->env[2]);
	ck_assert_uint_eq(sc->argc, 3);
	ck_assert_str_eq(sc->argv[0], "claude");
	ck_assert_str_eq(sc->argv[1], "");
	ck_assert_str_eq(sc->argv[2], "--print hello world");
	ck_assert_ptr_null(sc->argv[3]);
	free(sc);
}
END_TEST

static const struct {
	const char	*text;
	const char	*error;
} bad_confs[] = {
	{ "user=Agent\n", "line 1: user must be" },
	{ "user=agent\nuser=root\n", "line 2: user given twice" },
	{ "\n\nbogus=1\n", "line 3: unknown key \"bogus\"" },
	{ "no equals sign\n", "line 1: expected key=value" },
	{ "cwd=relative\n", "line 1: cwd must be" },
	{ "root=vda\n", "line 1: root must be" },
	{ "rootfstype=xfs\n", "line 1: rootfstype must be" },
	{ "console=/etc/passwd\n", "line 1: console must be" },
	{ "console=/dev/../etc/shadow\n", "line 1: console must be" },
	{ "net=yes\n", "line 1: net must be" },
	{ "env=1BAD=x\n", "line 1: env must be" },
	{ "env=NOEQUALS\n", "line 1: env must be" },
	{ "arg=\n", "line 1: the command (first arg) is empty" },
	{ "arg=a\r\n", "line 1: control byte 0x0d" },
	{ "hostname=-x\n", "line 1: hostname must be" },
	{ "term=../x\n", "line 1: term must be" },
};

START_TEST(conf_bad)
{
	struct session_conf *sc = malloc(sizeof(*sc));
	char	 err[128];
	const char *text = bad_confs[_i].text;

	ck_assert_ptr_nonnull(sc);
	session_conf_defaults(sc);
	ck_assert_int_eq(session_conf_parse(sc, text, strlen(text), err,
	    sizeof(err)), -1);
	ck_assert_msg(strncmp(err, bad_confs[_i].error,
	    strlen(bad_confs[_i].error)) == 0, "\"%s\" gave \"%s\"", text, err);
	free(sc);
}
END_TEST

START_TEST(conf_limits)
{
	struct session_conf *sc = malloc(sizeof(*sc));
	char	*text = malloc(SESSION_CONF_MAX + 2);
	char	 err[128];
	size_t	 len = 0;

	ck_assert_ptr_nonnull(sc);
	ck_assert_ptr_nonnull(text);
	/* NUL inside a line */
	session_conf_defaults(sc);
	ck_assert_int_eq(session_conf_parse(sc, "arg=a\0b\n", 8, err,
	    sizeof(err)), -1);
	/* too many args */
	for (int i = 0; i <= SESSION_ARGS_MAX; i++)
		len += (size_t)snprintf(text + len, 16, "arg=x\n");
	session_conf_defaults(sc);
	ck_assert_int_eq(session_conf_parse(sc, text, len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "line 65: too many arg lines");
	/* an over-long line */
	memcpy(text, "arg=", 4);
	memset(text + 4, 'a', SESSION_LINE_MAX);
	session_conf_defaults(sc);
	ck_assert_int_eq(session_conf_parse(sc, text, SESSION_LINE_MAX + 4, err,
	    sizeof(err)), -1);
	/* the whole file too large */
	memset(text, '#', SESSION_CONF_MAX + 1);
	ck_assert_int_eq(session_conf_parse(sc, text, SESSION_CONF_MAX + 1, err,
	    sizeof(err)), -1);
	free(text);
	free(sc);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("guest");
	TCase	*tc = tcase_create("wire");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, header_format);
	tcase_add_test(tc, header_rejects);
	tcase_add_test(tc, framer_whole_and_split);
	tcase_add_test(tc, framer_rejects_runt);
	tcase_add_test(tc, framer_max);
	tcase_add_test(tc, upstream_addresses);
	tcase_add_test(tc, upstream_connect_events);
	tcase_add_test(tc, listen_addresses);
	tcase_add_test(tc, conf_good);
	tcase_add_loop_test(tc, conf_bad, 0,
	    (int)(sizeof(bad_confs) / sizeof(bad_confs[0])));
	tcase_add_test(tc, conf_limits);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
