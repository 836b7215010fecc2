/* cmd_list.h: `capsemctl list`: this user's sessions, running or ended. */
#ifndef CAPSEM_CMD_LIST_H
#define CAPSEM_CMD_LIST_H

#define CMD_LIST_USAGE	"list [--json | -q] [--prune]"

/* argv[0] is "list".  0, 1 if --prune could not remove something, 2 usage. */
int	cmd_list(int argc, char *argv[]);

#endif
