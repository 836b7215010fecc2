/* kvm_exit: a vCPU exit where KVM could not go on, in one line. */
#ifndef CAPSEM_VMM_KVM_EXIT_H
#define CAPSEM_VMM_KVM_EXIT_H

#include <linux/kvm.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The last exits of a vCPU (a ring), for the report of its end. */
#define VCPU_EXIT_LOG	8

struct vcpu_exit_log {
	struct vcpu_exit_entry {
		uint32_t	 reason;	/* KVM_EXIT_* */
		uint8_t		 write;		/* io/mmio: a write */
		uint8_t		 size;		/* io/mmio: bytes */
		uint64_t	 addr;		/* io: port, mmio: address */
	}		 e[VCPU_EXIT_LOG];
	uint64_t	 n;			/* exits recorded in all */
};

void	vcpu_exit_log_add(struct vcpu_exit_log *, const struct kvm_run *);

/*
 * What KVM told of a vCPU when it stopped for good (a triple fault), each
 * part only if its KVM_GET_* call worked.
 */
struct vcpu_state {
	bool		 have_regs, have_sregs, have_xcr0, have_events;
	struct kvm_regs	 regs;
	struct kvm_sregs sregs;
	uint64_t	 xcr0;
	struct kvm_vcpu_events events;
};

/*
 * "rip 0x.. rsp 0x.. rflags 0x.. cr0 0x.. cr2 0x.. cr3 0x.. cr4 0x..
 * efer 0x.. xcr0 0x..; exception 14 (#PF) injected, error code 0x2;
 * last exits (oldest first): io 0x3f8 out 1, mmio 0xd0000050 write 4, ..."
 */
void	vcpu_state_describe(const struct vcpu_state *,
	    const struct vcpu_exit_log *, char *buf, size_t len);

/* "#DF" for vector 8, ... ("#?" for a vector without a mnemonic). */
const char *x86_exception_name(unsigned vector);

#endif
