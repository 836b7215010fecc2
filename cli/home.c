/*
 * home.c: the one place that decides where ~/.capsem and the policy files
 * are, for the session parent and every command.
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

#include "capsem_config.h"
#include "home.h"

int
capsem_home(char *buf, size_t len)
{
	const char	*env = getenv("CAPSEM_HOME"), *home;
	struct passwd	*pw;
	int		 n;

	if (env != NULL && env[0] != '\0')
		n = snprintf(buf, len, "%s", env);
	else {
		if ((home = getenv("HOME")) == NULL || home[0] == '\0') {
			if ((pw = getpwuid(getuid())) == NULL ||
			    pw->pw_dir == NULL || pw->pw_dir[0] == '\0') {
				errno = ENOENT;
				return -1;
			}
			home = pw->pw_dir;
		}
		n = snprintf(buf, len, "%s/.capsem", home);
	}
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
capsem_home_or_say(char *buf, size_t len)
{
	if (capsem_home(buf, len) == 0)
		return 0;
	if (errno == ENAMETOOLONG)
		fprintf(stderr, "capsemctl: CAPSEM_HOME path too long\n");
	else
		fprintf(stderr, "capsemctl: cannot find the home directory "
		    "(set HOME or CAPSEM_HOME)\n");
	return -1;
}

int
capsem_config_paths(char *user, size_t ulen, char *corp, size_t clen)
{
	const char	*env = getenv("CAPSEM_CORP_CONFIG");
	char		 home[4096];
	int		 n;

	if (capsem_home(home, sizeof(home)) == -1)
		return -1;
	n = snprintf(user, ulen, "%s/user.toml", home);
	if (n < 0 || (size_t)n >= ulen)
		goto toolong;
	n = snprintf(corp, clen, "%s", env != NULL && env[0] != '\0' ? env :
	    CAPSEM_SYSCONFDIR "/corp.toml");
	if (n < 0 || (size_t)n >= clen)
		goto toolong;
	return 0;
toolong:
	errno = ENAMETOOLONG;
	return -1;
}


int
mkdir_private(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	if (lstat(path, &sb) == -1)
		return -1;
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid()) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
session_runtime_dir(char *buf, size_t len, bool create)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char	 home[PATH_MAX];
	int	 n;

	if (xdg != NULL && xdg[0] == '/' && access(xdg, W_OK) == 0)
		n = snprintf(buf, len, "%s/capsem", xdg);
	else {
		if (capsem_home(home, sizeof(home)) == -1)
			return -1;
		if (create && mkdir_private(home) == -1)
			return -1;
		n = snprintf(buf, len, "%s/sessions", home);
	}
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (create && mkdir_private(buf) == -1)
		return -1;
	return 0;
}

int
session_dir_lock(int dirfd)
{
	struct flock lk;

	memset(&lk, 0, sizeof(lk));
	lk.l_type = F_RDLCK;
	lk.l_whence = SEEK_SET;
	return fcntl(dirfd, F_OFD_SETLK, &lk);
}

int
session_dir_locked(int dirfd)
{
	struct flock lk;

	memset(&lk, 0, sizeof(lk));
	lk.l_type = F_WRLCK;	/* would a writer conflict with a reader? */
	lk.l_whence = SEEK_SET;
	if (fcntl(dirfd, F_OFD_GETLK, &lk) == -1)
		return -1;
	return lk.l_type != F_UNLCK;
}
