/*
 * cmd_doctor.c: `capsemctl doctor [--json] [agent]`: every precondition of
 * `capsemctl start AGENT`, one line each, with what fixes it.
 *
 *   kvm       hostprobe.c: hardware KVM, openable by this user
 *   userns    a real sandbox_enter() in a forked probe: its user namespace
 *   sandbox   the same probe: empty netns, empty root, no caps, no_new_privs
 *   seccomp   the same probe: its allowlist kills a forbidden system call
 *   image     the default image: built, complete, has the agent, its pins
 *             those of this capsem's build script
 *   ca        the CA in use: both files, the user's key 0600 and ours
 *   policy    user.toml and corp.toml parse and merge (file:line: message)
 *   runtime   the sessions' runtime directory can be made and written
 *   disk      free space for the session (and the image build if needed)
 *   api-key   the agent's key variable (WARN: the agent starts without it)
 *
 * ok and WARN still start; any FAIL means `capsemctl start` would not.
 * Nothing is created or changed.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cmd_ca.h"
#include "cmd_doctor.h"
#include "cmd_image.h"
#include "cmd_policy.h"
#include "config.h"
#include "home.h"
#include "hostprobe.h"
#include "jsonout.h"
#include "policy.h"
#include "sandbox.h"
#include "session.h"

#define DOCTOR_MAX_CHECKS	16
#define DOCTOR_DETAIL_MAX	768
#define MIB			(1024ull * 1024)
#define DISK_SESSION_MIN	(256 * MIB)	/* logs, console, audit */
#define DISK_IMAGE_HOME_MIN	(1536 * MIB)	/* the image (~1 GB) */
#define DISK_IMAGE_CACHE_MIN	(5120 * MIB)	/* the build (~4 GB) */
#define IMAGE_CACHE_DEFAULT	"/var/cache/capsem"

enum check_status { CHECK_OK, CHECK_WARN, CHECK_FAIL };

struct check {
	const char	*name;
	enum check_status status;
	char		 detail[DOCTOR_DETAIL_MAX];
};

struct doctor {
	const struct agent *agent;
	struct host_probe hp;
	struct check	 checks[DOCTOR_MAX_CHECKS];
	size_t		 nchecks;
	int		 image_built;
};

