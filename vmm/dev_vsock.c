/*
 * dev_vsock.c: virtio-vsock, guest CID 3, host CID 2, stream sockets.
 *
 * Guest-to-host connections only: port 1024 (control) ends here; 1053,
 * 1080 and 1443 get a socketpair each, one end passed to netproxy
 * (vsock_host.stream_new), the other kept and bridged to the virtqueues
 * without looking at the bytes.  Anything else, and more than
 * VSOCK_MAX_CONNS connections, is answered with RST.  Credit-based flow
 * control both ways: we never send the guest more than its buffer
 * allows, and the guest may not send more than ours (VSOCK_BUF_ALLOC per
 * connection, which is all we ever hold for it).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "event.h"
#include "log.h"
#include "vsock_pkt.h"

#define VQ_RX		0
#define VQ_TX		1
#define VQ_EVENT	2

#define VSOCK_BUF_ALLOC		(256 * 1024)
#define VSOCK_CTRL_QUEUE	256
#define VSOCK_LINE_MAX		256
#define VSOCK_READ_CHUNK	(64 * 1024)

struct vconn {
	bool		 used;
	bool		 control;	/* port 1024: terminated here */
	uint32_t	 guest_port;
	uint32_t	 host_port;
	int		 fd;		/* our end of the socketpair */
	uint32_t	 watching;	/* EV_* registered */
	bool		 readable;	/* the socket may have bytes */
	bool		 host_eof;	/* netproxy's end said EOF */
	bool		 guest_shut_send;
	bool		 guest_shut_rcv;
	bool		 closing;	/* RST once pending is written */
	/* guest's receive buffer, as it last told us */
	uint32_t	 peer_buf_alloc;
	uint32_t	 peer_fwd_cnt;
	uint32_t	 tx_cnt;	/* payload bytes we sent the guest */
	/* our receive side */
	uint32_t	 rx_cnt;	/* payload bytes the guest sent us */
	uint32_t	 fwd_cnt;	/* of those, written to the socket */
	uint32_t	 fwd_cnt_told;	/* fwd_cnt in our last header */
	uint8_t		*pending;	/* guest bytes waiting for the socket */
	size_t		 plen;
	char		 line[VSOCK_LINE_MAX];
	size_t		 linelen;
};

struct vsock {
	struct virtio_dev dev;
	struct vsock_host host;
	struct virtq_chain chain;
	struct vconn	 conn[VSOCK_MAX_CONNS];
	unsigned	 nconn;
	unsigned	 rr;		/* round-robin start for reads */
	struct vsock_hdr ctrl[VSOCK_CTRL_QUEUE];
	unsigned	 ctrl_head, ctrl_len;
	uint8_t		 buf[VSOCK_READ_CHUNK];
	uint64_t	 resets, refused, ctrl_dropped;
	bool		 control_taken;	/* the control port was used once */
};

static void	vsock_fd_ready(int, uint32_t, void *);
static void	vsock_rx(struct vsock *);

static uint32_t
conn_credit(const struct vconn *c)
{
	uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;

	return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

static void
queue_ctrl(struct vsock *vs, const struct vsock_hdr *h)
{
	if (vs->ctrl_len == VSOCK_CTRL_QUEUE) {
		/* the guest posts no receive buffers: drop, say so once */
		if (vs->ctrl_dropped++ == 0)
			log_warnx("virtio-vsock: control queue full, "
			    "packets dropped");
		return;
	}
	vs->ctrl[(vs->ctrl_head + vs->ctrl_len) % VSOCK_CTRL_QUEUE] = *h;
	vs->ctrl_len++;
}

/* A reply to pkt (addresses swapped). */
static void
reply(struct vsock *vs, const struct vsock_hdr *pkt, uint16_t op,
    const struct vconn *c)
{
	struct vsock_hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = pkt->dst_cid;
	h.dst_cid = pkt->src_cid;
	h.src_port = pkt->dst_port;
	h.dst_port = pkt->src_port;
	h.type = VSOCK_TYPE_STREAM;
	h.op = op;
	if (c != NULL) {
		h.buf_alloc = VSOCK_BUF_ALLOC;
		h.fwd_cnt = c->fwd_cnt;
	}
	if (op == VSOCK_OP_RST)
		vs->resets++;
	queue_ctrl(vs, &h);
}

/* A packet on connection c, from the host to the guest. */
static void
conn_hdr(struct vconn *c, struct vsock_hdr *h, uint16_t op, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = VSOCK_GUEST_CID;
	h->src_port = c->host_port;
	h->dst_port = c->guest_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->len = len;
	h->buf_alloc = VSOCK_BUF_ALLOC;
	h->fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_told = c->fwd_cnt;
}

static void
conn_ctrl(struct vsock *vs, struct vconn *c, uint16_t op, uint32_t flags)
{
	struct vsock_hdr h;

	conn_hdr(c, &h, op, 0);
	h.flags = flags;
	if (op == VSOCK_OP_RST)
		vs->resets++;
	queue_ctrl(vs, &h);
}

static struct vconn *
conn_find(struct vsock *vs, uint32_t guest_port, uint32_t host_port)
{
	unsigned i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vconn *c = &vs->conn[i];

		if (c->used && c->guest_port == guest_port &&
		    c->host_port == host_port)
			return c;
	}
	return NULL;
}

