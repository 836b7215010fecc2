/*
 * dev_blk.c: virtio-blk over an image fd.  A read-only disk offers
 * VIRTIO_BLK_F_RO and fails writes; a writable one offers FLUSH.  Every
 * request is checked: header readable, status writable, data direction as
 * the request type says, whole sectors, inside the image.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "log.h"

#define BLK_F_SEG_MAX	2
#define BLK_F_RO	5
#define BLK_F_FLUSH	9

#define BLK_T_IN	0
#define BLK_T_OUT	1
#define BLK_T_FLUSH	4
#define BLK_T_GET_ID	8

#define BLK_S_OK	0
#define BLK_S_IOERR	1
#define BLK_S_UNSUPP	2

#define BLK_SECTOR	512
#define BLK_HDR		16
#define BLK_SEG_MAX	(VIRTQ_MAX_CHAIN - 2)
#define BLK_ID_LEN	20

struct blk {
	struct virtio_dev dev;
	struct virtio_ops ops;
	struct virtq_chain chain;
	int		 fd;
	bool		 writable;
	uint64_t	 sectors;
	unsigned	 index;
	uint64_t	 reads, writes, errors;
};

/* pread/pwrite between the image and the chain's data buffers. */
static int
blk_io(struct blk *b, bool to_guest, uint64_t pos, uint64_t len)
{
	const struct virtq_chain *ch = &b->chain;
	unsigned	 i, first, last;
	uint64_t	 skip, left = len;

	/* data buffers: after the 16-byte header, before the status byte */
	if (to_guest) {
		first = ch->nreadable;
		last = ch->n;
		skip = 0;
	} else {
		first = 0;
		last = ch->nreadable;
		skip = BLK_HDR;
	}
	for (i = first; i < last && left > 0; i++) {
		const struct virtq_buf *vb = &ch->buf[i];
		uint64_t off = 0, n;
		uint8_t *p;

		if (skip >= vb->len) {
			skip -= vb->len;
			continue;
		}
		off = skip;
		skip = 0;
		n = vb->len - off;
		if (n > left)
			n = left;
		if ((p = guestmem_ptr(b->dev.mem, vb->gpa + off, n)) == NULL)
			return -1;
		while (n > 0) {
			ssize_t r = to_guest ? pread(b->fd, p, n, (off_t)pos) :
			    pwrite(b->fd, p, n, (off_t)pos);

			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			p += r;
			pos += (uint64_t)r;
			n -= (uint64_t)r;
			left -= (uint64_t)r;
		}
	}
	return left == 0 ? 0 : -1;
}

/* One request; returns the status, or -1 for a driver violation. */
static int
blk_request(struct blk *b, uint32_t *written, const char **why)
{
	const struct virtq_chain *ch = &b->chain;
	struct virtio_dev *d = &b->dev;
	uint8_t		 hdr[BLK_HDR];
	uint32_t	 type;
	uint64_t	 sector, data, count;
	char		 id[BLK_ID_LEN];

	*written = 0;
	if (ch->readable_bytes < BLK_HDR || ch->writable_bytes < 1) {
		*why = "block request without header or status";
		return -1;
	}
	virtq_chain_read(d->mem, ch, 0, hdr, sizeof(hdr));
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);

	switch (type) {
	case BLK_T_IN:
		if (ch->readable_bytes != BLK_HDR) {
			*why = "block read with device-readable data";
			return -1;
		}
		data = ch->writable_bytes - 1;
		if (data % BLK_SECTOR != 0)
			return BLK_S_IOERR;
		count = data / BLK_SECTOR;
		if (sector > b->sectors || count > b->sectors - sector)
			return BLK_S_IOERR;
		if (blk_io(b, true, sector * BLK_SECTOR, data) == -1)
			return BLK_S_IOERR;
		b->reads++;
		*written = (uint32_t)data;
		return BLK_S_OK;
	case BLK_T_OUT:
		if (ch->writable_bytes != 1) {
			*why = "block write with device-writable data";
			return -1;
		}
		if (!b->writable)
			return BLK_S_IOERR;
		data = ch->readable_bytes - BLK_HDR;
		if (data % BLK_SECTOR != 0)
			return BLK_S_IOERR;
		count = data / BLK_SECTOR;
		if (sector > b->sectors || count > b->sectors - sector)
			return BLK_S_IOERR;
		if (blk_io(b, false, sector * BLK_SECTOR, data) == -1)
			return BLK_S_IOERR;
		b->writes++;
		return BLK_S_OK;
	case BLK_T_FLUSH:
		if (!b->writable)
			return BLK_S_UNSUPP;
		return fdatasync(b->fd) == -1 ? BLK_S_IOERR : BLK_S_OK;
	case BLK_T_GET_ID:
		if (ch->writable_bytes - 1 < BLK_ID_LEN)
			return BLK_S_IOERR;
		memset(id, 0, sizeof(id));
		snprintf(id, sizeof(id), "capsem-disk%u", b->index);
		virtq_chain_write(d->mem, ch, 0, id, BLK_ID_LEN);
		*written = BLK_ID_LEN;
		return BLK_S_OK;
	default:
		return BLK_S_UNSUPP;
	}
}

static void
blk_notify(struct virtio_dev *d, unsigned q)
{
	struct blk	*b = d->impl;
	const char	*why = NULL;
	int		 got, done = 0;

	while ((got = virtq_pop(&d->vq[q], d->mem, &b->chain, &why)) == 1) {
		uint32_t written;
		int	 st = blk_request(b, &written, &why);
		uint8_t	 status;

		if (st == -1) {
			virtio_violation(d, why);
			return;
		}
		if (st != BLK_S_OK)
			b->errors++;
		status = (uint8_t)st;
		virtq_chain_write(d->mem, &b->chain, b->chain.writable_bytes - 1,
		    &status, 1);
		if (virtio_used(d, q, b->chain.head, written + 1) == -1)
			return;
		done++;
	}
	virtio_queue_done(d, got, why, done);
}

struct virtio_dev *
dev_blk_new(const struct dev_env *env, int fd, bool writable, unsigned index,
    char *err, size_t errlen)
{
	struct blk	*b;
	struct stat	 sb;
	uint32_t	 seg_max = BLK_SEG_MAX, size_max = 1u << 20;

	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "disk %u: %s", index, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
		snprintf(err, errlen, "disk %u: not a file", index);
		return NULL;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->fd = fd;
	b->writable = writable;
	b->index = index;
	b->sectors = (uint64_t)sb.st_size / BLK_SECTOR;
	b->ops = (struct virtio_ops){
		.name = writable ? "virtio-blk-rw" : "virtio-blk-ro",
		.device_id = VIRTIO_ID_BLOCK,
		.features = (1ULL << BLK_F_SEG_MAX) | (1ULL << 1) /* SIZE_MAX */ |
		    (writable ? (1ULL << BLK_F_FLUSH) : (1ULL << BLK_F_RO)),
		.nqueues = 1,
		.notify = blk_notify,
	};
	if (virtio_dev_init(&b->dev, &b->ops, b, env->mem, env->loop,
	    env->vm_fd, env->base, env->irq) == -1) {
		snprintf(err, errlen, "virtio-blk: %s", strerror(errno));
		free(b);
		return NULL;
	}
	memcpy(b->dev.config, &b->sectors, 8);		/* capacity */
	memcpy(b->dev.config + 8, &size_max, 4);	/* size_max */
	memcpy(b->dev.config + 12, &seg_max, 4);	/* seg_max */
	b->dev.config_len = 16;
	return &b->dev;
}
