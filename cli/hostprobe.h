/*
 * hostprobe: can this host run a capsem guest?  One look at the CPU flags
 * (/proc/cpuinfo), the KVM modules (/sys/module) and /dev/kvm, used by
 * `capsemctl start` before anything is spawned, by `capsemctl doctor`, by
 * the session's report of a KVM error and (through `doctor --json`) by the
 * VM test harnesses.
 *
 * Our guest is an unmodified x86-64 kernel: it needs hardware-assisted
 * KVM (vmx or svm, kvm_intel or kvm_amd).  A /dev/kvm from kvm_pvm
 * (pagetable-based virtualization) runs only kernels built for PVM.
 *
 * The inputs are read below $CAPSEM_PROBE_ROOT when it is set (a test
 * points it at a fake tree), else below "/".
 */
#ifndef CAPSEM_HOSTPROBE_H
#define CAPSEM_HOSTPROBE_H

#include <stdbool.h>
#include <stddef.h>

enum host_kvm {
	HOST_KVM_HARDWARE,	/* vmx/svm, kvm_intel/kvm_amd, /dev/kvm opens */
	HOST_KVM_PVM,		/* kvm_pvm: only PVM guest kernels */
	HOST_KVM_NO_VIRT,	/* no vmx/svm flag (firmware, cloud, emulator) */
	HOST_KVM_NO_MODULE,	/* vmx/svm, but neither kvm_intel nor kvm_amd */
	HOST_KVM_NO_DEVICE,	/* no /dev/kvm */
	HOST_KVM_NO_ACCESS,	/* /dev/kvm there, but this user cannot open it */
};

struct host_probe {
	enum host_kvm	 kvm;
	char		 vendor[16];	/* "intel", "amd", or what cpuinfo says */
	char		 model[64];	/* "AMD EPYC ..." */
	bool		 flag_vmx, flag_svm, flag_hypervisor;
	bool		 mod_kvm, mod_intel, mod_amd, mod_pvm;
	bool		 dev_exists;
	int		 dev_errno;	/* open("/dev/kvm", O_RDWR): 0 or errno */
	char		 root[256];	/* where the inputs were read ("" = /) */
};

/*
 * Probe below root (NULL: $CAPSEM_PROBE_ROOT, else "/").  Never fails:
 * what cannot be read counts as absent.
 */
void	host_probe(const char *root, struct host_probe *hp);

/* true if a session can run: HOST_KVM_HARDWARE. */
bool	host_probe_can_run(const struct host_probe *hp);

/* "hardware", "pvm", "no-virt", "no-module", "no-device", "no-access". */
const char *host_kvm_name(enum host_kvm kvm);

/*
 * What was found, one clause: "AMD EPYC (amd), svm, kvm_amd loaded,
 * /dev/kvm opens" / "... kvm_pvm loaded, no vmx/svm flag ...".
 */
void	host_probe_found(const struct host_probe *hp, char *buf, size_t len);

/*
 * The verdict and the fix, one sentence: why the guest cannot run and
 * what would make it run (empty for HOST_KVM_HARDWARE: "KVM (kvm_amd)").
 */
void	host_probe_verdict(const struct host_probe *hp, char *buf, size_t len);

#endif
