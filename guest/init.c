/*
 * capsem-init: PID 1 of the capsem guest.
 *
 * Life of the guest, in order (each stage is logged on the console with the
 * time from /proc/uptime):
 *   1. mount /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm, /run, /tmp;
 *   2. read /capsem/session.conf (guest/PROTOCOL); with root=, mount that
 *      read-only image under a tmpfs overlay and switch to it;
 *   3. network: dummy0 up with 10.0.2.15/24 and the default route, the
 *      redirect/reject rules (init_net.c), capsem-relay and capsem-dns;
 *   4. the session CA into the system bundle and /etc/capsem/ca.pem,
 *      resolv.conf -> 127.0.0.1;
 *   5. "READY" on the control stream (vsock port 1024), then the session
 *      command on the console (hvc0) as the configured user, with the CA
 *      variables in its environment;
 *   6. when it ends: "EXIT <status>" on the control stream, every other
 *      process terminated, sync, reboot(RB_AUTOBOOT) (the kernel runs with
 *      reboot=t; the vmm treats a reboot as the end of the guest).
 * Zombies are reaped all along. Any failure reports "ERROR <reason>" and
 * powers off: PID 1 never exits.
 *
 * Not PID 1 (host tests and tools):
 *   capsem-init --print-rules          the nft ruleset the guest loads
 *   capsem-init --setup-net IFNAME     lo + IFNAME + default route + rules
 *   capsem-init --check-conf FILE      parse a session.conf
 */
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "log.h"
#include "session_conf.h"
#include "upstream.h"

#define INIT_ENV_MAX		(SESSION_ENV_MAX + 32)
#define INIT_ENVBUF		(SESSION_CONF_MAX + 8192)
#define INIT_GROUPS_MAX		64
#define INIT_PASSWD_MAX		(256 * 1024)
#define INIT_DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct init_user {
	char	 name[33];
	uid_t	 uid;
	gid_t	 gid;
	char	 home[256];
	char	 shell[256];
	gid_t	 groups[INIT_GROUPS_MAX];
	size_t	 ngroups;
};

struct init {
	struct session_conf sc;
	struct init_user user;
	int	 control_fd;
	pid_t	 session_pid;
	pid_t	 relay_pid;
	pid_t	 dns_pid;
	size_t	 nenv;
	char	*env[INIT_ENV_MAX + 1];
	size_t	 envbuf_used;
	char	 envbuf[INIT_ENVBUF];
};

