/*
 * kvm.c: the KVM side of a VM: creation, CPUID and TSC, boot registers,
 * vCPU threads and their exits (port I/O, MMIO, shutdown, errors).
 *
 * Each vCPU thread, first thing, narrows its seccomp filter to what
 * KVM_RUN and the exits handled on it need (vmm_vcpu.seccomp).
 *
 * Port I/O the guest sees: COM1 (serial.c), a minimal i8042 whose reset
 * command (0xfe on port 0x64) ends the VM, CMOS reads as zero, everything
 * else floats (0xff).  The guest is booted with reboot=k,panic_warm: a
 * normal reboot/poweroff leaves 0 in the BIOS warm-boot flag at 0x472, a
 * panic leaves 0x1234, which tells the two apart.
 */
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_exit.h"
#include "log.h"
#include "sandbox.h"
#include "vm.h"
#include "vmm_vcpu_seccomp.h"
#include "x86/xcr0.h"

#define KVM_TSS_ADDR		0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR	0xfffbc000ULL
#define CPUID_MAX_ENTRIES	256
#define WARM_BOOT_FLAG_ADDR	0x472
#define WARM_BOOT_PANIC		0x1234

#define PORT_I8042_DATA		0x60
#define PORT_I8042_CMD		0x64
#define PORT_CMOS_INDEX		0x70
#define PORT_CMOS_DATA		0x71

#define FAIL(...)	do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static void
serial_irq(void *arg, unsigned irq, int level)
{
	struct vm		*vm = arg;
	struct kvm_irq_level	 il;

	memset(&il, 0, sizeof(il));
	il.irq = irq;
	il.level = (uint32_t)level;
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &il) == -1)
		log_warn("KVM_IRQ_LINE");
}

static void
guest_poweroff(void *arg)
{
	vm_end(arg, VM_END_RESET, "guest powered off");
}

/*
 * XCR0 of a new vCPU: the user state components offered in CPUID 0xd.0
 * that a Linux guest enables itself (x86/xcr0.c: x87, SSE, AVX, AVX-512,
 * PKRU; never AMX), not just x87.  Where KVM sees the guest's XSETBV this
 * changes nothing: the guest sets its own XCR0 before using it.  Under a
 * hypervisor that lets the guest's XSETBV through without telling KVM
 * (qemu's TCG nested SVM has no XSETBV intercept), KVM would keep XCR0 =
 * x87, report the XSAVE area size for that in CPUID 0xd.0 EBX, and the
 * guest kernel, seeing a size that does not match its XCR0, disables
 * XSAVE and with it AVX.
 */
static int
setup_xcr0(struct vm *vm, struct vcpu *v, const struct kvm_cpuid2 *cpuid,
    char *err, size_t errlen)
{
	struct kvm_xcrs	 xcrs;
	uint64_t	 xcr0 = xcr0_initial(cpuid->entries, cpuid->nent);

	if (xcr0 == 0 ||
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) <= 0)
		return 0;
	memset(&xcrs, 0, sizeof(xcrs));
	xcrs.nr_xcrs = 1;
	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = xcr0;
	if (ioctl(v->fd, KVM_SET_XCRS, &xcrs) == -1)
		FAIL("KVM_SET_XCRS 0x%llx: %s", (unsigned long long)xcr0,
		    strerror(errno));
	return 0;
}

static int
setup_cpuid(struct vm *vm, struct vcpu *v, char *err, size_t errlen)
{
	struct kvm_cpuid2	*cpuid;
	size_t			 sz;
	uint32_t		 i;

	sz = sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	if ((cpuid = calloc(1, sz)) == NULL)
		FAIL("out of memory");
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == -1) {
		free(cpuid);
		FAIL("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	}
	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (v->id << 24) |
			    ((vm->ncpus & 0xff) << 16);
			e->ecx |= 1u << 31;	/* hypervisor present */
			if (vm->ncpus > 1)
				e->edx |= 1u << 28;	/* HTT: count valid */
			break;
		case 0xb:
		case 0x1f:
			e->edx = v->id;		/* x2APIC id */
			break;
		case 0x8000001e:
			e->eax = v->id;		/* extended APIC id */
			break;
		default:
			break;
		}
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) == -1) {
		free(cpuid);
		FAIL("KVM_SET_CPUID2: %s", strerror(errno));
	}
	if (setup_xcr0(vm, v, cpuid, err, errlen) == -1) {
		free(cpuid);
		return -1;
	}
	free(cpuid);
	return 0;
}

