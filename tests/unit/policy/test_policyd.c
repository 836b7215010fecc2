/*
 * test_policyd: the real capsem-policyd process over its imsg channels.
 * This program plays the session parent and netproxy.  CAPSEM_POLICYD
 * names the binary, POLICY_TESTDATA the data directory.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "imsg.h"
#include "msg.h"
#include "proc.h"

struct msgcopy {
	uint32_t	 type;
	uint32_t	 peerid;
	size_t		 len;
	uint8_t		*data;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "test_policyd: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void
send_msg(struct imsgbuf *ib, uint32_t type, uint32_t peerid, int fd,
    const void *d1, size_t l1, const void *d2, size_t l2)
{
	if (imsg_compose2(ib, type, peerid, fd, d1, l1, d2, l2) == -1 ||
	    imsgbuf_flush(ib) == -1)
		fail("send type %u: %s", type, strerror(errno));
}

/* Next message, or type 0 on EOF. */
static void
recv_msg(struct imsgbuf *ib, struct msgcopy *m)
{
	struct imsg imsg;
	struct pollfd pfd;
	ssize_t	 n;
	int	 r;

	free(m->data);
	memset(m, 0, sizeof(*m));
	for (;;) {
		if ((r = imsg_get(ib, &imsg)) == -1)
			fail("imsg_get: %s", strerror(errno));
		if (r == 1)
			break;
		pfd.fd = ib->fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, 30000)) == 0)
			fail("timeout waiting for a message");
		if (r == -1 && errno != EINTR)
			fail("poll: %s", strerror(errno));
		n = imsgbuf_read(ib);
		if (n == 0)
			return;		/* EOF */
		if (n == -1 && errno != EAGAIN)
			fail("read: %s", strerror(errno));
	}
	m->type = imsg.hdr.type;
	m->peerid = imsg.hdr.peerid;
	m->len = imsg.len;
	if ((m->data = malloc(imsg.len + 1)) == NULL)
		fail("malloc");
	memcpy(m->data, imsg.data, imsg.len);
	imsg_free(&imsg);
}

