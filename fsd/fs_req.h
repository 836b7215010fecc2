/*
 * fs_req: the one parser of the guest's FUSE requests.  It checks a
 * request's framing (fuse_in_header.len equal to the bytes received, no
 * extensions), that the body is exactly the size its opcode takes, and
 * that every name is one path component (1..255 bytes, no '/', no NUL, not
 * "." or "..").  Pure: it touches nothing but the bytes it is given, so it
 * is fuzzed on its own (tests/fuzz/fsd).
 */
#ifndef CAPSEM_FS_REQ_H
#define CAPSEM_FS_REQ_H

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>

#define FS_NAME_MAX	255
#define FS_LINK_MAX	4095	/* a symlink's target */

enum fs_req_result {
	FS_REQ_OK,		/* parsed */
	FS_REQ_UNKNOWN,		/* well framed, an opcode we do not serve: ENOSYS */
	FS_REQ_BADNAME,		/* well framed, a name we refuse: its errno in err */
	FS_REQ_MALFORMED,	/* the device needs a reset: why in err */
};

struct fs_req {
	struct fuse_in_header hdr;
	uint32_t	 opcode;
	const void	*arg;		/* the opcode's fixed struct, or NULL */
	const char	*name;		/* first name (NUL-terminated in place) */
	const char	*name2;		/* second name, or the symlink target */
	const uint8_t	*data;		/* WRITE's bytes */
	size_t		 datalen;
	const uint8_t	*forgets;	/* BATCH_FORGET: nforgets fuse_forget_one, unaligned */
	uint32_t	 nforgets;
	int		 name_errno;	/* FS_REQ_BADNAME */
};

/*
 * Parse len bytes at buf (the request from fuse_in_header on).  The
 * struct's pointers point into buf, which must stay put.  On
 * FS_REQ_MALFORMED, a one-line reason in why.
 */
enum fs_req_result fs_req_parse(const uint8_t *buf, size_t len,
	    struct fs_req *req, char *why, size_t whylen);

/* Name of an opcode for messages ("LOOKUP"), or "opcode N". */
const char *fs_opcode_name(uint32_t opcode, char *buf, size_t len);

#endif
