/* capsemctl.h: what the command files share. */
#ifndef CAPSEM_CAPSEMCTL_H
#define CAPSEM_CAPSEMCTL_H

/* Print "usage: capsemctl <usage of name>" to stderr; returns 2. */
int	usage_of(const char *name);

/* Commands implemented in other files (cmd_*.c), added to the table. */
#define CAPSEMCTL_EXTRA_COMMANDS
#endif
