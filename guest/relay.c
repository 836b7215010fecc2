/*
 * capsem-relay: the guest end of every proxied TCP connection.
 *
 * The guest's nat OUTPUT rules redirect tcp/443 to 127.0.0.1:10443 and tcp/80
 * to 127.0.0.1:10080. For each connection accepted there, the relay reads the
 * original destination (SO_ORIGINAL_DST), opens a stream to its upstream
 * (vsock:2:1443 / vsock:2:1080 in the guest, unix:/path in host tests), sends
 * the header line "CAPSEM/1 <ipv4> <port>\n" (guest/PROTOCOL), then copies
 * bytes both ways. A FIN in one direction becomes shutdown(SHUT_WR) on the
 * other socket; an error on either side resets both.
 *
 *   capsem-relay [-v] [-l LISTEN=UPSTREAM]...
 *   default: -l 127.0.0.1:10443=vsock:2:1443 -l 127.0.0.1:10080=vsock:2:1080
 */
#include <sys/resource.h>
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

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST		80	/* <linux/netfilter_ipv4.h> */
#endif

#define RELAY_LISTENERS_MAX	4
#define RELAY_BUFSIZE		(64 * 1024)
#define RELAY_CONNS_MAX		512

struct relay;

struct relay_listener {
	struct relay	*relay;
	int		 fd;
	struct sockaddr_in addr;
	struct upstream	 upstream;
};

/* One direction of a connection: bytes read from `from`, not yet written. */
struct relay_dir {
	uint8_t		 buf[RELAY_BUFSIZE];
	size_t		 off;
	size_t		 len;
	bool		 eof;		/* read side saw end of stream */
	bool		 shut;		/* SHUT_WR sent to the other side */
};

struct relay_conn {
	struct relay	*relay;
	int		 client;
	int		 upstream;
	bool		 connecting;
	bool		 client_watched;
	bool		 upstream_watched;
	struct relay_dir to_upstream;
	struct relay_dir to_client;
};

struct relay {
	struct event_loop *loop;
	struct relay_listener listeners[RELAY_LISTENERS_MAX];
	size_t		 nlisteners;
	size_t		 nconns;
	bool		 accept_paused;
};

static void	relay_accept_cb(int, uint32_t, void *);
static void	relay_conn_cb(int, uint32_t, void *);

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: capsem-relay [-v] [-l ADDR:PORT=UPSTREAM]...\n"
	    "  UPSTREAM is vsock:CID:PORT or unix:/path\n");
	exit(2);
}

static void
relay_accept_pause(struct relay *relay, bool pause)
{
	if (relay->accept_paused == pause)
		return;
	relay->accept_paused = pause;
	for (size_t i = 0; i < relay->nlisteners; i++)
		if (event_mod(relay->loop, relay->listeners[i].fd,
		    pause ? 0 : EV_READ) == -1)
			fatal("event_mod listener");
}