static void
conn_free(struct vsock *vs, struct vconn *c)
{
	if (c->fd != -1) {
		event_del(vs->dev.loop, c->fd);
		close(c->fd);
	}
	free(c->pending);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	vs->nconn--;
}

static void
conn_watch(struct vsock *vs, struct vconn *c)
{
	uint32_t want = 0;

	if (c->fd == -1)
		return;
	if (!c->readable && !c->host_eof && !c->guest_shut_rcv &&
	    conn_credit(c) > 0)
		want |= EV_READ;
	if (c->plen > 0)
		want |= EV_WRITE;
	if (want != c->watching) {
		event_mod(vs->dev.loop, c->fd, want);
		c->watching = want;
	}
}

/* Finish a connection the guest closed once its bytes are written. */
static void
conn_maybe_close(struct vsock *vs, struct vconn *c)
{
	if (c->plen > 0)
		return;
	if (c->guest_shut_send && c->fd != -1)
		(void)shutdown(c->fd, SHUT_WR);
	if (c->closing || (c->guest_shut_send && c->guest_shut_rcv)) {
		conn_ctrl(vs, c, VSOCK_OP_RST, 0);
		conn_free(vs, c);
	}
}

/* Write what the guest sent and the socket takes; count it forwarded. */
static void
conn_flush(struct vsock *vs, struct vconn *c)
{
	while (c->plen > 0) {
		ssize_t n = send(c->fd, c->pending, c->plen, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* netproxy closed its end: drop, tell the guest */
			c->plen = 0;
			c->host_eof = true;
			c->closing = true;
			break;
		}
		memmove(c->pending, c->pending + n, c->plen - (size_t)n);
		c->plen -= (size_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_BUF_ALLOC / 4)
		conn_ctrl(vs, c, VSOCK_OP_CREDIT_UPDATE, 0);
}

static void
control_bytes(struct vsock *vs, struct vconn *c, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			c->line[c->linelen] = '\0';
			if (vs->host.control_line != NULL)
				vs->host.control_line(vs->host.arg, c->line);
			c->linelen = 0;
		} else if (c->linelen < sizeof(c->line) - 1)
			c->line[c->linelen++] = (char)p[i];
	}
	c->rx_cnt += (uint32_t)len;
	c->fwd_cnt += (uint32_t)len;
}

static bool
port_allowed(uint32_t port)
{
	return port == VSOCK_PORT_CONTROL || port == VSOCK_PORT_DNS ||
	    port == VSOCK_PORT_HTTP || port == VSOCK_PORT_HTTPS;
}

