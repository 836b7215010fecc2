/*
 * fs_req: framing and argument checks of one FUSE request (fs_req.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fs_req.h"

/* What follows the fixed struct of an opcode. */
enum fs_tail {
	TAIL_NONE,		/* nothing */
	TAIL_NAME,		/* one name */
	TAIL_TWO_NAMES,		/* two names (RENAME, RENAME2) */
	TAIL_NAME_LINK,		/* a name, then a symlink target */
	TAIL_DATA,		/* WRITE: fuse_write_in.size bytes */
	TAIL_FORGETS,		/* BATCH_FORGET: count fuse_forget_one */
	TAIL_INIT,		/* INIT: 16 bytes or more (older minors send less) */
};

struct fs_opcode {
	uint32_t	 opcode;
	const char	*name;
	size_t		 argsize;
	enum fs_tail	 tail;
};

static const struct fs_opcode fs_opcodes[] = {
	{ FUSE_LOOKUP, "LOOKUP", 0, TAIL_NAME },
	{ FUSE_FORGET, "FORGET", sizeof(struct fuse_forget_in), TAIL_NONE },
	{ FUSE_GETATTR, "GETATTR", sizeof(struct fuse_getattr_in), TAIL_NONE },
	{ FUSE_SETATTR, "SETATTR", sizeof(struct fuse_setattr_in), TAIL_NONE },
	{ FUSE_READLINK, "READLINK", 0, TAIL_NONE },
	{ FUSE_SYMLINK, "SYMLINK", 0, TAIL_NAME_LINK },
	{ FUSE_MKNOD, "MKNOD", sizeof(struct fuse_mknod_in), TAIL_NAME },
	{ FUSE_MKDIR, "MKDIR", sizeof(struct fuse_mkdir_in), TAIL_NAME },
	{ FUSE_UNLINK, "UNLINK", 0, TAIL_NAME },
	{ FUSE_RMDIR, "RMDIR", 0, TAIL_NAME },
	{ FUSE_RENAME, "RENAME", sizeof(struct fuse_rename_in), TAIL_TWO_NAMES },
	{ FUSE_LINK, "LINK", sizeof(struct fuse_link_in), TAIL_NAME },
	{ FUSE_OPEN, "OPEN", sizeof(struct fuse_open_in), TAIL_NONE },
	{ FUSE_READ, "READ", sizeof(struct fuse_read_in), TAIL_NONE },
	{ FUSE_WRITE, "WRITE", sizeof(struct fuse_write_in), TAIL_DATA },
	{ FUSE_STATFS, "STATFS", 0, TAIL_NONE },
	{ FUSE_RELEASE, "RELEASE", sizeof(struct fuse_release_in), TAIL_NONE },
	{ FUSE_FSYNC, "FSYNC", sizeof(struct fuse_fsync_in), TAIL_NONE },
	{ FUSE_FLUSH, "FLUSH", sizeof(struct fuse_flush_in), TAIL_NONE },
	{ FUSE_INIT, "INIT", 0, TAIL_INIT },
	{ FUSE_OPENDIR, "OPENDIR", sizeof(struct fuse_open_in), TAIL_NONE },
	{ FUSE_READDIR, "READDIR", sizeof(struct fuse_read_in), TAIL_NONE },
	{ FUSE_RELEASEDIR, "RELEASEDIR", sizeof(struct fuse_release_in),
	    TAIL_NONE },
	{ FUSE_FSYNCDIR, "FSYNCDIR", sizeof(struct fuse_fsync_in), TAIL_NONE },
	{ FUSE_ACCESS, "ACCESS", sizeof(struct fuse_access_in), TAIL_NONE },
	{ FUSE_CREATE, "CREATE", sizeof(struct fuse_create_in), TAIL_NAME },
	{ FUSE_DESTROY, "DESTROY", 0, TAIL_NONE },
	{ FUSE_BATCH_FORGET, "BATCH_FORGET", sizeof(struct fuse_batch_forget_in),
	    TAIL_FORGETS },
	{ FUSE_FALLOCATE, "FALLOCATE", sizeof(struct fuse_fallocate_in),
	    TAIL_NONE },
	{ FUSE_READDIRPLUS, "READDIRPLUS", sizeof(struct fuse_read_in),
	    TAIL_NONE },
	{ FUSE_RENAME2, "RENAME2", sizeof(struct fuse_rename2_in),
	    TAIL_TWO_NAMES },
	{ FUSE_LSEEK, "LSEEK", sizeof(struct fuse_lseek_in), TAIL_NONE },
	{ FUSE_COPY_FILE_RANGE, "COPY_FILE_RANGE",
	    sizeof(struct fuse_copy_file_range_in), TAIL_NONE },
};
#define FS_NOPCODES	(sizeof(fs_opcodes) / sizeof(fs_opcodes[0]))

static const struct fs_opcode *
opcode_find(uint32_t opcode)
{
	size_t	 i;

	for (i = 0; i < FS_NOPCODES; i++)
		if (fs_opcodes[i].opcode == opcode)
			return &fs_opcodes[i];
	return NULL;
}

