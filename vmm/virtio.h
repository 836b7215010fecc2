/*
 * virtio: the virtio-mmio transport (version 2, "modern").  Register
 * accesses come from vCPU threads; queue work runs on the I/O thread (the
 * event loop), woken by the queue's ioeventfd.  Interrupts go through an
 * irqfd.  Each device's state is guarded by its mutex.
 */
#ifndef CAPSEM_VMM_VIRTIO_H
#define CAPSEM_VMM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmem.h"
#include "virtq.h"

struct event_loop;

#define VIRTIO_MMIO_SIZE	0x200
#define VIRTIO_MMIO_BASE	0xd0000000ULL
#define VIRTIO_MMIO_STRIDE	0x1000
#define VIRTIO_MAX_QUEUES	4
#define VIRTIO_CONFIG_MAX	64

#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_RNG		4
#define VIRTIO_ID_VSOCK		19
#define VIRTIO_ID_FS		26

#define VIRTIO_F_VERSION_1	32

#define VIRTIO_STATUS_ACKNOWLEDGE	1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	64
#define VIRTIO_STATUS_FAILED		128

#define VIRTIO_INT_USED		1
#define VIRTIO_INT_CONFIG	2

struct virtio_dev;

struct virtio_ops {
	const char	*name;
	uint32_t	 device_id;
	uint64_t	 features;	/* VERSION_1 is added by the transport */
	unsigned	 nqueues;
	/* I/O thread, device mutex held: queue q was notified */
	void		(*notify)(struct virtio_dev *, unsigned q);
	/* device mutex held: the driver reset the device (status 0) */
	void		(*reset)(struct virtio_dev *);
	/* device mutex held: DRIVER_OK was set */
	void		(*driver_ok)(struct virtio_dev *);
};

struct virtio_dev {
	const struct virtio_ops *ops;
	void		*impl;		/* the device's own state */
	const struct guestmem *mem;
	struct event_loop *loop;
	int		 vm_fd;
	uint64_t	 base;		/* MMIO base address */
	unsigned	 irq;		/* GSI */
	pthread_mutex_t	 mu;

	uint32_t	 status;
	uint32_t	 dev_features_sel;
	uint32_t	 drv_features_sel;
	uint64_t	 drv_features;
	uint32_t	 queue_sel;
	uint32_t	 int_status;
	uint32_t	 config_generation;
	uint8_t		 config[VIRTIO_CONFIG_MAX];
	uint32_t	 config_len;
	struct virtq	 vq[VIRTIO_MAX_QUEUES];
	int		 notify_fd[VIRTIO_MAX_QUEUES];
	int		 irq_fd;
	bool		 broken;
	uint64_t	 violations;
};

/*
 * Set up the transport at base/irq: eventfds, KVM_IOEVENTFD per queue,
 * KVM_IRQFD, and the notify handlers on the event loop.  0 or -1.
 * vm_fd may be -1 (tests): notifications then come from virtio_mmio_access.
 */
int	virtio_dev_init(struct virtio_dev *, const struct virtio_ops *, void *impl,
	    const struct guestmem *, struct event_loop *, int vm_fd,
	    uint64_t base, unsigned irq);

/* A vCPU's MMIO access inside [base, base + VIRTIO_MMIO_SIZE). */
void	virtio_mmio_access(struct virtio_dev *, uint64_t offset, bool is_write,
	    uint8_t *data, uint32_t len);

/* Device mutex held: signal used buffers / config change. */
void	virtio_interrupt(struct virtio_dev *, uint32_t bits);

/* Device mutex held: a guest protocol violation; log, NEEDS_RESET, stop. */
void	virtio_violation(struct virtio_dev *, const char *why);

/*
 * Device mutex held: return a chain (head) to the driver on queue q with
 * written bytes.  0, or -1 after a violation (used ring outside guest RAM).
 */
int	virtio_used(struct virtio_dev *, unsigned q, uint16_t head,
	    uint32_t written);

/*
 * Device mutex held: the end of a pass over a queue.  got is virtq_pop's
 * last answer (-1: a violation, why says what); done chains were used
 * (any: the used-buffer interrupt).
 */
void	virtio_queue_done(struct virtio_dev *, int got, const char *why,
	    int done);

/* Device mutex held: is the device live (DRIVER_OK, not broken)? */
bool	virtio_live(const struct virtio_dev *);

/* Run a queue's notify handler now (I/O thread; takes the mutex). */
void	virtio_kick(struct virtio_dev *, unsigned q);

/* "virtio_mmio.device=512@0xd0000000:5" for the kernel command line. */
int	virtio_cmdline_arg(const struct virtio_dev *, char *buf, size_t len);

#endif
