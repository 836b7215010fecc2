/*
 * xcr0.c: see xcr0.h.
 */
#include <stdbool.h>

#include "x86/xcr0.h"

#define CPUID_1_ECX_XSAVE	(1u << 26)

uint64_t
xcr0_initial(const struct kvm_cpuid_entry2 *e, size_t n)
{
	uint64_t	 offered = 0, xcr0;
	bool		 xsave = false;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (e[i].function == 1)
			xsave = (e[i].ecx & CPUID_1_ECX_XSAVE) != 0;
		else if (e[i].function == 0xd && e[i].index == 0)
			offered = e[i].eax | ((uint64_t)e[i].edx << 32);
	}
	if (!xsave || (offered & XCR0_X87_SSE) != XCR0_X87_SSE)
		return 0;
	xcr0 = offered & (XCR0_X87_SSE | XCR0_AVX | XCR0_AVX512 | XCR0_PKRU);
	if ((xcr0 & XCR0_AVX) == 0 || (xcr0 & XCR0_AVX512) != XCR0_AVX512)
		xcr0 &= ~XCR0_AVX512;	/* all three or none, and only with AVX */
	return xcr0;
}
