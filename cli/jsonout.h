/* jsonout: JSON text for capsemctl's --json output. */
#ifndef CAPSEM_JSONOUT_H
#define CAPSEM_JSONOUT_H

#include <stdio.h>

/*
 * s as a JSON string, quotes included: " and \ escaped, control bytes as
 * \n \r \t or \u00XX; other bytes (UTF-8) as they are.
 */
void	json_put_string(FILE *fp, const char *s);

#endif
