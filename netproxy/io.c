/*
 * io.c: bounded byte buffers and the two kinds of connection end (plain
 * socket, TLS over a socket), both non-blocking.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "netproxy.h"

int
buf_alloc(struct np_buf *b, size_t cap)
{
	b->data = malloc(cap);
	if (b->data == NULL)
		return -1;
	b->cap = cap;
	b->off = b->len = 0;
	return 0;
}

void
buf_free(struct np_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->cap = b->off = b->len = 0;
}

/* Room at the end; moves pending bytes to the front when that helps. */
size_t
buf_room(struct np_buf *b)
{
	if (b->data == NULL)
		return 0;
	if (b->off > 0 && b->off + b->len == b->cap) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	if (b->len == 0)
		b->off = 0;
	return b->cap - b->off - b->len;
}

int
buf_append(struct np_buf *b, const void *p, size_t n)
{
	if (b->off > 0 && buf_room(b) < n) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	if (b->cap - b->off - b->len < n)
		return -1;
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_printf(struct np_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room;
	int	 r;

	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	room = b->cap - b->len;
	va_start(ap, fmt);
	r = vsnprintf((char *)b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= room)
		return -1;
	b->len += (size_t)r;
	return 0;
}

void
buf_consume(struct np_buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

/* Read what the end has into end->in.  -1: EOF or error (see flags). */
ssize_t
end_fill(struct np_end *e)
{
	size_t	 room = buf_room(&e->in);
	uint8_t	*p = e->in.data + e->in.off + e->in.len;
	ssize_t	 n;
	int	 r;

	if (room == 0 || e->eof || e->failed)
		return e->eof || e->failed ? -1 : 0;
	if (e->ssl != NULL) {
		e->ssl_want_read = false;
		r = mbedtls_ssl_read(e->ssl, p, room);
		if (r > 0) {
			e->in.len += (size_t)r;
			return r;
		}
		if (r == MBEDTLS_ERR_SSL_WANT_READ) {
			e->ssl_want_read = true;
			return 0;
		}
		if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
			e->ssl_want_write = true;
			return 0;
		}
		if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
			e->eof = true;
		else
			e->failed = true;
		return -1;
	}
	n = recv(e->fd, p, room, 0);
	if (n > 0) {
		e->in.len += (size_t)n;
		return n;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 0)
		e->eof = true;
	else
		e->failed = true;
	return -1;
}

ssize_t
end_flush(struct np_end *e)
{
	ssize_t	 total = 0, n;
	int	 r;

	while (e->out.len > 0 && !e->failed) {
		if (e->ssl != NULL) {
			e->ssl_want_write = false;
			r = mbedtls_ssl_write(e->ssl, e->out.data + e->out.off,
			    e->out.len);
			if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
				e->ssl_want_write = true;
				break;
			}
			if (r == MBEDTLS_ERR_SSL_WANT_READ)
				break;
			if (r < 0) {
				e->failed = true;
				return -1;
			}
			n = r;
		} else {
			n = send(e->fd, e->out.data + e->out.off, e->out.len,
			    MSG_NOSIGNAL);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				e->failed = true;
				return -1;
			}
		}
		buf_consume(&e->out, (size_t)n);
		total += n;
	}
	return total;
}

void
end_close(struct netproxy *np, struct np_end *e)
{
	tls_end_free(e);		/* close_notify, best effort */
	if (e->fd != -1) {
		event_del(np->loop, e->fd);
		close(e->fd);
		e->fd = -1;
	}
	buf_free(&e->in);
	buf_free(&e->out);
	free(e->pre);
	e->pre = NULL;
	e->pre_len = e->pre_off = 0;
}

/*
 * A TCP socket sends each of our writes at once: a TLS flight is several
 * small records, and Nagle would hold the last ones for the peer's
 * delayed ACK.  Client streams (proxy -l) and upstream sockets; the vmm's
 * streams are AF_UNIX: nothing to set.
 */
void
end_set_nodelay(int fd)
{
	struct sockaddr_storage ss;
	socklen_t	 sslen = sizeof(ss);
	int		 one = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warn("stream: TCP_NODELAY");
}
