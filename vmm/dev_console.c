/*
 * dev_console.c: virtio-console, one port (hvc0), no multiport; the
 * terminal's size in the config space (VIRTIO_CONSOLE_F_SIZE: cols, rows,
 * little-endian 16 bits each), a change announced by a config interrupt.
 * Raw bytes both ways: receiveq (0) is fed from in_fd, transmitq (1) goes
 * to out_fd through a bounded buffer; a slow reader stops the transmit
 * queue (a chain is held until its bytes fit) instead of growing memory
 * or dropping output.  The fds are non-blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "event.h"
#include "log.h"

#define CON_RXQ		0
#define CON_TXQ		1
#define CON_OUT_MAX	(64 * 1024)
#define CON_IN_CHUNK	4096
#define CON_F_SIZE	(1ull << 0)	/* VIRTIO_CONSOLE_F_SIZE */

struct console {
	struct virtio_dev dev;
	struct virtq_chain chain;	/* receive: used within one call */
	struct virtq_chain tx_chain;	/* transmit: may be held (tx_held) */
	bool		 tx_held;
	uint64_t	 tx_off;
	int		 in_fd;
	int		 out_fd;
	bool		 in_eof;
	bool		 in_blocked;	/* input waits for receive buffers */
	uint8_t		 out[CON_OUT_MAX];
	size_t		 outlen;
	uint32_t	 events_in, events_out;	/* what we watch on each fd */
	bool		 in_reg, out_reg;	/* registered with the loop */
};

static void	con_fd_ready(int, uint32_t, void *);

static void
con_watch(struct console *c)
{
	uint32_t in = (!c->in_eof && !c->in_blocked) ? EV_READ : 0;
	uint32_t out = c->outlen > 0 ? EV_WRITE : 0;

	if (c->in_fd == c->out_fd) {
		if (c->in_reg && (in != c->events_in || out != c->events_out))
			event_mod(c->dev.loop, c->in_fd, in | out);
	} else {
		if (c->in_reg && in != c->events_in)
			event_mod(c->dev.loop, c->in_fd, in);
		if (c->out_reg && out != c->events_out)
			event_mod(c->dev.loop, c->out_fd, out);
	}
	c->events_in = in;
	c->events_out = out;
}

/* Write what is buffered; returns false if the reader is gone. */
static void
con_flush(struct console *c)
{
	while (c->outlen > 0) {
		ssize_t n = write(c->out_fd, c->out, c->outlen);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* reader gone: drop output, keep the guest running */
			c->outlen = 0;
			break;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
}

/*
 * Guest -> host; device mutex held.  A chain is used only once all its
 * bytes are in the buffer: one that does not fit is held (tx_held, bytes
 * from tx_off on still to copy) until the reader makes room, so a slow
 * reader stalls the guest's writes and loses none of them.
 */
static void
con_tx(struct console *c)
{
	struct virtio_dev *d = &c->dev;
	struct virtq_chain *ch = &c->tx_chain;
	const char	*why = NULL;
	int		 got = 0, done = 0;

	con_flush(c);
	for (;;) {
		if (!c->tx_held) {
			if (c->outlen == CON_OUT_MAX)
				break;
			if ((got = virtq_pop(&d->vq[CON_TXQ], d->mem, ch,
			    &why)) != 1)
				break;
			if (ch->nreadable != ch->n) {
				virtio_violation(d,
				    "console transmit with a writable buffer");
				return;
			}
			c->tx_held = true;
			c->tx_off = 0;
		}
		while (c->tx_off < ch->readable_bytes &&
		    c->outlen < CON_OUT_MAX) {
			uint64_t left = ch->readable_bytes - c->tx_off;
			size_t	 room = CON_OUT_MAX - c->outlen, n;

			n = virtq_chain_read(d->mem, ch, c->tx_off,
			    c->out + c->outlen, left < room ? (size_t)left : room);
			if (n == 0) {
				virtio_violation(d,
				    "console transmit buffer outside guest memory");
				return;
			}
			c->outlen += n;
			c->tx_off += n;
			if (c->outlen == CON_OUT_MAX)
				con_flush(c);
		}
		if (c->tx_off < ch->readable_bytes)
			break;		/* the reader is slow: keep the chain */
		c->tx_held = false;
		if (virtio_used(d, CON_TXQ, ch->head, 0) == -1)
			return;
		done++;
		con_flush(c);
	}
	virtio_queue_done(d, got, why, done);
}

/* Host -> guest; device mutex held. */
static void
con_rx(struct console *c)
{
	struct virtio_dev *d = &c->dev;
	uint8_t		 buf[CON_IN_CHUNK];
	const char	*why = NULL;
	int		 done = 0;

	while (!c->in_eof && c->in_fd != -1) {
		ssize_t	 n;
		size_t	 want;
		int	 got;

		if ((got = virtq_pop(&d->vq[CON_RXQ], d->mem, &c->chain,
		    &why)) != 1) {
			if (got == -1)
				virtio_violation(d, why);
			else
				c->in_blocked = true;
			break;
		}
		if (c->chain.nreadable != 0 || c->chain.writable_bytes == 0) {
			virtio_violation(d, "console receive buffer not writable");
			return;
		}
		want = c->chain.writable_bytes < sizeof(buf) ?
		    (size_t)c->chain.writable_bytes : sizeof(buf);
		do
			n = read(c->in_fd, buf, want);
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			virtq_unpop(&d->vq[CON_RXQ]);
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				c->in_eof = true;
			break;
		}
		virtq_chain_write(d->mem, &c->chain, 0, buf, (size_t)n);
		if (virtio_used(d, CON_RXQ, c->chain.head, (uint32_t)n) == -1)
			return;
		done++;
	}
	if (done > 0)
		virtio_interrupt(d, VIRTIO_INT_USED);
}

