/*
 * vmm_msg.h: what the session parent sends capsem-vmm before the guest
 * starts (to be moved into common/msg.h).  Order: MSG_VM_SETUP, then one
 * MSG_VM_FD per fd (kvm, kernel, initrds in order, disks in order,
 * console, serial log), then MSG_VM_START.  The vmm answers MSG_VM_EVENT
 * READY when the guest's control connection says READY, and EXIT (with
 * the exit status and a one-line reason) when the guest ends; then it exits.
 * The netproxy channel arrives as MSG_PEER_CHANNEL{PROC_NETPROXY}.
 */
#ifndef CAPSEM_VMM_MSG_H
#define CAPSEM_VMM_MSG_H

#include <stdint.h>

#include "msg.h"

enum vmm_msg_type {
	MSG_VM_SETUP = MSG_VM_EVENT + 1,	/* struct msg_vm_setup + cmdline */
	MSG_VM_FD,				/* struct msg_vm_fd + fd */
	MSG_VM_START,				/* empty */
};

#define VM_CMDLINE_MAX	2048	/* bytes from the parent (the vmm appends its own) */
#define VM_MAX_INITRDS	4
#define VM_MAX_DISKS	4

struct msg_vm_setup {
	uint32_t	 mem_mb;
	uint32_t	 ncpus;
	uint32_t	 cmdline_len;	/* bytes following the struct, no NUL */
	uint32_t	 pad;
};

enum msg_vm_fd_kind {
	VM_FD_KVM = 1,		/* /dev/kvm */
	VM_FD_KERNEL,		/* vmlinux (PVH) or bzImage */
	VM_FD_INITRD,		/* concatenated in arrival order */
	VM_FD_DISK_RO,		/* read-only disk (the root image) */
	VM_FD_DISK_RW,		/* writable scratch disk */
	VM_FD_CONSOLE,		/* hvc0 <-> this fd (a pty or socket), raw */
	VM_FD_SERIAL,		/* kernel log (16550) is written here */
};

struct msg_vm_fd {
	uint32_t	 kind;		/* enum msg_vm_fd_kind */
	uint32_t	 pad;
};

#endif
