/*
 * certd_harness: run the real capsem-certd the way the session parent
 * does (socketpair, fork, channel on fd 3, exec) and talk imsg to it.
 * Used by the certd integration tests and bench/mint.
 */
#ifndef CAPSEM_CERTD_HARNESS_H
#define CAPSEM_CERTD_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "imsg.h"
#include "msg.h"
#include "proc.h"

struct certd_proc {
	pid_t		 pid;
	struct imsgbuf	 parent;	/* our end of the parent channel */
};

/* A received message, copied out of the imsgbuf. */
struct harness_msg {
	uint32_t	 type;
	uint32_t	 peerid;
	int		 fd;
	size_t		 len;
	uint8_t		*data;		/* NUL-terminated copy; free() it */
};

/* Spawn path (the built capsem-certd).  0 or -1. */
int	certd_spawn(const char *path, struct certd_proc *);
/* Queue and flush one message.  0 or -1. */
int	harness_send(struct imsgbuf *, uint32_t type, uint32_t peerid, int fd,
	    const void *data, size_t len);
/* Next message within timeout_ms: 1, 0 on EOF/timeout, -1 on error. */
int	harness_recv(struct imsgbuf *, struct harness_msg *, int timeout_ms);
void	harness_msg_free(struct harness_msg *);
/* HELLO -> READY.  0 or -1. */
int	certd_hello(struct certd_proc *, struct msg_ready *);
/*
 * CA_CERT + CA_KEY (the key file opened here and passed as an fd).
 * Returns 0 when certd answered an empty CA_LOADED, -1 otherwise with
 * certd's error text (or ours) in err.
 */
int	certd_load_ca(struct certd_proc *, const char *pem_path,
	    const char *key_path, char *err, size_t errlen);
/*
 * Give certd a netproxy channel: our end goes in np; the LEAF_KEY it
 * sends first is copied to leaf_key (cap bytes), length in *leaf_key_len.
 */
int	certd_add_netproxy(struct certd_proc *, uint32_t instance,
	    struct imsgbuf *np, uint8_t *leaf_key, size_t cap,
	    size_t *leaf_key_len);
/* STATUS_REQUEST -> STATUS_RESPONSE. */
int	certd_status(struct certd_proc *, struct msg_status *);
/* SHUTDOWN, wait; returns the exit status as from waitpid, or -1. */
int	certd_stop(struct certd_proc *);

/* Read a whole small file into a malloc'd NUL-terminated buffer. */
uint8_t *harness_read_file(const char *path, size_t *len);
int	harness_write_file(const char *path, const void *data, size_t len);

#endif