static void
conn_request(struct vsock *vs, const struct vsock_hdr *h)
{
	struct vconn	*c = NULL;
	int		 sv[2] = { -1, -1 };
	unsigned	 i;

	if (conn_find(vs, h->src_port, h->dst_port) != NULL ||
	    !port_allowed(h->dst_port) || vs->nconn == VSOCK_MAX_CONNS) {
		vs->refused++;
		reply(vs, h, VSOCK_OP_RST, NULL);
		return;
	}
	for (i = 0; i < VSOCK_MAX_CONNS && c == NULL; i++)
		if (!vs->conn[i].used)
			c = &vs->conn[i];
	if (c == NULL)
		return;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (h->dst_port != VSOCK_PORT_CONTROL) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
		    fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
		    event_add(vs->dev.loop, sv[0], 0, vsock_fd_ready, vs) == -1) {
			log_warn("virtio-vsock: connection to port %u",
			    h->dst_port);
			if (sv[0] != -1) {
				close(sv[0]);
				close(sv[1]);
			}
			reply(vs, h, VSOCK_OP_RST, NULL);
			return;
		}
		if (vs->host.stream_new == NULL ||
		    vs->host.stream_new(vs->host.arg, h->dst_port, sv[1]) == -1) {
			event_del(vs->dev.loop, sv[0]);
			close(sv[0]);
			close(sv[1]);
			vs->refused++;
			reply(vs, h, VSOCK_OP_RST, NULL);
			return;
		}
		c->fd = sv[0];
	} else {
		/*
		 * One control stream per boot: capsem-init's, opened before
		 * the session command runs.  Later ones (a hostile agent
		 * faking READY or EXIT) are reset.
		 */
		if (vs->control_taken) {
			vs->refused++;
			reply(vs, h, VSOCK_OP_RST, NULL);
			return;
		}
		vs->control_taken = true;
		c->control = true;
	}
	c->used = true;
	c->guest_port = h->src_port;
	c->host_port = h->dst_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	vs->nconn++;
	conn_ctrl(vs, c, VSOCK_OP_RESPONSE, 0);
	conn_watch(vs, c);
}

/* Guest data for c; false if the guest broke the credit rules. */
static bool
conn_data(struct vsock *vs, struct vconn *c, uint64_t off, uint32_t len)
{
	const struct virtq_chain *ch = &vs->chain;
	size_t	 got;

	if ((uint32_t)(c->rx_cnt - c->fwd_cnt) + (uint64_t)len > VSOCK_BUF_ALLOC)
		return false;
	if (c->control) {
		got = virtq_chain_read(vs->dev.mem, ch, off, vs->buf, len);
		control_bytes(vs, c, vs->buf, got);
		return true;
	}
	if (c->guest_shut_send || c->closing)
		return true;		/* after its own shutdown: dropped */
	if (c->pending == NULL &&
	    (c->pending = malloc(VSOCK_BUF_ALLOC)) == NULL) {
		log_warn("virtio-vsock");
		return false;
	}
	got = virtq_chain_read(vs->dev.mem, ch, off, c->pending + c->plen, len);
	c->plen += got;
	c->rx_cnt += (uint32_t)got;
	conn_flush(vs, c);
	return true;
}

