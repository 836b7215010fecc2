/*
 * capsem-dns: the guest's only resolver.
 *
 * The guest's nat OUTPUT rules redirect udp/53 and tcp/53 to 127.0.0.1:1053.
 * Each UDP query, and each TCP client connection, gets its own stream to the
 * upstream (vsock:2:1053 in the guest, unix:/path in host tests); queries are
 * written framed as in DNS over TCP (2-byte big-endian length, guest/PROTOCOL)
 * and the answers are returned: for UDP the first answer is sent back to the
 * client and the stream closed; for TCP frames are passed both ways until
 * either side ends. Nothing else: no cache, no parsing beyond the framing.
 *
 *   capsem-dns [-v] [-l ADDR:PORT] [-u UPSTREAM]
 *   default: -l 127.0.0.1:1053 -u vsock:2:1053
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "upstream.h"
#include "wire.h"

#define DNS_SESSIONS_MAX	64
#define DNS_UDP_TIMEOUT_MS	5000
#define DNS_TCP_IDLE_MS		15000
#define DNS_INBUF		4096
#define DNS_FRAMED_MAX		(2 + DNS_MESSAGE_MAX)

struct dnsfwd;

/* Bytes waiting to be written. */
struct dns_outq {
	uint8_t		 data[DNS_FRAMED_MAX];
	size_t		 off;
	size_t		 len;
};

/* Bytes read, not yet fed to a framer. */
struct dns_inq {
	uint8_t		 data[DNS_INBUF];
	size_t		 off;
	size_t		 len;
};

struct dns_session {
	struct dnsfwd	*fwd;
	bool		 udp;
	struct sockaddr_in udp_client;	/* udp: where the answer goes */
	int		 client;	/* tcp: the client socket; udp: -1 */
	int		 upstream;
	bool		 connecting;
	bool		 client_watched;
	bool		 upstream_watched;
	bool		 client_eof;
	bool		 upstream_eof;
	bool		 upstream_shut;
	bool		 done;
	uint64_t	 timer;
	struct dns_inq	 in_client;
	struct dns_inq	 in_upstream;
	struct dns_outq	 to_upstream;
	struct dns_outq	 to_client;
	struct dns_framer from_client;
	struct dns_framer from_upstream;
};

struct dnsfwd {
	struct event_loop *loop;
	struct sockaddr_in listen_addr;
	struct upstream	 upstream;
	int		 udp_fd;
	int		 tcp_fd;
	size_t		 nsessions;
	bool		 tcp_paused;
	uint8_t		 udpbuf[DNS_MESSAGE_MAX];
};

static void	dns_session_cb(int, uint32_t, void *);

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: capsem-dns [-v] [-l ADDR:PORT] [-u UPSTREAM]\n"
	    "  UPSTREAM is vsock:CID:PORT or unix:/path\n");
	exit(2);
}

static void
dns_session_free(struct dns_session *s)
{
	struct dnsfwd *fwd = s->fwd;

	if (s->timer != 0)
		timer_cancel(fwd->loop, s->timer);
	if (s->upstream_watched)
		event_del(fwd->loop, s->upstream);
	if (s->client_watched)
		event_del(fwd->loop, s->client);
	close(s->upstream);
	if (s->client != -1)
		close(s->client);
	free(s);
	fwd->nsessions--;
	if (fwd->tcp_paused) {
		fwd->tcp_paused = false;
		if (event_mod(fwd->loop, fwd->tcp_fd, EV_READ) == -1)
			fatal("event_mod");
	}
}

static void
dns_session_timeout(void *arg)
{
	struct dns_session *s = arg;

	s->timer = 0;
	log_debug("%s session timed out", s->udp ? "udp" : "tcp");
	dns_session_free(s);
}

static void
dns_session_arm(struct dns_session *s)
{
	if (s->timer != 0)
		timer_cancel(s->fwd->loop, s->timer);
	s->timer = timer_add(s->fwd->loop,
	    s->udp ? DNS_UDP_TIMEOUT_MS : DNS_TCP_IDLE_MS, dns_session_timeout, s);
	if (s->timer == 0)
		fatal("timer_add");
}

/* Append one framed message; false if it does not fit yet. */
static bool
dns_outq_push(struct dns_outq *q, const uint8_t *msg, size_t len)
{
	uint8_t	 prefix[2];

	if (dns_frame_prefix(prefix, len) == -1)
		return false;
	if (q->len == 0)
		q->off = 0;
	if (q->off > 0 && q->off + q->len + 2 + len > sizeof(q->data)) {
		memmove(q->data, q->data + q->off, q->len);
		q->off = 0;
	}
	if (q->off + q->len + 2 + len > sizeof(q->data))
		return false;
	memcpy(q->data + q->off + q->len, prefix, 2);
	memcpy(q->data + q->off + q->len + 2, msg, len);
	q->len += 2 + len;
	return true;
}

/* Write what is queued; -1 on a socket error. */
static int
dns_outq_flush(struct dns_outq *q, int fd, bool *progress)
{
	while (q->len > 0) {
		ssize_t	 n = write(fd, q->data + q->off, q->len);

		if (n == -1)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		q->off += (size_t)n;
		q->len -= (size_t)n;
		*progress = true;
	}
	q->off = 0;
	return 0;
}

