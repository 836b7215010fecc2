/*
 * session_record.c: session.json, written by the session parent and read
 * back by `capsemctl list`.  See session_record.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonin.h"
#include "jsonout.h"
#include "session_record.h"

int
session_record_write(const char *dir, const struct session_record *r)
{
	char	 tmp[PATH_MAX], path[PATH_MAX];
	FILE	*fp;
	int	 fd, bad;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    SESSION_RECORD_FILE) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir,
	    SESSION_RECORD_FILE) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	fputs("{\"id\":", fp);
	json_put_string(fp, r->id);
	if (r->name[0] != '\0') {
		fputs(",\"name\":", fp);
		json_put_string(fp, r->name);
	}
	fputs(",\"mode\":", fp);
	json_put_string(fp, r->mode);
	fputs(",\"what\":", fp);
	json_put_string(fp, r->what);
	fprintf(fp, ",\"pid\":%lld,\"started\":%lld", (long long)r->pid,
	    (long long)r->started);
	if (r->workspace[0] != '\0') {
		fputs(",\"workspace\":", fp);
		json_put_string(fp, r->workspace);
		fputs(",\"workspace_mode\":", fp);
		json_put_string(fp, r->workspace_mode);
	}
	if (r->ended) {
		fprintf(fp, ",\"ended\":%lld,\"status\":%d,\"reason\":",
		    (long long)r->ended_at, r->status);
		json_put_string(fp, r->reason);
	}
	fputs("}\n", fp);
	bad = fflush(fp) == EOF || ftell(fp) > SESSION_RECORD_MAX ||
	    fsync(fd) == -1;
	if (fclose(fp) == EOF || bad) {
		unlink(tmp);
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
get_str(const char *buf, size_t len, const char *key, char *out, size_t outlen,
    bool required)
{
	if (json_get_string(buf, len, key, out, outlen) == 0)
		return 0;
	out[0] = '\0';
	return required ? -1 : 0;
}

static int
get_int(const char *buf, size_t len, const char *key, int64_t *out)
{
	unsigned long long v;

	if (json_get_uint(buf, len, key, &v) == -1 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
session_record_parse(const char *buf, size_t len, struct session_record *r)
{
	int64_t	 status;

	memset(r, 0, sizeof(*r));
	if (len > SESSION_RECORD_MAX || !json_valid(buf, len))
		return -1;
	if (get_str(buf, len, "id", r->id, sizeof(r->id), true) == -1 ||
	    get_str(buf, len, "name", r->name, sizeof(r->name), false) == -1 ||
	    get_str(buf, len, "mode", r->mode, sizeof(r->mode), true) == -1 ||
	    get_str(buf, len, "what", r->what, sizeof(r->what), false) == -1 ||
	    get_int(buf, len, "started", &r->started) == -1 ||
	    r->id[0] == '\0' || r->mode[0] == '\0')
		return -1;
	if (get_int(buf, len, "pid", &r->pid) == -1)
		r->pid = 0;
	if (get_int(buf, len, "ended", &r->ended_at) == 0) {
		r->ended = true;
		if (get_int(buf, len, "status", &status) == -1 || status > 255)
			status = 1;
		r->status = (int)status;
		(void)get_str(buf, len, "reason", r->reason, sizeof(r->reason),
		    false);
	}
	return 0;
}

int
session_record_read(const char *dir, struct session_record *r)
{
	char	 path[PATH_MAX], buf[SESSION_RECORD_MAX + 1];
	ssize_t	 n;
	size_t	 got = 0;
	int	 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    SESSION_RECORD_FILE) >= sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	while (got < sizeof(buf) && ((n = read(fd, buf + got,
	    sizeof(buf) - got)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(fd);
	return session_record_parse(buf, got, r);
}
