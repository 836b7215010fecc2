/*
 * Unit tests of the vmm parts that need no KVM: the virtqueue walk and its
 * validation, the virtio-mmio register file, virtio-blk requests against
 * a real image file, the vsock packet checks, kernel image parsing and the
 * boot tables (e820, MP table).
 */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "event.h"
#include "guestmem.h"
#include "log.h"
#include "virtio.h"
#include "virtq.h"
#include "vsock_pkt.h"
#include "x86/boot.h"

#define MEM_SIZE	(1024 * 1024)
#define DESC		0x1000ULL
#define AVAIL		0x2000ULL
#define USED		0x3000ULL

static uint8_t		*mem;
static struct guestmem	 gm;

static void
setup(void)
{
	mem = calloc(1, MEM_SIZE);
	ck_assert_ptr_nonnull(mem);
	guestmem_init_flat(&gm, mem, 0, MEM_SIZE);
}

static void
teardown(void)
{
	free(mem);
}

static void
desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	memcpy(mem + DESC + 16 * i, &addr, 8);
	memcpy(mem + DESC + 16 * i + 8, &len, 4);
	memcpy(mem + DESC + 16 * i + 12, &flags, 2);
	memcpy(mem + DESC + 16 * i + 14, &next, 2);
}

static void
avail(uint16_t idx, uint16_t slot, uint16_t head)
{
	memcpy(mem + AVAIL + 2, &idx, 2);
	memcpy(mem + AVAIL + 4 + 2 * slot, &head, 2);
}

static void
queue(struct virtq *vq, uint16_t num)
{
	const char *why;

	virtq_reset(vq);
	vq->num = num;
	vq->desc_gpa = DESC;
	vq->avail_gpa = AVAIL;
	vq->used_gpa = USED;
	ck_assert_int_eq(virtq_check_layout(vq, &gm, &why), 0);
	vq->ready = true;
}

START_TEST(virtq_valid_chain)
{
	struct virtq vq;
	struct virtq_chain ch;
	const char *why = NULL;
	uint16_t used_idx;
	uint32_t used[2];
	char out[8];

	queue(&vq, 8);
	desc(0, 0x10000, 5, VIRTQ_DESC_F_NEXT, 3);
	desc(3, 0x11000, 100, VIRTQ_DESC_F_WRITE, 0);
	memcpy(mem + 0x10000, "hello", 5);
	avail(1, 0, 0);
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), 1);
	ck_assert_uint_eq(ch.n, 2);
	ck_assert_uint_eq(ch.nreadable, 1);
	ck_assert_uint_eq(ch.readable_bytes, 5);
	ck_assert_uint_eq(ch.writable_bytes, 100);
	ck_assert_uint_eq(virtq_chain_read(&gm, &ch, 0, out, sizeof(out)), 5);
	ck_assert_int_eq(memcmp(out, "hello", 5), 0);
	ck_assert_uint_eq(virtq_chain_write(&gm, &ch, 98, "xyz", 3), 2);
	ck_assert_int_eq(virtq_push(&vq, &gm, ch.head, 7), 0);
	memcpy(&used_idx, mem + USED + 2, 2);
	memcpy(used, mem + USED + 4, 8);
	ck_assert_uint_eq(used_idx, 1);
	ck_assert_uint_eq(used[0], 0);
	ck_assert_uint_eq(used[1], 7);
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), 0);
}
END_TEST

START_TEST(virtq_rejects_loop)
{
	struct virtq vq;
	struct virtq_chain ch;
	const char *why = NULL;

	queue(&vq, 4);
	desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x10000, 16, VIRTQ_DESC_F_NEXT, 0);
	avail(1, 0, 0);
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "loop"));
}
END_TEST

START_TEST(virtq_rejects_outside_memory)
{
	struct virtq vq;
	struct virtq_chain ch;
	const char *why = NULL;

	queue(&vq, 4);
	desc(0, MEM_SIZE - 8, 16, 0, 0);
	avail(1, 0, 0);
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "outside"));
	/* an address that wraps around 2^64 */
	queue(&vq, 4);
	desc(0, UINT64_MAX - 4, 16, 0, 0);
	avail(1, 0, 0);
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), -1);
}
END_TEST

