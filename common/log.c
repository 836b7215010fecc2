/*
 * log.c: logging helpers in the style of OpenBSD daemons.
 *
 * The only file-scope state of the library: the logging settings of this
 * process, set once at start-up (log_init, log_procinit) and by the parent's
 * verbosity message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static struct {
	int	 foreground;
	int	 verbose;
	char	 procname[32];
} log_state = { 1, 0, "capsem" };

void
log_init(int foreground, int verbose)
{
	log_state.foreground = foreground;
	log_state.verbose = verbose;
	if (!foreground)
		openlog(log_state.procname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_procinit(const char *procname)
{
	if (procname != NULL)
		snprintf(log_state.procname, sizeof(log_state.procname), "%s",
		    procname);
}

void
log_setverbose(int verbose)
{
	log_state.verbose = verbose;
}

int
log_getverbose(void)
{
	return log_state.verbose;
}

const char *
log_procname(void)
{
	return log_state.procname;
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno, int saved_errno)
    __attribute__((format(printf, 2, 0)));

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno, int saved_errno)
{
	char	 msg[1024];
	int	 n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		msg[0] = '\0';
	if (with_errno) {
		size_t used = strlen(msg);
		snprintf(msg + used, sizeof(msg) - used, ": %s",
		    strerror(saved_errno));
	}
	if (log_state.foreground) {
		/* One write per line so lines of several processes don't mix. */
		char	 line[1100];
		int	 len;

		len = snprintf(line, sizeof(line), "%s: %s\n",
		    log_state.procname, msg);
		if (len > 0) {
			if ((size_t)len >= sizeof(line))
				len = sizeof(line) - 1;
			ssize_t w = write(STDERR_FILENO, line, (size_t)len);
			(void)w;
		}
	} else
		syslog(pri, "%s", msg);
}

#define LOGFN(name, pri, with_errno, gate)				\
void									\
name(const char *fmt, ...)						\
{									\
	int	 saved_errno = errno;					\
	va_list	 ap;							\
	if (!(gate))							\
		return;							\
	va_start(ap, fmt);						\
	vlog(pri, fmt, ap, with_errno, saved_errno);			\
	va_end(ap);							\
	errno = saved_errno;						\
}

LOGFN(log_warn, LOG_WARNING, 1, 1)
LOGFN(log_warnx, LOG_WARNING, 0, 1)
LOGFN(log_info, LOG_INFO, 0, log_state.verbose >= 0)
LOGFN(log_debug, LOG_DEBUG, 0, log_state.verbose >= 1)

static void __attribute__((noreturn, format(printf, 1, 0)))
vfatal(const char *fmt, va_list ap, int with_errno, int saved_errno)
{
	char	 msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno)
		log_warnx("fatal in %s: %s: %s", log_state.procname, msg,
		    strerror(saved_errno));
	else
		log_warnx("fatal in %s: %s", log_state.procname, msg);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	int	 saved_errno = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vfatal(fmt, ap, 1, saved_errno);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfatal(fmt, ap, 0, 0);
}
