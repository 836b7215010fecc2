/*
 * kvm_exit.c: a vCPU exit where KVM itself could not go on, said in one
 * line a person can act on: the suberror by name, the guest's RIP, the
 * instruction bytes KVM fetched and the extra words it returned.
 * Pure formatting, no KVM calls: unit-tested with made-up kvm_run data.
 */
#include <linux/kvm.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kvm_exit.h"

const char *
kvm_internal_suberror_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "exit while delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected hardware exit reason";
	}
	return "unknown suberror";
}

/* Append to buf at *off; never past len, always terminated. */
static void
put(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

void
kvm_exit_describe(unsigned vcpu, const struct kvm_run *run,
    const uint64_t *rip, char *buf, size_t len)
{
	size_t	 off = 0, i, nbytes, ndata;

	if (len == 0)
		return;
	buf[0] = '\0';
	switch (run->exit_reason) {
	case KVM_EXIT_INTERNAL_ERROR:
		put(buf, len, &off, "vCPU %u: KVM internal error %u (%s)", vcpu,
		    run->internal.suberror,
		    kvm_internal_suberror_name(run->internal.suberror));
		break;
	case KVM_EXIT_FAIL_ENTRY:
		put(buf, len, &off, "vCPU %u: VM entry failed, hardware "
		    "reason 0x%llx on host CPU %u", vcpu, (unsigned long long)
		    run->fail_entry.hardware_entry_failure_reason,
		    run->fail_entry.cpu);
		break;
	default:
		put(buf, len, &off, "vCPU %u: KVM exit %u", vcpu,
		    run->exit_reason);
		break;
	}
	if (rip != NULL)
		put(buf, len, &off, ", rip 0x%llx", (unsigned long long)*rip);
	if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR)
		return;
	ndata = run->internal.ndata;
	if (ndata > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
		ndata = sizeof(run->internal.data) /
		    sizeof(run->internal.data[0]);
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags &
	    KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		nbytes = run->emulation_failure.insn_size;
		if (nbytes > sizeof(run->emulation_failure.insn_bytes))
			nbytes = sizeof(run->emulation_failure.insn_bytes);
		put(buf, len, &off, ", instruction");
		if (nbytes == 0)
			put(buf, len, &off, " (none fetched)");
		for (i = 0; i < nbytes; i++)
			put(buf, len, &off, " %02x",
			    run->emulation_failure.insn_bytes[i]);
		return;
	}
	if (ndata > 0) {
		put(buf, len, &off, ", data");
		for (i = 0; i < ndata; i++)
			put(buf, len, &off, " 0x%llx",
			    (unsigned long long)run->internal.data[i]);
	}
}