START_TEST(virtq_rejects_bad_order_and_indices)
{
	struct virtq vq;
	struct virtq_chain ch;
	const char *why = NULL;

	queue(&vq, 4);
	desc(0, 0x10000, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x11000, 16, 0, 0);
	avail(1, 0, 0);
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "readable buffer after"));

	queue(&vq, 4);
	avail(1, 0, 9);			/* head out of range */
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), -1);

	queue(&vq, 4);
	desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 7);	/* next out of range */
	avail(1, 0, 0);
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), -1);

	queue(&vq, 4);
	desc(0, 0x10000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail(1, 0, 0);
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "indirect"));

	queue(&vq, 4);
	avail(9, 0, 0);			/* more entries than the queue holds */
	ck_assert_int_eq(virtq_pop(&vq, &gm, &ch, &why), -1);
}
END_TEST

START_TEST(virtq_layout_checks)
{
	struct virtq vq;
	const char *why;

	virtq_reset(&vq);
	vq.num = 6;			/* not a power of two */
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	ck_assert_int_eq(virtq_check_layout(&vq, &gm, &why), -1);
	vq.num = 8;
	vq.used_gpa = MEM_SIZE - 16;	/* used ring runs past the end */
	ck_assert_int_eq(virtq_check_layout(&vq, &gm, &why), -1);
}
END_TEST

/* --- virtio-mmio + virtio-blk ------------------------------------------ */

static uint32_t
mmio_read(struct virtio_dev *d, uint64_t off)
{
	uint32_t v = 0;

	virtio_mmio_access(d, off, false, (uint8_t *)&v, 4);
	return v;
}

static void
mmio_write(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_access(d, off, true, (uint8_t *)&v, 4);
}

