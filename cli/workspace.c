/*
 * workspace.c: which host directory a session shares at /workspace.  The
 * checks are on the realpath, and the directory opened is checked to be
 * that path (through /proc/self/fd) so a rename or symlink swapped in
 * between the checks and the open cannot change what is shared.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "home.h"
#include "policy.h"
#include "vm.h"
#include "workspace.h"

#define RO_SUFFIX	":ro"

int
workspace_parse_arg(const char *arg, char *dir, size_t dirlen,
    bool *readonly, char *err, size_t errlen)
{
	size_t	 len = strlen(arg), slen = strlen(RO_SUFFIX);

	*readonly = false;
	if (len >= slen && strcmp(arg + len - slen, RO_SUFFIX) == 0) {
		*readonly = true;
		len -= slen;
	}
	if (len == 0) {
		snprintf(err, errlen, "workspace: empty directory name in "
		    "\"%s\"", arg);
		return -1;
	}
	if (len >= dirlen) {
		snprintf(err, errlen, "workspace: directory name too long");
		return -1;
	}
	memcpy(dir, arg, len);
	dir[len] = '\0';
	return 0;
}

/*
 * The canonical form of path, which need not exist: the realpath of its
 * longest existing prefix with the rest appended.  0, or -1.
 */
static int
canon_path(const char *path, char *out, size_t outlen)
{
	char	 full[PATH_MAX], head[PATH_MAX], real[PATH_MAX], *slash;
	const char *tail;
	size_t	 len;
	int	 n;

	if (path[0] != '/' || (len = strlen(path)) >= sizeof(full))
		return -1;
	memcpy(full, path, len + 1);
	while (len > 1 && full[len - 1] == '/')
		full[--len] = '\0';
	memcpy(head, full, len + 1);
	while (realpath(head, real) == NULL) {
		if ((slash = strrchr(head, '/')) == NULL || head[1] == '\0')
			return -1;
		slash[slash == head ? 1 : 0] = '\0';
	}
	tail = full + strlen(head);
	n = snprintf(out, outlen, "%s%s", strcmp(real, "/") == 0 &&
	    *tail == '/' ? "" : real, tail);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Is a the same as b or an ancestor of it (both canonical)? */
static bool
path_covers(const char *a, const char *b)
{
	size_t	 n = strlen(a);

	if (strcmp(a, "/") == 0)
		return true;
	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

static int
home_dir(char *out, size_t outlen)
{
	const char	*home = getenv("HOME");
	struct passwd	*pw;

	if (home == NULL || home[0] == '\0') {
		if ((pw = getpwuid(getuid())) == NULL || pw->pw_dir == NULL ||
		    pw->pw_dir[0] == '\0')
			return -1;
		home = pw->pw_dir;
	}
	return canon_path(home, out, outlen);
}

/*
 * The refusals --force overrides.  Returns NULL, or the reason (a
 * sentence fragment) the directory may not be shared.
 */
static const char *
unsafe_reason(const char *real, bool readonly)
{
	char	 home[PATH_MAX], chome[PATH_MAX], ch[PATH_MAX];

	if (strcmp(real, "/") == 0)
		return "refusing to share the root directory";
	if (home_dir(home, sizeof(home)) == 0 && strcmp(real, home) == 0)
		return "refusing to share the home directory itself";
	if (capsem_home(chome, sizeof(chome)) == 0 &&
	    canon_path(chome, ch, sizeof(ch)) == 0) {
		if (path_covers(ch, real))
			return "refusing to share capsem's own directory or "
			    "one inside it";
		if (path_covers(real, ch))
			return "refusing to share a directory that holds "
			    "capsem's own directory";
	}
	if (!readonly && faccessat(AT_FDCWD, real, W_OK | X_OK,
	    AT_EACCESS) == -1)
		return "not writable by you (share it with DIR:ro)";
	return NULL;
}

/* The fd must be the directory real names (nothing swapped in). */
static bool
fd_is_path(int fd, const char *real)
{
	char	 proc[64], link[PATH_MAX];
	ssize_t	 n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((n = readlink(proc, link, sizeof(link) - 1)) == -1)
		return false;
	link[n] = '\0';
	return strcmp(link, real) == 0;
}

int
workspace_resolve(const struct vm_opts *o, const struct policy *pol,
    struct workspace *ws, char *err, size_t errlen)
{
	struct policy_workspace pw;
	char	 dir[PATH_MAX];
	const char *why, *hint;
	bool	 ro = false;

	memset(ws, 0, sizeof(*ws));
	ws->fd = -1;
	if (o->workspace_none)
		return 0;
	if (o->workspace_arg != NULL) {
		if (workspace_parse_arg(o->workspace_arg, dir, sizeof(dir),
		    &ro, err, errlen) == -1)
			return -1;
	} else if (o->workspace_default) {
		if (getcwd(dir, sizeof(dir)) == NULL) {
			snprintf(err, errlen, "workspace: the current "
			    "directory: %s", strerror(errno));
			return -1;
		}
	} else
		return 0;
	/* the default was not asked for: say how to go without */
	hint = o->workspace_arg == NULL ? "--no-workspace shares nothing" :
	    NULL;

	memset(&pw, 0, sizeof(pw));
	pw.allow = true;
	if (pol != NULL)
		policy_workspace(pol, &pw);
	if (!pw.allow) {
		snprintf(err, errlen, "workspace refused: %s:%u: [workspace] "
		    "allow = false%s%s%s", pw.allow_file, pw.allow_line,
		    hint != NULL ? " (" : "", hint != NULL ? hint : "",
		    hint != NULL ? ")" : "");
		return -1;
	}
	ro = ro || pw.readonly;

	if (realpath(dir, ws->path) == NULL) {
		snprintf(err, errlen, "workspace %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if ((ws->fd = open(ws->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		snprintf(err, errlen, "workspace %s: %s", ws->path,
		    errno == ENOTDIR ? "not a directory" : strerror(errno));
		return -1;
	}
	if (!fd_is_path(ws->fd, ws->path)) {
		snprintf(err, errlen, "workspace %s: changed while being "
		    "checked", ws->path);
		workspace_close(ws);
		return -1;
	}
	if (!o->workspace_force && (why = unsafe_reason(ws->path, ro)) !=
	    NULL) {
		snprintf(err, errlen, "workspace %s: %s (--force overrides%s%s)",
		    ws->path, why, hint != NULL ? ", " : "",
		    hint != NULL ? hint : "");
		workspace_close(ws);
		return -1;
	}
	ws->shared = true;
	ws->readonly = ro;
	return 0;
}

void
workspace_close(struct workspace *ws)
{
	if (ws->fd != -1)
		close(ws->fd);
	ws->fd = -1;
	ws->shared = false;
}
