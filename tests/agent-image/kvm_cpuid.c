/*
 * kvm-cpuid: what /dev/kvm offers a guest (KVM_GET_SUPPORTED_CPUID, the
 * list capsem-vmm passes through) and what this CPU reports itself, for
 * the leaves that decide AVX in a guest: 1 (XSAVE, OSXSAVE, AVX, FMA),
 * 7.0 (AVX2), 0xd.0 and 0xd.1 (XCR0 bits, XSAVE area, XSAVEOPT/XSAVEC).
 * Also the XCR0 this kernel runs with and what KVM_CAP_XSAVE says.
 * A diagnostic of tests/agent-image (run in L1); prints one line a leaf:
 *   KVM-CPUID <source> <leaf>.<index> eax=... ebx=... ecx=... edx=...
 */
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ENTRIES	256

struct leaf_id {
	uint32_t	function;
	uint32_t	index;
};

static const struct leaf_id wanted[] = {
	{ 0, 0 }, { 1, 0 }, { 7, 0 }, { 0xd, 0 }, { 0xd, 1 }, { 0xd, 2 },
};

static void
print_leaf(const char *source, uint32_t fn, uint32_t idx, uint32_t a,
    uint32_t b, uint32_t c, uint32_t d)
{
	printf("KVM-CPUID %s 0x%x.%u eax=0x%08x ebx=0x%08x ecx=0x%08x "
	    "edx=0x%08x\n", source, fn, idx, a, b, c, d);
}

int
main(void)
{
	struct kvm_cpuid2	*cpuid;
	uint32_t		 a, b, c, d, lo, hi;
	size_t			 i, j;
	int			 kvm;

	for (j = 0; j < sizeof(wanted) / sizeof(wanted[0]); j++) {
		__cpuid_count(wanted[j].function, wanted[j].index, a, b, c, d);
		print_leaf("cpu", wanted[j].function, wanted[j].index, a, b, c, d);
	}
	__cpuid_count(1, 0, a, b, c, d);
	if (c & (1u << 27)) {	/* OSXSAVE: xgetbv is allowed */
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		printf("KVM-CPUID cpu xcr0=0x%08x%08x\n", hi, lo);
	} else
		printf("KVM-CPUID cpu xcr0=none (no OSXSAVE)\n");

	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) == -1) {
		printf("KVM-CPUID /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	printf("KVM-CPUID kvm cap_xsave=%d cap_xcrs=%d\n",
	    ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE),
	    ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_XCRS));
	cpuid = calloc(1, sizeof(*cpuid) +
	    MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (cpuid == NULL)
		return 1;
	cpuid->nent = MAX_ENTRIES;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) == -1) {
		printf("KVM-CPUID KVM_GET_SUPPORTED_CPUID: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		for (j = 0; j < sizeof(wanted) / sizeof(wanted[0]); j++)
			if (e->function == wanted[j].function &&
			    e->index == wanted[j].index)
				print_leaf("kvm", e->function, e->index, e->eax,
				    e->ebx, e->ecx, e->edx);
	}
	free(cpuid);
	close(kvm);
	return 0;
}
