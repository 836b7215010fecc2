/*
 * session_setup.c: what the session's children are given, all read and
 * opened here (the children open nothing): the policy files, read once per
 * start or reload and sent as bytes to policyd, which parses them in its
 * sandbox; the proxies' and the VM's settings from the one parse of those
 * same bytes here; the CA (certificate bytes, key as an fd); the audit log
 * and console.log fds; the VM's files; session.json.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "capsem_config.h"
#include "cmd_ca.h"
#include "config.h"
#include "home.h"
#include "log.h"
#include "session_priv.h"
#include "session_record.h"

/* Read a config file whole; *present = false if it does not exist. */
static char *
read_config(const char *path, size_t *len, bool *present, char *err,
    size_t errlen)
{
	char	*buf;
	FILE	*f;

	*present = false;
	*len = 0;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return NULL;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(MSG_CONFIG_MAX + 1)) == NULL)
		fatal("malloc");
	*len = fread(buf, 1, MSG_CONFIG_MAX + 1, f);
	if (ferror(f) || *len > MSG_CONFIG_MAX) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ?
		    "read error" : "larger than 4 MiB");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*present = true;
	return buf;
}

/*
 * Both policy files, as bytes, then COMMIT: policyd parses them in its
 * sandbox and answers POLICY_RESULT.  No user file: present 0 and the
 * agent's name, for which policyd applies its built-in default (policy.c:
 * deny everything but the agent's API host).
 */
int
send_policy(struct session *s, const struct policy_input *pin)
{
	struct msg_policy_file pf;

	if (!pin->ok)
		return -1;	/* said already */
	memset(&pf, 0, sizeof(pf));
	pf.origin = POLICY_ORIGIN_USER;
	pf.present = pin->upresent;
	strlcpy(pf.name, pin->upresent ? pin->user : pin->agent,
	    sizeof(pf.name));
	if (!s->policyd->chan_open ||
	    imsgev_compose2(&s->policyd->iev, MSG_POLICY_FILE, 0, -1, &pf,
	    sizeof(pf), pin->ubuf, pin->upresent ? pin->ulen : 0) == -1)
		fatal("send %s to policyd", pf.name);
	memset(&pf, 0, sizeof(pf));
	pf.origin = POLICY_ORIGIN_CORP;
	pf.present = pin->cpresent;
	strlcpy(pf.name, pin->corp, sizeof(pf.name));
	if (imsgev_compose2(&s->policyd->iev, MSG_POLICY_FILE, 0, -1, &pf,
	    sizeof(pf), pin->cbuf, pin->cpresent ? pin->clen : 0) == -1 ||
	    imsgev_compose(&s->policyd->iev, MSG_POLICY_COMMIT, 0, -1, NULL,
	    0) == -1)
		fatal("send %s to policyd", pf.name);
	return 0;
}

/* $CAPSEM_HOME/sessions/<id>, and (sub != NULL) a name in it. */
static void
session_path(const struct session *s, const char *sub, char *buf, size_t len)
{
	char	 home[PATH_MAX];

	if (capsem_home(home, sizeof(home)) == -1 ||
	    (size_t)snprintf(buf, len, "%s/sessions/%s%s%s", home, s->id,
	    sub != NULL ? "/" : "", sub != NULL ? sub : "") >= len)
		fatalx("session directory path too long");
}

/*
 * A directory (made 0700 if it is not there, reused if it is: a named
 * session's) that is a directory of uid, not a link.
 */