static void
bring_up_queue(struct virtio_dev *d, uint32_t q)
{
	mmio_write(d, 0x70, 0);
	mmio_write(d, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write(d, 0x24, 1);
	mmio_write(d, 0x20, 1);		/* VERSION_1 */
	mmio_write(d, 0x70, 1 | 2 | VIRTIO_STATUS_FEATURES_OK);
	ck_assert_uint_eq(mmio_read(d, 0x70) & VIRTIO_STATUS_FEATURES_OK,
	    VIRTIO_STATUS_FEATURES_OK);
	mmio_write(d, 0x30, q);
	ck_assert_uint_eq(mmio_read(d, 0x34), VIRTQ_MAX_SIZE);
	mmio_write(d, 0x38, 8);
	mmio_write(d, 0x80, (uint32_t)DESC);
	mmio_write(d, 0x90, (uint32_t)AVAIL);
	mmio_write(d, 0xa0, (uint32_t)USED);
	mmio_write(d, 0x44, 1);
	mmio_write(d, 0x70, 1 | 2 | 8 | VIRTIO_STATUS_DRIVER_OK);
}

static void
bring_up(struct virtio_dev *d)
{
	bring_up_queue(d, 0);
}

/* The device environment of these tests: flat memory, no VM, one IRQ. */
static void
test_env(struct dev_env *env, struct event_loop *loop)
{
	memset(env, 0, sizeof(*env));
	env->mem = &gm;
	env->loop = loop;
	env->vm_fd = -1;
	env->base = VIRTIO_MMIO_BASE;
	env->irq = 5;
}

static struct virtio_dev *
make_blk(int *fdp, bool writable)
{
	struct dev_env	 env;
	char		 path[] = "/tmp/capsem-blk-XXXXXX", err[128];
	uint8_t		 sector[512];
	struct virtio_dev *d;
	int		 fd, i;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	unlink(path);
	for (i = 0; i < 8; i++) {
		memset(sector, 'a' + i, sizeof(sector));
		ck_assert_int_eq(write(fd, sector, sizeof(sector)), 512);
	}
	test_env(&env, NULL);
	d = dev_blk_new(&env, fd, writable, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(d);
	*fdp = fd;
	return d;
}

/* A request: header at 0x10000, data at 0x11000, status at 0x12000. */
static void
blk_req(uint32_t type, uint64_t sector, uint32_t datalen, bool data_write,
    uint16_t idx)
{
	uint8_t hdr[16] = { 0 };

	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	memcpy(mem + 0x10000, hdr, 16);
	mem[0x12000] = 0xff;
	desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x11000, datalen, VIRTQ_DESC_F_NEXT |
	    (data_write ? VIRTQ_DESC_F_WRITE : 0), 2);
	desc(2, 0x12000, 1, VIRTQ_DESC_F_WRITE, 0);
	avail(idx, (uint16_t)((idx - 1) % 8), 0);
}

START_TEST(mmio_identity)
{
	int fd;
	struct virtio_dev *d = make_blk(&fd, false);

	ck_assert_uint_eq(mmio_read(d, 0x000), 0x74726976);
	ck_assert_uint_eq(mmio_read(d, 0x004), 2);
	ck_assert_uint_eq(mmio_read(d, 0x008), VIRTIO_ID_BLOCK);
	mmio_write(d, 0x14, 1);
	ck_assert_uint_eq(mmio_read(d, 0x10) & 1, 1);	/* VERSION_1 */
	/* capacity in config space */
	ck_assert_uint_eq(mmio_read(d, 0x100), 8);
	/* features we did not offer make FEATURES_OK fail */
	mmio_write(d, 0x70, 3);
	mmio_write(d, 0x24, 0);
	mmio_write(d, 0x20, 1u << 28);
	mmio_write(d, 0x70, 3 | VIRTIO_STATUS_FEATURES_OK);
	ck_assert_uint_eq(mmio_read(d, 0x70) & VIRTIO_STATUS_FEATURES_OK, 0);
	close(fd);
	free(d->impl);		/* the device struct starts the blk state */
}
END_TEST

/* The completion every device shares: used element, used idx, interrupt. */
START_TEST(virtio_used_and_queue_done)
{
	int fd;
	uint16_t used_idx;
	uint32_t elem[2];
	struct virtio_dev *d = make_blk(&fd, false);

	bring_up(d);
	d->int_status = 0;
	ck_assert_int_eq(virtio_used(d, 0, 3, 77), 0);
	memcpy(&used_idx, mem + USED + 2, 2);
	memcpy(elem, mem + USED + 4, sizeof(elem));
	ck_assert_uint_eq(used_idx, 1);
	ck_assert_uint_eq(elem[0], 3);
	ck_assert_uint_eq(elem[1], 77);
	virtio_queue_done(d, 0, NULL, 0);
	ck_assert_uint_eq(d->int_status, 0);
	virtio_queue_done(d, 0, NULL, 1);
	ck_assert_uint_eq(d->int_status & VIRTIO_INT_USED, VIRTIO_INT_USED);
	ck_assert(!d->broken);
	virtio_queue_done(d, -1, "test violation", 0);
	ck_assert(d->broken);
	ck_assert_uint_eq(d->violations, 1);

	d->broken = false;
	d->vq[0].used_gpa = MEM_SIZE;	/* past the end: the push fails */
	ck_assert_int_eq(virtio_used(d, 0, 3, 77), -1);
	ck_assert(d->broken);
	ck_assert_uint_eq(d->violations, 2);
	close(fd);
	free(d->impl);
}
END_TEST

START_TEST(blk_read_and_bounds)
{
	int fd;
	struct virtio_dev *d = make_blk(&fd, false);

	bring_up(d);
	blk_req(0, 2, 1024, true, 1);		/* sectors 2-3 */
	virtio_kick(d, 0);
	ck_assert_uint_eq(mem[0x12000], 0);
	ck_assert_uint_eq(mem[0x11000], 'c');
	ck_assert_uint_eq(mem[0x11000 + 1023], 'd');

	blk_req(0, 7, 1024, true, 2);		/* runs past the end */
	virtio_kick(d, 0);
	ck_assert_uint_eq(mem[0x12000], 1);	/* IOERR */

	blk_req(1, 0, 512, false, 3);		/* write to a read-only disk */
	virtio_kick(d, 0);
	ck_assert_uint_eq(mem[0x12000], 1);
	ck_assert_uint_eq(mmio_read(d, 0x70) & VIRTIO_STATUS_NEEDS_RESET, 0);

	/* a read whose data buffer is device-readable breaks the device */
	blk_req(0, 0, 512, false, 4);
	virtio_kick(d, 0);
	ck_assert_uint_eq(mmio_read(d, 0x70) & VIRTIO_STATUS_NEEDS_RESET,
	    VIRTIO_STATUS_NEEDS_RESET);
	ck_assert_uint_eq(mmio_read(d, 0x60) & VIRTIO_INT_CONFIG, VIRTIO_INT_CONFIG);
	/* and a reset brings it back */
	memset(mem + USED, 0, 0x100);
	bring_up(d);
	ck_assert_uint_eq(mmio_read(d, 0x70) & VIRTIO_STATUS_NEEDS_RESET, 0);
	close(fd);
	free(d->impl);		/* the device struct starts the blk state */
}
END_TEST

START_TEST(blk_write_writable)
{
	int fd;
	struct virtio_dev *d = make_blk(&fd, true);
	uint8_t back[512];

	bring_up(d);
	memset(mem + 0x11000, 'Z', 512);
	blk_req(1, 5, 512, false, 1);
	virtio_kick(d, 0);
	ck_assert_uint_eq(mem[0x12000], 0);
	ck_assert_int_eq(pread(fd, back, 512, 5 * 512), 512);
	ck_assert_uint_eq(back[0], 'Z');
	ck_assert_uint_eq(back[511], 'Z');
	close(fd);
	free(d->impl);		/* the device struct starts the blk state */
}
END_TEST

/* --- virtio-console ---------------------------------------------------- */

static uint16_t
used_idx_of(void)
{
	uint16_t idx;

	memcpy(&idx, mem + USED + 2, 2);
	return idx;
}

/*
 * A reader slower than the guest (a pipe of one page, drained by hand):
 * a transmit chain that does not fit the device's buffer is held, not
 * used, until there is room; every byte arrives, in order.
 */
START_TEST(console_slow_reader_loses_nothing)
{
	enum { NCHAIN = 3, CHAIN = 40000 };
	struct event_loop *loop = event_loop_new();
	struct dev_env	 env;
	struct virtio_dev *d;
	char		 err[128];
	uint8_t		 got[NCHAIN * CHAIN], *pat = mem + 0x20000;
	size_t		 have = 0;
	int		 p[2], i, rounds = 0;

	ck_assert_ptr_nonnull(loop);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_gt(fcntl(p[1], F_SETPIPE_SZ, 4096), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	test_env(&env, loop);
	d = dev_console_new(&env, -1, p[1], 24, 80, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	bring_up_queue(d, 1);		/* the transmit queue */
	for (i = 0; i < NCHAIN * CHAIN; i++)
		pat[i] = (uint8_t)(i % 251);
	for (i = 0; i < NCHAIN; i++) {
		desc((unsigned)i, 0x20000 + (uint64_t)i * CHAIN, CHAIN, 0, 0);
		avail((uint16_t)(i + 1), (uint16_t)i, (uint16_t)i);
	}
	virtio_kick(d, 1);
	/* 64 KiB buffered at most: the second chain waits, the third too */
	ck_assert_uint_eq(used_idx_of(), 1);
	ck_assert_uint_eq(mmio_read(d, 0x70) & VIRTIO_STATUS_NEEDS_RESET, 0);
	while (have < sizeof(got) && rounds++ < 1000) {
		ssize_t n = read(p[0], got + have, sizeof(got) - have);

		if (n > 0)
			have += (size_t)n;
		virtio_kick(d, 1);	/* what EV_WRITE on the pipe does */
	}
	ck_assert_uint_eq(have, sizeof(got));
	ck_assert_uint_eq(used_idx_of(), NCHAIN);
	ck_assert_int_eq(memcmp(got, pat, sizeof(got)), 0);
	close(p[0]);
	close(p[1]);
	free(d->impl);
	event_loop_free(loop);
}
END_TEST

/* --- vsock packets ------------------------------------------------------ */

START_TEST(vsock_checks)
{
	struct vsock_hdr h, back;
	uint8_t raw[VSOCK_HDR_SIZE];
	const char *why = NULL;

	memset(&h, 0, sizeof(h));
	h.src_cid = 3;
	h.dst_cid = 2;
	h.src_port = 7000;
	h.dst_port = 1443;
	h.type = VSOCK_TYPE_STREAM;
	h.op = VSOCK_OP_REQUEST;
	h.buf_alloc = 4096;
	vsock_hdr_encode(&h, raw);
	memset(&back, 0, sizeof(back));		/* padding compares too */
	vsock_hdr_decode(raw, &back);
	ck_assert_int_eq(memcmp(&h, &back, sizeof(h)), 0);
	ck_assert_int_eq(vsock_pkt_check(&h, 0, 3, 2, &why), VSOCK_PKT_OK);
	h.dst_cid = 1;
	ck_assert_int_eq(vsock_pkt_check(&h, 0, 3, 2, &why), VSOCK_PKT_RESET);
	h.dst_cid = 2;
	h.type = 2;
	ck_assert_int_eq(vsock_pkt_check(&h, 0, 3, 2, &why), VSOCK_PKT_RESET);
	h.type = 1;
	h.op = VSOCK_OP_RW;
	h.len = 100;
	ck_assert_int_eq(vsock_pkt_check(&h, 50, 3, 2, &why), VSOCK_PKT_BAD);
	ck_assert_int_eq(vsock_pkt_check(&h, 100, 3, 2, &why), VSOCK_PKT_OK);
	h.len = 70000;
	ck_assert_int_eq(vsock_pkt_check(&h, 70000, 3, 2, &why), VSOCK_PKT_BAD);
	h.len = 0;
	h.op = VSOCK_OP_RST;
	h.dst_cid = 9;
	ck_assert_int_eq(vsock_pkt_check(&h, 0, 3, 2, &why), VSOCK_PKT_IGNORE);
	h.op = VSOCK_OP_REQUEST;
	h.dst_cid = 2;
	h.src_cid = 4;		/* spoofed source */
	ck_assert_int_eq(vsock_pkt_check(&h, 0, 3, 2, &why), VSOCK_PKT_BAD);
}
END_TEST

/* --- vsock device ------------------------------------------------------ */

#define VQ_BASE(q)	(0x20000ULL + (q) * 0x2000ULL)	/* desc; avail +0x1000; used +0x1800 */
#define RXBUF		0x40000ULL
#define TXPKT		0x60000ULL

static int streams_made;

static int
count_stream(void *arg, uint32_t port, int fd)
{
	(void)arg;
	ck_assert_uint_eq(port, 1443);
	streams_made++;
	close(fd);
	return 0;
}

static void
ring_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint8_t *d = mem + VQ_BASE(q) + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memset(d + 14, 0, 2);
}

static void
ring_avail(unsigned q, uint16_t idx)
{
	uint16_t i;

	for (i = 0; i < idx; i++)
		memcpy(mem + VQ_BASE(q) + 0x1000 + 4 + 2 * i, &i, 2);
	memcpy(mem + VQ_BASE(q) + 0x1000 + 2, &idx, 2);
}

static void
tx_packet(unsigned i, uint64_t dst_cid, uint32_t src_port, uint32_t dst_port,
    uint16_t op)
{
	struct vsock_hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = 3;
	h.dst_cid = dst_cid;
	h.src_port = src_port;
	h.dst_port = dst_port;
	h.type = VSOCK_TYPE_STREAM;
	h.op = op;
	h.buf_alloc = 65536;
	vsock_hdr_encode(&h, mem + TXPKT + 64 * i);
	ring_desc(1, i, TXPKT + 64 * i, VSOCK_HDR_SIZE, 0);
}

/* Ops of the packets the device put in the receive queue, in order. */
static unsigned
rx_ops(uint16_t *ops, unsigned max, uint32_t *ports)
{
	uint16_t used, i;

	memcpy(&used, mem + VQ_BASE(0) + 0x1800 + 2, 2);
	for (i = 0; i < used && i < max; i++) {
		uint32_t id;
		struct vsock_hdr h;

		memcpy(&id, mem + VQ_BASE(0) + 0x1800 + 4 + 8 * i, 4);
		vsock_hdr_decode(mem + RXBUF + 0x100 * id, &h);
		ops[i] = h.op;
		ports[i] = h.src_port;
	}
	return used;
}

START_TEST(vsock_ports_and_limit)
{
	static const struct vsock_host host = { count_stream, NULL, NULL };
	struct dev_env	 env;
	struct virtio_dev *d;
	char		 err[128];
	uint16_t	 ops[128];
	uint32_t	 ports[128];
	unsigned	 q, i, n, responses = 0, resets = 0;

	memset(&env, 0, sizeof(env));
	env.mem = &gm;
	env.loop = event_loop_new();
	env.vm_fd = -1;
	env.base = VIRTIO_MMIO_BASE;
	env.irq = 5;
	ck_assert_ptr_nonnull(env.loop);
	d = dev_vsock_new(&env, &host, err, sizeof(err));
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(mmio_read(d, 0x008), VIRTIO_ID_VSOCK);
	ck_assert_uint_eq(mmio_read(d, 0x100), 3);	/* guest CID */

	mmio_write(d, 0x70, 3);
	mmio_write(d, 0x24, 1);
	mmio_write(d, 0x20, 1);
	mmio_write(d, 0x70, 3 | VIRTIO_STATUS_FEATURES_OK);
	for (q = 0; q < 3; q++) {
		mmio_write(d, 0x30, q);
		mmio_write(d, 0x38, 128);
		mmio_write(d, 0x80, (uint32_t)VQ_BASE(q));
		mmio_write(d, 0x90, (uint32_t)(VQ_BASE(q) + 0x1000));
		mmio_write(d, 0xa0, (uint32_t)(VQ_BASE(q) + 0x1800));
		mmio_write(d, 0x44, 1);
	}
	mmio_write(d, 0x70, 3 | 8 | VIRTIO_STATUS_DRIVER_OK);
	for (i = 0; i < 128; i++)
		ring_desc(0, i, RXBUF + 0x100 * i, 0x100, VIRTQ_DESC_F_WRITE);
	ring_avail(0, 128);

	/* 65 connections to 1443, then 4444, then CID 1 */
	for (i = 0; i < VSOCK_MAX_CONNS + 1; i++)
		tx_packet(i, 2, 10000 + i, 1443, VSOCK_OP_REQUEST);
	tx_packet(i++, 2, 20000, 4444, VSOCK_OP_REQUEST);
	tx_packet(i++, 1, 20001, 1443, VSOCK_OP_REQUEST);
	ring_avail(1, (uint16_t)i);
	virtio_kick(d, 1);

	n = rx_ops(ops, 128, ports);
	ck_assert_uint_eq(n, VSOCK_MAX_CONNS + 3);
	for (i = 0; i < n; i++) {
		if (ops[i] == VSOCK_OP_RESPONSE)
			responses++;
		else if (ops[i] == VSOCK_OP_RST)
			resets++;
	}
	ck_assert_uint_eq(responses, VSOCK_MAX_CONNS);
	ck_assert_uint_eq(resets, 3);
	ck_assert_int_eq(streams_made, VSOCK_MAX_CONNS);
	ck_assert_uint_eq(ops[n - 2], VSOCK_OP_RST);	/* 4444 */
	ck_assert_uint_eq(ports[n - 2], 4444);
	ck_assert_uint_eq(ops[n - 1], VSOCK_OP_RST);	/* CID 1 */
	ck_assert_uint_eq(mmio_read(d, 0x70) & VIRTIO_STATUS_NEEDS_RESET, 0);

	/* a packet claiming another source CID breaks the device */
	tx_packet(VSOCK_MAX_CONNS + 3, 2, 30000, 1443, VSOCK_OP_REQUEST);
	mem[TXPKT + 64 * (VSOCK_MAX_CONNS + 3)] = 7;	/* src_cid */
	ring_avail(1, VSOCK_MAX_CONNS + 4);
	virtio_kick(d, 1);
	ck_assert_uint_eq(mmio_read(d, 0x70) & VIRTIO_STATUS_NEEDS_RESET,
	    VIRTIO_STATUS_NEEDS_RESET);
	mmio_write(d, 0x70, 0);		/* reset closes every connection */
	free(d->impl);
	event_loop_free(env.loop);
}
END_TEST

/* --- boot ---------------------------------------------------------------- */

static void
fake_bzimage(uint8_t *img, size_t len)
{
	memset(img, 0, len);
	img[0x1f1] = 1;
	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	img[0x201] = 0x62;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f;
	img[0x207] = 0x02;
	img[0x211] = 1;
	img[0x236] = 1;
	img[0x238] = 0xff;		/* cmdline_size 255 */
	img[0x22c] = 0xff;
	img[0x22d] = 0xff;
	img[0x22e] = 0xff;
	img[0x22f] = 0x37;		/* initrd_addr_max 0x37ffffff */
	img[0x25a] = 0x20;		/* pref_address 0x200000 */
	img[0x262] = 0x01;		/* init_size 0x10000 */
}

START_TEST(bzimage_header)
{
	uint8_t img[4096];
	struct bzimage_info bz;
	struct boot_entry be;
	char err[128];
	uint32_t cmdptr;

	fake_bzimage(img, sizeof(img));
	ck_assert_int_eq(bzimage_parse(img, sizeof(img), &bz, err, sizeof(err)), 0);
	ck_assert_uint_eq(bz.setup_size, 1024);
	ck_assert_uint_eq(bz.kernel_size, sizeof(img) - 1024);
	ck_assert_uint_eq(bz.pref_address, 0x200000);
	ck_assert_uint_eq(bz.initrd_addr_max, 0x37ffffff);

	ck_assert_int_eq(boot_load(&gm, img, sizeof(img), NULL, 0, "x", &be,
	    err, sizeof(err)), -1);		/* 1 MiB is too small */

	img[0x206] = 0x0b;			/* protocol 2.11 */
	ck_assert_int_eq(bzimage_parse(img, sizeof(img), &bz, err, sizeof(err)), -1);
	fake_bzimage(img, sizeof(img));
	img[0x236] = 0;				/* no 64-bit entry */
	ck_assert_int_eq(bzimage_parse(img, sizeof(img), &bz, err, sizeof(err)), -1);
	fake_bzimage(img, sizeof(img));
	img[0x1f1] = 30;			/* setup past the end */
	ck_assert_int_eq(bzimage_parse(img, sizeof(img), &bz, err, sizeof(err)), -1);
	fake_bzimage(img, sizeof(img));
	ck_assert_int_eq(bzimage_parse(img, 0x200, &bz, err, sizeof(err)), -1);

	/* load into 32 MiB: boot_params, cmdline, entry */
	{
		uint8_t *big = calloc(1, 32 << 20);
		struct guestmem g2;

		guestmem_init_flat(&g2, big, 0, 32 << 20);
		fake_bzimage(img, sizeof(img));
		ck_assert_int_eq(boot_load(&g2, img, sizeof(img), NULL, 0,
		    "console=ttyS0", &be, err, sizeof(err)), 0);
		ck_assert_int_eq(be.kind, BOOT_BZIMAGE);
		ck_assert_uint_eq(be.rip, 0x200200);
		ck_assert_uint_eq(be.rsi, BOOT_PARAMS_ADDR);
		memcpy(&cmdptr, big + BOOT_PARAMS_ADDR + 0x228, 4);
		ck_assert_str_eq((char *)big + cmdptr, "console=ttyS0");
		ck_assert_uint_eq(big[BOOT_PARAMS_ADDR + 0x210], 0xff);
		ck_assert_uint_eq(big[BOOT_PARAMS_ADDR + 0x1e8], 3);	/* e820 */
		/* a command line over cmdline_size is refused */
		{
			char longcmd[400];

			memset(longcmd, 'a', sizeof(longcmd) - 1);
			longcmd[sizeof(longcmd) - 1] = '\0';
			ck_assert_int_eq(boot_load(&g2, img, sizeof(img), NULL, 0,
			    longcmd, &be, err, sizeof(err)), -1);
		}
		free(big);
	}
}
END_TEST

START_TEST(pvh_note)
{
	/* ELF64 header + PT_LOAD + PT_NOTE, note "Xen" type 18 */
	uint8_t	 img[512];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	struct pvh_info pvh;
	char err[128];

	memset(img, 0, sizeof(img));
	memcpy(img, "\177ELF", 4);
	img[4] = 2; img[5] = 1; img[6] = 1;
	u16 = 2; memcpy(img + 16, &u16, 2);
	u16 = 62; memcpy(img + 18, &u16, 2);
	u64 = 64; memcpy(img + 32, &u64, 8);		/* e_phoff */
	u16 = 56; memcpy(img + 54, &u16, 2);		/* e_phentsize */
	u16 = 2; memcpy(img + 56, &u16, 2);		/* e_phnum */
	/* PT_LOAD at file 256, paddr 16 MiB, 64 bytes, memsz 128 */
	u32 = 1; memcpy(img + 64, &u32, 4);
	u64 = 256; memcpy(img + 64 + 8, &u64, 8);
	u64 = 0x1000000; memcpy(img + 64 + 24, &u64, 8);
	u64 = 64; memcpy(img + 64 + 32, &u64, 8);
	u64 = 128; memcpy(img + 64 + 40, &u64, 8);
	/* PT_NOTE at file 400 */
	u32 = 4; memcpy(img + 120, &u32, 4);
	u64 = 400; memcpy(img + 120 + 8, &u64, 8);
	u64 = 20; memcpy(img + 120 + 32, &u64, 8);
	u32 = 4; memcpy(img + 400, &u32, 4);		/* namesz */
	u32 = 4; memcpy(img + 404, &u32, 4);		/* descsz */
	u32 = 18; memcpy(img + 408, &u32, 4);		/* type */
	memcpy(img + 412, "Xen", 4);
	u32 = 0x1000040; memcpy(img + 416, &u32, 4);
	ck_assert_int_eq(pvh_parse(img, sizeof(img), &pvh, err, sizeof(err)), 0);
	ck_assert_uint_eq(pvh.entry, 0x1000040);
	ck_assert_uint_eq(pvh.nsegments, 1);
	ck_assert_uint_eq(pvh.kernel_end, 0x1000080);
	/* no note: refused */
	u32 = 17; memcpy(img + 408, &u32, 4);
	ck_assert_int_eq(pvh_parse(img, sizeof(img), &pvh, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "PVH"));
	/* a segment past the end of the file: refused */
	u32 = 18; memcpy(img + 408, &u32, 4);
	u64 = 4096; memcpy(img + 64 + 32, &u64, 8);
	ck_assert_int_eq(pvh_parse(img, sizeof(img), &pvh, err, sizeof(err)), -1);
}
END_TEST

START_TEST(tables)
{
	struct e820_entry e[BOOT_E820_MAX];
	struct guestmem g;
	uint8_t *big = calloc(1, 32 << 20), sum = 0;
	uint32_t ct;
	uint16_t ctlen;
	char err[128];
	unsigned n, i;

	guestmem_init_flat(&g, big, 0, 32 << 20);
	n = boot_e820(&g, e, BOOT_E820_MAX);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(e[0].addr, 0);
	ck_assert_uint_eq(e[0].size, BOOT_EBDA_START);
	ck_assert_uint_eq(e[1].type, E820_RESERVED);
	ck_assert_uint_eq(e[2].addr, 0x100000);
	ck_assert_uint_eq(e[2].addr + e[2].size, 32 << 20);

	ck_assert_int_eq(mptable_write(&g, 4, err, sizeof(err)), 0);
	ck_assert_int_eq(memcmp(big + BOOT_MPTABLE_ADDR, "_MP_", 4), 0);
	for (i = 0; i < 16; i++)
		sum = (uint8_t)(sum + big[BOOT_MPTABLE_ADDR + i]);
	ck_assert_uint_eq(sum, 0);
	memcpy(&ct, big + BOOT_MPTABLE_ADDR + 4, 4);
	ck_assert_int_eq(memcmp(big + ct, "PCMP", 4), 0);
	memcpy(&ctlen, big + ct + 4, 2);
	for (sum = 0, i = 0; i < ctlen; i++)
		sum = (uint8_t)(sum + big[ct + i]);
	ck_assert_uint_eq(sum, 0);
	ck_assert_uint_lt(ct + ctlen, 0x100000);
	ck_assert_int_eq(mptable_write(&g, 0, err, sizeof(err)), -1);
	free(big);
}
END_TEST

static Suite *
vmm_suite(void)
{
	Suite *s = suite_create("vmm");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, virtq_valid_chain);
	tcase_add_test(tc, virtq_rejects_loop);
	tcase_add_test(tc, virtq_rejects_outside_memory);
	tcase_add_test(tc, virtq_rejects_bad_order_and_indices);
	tcase_add_test(tc, virtq_layout_checks);
	tcase_add_test(tc, mmio_identity);
	tcase_add_test(tc, virtio_used_and_queue_done);
	tcase_add_test(tc, blk_read_and_bounds);
	tcase_add_test(tc, blk_write_writable);
	tcase_add_test(tc, console_slow_reader_loses_nothing);
	tcase_add_test(tc, vsock_checks);
	tcase_add_test(tc, vsock_ports_and_limit);
	tcase_add_test(tc, bzimage_header);
	tcase_add_test(tc, pvh_note);
	tcase_add_test(tc, tables);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(vmm_suite());
	int	 failed;

	log_init(1, -1);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
