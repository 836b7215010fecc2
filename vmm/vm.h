/*
 * vm: one KVM virtual machine: guest memory, vCPUs (one thread each), the
 * in-kernel interrupt controllers and PIT, the UART and the virtio-mmio
 * devices, and how it ends (first reason wins).
 */
#ifndef CAPSEM_VMM_VM_H
#define CAPSEM_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmem.h"
#include "kvm_exit.h"
#include "serial.h"
#include "virtio.h"
#include "x86/boot.h"

#define VM_MAX_VCPUS	16
#define VM_MAX_DEVS	8
#define VM_REASON_MAX	256

/* How the guest ended (exit status of the vmm). */
enum vm_end {
	VM_END_NONE = 0,
	VM_END_RESET,		/* guest reboot/poweroff: status 0 */
	VM_END_PANIC,		/* guest kernel panic: status 1 */
	VM_END_ERROR,		/* triple fault, guest halt, unknown exit: 1 */
	VM_END_KVM,		/* KVM could not run the vCPU (internal error,
				 * failed entry, KVM_RUN error): 1 */
	VM_END_HOST,		/* stopped by the host (parent, signal) */
};

/*
 * Test only (capsem-vmm --test-vcpu-forbidden): a call vCPU 0 makes right
 * after narrowing its seccomp filter, one the main thread may make and a
 * vCPU thread may not: the filter must kill the process (SIGSYS).
 */
enum vm_test_call {
	VM_TEST_NONE = 0,
	VM_TEST_KVM_CREATE_VM,	/* ioctl(/dev/kvm fd, KVM_CREATE_VM) */
	VM_TEST_EVENTFD,	/* eventfd2 */
};

struct vm;

struct vcpu {
	struct vm	*vm;
	unsigned	 id;
	int		 fd;
	struct kvm_run	*run;
	pthread_t	 thread;
	bool		 started;
	struct vcpu_exit_log exits;	/* its last exits, for its end */
};

struct vm {
	int		 kvm_fd;
	int		 vm_fd;
	size_t		 run_size;
	struct guestmem	 mem;
	unsigned	 ncpus;
	struct vcpu	 vcpu[VM_MAX_VCPUS];
	uint32_t	 tsc_khz;
	struct boot_entry entry;
	struct serial	 serial;
	struct virtio_dev *dev[VM_MAX_DEVS];
	unsigned	 ndev;

	pthread_mutex_t	 end_mu;
	enum vm_end	 end;
	char		 end_reason[VM_REASON_MAX];
	int		 end_efd;	/* eventfd: the I/O thread learns of the end */
	volatile int	 stopping;
	volatile int	 guest_ready;	/* set by the vmm at the guest's READY */
	volatile int	 report_stop;	/* ended from outside before READY:
					 * each vCPU logs where it was */
	enum vm_test_call test_vcpu_call;	/* set after vm_create */
};

/*
 * Create the VM on an open /dev/kvm fd: memory, irqchip, PIT, vCPUs with
 * CPUID and TSC frequency.  0, or -1 with a reason in err.
 */
int	vm_create(struct vm *, int kvm_fd, uint64_t mem_bytes, unsigned ncpus,
	    int serial_fd, char *err, size_t errlen);
/* Set vCPU 0's registers for the boot entry, LAPIC LINT0/1 on all. */
int	vm_setup_entry(struct vm *, const struct boot_entry *, char *err,
	    size_t errlen);
/* Attach a device (before vm_start). */
int	vm_add_device(struct vm *, struct virtio_dev *);
/* Start one thread per vCPU. */
int	vm_start(struct vm *);
/* End the VM (first caller wins); wakes the I/O thread via end_efd. */
void	vm_end(struct vm *, enum vm_end, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Stop and join every vCPU thread. */
void	vm_join(struct vm *);
/* "kvm-create-vm" or "eventfd" (--test-vcpu-forbidden): 0, or -1. */
int	vm_test_call_parse(const char *, enum vm_test_call *);
/* Exit status for the end: 0 for a guest reset, else 1. */
int	vm_exit_status(const struct vm *);

#endif
