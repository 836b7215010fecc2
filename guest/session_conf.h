/*
 * session_conf: /capsem/session.conf, written by the session parent into the
 * per-session initrd and read by capsem-init. Format: guest/PROTOCOL.
 * Pure parser, no I/O: unit-tested and fuzzed.
 */
#ifndef CAPSEM_GUEST_SESSION_CONF_H
#define CAPSEM_GUEST_SESSION_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define SESSION_CONF_MAX	65536	/* whole file */
#define SESSION_LINE_MAX	4096
#define SESSION_ARGS_MAX	64
#define SESSION_ENV_MAX		64
#define SESSION_WORKSPACE_DIR	"/workspace"
#define SESSION_WORKSPACE_TAG	"workspace"

struct session_conf {
	char	 user[33];
	char	 cwd[256];
	char	 hostname[65];
	char	 root[128];
	char	 rootfstype[16];
	char	 console[128];
	char	 term[64];
	char	 control[128];
	bool	 net;
	enum session_workspace {
		SESSION_WORKSPACE_NONE = 0,
		SESSION_WORKSPACE_RW,
		SESSION_WORKSPACE_RO,
	}	 workspace;		/* virtio-fs "workspace" at /workspace */
	size_t	 argc;
	char	*argv[SESSION_ARGS_MAX + 1];	/* NULL-terminated */
	size_t	 nenv;
	char	*env[SESSION_ENV_MAX + 1];	/* NULL-terminated */
	size_t	 strings_used;
	char	 strings[SESSION_CONF_MAX];	/* storage for argv and env */
};

/* Defaults: user root, console /dev/hvc0, net on, control vsock:2:1024. */
void	session_conf_defaults(struct session_conf *);

/*
 * Parse len bytes of buf (need not be NUL-terminated) over the defaults
 * already in sc. Returns 0, or -1 with "line N: message" in err.
 */
int	session_conf_parse(struct session_conf *, const char *buf, size_t len,
	    char *err, size_t errlen);

#endif
