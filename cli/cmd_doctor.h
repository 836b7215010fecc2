/* cmd_doctor.h: `capsemctl doctor`: every precondition of a session. */
#ifndef CAPSEM_CMD_DOCTOR_H
#define CAPSEM_CMD_DOCTOR_H

#define CMD_DOCTOR_USAGE	"doctor [--json] [claude|gemini|codex]"

/*
 * argv[0] is "doctor".  One line per check (ok, WARN or FAIL with the
 * fix).  Exit status: 0 if `capsemctl start AGENT` would start (no FAIL),
 * 1 if not, 2 usage.
 */
int	cmd_doctor(int argc, char *argv[]);

#endif