/* Read into an empty input queue; -1 on error, sets *eof at end of stream. */
static int
dns_inq_fill(struct dns_inq *q, int fd, bool *eof, bool *progress)
{
	ssize_t	 n;

	if (q->len > 0 || *eof)
		return 0;
	n = read(fd, q->data, sizeof(q->data));
	if (n == -1)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (n == 0)
		*eof = true;
	q->off = 0;
	q->len = (size_t)n;
	*progress = true;
	return 0;
}

/*
 * Feed queued input to a framer and hand each whole message to `deliver`.
 * Returns -1 on a framing error or when deliver fails hard.
 */
static int
dns_frames(struct dns_session *s, struct dns_inq *in, struct dns_framer *f,
    int (*deliver)(struct dns_session *, const uint8_t *, size_t),
    bool *progress)
{
	for (;;) {
		if (f->ready) {
			int	 r = deliver(s, f->msg, f->want);

			if (r == -1)
				return -1;
			if (r == 0)
				return 0;	/* no room yet */
			dns_framer_next(f);
			*progress = true;
			continue;
		}
		if (in->len == 0 || s->done)
			return 0;
		size_t	 used = dns_framer_feed(f, in->data + in->off, in->len);

		in->off += used;
		in->len -= used;
		if (used > 0)
			*progress = true;
		if (f->error) {
			log_warnx("bad DNS frame length from %s",
			    in == &s->in_client ? "client" : "upstream");
			return -1;
		}
	}
}

/* deliver: a query from a TCP client, to the upstream. 1 taken, 0 later. */
static int
dns_deliver_query(struct dns_session *s, const uint8_t *msg, size_t len)
{
	return dns_outq_push(&s->to_upstream, msg, len) ? 1 : 0;
}

/* deliver: an answer from the upstream, to the client. */
static int
dns_deliver_answer(struct dns_session *s, const uint8_t *msg, size_t len)
{
	if (s->udp) {
		if (sendto(s->fwd->udp_fd, msg, len, 0,
		    (struct sockaddr *)&s->udp_client,
		    sizeof(s->udp_client)) == -1)
			log_warn("sendto");
		s->done = true;
		return 1;
	}
	dns_session_arm(s);
	return dns_outq_push(&s->to_client, msg, len) ? 1 : 0;
}

static void
dns_watch(struct dns_session *s, int fd, bool *watched, uint32_t ev,
    bool done)
{
	event_watch(s->fwd->loop, fd, watched, ev, done, dns_session_cb, s);
}

/* Do every I/O step that can make progress, then update the watches. */
static void
dns_session_run(struct dns_session *s)
{
	bool	 progress;

	do {
		progress = false;
		if (!s->udp) {
			if (dns_inq_fill(&s->in_client, s->client,
			    &s->client_eof, &progress) == -1 ||
			    dns_frames(s, &s->in_client, &s->from_client,
			    dns_deliver_query, &progress) == -1)
				goto fail;
		}
		if (dns_outq_flush(&s->to_upstream, s->upstream,
		    &progress) == -1)
			goto fail;
		if (!s->udp && s->client_eof && s->in_client.len == 0 &&
		    !s->from_client.ready && s->to_upstream.len == 0 &&
		    !s->upstream_shut) {
			/* Half-close: no more queries, answers may still come. */
			if (shutdown(s->upstream, SHUT_WR) == -1 &&
			    errno != ENOTCONN)
				goto fail;
			s->upstream_shut = true;
		}
		if (dns_inq_fill(&s->in_upstream, s->upstream,
		    &s->upstream_eof, &progress) == -1 ||
		    dns_frames(s, &s->in_upstream, &s->from_upstream,
		    dns_deliver_answer, &progress) == -1)
			goto fail;
		if (!s->udp && dns_outq_flush(&s->to_client, s->client,
		    &progress) == -1)
			goto fail;
	} while (progress && !s->done);

	if (s->done)
		goto fail;	/* udp: answered */
	if (s->upstream_eof && s->in_upstream.len == 0 &&
	    !s->from_upstream.ready && s->to_client.len == 0)
		goto fail;	/* no more answers can come, all delivered */

	/* After the upstream's end only the client still needs watching. */
	dns_watch(s, s->upstream, &s->upstream_watched,
	    (s->upstream_eof || s->in_upstream.len > 0 ? 0 : EV_READ) |
	    (s->to_upstream.len > 0 ? EV_WRITE : 0), s->upstream_eof);
	if (!s->udp)
		dns_watch(s, s->client, &s->client_watched,
		    (s->client_eof || s->in_client.len > 0 ? 0 : EV_READ) |
		    (s->to_client.len > 0 ? EV_WRITE : 0),
		    s->client_eof && s->to_client.len == 0);
	return;
fail:
	dns_session_free(s);
}

