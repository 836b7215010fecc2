/*
 * xcr0: the XCR0 a new vCPU starts with, chosen from the CPUID table the
 * guest gets (see kvm.c's setup_xcr0 for why it is set at all).
 */
#ifndef CAPSEM_X86_XCR0_H
#define CAPSEM_X86_XCR0_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

/* XCR0 bits (SDM vol. 1, 13.1) */
#define XCR0_X87_SSE		0x3ull
#define XCR0_AVX		0x4ull
#define XCR0_AVX512		0xe0ull		/* opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_PKRU		0x200ull
#define XCR0_AMX		0x60000ull	/* XTILECFG, XTILEDATA */

/*
 * Of the user state components CPUID 0xd.0 offers, those a Linux guest
 * turns on itself and that need nothing else from the host: x87 and SSE,
 * AVX, AVX-512 (all three parts, and only with AVX), PKRU.  Never AMX (its
 * tile data needs the host's permission and XFD), MPX, or a component we
 * do not know.  0 when the table offers no XSAVE (CPUID 1 ECX bit 26) or
 * not x87 and SSE: then XCR0 is left as KVM has it.
 */
uint64_t	xcr0_initial(const struct kvm_cpuid_entry2 *, size_t n);

#endif
