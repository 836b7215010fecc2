/*
 * imsg.c: framed messages with fd passing over stream socketpairs.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"

struct imsg_wmsg {
	struct imsg_wmsg *next;
	int		 fd;		/* sent with the first byte, then closed */
	size_t		 len;		/* header + payload */
	size_t		 off;		/* bytes already written */
	uint8_t		 data[];
};

#define IMSG_RBUF_INITIAL	4096
#define IMSG_WQ_LIMIT_MIN	(256u * 1024)

void
imsgbuf_init(struct imsgbuf *ibuf, int fd, size_t maxlen)
{
	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	if (maxlen == 0)
		maxlen = IMSG_MAXLEN_DEFAULT;
	if (maxlen > IMSG_MAXLEN_LIMIT)
		maxlen = IMSG_MAXLEN_LIMIT;
	ibuf->maxlen = maxlen;
	ibuf->pid = getpid();
	/* Room for a backlog of several maximal messages. */
	ibuf->wq_limit = 8 * (maxlen + IMSG_HDR_SIZE);
	if (ibuf->wq_limit < IMSG_WQ_LIMIT_MIN)
		ibuf->wq_limit = IMSG_WQ_LIMIT_MIN;
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct imsg_wmsg *m, *next;
	size_t	 i;

	for (m = ibuf->wq_head; m != NULL; m = next) {
		next = m->next;
		if (m->fd != -1)
			close(m->fd);
		free(m);
	}
	ibuf->wq_head = ibuf->wq_tail = NULL;
	ibuf->wq_bytes = 0;
	for (i = 0; i < ibuf->nrfds; i++)
		close(ibuf->rfds[i]);
	ibuf->nrfds = 0;
	free(ibuf->rbuf);
	ibuf->rbuf = NULL;
	ibuf->rcap = ibuf->rlen = ibuf->rpos = 0;
}

int
imsg_compose2(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, int fd,
    const void *d1, size_t l1, const void *d2, size_t l2)
{
	struct imsg_wmsg *m;
	struct imsg_hdr	 hdr;
	size_t		 len;

	if (l1 > ibuf->maxlen || l2 > ibuf->maxlen - l1) {
		errno = EMSGSIZE;
		return -1;
	}
	len = IMSG_HDR_SIZE + l1 + l2;
	if (ibuf->wq_bytes > ibuf->wq_limit ||
	    len > ibuf->wq_limit - ibuf->wq_bytes) {
		errno = ENOBUFS;
		return -1;
	}
	if ((m = malloc(sizeof(*m) + len)) == NULL)
		return -1;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)(l1 + l2);
	hdr.flags = fd != -1 ? IMSGF_HASFD : 0;
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)ibuf->pid;
	memcpy(m->data, &hdr, sizeof(hdr));
	if (l1 > 0)
		memcpy(m->data + IMSG_HDR_SIZE, d1, l1);
	if (l2 > 0)
		memcpy(m->data + IMSG_HDR_SIZE + l1, d2, l2);
	m->next = NULL;
	m->fd = fd;
	m->len = len;
	m->off = 0;
	if (ibuf->wq_tail != NULL)
		ibuf->wq_tail->next = m;
	else
		ibuf->wq_head = m;
	ibuf->wq_tail = m;
	ibuf->wq_bytes += len;
	return 0;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	return imsg_compose2(ibuf, type, peerid, fd, data, len, NULL, 0);
}

bool
imsgbuf_pending(const struct imsgbuf *ibuf)
{
	return ibuf->wq_head != NULL;
}

/*
 * Send queued messages, several per sendmsg (one skb each would fill the
 * socket buffer with overhead).  A message carrying an fd starts a batch,
 * so its fd goes with its first byte.  1 if progress, 0 if it would block.
 */
#define IMSG_WRITE_IOV	64

static int
imsgbuf_write_batch(struct imsgbuf *ibuf)
{
	struct imsg_wmsg *m = ibuf->wq_head;
	struct msghdr	 msg;
	struct iovec	 iov[IMSG_WRITE_IOV];
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	size_t		 niov = 0, left;
	ssize_t		 n;
	int		 sent_fd = -1;

	memset(&msg, 0, sizeof(msg));
	if (m->off == 0 && m->fd != -1) {
		struct cmsghdr *cmsg;

		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &m->fd, sizeof(int));
		sent_fd = m->fd;
	}
	for (; m != NULL && niov < IMSG_WRITE_IOV; m = m->next) {
		if (niov > 0 && m->fd != -1)
			break;		/* its fd starts the next batch */
		iov[niov].iov_base = m->data + m->off;
		iov[niov].iov_len = m->len - m->off;
		niov++;
	}
	msg.msg_iov = iov;
	msg.msg_iovlen = niov;
again:
	n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1) {
		if (errno == EINTR)
			goto again;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
	if (sent_fd != -1) {
		close(sent_fd);
		ibuf->wq_head->fd = -1;
	}
	left = (size_t)n;
	while (left > 0) {
		m = ibuf->wq_head;
		if (left < m->len - m->off) {
			m->off += left;
			break;
		}
		left -= m->len - m->off;
		ibuf->wq_head = m->next;
		if (ibuf->wq_head == NULL)
			ibuf->wq_tail = NULL;
		ibuf->wq_bytes -= m->len;
		free(m);
	}
	return 1;
}

