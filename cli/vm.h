/*
 * vm: what the session parent prepares for capsem-vmm: the files it opens
 * (it is the one that may), the per-session initrd, the console.
 */
#ifndef CAPSEM_CLI_VM_H
#define CAPSEM_CLI_VM_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"

#define VM_ARGV_MAX	64
#define VM_ENV_MAX	64	/* guest/PROTOCOL: at most 64 env= lines */
#define VM_AGENT_UID	1000	/* the images' agent account (uid = gid) */

struct vm_opts {
	const char	*kernel;		/* vmlinux (PVH) or bzImage */
	const char	*initrds[VM_MAX_INITRDS - 1];	/* + the session's */
	int		 ninitrds;
	const char	*disk;			/* read-only root image, or NULL */
	unsigned	 mem_mb;		/* 0: 1024 */
	unsigned	 cpus;			/* 0: 2 */
	const char	*user;			/* guest account, NULL: root */
	const char	*rootfstype;		/* NULL: capsem-init tries each */
	const char	*hostname;		/* NULL: capsem */
	const char	*env[VM_ENV_MAX];	/* NAME=VALUE for the command */
	int		 nenv;
	char *const	*argv;			/* the session command */
	int		 argc;
	/* the workspace as asked (capsemctl start; workspace_resolve) */
	const char	*workspace_arg;		/* -w DIR[:ro]; NULL: the default */
	bool		 workspace_default;	/* no -w: share the current dir */
	bool		 workspace_none;	/* --no-workspace */
	bool		 workspace_force;	/* --force */
	/* and as decided (session setup): session.conf workspace= */
	enum vm_workspace { VM_WORKSPACE_NONE, VM_WORKSPACE_RW,
	    VM_WORKSPACE_RO } workspace;
};

struct vm_files {
	int	 kvm;
	int	 kernel;
	int	 initrd[VM_MAX_INITRDS];
	int	 ninitrd;
	int	 disk;
	int	 console_vmm;		/* hvc0, the vmm's end */
	int	 console_parent;	/* the parent's end */
};

/*
 * Open /dev/kvm, the kernel, the initrds and the disk, and build the
 * session initrd (a newc cpio in a memfd: /capsem/session.conf and
 * /capsem/ca.pem).  Returns 0, or -1 with a one-line reason in err.
 */
int	vm_prepare(const struct vm_opts *, const char *ca_pem_path,
	    struct vm_files *, char *err, size_t errlen);
void	vm_files_close(struct vm_files *);

/* The session.conf text for opts (exported for tests). */
int	vm_session_conf(const struct vm_opts *, char *buf, size_t len,
	    size_t *outlen, char *err, size_t errlen);

/*
 * env_assignment_ok: NAME=VALUE with NAME [A-Za-z_][A-Za-z0-9_]* and a value
 * session.conf can carry (no control bytes but tab, at most 4000 bytes).
 */
int	env_assignment_ok(const char *);

#endif
