/* kvm_exit: a vCPU exit where KVM could not go on, in one line. */
#ifndef CAPSEM_VMM_KVM_EXIT_H
#define CAPSEM_VMM_KVM_EXIT_H

#include <stddef.h>
#include <stdint.h>

struct kvm_run;

/* "instruction emulation failed", ... for KVM_INTERNAL_ERROR_*. */
const char *kvm_internal_suberror_name(uint32_t suberror);

/*
 * KVM_EXIT_INTERNAL_ERROR or KVM_EXIT_FAIL_ENTRY of vCPU vcpu, into buf:
 * "vCPU 0: KVM internal error 1 (instruction emulation failed), rip
 * 0xffffffff81000000, instruction 0f 01 d9" (the bytes when KVM gives
 * them, else its extra data words).  rip: NULL if KVM_GET_REGS failed.
 */
void	kvm_exit_describe(unsigned vcpu, const struct kvm_run *run,
	    const uint64_t *rip, char *buf, size_t len);

#endif