int
imsgbuf_write(struct imsgbuf *ibuf)
{
	int	 r;

	while (ibuf->wq_head != NULL) {
		if ((r = imsgbuf_write_batch(ibuf)) == -1)
			return -1;
		if (r == 0)
			break;
	}
	return 0;
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	struct pollfd	 pfd;

	while (ibuf->wq_head != NULL) {
		if (imsgbuf_write(ibuf) == -1)
			return -1;
		if (ibuf->wq_head == NULL)
			break;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

static void
imsgbuf_take_fds(struct imsgbuf *ibuf, struct msghdr *msg)
{
	struct cmsghdr	*cmsg;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		size_t	 nfds, i;
		int	 fd;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (ibuf->nrfds < IMSG_MAX_QUEUED_FDS)
				ibuf->rfds[ibuf->nrfds++] = fd;
			else {
				/* A flood: later fds would pair wrongly. */
				close(fd);
				ibuf->rfds_lost = true;
			}
		}
	}
}

ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	ssize_t		 n;
	size_t		 want;

	/* Compact, then make room for at least one header's worth. */
	if (ibuf->rpos > 0) {
		memmove(ibuf->rbuf, ibuf->rbuf + ibuf->rpos,
		    ibuf->rlen - ibuf->rpos);
		ibuf->rlen -= ibuf->rpos;
		ibuf->rpos = 0;
	}
	want = IMSG_RBUF_INITIAL;
	if (ibuf->rlen >= IMSG_HDR_SIZE) {
		struct imsg_hdr hdr;

		memcpy(&hdr, ibuf->rbuf, sizeof(hdr));
		if (hdr.len <= ibuf->maxlen && IMSG_HDR_SIZE + hdr.len > want)
			want = IMSG_HDR_SIZE + hdr.len;
	}
	if (ibuf->rcap < want || ibuf->rcap - ibuf->rlen < 512) {
		size_t	 ncap = ibuf->rcap ? ibuf->rcap : IMSG_RBUF_INITIAL;
		uint8_t	*p;

		while (ncap < want || ncap - ibuf->rlen < 512)
			ncap *= 2;
		if ((p = realloc(ibuf->rbuf, ncap)) == NULL)
			return -1;
		ibuf->rbuf = p;
		ibuf->rcap = ncap;
	}

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = ibuf->rcap - ibuf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
again:
	n = recvmsg(ibuf->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno == EINTR)
			goto again;
		return -1;
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		/* More fds than we asked for: take what came, fail later. */
		imsgbuf_take_fds(ibuf, &msg);
		errno = EBADMSG;
		return -1;
	}
	imsgbuf_take_fds(ibuf, &msg);
	ibuf->rlen += (size_t)n;
	return n;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 avail = ibuf->rlen - ibuf->rpos;

	if (ibuf->rfds_lost) {
		errno = EBADMSG;
		return -1;
	}
	if (avail < IMSG_HDR_SIZE)
		return 0;
	memcpy(&hdr, ibuf->rbuf + ibuf->rpos, sizeof(hdr));
	if (hdr.len > ibuf->maxlen || (hdr.flags & ~IMSGF_HASFD) != 0) {
		errno = EBADMSG;
		return -1;
	}
	if (avail - IMSG_HDR_SIZE < hdr.len)
		return 0;
	imsg->hdr = hdr;
	imsg->fd = -1;
	if (hdr.flags & IMSGF_HASFD) {
		if (ibuf->nrfds == 0) {
			errno = ENOENT;
			return -1;
		}
		imsg->fd = ibuf->rfds[0];
		memmove(ibuf->rfds, ibuf->rfds + 1,
		    (ibuf->nrfds - 1) * sizeof(int));
		ibuf->nrfds--;
	}
	imsg->data = ibuf->rbuf + ibuf->rpos + IMSG_HDR_SIZE;
	imsg->len = hdr.len;
	ibuf->rpos += IMSG_HDR_SIZE + hdr.len;
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
}

const char *
imsg_check(const struct imsg_handler *table, size_t ntable,
    const struct imsg *imsg, const struct imsg_handler **found)
{
	size_t	 i;

	*found = NULL;
	for (i = 0; i < ntable; i++) {
		const struct imsg_handler *h = &table[i];

		if (h->type != imsg->hdr.type)
			continue;
		if (imsg->len < h->minlen || imsg->len > h->maxlen)
			return "bad length";
		if (h->fd == IMSG_FD_REQUIRED && imsg->fd == -1)
			return "missing fd";
		if (h->fd == IMSG_FD_NONE && imsg->fd != -1)
			return "unexpected fd";
		*found = h;
		return NULL;
	}
	return "unknown type";
}

void
imsg_dispatch(const struct imsg_handler *table, size_t ntable,
    const char *peername, void *ctx, struct imsg *imsg)
{
	const struct imsg_handler *h;
	const char *err;

	if ((err = imsg_check(table, ntable, imsg, &h)) != NULL)
		fatalx("%s: message type %u, %zu bytes%s from %s", err,
		    imsg->hdr.type, imsg->len, imsg->fd != -1 ? " + fd" : "",
		    peername);
	h->fn(ctx, imsg);
	imsg_free(imsg);
}

bool
imsg_str_ok(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

bool
imsg_bytes_are_text(const uint8_t *p, size_t len)
{
	return memchr(p, '\0', len) == NULL;
}
