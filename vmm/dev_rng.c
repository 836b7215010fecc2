/*
 * dev_rng.c: virtio-rng.  One queue of device-writable buffers, filled
 * from getrandom(2).
 */
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "log.h"

#define RNG_REQUEST_MAX	4096	/* bytes per request at most */

struct rng {
	struct virtio_dev dev;
	struct virtq_chain chain;
	uint64_t	 bytes;
};

static void
rng_notify(struct virtio_dev *d, unsigned q)
{
	struct rng	*r = d->impl;
	uint8_t		 buf[RNG_REQUEST_MAX];
	const char	*why = NULL;
	int		 got, done = 0;

	while ((got = virtq_pop(&d->vq[q], d->mem, &r->chain, &why)) == 1) {
		size_t	 want = r->chain.writable_bytes < sizeof(buf) ?
		    (size_t)r->chain.writable_bytes : sizeof(buf);
		ssize_t	 n;

		if (r->chain.nreadable != 0) {
			virtio_violation(d, "rng request with a readable buffer");
			return;
		}
		do
			n = getrandom(buf, want, 0);
		while (n == -1 && errno == EINTR);
		if (n < 0)
			n = 0;
		n = (ssize_t)virtq_chain_write(d->mem, &r->chain, 0, buf,
		    (size_t)n);
		explicit_bzero(buf, sizeof(buf));
		r->bytes += (uint64_t)n;
		if (virtio_used(d, q, r->chain.head, (uint32_t)n) == -1)
			return;
		done++;
	}
	virtio_queue_done(d, got, why, done);
}

static const struct virtio_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.features = 0,
	.nqueues = 1,
	.notify = rng_notify,
};

struct virtio_dev *
dev_rng_new(const struct dev_env *env, char *err, size_t errlen)
{
	struct rng	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (virtio_dev_init(&r->dev, &rng_ops, r, env->mem, env->loop,
	    env->vm_fd, env->base, env->irq) == -1) {
		snprintf(err, errlen, "virtio-rng: %s", strerror(errno));
		free(r);
		return NULL;
	}
	return &r->dev;
}
