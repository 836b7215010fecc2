/*
 * workspace: which host directory a session shares at /workspace, checked
 * and opened by the session parent (the one process that may open it);
 * capsem-fsd(8) gets the fd and nothing else.  See capsemctl(1) START and
 * capsem.toml(5) [workspace].
 */
#ifndef CAPSEM_CLI_WORKSPACE_H
#define CAPSEM_CLI_WORKSPACE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct policy;
struct vm_opts;

struct workspace {
	bool	 shared;
	bool	 readonly;
	int	 fd;			/* O_RDONLY|O_DIRECTORY|O_CLOEXEC; -1 */
	char	 path[PATH_MAX];	/* realpath */
};

/*
 * "DIR" or "DIR:ro" (a -w argument).  Returns 0 with DIR in dir, or -1
 * with a one-line reason in err.
 */
int	workspace_parse_arg(const char *arg, char *dir, size_t dirlen,
	    bool *readonly, char *err, size_t errlen);

/*
 * Decide and open the session's workspace from o (workspace_arg,
 * workspace_default, workspace_none, workspace_force) and the policy's
 * [workspace] table: nothing (0, not shared) when --no-workspace, or when
 * neither -w nor the default (the current directory) asks; refuses (-1,
 * one line in err) a path that is not an existing directory, and "/",
 * the home directory itself, capsem_home(), a directory inside it or an
 * ancestor of it, a directory the user cannot write (rw), unless --force;
 * refuses always when the policy forbids workspaces (naming its
 * file:line).  The policy, or a -w "DIR:ro", makes it read-only.  pol may
 * be NULL: no policy (capsemctl start checks early with NULL, before the
 * policy is read).  ws->path is the realpath and ws->fd the directory
 * opened there, -1 unless shared.
 */
int	workspace_resolve(const struct vm_opts *o, const struct policy *pol,
	    struct workspace *ws, char *err, size_t errlen);
void	workspace_close(struct workspace *);

#endif
