/*
 * session_conf.c: parser for /capsem/session.conf (format in guest/PROTOCOL).
 *
 * One "key=value" per line; the value is the rest of the line, verbatim.
 * Lines starting with '#' and empty lines are ignored. Unknown keys, repeated
 * single-valued keys, control bytes and over-long values are errors.
 */
#include <stdio.h>
#include <string.h>

#include "session_conf.h"

enum conf_kind {
	CONF_USER, CONF_CWD, CONF_HOSTNAME, CONF_ROOT, CONF_ROOTFSTYPE,
	CONF_CONSOLE, CONF_TERM, CONF_CONTROL, CONF_NET, CONF_WORKSPACE, CONF_ENV,
	CONF_ARG,
	CONF_NKINDS
};

struct conf_key {
	const char	*name;
	enum conf_kind	 kind;
};

static const struct conf_key conf_keys[] = {
	{ "user",	CONF_USER },
	{ "cwd",	CONF_CWD },
	{ "hostname",	CONF_HOSTNAME },
	{ "root",	CONF_ROOT },
	{ "rootfstype",	CONF_ROOTFSTYPE },
	{ "console",	CONF_CONSOLE },
	{ "term",	CONF_TERM },
	{ "control",	CONF_CONTROL },
	{ "net",	CONF_NET },
	{ "workspace",	CONF_WORKSPACE },
	{ "env",	CONF_ENV },
	{ "arg",	CONF_ARG },
};

void
session_conf_defaults(struct session_conf *sc)
{
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->user, sizeof(sc->user), "root");
	snprintf(sc->hostname, sizeof(sc->hostname), "capsem");
	snprintf(sc->console, sizeof(sc->console), "/dev/hvc0");
	snprintf(sc->term, sizeof(sc->term), "xterm-256color");
	snprintf(sc->control, sizeof(sc->control), "vsock:2:1024");
	sc->net = true;
}