int
vm_create(struct vm *vm, int kvm_fd, uint64_t mem_bytes, unsigned ncpus,
    int serial_fd, char *err, size_t errlen)
{
	struct kvm_pit_config	 pit;
	unsigned		 i;
	int			 r;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = kvm_fd;
	vm->vm_fd = -1;
	vm->end_efd = -1;
	pthread_mutex_init(&vm->end_mu, NULL);
	if (ncpus == 0 || ncpus > VM_MAX_VCPUS)
		FAIL("vCPU count %u out of range 1-%d", ncpus, VM_MAX_VCPUS);
	vm->ncpus = ncpus;

	if ((r = ioctl(kvm_fd, KVM_GET_API_VERSION, 0)) != KVM_API_VERSION)
		FAIL("/dev/kvm: API version %d, want %d", r, KVM_API_VERSION);
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) <= 0 ||
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) <= 0 ||
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0 ||
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0)
		FAIL("/dev/kvm lacks irqchip, ioeventfd, irqfd, PIT2 or "
		    "immediate exit");
	if ((vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0)) == -1)
		FAIL("KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) == -1)
		FAIL("KVM_SET_TSS_ADDR: %s", strerror(errno));
	{
		uint64_t idmap = KVM_IDENTITY_MAP_ADDR;

		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) == -1)
			FAIL("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) == -1)
		FAIL("KVM_CREATE_IRQCHIP: %s", strerror(errno));
	memset(&pit, 0, sizeof(pit));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) == -1)
		FAIL("KVM_CREATE_PIT2: %s", strerror(errno));
	{
		/*
		 * No catch-up of lost PIT ticks: a Linux guest keeps time with
		 * the TSC, and the kvm-pit reinjection thread was seen stuck
		 * (soft lockup) next to KVM_RUN under nested SVM.
		 */
		struct kvm_reinject_control rc;

		memset(&rc, 0, sizeof(rc));
		rc.pit_reinject = 0;
		if (ioctl(vm->vm_fd, KVM_REINJECT_CONTROL, &rc) == -1)
			FAIL("KVM_REINJECT_CONTROL: %s", strerror(errno));
	}

	if (guestmem_alloc(&vm->mem, mem_bytes) == -1)
		FAIL("guest memory of %llu MiB: %s",
		    (unsigned long long)(mem_bytes >> 20), strerror(errno));
	for (i = 0; i < vm->mem.nregions; i++) {
		struct kvm_userspace_memory_region mr;

		memset(&mr, 0, sizeof(mr));
		mr.slot = i;
		mr.guest_phys_addr = vm->mem.region[i].gpa;
		mr.memory_size = vm->mem.region[i].size;
		mr.userspace_addr = (uint64_t)(uintptr_t)vm->mem.region[i].host;
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) == -1)
			FAIL("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	}

	if ((r = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0)
		FAIL("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	vm->run_size = (size_t)r;
	for (i = 0; i < ncpus; i++) {
		struct vcpu *v = &vm->vcpu[i];
		int khz;

		v->vm = vm;
		v->id = i;
		if ((v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i)) == -1)
			FAIL("KVM_CREATE_VCPU %u: %s", i, strerror(errno));
		v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			FAIL("mmap vCPU %u: %s", i, strerror(errno));
		if (setup_cpuid(vm, v, err, errlen) == -1)
			return -1;
		/* One fixed TSC frequency, told to the guest on its cmdline. */
		if ((khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0)) > 0) {
			if (i == 0)
				vm->tsc_khz = (uint32_t)khz;
			if (ioctl(v->fd, KVM_SET_TSC_KHZ, vm->tsc_khz) == -1)
				log_debug("KVM_SET_TSC_KHZ: %s", strerror(errno));
		}
	}
	if ((vm->end_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		FAIL("eventfd: %s", strerror(errno));
	serial_init(&vm->serial, serial_fd, serial_irq, vm);
	vm->serial.on_poweroff = guest_poweroff;
	return 0;
}

static void
set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool l, bool db)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->db = db;
	s->s = 1;
	s->l = l;
	s->g = 1;
}

