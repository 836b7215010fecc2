/* home: where capsem's per-user files and the policy files are. */
#ifndef CAPSEM_HOME_H
#define CAPSEM_HOME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * $CAPSEM_HOME if set and non-empty, else ~/.capsem ($HOME, then the
 * password database).  0, or -1 with errno (ENOENT: no home directory,
 * ENAMETOOLONG).
 */
int	capsem_home(char *buf, size_t len);

/*
 * The user's policy file ($CAPSEM_HOME/user.toml) and the company's
 * ($CAPSEM_CORP_CONFIG, else /etc/capsem/corp.toml).  0 or -1 with errno.
 */
int	capsem_config_paths(char *user, size_t ulen, char *corp, size_t clen);

/* capsem_home() for commands: prints the reason on failure. */
int	capsem_home_or_say(char *buf, size_t len);

/* mkdir(path, 0700) unless it exists; it must be a directory of ours. */
int	mkdir_private(const char *path);

/*
 * Where control sockets live: $XDG_RUNTIME_DIR/capsem, else
 * $CAPSEM_HOME/sessions (made, 0700, when create).
 */
int	session_runtime_dir(char *buf, size_t len, bool create);

/*
 * The session directory's liveness lock: the session parent takes a read
 * lock (open file description lock, F_OFD_SETLK) on its directory fd and
 * holds it until it exits, after every child.  session_dir_locked asks
 * without taking anything: 1 held, 0 not, -1 error (errno).
 */
int	session_dir_lock(int dirfd);
int	session_dir_locked(int dirfd);

#endif