static bool
is_user_name(const char *s)
{
	if (*s == '\0' || !((*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool
is_host_name(const char *s)
{
	if (*s == '\0' || *s == '-' || *s == '.')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

static bool
is_env_entry(const char *s)
{
	const char *p = s;

	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
		return false;
	for (p++; *p != '='; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return false;	/* includes reaching the NUL: no '=' */
	return true;
}

/* Copy a value into a fixed field; false if it does not fit. */
static bool
set_field(char *field, size_t fieldlen, const char *value)
{
	size_t	 len = strlen(value);

	if (len >= fieldlen)
		return false;
	memcpy(field, value, len + 1);
	return true;
}

/* Keep a string in sc->strings; NULL if the storage is full. */
static char *
keep_string(struct session_conf *sc, const char *value)
{
	size_t	 len = strlen(value) + 1;
	char	*p;

	if (len > sizeof(sc->strings) - sc->strings_used)
		return NULL;
	p = sc->strings + sc->strings_used;
	memcpy(p, value, len);
	sc->strings_used += len;
	return p;
}

static const char *
apply(struct session_conf *sc, enum conf_kind kind, const char *value)
{
	char	*kept;

	switch (kind) {
	case CONF_USER:
		if (!is_user_name(value) || !set_field(sc->user,
		    sizeof(sc->user), value))
			return "user must be a user name ([a-z_][a-z0-9_-]*, at most 32)";
		break;
	case CONF_CWD:
		if (value[0] != '/' || !set_field(sc->cwd, sizeof(sc->cwd), value))
			return "cwd must be an absolute path (at most 255 bytes)";
		break;
	case CONF_HOSTNAME:
		if (!is_host_name(value) || !set_field(sc->hostname,
		    sizeof(sc->hostname), value))
			return "hostname must be letters, digits, '-' and '.' (at most 64)";
		break;
	case CONF_ROOT:
		if (value[0] != '/' || !set_field(sc->root, sizeof(sc->root), value))
			return "root must be an absolute device path (at most 127 bytes)";
		break;
	case CONF_ROOTFSTYPE:
		if (strcmp(value, "erofs") != 0 && strcmp(value, "squashfs") != 0 &&
		    strcmp(value, "ext4") != 0)
			return "rootfstype must be erofs, squashfs or ext4";
		set_field(sc->rootfstype, sizeof(sc->rootfstype), value);
		break;
	case CONF_CONSOLE:
		if (strncmp(value, "/dev/", 5) != 0 || value[5] == '\0' ||
		    strstr(value, "..") != NULL ||
		    !set_field(sc->console, sizeof(sc->console), value))
			return "console must be a device under /dev/";
		break;
	case CONF_TERM:
		if (value[0] == '\0' || strchr(value, '/') != NULL ||
		    !set_field(sc->term, sizeof(sc->term), value))
			return "term must be a terminal name (at most 63 bytes)";
		break;
	case CONF_CONTROL:
		if (!set_field(sc->control, sizeof(sc->control), value))
			return "control address too long";
		break;
	case CONF_NET:
		if (strcmp(value, "on") == 0)
			sc->net = true;
		else if (strcmp(value, "off") == 0)
			sc->net = false;
		else
			return "net must be on or off";
		break;
	case CONF_WORKSPACE:
		if (strcmp(value, "rw") == 0)
			sc->workspace = SESSION_WORKSPACE_RW;
		else if (strcmp(value, "ro") == 0)
			sc->workspace = SESSION_WORKSPACE_RO;
		else
			return "workspace must be rw or ro";
		break;
	case CONF_ENV:
		if (!is_env_entry(value))
			return "env must be NAME=VALUE";
		if (sc->nenv == SESSION_ENV_MAX)
			return "too many env lines";
		if ((kept = keep_string(sc, value)) == NULL)
			return "file too large";
		sc->env[sc->nenv++] = kept;
		sc->env[sc->nenv] = NULL;
		break;
	case CONF_ARG:
		if (sc->argc == SESSION_ARGS_MAX)
			return "too many arg lines";
		if (sc->argc == 0 && value[0] == '\0')
			return "the command (first arg) is empty";
		if ((kept = keep_string(sc, value)) == NULL)
			return "file too large";
		sc->argv[sc->argc++] = kept;
		sc->argv[sc->argc] = NULL;
		break;
	case CONF_NKINDS:
		return "internal error";
	}
	return NULL;
}

int
session_conf_parse(struct session_conf *sc, const char *buf, size_t len,
    char *err, size_t errlen)
{
	char	 line[SESSION_LINE_MAX + 1];
	bool	 seen[CONF_NKINDS] = { false };
	size_t	 pos = 0, lineno = 0;

	if (len > SESSION_CONF_MAX) {
		snprintf(err, errlen, "file larger than %d bytes", SESSION_CONF_MAX);
		return -1;
	}
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t	 linelen = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;
		const char *msg = NULL;
		char	*eq;
		size_t	 i;

		lineno++;
		if (linelen > SESSION_LINE_MAX) {
			snprintf(err, errlen, "line %zu: longer than %d bytes",
			    lineno, SESSION_LINE_MAX);
			return -1;
		}
		memcpy(line, buf + pos, linelen);
		line[linelen] = '\0';
		pos += linelen + (nl != NULL ? 1 : 0);

		for (i = 0; i < linelen; i++) {
			unsigned char c = (unsigned char)line[i];

			if (c < 0x20 && c != '\t') {
				snprintf(err, errlen, "line %zu: control byte 0x%02x",
				    lineno, c);
				return -1;
			}
		}
		if (linelen == 0 || line[0] == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			snprintf(err, errlen, "line %zu: expected key=value", lineno);
			return -1;
		}
		*eq = '\0';
		for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
			if (strcmp(line, conf_keys[i].name) == 0)
				break;
		if (i == sizeof(conf_keys) / sizeof(conf_keys[0])) {
			snprintf(err, errlen, "line %zu: unknown key \"%.32s\"",
			    lineno, line);
			return -1;
		}
		enum conf_kind kind = conf_keys[i].kind;

		if (kind != CONF_ENV && kind != CONF_ARG && seen[kind]) {
			snprintf(err, errlen, "line %zu: %s given twice", lineno,
			    conf_keys[i].name);
			return -1;
		}
		seen[kind] = true;
		if ((msg = apply(sc, kind, eq + 1)) != NULL) {
			snprintf(err, errlen, "line %zu: %s", lineno, msg);
			return -1;
		}
	}
	return 0;
}
