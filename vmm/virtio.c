/*
 * virtio.c: virtio-mmio register file and the ioeventfd/irqfd plumbing.
 */
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "virtio.h"

#define REG_MAGIC		0x000
#define REG_VERSION		0x004
#define REG_DEVICE_ID		0x008
#define REG_VENDOR_ID		0x00c
#define REG_DEV_FEATURES	0x010
#define REG_DEV_FEATURES_SEL	0x014
#define REG_DRV_FEATURES	0x020
#define REG_DRV_FEATURES_SEL	0x024
#define REG_QUEUE_SEL		0x030
#define REG_QUEUE_NUM_MAX	0x034
#define REG_QUEUE_NUM		0x038
#define REG_QUEUE_READY		0x044
#define REG_QUEUE_NOTIFY	0x050
#define REG_INT_STATUS		0x060
#define REG_INT_ACK		0x064
#define REG_STATUS		0x070
#define REG_QUEUE_DESC_LO	0x080
#define REG_QUEUE_DESC_HI	0x084
#define REG_QUEUE_AVAIL_LO	0x090
#define REG_QUEUE_AVAIL_HI	0x094
#define REG_QUEUE_USED_LO	0x0a0
#define REG_QUEUE_USED_HI	0x0a4
#define REG_CONFIG_GEN		0x0fc
#define REG_CONFIG		0x100

#define MMIO_MAGIC		0x74726976u	/* "virt" */
#define MMIO_VENDOR		0x4d455343u	/* "CSEM" */

static uint64_t
all_features(const struct virtio_dev *d)
{
	return d->ops->features | (1ULL << VIRTIO_F_VERSION_1);
}

bool
virtio_live(const struct virtio_dev *d)
{
	return !d->broken && (d->status & VIRTIO_STATUS_DRIVER_OK);
}