static char *
slurp(const char *name, size_t *len)
{
	char	 path[1024], *buf;
	const char *dir = getenv("POLICY_TESTDATA");
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", name);
	if ((fp = fopen(path, "rb")) == NULL)
		fail("%s: %s", path, strerror(errno));
	if ((buf = malloc(1 << 20)) == NULL)
		fail("malloc");
	*len = fread(buf, 1, (1 << 20) - 1, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

static void
send_file(struct imsgbuf *parent, uint32_t origin, bool present,
    const char *name, const char *data, size_t len)
{
	struct msg_policy_file mf;

	memset(&mf, 0, sizeof(mf));
	mf.origin = origin;
	mf.present = present;
	snprintf(mf.name, sizeof(mf.name), "%s", name);
	send_msg(parent, MSG_POLICY_FILE, 0, -1, &mf, sizeof(mf), data, len);
}

static struct msg_policy_result
commit(struct imsgbuf *parent, struct msgcopy *m)
{
	struct msg_policy_result res;

	send_msg(parent, MSG_POLICY_COMMIT, 0, -1, NULL, 0, NULL, 0);
	recv_msg(parent, m);
	if (m->type != MSG_POLICY_RESULT || m->len != sizeof(res))
		fail("expected POLICY_RESULT, got type %u len %zu", m->type,
		    m->len);
	memcpy(&res, m->data, sizeof(res));
	return res;
}

static struct msg_verdict
conn_check(struct imsgbuf *np, const char *host, uint16_t port, uint32_t id,
    struct msgcopy *m)
{
	struct msg_conn_check cc;
	struct msg_verdict v;

	memset(&cc, 0, sizeof(cc));
	cc.port = port;
	snprintf(cc.host, sizeof(cc.host), "%s", host);
	send_msg(np, MSG_CONN_CHECK, id, -1, &cc, sizeof(cc), NULL, 0);
	recv_msg(np, m);
	if (m->type != MSG_VERDICT || m->len != sizeof(v) || m->peerid != id)
		fail("expected VERDICT %u, got type %u len %zu peerid %u", id,
		    m->type, m->len, m->peerid);
	memcpy(&v, m->data, sizeof(v));
	return v;
}

static struct msg_verdict
request_check(struct imsgbuf *np, const char *host, const char *method,
    const char *path, uint32_t id, struct msgcopy *m)
{
	struct msg_request_check rc;
	struct msg_verdict v;

	memset(&rc, 0, sizeof(rc));
	rc.port = 443;
	rc.path_len = (uint32_t)strlen(path);
	snprintf(rc.host, sizeof(rc.host), "%s", host);
	snprintf(rc.method, sizeof(rc.method), "%s", method);
	send_msg(np, MSG_REQUEST_CHECK, id, -1, &rc, sizeof(rc), path,
	    strlen(path));
	recv_msg(np, m);
	if (m->type != MSG_VERDICT || m->len < sizeof(v) || m->peerid != id)
		fail("expected VERDICT %u", id);
	memcpy(&v, m->data, sizeof(v));
	return v;
}

/* An allowed request's verdict carries the path it was judged with. */
static void
expect_npath(const struct msgcopy *m, const char *npath)
{
	size_t	 n = m->len - sizeof(struct msg_verdict);

	if (n != strlen(npath) || memcmp(m->data + sizeof(struct msg_verdict),
	    npath, n) != 0)
		fail("verdict path \"%.*s\", expected \"%s\"", (int)n,
		    (const char *)m->data + sizeof(struct msg_verdict), npath);
	printf("ok   verdict path \"%s\"\n", npath);
}

static void
expect_verdict(const struct msg_verdict *v, int allow, const char *file,
    unsigned line, const char *what)
{
	if ((int)v->allow != allow || strcmp(v->file, file) != 0 ||
	    v->line != line)
		fail("%s: got %s %s:%u (%s), expected %s %s:%u", what,
		    v->allow ? "allow" : "deny", v->file, v->line, v->rule,
		    allow ? "allow" : "deny", file, line);
	printf("ok   %s: %s %s:%u (%s)\n", what, allow ? "allow" : "deny",
	    file, line, v->rule);
}

/* One model call as netproxy reports it. */
static void
send_model_event(struct imsgbuf *np, const char *model, uint64_t in,
    uint64_t out, uint64_t cache_read, uint64_t cache_write)
{
	struct msg_model_event me;

	memset(&me, 0, sizeof(me));
	me.api = MODEL_EVENT_ANTHROPIC_MESSAGES;
	me.status = 200;
	me.input_tokens = in;
	me.output_tokens = out;
	me.cache_read_tokens = cache_read;
	me.cache_write_tokens = cache_write;
	me.ntools = 1;
	me.streamed = 1;
	me.has_usage = 1;
	snprintf(me.host, sizeof(me.host), "api.anthropic.com");
	snprintf(me.path, sizeof(me.path), "/v1/messages?beta=true");
	snprintf(me.model, sizeof(me.model), "%s", model);
	snprintf(me.stop_reason, sizeof(me.stop_reason), "tool_use");
	snprintf(me.tools, sizeof(me.tools), "Bash");
	send_msg(np, MSG_MODEL_EVENT, 0, -1, &me, sizeof(me), NULL, 0);
}

/*
 * Two model calls, one of a priced model, one of a model the table does
 * not know: the rows policyd wrote, the cost from prices.tsv.
 */
static void
model_calls(struct imsgbuf *np, struct imsgbuf *parent, struct msgcopy *m,
    const char *db_dir)
{
	struct msg_verdict v;
	sqlite3	*db;
	sqlite3_stmt *q = NULL;
	char	 path[128];
	int	 n;

	send_model_event(np, "claude-sonnet-4-5-20250929", 1000, 500, 2000,
	    100);
	send_model_event(np, "claude-unknown-9", 7, 8, 0, 0);
	v = conn_check(np, "github.com", 443, 12, m);
	expect_verdict(&v, 0, "(built-in)", 0, "after the model events");
	/* a later turn of policyd's loop: the batch is committed */
	send_msg(parent, MSG_STATUS_REQUEST, 6, -1, NULL, 0, NULL, 0);
	recv_msg(parent, m);
	if (m->type != MSG_STATUS_RESPONSE ||
	    strstr(((struct msg_status *)m->data)->detail,
	    "model calls 2,") == NULL)
		fail("status after model events: %s", m->type ==
		    MSG_STATUS_RESPONSE ? ((struct msg_status *)m->data)->detail :
		    "no status");
	snprintf(path, sizeof(path), "%s/session.db", db_dir);
	/* the batch commits within STORE_COMMIT_MS: wait for it, bounded */
	for (n = 0; n < 500; n++) {
		sqlite3_int64 rows = 0;

		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK && sqlite3_prepare_v2(db, "SELECT count(*) FROM "
		    "model_calls", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			rows = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
		sqlite3_close(db);
		q = NULL;
		if (rows == 2)
			break;
		usleep(10000);
	}
	n = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT model, input_tokens,"
	    " output_tokens, cache_read_tokens, cache_write_tokens, cost_pusd,"
	    " price_source, tools, stop_reason, api FROM model_calls ORDER BY"
	    " id", -1, &q, NULL) != SQLITE_OK)
		fail("%s: %s", path, sqlite3_errmsg(db));
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *model = (const char *)sqlite3_column_text(q, 0);

		if (n == 0 && (strcmp(model, "claude-sonnet-4-5-20250929") != 0 ||
		    sqlite3_column_int64(q, 1) != 1000 ||
		    sqlite3_column_int64(q, 2) != 500 ||
		    sqlite3_column_int64(q, 3) != 2000 ||
		    sqlite3_column_int64(q, 4) != 100 ||
		    /* 1000 * $3 + 500 * $15 + 2000 * $0.30 + 100 * $3.75 per Mtok */
		    sqlite3_column_int64(q, 5) != 11475000000LL ||
		    strstr((const char *)sqlite3_column_text(q, 6),
		    "anthropic.com/pricing") == NULL ||
		    strcmp((const char *)sqlite3_column_text(q, 7), "Bash") != 0 ||
		    strcmp((const char *)sqlite3_column_text(q, 9),
		    "anthropic-messages") != 0))
			fail("model_calls row 1 (cost %lld)",
			    (long long)sqlite3_column_int64(q, 5));
		if (n == 1 && (strcmp(model, "claude-unknown-9") != 0 ||
		    sqlite3_column_int64(q, 1) != 7 ||
		    sqlite3_column_type(q, 5) != SQLITE_NULL))
			fail("model_calls row 2: an unknown model has no cost");
		n++;
	}
	if (n != 2)
		fail("model_calls has %d rows, expected 2", n);
	sqlite3_finalize(q);
	sqlite3_close(db);
	printf("ok   database: 2 model calls, cost $0.011475 and none\n");
}

