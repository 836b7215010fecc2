/*
 * fuzz_boot: kernel image parsing (bzImage setup header, ELF PVH note)
 * and loading into a small guest memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"
#include "x86/boot.h"

#define MEM_SIZE	(32ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		*mem;
	struct guestmem		 gm;
	struct bzimage_info	 bz;
	struct pvh_info		 pvh;
	struct boot_entry	 be;
	char			 err[128];

	if (mem == NULL && (mem = calloc(1, MEM_SIZE)) == NULL)
		abort();
	if (bzimage_parse(data, size, &bz, err, sizeof(err)) == 0) {
		if (bz.setup_size >= size || bz.kernel_size != size - bz.setup_size ||
		    bz.hdr_end > bz.setup_size)
			abort();
	}
	if (pvh_parse(data, size, &pvh, err, sizeof(err)) == 0) {
		unsigned i;

		for (i = 0; i < pvh.nsegments; i++)
			if (pvh.seg[i].offset + pvh.seg[i].filesz > size ||
			    pvh.seg[i].filesz > pvh.seg[i].memsz)
				abort();
	}
	guestmem_init_flat(&gm, mem, 0, MEM_SIZE);
	(void)boot_load(&gm, data, size, NULL, 0, "console=ttyS0", &be, err,
	    sizeof(err));
	return 0;
}
