/*
 * msg.h: every message type exchanged between capsem processes, and its
 * payload.  Names follow REQUEST / RESPONSE / EVENT.  Fixed-size structs
 * are read with an exact length check; variable tails are bounded.  Char
 * arrays in payloads must be NUL-terminated (imsg_str_ok).
 *
 * Channels: parent <-> every child; netproxy <-> certd; netproxy <-> policyd;
 * vmm -> netproxy; parent <-> control clients (capsemctl commands).
 */
#ifndef CAPSEM_MSG_H
#define CAPSEM_MSG_H

#include <stdint.h>

#include "sandbox.h"

#define MSG_HOST_MAX	256	/* DNS name (253) + NUL, padded */
#define MSG_METHOD_MAX	32
#define MSG_PATH_MAX	4096	/* request target bytes in REQUEST_CHECK */
#define MSG_RULE_MAX	256
#define MSG_FILE_MAX	256
#define MSG_SESSION_MAX	32
#define MSG_CONFIG_MAX	(4u * 1024 * 1024)	/* one policy file */

enum msg_type {
	MSG_NONE = 0,

	/* parent <-> every child */
	MSG_HELLO = 1,		/* parent -> child: struct msg_hello */
	MSG_READY,		/* child -> parent: struct msg_ready */
	MSG_STATUS_REQUEST,	/* parent -> child: empty */
	MSG_STATUS_RESPONSE,	/* child -> parent: struct msg_status */
	MSG_VERBOSE,		/* parent -> child: struct msg_verbose */
	MSG_SHUTDOWN,		/* parent -> child: empty; child exits 0 */
	MSG_PEER_CHANNEL,	/* parent -> child: struct msg_peer_channel + fd */

	/* certd */
	MSG_CA_CERT = 32,	/* parent -> certd: ca.pem bytes */
	MSG_CA_KEY,		/* parent -> certd: empty + fd of ca.key (read once, closed) */
	MSG_CA_LOADED,		/* certd -> parent: empty, or error text */
	MSG_LEAF_KEY,		/* certd -> netproxy: leaf private key, DER (once) */
	MSG_MINT_REQUEST,	/* netproxy -> certd: hostname bytes (1..253, no NUL); peerid = request id */
	MSG_MINT_RESPONSE,	/* certd -> netproxy: struct msg_mint_response + leaf DER + CA DER */
	MSG_MINT_ERROR,		/* certd -> netproxy: reason text; peerid echoed */

	/* policyd */
	MSG_POLICY_FILE = 64,	/* parent -> policyd: struct msg_policy_file + file bytes */
	MSG_POLICY_COMMIT,	/* parent -> policyd: empty; build and swap the policy */
	MSG_POLICY_RESULT,	/* policyd -> parent: struct msg_policy_result (+ error text) */
	MSG_AUDIT_FD,		/* parent -> policyd: empty + fd of audit.jsonl */
	MSG_CONN_CHECK,		/* netproxy -> policyd: struct msg_conn_check; peerid = request id */
	MSG_REQUEST_CHECK,	/* netproxy -> policyd: struct msg_request_check + path bytes */
	MSG_VERDICT,		/* policyd -> netproxy: struct msg_verdict; peerid echoed;
				 * an allowed REQUEST_CHECK: + the normalised path judged */
	MSG_AUDIT_EVENT,	/* netproxy -> policyd: struct msg_audit_event */
	MSG_MODEL_EVENT,	/* netproxy -> policyd: struct msg_model_event */
	MSG_AUDIT_WORKSPACE,	/* parent -> policyd: struct msg_audit_workspace */

	/* netproxy */
	MSG_STREAM_NEW = 96,	/* parent/vmm -> netproxy: struct msg_stream_new + fd */
	MSG_PROXY_SETTINGS,	/* parent -> netproxy: struct msg_proxy_settings */
	MSG_CREDENTIAL,		/* parent -> netproxy: struct msg_credential + value */

	/* vmm */
	MSG_VM_EVENT = 128,	/* vmm -> parent: struct msg_vm_event */
	MSG_VM_SETUP,		/* parent -> vmm: struct msg_vm_setup + cmdline */
	MSG_VM_FD,		/* parent -> vmm: struct msg_vm_fd + fd */
	MSG_VM_START,		/* parent -> vmm: empty; boot */
	MSG_VM_WINSIZE,		/* parent -> vmm: struct msg_winsize (console size) */

