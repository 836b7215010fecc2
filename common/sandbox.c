/*
 * sandbox.c: enter a process's sandbox in one call (see sandbox.h).
 */
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/securebits.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"

#define SANDBOX_ROOT_MOUNTPOINT	"/tmp"

static void
note(struct sandbox_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
note(struct sandbox_report *rep, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 used = strlen(rep->note);

	if (used >= sizeof(rep->note) - 1)
		return;
	if (used > 0) {
		snprintf(rep->note + used, sizeof(rep->note) - used, "; ");
		used = strlen(rep->note);
	}
	va_start(ap, fmt);
	vsnprintf(rep->note + used, sizeof(rep->note) - used, fmt, ap);
	va_end(ap);
}

/* Write a short string to a file under dirfd (procfs), whole or fail. */
static int
write_file_at(int dirfd, const char *path, const char *text)
{
	size_t	 len = strlen(text);
	ssize_t	 n;
	int	 fd;

	if ((fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	n = write(fd, text, len);
	close(fd);
	if (n < 0 || (size_t)n != len) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/* Read a small integer from a procfs file; -1 if absent or unreadable. */
static long
read_long_at(int dirfd, const char *path)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static bool
userns_sysctl_allows(int procfd, char *why, size_t whylen)
{
	if (read_long_at(procfd, "sys/user/max_user_namespaces") == 0) {
		snprintf(why, whylen, "user.max_user_namespaces is 0");
		return false;
	}
	if (read_long_at(procfd, "sys/kernel/unprivileged_userns_clone") == 0) {
		snprintf(why, whylen, "kernel.unprivileged_userns_clone is 0");
		return false;
	}
	return true;
}

/*
 * The unprivileged ids a child started as root runs as: the dedicated
 * system user _capsem where it exists, else nobody.
 */
static void
sandbox_ids(uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	*uid = SANDBOX_UID;
	*gid = SANDBOX_GID;
	if ((pw = getpwnam("_capsem")) != NULL && pw->pw_uid != 0 &&
	    pw->pw_gid != 0) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
}

/* Map inside uid/gid 0 onto our own ids; procfd is an fd of /proc. */
static int
map_self(int procfd, uid_t uid, gid_t gid)
{
	char	 map[64];

	if (write_file_at(procfd, "self/setgroups", "deny") == -1 &&
	    errno != ENOENT)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if (write_file_at(procfd, "self/uid_map", map) == -1)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	if (write_file_at(procfd, "self/gid_map", map) == -1)
		return -1;
	return 0;
}

/*
 * Before the empty root hides anything: an fd of the directory of fd
 * PROC_DIR_FD whose mount is in our new namespace (mount(2) refuses a
 * source in the namespace we left): its path, opened again here, checked
 * to be the same directory.
 */
static int
dir_in_our_namespace(const char *name)
{
	struct stat want, got;
	char	 fdpath[32], src[PATH_MAX];
	ssize_t	 n;
	int	 fd;

	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", PROC_DIR_FD);
	if (fstat(PROC_DIR_FD, &want) == -1 || !S_ISDIR(want.st_mode))
		fatalx("%s: fd %d is not a directory", name, PROC_DIR_FD);
	if ((n = readlink(fdpath, src, sizeof(src) - 1)) <= 0 || src[0] != '/')
		fatal("%s: the path of fd %d", name, PROC_DIR_FD);
	src[n] = '\0';
	if ((fd = open(src, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1)
		fatal("%s: %s", name, src);
	if (fstat(fd, &got) == -1 || got.st_dev != want.st_dev ||
	    got.st_ino != want.st_ino)
		fatalx("%s: %s is not the directory of fd %d", name, src,
		    PROC_DIR_FD);
	close(PROC_DIR_FD);	/* reached by its path from now on */
	return fd;
}

/* Bind dirfd at SANDBOX_DIR in the still writable empty root. */
static void
bind_the_dir(const char *name, int dirfd, unsigned long flags)
{
	char	 fdpath[32], at[64];

	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", dirfd);
	snprintf(at, sizeof(at), "%s%s", SANDBOX_ROOT_MOUNTPOINT, SANDBOX_DIR);
	if (mkdir(at, 0555) == -1)
		fatal("%s: mkdir %s", name, at);
	if (mount(fdpath, at, NULL, MS_BIND, NULL) == -1)
		fatal("%s: bind the directory at %s", name, at);
	if (mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == -1)
		fatal("%s: remount %s nosuid,nodev,noexec", name, at);
	close(dirfd);
	if (mount(NULL, SANDBOX_ROOT_MOUNTPOINT, NULL,
	    MS_REMOUNT | MS_RDONLY | flags, NULL) == -1)
		fatal("%s: remount the empty root read-only", name);
}

/*
 * In a private mount namespace: make an empty read-only tmpfs our root,
 * with, for bind_dir, the directory of fd PROC_DIR_FD bound at SANDBOX_DIR
 * (made while the tmpfs is still writable, then the tmpfs goes read-only).
 */
static void
pivot_to_empty_root(const char *name, bool bind_dir)
{
	const unsigned long base = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	int	 dirfd = -1;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		fatal("%s: make mounts private", name);
	if (bind_dir)
		dirfd = dir_in_our_namespace(name);
	if (mount("capsem-empty", SANDBOX_ROOT_MOUNTPOINT, "tmpfs",
	    base | (bind_dir ? 0 : MS_RDONLY), bind_dir ?
	    "size=4k,nr_inodes=3,mode=0555" :
	    "size=4k,nr_inodes=2,mode=0555") == -1)
		fatal("%s: mount empty root", name);
	if (bind_dir)
		bind_the_dir(name, dirfd, base);
	if (chdir(SANDBOX_ROOT_MOUNTPOINT) == -1)
		fatal("%s: chdir empty root", name);
	/* pivot_root(".", "."): the old root stacks on ., then goes. */
	if (syscall(SYS_pivot_root, ".", ".") == -1)
		fatal("%s: pivot_root", name);
	if (umount2(".", MNT_DETACH) == -1)
		fatal("%s: detach old root", name);
	if (chdir("/") == -1)
		fatal("%s: chdir /", name);
}

const char *
sandbox_dir_path(const struct sandbox_report *rep)
{
	return rep->rootfs ? SANDBOX_DIR : PROC_DIR_FD_PATH;
}

static void
rearm_parent_death(pid_t ppid)
{
	/* Changing credentials clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		fatal("PR_SET_PDEATHSIG");
	if (getppid() != ppid)
		_exit(1);
}

static void
drop_uid(const char *name, uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) == -1)
		fatal("%s: setgroups", name);
	if (setresgid(gid, gid, gid) == -1)
		fatal("%s: setresgid %u", name, (unsigned)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal("%s: setresuid %u", name, (unsigned)uid);
}

static void
drop_capabilities(const char *name, struct sandbox_report *rep)
{
	cap_t	 caps;
	cap_value_t c;
	int	 have_setpcap;
	cap_flag_value_t v = CAP_CLEAR;

	if ((caps = cap_get_proc()) == NULL)
		fatal("%s: cap_get_proc", name);
	cap_get_flag(caps, CAP_SETPCAP, CAP_EFFECTIVE, &v);
	have_setpcap = v == CAP_SET;
	cap_free(caps);

	if (have_setpcap) {
		if (prctl(PR_SET_SECUREBITS,
		    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		    SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
		    SECBIT_KEEP_CAPS_LOCKED) == -1)
			fatal("%s: PR_SET_SECUREBITS", name);
		for (c = 0; c <= CAP_LAST_CAP; c++)
			if (cap_drop_bound(c) == -1 && errno != EINVAL)
				fatal("%s: drop bounding capability %d",
				    name, (int)c);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("%s: clear ambient capabilities", name);
	if ((caps = cap_init()) == NULL)
		fatal("%s: cap_init", name);
	if (cap_set_proc(caps) == -1)
		fatal("%s: cap_set_proc", name);
	cap_free(caps);

	/* Verify: nothing effective or permitted is left. */
	if ((caps = cap_get_proc()) == NULL)
		fatal("%s: cap_get_proc", name);
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		cap_flag_value_t e = CAP_CLEAR, p = CAP_CLEAR;

		cap_get_flag(caps, c, CAP_EFFECTIVE, &e);
		cap_get_flag(caps, c, CAP_PERMITTED, &p);
		if (e == CAP_SET || p == CAP_SET)
			fatalx("%s: capability %d still held", name, (int)c);
	}
	cap_free(caps);
	rep->caps = 1;
}

static void
set_limits(const struct sandbox_spec *spec)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("%s: getrlimit", spec->name);
	/* never above the hard limit we were given: we could not raise it */
	if (rl.rlim_max == RLIM_INFINITY ||
	    rl.rlim_max > (spec->nofile ? spec->nofile : 256))
		rl.rlim_max = spec->nofile ? spec->nofile : 256;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("%s: RLIMIT_NOFILE", spec->name);
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("%s: RLIMIT_CORE", spec->name);
}

/*
 * Build an allowlist filter (default: kill the process) and load it on the
 * calling thread.  set_nnp: let libseccomp set no_new_privs first (done
 * already by sandbox_enter; a thread filter must not need prctl).
 */
static void
load_seccomp(const char *name, const struct seccomp_rule *rules,
    size_t nrules, bool set_nnp)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 rc;

	if (nrules == 0)
		fatalx("%s: empty seccomp allowlist", name);
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("%s: seccomp_init failed", name);
	if (!set_nnp && (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
		fatalx("%s: seccomp_attr_set: %s", name, strerror(-rc));
	for (i = 0; i < nrules; i++) {
		const struct seccomp_rule *r = &rules[i];
		int nr = seccomp_syscall_resolve_name(r->syscall);

		if (nr == __NR_SCMP_ERROR)
			fatalx("%s: unknown syscall \"%s\" in allowlist",
			    name, r->syscall);
		if (r->arg < 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		else
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			    SCMP_CMP((unsigned)r->arg, SCMP_CMP_EQ, r->value));
		if (rc < 0)
			fatalx("%s: seccomp rule %s: %s", name, r->syscall,
			    strerror(-rc));
	}
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("%s: seccomp_load: %s", name, strerror(-rc));
	seccomp_release(ctx);
}

void
sandbox_narrow_thread(const char *name, const struct seccomp_rule *rules,
    size_t nrules)
{
	load_seccomp(name, rules, nrules, false);
}

void
sandbox_enter(const struct sandbox_spec *spec, struct sandbox_report *rep)
{
	const char *name = spec->name;
	pid_t	 ppid = getppid();
	int	 nsflags = CLONE_NEWNS | (spec->new_netns ? CLONE_NEWNET : 0);
	char	 why[80];
	int	 procfd;
	uid_t	 uid = geteuid();
	gid_t	 gid = getegid();

	memset(rep, 0, sizeof(*rep));
	if (uid == 0 && !spec->keep_uid)
		sandbox_ids(&uid, &gid);
	rep->uid = uid;
	why[0] = '\0';
	if ((procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("%s: open /proc", name);

	if (geteuid() == 0) {
		/*
		 * Root: make the namespaces and the empty root with root's
		 * privileges, then become SANDBOX_UID, then (where allowed)
		 * enter a user namespace of our own as that uid.
		 */
		if (unshare(nsflags) == -1)
			fatal("%s: unshare", name);
		rep->netns = spec->new_netns;
		pivot_to_empty_root(name, spec->bind_dir);
		rep->rootfs = 1;
		drop_uid(name, uid, gid);
		rearm_parent_death(ppid);
		/* uid_map of a non-dumpable process belongs to root. */
		if (prctl(PR_SET_DUMPABLE, 1) == -1)
			fatal("%s: PR_SET_DUMPABLE", name);
		if (!userns_sysctl_allows(procfd, why, sizeof(why)))
			note(rep, "no user namespace: %s", why);
		else if (unshare(CLONE_NEWUSER) == -1)
			note(rep, "no user namespace: unshare: %s",
			    strerror(errno));
		else if (map_self(procfd, uid, gid) == -1)
			fatal("%s: write uid/gid map", name);
		else
			rep->userns = 1;
	} else {
		if (!userns_sysctl_allows(procfd, why, sizeof(why)))
			note(rep, "no user namespace: %s", why);
		else if (unshare(CLONE_NEWUSER | nsflags) == -1)
			note(rep, "no user namespace: unshare: %s",
			    strerror(errno));
		else {
			if (map_self(procfd, uid, gid) == -1)
				fatal("%s: write uid/gid map", name);
			rep->userns = 1;
			rep->netns = spec->new_netns;
			pivot_to_empty_root(name, spec->bind_dir);
			rep->rootfs = 1;
		}
		if (!rep->userns)
			note(rep, "unprivileged without user namespace: "
			    "no network namespace, no empty root");
	}
	close(procfd);

	drop_capabilities(name, rep);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", name);
	rep->nnp = 1;
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		fatal("%s: PR_SET_DUMPABLE", name);
	set_limits(spec);
	rep->seccomp = 1;
	load_seccomp(name, spec->rules, spec->nrules, true);
	if (rep->note[0] != '\0')
		log_info("sandbox: %s", rep->note);
}

void
sandbox_report_string(const struct sandbox_report *rep, char *buf, size_t len)
{
	snprintf(buf, len, "userns=%s netns=%s root=%s caps=%s nnp=%s "
	    "seccomp=%s uid=%u%s%s",
	    rep->userns ? "yes" : "no", rep->netns ? "empty" : "host",
	    rep->rootfs ? "empty" : "host", rep->caps ? "none" : "HELD",
	    rep->nnp ? "yes" : "no", rep->seccomp ? "kill" : "off",
	    (unsigned)rep->uid, rep->note[0] ? " note: " : "", rep->note);
}