static void
vsock_tx_packet(struct vsock *vs)
{
	struct virtio_dev *d = &vs->dev;
	const struct virtq_chain *ch = &vs->chain;
	uint8_t		 raw[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	struct vconn	*c;
	const char	*why = NULL;

	if (ch->nreadable != ch->n || ch->readable_bytes < VSOCK_HDR_SIZE) {
		virtio_violation(d, "vsock transmit chain without a readable header");
		return;
	}
	virtq_chain_read(d->mem, ch, 0, raw, sizeof(raw));
	vsock_hdr_decode(raw, &h);
	switch (vsock_pkt_check(&h, ch->readable_bytes - VSOCK_HDR_SIZE,
	    VSOCK_GUEST_CID, VSOCK_HOST_CID, &why)) {
	case VSOCK_PKT_BAD:
		virtio_violation(d, why);
		return;
	case VSOCK_PKT_IGNORE:
		return;
	case VSOCK_PKT_RESET:
		log_debug("virtio-vsock: reset %llu:%u: %s",
		    (unsigned long long)h.dst_cid, h.dst_port, why);
		vs->refused++;
		reply(vs, &h, VSOCK_OP_RST, NULL);
		return;
	case VSOCK_PKT_OK:
		break;
	}
	if (h.op == VSOCK_OP_REQUEST) {
		conn_request(vs, &h);
		return;
	}
	if ((c = conn_find(vs, h.src_port, h.dst_port)) == NULL) {
		if (h.op != VSOCK_OP_RST)
			reply(vs, &h, VSOCK_OP_RST, NULL);
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case VSOCK_OP_RST:
		conn_free(vs, c);
		return;
	case VSOCK_OP_RW:
		if (!conn_data(vs, c, VSOCK_HDR_SIZE, h.len)) {
			log_warnx("virtio-vsock: guest overran its credit on "
			    "port %u", c->host_port);
			conn_ctrl(vs, c, VSOCK_OP_RST, 0);
			conn_free(vs, c);
			return;
		}
		break;
	case VSOCK_OP_SHUTDOWN:
		if (h.flags & VSOCK_SHUTDOWN_SEND)
			c->guest_shut_send = true;
		if (h.flags & VSOCK_SHUTDOWN_RCV)
			c->guest_shut_rcv = true;
		if (c->control) {
			if (c->guest_shut_send) {
				conn_ctrl(vs, c, VSOCK_OP_RST, 0);
				conn_free(vs, c);
			}
			return;
		}
		conn_maybe_close(vs, c);
		if (!c->used)
			return;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		conn_ctrl(vs, c, VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	default:			/* CREDIT_UPDATE: fields taken above */
		break;
	}
	if (c->used && c->fd != -1) {
		if (c->plen == 0 && (c->closing ||
		    (c->guest_shut_send && c->guest_shut_rcv)))
			conn_maybe_close(vs, c);
		else
			conn_watch(vs, c);
	}
}

static void
vsock_tx(struct vsock *vs)
{
	struct virtio_dev *d = &vs->dev;
	const char	*why = NULL;
	int		 got, done = 0;

	while ((got = virtq_pop(&d->vq[VQ_TX], d->mem, &vs->chain, &why)) == 1) {
		vsock_tx_packet(vs);
		if (d->broken)
			return;
		if (virtio_used(d, VQ_TX, vs->chain.head, 0) == -1)
			return;
		done++;
	}
	virtio_queue_done(d, got, why, done);
}

/* Put one packet (header + payload) into an rx chain. */
static int
rx_put(struct vsock *vs, const struct vsock_hdr *h, const uint8_t *payload)
{
	struct virtio_dev *d = &vs->dev;
	uint8_t		 raw[VSOCK_HDR_SIZE];

	vsock_hdr_encode(h, raw);
	virtq_chain_write(d->mem, &vs->chain, 0, raw, sizeof(raw));
	if (h->len > 0)
		virtq_chain_write(d->mem, &vs->chain, VSOCK_HDR_SIZE, payload,
		    h->len);
	if (virtio_used(d, VQ_RX, vs->chain.head,
	    VSOCK_HDR_SIZE + h->len) == -1)
		return -1;
	return 0;
}

/* Take an rx chain; 1 got one, 0 none, -1 violation. */
static int
rx_chain(struct vsock *vs)
{
	struct virtio_dev *d = &vs->dev;
	const char	*why = NULL;
	int		 got;

	got = virtq_pop(&d->vq[VQ_RX], d->mem, &vs->chain, &why);
	if (got == -1)
		virtio_violation(d, why);
	else if (got == 1 && (vs->chain.nreadable != 0 ||
	    vs->chain.writable_bytes < VSOCK_HDR_SIZE)) {
		virtio_violation(d, "vsock receive buffer too small or readable");
		return -1;
	}
	return got;
}

/* Read from one readable connection into a chain; true if a packet went. */
static bool
rx_data(struct vsock *vs, struct vconn *c)
{
	struct vsock_hdr h;
	uint64_t	 room;
	uint32_t	 credit = conn_credit(c);
	ssize_t		 n;
	size_t		 want;
	int		 got;

	if ((got = rx_chain(vs)) != 1)
		return false;
	room = vs->chain.writable_bytes - VSOCK_HDR_SIZE;
	want = sizeof(vs->buf);
	if (want > room)
		want = (size_t)room;
	if (want > credit)
		want = credit;
	if (want == 0) {
		virtq_unpop(&vs->dev.vq[VQ_RX]);
		return false;
	}
	do
		n = read(c->fd, vs->buf, want);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		virtq_unpop(&vs->dev.vq[VQ_RX]);
		c->readable = false;
		conn_watch(vs, c);
		return false;
	}
	if (n <= 0) {
		/* netproxy is done sending: the guest reads EOF */
		c->host_eof = true;
		c->readable = false;
		conn_hdr(c, &h, VSOCK_OP_SHUTDOWN, 0);
		h.flags = VSOCK_SHUTDOWN_SEND;
		rx_put(vs, &h, NULL);
		conn_watch(vs, c);
		return true;
	}
	conn_hdr(c, &h, VSOCK_OP_RW, (uint32_t)n);
	c->tx_cnt += (uint32_t)n;
	rx_put(vs, &h, vs->buf);
	return true;
}

static void
vsock_rx(struct vsock *vs)
{
	struct virtio_dev *d = &vs->dev;
	int		 done = 0;
	bool		 progress = true;

	if (!virtio_live(d) || !d->vq[VQ_RX].ready)
		return;
	while (vs->ctrl_len > 0) {
		int got = rx_chain(vs);

		if (got != 1)
			goto out;
		if (rx_put(vs, &vs->ctrl[vs->ctrl_head], NULL) == -1)
			return;
		vs->ctrl_head = (vs->ctrl_head + 1) % VSOCK_CTRL_QUEUE;
		vs->ctrl_len--;
		done++;
	}
	while (progress && !d->broken) {
		unsigned i;

		progress = false;
		for (i = 0; i < VSOCK_MAX_CONNS; i++) {
			struct vconn *c = &vs->conn[(vs->rr + i) % VSOCK_MAX_CONNS];

			if (!c->used || c->fd == -1 || !c->readable ||
			    c->host_eof || c->guest_shut_rcv || conn_credit(c) == 0)
				continue;
			if (rx_data(vs, c)) {
				progress = true;
				done++;
			}
			if (!virtq_has_avail(&d->vq[VQ_RX], d->mem))
				break;
		}
		vs->rr++;
		if (!virtq_has_avail(&d->vq[VQ_RX], d->mem))
			break;
	}
out:
	if (done > 0)
		virtio_interrupt(d, VIRTIO_INT_USED);
}

static void
vsock_notify(struct virtio_dev *d, unsigned q)
{
	struct vsock	*vs = d->impl;

	if (q == VQ_TX)
		vsock_tx(vs);
	if (!d->broken)
		vsock_rx(vs);
}

static void
vsock_fd_ready(int fd, uint32_t events, void *arg)
{
	struct vsock	*vs = arg;
	struct virtio_dev *d = &vs->dev;
	unsigned	 i;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vconn *c = &vs->conn[i];

		if (!c->used || c->fd != fd)
			continue;
		if (events & (EV_WRITE | EV_HUP)) {
			conn_flush(vs, c);
			conn_maybe_close(vs, c);
			if (!c->used)
				break;
		}
		if (events & (EV_READ | EV_HUP))
			c->readable = true;
		conn_watch(vs, c);
		break;
	}
	vsock_rx(vs);
	pthread_mutex_unlock(&d->mu);
}

static void
vsock_reset(struct virtio_dev *d)
{
	struct vsock	*vs = d->impl;
	unsigned	 i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vs->conn[i].used)
			conn_free(vs, &vs->conn[i]);
	vs->ctrl_head = vs->ctrl_len = 0;
}

static const struct virtio_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.features = 0,
	.nqueues = 3,
	.notify = vsock_notify,
	.reset = vsock_reset,
};

struct virtio_dev *
dev_vsock_new(const struct dev_env *env, const struct vsock_host *host,
    char *err, size_t errlen)
{
	struct vsock	*vs;
	uint64_t	 cid = VSOCK_GUEST_CID;
	unsigned	 i;

	if ((vs = calloc(1, sizeof(*vs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vs->host = *host;
	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		vs->conn[i].fd = -1;
	if (virtio_dev_init(&vs->dev, &vsock_ops, vs, env->mem, env->loop,
	    env->vm_fd, env->base, env->irq) == -1) {
		snprintf(err, errlen, "virtio-vsock: %s", strerror(errno));
		free(vs);
		return NULL;
	}
	memcpy(vs->dev.config, &cid, sizeof(cid));
	vs->dev.config_len = 8;
	return &vs->dev;
}
