/*
 * fuzz_virtq: the descriptor walk over a fake guest memory the input
 * fills.  The first bytes choose the queue size and ring addresses; every
 * chain virtq_pop accepts must lie inside guest memory and be bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"
#include "virtq.h"

#define MEM_SIZE	(64 * 1024)
#define MEM_GPA		0x100000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	 mem[MEM_SIZE];
	struct guestmem	 gm;
	struct virtq	 vq;
	struct virtq_chain ch;
	const char	*why;
	uint8_t		 scratch[512];
	unsigned	 i, rounds;

	if (size < 8)
		return 0;
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data + 8, size - 8 < MEM_SIZE ? size - 8 : MEM_SIZE);
	guestmem_init_flat(&gm, mem, MEM_GPA, MEM_SIZE);
	virtq_reset(&vq);
	vq.num = (uint16_t)(1u << (data[0] % 10));	/* 1..512 */
	vq.desc_gpa = MEM_GPA + (uint64_t)data[1] * 256;
	vq.avail_gpa = MEM_GPA + (uint64_t)data[2] * 256;
	vq.used_gpa = MEM_GPA + (uint64_t)data[3] * 256;
	vq.last_avail = (uint16_t)(data[4] | (data[5] << 8));
	if (virtq_check_layout(&vq, &gm, &why) == -1)
		return 0;
	vq.ready = true;
	rounds = data[6] % 64 + 1;
	for (i = 0; i < rounds; i++) {
		unsigned j;
		int got = virtq_pop(&vq, &gm, &ch, &why);

		if (got != 1)
			break;
		if (ch.n == 0 || ch.n > VIRTQ_MAX_CHAIN || ch.nreadable > ch.n)
			abort();
		for (j = 0; j < ch.n; j++)
			if (!guestmem_ok(&gm, ch.buf[j].gpa, ch.buf[j].len) ||
			    ch.buf[j].writable != (j >= ch.nreadable))
				abort();
		virtq_chain_read(&gm, &ch, data[7], scratch, sizeof(scratch));
		virtq_chain_write(&gm, &ch, data[7], scratch, sizeof(scratch));
		(void)virtq_push(&vq, &gm, ch.head, (uint32_t)ch.writable_bytes);
	}
	return 0;
}
