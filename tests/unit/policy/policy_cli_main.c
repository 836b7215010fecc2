/* policy-cli: cmd_policy() as its own program, for tests until capsemctl
 * links it: `policy-cli policy check ...`. */
#include "cmd_policy.h"

int
main(int argc, char *argv[])
{
	return cmd_policy(argc - 1, argv + 1);
}