static void
relay_conn_free(struct relay_conn *conn, bool reset)
{
	struct relay *relay = conn->relay;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	event_del(relay->loop, conn->client);
	event_del(relay->loop, conn->upstream);
	if (reset) {
		/* Make the peers see a reset, not a clean end of data. */
		setsockopt(conn->client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		setsockopt(conn->upstream, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(conn->client);
	close(conn->upstream);
	free(conn);
	relay->nconns--;
	relay_accept_pause(relay, false);
}

/* Move bytes from -> dir -> to. Returns -1 on a socket error. */
static int
relay_pump(struct relay_dir *dir, int from, int to)
{
	ssize_t	 n;

	if (!dir->eof && dir->off + dir->len < sizeof(dir->buf)) {
		n = read(from, dir->buf + dir->off + dir->len,
		    sizeof(dir->buf) - dir->off - dir->len);
		if (n > 0)
			dir->len += (size_t)n;
		else if (n == 0)
			dir->eof = true;
		else if (errno != EAGAIN && errno != EINTR)
			return -1;
	}
	while (dir->len > 0) {
		n = write(to, dir->buf + dir->off, dir->len);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		dir->off += (size_t)n;
		dir->len -= (size_t)n;
	}
	if (dir->len == 0)
		dir->off = 0;
	if (dir->eof && dir->len == 0 && !dir->shut) {
		if (shutdown(to, SHUT_WR) == -1 && errno != ENOTCONN)
			return -1;
		dir->shut = true;
	}
	return 0;
}

static uint32_t
relay_interest(const struct relay_dir *in, const struct relay_dir *out)
{
	uint32_t ev = 0;

	if (!in->eof && in->off + in->len < sizeof(in->buf))
		ev |= EV_READ;
	if (out->len > 0)
		ev |= EV_WRITE;
	return ev;
}

/* Register, update or drop the watch on one side of a connection. */
static void
relay_watch(struct relay_conn *conn, int fd, bool *watched, uint32_t ev,
    bool done)
{
	/* done: both directions finished on this socket: stop HUP wakeups. */
	event_watch(conn->relay->loop, fd, watched, ev, done, relay_conn_cb,
	    conn);
}

static void
relay_conn_update(struct relay_conn *conn)
{
	struct relay_dir *up = &conn->to_upstream, *down = &conn->to_client;

	if (conn->connecting) {
		/* The client is watched only once the upstream is connected. */
		relay_watch(conn, conn->upstream, &conn->upstream_watched,
		    EV_WRITE, false);
		return;
	}
	if (up->shut && down->shut) {
		relay_conn_free(conn, false);
		return;
	}
	relay_watch(conn, conn->client, &conn->client_watched,
	    relay_interest(up, down), up->eof && down->shut);
	relay_watch(conn, conn->upstream, &conn->upstream_watched,
	    relay_interest(down, up), down->eof && up->shut);
}

static void
relay_conn_cb(int fd, uint32_t events, void *arg)
{
	struct relay_conn *conn = arg;
	int		 r;

	if ((r = upstream_connect_event(conn->upstream, &conn->connecting, fd,
	    events)) == 1)
		return;
	if (r == -1) {
		log_warn("connect upstream");
		relay_conn_free(conn, true);
		return;
	}
	if (relay_pump(&conn->to_upstream, conn->client, conn->upstream) == -1 ||
	    relay_pump(&conn->to_client, conn->upstream, conn->client) == -1) {
		log_debug("connection error: %s", strerror(errno));
		relay_conn_free(conn, true);
		return;
	}
	relay_conn_update(conn);
}

static void
relay_accept_cb(int fd, uint32_t events, void *arg)
{
	struct relay_listener *lis = arg;
	struct relay	*relay = lis->relay;
	struct relay_conn *conn;
	struct sockaddr_in orig;
	socklen_t len = sizeof(orig);
	int	 client, upstream, inprogress, hlen;

	(void)events;
	client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (client == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	memset(&orig, 0, sizeof(orig));
	if (getsockopt(client, SOL_IP, SO_ORIGINAL_DST, &orig, &len) == -1 ||
	    orig.sin_family != AF_INET) {
		log_warnx("connection without an original destination: closed");
		close(client);
		return;
	}
	if (orig.sin_addr.s_addr == lis->addr.sin_addr.s_addr &&
	    orig.sin_port == lis->addr.sin_port) {
		/* Not redirected: a direct connection to the relay itself. */
		log_warnx("direct connection to the relay: closed");
		close(client);
		return;
	}
	if ((conn = calloc(1, sizeof(*conn))) == NULL) {
		log_warn("calloc");
		close(client);
		return;
	}
	hlen = relay_header_format((char *)conn->to_upstream.buf,
	    sizeof(conn->to_upstream.buf), &orig);
	if (hlen < 0) {
		log_warnx("bad original destination: closed");
		free(conn);
		close(client);
		return;
	}
	conn->to_upstream.len = (size_t)hlen;
	upstream = upstream_connect(&lis->upstream, &inprogress);
	if (upstream == -1) {
		log_warn("connect %s", lis->upstream.text);
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		free(conn);
		close(client);
		return;
	}
	conn->relay = relay;
	conn->client = client;
	conn->upstream = upstream;
	conn->connecting = inprogress != 0;
	relay->nconns++;
	if (relay->nconns >= RELAY_CONNS_MAX)
		relay_accept_pause(relay, true);
	if (!conn->connecting &&
	    relay_pump(&conn->to_upstream, client, upstream) == -1) {
		relay_conn_free(conn, true);
		return;
	}
	relay_conn_update(conn);
}

static void
relay_listen(struct relay *relay, const char *spec)
{
	struct relay_listener *lis;
	char	 buf[256];
	char	*eq;
	const char *errmsg;
	int	 one = 1;

	if (relay->nlisteners == RELAY_LISTENERS_MAX)
		fatalx("too many listeners (at most %d)", RELAY_LISTENERS_MAX);
	if (strlen(spec) >= sizeof(buf))
		fatalx("listener too long: %s", spec);
	snprintf(buf, sizeof(buf), "%s", spec);
	if ((eq = strchr(buf, '=')) == NULL)
		fatalx("listener must be ADDR:PORT=UPSTREAM: %s", spec);
	*eq = '\0';
	lis = &relay->listeners[relay->nlisteners];
	lis->relay = relay;
	if (inet_addrport_parse(&lis->addr, buf) == -1)
		fatalx("bad listen address: %s", buf);
	if (upstream_parse(&lis->upstream, eq + 1, &errmsg) == -1)
		fatalx("%s: %s", errmsg, eq + 1);
	lis->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lis->fd == -1)
		fatal("socket");
	if (setsockopt(lis->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		fatal("SO_REUSEADDR");
	if (bind(lis->fd, (struct sockaddr *)&lis->addr, sizeof(lis->addr)) == -1)
		fatal("bind %s", buf);
	if (listen(lis->fd, 128) == -1)
		fatal("listen %s", buf);
	if (event_add(relay->loop, lis->fd, EV_READ, relay_accept_cb, lis) == -1)
		fatal("event_add");
	log_debug("listening on %s, upstream %s", buf, lis->upstream.text);
	relay->nlisteners++;
}

int
main(int argc, char *argv[])
{
	struct relay	 relay;
	const char	*specs[RELAY_LISTENERS_MAX];
	size_t		 nspecs = 0;
	int		 ch, verbose = 0;

	log_init(1, 0);
	log_procinit("capsem-relay");
	while ((ch = getopt(argc, argv, "l:v")) != -1) {
		switch (ch) {
		case 'l':
			if (nspecs == RELAY_LISTENERS_MAX)
				fatalx("too many listeners (at most %d)",
				    RELAY_LISTENERS_MAX);
			specs[nspecs++] = optarg;
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
	if (nspecs == 0) {
		specs[nspecs++] = "127.0.0.1:10443=vsock:2:1443";
		specs[nspecs++] = "127.0.0.1:10080=vsock:2:1080";
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	/* Two descriptors per connection: use all the hard limit allows. */
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit");
	}

	memset(&relay, 0, sizeof(relay));
	if ((relay.loop = event_loop_new()) == NULL)
		fatal("event_loop_new");
	for (size_t i = 0; i < nspecs; i++)
		relay_listen(&relay, specs[i]);
	if (event_loop_run(relay.loop) == -1)
		fatal("event loop");
	return 0;
}