static int
mkdir_owned(const char *path, uid_t uid, gid_t gid)
{
	struct stat sb;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	if (lstat(path, &sb) == -1)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (sb.st_uid != uid && (sb.st_uid != geteuid() ||
	    chown(path, uid, gid) == -1)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * Before the children are spawned: the session directory, and in it db/,
 * the one directory policyd reaches (bound into its empty root), owned by
 * the uid policyd runs as.  s->db_dirfd is its fd, for the spawn.
 * The session directory carries an open file description lock (a read
 * lock: SESSION_DIR_LOCKED) for as long as this process lives, which is
 * until every child is reaped: what `logs -f` waits for.
 */
void
session_dir_make(struct session *s)
{
	char	 home[PATH_MAX], dir[PATH_MAX], db[PATH_MAX];

	if (capsem_home(home, sizeof(home)) == -1 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/sessions", home) >=
	    sizeof(dir))
		fatalx("sessions directory path too long");
	if (mkdir_private(home) == -1 || mkdir_private(dir) == -1)
		fatal("%s", dir);
	session_path(s, NULL, dir, sizeof(dir));
	session_path(s, SESSION_DB_DIR, db, sizeof(db));
	if (mkdir_private(dir) == -1)
		fatal("%s", dir);
	if ((s->dir_lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || session_dir_lock(s->dir_lock_fd) == -1)
		fatal("lock %s", dir);
	/* root's children run as SANDBOX_UID: the database is theirs */
	if (mkdir_owned(db, geteuid() == 0 ? SANDBOX_UID : geteuid(),
	    geteuid() == 0 ? SANDBOX_GID : getegid()) == -1)
		fatal("%s", db);
	if ((s->db_dirfd = open(db, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		fatal("%s", db);
}

/*
 * The audit log: $CAPSEM_HOME/sessions/<id>/audit.jsonl, opened here;
 * then, for the session's first record, which directory is shared at
 * /workspace and how (capsem-policyd(8)).
 */
void
send_audit_fd(struct session *s)
{
	struct msg_audit_workspace aw;
	char	 path[PATH_MAX];
	int	 fd;

	session_path(s, "audit.jsonl", path, sizeof(path));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		fatal("%s", path);
	if (send_child(s->policyd, MSG_AUDIT_FD, 0, fd, NULL, 0) == -1)
		fatal("send the audit log to policyd");
	if (!s->ws.shared)
		return;
	memset(&aw, 0, sizeof(aw));
	aw.readonly = s->ws.readonly;
	if (strlcpy(aw.path, s->ws.path, sizeof(aw.path)) >= sizeof(aw.path))
		fatalx("workspace path too long for the audit");
	if (send_child(s->policyd, MSG_AUDIT_WORKSPACE, 0, -1, &aw,
	    sizeof(aw)) == -1)
		fatal("send the workspace to policyd");
}

/*
 * The CA: certificate bytes, then the key as an fd that certd reads once
 * and closes.  The parent never reads the key.
 */
void
send_ca(struct session *s)
{
	struct session_child *certd = s->certd;
	char	 pem[PATH_MAX], key[PATH_MAX];
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 corp, keyfd;

	if (ca_paths(pem, sizeof(pem), key, sizeof(key), &corp) == -1)
		fatalx("cannot locate the CA");
	if ((f = fopen(pem, "re")) == NULL)
		fatal("%s", pem);
	buf = malloc(MSG_CONFIG_MAX);
	if (buf == NULL)
		fatal("malloc");
	len = fread(buf, 1, MSG_CONFIG_MAX, f);
	if (ferror(f) || len == 0 || len == MSG_CONFIG_MAX)
		fatalx("%s: unreadable, empty or too large", pem);
	fclose(f);
	if ((keyfd = open(key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		fatal("%s", key);
	if (send_child(certd, MSG_CA_CERT, 0, -1, buf, len) == -1 ||
	    send_child(certd, MSG_CA_KEY, 0, keyfd, NULL, 0) == -1)
		fatal("send the CA to certd");
	free(buf);
	s->setup_pending++;
	log_debug("CA %s%s passed to certd", pem, corp ? " (company)" : "");
}

/* Read both policy files, once per start or reload. */
int
policy_input_read(struct policy_input *pin, const char *agent, char *err,
    size_t errlen)
{
	memset(pin, 0, sizeof(*pin));
	err[0] = '\0';
	pin->agent = agent != NULL ? agent : "claude";
	if (capsem_config_paths(pin->user, sizeof(pin->user), pin->corp,
	    sizeof(pin->corp)) == -1)
		fatal("policy file paths");
	pin->ubuf = read_config(pin->user, &pin->ulen, &pin->upresent, err,
	    errlen);
	if (err[0] != '\0')
		return -1;
	pin->cbuf = read_config(pin->corp, &pin->clen, &pin->cpresent, err,
	    errlen);
	if (err[0] != '\0')
		return -1;
	pin->ok = true;
	return 0;
}

/*
 * The one parse of those bytes in the parent, for the settings it hands
 * out (netproxy's, the VM's); policyd parses the same bytes in its sandbox
 * for the verdicts.
 */
struct policy *
policy_input_parse(const struct policy_input *pin, char *err, size_t errlen)
{
	struct config ucfg, ccfg;
	struct policy *pol = NULL;

	config_init(&ucfg);
	config_init(&ccfg);
	if (pin->upresent) {
		if (config_parse_buf(&ucfg, pin->user, pin->ubuf, pin->ulen, err,
		    errlen) == -1)
			goto out;
	} else if (policy_builtin_default(pin->agent, &ucfg) == -1) {
		snprintf(err, errlen, "no built-in policy for %s", pin->agent);
		goto out;
	}
	if (pin->cpresent && config_parse_buf(&ccfg, pin->corp, pin->cbuf,
	    pin->clen, err, errlen) == -1)
		goto out;
	pol = policy_build(&ucfg, pin->cpresent ? &ccfg : NULL, err, errlen);
out:
	config_free(&ucfg);
	config_free(&ccfg);
	return pol;
}

void
policy_input_free(struct policy_input *pin)
{
	free(pin->ubuf);
	free(pin->cbuf);
	pin->ubuf = pin->cbuf = NULL;
}

/*
 * The keys the proxy adds to requests: each [credentials] entry, and for
 * an agent session the agent's own key (agent.c) when no entry names its
 * host.  Only those whose variable is set in our environment; warn (once,
 * if warn) about entries whose variable is not.
 */
struct planned_credential {
	char		 host[MSG_HOST_MAX];
	char		 header[PROXY_HEADER_NAME_MAX];
	char		 env[128];
	const char	*prefix;
	const char	*value;		/* getenv(env) */
};

static size_t
plan_credentials(const struct session *s, const struct policy *pol,
    struct planned_credential *out, size_t max, bool warn)
{
	const struct agent *a = agent_find(s->opts.agent);
	size_t	 i, n = 0;
	bool	 agent_host_named = false;

	for (i = 0; i < policy_ncredentials(pol) && n < max; i++) {
		const struct policy_credential *pc = policy_credential(pol, i);
		const char *value = getenv(pc->env);

		if (a != NULL && strcasecmp(pc->host, a->api_host) == 0)
			agent_host_named = true;
		if (value == NULL || value[0] == '\0') {
			if (warn)
				log_warnx("%s:%u: credential for %s: $%s is not "
				    "set; requests go without it", pc->file,
				    pc->line, pc->host, pc->env);
			continue;
		}
		if (strlen(value) > PROXY_CREDENTIAL_MAX - 16) {
			if (warn)
				log_warnx("credential for %s: $%s is too long",
				    pc->host, pc->env);
			continue;
		}
		strlcpy(out[n].host, pc->host, sizeof(out[n].host));
		strlcpy(out[n].header, pc->header, sizeof(out[n].header));
		strlcpy(out[n].env, pc->env, sizeof(out[n].env));
		out[n].prefix = "";
		out[n].value = value;
		n++;
	}
	if (a != NULL && !agent_host_named && n < max) {
		const char *value = getenv(a->key_env);

		if (value != NULL && value[0] != '\0' &&
		    strlen(value) <= PROXY_CREDENTIAL_MAX - 16) {
			strlcpy(out[n].host, a->api_host, sizeof(out[n].host));
			strlcpy(out[n].header, a->key_header,
			    sizeof(out[n].header));
			strlcpy(out[n].env, a->key_env, sizeof(out[n].env));
			out[n].prefix = a->key_prefix;
			out[n].value = value;
			n++;
		}
	}
	return n;
}

/*
 * A netproxy deadline from capsemctl's environment (see capsem-netproxy(8)),
 * in milliseconds; 0, netproxy's default, when unset or out of range.
 */
static uint32_t
env_timeout_ms(const char *name)
{
	const char	*v = getenv(name), *errstr;
	long long	 ms;

	if (v == NULL || v[0] == '\0')
		return 0;
	ms = strtonum(v, 100, 3600000, &errstr);
	if (errstr != NULL) {
		log_warnx("%s %s: %s, netproxy's default used", name, v,
		    errstr);
		return 0;
	}
	return (uint32_t)ms;
}

/*
 * netproxy's settings: [network] http and private_addresses, [upstream]
 * resolve pins and ca_file (read here, sent as bytes), the deadlines for a
 * TLS handshake and a request head, and credentials taken from
 * capsemctl's environment (they never reach the guest).
 */
int
send_proxy_settings(struct session *s, const struct policy *pol, char *err,
    size_t errlen)
{
	struct msg_proxy_settings ps;
	struct msg_credential cr;
	struct planned_credential cred[SESSION_MAX_CREDENTIALS];
	size_t		 ncred;
	char		*ca = NULL;
	size_t		 ca_len = 0, i, n;
	int		 k;

	memset(&ps, 0, sizeof(ps));
	ps.http_enabled = policy_http_enabled(pol);
	ps.private_addresses = policy_private_addresses(pol);
	ps.handshake_timeout_ms =
	    env_timeout_ms("CAPSEM_PROXY_HANDSHAKE_TIMEOUT_MS");
	ps.head_timeout_ms = env_timeout_ms("CAPSEM_PROXY_HEAD_TIMEOUT_MS");
	n = policy_nresolve(pol);
	if (n > PROXY_RESOLVE_MAX) {
		snprintf(err, errlen, "[upstream] resolve: at most %d entries",
		    PROXY_RESOLVE_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct config_resolve *r = policy_resolve(pol, i);

		strlcpy(ps.resolve[i].host, r->host, sizeof(ps.resolve[i].host));
		strlcpy(ps.resolve[i].addr, r->addr, sizeof(ps.resolve[i].addr));
		ps.resolve[i].port = r->port;
		ps.resolve[i].target_port = r->addr_port;
	}
	ps.nresolve = (uint32_t)n;
	if (policy_ca_file(pol) != NULL) {
		bool present;

		ca = read_config(policy_ca_file(pol), &ca_len, &present, err,
		    errlen);
		if (err[0] == '\0' && !present)
			snprintf(err, errlen, "[upstream] ca_file %s: no such "
			    "file", policy_ca_file(pol));
		if (err[0] != '\0' || ca_len > PROXY_CA_MAX) {
			if (err[0] == '\0')
				snprintf(err, errlen, "%s: too large",
				    policy_ca_file(pol));
			free(ca);
				return -1;
		}
	}
	ps.ca_len = (uint32_t)ca_len;
	for (k = 0; k < s->nproxies; k++)
		if (!s->proxies[k]->chan_open ||
		    imsgev_compose2(&s->proxies[k]->iev, MSG_PROXY_SETTINGS, 0,
		    -1, &ps, sizeof(ps), ca, ca_len) == -1)
			fatal("send settings to %s", s->proxies[k]->label);
	free(ca);
	ncred = plan_credentials(s, pol, cred, SESSION_MAX_CREDENTIALS, true);
	for (i = 0; i < ncred; i++) {
		char	*value;
		size_t	 plen = strlen(cred[i].prefix);

		memset(&cr, 0, sizeof(cr));
		strlcpy(cr.host, cred[i].host, sizeof(cr.host));
		strlcpy(cr.header, cred[i].header, sizeof(cr.header));
		cr.value_len = (uint32_t)(plen + strlen(cred[i].value));
		if ((value = malloc(cr.value_len + 1)) == NULL)
			fatal("malloc");
		memcpy(value, cred[i].prefix, plen);
		memcpy(value + plen, cred[i].value, cr.value_len - plen);
		for (k = 0; k < s->nproxies; k++)
			if (imsgev_compose2(&s->proxies[k]->iev, MSG_CREDENTIAL,
			    0, -1, &cr, sizeof(cr), value, cr.value_len) == -1)
				fatal("send credential to %s",
				    s->proxies[k]->label);
		explicit_bzero(value, cr.value_len);
		free(value);
	}
	return 0;
}

/*
 * What the guest gets besides the command line: [vm] cpus and memory_mb
 * where no option gave them, agent.env, then the --env options again (they
 * win), then a placeholder in the variable of each key the proxy adds.
 */
int
vm_settings(struct session *s, const struct policy *pol, char *err,
    size_t errlen)
{
	struct vm_opts	*o = &s->opts.vm;
	struct planned_credential cred[SESSION_MAX_CREDENTIALS];
	const char	*given[VM_ENV_MAX], *path;
	size_t		 ncred, i;
	int		 ngiven = o->nenv, k;
	char		*a;

	if (o->cpus == 0)
		o->cpus = (unsigned)policy_vm_cpus(pol);
	if (o->mem_mb == 0)
		o->mem_mb = (unsigned)policy_vm_memory_mb(pol);
	memcpy(given, o->env, sizeof(given));
	o->nenv = 0;
	if ((path = getenv("CAPSEM_AGENT_ENV")) == NULL || path[0] == '\0')
		path = CAPSEM_SYSCONFDIR "/agent.env";
	if (agent_env_load(path, o, err, errlen) == -1)
		goto fail;
	for (k = 0; k < ngiven; k++)
		if (vm_env_set(o, given[k]) == -1)
			goto full;
	ncred = plan_credentials(s, pol, cred, SESSION_MAX_CREDENTIALS, false);
	for (i = 0; i < ncred; i++) {
		if (asprintf(&a, "%s=%s", cred[i].env,
		    agent_placeholder(cred[i].env)) == -1)
			fatal("asprintf");
		if (!env_assignment_ok(a)) {
			free(a);	/* not a variable name: nothing to set */
			continue;
		}
		if (vm_env_set(o, a) == -1)
			goto full;
	}
	return 0;
full:
	snprintf(err, errlen, "more than %d guest environment variables",
	    VM_ENV_MAX);
fail:
	return -1;
}

static void
send_vm_fd(struct session *s, uint32_t kind, int *fd)
{
	struct msg_vm_fd vf;

	memset(&vf, 0, sizeof(vf));
	vf.kind = kind;
	if (send_child(s->vmm, MSG_VM_FD, 0, *fd, &vf, sizeof(vf)) == -1)
		fatal("pass a file to the vmm");
	*fd = -1;	/* sent and closed by the channel */
}

/* SETUP, then the fds; MSG_VM_START follows once the session is ready. */
void
send_vm_setup(struct session *s)
{
	static const char cmdline[] = "console=ttyS0 loglevel=4";
	struct msg_vm_setup vs;
	int	 i;

	memset(&vs, 0, sizeof(vs));
	vs.mem_mb = s->opts.vm.mem_mb ? s->opts.vm.mem_mb : 1024;
	vs.ncpus = s->opts.vm.cpus ? s->opts.vm.cpus : 2;
	vs.cmdline_len = sizeof(cmdline) - 1;
	if (imsgev_compose2(&s->vmm->iev, MSG_VM_SETUP, 0, -1, &vs, sizeof(vs),
	    cmdline, vs.cmdline_len) == -1)
		fatal("VM setup");
	send_vm_fd(s, VM_FD_KVM, &s->vmf.kvm);
	send_vm_fd(s, VM_FD_KERNEL, &s->vmf.kernel);
	for (i = 0; i < s->vmf.ninitrd; i++)
		send_vm_fd(s, VM_FD_INITRD, &s->vmf.initrd[i]);
	if (s->vmf.disk != -1)
		send_vm_fd(s, VM_FD_DISK_RO, &s->vmf.disk);
	send_vm_fd(s, VM_FD_CONSOLE, &s->vmf.console_vmm);
	if (s->serial_fd != -1)
		send_vm_fd(s, VM_FD_SERIAL, &s->serial_fd);
}

/*
 * capsem-fsd's one directory.  Files of the session's user appear in the
 * guest as its account's: the images' agent user is 1000:1000
 * (guest/image/build-agent-image.sh), a session without a user runs as
 * root.
 */
void
send_fs_setup(struct session *s)
{
	struct msg_fs_setup fs;

	memset(&fs, 0, sizeof(fs));
	fs.readonly = s->ws.readonly ? 1 : 0;
	fs.guest_uid = fs.guest_gid = s->opts.vm.user != NULL ?
	    VM_AGENT_UID : 0;
	if (send_child(s->fsd, MSG_FS_SETUP, 0, s->ws.fd, &fs, sizeof(fs)) ==
	    -1)
		fatal("pass the workspace to fsd");
	s->ws.fd = -1;		/* sent and closed by the channel */
	log_info("workspace %s shared %s at %s", s->ws.path,
	    s->ws.readonly ? "read-only" : "read-write", "/workspace");
}

int
open_console_log(struct session *s)
{
	char	 home[PATH_MAX], path[PATH_MAX];
	int	 n;

	if (capsem_home(home, sizeof(home)) == -1)
		return -1;
	n = snprintf(path, sizeof(path), "%s/sessions/%s/console.log", home,
	    s->id);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
}

/* $CAPSEM_HOME/sessions/<id>/session.json, at the start and at the end. */
void
session_record(struct session *s, bool ended)
{
	struct session_record r;
	char	 home[PATH_MAX], dir[PATH_MAX];

	memset(&r, 0, sizeof(r));
	if (capsem_home(home, sizeof(home)) == -1 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/sessions/%s", home, s->id) >=
	    sizeof(dir))
		return;
	snprintf(r.id, sizeof(r.id), "%s", s->id);
	snprintf(r.name, sizeof(r.name), "%s", s->opts.name != NULL ?
	    s->opts.name : "");
	snprintf(r.mode, sizeof(r.mode), "%s", s->opts.mode == SESSION_VM ?
	    "vm" : s->opts.mode == SESSION_PROXY ? "proxy" : "host-only");
	session_what(s, r.what, sizeof(r.what));
	r.pid = getpid();
	r.started = s->started;
	if (s->ws.shared) {
		snprintf(r.workspace, sizeof(r.workspace), "%s", s->ws.path);
		snprintf(r.workspace_mode, sizeof(r.workspace_mode), "%s",
		    s->ws.readonly ? "ro" : "rw");
	}
	if (ended) {
		r.ended = true;
		r.ended_at = time(NULL);
		r.status = s->exit_code;
		snprintf(r.reason, sizeof(r.reason), "%s", s->reason);
	}
	if (session_record_write(dir, &r) == -1)
		log_warn("%s/%s", dir, SESSION_RECORD_FILE);
}