static int
setup_lapic(struct vcpu *v, char *err, size_t errlen)
{
	struct kvm_lapic_state	 la;
	uint32_t		 lvt;

	if (ioctl(v->fd, KVM_GET_LAPIC, &la) == -1)
		FAIL("KVM_GET_LAPIC: %s", strerror(errno));
	memcpy(&lvt, la.regs + 0x350, 4);
	lvt = (lvt & ~0x700u) | (0x7u << 8);	/* LINT0: ExtINT */
	memcpy(la.regs + 0x350, &lvt, 4);
	memcpy(&lvt, la.regs + 0x360, 4);
	lvt = (lvt & ~0x700u) | (0x4u << 8);	/* LINT1: NMI */
	memcpy(la.regs + 0x360, &lvt, 4);
	if (ioctl(v->fd, KVM_SET_LAPIC, &la) == -1)
		FAIL("KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

int
vm_setup_entry(struct vm *vm, const struct boot_entry *be, char *err,
    size_t errlen)
{
	struct vcpu		*v = &vm->vcpu[0];
	struct kvm_sregs	 sr;
	struct kvm_regs		 r;
	struct kvm_fpu		 fpu;
	unsigned		 i;

	vm->entry = *be;
	for (i = 0; i < vm->ncpus; i++)
		if (setup_lapic(&vm->vcpu[i], err, errlen) == -1)
			return -1;
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) == -1)
		FAIL("KVM_GET_SREGS: %s", strerror(errno));
	sr.gdt.base = BOOT_GDT_ADDR;
	sr.gdt.limit = 5 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	set_seg(&sr.ds, BOOT_SEL_DATA, 3, false, true);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.selector = BOOT_SEL_TSS;
	sr.tr.limit = 0x67;
	sr.tr.type = 11;
	sr.tr.present = 1;
	if (be->kind == BOOT_PVH) {
		set_seg(&sr.cs, BOOT_SEL_CODE32, 11, false, true);
		sr.cr0 = 0x11;			/* PE, ET */
		sr.cr3 = 0;
		sr.cr4 = 0;
		sr.efer = 0;
	} else {
		set_seg(&sr.cs, BOOT_SEL_CODE64, 11, true, false);
		sr.cr0 = 0x80050033;		/* PG WP NE ET MP PE */
		sr.cr3 = BOOT_PML4_ADDR;
		sr.cr4 = 0x20;			/* PAE */
		sr.efer = 0x500;		/* LME LMA */
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) == -1)
		FAIL("KVM_SET_SREGS: %s", strerror(errno));
	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;
	r.rip = be->rip;
	r.rbx = be->rbx;
	r.rsi = be->rsi;
	if (ioctl(v->fd, KVM_SET_REGS, &r) == -1)
		FAIL("KVM_SET_REGS: %s", strerror(errno));
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) == -1)
		FAIL("KVM_SET_FPU: %s", strerror(errno));
	return 0;
}

int
vm_add_device(struct vm *vm, struct virtio_dev *d)
{
	if (vm->ndev == VM_MAX_DEVS)
		return -1;
	vm->dev[vm->ndev++] = d;
	return 0;
}

static bool
vm_is_vcpu_thread(const struct vm *vm)
{
	unsigned	 i;

	for (i = 0; i < vm->ncpus; i++)
		if (vm->vcpu[i].started &&
		    pthread_equal(vm->vcpu[i].thread, pthread_self()))
			return true;
	return false;
}

void
vm_end(struct vm *vm, enum vm_end end, const char *fmt, ...)
{
	va_list		 ap;
	uint64_t	 one = 1;
	unsigned	 i;

	pthread_mutex_lock(&vm->end_mu);
	if (vm->end != VM_END_NONE) {
		pthread_mutex_unlock(&vm->end_mu);
		return;
	}
	vm->end = end;
	/* not a vCPU's own end, and the guest never said READY: a stuck boot */
	if (!__atomic_load_n(&vm->guest_ready, __ATOMIC_SEQ_CST) &&
	    !vm_is_vcpu_thread(vm))
		__atomic_store_n(&vm->report_stop, 1, __ATOMIC_SEQ_CST);
	va_start(ap, fmt);
	vsnprintf(vm->end_reason, sizeof(vm->end_reason), fmt, ap);
	va_end(ap);
	__atomic_store_n(&vm->stopping, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpu[i];

		if (v->run != NULL && v->run != MAP_FAILED)
			__atomic_store_n(&v->run->immediate_exit, 1,
			    __ATOMIC_SEQ_CST);
		if (v->started && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, SIGUSR1);
	}
	pthread_mutex_unlock(&vm->end_mu);
	if (vm->end_efd != -1 && write(vm->end_efd, &one, sizeof(one)) == -1)
		log_warn("end eventfd");
}

