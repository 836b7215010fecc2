/*
 * devices: constructors of the virtio devices (one file each).  Each
 * returns the transport struct to attach to the VM, or NULL with err set.
 */
#ifndef CAPSEM_VMM_DEVICES_H
#define CAPSEM_VMM_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "virtio.h"

struct dev_env {
	const struct guestmem *mem;
	struct event_loop *loop;
	int		 vm_fd;
	uint64_t	 base;
	unsigned	 irq;
};

/*
 * hvc0: guest output to out_fd, in_fd to the guest (raw bytes); the
 * terminal's size (0 x 0: unknown) until dev_console_resize changes it.
 */
struct virtio_dev *dev_console_new(const struct dev_env *, int in_fd, int out_fd,
	    uint16_t rows, uint16_t cols, char *err, size_t errlen);
/* Any thread: a new terminal size, announced to the driver. */
void	dev_console_resize(struct virtio_dev *, uint16_t rows, uint16_t cols);

/* A disk image on fd; writable adds FLUSH, else VIRTIO_BLK_F_RO. */
struct virtio_dev *dev_blk_new(const struct dev_env *, int fd, bool writable,
	    unsigned index, char *err, size_t errlen);

/* Entropy from getrandom(2). */
struct virtio_dev *dev_rng_new(const struct dev_env *, char *err, size_t errlen);

/* vsock: what the host side does with guest connections. */
#define VSOCK_HOST_CID		2
#define VSOCK_GUEST_CID		3
#define VSOCK_PORT_CONTROL	1024
#define VSOCK_PORT_DNS		1053
#define VSOCK_PORT_HTTP		1080
#define VSOCK_PORT_HTTPS	1443
#define VSOCK_MAX_CONNS		64

struct vsock_host {
	/* A guest stream to a proxied port: take fd (our end is kept). 0/-1 */
	int		(*stream_new)(void *arg, uint32_t port, int fd);
	/* A line the guest sent on the control port (NUL-terminated). */
	void		(*control_line)(void *arg, const char *line);
	void		*arg;
};

struct virtio_dev *dev_vsock_new(const struct dev_env *, const struct vsock_host *,
	    char *err, size_t errlen);

/*
 * virtio-fs: the workspace.  Requests go to capsem-fsd through send (tag 0
 * for the ones that get no reply); its replies come back through
 * dev_fs_reply / dev_fs_violation (I/O thread).
 */
#define FS_INFLIGHT	64	/* requests waiting for fsd at once */

struct fs_host {
	/* 0, or -1 if fsd cannot be reached (the VM ends) */
	int		(*send)(void *arg, uint32_t tag,
			    const struct msg_fs_request *, const void *req,
			    size_t len);
	void		*arg;
};

struct virtio_dev *dev_fs_new(const struct dev_env *, const struct fs_host *,
	    char *err, size_t errlen);
void	dev_fs_reply(struct virtio_dev *, uint32_t tag, const void *data,
	    size_t len);
void	dev_fs_violation(struct virtio_dev *, uint32_t tag, const char *why);
void	dev_fs_counters(struct virtio_dev *, uint64_t *requests,
	    uint64_t *replies);

#endif