static void
con_notify(struct virtio_dev *d, unsigned q)
{
	struct console	*c = d->impl;

	if (q == CON_TXQ)
		con_tx(c);
	else
		c->in_blocked = false;	/* buffers arrived: read input again */
	con_watch(c);
}

static void
con_fd_ready(int fd, uint32_t events, void *arg)
{
	struct console	*c = arg;
	struct virtio_dev *d = &c->dev;

	pthread_mutex_lock(&d->mu);
	if (fd == c->out_fd && (events & (EV_WRITE | EV_HUP))) {
		con_flush(c);
		if (virtio_live(d) && d->vq[CON_TXQ].ready)
			con_tx(c);
	}
	if (fd == c->in_fd && (events & (EV_READ | EV_HUP))) {
		if (virtio_live(d) && d->vq[CON_RXQ].ready)
			con_rx(c);
		else
			c->in_blocked = true;	/* until the driver is up */
	}
	con_watch(c);
	pthread_mutex_unlock(&d->mu);
}

static void
con_reset(struct virtio_dev *d)
{
	struct console *c = d->impl;

	c->in_blocked = true;
	c->tx_held = false;	/* the queue is gone with its chains */
	con_watch(c);
}

static void
con_driver_ok(struct virtio_dev *d)
{
	struct console *c = d->impl;

	c->in_blocked = false;
	con_watch(c);
}

static const struct virtio_ops console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.features = CON_F_SIZE,
	.nqueues = 2,
	.notify = con_notify,
	.reset = con_reset,
	.driver_ok = con_driver_ok,
};

/* Config bytes 0-3: cols, rows (le16); the generation tells of a change. */
static void
con_set_size(struct virtio_dev *d, uint16_t rows, uint16_t cols)
{
	d->config[0] = (uint8_t)cols;
	d->config[1] = (uint8_t)(cols >> 8);
	d->config[2] = (uint8_t)rows;
	d->config[3] = (uint8_t)(rows >> 8);
	d->config_len = 4;
	d->config_generation++;
}

void
dev_console_resize(struct virtio_dev *d, uint16_t rows, uint16_t cols)
{
	pthread_mutex_lock(&d->mu);
	con_set_size(d, rows, cols);
	if (virtio_live(d))
		virtio_interrupt(d, VIRTIO_INT_CONFIG);
	pthread_mutex_unlock(&d->mu);
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

struct virtio_dev *
dev_console_new(const struct dev_env *env, int in_fd, int out_fd,
    uint16_t rows, uint16_t cols, char *err, size_t errlen)
{
	struct console	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->in_blocked = true;
	if (virtio_dev_init(&c->dev, &console_ops, c, env->mem, env->loop,
	    env->vm_fd, env->base, env->irq) == -1)
		goto fail;
	con_set_size(&c->dev, rows, cols);
	if ((in_fd != -1 && set_nonblock(in_fd) == -1) ||
	    (out_fd != -1 && set_nonblock(out_fd) == -1))
		goto fail;
	/*
	 * Files and /dev/null cannot be polled (EPERM): such an input is
	 * treated as empty, such an output is always writable.
	 */
	if (in_fd != -1) {
		if (event_add(env->loop, in_fd, 0, con_fd_ready, c) == 0)
			c->in_reg = true;
		else if (errno == EPERM)
			c->in_eof = true;
		else
			goto fail;
		if (out_fd == in_fd)
			c->out_reg = c->in_reg;
	}
	if (out_fd != -1 && out_fd != in_fd) {
		if (event_add(env->loop, out_fd, 0, con_fd_ready, c) == 0)
			c->out_reg = true;
		else if (errno != EPERM)
			goto fail;
	}
	return &c->dev;
fail:
	snprintf(err, errlen, "virtio-console: %s", strerror(errno));
	free(c);
	return NULL;
}