	/* control socket (capsemctl <-> session parent) */
	MSG_CTL_STATUS = 160,	/* client -> parent: empty */
	MSG_CTL_STATUS_ENTRY,	/* parent -> client: struct msg_status (one per child) */
	MSG_CTL_STOP,		/* client -> parent: empty */
	MSG_CTL_RELOAD,		/* client -> parent: empty */
	MSG_CTL_INFO,		/* parent -> client: struct msg_ctl_info */
	MSG_CTL_RESULT,		/* parent -> client: struct msg_ctl_result + text */
	MSG_CTL_END,		/* parent -> client: end of a multi-message answer */
	MSG_CTL_ATTACH_IN,	/* client -> parent: empty + fd: the terminal's input */
	MSG_CTL_ATTACH_OUT,	/* client -> parent: empty + fd: its output; attaches */
	MSG_CTL_WINSIZE,	/* client -> parent: empty: the terminal was resized */
	MSG_CTL_DETACHED,	/* parent -> client: struct msg_ctl_result (why) */
	MSG_CTL_ENDED,		/* parent -> client: struct msg_ctl_ended */
	MSG_CTL_INFO_REQ,	/* client -> parent: empty; answered by MSG_CTL_INFO */

	/* workspace (capsem-fsd(8)) */
	MSG_FS_SETUP = 192,	/* parent -> fsd: struct msg_fs_setup + fd of the workspace directory */
	MSG_FS_REQUEST,		/* vmm -> fsd: struct msg_fs_request + one FUSE request; peerid = the vmm's tag */
	MSG_FS_REPLY,		/* fsd -> vmm: one FUSE reply (fuse_out_header + data); peerid echoed */
	MSG_FS_VIOLATION,	/* fsd -> vmm: reason text; the request was malformed; peerid echoed */
};

struct msg_hello {
	int32_t		 verbose;
	uint32_t	 instance;
	char		 session_id[MSG_SESSION_MAX];
};

struct msg_ready {
	struct sandbox_report sandbox;
};

struct msg_verbose {
	int32_t		 verbose;
};

struct msg_status {
	uint32_t	 proc;		/* enum proc_id */
	uint32_t	 instance;
	int32_t		 pid;		/* as the host sees it */
	uint32_t	 pad;
	struct sandbox_report sandbox;
	uint64_t	 counters[4];	/* per process, see its man page */
	char		 detail[128];
};

struct msg_peer_channel {
	uint32_t	 proc;		/* enum proc_id of the process at the other end */
	uint32_t	 instance;
};

/* certd */
struct msg_mint_response {
	uint32_t	 leaf_len;	/* DER leaf certificate */
	uint32_t	 ca_len;	/* DER CA certificate */
	int64_t		 not_after;	/* leaf expiry, seconds since the epoch */
};

/* policyd */
enum msg_policy_origin { POLICY_ORIGIN_USER = 0, POLICY_ORIGIN_CORP = 1 };

struct msg_policy_file {
	uint32_t	 origin;	/* enum msg_policy_origin */
	uint32_t	 present;	/* 0: no such file (contents empty) */
	char		 name[MSG_FILE_MAX];	/* path, for file:line messages */
};

struct msg_policy_result {
	uint32_t	 ok;
	uint32_t	 pad;
	char		 error[512];	/* "file:line: message" when !ok */
};

struct msg_conn_check {
	uint16_t	 port;
	uint16_t	 pad;
	uint32_t	 pad2;
	char		 host[MSG_HOST_MAX];
	char		 sni[MSG_HOST_MAX];	/* "" when not TLS */
};

struct msg_request_check {
	uint16_t	 port;
	uint16_t	 pad;
	uint32_t	 path_len;	/* bytes following the struct */
	char		 host[MSG_HOST_MAX];
	char		 method[MSG_METHOD_MAX];
};

enum msg_verdict_kind { VERDICT_DENY = 0, VERDICT_ALLOW = 1 };

struct msg_verdict {
	uint32_t	 allow;		/* enum msg_verdict_kind */
	uint32_t	 line;		/* 0 when decided by a built-in default */
	uint32_t	 status;	/* a denied request: 0 (403), or 429 (budget) */
	uint32_t	 pad;
	char		 rule[MSG_RULE_MAX];
	char		 file[MSG_FILE_MAX];
};

enum msg_audit_kind { AUDIT_CONN = 0, AUDIT_REQUEST = 1, AUDIT_DNS = 2, AUDIT_REFUSED = 3 };

