/*
 * dev_fs.c: virtio-fs (device ID 26): the workspace, served by capsem-fsd.
 *
 * Two queues: hiprio (0, FORGET) and one request queue (1).  Every chain is
 * checked before a byte moves: the device-readable part is one FUSE request
 * (fuse_in_header.len equal to its size, at most MSG_FS_REQUEST_MAX), the
 * device-writable part holds the reply (a fuse_out_header at least) unless
 * the request takes none (FORGET, BATCH_FORGET).  The request is copied out
 * and handed to capsem-fsd (fs_host.send); this device never touches a
 * file.  Up to FS_INFLIGHT chains wait for their replies, each under a tag
 * (slot + generation) so a reply to a chain from before a device reset is
 * dropped; when all slots are taken the rest stay in the ring until a reply
 * frees one.  A reply that does not fit its chain, or fsd's word that a
 * request was malformed, marks the device NEEDS_RESET.
 */
#include <linux/fuse.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "log.h"

#define FS_VQ_HIPRIO	0
#define FS_VQ_REQUEST	1
#define FS_NQUEUES	2
#define FS_TAG_LEN	36		/* virtio 1.2, 5.11.4: config tag[36] */

struct fs_slot {
	bool		 used;
	uint16_t	 gen;
	unsigned	 q;
	struct virtq_chain chain;
};

struct fs {
	struct virtio_dev dev;
	struct fs_host	 host;
	struct virtq_chain chain;		/* the one being popped */
	struct fs_slot	 slot[FS_INFLIGHT];
	unsigned	 inflight;
	uint16_t	 gen;
	uint8_t		 req[MSG_FS_REQUEST_MAX];
	uint64_t	 requests, replies, dropped;
};

/* Requests the server never answers (FUSE: no reply is sent for them). */
static bool
fs_no_reply(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET ||
	    opcode == FUSE_INTERRUPT;
}

static int
fs_free_slot(const struct fs *f)
{
	unsigned i;

	for (i = 0; i < FS_INFLIGHT; i++)
		if (!f->slot[i].used)
			return (int)i;
	return -1;
}

/*
 * One chain: check it, send it, park it.  1 if it was completed at once
 * (no reply), 0 if parked, -1 for a violation (*why).
 */
static int
fs_request(struct fs *f, unsigned q, const char **why)
{
	const struct virtq_chain *ch = &f->chain;
	struct virtio_dev *d = &f->dev;
	struct fuse_in_header in;
	struct msg_fs_request mr;
	struct fs_slot	*s;
	int		 i;

	if (ch->readable_bytes < sizeof(in)) {
		*why = "fs request shorter than its header";
		return -1;
	}
	if (ch->readable_bytes > MSG_FS_REQUEST_MAX) {
		*why = "fs request larger than the device's bound";
		return -1;
	}
	virtq_chain_read(d->mem, ch, 0, &in, sizeof(in));
	if (in.len != ch->readable_bytes) {
		*why = "fs request length differs from its buffers";
		return -1;
	}
	if (fs_no_reply(in.opcode)) {
		/* INTERRUPT is never sent by virtio-fs drivers: not forwarded */
		if (in.opcode != FUSE_INTERRUPT) {
			virtq_chain_read(d->mem, ch, 0, f->req, in.len);
			memset(&mr, 0, sizeof(mr));
			if (f->host.send(f->host.arg, 0, &mr, f->req,
			    in.len) == -1)
				return 1;	/* the vmm ends: fsd is gone */
			f->requests++;
		}
		return 1;
	}
	if (ch->writable_bytes < sizeof(struct fuse_out_header)) {
		*why = "fs request without room for a reply header";
		return -1;
	}
	if ((i = fs_free_slot(f)) == -1) {
		*why = "fs: no free slot";	/* not reached: callers check */
		return -1;
	}
	s = &f->slot[i];
	virtq_chain_read(d->mem, ch, 0, f->req, in.len);
	memset(&mr, 0, sizeof(mr));
	mr.out_max = ch->writable_bytes < MSG_FS_REPLY_MAX ?
	    (uint32_t)ch->writable_bytes : MSG_FS_REPLY_MAX;
	s->used = true;
	s->gen = f->gen;
	s->q = q;
	s->chain = *ch;
	f->inflight++;
	f->requests++;
	if (f->host.send(f->host.arg, ((uint32_t)s->gen << 16) | (uint32_t)i,
	    &mr, f->req, in.len) == -1) {
		s->used = false;
		f->inflight--;
	}
	return 0;
}