static void
say(struct doctor *d, const char *name, enum check_status st,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
say(struct doctor *d, const char *name, enum check_status st,
    const char *fmt, ...)
{
	struct check *c;
	va_list	 ap;

	if (d->nchecks == DOCTOR_MAX_CHECKS)
		return;
	c = &d->checks[d->nchecks++];
	c->name = name;
	c->status = st;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static void
check_kvm(struct doctor *d)
{
	char	 found[256], verdict[512];

	host_probe(NULL, &d->hp);
	host_probe_found(&d->hp, found, sizeof(found));
	host_probe_verdict(&d->hp, verdict, sizeof(verdict));
	if (host_probe_can_run(&d->hp))
		say(d, "kvm", CHECK_OK, "%s: %s", verdict, found);
	else
		say(d, "kvm", CHECK_FAIL, "%s (found: %s)", verdict, found);
}

/* ------------------------------------------------------------------------ */
/* The sandbox, entered for real by a forked probe.                          */

static const struct seccomp_rule probe_rules[] = {
	{ "write", -1, 0 },
	{ "exit", -1, 0 },
	{ "exit_group", -1, 0 },
};

static const struct sandbox_spec probe_spec = {
	.name = "doctor-probe",
	.new_netns = true,
	.nofile = 16,
	.rules = probe_rules,
	.nrules = sizeof(probe_rules) / sizeof(probe_rules[0]),
};

static __attribute__((noreturn)) void
probe_child(int rep_fd, int err_fd)
{
	struct sandbox_report rep;
	size_t	 off = 0;
	ssize_t	 n;

	if (dup2(err_fd, STDERR_FILENO) == -1)
		_exit(126);
	if (err_fd != STDERR_FILENO)
		close(err_fd);
	memset(&rep, 0, sizeof(rep));
	sandbox_enter(&probe_spec, &rep);	/* fatal() on a failed step */
	while (off < sizeof(rep) && (n = write(rep_fd,
	    (const char *)&rep + off, sizeof(rep) - off)) > 0)
		off += (size_t)n;
	/* Not on the allowlist: the filter must kill us with SIGSYS. */
	(void)syscall(SYS_getppid);
	_exit(0);
}

/* Up to len bytes of fd into buf, until EOF; the count read. */
static size_t
read_bytes(int fd, void *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Read all of fd into buf (NUL-terminated, cut to fit); bytes read. */
static size_t
read_all(int fd, char *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;
	char	 sink[256];

	for (;;) {
		if (got + 1 < len)
			n = read(fd, buf + got, len - 1 - got);
		else
			n = read(fd, sink, sizeof(sink));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got + 1 < len)
			got += (size_t)n;
	}
	if (len > 0)
		buf[got < len ? got : len - 1] = '\0';
	return got;
}

static void
check_sandbox(struct doctor *d)
{
	struct sandbox_report rep;
	char	 err[512], *nl;
	int	 rp[2], ep[2], status = 0;
	size_t	 got;
	pid_t	 pid;

	if (pipe2(rp, O_CLOEXEC) == -1)
		goto sysfail;
	if (pipe2(ep, O_CLOEXEC) == -1) {
		close(rp[0]);
		close(rp[1]);
		goto sysfail;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		close(rp[0]);
		close(rp[1]);
		close(ep[0]);
		close(ep[1]);
		goto sysfail;
	}
	if (pid == 0) {
		close(rp[0]);
		close(ep[0]);
		probe_child(rp[1], ep[1]);
	}
	close(rp[1]);
	close(ep[1]);
	memset(&rep, 0, sizeof(rep));
	got = read_bytes(rp[0], &rep, sizeof(rep));
	read_all(ep[0], err, sizeof(err));
	close(rp[0]);
	close(ep[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	for (nl = err; (nl = strchr(nl, '\n')) != NULL; )
		*nl = ' ';
	if (got != sizeof(rep)) {
		say(d, "userns", CHECK_FAIL, "the sandbox could not be entered: "
		    "%s (unprivileged user namespaces off? sysctl "
		    "kernel.unprivileged_userns_clone=1 and "
		    "user.max_user_namespaces > 0)", err[0] ? err :
		    "the probe ended without a word");
		say(d, "sandbox", CHECK_FAIL, "not entered (see userns)");
		say(d, "seccomp", CHECK_FAIL, "not reached (see userns)");
		return;
	}
	rep.note[sizeof(rep.note) - 1] = '\0';
	if (rep.userns)
		say(d, "userns", CHECK_OK, "the children run in their own user "
		    "namespace as uid %u", rep.uid);
	else
		say(d, "userns", geteuid() == 0 ? CHECK_WARN : CHECK_FAIL,
		    "no user namespace (%s); the children run as uid %u "
		    "without one; sysctl kernel.unprivileged_userns_clone=1 "
		    "gives them one", rep.note[0] ? rep.note : "refused",
		    rep.uid);
	if (rep.netns && rep.rootfs && rep.caps && rep.nnp)
		say(d, "sandbox", CHECK_OK, "empty network namespace, empty "
		    "read-only root, no capabilities, no_new_privs");
	else
		say(d, "sandbox", CHECK_FAIL, "incomplete:%s%s%s%s (%s)",
		    rep.netns ? "" : " no netns", rep.rootfs ? "" : " no root",
		    rep.caps ? "" : " capabilities kept",
		    rep.nnp ? "" : " no no_new_privs", rep.note);
	if (rep.seccomp && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		say(d, "seccomp", CHECK_OK, "allowlist loaded; a forbidden "
		    "system call killed the probe (SIGSYS)");
	else
		say(d, "seccomp", CHECK_FAIL, "a forbidden system call did "
		    "not kill the probe (%s %d): the kernel needs "
		    "CONFIG_SECCOMP_FILTER", WIFSIGNALED(status) ? "signal" :
		    "exit status", WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status));
	return;
sysfail:
	say(d, "userns", CHECK_FAIL, "cannot start the probe: %s",
	    strerror(errno));
}

/* ------------------------------------------------------------------------ */

static void
check_image(struct doctor *d)
{
	char	 dir[PATH_MAX], why[PATH_MAX + 128], key[128], pins[1024];
	char	 have_pins[1024], kernel[128], version[64];
	char	 manifest[PATH_MAX + 16];

	if (image_dir("default", dir, sizeof(dir)) == -1) {
		say(d, "image", CHECK_FAIL, "no image directory (no home "
		    "directory? set CAPSEM_HOME)");
		return;
	}
	if (!image_dir_ready(dir, why, sizeof(why))) {
		snprintf(manifest, sizeof(manifest), "%s/manifest.json", dir);
		if (geteuid() != 0)
			say(d, "image", CHECK_FAIL, "default: %s; building it "
			    "needs root: sudo capsemctl image build", access(
			    manifest, F_OK) == 0 ? why : "not built");
		else
			say(d, "image", CHECK_WARN, "default: %s; the first "
			    "`capsemctl start` builds it (5-10 minutes, the "
			    "Debian archive and the npm registry), or run "
			    "`capsemctl image build`", access(manifest, F_OK)
			    == 0 ? why : "not built");
		return;
	}
	d->image_built = 1;
	snprintf(key, sizeof(key), "agents/%s/command", d->agent->name);
	if (image_manifest_string(dir, key, why, sizeof(why)) == -1) {
		say(d, "image", CHECK_FAIL, "default (%s) has no %s: "
		    "capsemctl image build -f", dir, d->agent->name);
		return;
	}
	snprintf(key, sizeof(key), "agents/%s/version", d->agent->name);
	if (image_manifest_string(dir, key, version, sizeof(version)) == -1)
		strlcpy(version, "?", sizeof(version));
	if (image_manifest_string(dir, "versions/kernel", kernel,
	    sizeof(kernel)) == -1)
		strlcpy(kernel, "?", sizeof(kernel));
	if (image_manifest_string(dir, "pins", have_pins, sizeof(have_pins))
	    == -1)
		have_pins[0] = '\0';
	if (image_current_pins(pins, sizeof(pins)) == 0 &&
	    strcmp(pins, have_pins) != 0)
		say(d, "image", CHECK_WARN, "default (%s) is stale: built with "
		    "other pins or an older build script than this capsem's; "
		    "`capsemctl image build` brings it up to date", dir);
	else
		say(d, "image", CHECK_OK, "default (%s): %s %s, guest kernel "
		    "%s", dir, d->agent->name, version, kernel);
}

static void
check_ca(struct doctor *d)
{
	struct stat sb;
	char	 pem[PATH_MAX], key[PATH_MAX];
	int	 corp, have_pem, have_key;

	if (ca_paths(pem, sizeof(pem), key, sizeof(key), &corp) == -1) {
		say(d, "ca", CHECK_FAIL, "the CA's paths cannot be made (see "
		    "above)");
		return;
	}
	if (corp) {
		if (access(key, R_OK) == -1)
			say(d, "ca", CHECK_FAIL, "company CA %s: its key %s: %s",
			    pem, key, strerror(errno));
		else
			say(d, "ca", CHECK_OK, "company CA %s", pem);
		return;
	}
	have_pem = access(pem, F_OK) == 0;
	have_key = lstat(key, &sb) == 0;
	if (!have_pem && !have_key) {
		say(d, "ca", CHECK_OK, "none yet: the first start makes one "
		    "in %s (or capsemctl ca init)", pem);
		return;
	}
	if (have_pem != have_key) {
		say(d, "ca", CHECK_FAIL, "only %s exists: capsemctl ca init "
		    "--force makes a new pair", have_pem ? pem : key);
		return;
	}
	if (!S_ISREG(sb.st_mode))
		say(d, "ca", CHECK_FAIL, "%s is not a regular file", key);
	else if (sb.st_uid != geteuid())
		say(d, "ca", CHECK_FAIL, "%s belongs to uid %u, not to you: "
		    "chown it, or capsemctl ca init --force", key,
		    (unsigned)sb.st_uid);
	else if ((sb.st_mode & 077) != 0)
		say(d, "ca", CHECK_FAIL, "%s is mode %04o, readable by others: "
		    "chmod 600 %s (and treat the CA as exposed: capsemctl ca "
		    "init --force)", key, (unsigned)(sb.st_mode & 07777), key);
	else
		say(d, "ca", CHECK_OK, "%s, key 0600", pem);
}

static void
check_policy(struct doctor *d)
{
	struct policy *p;
	char	 upath[4096], cpath[4096], err[CONFIG_ERR_MAX];
	int	 have_user, have_corp;

	if (capsem_config_paths(upath, sizeof(upath), cpath, sizeof(cpath))
	    == -1) {
		say(d, "policy", CHECK_FAIL, "policy file paths: %s",
		    strerror(errno));
		return;
	}
	if ((p = policy_load_files(d->agent->name, &have_user, &have_corp,
	    err, sizeof(err))) == NULL) {
		say(d, "policy", CHECK_FAIL, "%s", err);
		return;
	}
	policy_free(p);
	say(d, "policy", CHECK_OK, "%s%s; %s", have_user ? upath :
	    "no user.toml: the built-in default for ", have_user ? "" :
	    d->agent->name, have_corp ? cpath : "no corp.toml");
}

/* The deepest existing directory on the way to path, into buf. */
static void
existing_ancestor(const char *path, char *buf, size_t len)
{
	char	*slash;

	strlcpy(buf, path, len);
	while (buf[0] != '\0' && access(buf, F_OK) == -1) {
		if ((slash = strrchr(buf, '/')) == NULL || slash == buf) {
			strlcpy(buf, "/", len);
			return;
		}
		*slash = '\0';
	}
}

static void
check_runtime(struct doctor *d)
{
	struct stat sb;
	char	 dir[PATH_MAX], base[PATH_MAX];

	if (session_runtime_dir(dir, sizeof(dir), false) == -1) {
		say(d, "runtime", CHECK_FAIL, "no runtime directory: %s (set "
		    "XDG_RUNTIME_DIR or HOME)", strerror(errno));
		return;
	}
	existing_ancestor(dir, base, sizeof(base));
	if (stat(base, &sb) == -1 || !S_ISDIR(sb.st_mode))
		say(d, "runtime", CHECK_FAIL, "%s: not a directory", base);
	else if (access(base, W_OK | X_OK) == -1)
		say(d, "runtime", CHECK_FAIL, "%s: %s: capsem keeps its "
		    "sessions' sockets under %s", base, strerror(errno), dir);
	else
		say(d, "runtime", CHECK_OK, "%s%s", dir, strcmp(base, dir) == 0
		    ? "" : " (made at the first start)");
}

static int
free_bytes(const char *path, char *where, size_t wlen,
    unsigned long long *bytes)
{
	struct statvfs vfs;

	existing_ancestor(path, where, wlen);
	if (statvfs(where, &vfs) == -1)
		return -1;
	*bytes = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	return 0;
}

static void
check_disk(struct doctor *d)
{
	char	 home[PATH_MAX], where[PATH_MAX], cwhere[PATH_MAX];
	const char *cache = getenv("CAPSEM_CACHE");
	unsigned long long have, chave, need;

	if (capsem_home(home, sizeof(home)) == -1 ||
	    free_bytes(home, where, sizeof(where), &have) == -1) {
		say(d, "disk", CHECK_FAIL, "cannot see the free space of the "
		    "capsem home: %s", strerror(errno));
		return;
	}
	need = d->image_built ? DISK_SESSION_MIN : DISK_IMAGE_HOME_MIN;
	if (have < need) {
		say(d, "disk", CHECK_FAIL, "%llu MiB free in %s, %llu MiB "
		    "needed%s", have / MIB, where, need / MIB, d->image_built ?
		    "" : " for the image");
		return;
	}
	if (!d->image_built) {
		if (cache == NULL || cache[0] != '/')
			cache = IMAGE_CACHE_DEFAULT;
		if (free_bytes(cache, cwhere, sizeof(cwhere), &chave) == 0 &&
		    chave < DISK_IMAGE_CACHE_MIN) {
			say(d, "disk", CHECK_FAIL, "%llu MiB free in %s, %llu "
			    "MiB needed to build the image there (set "
			    "CAPSEM_CACHE elsewhere)", chave / MIB, cwhere,
			    DISK_IMAGE_CACHE_MIN / MIB);
			return;
		}
	}
	say(d, "disk", CHECK_OK, "%llu MiB free in %s", have / MIB, where);
}

static void
check_key(struct doctor *d)
{
	const char *v = getenv(d->agent->key_env);

	if (v != NULL && v[0] != '\0')
		say(d, "api-key", CHECK_OK, "%s is set: the proxy adds it to "
		    "%s's requests, the guest sees a placeholder",
		    d->agent->key_env, d->agent->name);
	else
		say(d, "api-key", CHECK_WARN, "%s is not set: %s starts, but "
		    "its API requests will fail (export %s=...)",
		    d->agent->key_env, d->agent->name, d->agent->key_env);
}

/* ------------------------------------------------------------------------ */

static const char *
status_word(enum check_status st, int json)
{
	switch (st) {
	case CHECK_OK:
		return "ok";
	case CHECK_WARN:
		return json ? "warn" : "WARN";
	case CHECK_FAIL:
		break;
	}
	return json ? "fail" : "FAIL";
}

static void
print_json(const struct doctor *d, size_t nfail)
{
	char	 found[256], verdict[512];
	size_t	 i;

	host_probe_found(&d->hp, found, sizeof(found));
	host_probe_verdict(&d->hp, verdict, sizeof(verdict));
	printf("{\"agent\":\"%s\",\"ok\":%s,\"kvm\":{\"kind\":\"%s\","
	    "\"can_run\":%s,\"vendor\":", d->agent->name, nfail ? "false" :
	    "true", host_kvm_name(d->hp.kvm), host_probe_can_run(&d->hp) ?
	    "true" : "false");
	json_put_string(stdout, d->hp.vendor);
	printf(",\"found\":");
	json_put_string(stdout, found);
	printf(",\"verdict\":");
	json_put_string(stdout, verdict);
	printf("},\"checks\":[");
	for (i = 0; i < d->nchecks; i++) {
		printf("%s{\"name\":\"%s\",\"status\":\"%s\",\"detail\":",
		    i ? "," : "", d->checks[i].name,
		    status_word(d->checks[i].status, 1));
		json_put_string(stdout, d->checks[i].detail);
		printf("}");
	}
	printf("]}\n");
}

int
cmd_doctor(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct doctor d;
	size_t	 i, nfail = 0;
	int	 ch, json = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+j", longopts, NULL)) != -1) {
		if (ch != 'j') {
			fprintf(stderr, "usage: capsemctl %s\n",
			    CMD_DOCTOR_USAGE);
			return 2;
		}
		json = 1;
	}
	argc -= optind;
	argv += optind;
	memset(&d, 0, sizeof(d));
	if (argc > 1 || (d.agent = agent_find(argc == 1 ? argv[0] :
	    "claude")) == NULL) {
		if (argc == 1)
			fprintf(stderr, "capsemctl: doctor: unknown agent "
			    "\"%s\": use %s\n", argv[0], agent_names());
		fprintf(stderr, "usage: capsemctl %s\n", CMD_DOCTOR_USAGE);
		return 2;
	}
	check_kvm(&d);
	check_sandbox(&d);
	check_image(&d);
	check_ca(&d);
	check_policy(&d);
	check_runtime(&d);
	check_disk(&d);
	check_key(&d);
	for (i = 0; i < d.nchecks; i++)
		nfail += d.checks[i].status == CHECK_FAIL;
	if (json) {
		print_json(&d, nfail);
		return nfail ? 1 : 0;
	}
	for (i = 0; i < d.nchecks; i++)
		printf("%-4s  %-8s %s\n", status_word(d.checks[i].status, 0),
		    d.checks[i].name, d.checks[i].detail);
	if (nfail)
		printf("doctor: `capsemctl start %s` cannot start here: %zu "
		    "check%s failed\n", d.agent->name, nfail, nfail == 1 ? "" :
		    "s");
	else
		printf("doctor: `capsemctl start %s` can start here\n",
		    d.agent->name);
	return nfail ? 1 : 0;
}
