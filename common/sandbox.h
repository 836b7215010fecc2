/*
 * sandbox: the one call every child makes before it reads an untrusted
 * byte.  Steps, in order:
 *  1. root: setgroups/setgid/setuid to an unprivileged id (SANDBOX_UID),
 *     unless keep_uid (capsem-fsd: files it makes belong to the user);
 *  2. unshare a user namespace (mapping inside 0 -> our uid) where the
 *     kernel allows it; otherwise log why and go on;
 *  3. optional empty network namespace, private mount namespace;
 *  4. pivot_root into an empty read-only tmpfs, old root detached; a
 *     process whose spec says bind_dir finds there, writable, the one
 *     directory its parent passed on fd PROC_DIR_FD, at SANDBOX_DIR
 *     (nosuid, nodev, noexec), and nothing else of the host's files;
 *  5. all capabilities dropped (effective, permitted, inheritable,
 *     bounding, ambient), SECBIT_NOROOT locked;
 *  6. PR_SET_NO_NEW_PRIVS, not dumpable, rlimits (nofile, core 0, ...);
 *  7. seccomp allowlist, default action: kill the process.
 * Any failure of a step that the spec asks for is fatal.
 *
 * A thread of a sandboxed process may narrow what it alone may call with
 * sandbox_narrow_thread(): a second filter stacked on the process's (a
 * call must pass both), on the calling thread only, same default action.
 */
#ifndef CAPSEM_SANDBOX_H
#define CAPSEM_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

#define SANDBOX_UID	65534	/* nobody, when started as root */
#define SANDBOX_GID	65534

/* One allowlist row; generated from <proc>/<proc>.seccomp by seccomp_gen.py */
struct seccomp_rule {
	const char	*syscall;
	int		 arg;		/* -1: any arguments; else argument index */
	uint64_t	 value;		/* allowed only when arg == value */
};

struct sandbox_spec {
	const char	*name;
	bool		 new_netns;	/* empty network namespace */
	bool		 keep_uid;	/* root stays uid 0 (no capabilities) */
	bool		 bind_dir;	/* fd PROC_DIR_FD appears at SANDBOX_DIR */
	uint64_t	 nofile;	/* RLIMIT_NOFILE */
	uint64_t	 nproc_zero;	/* unused, reserved */
	const struct seccomp_rule *rules;
	size_t		 nrules;
};

struct sandbox_report {
	uint8_t		 userns;	/* 1 if in a new user namespace */
	uint8_t		 netns;		/* 1 if in a new network namespace */
	uint8_t		 rootfs;	/* 1 if pivoted into an empty root */
	uint8_t		 caps;		/* 1 if all capabilities were dropped */
	uint8_t		 nnp;		/* 1 if no_new_privs is set */
	uint8_t		 seccomp;	/* 1 if the filter is loaded */
	uint8_t		 pad[2];
	uint32_t	 uid;		/* our uid as the host sees it */
	char		 note[96];	/* why a step was skipped, or "" */
};

void	sandbox_enter(const struct sandbox_spec *, struct sandbox_report *);

#define SANDBOX_DIR	"/dir"	/* where bind_dir's directory appears */

/*
 * The path of a bind_dir process's directory after sandbox_enter():
 * SANDBOX_DIR in the empty root; without one (no user namespace, not root)
 * the fd itself, PROC_DIR_FD_PATH.
 */
const char *sandbox_dir_path(const struct sandbox_report *);

/*
 * Stack a narrower allowlist on the calling thread only (no TSYNC: other
 * threads keep the process's filter).  Call it after sandbox_enter(), from
 * a thread created after it (no_new_privs is inherited, so no prctl), with
 * seccomp(2) for SECCOMP_SET_MODE_FILTER on the process's allowlist.
 * Fatal if the filter cannot be loaded.
 */
void	sandbox_narrow_thread(const char *name, const struct seccomp_rule *,
	    size_t nrules);

/* "userns netns rootfs caps nnp seccomp uid=N" for status output */
void	sandbox_report_string(const struct sandbox_report *, char *buf, size_t len);

#endif