int
main(void)
{
	const char *bin = getenv("CAPSEM_POLICYD");
	struct imsgbuf parent, np;
	struct msgcopy m = { 0 };
	struct msg_hello hello;
	struct msg_peer_channel pc;
	struct msg_policy_result res;
	struct msg_verdict v;
	struct msg_audit_event ev;
	struct msg_status st;
	struct msg_request_check bad;
	char	 audit_path[] = "/tmp/capsem-audit-XXXXXX", *user, *lines;
	char	 db_dir[] = "/tmp/capsem-db-XXXXXX";
	size_t	 ulen, alen;
	int	 sp[2], npp[2], audit_fd, status, db_fd;
	pid_t	 pid;
	FILE	*fp;

	if (bin == NULL)
		fail("CAPSEM_POLICYD not set");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, npp) == -1)
		fail("socketpair");
	/* the session's db/: the one directory policyd reaches */
	if (mkdtemp(db_dir) == NULL ||
	    (geteuid() == 0 && chown(db_dir, SANDBOX_UID, SANDBOX_GID) == -1) ||
	    (db_fd = open(db_dir, O_RDONLY | O_DIRECTORY)) == -1)
		fail("db directory %s: %s", db_dir, strerror(errno));
	if ((pid = fork()) == -1)
		fail("fork");
	if (pid != 0)
		close(db_fd);
	if (pid == 0) {
		if (dup2(sp[1], PROC_PARENT_FD) == -1 ||
		    dup2(db_fd, PROC_DIR_FD) == -1)
			_exit(127);
		closefrom(PROC_DIR_FD + 1);
		execl(bin, "capsem-policyd", "-I", "0", (char *)NULL);
		_exit(127);
	}
	close(sp[1]);
	imsgbuf_init(&parent, sp[0], 64 * 1024);
	imsgbuf_init(&np, npp[1], 64 * 1024);

	memset(&hello, 0, sizeof(hello));
	snprintf(hello.session_id, sizeof(hello.session_id), "sess1");
	send_msg(&parent, MSG_HELLO, 0, -1, &hello, sizeof(hello), NULL, 0);
	recv_msg(&parent, &m);
	if (m.type != MSG_READY)
		fail("expected READY, got %u", m.type);
	printf("ok   READY\n");

	memset(&pc, 0, sizeof(pc));
	pc.proc = PROC_NETPROXY;
	send_msg(&parent, MSG_PEER_CHANNEL, 0, npp[0], &pc, sizeof(pc), NULL,
	    0);
	if ((audit_fd = mkstemp(audit_path)) == -1)
		fail("mkstemp");
	send_msg(&parent, MSG_AUDIT_FD, 0, dup(audit_fd), NULL, 0, NULL, 0);

	/* fail closed before any policy */
	v = conn_check(&np, "api.anthropic.com", 443, 1, &m);
	expect_verdict(&v, 0, "(built-in)", 0, "no policy yet");

	user = slurp("user-basic.toml", &ulen);
	send_file(&parent, POLICY_ORIGIN_USER, true, "user.toml", user, ulen);
	send_file(&parent, POLICY_ORIGIN_CORP, false, "corp.toml", NULL, 0);
	res = commit(&parent, &m);
	if (!res.ok)
		fail("commit: %s", res.error);
	printf("ok   commit\n");
	v = conn_check(&np, "GitHub.com.", 443, 2, &m);
	expect_verdict(&v, 1, "user.toml", 4, "allowed host");
	v = conn_check(&np, "gist.github.com", 443, 3, &m);
	expect_verdict(&v, 0, "user.toml", 10, "blocked host");
	v = request_check(&np, "api.github.com", "DELETE", "/repos/o/r", 4, &m);
	expect_verdict(&v, 0, "user.toml", 13, "denied request");
	expect_npath(&m, "");
	v = request_check(&np, "api.github.com", "GET", "/x/../repos/%6f?a=b",
	    5, &m);
	expect_verdict(&v, 1, "user.toml", 15, "allowed request");
	expect_npath(&m, "/repos/o");

	/* a bad file keeps the old policy */
	send_file(&parent, POLICY_ORIGIN_USER, true, "user.toml",
	    "[network]\nallow = \"x\"\n", 22);
	res = commit(&parent, &m);
	if (res.ok || strcmp(res.error, "user.toml:2: [network] allow must be "
	    "an array of strings, not a string") != 0)
		fail("bad commit: ok %u error '%s'", res.ok, res.error);
	printf("ok   bad file refused: %s\n", res.error);
	v = conn_check(&np, "github.com", 443, 6, &m);
	expect_verdict(&v, 1, "user.toml", 4, "old policy kept");

	/* reload: no user file, built-in default for claude, with corp */
	send_file(&parent, POLICY_ORIGIN_USER, false, "claude", NULL, 0);
	send_file(&parent, POLICY_ORIGIN_CORP, true, "corp.toml",
	    "[network]\nblock = [\"*.anthropic.com\"]\n", 38);
	res = commit(&parent, &m);
	if (!res.ok)
		fail("commit 2: %s", res.error);
	v = conn_check(&np, "github.com", 443, 7, &m);
	expect_verdict(&v, 0, "(built-in)", 0, "built-in default deny");
	v = conn_check(&np, "api.anthropic.com", 443, 8, &m);
	expect_verdict(&v, 0, "corp.toml", 2, "corp block over built-in");
	send_file(&parent, POLICY_ORIGIN_USER, false, "claude", NULL, 0);
	res = commit(&parent, &m);
	v = conn_check(&np, "api.anthropic.com", 443, 9, &m);
	expect_verdict(&v, 1, "(built-in)", 0, "built-in agent host");

	memset(&ev, 0, sizeof(ev));
	ev.kind = AUDIT_REQUEST;
	ev.status = 200;
	ev.port = 443;
	ev.allow = 1;
	snprintf(ev.host, sizeof(ev.host), "api.anthropic.com");
	snprintf(ev.method, sizeof(ev.method), "POST");
	snprintf(ev.path, sizeof(ev.path), "/v1/messages");
	send_msg(&np, MSG_AUDIT_EVENT, 0, -1, &ev, sizeof(ev), NULL, 0);
	/* a check on the same channel: the event was handled before it */
	v = conn_check(&np, "github.com", 443, 10, &m);
	expect_verdict(&v, 0, "(built-in)", 0, "after the audit event");

	send_msg(&parent, MSG_STATUS_REQUEST, 5, -1, NULL, 0, NULL, 0);
	recv_msg(&parent, &m);
	if (m.type != MSG_STATUS_RESPONSE || m.len != sizeof(st))
		fail("expected STATUS_RESPONSE");
	memcpy(&st, m.data, sizeof(st));
	if (st.counters[0] != 4 || st.counters[1] != 6)
		fail("status counters allow %llu deny %llu",
		    (unsigned long long)st.counters[0],
		    (unsigned long long)st.counters[1]);
	printf("ok   status: %s\n", st.detail);

	/* every verdict and the event are in the audit log */
	if (lseek(audit_fd, 0, SEEK_SET) == -1 ||
	    (fp = fdopen(audit_fd, "r")) == NULL)
		fail("audit log: %s", strerror(errno));
	lines = malloc(1 << 16);
	alen = fread(lines, 1, (1 << 16) - 1, fp);
	lines[alen] = '\0';
	fclose(fp);
	unlink(audit_path);
	{
		size_t	 nl = 0;
		char	*p;

		for (p = lines; (p = strchr(p, '\n')) != NULL; p++)
			nl++;
		if (nl != 11)
			fail("audit log has %zu lines, expected 11:\n%s", nl,
			    lines);
	}
	if (strstr(lines, "\"session\":\"sess1\",\"event\":\"request\","
	    "\"host\":\"api.github.com\",\"port\":443,\"method\":\"DELETE\","
	    "\"path\":\"/repos/o/r\",\"verdict\":\"deny\","
	    "\"rule\":\"deny \\\"DELETE *\\\" in [http.\\\"api.github.com\\\"]\","
	    "\"source\":\"user.toml:13\"}") == NULL ||
	    strstr(lines, "\"status\":200") == NULL)
		fail("audit log content:\n%s", lines);
	printf("ok   audit log: 11 lines\n");

	model_calls(&np, &parent, &m, db_dir);

	/* a malformed message is fatal for policyd (and so: fail closed) */
	memset(&bad, 0, sizeof(bad));
	bad.path_len = 100;
	snprintf(bad.host, sizeof(bad.host), "github.com");
	snprintf(bad.method, sizeof(bad.method), "GET");
	send_msg(&np, MSG_REQUEST_CHECK, 11, -1, &bad, sizeof(bad), "/", 1);
	recv_msg(&np, &m);
	if (m.type != 0)
		fail("malformed REQUEST_CHECK answered");
	/*
	 * It ends with fatalx (exit 1); under sanitizer builds their runtime
	 * may trip the seccomp filter on the way out (SIGSYS).  Either way
	 * it is gone and netproxy fails closed.
	 */
	if (waitpid(pid, &status, 0) != pid)
		fail("waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		printf("ok   malformed message: policyd exited %d\n",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("ok   malformed message: policyd ended by signal %d\n",
		    WTERMSIG(status));
	else
		fail("policyd did not end with an error (status 0x%x)",
		    status);
	{
		static const char *const names[] = { "session.db",
		    "session.db-wal", "session.db-shm" };
		char	 f[64];
		size_t	 i;

		for (i = 0; i < 3; i++) {
			snprintf(f, sizeof(f), "%s/%s", db_dir, names[i]);
			(void)unlink(f);
		}
		(void)rmdir(db_dir);
	}
	free(m.data);
	free(user);
	free(lines);
	imsgbuf_clear(&parent);
	imsgbuf_clear(&np);
	return 0;
}