const char *
fs_opcode_name(uint32_t opcode, char *buf, size_t len)
{
	const struct fs_opcode *op = opcode_find(opcode);

	if (op != NULL)
		return op->name;
	snprintf(buf, len, "opcode %u", (unsigned)opcode);
	return buf;
}

/*
 * One NUL-terminated string at *p within end; advances *p past the NUL.
 * Returns its length, or -1 if there is no NUL before end.
 */
static long
take_string(const uint8_t **p, const uint8_t *end, const char **out)
{
	const uint8_t	*nul;

	if (*p >= end || (nul = memchr(*p, '\0', (size_t)(end - *p))) == NULL)
		return -1;
	*out = (const char *)*p;
	*p = nul + 1;
	return (long)(nul - (const uint8_t *)*out);
}

/* 0, or the errno a bad name gets. */
static int
name_errno(const char *name, long len)
{
	if (len == 0)
		return ENOENT;
	if (len > FS_NAME_MAX)
		return ENAMETOOLONG;
	if (memchr(name, '/', (size_t)len) != NULL)
		return EINVAL;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return EINVAL;
	return 0;
}

#define MALFORMED(...) do {						\
	snprintf(why, whylen, __VA_ARGS__);				\
	return FS_REQ_MALFORMED;					\
} while (0)

enum fs_req_result
fs_req_parse(const uint8_t *buf, size_t len, struct fs_req *req, char *why,
    size_t whylen)
{
	const struct fs_opcode *op;
	const uint8_t	*p, *end;
	long		 n1, n2;
	char		 nb[24];

	memset(req, 0, sizeof(*req));
	why[0] = '\0';
	if (len < sizeof(req->hdr))
		MALFORMED("request of %zu bytes is shorter than its header",
		    len);
	memcpy(&req->hdr, buf, sizeof(req->hdr));
	if (req->hdr.len != len)
		MALFORMED("request header says %u bytes, %zu came",
		    (unsigned)req->hdr.len, len);
	if (req->hdr.total_extlen != 0)
		MALFORMED("request carries extensions that were not "
		    "negotiated");
	req->opcode = req->hdr.opcode;
	p = buf + sizeof(req->hdr);
	end = buf + len;
	if ((op = opcode_find(req->opcode)) == NULL)
		return FS_REQ_UNKNOWN;

	if (op->tail == TAIL_INIT) {
		if ((size_t)(end - p) < 4 * sizeof(uint32_t))
			MALFORMED("INIT of %zu bytes", (size_t)(end - p));
		req->arg = p;
		return FS_REQ_OK;
	}
	if ((size_t)(end - p) < op->argsize)
		MALFORMED("%s: %zu argument bytes, %zu needed",
		    fs_opcode_name(req->opcode, nb, sizeof(nb)),
		    (size_t)(end - p), op->argsize);
	req->arg = op->argsize ? p : NULL;
	p += op->argsize;

	switch (op->tail) {
	case TAIL_NONE:
		break;
	case TAIL_NAME:
		if ((n1 = take_string(&p, end, &req->name)) == -1)
			MALFORMED("%s: name without its NUL", op->name);
		if ((req->name_errno = name_errno(req->name, n1)) != 0) {
			if (p != end)
				MALFORMED("%s: bytes after the name", op->name);
			return FS_REQ_BADNAME;
		}
		break;
	case TAIL_TWO_NAMES:
	case TAIL_NAME_LINK:
		if ((n1 = take_string(&p, end, &req->name)) == -1 ||
		    (n2 = take_string(&p, end, &req->name2)) == -1)
			MALFORMED("%s: names without their NULs", op->name);
		if (p != end)
			MALFORMED("%s: bytes after the names", op->name);
		if ((req->name_errno = name_errno(req->name, n1)) != 0)
			return FS_REQ_BADNAME;
		if (op->tail == TAIL_TWO_NAMES)
			req->name_errno = name_errno(req->name2, n2);
		else if (n2 == 0)
			req->name_errno = ENOENT;
		else if (n2 > FS_LINK_MAX)
			req->name_errno = ENAMETOOLONG;
		if (req->name_errno != 0)
			return FS_REQ_BADNAME;
		return FS_REQ_OK;
	case TAIL_DATA: {
		struct fuse_write_in wi;

		memcpy(&wi, req->arg, sizeof(wi));
		if ((size_t)(end - p) != wi.size)
			MALFORMED("WRITE of %u bytes carries %zu",
			    (unsigned)wi.size, (size_t)(end - p));
		req->data = p;
		req->datalen = wi.size;
		p = end;
		break;
	}
	case TAIL_FORGETS: {
		struct fuse_batch_forget_in bf;

		memcpy(&bf, req->arg, sizeof(bf));
		if ((size_t)(end - p) / sizeof(struct fuse_forget_one) <
		    bf.count || (size_t)(end - p) !=
		    (size_t)bf.count * sizeof(struct fuse_forget_one))
			MALFORMED("BATCH_FORGET of %u carries %zu bytes",
			    (unsigned)bf.count, (size_t)(end - p));
		req->forgets = p;
		req->nforgets = bf.count;
		p = end;
		break;
	}
	case TAIL_INIT:
		break;
	}
	if (p != end)
		MALFORMED("%s: %zu bytes more than it takes", op->name,
		    (size_t)(end - p));
	return FS_REQ_OK;
}