static void
dns_session_cb(int fd, uint32_t events, void *arg)
{
	struct dns_session *s = arg;
	int		 r;

	if ((r = upstream_connect_event(s->upstream, &s->connecting, fd,
	    events)) == 1)
		return;
	if (r == -1) {
		log_warn("connect %s", s->fwd->upstream.text);
		dns_session_free(s);
		return;
	}
	dns_session_run(s);
}

static struct dns_session *
dns_session_new(struct dnsfwd *fwd, bool udp, int client)
{
	struct dns_session *s;
	int	 inprogress;

	if (fwd->nsessions >= DNS_SESSIONS_MAX) {
		log_warnx("too many DNS sessions: query dropped");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	s->upstream = upstream_connect(&fwd->upstream, &inprogress);
	if (s->upstream == -1) {
		log_warn("connect %s", fwd->upstream.text);
		free(s);
		return NULL;
	}
	s->fwd = fwd;
	s->udp = udp;
	s->client = client;
	s->connecting = inprogress != 0;
	dns_framer_init(&s->from_client);
	dns_framer_init(&s->from_upstream);
	fwd->nsessions++;
	if (fwd->nsessions >= DNS_SESSIONS_MAX && !fwd->tcp_paused) {
		fwd->tcp_paused = true;
		if (event_mod(fwd->loop, fwd->tcp_fd, 0) == -1)
			fatal("event_mod");
	}
	dns_session_arm(s);
	return s;
}

static void
dns_session_start(struct dns_session *s)
{
	if (s->connecting)
		dns_watch(s, s->upstream, &s->upstream_watched, EV_WRITE, false);
	else
		dns_session_run(s);
}

static void
dns_udp_cb(int fd, uint32_t events, void *arg)
{
	struct dnsfwd	*fwd = arg;
	struct dns_session *s;
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	ssize_t	 n;

	(void)events;
	n = recvfrom(fd, fwd->udpbuf, sizeof(fwd->udpbuf), MSG_TRUNC,
	    (struct sockaddr *)&from, &fromlen);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("recvfrom");
		return;
	}
	if ((size_t)n < DNS_HEADER_LEN || (size_t)n > sizeof(fwd->udpbuf) ||
	    fromlen != sizeof(from) || from.sin_family != AF_INET) {
		log_debug("udp datagram of %zd bytes dropped", n);
		return;
	}
	if ((s = dns_session_new(fwd, true, -1)) == NULL)
		return;
	s->udp_client = from;
	if (!dns_outq_push(&s->to_upstream, fwd->udpbuf, (size_t)n))
		fatalx("query does not fit its queue");
	dns_session_start(s);
}

static void
dns_tcp_cb(int fd, uint32_t events, void *arg)
{
	struct dnsfwd	*fwd = arg;
	struct dns_session *s;
	int	 client;

	(void)events;
	client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (client == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if ((s = dns_session_new(fwd, false, client)) == NULL) {
		close(client);
		return;
	}
	dns_session_start(s);
}

static void
dns_listen(struct dnsfwd *fwd)
{
	int	 one = 1;

	fwd->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fwd->udp_fd == -1)
		fatal("socket");
	if (bind(fwd->udp_fd, (struct sockaddr *)&fwd->listen_addr,
	    sizeof(fwd->listen_addr)) == -1)
		fatal("bind udp");
	fwd->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fwd->tcp_fd == -1)
		fatal("socket");
	if (setsockopt(fwd->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1)
		fatal("SO_REUSEADDR");
	if (bind(fwd->tcp_fd, (struct sockaddr *)&fwd->listen_addr,
	    sizeof(fwd->listen_addr)) == -1)
		fatal("bind tcp");
	if (listen(fwd->tcp_fd, 64) == -1)
		fatal("listen");
	if (event_add(fwd->loop, fwd->udp_fd, EV_READ, dns_udp_cb, fwd) == -1 ||
	    event_add(fwd->loop, fwd->tcp_fd, EV_READ, dns_tcp_cb, fwd) == -1)
		fatal("event_add");
}

int
main(int argc, char *argv[])
{
	struct dnsfwd	*fwd;
	const char	*listen_text = "127.0.0.1:1053";
	const char	*upstream_text = "vsock:2:1053";
	const char	*errmsg;
	int		 ch, verbose = 0;

	log_init(1, 0);
	log_procinit("capsem-dns");
	while ((ch = getopt(argc, argv, "l:u:v")) != -1) {
		switch (ch) {
		case 'l':
			listen_text = optarg;
			break;
		case 'u':
			upstream_text = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_setverbose(verbose);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");

	if ((fwd = calloc(1, sizeof(*fwd))) == NULL)
		fatal("calloc");
	if (inet_addrport_parse(&fwd->listen_addr, listen_text) == -1)
		fatalx("bad listen address: %s", listen_text);
	if (upstream_parse(&fwd->upstream, upstream_text, &errmsg) == -1)
		fatalx("%s: %s", errmsg, upstream_text);
	if ((fwd->loop = event_loop_new()) == NULL)
		fatal("event_loop_new");
	dns_listen(fwd);
	log_debug("listening on %s, upstream %s", listen_text, fwd->upstream.text);
	if (event_loop_run(fwd->loop) == -1)
		fatal("event loop");
	return 0;
}