struct msg_audit_event {
	uint32_t	 kind;		/* enum msg_audit_kind */
	uint32_t	 status;	/* HTTP status, DNS rcode, or 0 */
	uint16_t	 port;
	uint16_t	 pad;
	uint32_t	 allow;
	uint64_t	 bytes_in;	/* from the guest */
	uint64_t	 bytes_out;	/* to the guest */
	uint64_t	 duration_us;
	uint32_t	 line;
	uint32_t	 pad2;
	char		 host[MSG_HOST_MAX];
	char		 method[MSG_METHOD_MAX];
	char		 path[1024];	/* truncated request path */
	char		 rule[MSG_RULE_MAX];
	char		 file[MSG_FILE_MAX];
	char		 reason[128];
};

/* The directory shared at /workspace, for the audit (after MSG_AUDIT_FD). */
#define MSG_WORKSPACE_PATH_MAX	4096	/* PATH_MAX, NUL included */
struct msg_audit_workspace {
	uint32_t	 readonly;	/* 0: rw, 1: ro */
	uint32_t	 pad;
	char		 path[MSG_WORKSPACE_PATH_MAX];	/* absolute, NUL-terminated */
};

/* The session database: sessions/<id>/SESSION_DB_DIR/SESSION_DB_FILE. */
#define SESSION_DB_DIR		"db"
#define SESSION_DB_FILE		"session.db"

/* One model-API call, as netproxy read its response (netproxy/modelcall.h). */
enum msg_model_api {
	MODEL_EVENT_ANTHROPIC_MESSAGES = 1,
	MODEL_EVENT_OPENAI_RESPONSES,
	MODEL_EVENT_OPENAI_CHAT,
	MODEL_EVENT_GEMINI,
};

struct msg_model_event {
	uint32_t	 api;		/* enum msg_model_api */
	uint32_t	 status;	/* HTTP status of the response */
	uint64_t	 input_tokens;	/* uncached input */
	uint64_t	 output_tokens;	/* incl. reasoning */
	uint64_t	 cache_read_tokens;
	uint64_t	 cache_write_tokens;
	uint64_t	 duration_us;
	uint32_t	 ntools;
	uint8_t		 streamed;	/* SSE */
	uint8_t		 has_usage;	/* usage fields were found */
	uint8_t		 unreadable;	/* see why */
	uint8_t		 pad;
	char		 host[MSG_HOST_MAX];
	char		 path[512];	/* truncated request path */
	char		 model[128];
	char		 stop_reason[64];
	char		 tools[256];	/* names, comma-separated */
	char		 why[96];
};

/* netproxy */
enum msg_stream_port { STREAM_DNS = 1053, STREAM_HTTP = 1080, STREAM_HTTPS = 1443 };

struct msg_stream_new {
	uint32_t	 port;		/* enum msg_stream_port */
	uint32_t	 guest_cid;	/* 0 for host-side (proxy -l) streams */
	uint32_t	 has_header;	/* 1: stream begins with the relay's header line */
	uint32_t	 pad;
};

/* vmm */
enum msg_vm_event_kind { VM_EVENT_READY = 1, VM_EVENT_EXIT = 2 };

struct msg_vm_event {
	uint32_t	 kind;
	int32_t		 status;
	uint32_t	 kvm_error;	/* EXIT: KVM itself failed (the host's fault) */
	uint32_t	 pad;
	char		 reason[256];
};

/*
 * Before the guest starts, in this order: MSG_VM_SETUP, one MSG_VM_FD per
 * fd (kvm, kernel, initrds in order, disks in order, console, serial log),
 * MSG_PEER_CHANNEL{PROC_NETPROXY}, MSG_VM_START.  The vmm answers
 * MSG_VM_EVENT READY when the guest's control stream says READY, and EXIT
 * (status, one-line reason) when the guest ends; then it exits.
 */
#define VM_CMDLINE_MAX	2048	/* bytes from the parent (the vmm appends its own) */
#define VM_MAX_INITRDS	4
#define VM_MAX_DISKS	4

struct msg_vm_setup {
	uint32_t	 mem_mb;
	uint32_t	 ncpus;
	uint32_t	 cmdline_len;	/* bytes following the struct, no NUL */
	uint32_t	 pad;
};

enum msg_vm_fd_kind {
	VM_FD_KVM = 1,		/* /dev/kvm */
	VM_FD_KERNEL,		/* vmlinux (PVH) or bzImage */
	VM_FD_INITRD,		/* concatenated in arrival order */
	VM_FD_DISK_RO,		/* read-only disk (the root image) */
	VM_FD_DISK_RW,		/* writable scratch disk */
	VM_FD_CONSOLE,		/* hvc0 <-> this fd (a pty or socket), raw */
	VM_FD_SERIAL,		/* kernel log (16550) is written here */
};

