/*
 * log: one line per event, prefixed with the process name.
 * stderr in the foreground, syslog when detached.
 */
#ifndef CAPSEM_LOG_H
#define CAPSEM_LOG_H

#include <stdarg.h>

void	log_init(int foreground, int verbose);
void	log_procinit(const char *procname);
void	log_setverbose(int verbose);
int	log_getverbose(void);
const char *log_procname(void);

void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
