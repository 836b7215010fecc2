/* cmd_image.h: `capsemctl image build|list` and the image directory. */
#ifndef CAPSEM_CMD_IMAGE_H
#define CAPSEM_CMD_IMAGE_H

#include <stddef.h>

#define CMD_IMAGE_USAGE	"image build [-f] [-v] [name] | list [--json]"

/*
 * argv[0] is "image".  Exit status: 0 success, 1 failed, 2 usage.
 */
int	cmd_image(int argc, char *argv[]);

/*
 * $CAPSEM_HOME/images/<name> (default ~/.capsem/images/<name>) into buf.
 * Returns 0, or -1 after printing why (bad name, path too long, no home).
 */
int	image_dir(const char *name, char *buf, size_t len);

/*
 * 1 if the image <name> is complete (manifest.json readable and valid, its
 * rootfs, initrd and kernel present with the sizes it records), 0 if not.
 */
int	image_ready(const char *name);

/*
 * The same for an image directory; if not ready, why says so in one line.
 */
int	image_dir_ready(const char *dir, char *why, size_t whylen);

/*
 * A string from dir/manifest.json ("user", "agents/claude/command"):
 * 0 and the value, or -1 if unreadable, absent, not a string or too long.
 */
int	image_manifest_string(const char *dir, const char *path, char *out,
	    size_t outlen);

/*
 * Run the image build script (see cmd_image.c for where it is looked up)
 * for <name>, output on the terminal; returns its exit status (0 success,
 * 1 failure, 2 usage) or 1 if it could not be run.
 */
int	image_build(const char *name, int force, int verbose);

/*
 * The pins an image built now would record (the build script's -P), into
 * buf: 0, or -1 if the script cannot be found or run (nothing printed).
 */
int	image_current_pins(char *buf, size_t len);

#endif
