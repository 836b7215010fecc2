/*
 * vsock_pkt: the virtio-vsock packet header (44 bytes, little-endian) and
 * the checks on a guest packet before the device acts on it.
 */
#ifndef CAPSEM_VMM_VSOCK_PKT_H
#define CAPSEM_VMM_VSOCK_PKT_H

#include <stddef.h>
#include <stdint.h>

#define VSOCK_HDR_SIZE		44
#define VSOCK_PAYLOAD_MAX	(64 * 1024)
#define VSOCK_TYPE_STREAM	1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV	1
#define VSOCK_SHUTDOWN_SEND	2

struct vsock_hdr {
	uint64_t	 src_cid;
	uint64_t	 dst_cid;
	uint32_t	 src_port;
	uint32_t	 dst_port;
	uint32_t	 len;
	uint16_t	 type;
	uint16_t	 op;
	uint32_t	 flags;
	uint32_t	 buf_alloc;
	uint32_t	 fwd_cnt;
};

enum vsock_verdict {
	VSOCK_PKT_OK,		/* act on it */
	VSOCK_PKT_RESET,	/* answer RST (wrong address, type, op) */
	VSOCK_PKT_IGNORE,	/* drop silently (an RST we don't know) */
	VSOCK_PKT_BAD,		/* driver violation: device needs reset */
};

void	vsock_hdr_decode(const uint8_t in[VSOCK_HDR_SIZE], struct vsock_hdr *);
void	vsock_hdr_encode(const struct vsock_hdr *, uint8_t out[VSOCK_HDR_SIZE]);

/*
 * Check a packet the guest sent: payload_bytes is what its chain holds
 * after the header.  *why is set for RESET/BAD.
 */
enum vsock_verdict vsock_pkt_check(const struct vsock_hdr *, uint64_t payload_bytes,
	    uint64_t guest_cid, uint64_t host_cid, const char **why);

#endif
