/*
 * cmd_ca: `capsemctl ca init|show|export|mint`, and the CA file lookup the
 * session parent uses before it passes the CA to certd.
 *
 * Files: the user CA is $CAPSEM_HOME/ca/{ca.pem,ca.key} (default
 * ~/.capsem/ca/); a company CA in $CAPSEM_CORP_CA/ (default
 * /etc/capsem/ca/) takes precedence when its ca.pem exists.
 */
#ifndef CAPSEM_CMD_CA_H
#define CAPSEM_CMD_CA_H

#include <stddef.h>

#define CA_CORP_DIR_DEFAULT	"/etc/capsem/ca"

/*
 * argv[0] is "ca", argv[1] the subcommand.  Exit codes: 0 success,
 * 1 failure (including "a company CA exists"), 2 usage error.
 */
int	cmd_ca(int argc, char *argv[]);

/*
 * The CA files in use: the company CA if its ca.pem exists (*is_corp =
 * 1), else the user's (whether or not they exist yet).  Returns 0, or -1
 * with a message printed when a path does not fit or HOME is unknown.
 */
int	ca_paths(char *pem, size_t pemlen, char *key, size_t keylen,
	    int *is_corp);

/*
 * Make sure a CA exists: a company CA, or the user's (created now if
 * neither file exists, like `ca init`).  Returns 0, or -1 with a message
 * printed (e.g. only one of ca.pem/ca.key exists).
 */
int	ca_ensure(void);

/*
 * `ca mint HOST`: ask certd for a leaf (through a short host-only session
 * when none runs) and print the PEM chain.  Implemented by the session
 * code (cli/), not here.  Returns the exit code.
 */
int	cmd_ca_mint(const char *host);

#endif