/* Device mutex held: take what the queue has while slots are free. */
static void
fs_drain(struct fs *f, unsigned q)
{
	struct virtio_dev *d = &f->dev;
	const char	*why = NULL;
	int		 got = 0, done = 0, r;

	if (!virtio_live(d))
		return;
	while (f->inflight < FS_INFLIGHT &&
	    (got = virtq_pop(&d->vq[q], d->mem, &f->chain, &why)) == 1) {
		if ((r = fs_request(f, q, &why)) == -1) {
			virtio_violation(d, why);
			return;
		}
		if (r == 1) {
			if (virtio_used(d, q, f->chain.head, 0) == -1)
				return;
			done++;
		}
	}
	virtio_queue_done(d, got == 1 ? 0 : got, why, done);
}

static void
fs_notify(struct virtio_dev *d, unsigned q)
{
	fs_drain(d->impl, q);
}

static void
fs_reset(struct virtio_dev *d)
{
	struct fs	*f = d->impl;
	unsigned	 i;

	for (i = 0; i < FS_INFLIGHT; i++)
		f->slot[i].used = false;
	f->inflight = 0;
	f->gen++;			/* replies to what was parked are dropped */
}

/* The slot a tag names, or NULL if it is stale (or was never ours). */
static struct fs_slot *
fs_slot_of(struct fs *f, uint32_t tag)
{
	unsigned	 i = tag & 0xffff;
	struct fs_slot	*s;

	if (i >= FS_INFLIGHT)
		return NULL;
	s = &f->slot[i];
	if (!s->used || s->gen != (uint16_t)(tag >> 16))
		return NULL;
	return s;
}

void
dev_fs_reply(struct virtio_dev *d, uint32_t tag, const void *data, size_t len)
{
	struct fs	*f = d->impl;
	struct fs_slot	*s;
	struct fuse_out_header out;

	pthread_mutex_lock(&d->mu);
	if ((s = fs_slot_of(f, tag)) == NULL || !virtio_live(d)) {
		f->dropped++;
		pthread_mutex_unlock(&d->mu);
		return;
	}
	s->used = false;
	f->inflight--;
	if (len < sizeof(out) || len > s->chain.writable_bytes) {
		virtio_violation(d, "fsd reply does not fit the guest's buffers");
		pthread_mutex_unlock(&d->mu);
		return;
	}
	memcpy(&out, data, sizeof(out));
	if (out.len != len) {
		virtio_violation(d, "fsd reply length differs from its header");
		pthread_mutex_unlock(&d->mu);
		return;
	}
	virtq_chain_write(d->mem, &s->chain, 0, data, len);
	f->replies++;
	if (virtio_used(d, s->q, s->chain.head, (uint32_t)len) == 0) {
		virtio_interrupt(d, VIRTIO_INT_USED);
		/* a slot is free: what waits in the rings may go now */
		fs_drain(f, FS_VQ_HIPRIO);
		fs_drain(f, FS_VQ_REQUEST);
	}
	pthread_mutex_unlock(&d->mu);
}

void
dev_fs_violation(struct virtio_dev *d, uint32_t tag, const char *why)
{
	struct fs	*f = d->impl;

	pthread_mutex_lock(&d->mu);
	if (fs_slot_of(f, tag) != NULL)
		virtio_violation(d, why);
	else
		f->dropped++;
	pthread_mutex_unlock(&d->mu);
}

void
dev_fs_counters(struct virtio_dev *d, uint64_t *requests, uint64_t *replies)
{
	struct fs *f = d->impl;

	pthread_mutex_lock(&d->mu);
	*requests = f->requests;
	*replies = f->replies;
	pthread_mutex_unlock(&d->mu);
}

struct virtio_dev *
dev_fs_new(const struct dev_env *env, const struct fs_host *host, char *err,
    size_t errlen)
{
	static const struct virtio_ops fs_ops = {
		.name = "virtio-fs",
		.device_id = VIRTIO_ID_FS,
		.features = 0,
		.nqueues = FS_NQUEUES,
		.notify = fs_notify,
		.reset = fs_reset,
	};
	struct fs	*f;
	uint32_t	 nreq = FS_NQUEUES - 1;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->host = *host;
	if (virtio_dev_init(&f->dev, &fs_ops, f, env->mem, env->loop,
	    env->vm_fd, env->base, env->irq) == -1) {
		snprintf(err, errlen, "virtio-fs: %s", strerror(errno));
		free(f);
		return NULL;
	}
	memset(f->dev.config, 0, FS_TAG_LEN);
	memcpy(f->dev.config, MSG_FS_TAG, strlen(MSG_FS_TAG));
	memcpy(f->dev.config + FS_TAG_LEN, &nreq, 4);	/* num_request_queues */
	f->dev.config_len = FS_TAG_LEN + 4;
	return &f->dev;
}
