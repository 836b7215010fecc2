/*
 * imsg: framed messages over AF_UNIX SOCK_STREAM socketpairs, with optional
 * fd passing (SCM_RIGHTS).  Our own implementation of the OpenBSD idea.
 *
 * Wire format: struct imsg_hdr (host byte order: both ends are on one host)
 * followed by hdr.len payload bytes.  A message with IMSGF_HASFD carries one
 * fd, sent with the first byte of its header.
 */
#ifndef CAPSEM_IMSG_H
#define CAPSEM_IMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct imsg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* payload bytes, not counting the header */
	uint32_t	 flags;		/* IMSGF_* */
	uint32_t	 peerid;	/* request id / instance, per message type */
	uint32_t	 pid;		/* sender's pid */
};
#define IMSGF_HASFD	0x1u
#define IMSG_HDR_SIZE	sizeof(struct imsg_hdr)

#define IMSG_MAXLEN_DEFAULT	(64u * 1024)		/* payload */
#define IMSG_MAXLEN_LIMIT	(16u * 1024 * 1024)	/* any channel */
#define IMSG_MAX_QUEUED_FDS	32

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 if none; owned by the receiver */
	const uint8_t	*data;		/* valid until the next imsg_get() */
	size_t		 len;		/* == hdr.len */
};

struct imsg_wmsg;

struct imsgbuf {
	int		 fd;
	size_t		 maxlen;	/* largest payload accepted or sent */
	pid_t		 pid;
	/* read side */
	uint8_t		*rbuf;
	size_t		 rcap;
	size_t		 rlen;		/* bytes in rbuf */
	size_t		 rpos;		/* start of unconsumed bytes */
	int		 rfds[IMSG_MAX_QUEUED_FDS];
	size_t		 nrfds;
	bool		 rfds_lost;	/* more fds came than we queue: fatal */
	/* write side: a FIFO of whole messages */
	struct imsg_wmsg *wq_head;
	struct imsg_wmsg *wq_tail;
	size_t		 wq_bytes;
	size_t		 wq_limit;	/* compose fails beyond this backlog */
};

void	imsgbuf_init(struct imsgbuf *, int fd, size_t maxlen);
void	imsgbuf_clear(struct imsgbuf *);	/* frees buffers, closes queued fds */

/*
 * Queue one message.  fd (or -1) is passed with it and closed by
 * imsgbuf_write() once sent.  Returns 0, or -1 with errno set
 * (EMSGSIZE: payload over maxlen; ENOBUFS: write backlog over wq_limit).
 */
int	imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid, int fd,
	    const void *data, size_t len);
/* Same, with the payload in two parts (a fixed struct and a tail). */
int	imsg_compose2(struct imsgbuf *, uint32_t type, uint32_t peerid, int fd,
	    const void *d1, size_t l1, const void *d2, size_t l2);

/*
 * Write queued messages without blocking.  Returns 0 when everything was
 * written or the socket would block (see imsgbuf_pending), -1 on error
 * (errno set; EPIPE when the peer is gone).
 */
int	imsgbuf_write(struct imsgbuf *);
/* Write everything, waiting with poll() as needed.  0 or -1. */
int	imsgbuf_flush(struct imsgbuf *);
bool	imsgbuf_pending(const struct imsgbuf *);

/*
 * Read what the socket has.  Returns bytes read (> 0), 0 on EOF, -1 on
 * error (errno EAGAIN when nothing is there yet).
 */
ssize_t	imsgbuf_read(struct imsgbuf *);

/*
 * Take the next complete message.  Returns 1 and fills *imsg, 0 when more
 * bytes are needed, -1 on a malformed stream (errno EBADMSG: payload over
 * maxlen, unknown flags, or fds were dropped so they can no longer be
 * matched to their messages; ENOENT: IMSGF_HASFD without a received fd).
 * A malformed stream is fatal for the receiving process.
 */
int	imsg_get(struct imsgbuf *, struct imsg *);

/* Close the fd an imsg carried, if the handler did not take it. */
void	imsg_free(struct imsg *);

/*
 * Dispatch tables: one per peer, one row per message type.  The dispatcher
 * checks payload length bounds and the fd before calling fn, and calls
 * fatalx() for an unknown type, a bad length or a missing/unexpected fd.
 */
enum imsg_fd_rule { IMSG_FD_NONE, IMSG_FD_REQUIRED };

struct imsg_handler {
	uint32_t	 type;
	size_t		 minlen;
	size_t		 maxlen;	/* minlen == maxlen: exact length */
	enum imsg_fd_rule fd;
	void		(*fn)(void *ctx, struct imsg *);
};

void	imsg_dispatch(const struct imsg_handler *table, size_t ntable,
	    const char *peername, void *ctx, struct imsg *);
/* The dispatcher's checks alone: NULL and *found if fine, else why not. */
const char *imsg_check(const struct imsg_handler *table, size_t ntable,
	    const struct imsg *, const struct imsg_handler **found);

/*
 * Validation helpers for payloads: a fixed char array must hold a
 * NUL-terminated string; a length-counted string must not contain NUL.
 */
bool	imsg_str_ok(const char *field, size_t size);
bool	imsg_bytes_are_text(const uint8_t *p, size_t len);

#endif