/* Send one control line (guest/PROTOCOL); errors are only logged. */
static void
init_report(struct init *in, const char *fmt, ...)
{
	char	 line[256];
	va_list	 ap;
	int	 n;

	if (in->control_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* Keep it one printable line. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			line[i] = '?';
	line[n++] = '\n';
	if (write(in->control_fd, line, (size_t)n) != n)
		log_warn("control write");
}

static void __attribute__((noreturn))
init_poweroff(void)
{
	sync();
	reboot(RB_AUTOBOOT);
	/* Only reached if reboot failed: PID 1 must not exit. */
	log_warn("reboot");
	for (;;)
		pause();
}

static void __attribute__((noreturn, format(printf, 2, 3)))
init_fail(struct init *in, const char *fmt, ...)
{
	char	 msg[200];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("fatal: %s", msg);
	init_report(in, "ERROR %s", msg);
	init_poweroff();
}

static void
init_control_open(struct init *in)
{
	struct upstream	 up;
	const char	*errmsg;
	int		 fd;

	in->control_fd = -1;
	if (strcmp(in->sc.control, "none") == 0)
		return;
	if (upstream_parse(&up, in->sc.control, &errmsg) == -1) {
		log_warnx("control %s: %s", in->sc.control, errmsg);
		return;
	}
	if ((fd = socket(up.addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("control socket");
		return;
	}
	if (connect(fd, &up.addr.sa, up.addrlen) == -1) {
		log_warn("control connect %s", up.text);
		close(fd);
		return;
	}
	in->control_fd = fd;
}

/* Read a passwd/group style file into a heap buffer; NULL if absent. */
static char *
init_read_db(const char *path)
{
	char	*buf;
	size_t	 len;

	if ((buf = malloc(INIT_PASSWD_MAX)) == NULL)
		return NULL;
	if (init_read_file(path, buf, INIT_PASSWD_MAX, &len) == -1) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Split a line at ':' into at most nfields fields; returns the count. */
static size_t
split_fields(char *line, char **fields, size_t nfields)
{
	size_t	 n = 0;

	fields[n++] = line;
	for (char *p = line; *p != '\0' && n < nfields; p++)
		if (*p == ':') {
			*p = '\0';
			fields[n++] = p + 1;
		}
	return n;
}

static int
parse_id(const char *s, unsigned int *out)
{
	unsigned long v;

	if (parse_uint(s, 0, 0xfffffffeUL, &v) == -1)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

/* Look the user up in the image's /etc/passwd and /etc/group (no NSS). */
static int
init_lookup_user(struct init *in)
{
	struct init_user *u = &in->user;
	char	*db, *line, *save = NULL;
	int	 found = 0;

	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", in->sc.user);
	if (strcmp(u->name, "root") == 0) {
		/* root works even in an image without /etc/passwd. */
		snprintf(u->home, sizeof(u->home), "/root");
		snprintf(u->shell, sizeof(u->shell), "/bin/sh");
		found = 1;
	}
	if ((db = init_read_db("/etc/passwd")) != NULL) {
		for (line = strtok_r(db, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			char	*f[7];
			unsigned int uid, gid;

			if (split_fields(line, f, 7) != 7 ||
			    strcmp(f[0], u->name) != 0)
				continue;
			if (parse_id(f[2], &uid) == -1 || parse_id(f[3], &gid) == -1)
				continue;
			u->uid = uid;
			u->gid = gid;
			snprintf(u->home, sizeof(u->home), "%s", f[5][0] ? f[5] : "/");
			snprintf(u->shell, sizeof(u->shell), "%s",
			    f[6][0] ? f[6] : "/bin/sh");
			found = 1;
			break;
		}
		free(db);
	}
	if (!found) {
		log_warnx("user %s is not in /etc/passwd", u->name);
		return -1;
	}
	u->groups[u->ngroups++] = u->gid;
	if ((db = init_read_db("/etc/group")) != NULL) {
		save = NULL;
		for (line = strtok_r(db, "\n", &save); line != NULL &&
		    u->ngroups < INIT_GROUPS_MAX;
		    line = strtok_r(NULL, "\n", &save)) {
			char	*f[4], *m, *msave = NULL;
			unsigned int gid;

			if (split_fields(line, f, 4) != 4 ||
			    parse_id(f[2], &gid) == -1 || gid == u->gid)
				continue;
			for (m = strtok_r(f[3], ",", &msave); m != NULL;
			    m = strtok_r(NULL, ",", &msave))
				if (strcmp(m, u->name) == 0) {
					u->groups[u->ngroups++] = gid;
					break;
				}
		}
		free(db);
	}
	return 0;
}

/* Set NAME=VALUE in the session environment, replacing an earlier NAME. */
static int
init_env_set(struct init *in, const char *name, const char *value)
{
	size_t	 namelen = strlen(name);
	size_t	 need = namelen + 1 + strlen(value) + 1;
	char	*entry;
	size_t	 i;

	if (need > sizeof(in->envbuf) - in->envbuf_used)
		return -1;
	entry = in->envbuf + in->envbuf_used;
	snprintf(entry, need, "%s=%s", name, value);
	in->envbuf_used += need;
	for (i = 0; i < in->nenv; i++)
		if (strncmp(in->env[i], entry, namelen + 1) == 0) {
			in->env[i] = entry;
			return 0;
		}
	if (in->nenv == INIT_ENV_MAX)
		return -1;
	in->env[in->nenv++] = entry;
	in->env[in->nenv] = NULL;
	return 0;
}

static int
init_build_env(struct init *in)
{
	const struct init_user *u = &in->user;
	int	 rc = 0;

	rc |= init_env_set(in, "PATH", INIT_DEFAULT_PATH);
	rc |= init_env_set(in, "HOME", u->home);
	rc |= init_env_set(in, "USER", u->name);
	rc |= init_env_set(in, "LOGNAME", u->name);
	rc |= init_env_set(in, "SHELL", u->shell);
	rc |= init_env_set(in, "TERM", in->sc.term);
	rc |= init_env_set(in, "LANG", "C.UTF-8");
	rc |= init_env_set(in, "CAPSEM", "1");
	/* Every TLS stack the agents use, pointed at the session CA. */
	rc |= init_env_set(in, "NODE_EXTRA_CA_CERTS", INIT_CA_COPY);
	rc |= init_env_set(in, "SSL_CERT_FILE", INIT_CA_BUNDLE);
	rc |= init_env_set(in, "REQUESTS_CA_BUNDLE", INIT_CA_BUNDLE);
	rc |= init_env_set(in, "CURL_CA_BUNDLE", INIT_CA_BUNDLE);
	rc |= init_env_set(in, "GIT_SSL_CAINFO", INIT_CA_BUNDLE);
	for (size_t i = 0; i < in->sc.nenv; i++) {
		char	 name[256];
		const char *eq = strchr(in->sc.env[i], '=');
		size_t	 len = (size_t)(eq - in->sc.env[i]);

		if (len >= sizeof(name))
			return -1;
		memcpy(name, in->sc.env[i], len);
		name[len] = '\0';
		rc |= init_env_set(in, name, eq + 1);
	}
	return rc == 0 ? 0 : -1;
}

/* execve with a PATH search in the session's PATH (not init's). */
static void
init_exec(char *const argv[], char *const envp[])
{
	char	 path[4096];
	const char *dirs = INIT_DEFAULT_PATH;

	for (size_t i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			dirs = envp[i] + 5;
	if (strchr(argv[0], '/') != NULL) {
		execve(argv[0], argv, envp);
		return;
	}
	while (*dirs != '\0') {
		size_t	 len = strcspn(dirs, ":");

		if (len > 0 && (size_t)snprintf(path, sizeof(path), "%.*s/%s",
		    (int)len, dirs, argv[0]) < sizeof(path))
			execve(path, argv, envp);
		dirs += len;
		if (*dirs == ':')
			dirs++;
	}
	errno = ENOENT;
}

static pid_t
init_spawn_helper(const char *path)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		char	*argv[] = { (char *)path, NULL };
		char	*envp[] = { (char *)"PATH=" INIT_DEFAULT_PATH, NULL };
		int	 null = open("/dev/null", O_RDONLY);

		if (null != -1)
			dup2(null, STDIN_FILENO);
		setsid();
		execve(path, argv, envp);
		log_warn("exec %s", path);
		_exit(127);
	}
	return pid;
}

static pid_t
init_spawn_session(struct init *in)
{
	static char *default_argv[] = { (char *)"/bin/sh", NULL };
	char	*const *argv = in->sc.argc > 0 ? in->sc.argv : default_argv;
	const struct init_user *u = &in->user;
	const char *cwd = in->sc.cwd[0] != '\0' ? in->sc.cwd :
	    in->sc.workspace != SESSION_WORKSPACE_NONE ? SESSION_WORKSPACE_DIR :
	    u->home;
	pid_t	 pid;

	if ((pid = fork()) == -1)
		return -1;
	if (pid != 0)
		return pid;

	/* The child: a new session whose controlling terminal is the console. */
	int	 fd;

	if (setsid() == -1)
		_exit(126);
	if ((fd = open(in->sc.console, O_RDWR | O_NOCTTY)) == -1) {
		log_warn("open %s", in->sc.console);
		_exit(126);
	}
	if (ioctl(fd, TIOCSCTTY, 0) == -1)
		log_warn("TIOCSCTTY %s", in->sc.console);
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		_exit(126);
	if (fd > STDERR_FILENO)
		close(fd);
	if (setgroups(u->ngroups, u->groups) == -1 || setgid(u->gid) == -1 ||
	    setuid(u->uid) == -1) {
		log_warn("become %s", u->name);
		_exit(126);
	}
	if (chdir(cwd) == -1 && chdir("/") == -1)
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	init_exec(argv, in->env);
	log_warn("exec %s", argv[0]);
	_exit(127);
}

static int
exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* Reap until the session process ends; returns its exit code. */
static int
init_wait_session(struct init *in)
{
	for (;;) {
		int	 status;
		pid_t	 pid = waitpid(-1, &status, 0);

		if (pid == -1) {
			if (errno == EINTR)
				continue;
			log_warn("waitpid");
			return 255;
		}
		if (pid == in->session_pid)
			return exit_code(status);
		if (pid == in->relay_pid) {
			log_warnx("capsem-relay ended (status %d)", exit_code(status));
			in->relay_pid = -1;
		} else if (pid == in->dns_pid) {
			log_warnx("capsem-dns ended (status %d)", exit_code(status));
			in->dns_pid = -1;
		}
	}
}

/* SIGTERM everything, give it a second, SIGKILL, reap. */
static void
init_end_all(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	kill(-1, SIGTERM);
	for (int i = 0; i < 50; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(-1, 0) == -1 && errno == ESRCH)
			return;
		nanosleep(&ts, NULL);
	}
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

static void
init_console(void)
{
	int	 fd;

	/* The kernel console (serial) carries init's own log lines. */
	if ((fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static void
init_read_session_conf(struct init *in)
{
	char	*buf;
	char	 err[128];
	size_t	 len;

	session_conf_defaults(&in->sc);
	if (access(INIT_SESSION_CONF, F_OK) == -1) {
		log_warnx("no %s: defaults (root, /bin/sh)", INIT_SESSION_CONF);
		return;
	}
	if ((buf = malloc(SESSION_CONF_MAX + 1)) == NULL)
		init_fail(in, "out of memory");
	if (init_read_file(INIT_SESSION_CONF, buf, SESSION_CONF_MAX + 1,
	    &len) == -1)
		init_fail(in, "read %s: %s", INIT_SESSION_CONF, strerror(errno));
	if (session_conf_parse(&in->sc, buf, len, err, sizeof(err)) == -1) {
		/* Report on the default control stream. */
		session_conf_defaults(&in->sc);
		init_control_open(in);
		init_fail(in, "%s: %s", INIT_SESSION_CONF, err);
	}
	free(buf);
}

static int __attribute__((noreturn))
init_pid1(void)
{
	struct init	*in;
	int		 code;

	init_console();
	umask(022);
	signal(SIGPIPE, SIG_IGN);
	if ((in = calloc(1, sizeof(*in))) == NULL)
		init_poweroff();
	in->control_fd = -1;
	in->session_pid = in->relay_pid = in->dns_pid = -1;

	if (init_mounts() == -1)
		init_fail(in, "mounting the kernel file systems failed");
	init_stage("mounts");
	init_read_session_conf(in);
	/* The control stream first, so that later failures reach the host. */
	init_control_open(in);
	if (in->sc.root[0] != '\0') {
		if (init_switch_root(&in->sc) == -1)
			init_fail(in, "cannot use root image %s", in->sc.root);
		init_stage("root");
	}
	if (sethostname(in->sc.hostname, strlen(in->sc.hostname)) == -1)
		log_warn("sethostname");
	if (init_write_hosts(in->sc.hostname) == -1)
		log_warn("write /etc/hosts");
	if (in->sc.net) {
		if (init_net_links(INIT_NET_IFNAME, true) == -1)
			init_fail(in, "network interface setup failed");
		if (init_net_rules() == -1)
			init_fail(in, "loading the redirect rules failed");
		in->relay_pid = init_spawn_helper(INIT_RELAY_PATH);
		in->dns_pid = init_spawn_helper(INIT_DNS_PATH);
		if (in->relay_pid == -1 || in->dns_pid == -1)
			init_fail(in, "starting relay and DNS forwarder failed");
		if (init_write_resolv_conf() == -1)
			log_warn("write /etc/resolv.conf");
		init_stage("network");
	}
	if (init_install_ca() == -1)
		init_fail(in, "installing the session CA failed");
	if (init_lookup_user(in) == -1)
		init_fail(in, "unknown user %s", in->sc.user);
	if (init_mount_workspace(&in->sc) == -1)
		init_fail(in, "cannot mount the workspace at %s: %s",
		    SESSION_WORKSPACE_DIR, strerror(errno));
	if (in->sc.workspace != SESSION_WORKSPACE_NONE)
		init_stage("workspace");
	if (init_build_env(in) == -1)
		init_fail(in, "session environment too large");
	init_stage("ready");
	init_report(in, "READY");
	if ((in->session_pid = init_spawn_session(in)) == -1)
		init_fail(in, "fork: %s", strerror(errno));
	code = init_wait_session(in);
	log_info("session ended with status %d", code);
	init_report(in, "EXIT %d", code);
	init_end_all();
	init_stage("poweroff");
	init_poweroff();
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: capsem-init             (as PID 1 only)\n"
	    "       capsem-init --print-rules\n"
	    "       capsem-init --setup-net IFNAME\n"
	    "       capsem-init --check-conf FILE\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	log_init(1, 0);
	log_procinit("capsem-init");
	if (getpid() == 1)
		init_pid1();

	if (argc == 2 && strcmp(argv[1], "--print-rules") == 0) {
		fputs(init_net_ruleset(), stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (argc == 3 && strcmp(argv[1], "--setup-net") == 0) {
		if (init_net_links(argv[2], false) == -1 || init_net_rules() == -1)
			return 1;
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--check-conf") == 0) {
		struct session_conf *sc = malloc(sizeof(*sc));
		char	*buf = malloc(SESSION_CONF_MAX + 1);
		char	 err[128];
		size_t	 len;

		if (sc == NULL || buf == NULL)
			fatal("malloc");
		if (init_read_file(argv[2], buf, SESSION_CONF_MAX + 1, &len) == -1)
			fatal("%s", argv[2]);
		session_conf_defaults(sc);
		if (session_conf_parse(sc, buf, len, err, sizeof(err)) == -1)
			fatalx("%s: %s", argv[2], err);
		printf("user=%s net=%s root=%s args=%zu env=%zu\n", sc->user,
		    sc->net ? "on" : "off", sc->root[0] ? sc->root : "-",
		    sc->argc, sc->nenv);
		free(buf);
		free(sc);
		return 0;
	}
	usage();
}