struct msg_vm_fd {
	uint32_t	 kind;		/* enum msg_vm_fd_kind */
	uint32_t	 pad;
};

/*
 * The workspace: the vmm's virtio-fs device (vmm/dev_fs.c) moves each FUSE
 * request the guest queues to capsem-fsd and each reply back; capsem-fsd
 * never sees guest memory, the vmm never touches a file.  A request is the
 * guest's bytes from fuse_in_header on (its len equal to what follows the
 * struct); a reply is fuse_out_header + data, at most out_max bytes, its
 * len equal to the message's.  FORGET and BATCH_FORGET get no reply (the
 * vmm completes them when sent); INTERRUPT is not forwarded.  A request
 * fsd finds malformed is answered MSG_FS_VIOLATION: the device then needs
 * a reset, the host goes on.
 */
#define MSG_FS_MAX_IO		(128u * 1024)	/* max_write, and the largest READ */
#define MSG_FS_REQUEST_MAX	(MSG_FS_MAX_IO + 4096)	/* FUSE bytes in one request */
#define MSG_FS_REPLY_MAX	(MSG_FS_MAX_IO + 4096)	/* FUSE bytes in one reply */
#define MSG_FS_TAG		"workspace"	/* the virtio-fs tag the guest mounts */

struct msg_fs_setup {
	uint32_t	 readonly;	/* 1: every change is refused with EROFS */
	uint32_t	 guest_uid;	/* files of the session's user appear as these */
	uint32_t	 guest_gid;
	uint32_t	 inodes_max;	/* 0: fsd's default; tests set fewer */
};

struct msg_fs_request {
	uint32_t	 out_max;	/* bytes the guest's reply buffers hold */
	uint32_t	 pad;
};

/* control */
struct msg_ctl_info {
	int32_t		 parent_pid;
	uint32_t	 nchildren;
	int64_t		 started;	/* seconds since the epoch */
	char		 session_id[MSG_SESSION_MAX];
	char		 mode[32];	/* "host-only", "proxy", "vm" */
	char		 name[MSG_SESSION_MAX];	/* start -n, else "" */
	char		 what[96];	/* agent, "shell", command or mode */
	char		 state[16];	/* booting, attached, detached, running */
};

/* The console's size in character cells (virtio console config). */
struct msg_winsize {
	uint16_t	 rows;
	uint16_t	 cols;
	uint32_t	 pad;
};

/* The session ended while a client was attached: its exit code and why. */
struct msg_ctl_ended {
	int32_t		 code;
	uint32_t	 pad;
	char		 reason[384];
};

struct msg_ctl_result {
	uint32_t	 ok;
	uint32_t	 pad;
	char		 text[512];
};

/* netproxy settings (parent -> netproxy, before the first stream) */
#define PROXY_RESOLVE_MAX	32	/* [upstream] resolve entries */
#define PROXY_CA_MAX		(1024u * 1024)	/* ca_file PEM bytes */
#define PROXY_HEADER_NAME_MAX	64
#define PROXY_CREDENTIAL_MAX	8192	/* bytes of a credential value */

struct proxy_resolve_pin {
	char		 host[MSG_HOST_MAX];	/* lower case, or "*" for any */
	char		 addr[64];		/* numeric IPv4 or IPv6 */
	uint16_t	 port;			/* port asked for */
	uint16_t	 target_port;		/* port to connect to */
	uint32_t	 pad;
};

/* MSG_PROXY_SETTINGS: this struct + ca_len bytes of PEM ([upstream] ca_file) */
struct msg_proxy_settings {
	uint32_t	 http_enabled;		/* [network] http */
	uint32_t	 private_addresses;	/* [network] private_addresses */
	uint32_t	 max_connections;	/* 0: built-in default */
	uint32_t	 idle_timeout_ms;	/* 0: built-in default */
	uint32_t	 connect_timeout_ms;	/* 0: built-in default */
	uint32_t	 handshake_timeout_ms;	/* 0: built-in default */
	uint32_t	 head_timeout_ms;	/* 0: built-in default */
	uint32_t	 nresolve;		/* entries used in resolve[] */
	uint32_t	 ca_len;		/* PEM bytes after the struct */
	struct proxy_resolve_pin resolve[PROXY_RESOLVE_MAX];
};

/* MSG_CREDENTIAL: this struct + value_len bytes of the secret */
struct msg_credential {
	char		 host[MSG_HOST_MAX];	/* host pattern ("*.x" allowed) */
	char		 header[PROXY_HEADER_NAME_MAX];	/* header name */
	uint32_t	 value_len;		/* bytes after the struct */
	uint32_t	 pad;
};

#endif
