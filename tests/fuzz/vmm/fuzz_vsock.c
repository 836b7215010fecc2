/*
 * fuzz_vsock: the virtio-vsock device as a hostile guest drives it.  The
 * input is guest memory holding the transmit and receive rings and the
 * packets; the device is reset and brought up through its MMIO
 * registers, then both queues are kicked.  Proxied connections get real
 * socketpairs (the "netproxy" end is closed at once).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "event.h"
#include "guestmem.h"
#include "log.h"
#include "virtio.h"
#include "vsock_pkt.h"

#define MEM_SIZE	(64 * 1024)
#define QNUM		16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
stream_new(void *arg, uint32_t port, int fd)
{
	(void)arg;
	(void)port;
	close(fd);
	return 0;
}

static void
control_line(void *arg, const char *line)
{
	(void)arg;
	(void)line;
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
	static const struct vsock_host host = { stream_new, control_line, NULL };
	struct dev_env	 env;
	char		 err[128];
	unsigned	 q;
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
		if ((dev = dev_vsock_new(&env, &host, err, sizeof(err))) == NULL)
			abort();
	}
	memset(mem, 0, MEM_SIZE);
	memcpy(mem, data, size < MEM_SIZE ? size : MEM_SIZE);

	mmio_write(dev, 0x70, 0);		/* reset: frees connections */
	mmio_write(dev, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write(dev, 0x24, 1);
	mmio_write(dev, 0x20, ver1);
	mmio_write(dev, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK);
	for (q = 0; q < 3; q++) {
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
	virtio_kick(dev, 1);		/* transmit: the guest's packets */
	virtio_kick(dev, 0);		/* receive: our answers */
	return 0;
}