int
vm_exit_status(const struct vm *vm)
{
	return vm->end == VM_END_RESET || vm->end == VM_END_HOST ? 0 : 1;
}

/* Minimal i8042: enough for the Linux probe and the reset command. */
static void
io_i8042(struct vcpu *v, uint16_t port, bool is_write, uint8_t *data)
{
	struct vm	*vm = v->vm;
	uint16_t	 flag = 0;
	char		 line[SERIAL_LINE_MAX];

	if (!is_write) {
		/* status: input buffer empty, no output, system flag */
		*data = port == PORT_I8042_CMD ? 0x04 : 0x00;
		return;
	}
	if (port != PORT_I8042_CMD || *data != 0xfe)
		return;
	serial_flush(&vm->serial);
	(void)guestmem_read(&vm->mem, WARM_BOOT_FLAG_ADDR, &flag, sizeof(flag));
	if (flag == WARM_BOOT_PANIC) {
		serial_panic_line(&vm->serial, line, sizeof(line));
		vm_end(vm, VM_END_PANIC, "guest kernel panic%s%s",
		    line[0] ? ": " : "", line);
	} else
		vm_end(vm, VM_END_RESET, "guest reset (reboot or poweroff)");
}

static void
handle_io(struct vcpu *v)
{
	struct kvm_run	*run = v->run;
	uint8_t		*p = (uint8_t *)run + run->io.data_offset;
	bool		 is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint16_t	 port = run->io.port;
	uint32_t	 i, j;

	if (run->io.data_offset + (uint64_t)run->io.size * run->io.count >
	    v->vm->run_size)
		return;
	for (i = 0; i < run->io.count; i++, p += run->io.size) {
		if (port >= SERIAL_PORT_BASE &&
		    port < SERIAL_PORT_BASE + SERIAL_PORT_COUNT && run->io.size == 1) {
			serial_io(&v->vm->serial, port - SERIAL_PORT_BASE,
			    is_write, p);
			continue;
		}
		if (port == PORT_I8042_DATA || port == PORT_I8042_CMD) {
			io_i8042(v, port, is_write, p);
			continue;
		}
		if (is_write)
			continue;
		for (j = 0; j < run->io.size; j++)
			p[j] = (port == PORT_CMOS_INDEX || port == PORT_CMOS_DATA) ?
			    0 : 0xff;
	}
}

static void
handle_mmio(struct vcpu *v)
{
	struct kvm_run	*run = v->run;
	uint64_t	 addr = run->mmio.phys_addr;
	uint32_t	 len = run->mmio.len;
	unsigned	 i;

	if (len > sizeof(run->mmio.data))
		return;
	for (i = 0; i < v->vm->ndev; i++) {
		struct virtio_dev *d = v->vm->dev[i];

		if (addr >= d->base && addr - d->base < VIRTIO_MMIO_SIZE) {
			virtio_mmio_access(d, addr - d->base, run->mmio.is_write,
			    run->mmio.data, len);
			return;
		}
	}
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
}

/* KVM could not run the vCPU: say exactly what it returned. */
static void
vcpu_kvm_failed(struct vcpu *v)
{
	struct kvm_regs	 regs;
	char		 what[VM_REASON_MAX];
	uint64_t	 rip = 0;
	int		 have_regs;

	if ((have_regs = ioctl(v->fd, KVM_GET_REGS, &regs) == 0))
		rip = regs.rip;
	kvm_exit_describe(v->id, v->run, have_regs ? &rip : NULL, what,
	    sizeof(what));
	log_warnx("%s", what);
	vm_end(v->vm, VM_END_KVM, "%s", what);
}

