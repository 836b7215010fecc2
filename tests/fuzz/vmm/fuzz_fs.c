/*
 * fuzz_fs: the virtio-fs device (dev_fs.c) as a hostile guest drives it.
 * The input is guest memory holding the hiprio and request rings and the
 * requests; the device is reset and brought up through its MMIO
 * registers, then both queues are kicked.  capsem-fsd is played by the
 * harness: each request it is sent is answered afterwards (outside the
 * device's lock, as fsd's replies arrive on the I/O thread) with a reply
 * that fits, one too long for the chain, one whose header lies about its
 * length, a violation, or a reply under a stale tag, chosen by the
 * request's unique.
 */
#include <linux/fuse.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "event.h"
#include "guestmem.h"
#include "log.h"
#include "msg.h"
#include "virtio.h"

#define MEM_SIZE	(64 * 1024)
#define QNUM		16
#define SENT_MAX	(FS_INFLIGHT * 4)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sent {
	uint32_t	 tag;
	uint32_t	 out_max;
	uint64_t	 unique;
};

static struct sent	 sent[SENT_MAX];
static unsigned		 nsent;
static uint8_t		 reply[MSG_FS_REPLY_MAX + 16];

static int
fs_send(void *arg, uint32_t tag, const struct msg_fs_request *mr,
    const void *req, size_t len)
{
	struct fuse_in_header h;

	(void)arg;
	if (len < sizeof(h) || len > MSG_FS_REQUEST_MAX)
		abort();		/* the device promised a whole request */
	memcpy(&h, req, sizeof(h));
	if (h.len != len)
		abort();
	if (h.opcode == FUSE_FORGET || h.opcode == FUSE_BATCH_FORGET) {
		if (tag != 0 || mr->out_max != 0)
			abort();
		return 0;		/* no reply */
	}
	if (mr->out_max > MSG_FS_REPLY_MAX)
		abort();
	if (h.unique % 11 == 10)
		return -1;		/* fsd is gone */
	if (nsent < SENT_MAX) {
		sent[nsent].tag = tag;
		sent[nsent].out_max = mr->out_max;
		sent[nsent].unique = h.unique;
		nsent++;
	}
	return 0;
}

static void
answer(struct virtio_dev *d, const struct sent *s)
{
	struct fuse_out_header oh;
	size_t	 len;

	memset(&oh, 0, sizeof(oh));
	oh.unique = s->unique;
	switch (s->unique % 6) {
	case 0:			/* an error: the header alone */
		len = sizeof(oh);
		oh.error = -ENOSYS;
		break;
	case 1:			/* as large as the chain holds */
		len = s->out_max < sizeof(oh) ? sizeof(oh) : s->out_max;
		break;
	case 2:			/* one byte too many */
		len = (size_t)s->out_max + 1;
		break;
	case 3:			/* a header that lies */
		len = sizeof(oh) + 8;
		oh.len = (uint32_t)len + 1;
		break;
	case 4:
		dev_fs_violation(d, s->tag, "fuzz: malformed");
		return;
	default:		/* a stale tag, then the real one */
		len = sizeof(oh);
		oh.len = (uint32_t)len;
		memcpy(reply, &oh, sizeof(oh));
		dev_fs_reply(d, s->tag ^ 0x10000, reply, len);
		break;
	}
	if (len > sizeof(reply))
		len = sizeof(reply);
	if (oh.len == 0)
		oh.len = (uint32_t)len;
	memset(reply, 0xa5, len);
	memcpy(reply, &oh, sizeof(oh));
	dev_fs_reply(d, s->tag, reply, len);
}

static void
mmio_write(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_access(d, off, true, (uint8_t *)&v, 4);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	*mem;
	static struct guestmem gm;
	static struct event_loop *loop;
	static struct virtio_dev *dev;
	static const struct fs_host host = { fs_send, NULL };
	struct sent	 batch[SENT_MAX];
	struct dev_env	 env;
	char		 err[128];
	unsigned	 q, i, n = 0, rounds;
	uint32_t	 ver1 = 1;

	if (dev == NULL) {
		log_init(1, -1);
		if ((mem = calloc(1, MEM_SIZE)) == NULL ||
		    (loop = event_loop_new()) == NULL)
			abort();
		guestmem_init_flat(&gm, mem, 0, MEM_SIZE);
		memset(&env, 0, sizeof(env));
		env.mem = &gm;
		env.loop = loop;
		env.vm_fd = -1;
		env.base = VIRTIO_MMIO_BASE;
		env.irq = 5;
		if ((dev = dev_fs_new(&env, &host, err, sizeof(err))) == NULL)
			abort();
	}
	memset(mem, 0, MEM_SIZE);
	memcpy(mem, data, size < MEM_SIZE ? size : MEM_SIZE);
	nsent = 0;

	mmio_write(dev, 0x70, 0);		/* reset: parked chains dropped */
	mmio_write(dev, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write(dev, 0x24, 1);
	mmio_write(dev, 0x20, ver1);
	mmio_write(dev, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK);
	for (q = 0; q < 2; q++) {
		uint64_t base = (uint64_t)q * 0x200;	/* see make_seeds.py */

		mmio_write(dev, 0x30, q);
		mmio_write(dev, 0x38, QNUM);
		mmio_write(dev, 0x80, (uint32_t)base);
		mmio_write(dev, 0x90, (uint32_t)(base + 0x100));
		mmio_write(dev, 0xa0, (uint32_t)(base + 0x140));
		mmio_write(dev, 0x44, 1);
	}
	mmio_write(dev, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	virtio_kick(dev, 0);		/* hiprio: FORGETs */
	virtio_kick(dev, 1);		/* requests */
	/* fsd's answers; each may let more of the ring go */
	for (rounds = 0; rounds < 8 && nsent > 0; rounds++) {
		n = nsent;
		memcpy(batch, sent, n * sizeof(batch[0]));
		nsent = 0;
		for (i = 0; i < n; i++)
			answer(dev, &batch[i]);
	}
	/* a reply after a reset belongs to nothing */
	if (n > 0) {
		mmio_write(dev, 0x70, 0);
		answer(dev, &batch[0]);
	}
	return 0;
}
