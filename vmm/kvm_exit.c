/*
 * kvm_exit.c: a vCPU exit where KVM itself could not go on, said in one
 * line a person can act on: the suberror by name, the guest's RIP, the
 * instruction bytes KVM fetched and the extra words it returned.
 * And the state of a vCPU that stopped for good (a triple fault): its
 * registers, the exception KVM holds and its last exits.
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

void
vcpu_exit_log_add(struct vcpu_exit_log *log, const struct kvm_run *run)
{
	struct vcpu_exit_entry *e = &log->e[log->n % VCPU_EXIT_LOG];

	memset(e, 0, sizeof(*e));
	e->reason = run->exit_reason;
	if (run->exit_reason == KVM_EXIT_IO) {
		e->write = run->io.direction == KVM_EXIT_IO_OUT;
		e->size = run->io.size;
		e->addr = run->io.port;
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		e->write = run->mmio.is_write;
		e->size = (uint8_t)run->mmio.len;
		e->addr = run->mmio.phys_addr;
	}
	log->n++;
}

const char *
x86_exception_name(unsigned vector)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "#MF(old)", "#TS", "#NP", "#SS", "#GP", "#PF", "#?",
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	};

	return vector < sizeof(names) / sizeof(names[0]) ? names[vector] :
	    "#?";
}

static void
put_exit(char *buf, size_t len, size_t *off, const struct vcpu_exit_entry *e)
{
	switch (e->reason) {
	case KVM_EXIT_IO:
		put(buf, len, off, "io 0x%llx %s %u", (unsigned long long)e->addr,
		    e->write ? "out" : "in", e->size);
		break;
	case KVM_EXIT_MMIO:
		put(buf, len, off, "mmio 0x%llx %s %u",
		    (unsigned long long)e->addr, e->write ? "write" : "read",
		    e->size);
		break;
	case KVM_EXIT_INTR:
		put(buf, len, off, "intr");
		break;
	case KVM_EXIT_HLT:
		put(buf, len, off, "hlt");
		break;
	case KVM_EXIT_SHUTDOWN:
		put(buf, len, off, "shutdown");
		break;
	default:
		put(buf, len, off, "exit %u", e->reason);
		break;
	}
}

void
vcpu_state_describe(const struct vcpu_state *st,
    const struct vcpu_exit_log *log, char *buf, size_t len)
{
	const struct kvm_vcpu_events *ev = &st->events;
	size_t	 off = 0;
	uint64_t first, i;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (st->have_regs)
		put(buf, len, &off, "rip 0x%llx rsp 0x%llx rflags 0x%llx",
		    (unsigned long long)st->regs.rip,
		    (unsigned long long)st->regs.rsp,
		    (unsigned long long)st->regs.rflags);
	else
		put(buf, len, &off, "registers unknown");
	if (st->have_sregs)
		put(buf, len, &off, " cr0 0x%llx cr2 0x%llx cr3 0x%llx cr4 0x%llx "
		    "efer 0x%llx", (unsigned long long)st->sregs.cr0,
		    (unsigned long long)st->sregs.cr2,
		    (unsigned long long)st->sregs.cr3,
		    (unsigned long long)st->sregs.cr4,
		    (unsigned long long)st->sregs.efer);
	if (st->have_xcr0)
		put(buf, len, &off, " xcr0 0x%llx",
		    (unsigned long long)st->xcr0);
	if (st->have_events) {
		if (ev->exception.injected || ev->exception.pending) {
			put(buf, len, &off, "; exception %u (%s) %s",
			    ev->exception.nr,
			    x86_exception_name(ev->exception.nr),
			    ev->exception.injected ? "injected" : "pending");
			if (ev->exception.has_error_code)
				put(buf, len, &off, ", error code 0x%x",
				    ev->exception.error_code);
		} else
			put(buf, len, &off, "; no exception held");
		if (ev->nmi.injected || ev->nmi.pending)
			put(buf, len, &off, "; NMI %s", ev->nmi.injected ?
			    "injected" : "pending");
		if (ev->interrupt.injected)
			put(buf, len, &off, "; interrupt %u injected",
			    ev->interrupt.nr);
	}
	if (log == NULL || log->n == 0)
		return;
	first = log->n > VCPU_EXIT_LOG ? log->n - VCPU_EXIT_LOG : 0;
	put(buf, len, &off, "; last %llu of %llu exits:",
	    (unsigned long long)(log->n - first), (unsigned long long)log->n);
	for (i = first; i < log->n; i++) {
		put(buf, len, &off, i == first ? " " : ", ");
		put_exit(buf, len, &off, &log->e[i % VCPU_EXIT_LOG]);
	}
}
