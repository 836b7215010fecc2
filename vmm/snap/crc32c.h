/*
 * crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the
 * checksum of each section of a snapshot (snapfile.h).  crc32c(0, "123456789",
 * 9) == 0xe3069283.  The SSE4.2 instruction where the CPU has it (every
 * x86-64 host with hardware KVM), a table otherwise; both give the same.
 */
#ifndef CAPSEM_SNAP_CRC32C_H
#define CAPSEM_SNAP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of crc's message followed by buf[0..len); start with 0. */
uint32_t	crc32c(uint32_t crc, const void *buf, size_t len);

/* The same with the table alone (tests compare the two). */
uint32_t	crc32c_table(uint32_t crc, const void *buf, size_t len);

#endif
