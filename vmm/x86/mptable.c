/*
 * mptable.c: an Intel MultiProcessor Specification 1.4 table, so a guest
 * without ACPI finds its CPUs, the IOAPIC and the ISA interrupt routing.
 * Layout: floating pointer, then the configuration table, in the EBDA.
 */
#include <stdio.h>
#include <string.h>

#include "x86/boot.h"
#include "le.h"

#define MP_LAPIC_ADDR		0xfee00000u
#define MP_IOAPIC_ADDR		0xfec00000u
#define MP_LAPIC_VERSION	0x14
#define MP_IOAPIC_VERSION	0x11
#define MP_ISA_IRQS		16
#define MP_MAX_CPUS		64

static uint8_t
checksum(const uint8_t *p, size_t len)
{
	uint8_t	 sum = 0;

	while (len-- > 0)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)(0 - sum);
}

int
mptable_write(struct guestmem *gm, unsigned ncpus, char *err, size_t errlen)
{
	uint8_t		 buf[16 + 44 + MP_MAX_CPUS * 20 + 8 + 8 +
			     (MP_ISA_IRQS + 2) * 8];
	uint8_t		*fp = buf, *ct = buf + 16, *p;
	uint16_t	 count = 0;
	uint8_t		 ioapic_id = (uint8_t)ncpus;
	unsigned	 i;

	if (ncpus == 0 || ncpus > MP_MAX_CPUS) {
		snprintf(err, errlen, "MP table: %u CPUs (1-%d)", ncpus,
		    MP_MAX_CPUS);
		return -1;
	}
	memset(buf, 0, sizeof(buf));
	p = ct + 44;
	for (i = 0; i < ncpus; i++, count++) {
		p[0] = 0;			/* processor */
		p[1] = (uint8_t)i;		/* local APIC id */
		p[2] = MP_LAPIC_VERSION;
		p[3] = 0x1 | (i == 0 ? 0x2 : 0);	/* enabled, BSP */
		le_put32(p + 4, 0x600);		/* family 6 signature */
		le_put32(p + 8, 0x201);		/* FPU, APIC */
		p += 20;
	}
	p[0] = 1;				/* bus */
	p[1] = 0;
	memcpy(p + 2, "ISA   ", 6);
	p += 8, count++;
	p[0] = 2;				/* IOAPIC */
	p[1] = ioapic_id;
	p[2] = MP_IOAPIC_VERSION;
	p[3] = 1;				/* enabled */
	le_put32(p + 4, MP_IOAPIC_ADDR);
	p += 8, count++;
	for (i = 0; i < MP_ISA_IRQS; i++, count++) {
		p[0] = 3;			/* I/O interrupt */
		p[1] = 0;			/* INT */
		le_put16(p + 2, 0);		/* conforms to the bus */
		p[4] = 0;			/* ISA */
		p[5] = (uint8_t)i;
		p[6] = ioapic_id;
		p[7] = (uint8_t)i;
		p += 8;
	}
	p[0] = 4;				/* local interrupt */
	p[1] = 3;				/* ExtINT */
	p[5] = 0;
	p[6] = 0;
	p[7] = 0;				/* LINT0 */
	p += 8, count++;
	p[0] = 4;
	p[1] = 1;				/* NMI */
	p[6] = 0xff;
	p[7] = 1;				/* LINT1 */
	p += 8, count++;

	memcpy(ct, "PCMP", 4);
	le_put16(ct + 4, (uint16_t)(p - ct));
	ct[6] = 4;				/* spec 1.4 */
	memcpy(ct + 8, "CAPSEM  ", 8);
	memcpy(ct + 16, "MICROVM     ", 12);
	le_put16(ct + 34, count);
	le_put32(ct + 36, MP_LAPIC_ADDR);
	ct[7] = checksum(ct, (size_t)(p - ct));

	memcpy(fp, "_MP_", 4);
	le_put32(fp + 4, (uint32_t)(BOOT_MPTABLE_ADDR + 16));
	fp[8] = 1;				/* 16 bytes */
	fp[9] = 4;
	fp[10] = checksum(fp, 16);

	if (guestmem_write(gm, BOOT_MPTABLE_ADDR, buf, (size_t)(p - buf)) == -1) {
		snprintf(err, errlen, "MP table outside guest memory");
		return -1;
	}
	return 0;
}