void
virtio_interrupt(struct virtio_dev *d, uint32_t bits)
{
	uint64_t one = 1;

	d->int_status |= bits;
	if (d->irq_fd != -1 && write(d->irq_fd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		log_warn("%s: irqfd", d->ops->name);
}

void
virtio_violation(struct virtio_dev *d, const char *why)
{
	d->violations++;
	if (d->broken)
		return;
	log_warnx("%s: guest driver error: %s; device needs reset",
	    d->ops->name, why);
	d->broken = true;
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_interrupt(d, VIRTIO_INT_CONFIG);
}

int
virtio_used(struct virtio_dev *d, unsigned q, uint16_t head, uint32_t written)
{
	if (virtq_push(&d->vq[q], d->mem, head, written) == -1) {
		virtio_violation(d, "used ring outside guest memory");
		return -1;
	}
	return 0;
}

void
virtio_queue_done(struct virtio_dev *d, int got, const char *why, int done)
{
	if (got == -1)
		virtio_violation(d, why);
	if (done > 0)
		virtio_interrupt(d, VIRTIO_INT_USED);
}

static void
device_reset(struct virtio_dev *d)
{
	unsigned	 i;

	d->status = 0;
	d->dev_features_sel = d->drv_features_sel = 0;
	d->drv_features = 0;
	d->queue_sel = 0;
	d->int_status = 0;
	d->broken = false;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&d->vq[i]);
	if (d->ops->reset != NULL)
		d->ops->reset(d);
}

void
virtio_kick(struct virtio_dev *d, unsigned q)
{
	pthread_mutex_lock(&d->mu);
	if (q < d->ops->nqueues && virtio_live(d) && d->vq[q].ready &&
	    d->ops->notify != NULL)
		d->ops->notify(d, q);
	pthread_mutex_unlock(&d->mu);
}

static void
notify_ready(int fd, uint32_t events, void *arg)
{
	struct virtio_dev *d = arg;
	uint64_t	 v;
	unsigned	 q;

	(void)events;
	if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("%s: notify eventfd", d->ops->name);
	for (q = 0; q < d->ops->nqueues; q++)
		if (d->notify_fd[q] == fd)
			virtio_kick(d, q);
}

int
virtio_dev_init(struct virtio_dev *d, const struct virtio_ops *ops, void *impl,
    const struct guestmem *mem, struct event_loop *loop, int vm_fd,
    uint64_t base, unsigned irq)
{
	unsigned	 q;

	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->impl = impl;
	d->mem = mem;
	d->loop = loop;
	d->vm_fd = vm_fd;
	d->base = base;
	d->irq = irq;
	d->irq_fd = -1;
	pthread_mutex_init(&d->mu, NULL);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->notify_fd[q] = -1;
	if (ops->nqueues > VIRTIO_MAX_QUEUES)
		return -1;
	if (vm_fd == -1)
		return 0;

	for (q = 0; q < ops->nqueues; q++) {
		struct kvm_ioeventfd ioe;

		if ((d->notify_fd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
			return -1;
		memset(&ioe, 0, sizeof(ioe));
		ioe.addr = base + REG_QUEUE_NOTIFY;
		ioe.len = 4;
		ioe.datamatch = q;
		ioe.fd = d->notify_fd[q];
		ioe.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
		if (ioctl(vm_fd, KVM_IOEVENTFD, &ioe) == -1)
			return -1;
		if (loop != NULL && event_add(loop, d->notify_fd[q], EV_READ,
		    notify_ready, d) == -1)
			return -1;
	}
	{
		struct kvm_irqfd irqfd;

		if ((d->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
			return -1;
		memset(&irqfd, 0, sizeof(irqfd));
		irqfd.fd = (uint32_t)d->irq_fd;
		irqfd.gsi = irq;
		if (ioctl(vm_fd, KVM_IRQFD, &irqfd) == -1)
			return -1;
	}
	return 0;
}

int
virtio_cmdline_arg(const struct virtio_dev *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, "virtio_mmio.device=%u@0x%llx:%u",
	    VIRTIO_MMIO_SIZE, (unsigned long long)d->base, d->irq);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static uint32_t
reg_read(struct virtio_dev *d, uint64_t off)
{
	struct virtq	*vq = &d->vq[d->queue_sel < VIRTIO_MAX_QUEUES ?
	    d->queue_sel : 0];
	bool		 qvalid = d->queue_sel < d->ops->nqueues;

	switch (off) {
	case REG_MAGIC:
		return MMIO_MAGIC;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return d->ops->device_id;
	case REG_VENDOR_ID:
		return MMIO_VENDOR;
	case REG_DEV_FEATURES:
		if (d->dev_features_sel > 1)
			return 0;
		return (uint32_t)(all_features(d) >> (32 * d->dev_features_sel));
	case REG_QUEUE_NUM_MAX:
		return qvalid ? VIRTQ_MAX_SIZE : 0;
	case REG_QUEUE_READY:
		return qvalid && vq->ready;
	case REG_INT_STATUS:
		return d->int_status;
	case REG_STATUS:
		return d->status;
	case REG_CONFIG_GEN:
		return d->config_generation;
	case REG_QUEUE_DESC_LO:
		return qvalid ? (uint32_t)vq->desc_gpa : 0;
	case REG_QUEUE_DESC_HI:
		return qvalid ? (uint32_t)(vq->desc_gpa >> 32) : 0;
	case REG_QUEUE_AVAIL_LO:
		return qvalid ? (uint32_t)vq->avail_gpa : 0;
	case REG_QUEUE_AVAIL_HI:
		return qvalid ? (uint32_t)(vq->avail_gpa >> 32) : 0;
	case REG_QUEUE_USED_LO:
		return qvalid ? (uint32_t)vq->used_gpa : 0;
	case REG_QUEUE_USED_HI:
		return qvalid ? (uint32_t)(vq->used_gpa >> 32) : 0;
	default:
		return 0;
	}
}

static void
set_status(struct virtio_dev *d, uint32_t v)
{
	if (v == 0) {
		device_reset(d);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) &&
	    !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* accept only what we offered, and VERSION_1 is required */
		if ((d->drv_features & ~all_features(d)) != 0 ||
		    !(d->drv_features & (1ULL << VIRTIO_F_VERSION_1)))
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	}
	d->status = v | (d->status & VIRTIO_STATUS_NEEDS_RESET);
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !d->broken &&
	    d->ops->driver_ok != NULL)
		d->ops->driver_ok(d);
}

static void
reg_write(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtq	*vq = d->queue_sel < d->ops->nqueues ?
	    &d->vq[d->queue_sel] : NULL;
	const char	*why;
	uint64_t	 one = 1;

	switch (off) {
	case REG_DEV_FEATURES_SEL:
		d->dev_features_sel = v;
		return;
	case REG_DRV_FEATURES:
		if (d->status & VIRTIO_STATUS_FEATURES_OK)
			return;
		if (d->drv_features_sel == 0)
			d->drv_features = (d->drv_features & ~0xffffffffULL) | v;
		else if (d->drv_features_sel == 1)
			d->drv_features = (d->drv_features & 0xffffffffULL) |
			    ((uint64_t)v << 32);
		return;
	case REG_DRV_FEATURES_SEL:
		d->drv_features_sel = v;
		return;
	case REG_QUEUE_SEL:
		d->queue_sel = v;
		return;
	case REG_INT_ACK:
		d->int_status &= ~v;
		return;
	case REG_STATUS:
		set_status(d, v);
		return;
	case REG_QUEUE_NOTIFY:
		/* only without an ioeventfd: hand it to the I/O thread */
		if (v < d->ops->nqueues && d->notify_fd[v] != -1) {
			if (write(d->notify_fd[v], &one, sizeof(one)) == -1)
				log_warn("%s: notify", d->ops->name);
		}
		return;
	default:
		break;
	}
	if (vq == NULL)
		return;
	if (vq->ready && off != REG_QUEUE_READY)
		return;		/* layout is fixed while the queue is live */
	switch (off) {
	case REG_QUEUE_NUM:
		vq->num = (uint16_t)(v <= VIRTQ_MAX_SIZE ? v : 0);
		break;
	case REG_QUEUE_READY:
		if (v == 0) {
			vq->ready = false;
			break;
		}
		if (virtq_check_layout(vq, d->mem, &why) == -1) {
			virtio_violation(d, why);
			break;
		}
		vq->ready = true;
		break;
	case REG_QUEUE_DESC_LO:
		vq->desc_gpa = (vq->desc_gpa & ~0xffffffffULL) | v;
		break;
	case REG_QUEUE_DESC_HI:
		vq->desc_gpa = (vq->desc_gpa & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	case REG_QUEUE_AVAIL_LO:
		vq->avail_gpa = (vq->avail_gpa & ~0xffffffffULL) | v;
		break;
	case REG_QUEUE_AVAIL_HI:
		vq->avail_gpa = (vq->avail_gpa & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	case REG_QUEUE_USED_LO:
		vq->used_gpa = (vq->used_gpa & ~0xffffffffULL) | v;
		break;
	case REG_QUEUE_USED_HI:
		vq->used_gpa = (vq->used_gpa & 0xffffffffULL) | ((uint64_t)v << 32);
		break;
	default:
		break;
	}
}

void
virtio_mmio_access(struct virtio_dev *d, uint64_t off, bool is_write,
    uint8_t *data, uint32_t len)
{
	uint32_t	 v = 0;

	pthread_mutex_lock(&d->mu);
	if (off >= REG_CONFIG) {
		uint64_t c = off - REG_CONFIG;

		if (len <= 8 && c < d->config_len && len <= d->config_len - c) {
			if (is_write)
				;	/* device config is read-only here */
			else
				memcpy(data, d->config + c, len);
		} else if (!is_write)
			memset(data, 0, len);
		pthread_mutex_unlock(&d->mu);
		return;
	}
	if (len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0, len);
		pthread_mutex_unlock(&d->mu);
		return;
	}
	if (is_write) {
		memcpy(&v, data, 4);
		reg_write(d, off, v);
	} else {
		v = reg_read(d, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->mu);
}