/* What KVM holds of the vCPU, and its last exits, into what. */
static void
vcpu_describe_now(struct vcpu *v, char *what, size_t len)
{
	struct vcpu_state st;
	struct kvm_xcrs	 xcrs;
	uint32_t	 i;

	memset(&st, 0, sizeof(st));
	st.have_regs = ioctl(v->fd, KVM_GET_REGS, &st.regs) == 0;
	st.have_sregs = ioctl(v->fd, KVM_GET_SREGS, &st.sregs) == 0;
	st.have_events = ioctl(v->fd, KVM_GET_VCPU_EVENTS, &st.events) == 0;
	memset(&xcrs, 0, sizeof(xcrs));
	if (ioctl(v->fd, KVM_GET_XCRS, &xcrs) == 0)
		for (i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
			if (xcrs.xcrs[i].xcr == 0) {
				st.xcr0 = xcrs.xcrs[i].value;
				st.have_xcr0 = true;
			}
	vcpu_state_describe(&st, &v->exits, what, len);
}

/*
 * The guest triple-faulted (KVM_EXIT_SHUTDOWN): say what KVM holds of the
 * vCPU, in the log whole and in the end reason as far as it fits.
 */
static void
vcpu_triple_fault(struct vcpu *v)
{
	char		 what[1024];

	vcpu_describe_now(v, what, sizeof(what));
	log_warnx("vCPU %u: guest triple fault: %s", v->id, what);
	vm_end(v->vm, VM_END_ERROR, "guest triple fault on vCPU %u: %s", v->id,
	    what);
}

int
vm_test_call_parse(const char *name, enum vm_test_call *call)
{
	if (strcmp(name, "kvm-create-vm") == 0)
		*call = VM_TEST_KVM_CREATE_VM;
	else if (strcmp(name, "eventfd") == 0)
		*call = VM_TEST_EVENTFD;
	else
		return -1;
	return 0;
}

/* Test only: a call this thread's filter forbids; if it returns, say so. */
static void
vcpu_test_call(struct vcpu *v)
{
	struct vm	*vm = v->vm;
	const char	*what = NULL;
	int		 fd = -1;

	switch (vm->test_vcpu_call) {
	case VM_TEST_NONE:
		return;
	case VM_TEST_KVM_CREATE_VM:
		what = "KVM_CREATE_VM";
		fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
		break;
	case VM_TEST_EVENTFD:
		what = "eventfd";
		fd = eventfd(0, EFD_CLOEXEC);
		break;
	}
	if (fd != -1)
		close(fd);
	vm_end(vm, VM_END_ERROR, "test: %s on vCPU %u was not killed", what,
	    v->id);
}

static void *
vcpu_main(void *arg)
{
	struct vcpu	*v = arg;
	struct vm	*vm = v->vm;
	struct kvm_run	*run = v->run;

	sandbox_narrow_thread("capsem-vmm vCPU", vmm_vcpu_seccomp_rules,
	    VMM_VCPU_SECCOMP_NRULES);
	if (v->id == 0)
		vcpu_test_call(v);
	while (!__atomic_load_n(&vm->stopping, __ATOMIC_SEQ_CST)) {
		if (ioctl(v->fd, KVM_RUN, 0) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vm_end(vm, VM_END_KVM, "vCPU %u: KVM_RUN: %s", v->id,
			    strerror(errno));
			break;
		}
		vcpu_exit_log_add(&v->exits, run);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(v);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			vcpu_triple_fault(v);
			break;
		case KVM_EXIT_HLT:
			vm_end(vm, VM_END_ERROR, "vCPU %u halted", v->id);
			break;
		case KVM_EXIT_FAIL_ENTRY:
		case KVM_EXIT_INTERNAL_ERROR:
			vcpu_kvm_failed(v);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH)
				vm_end(vm, VM_END_PANIC, "guest crash event");
			else
				vm_end(vm, VM_END_RESET, "guest system event %u",
				    run->system_event.type);
			break;
		default:
			vm_end(vm, VM_END_ERROR, "vCPU %u: unknown KVM exit %u",
			    v->id, run->exit_reason);
			break;
		}
	}
	if (__atomic_load_n(&vm->report_stop, __ATOMIC_SEQ_CST)) {
		char	 what[1024];

		vcpu_describe_now(v, what, sizeof(what));
		log_warnx("vCPU %u: stopped before the guest was ready: %s",
		    v->id, what);
	}
	return NULL;
}

static void
kick_handler(int sig)
{
	(void)sig;
}

int
vm_start(struct vm *vm)
{
	struct sigaction sa;
	unsigned	 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) == -1)
		return -1;
	for (i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpu[i];

		pthread_mutex_lock(&vm->end_mu);
		if (pthread_create(&v->thread, NULL, vcpu_main, v) != 0) {
			pthread_mutex_unlock(&vm->end_mu);
			return -1;
		}
		v->started = true;
		pthread_mutex_unlock(&vm->end_mu);
	}
	return 0;
}

void
vm_join(struct vm *vm)
{
	unsigned	 i;

	vm_end(vm, VM_END_HOST, "stopped by the host");
	for (i = 0; i < vm->ncpus; i++)
		if (vm->vcpu[i].started) {
			pthread_join(vm->vcpu[i].thread, NULL);
			vm->vcpu[i].started = false;
		}
	serial_flush(&vm->serial);
}
