/* SPDX-License-Identifier: Apache-2.0 */
/*
 * etcd v3 JSON gateway codec: request bodies out, responses in.
 *
 * Pure functions over buffers: no I/O, so unit tests and fuzzers call them
 * directly. Facts: shared/docs/cni-etcd-api.md part 2. Keys and values are
 * bytes (padded base64 on the wire); int64 fields arrive as JSON strings;
 * proto3 leaves out default fields, which therefore decode as 0/false/empty.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* gRPC status codes as etcd puts them in "code" */
enum tartan_etcd_grpc {
	TARTAN_ETCD_GRPC_OK = 0,
	TARTAN_ETCD_GRPC_CANCELLED = 1,
	TARTAN_ETCD_GRPC_INVALID_ARGUMENT = 3,
	TARTAN_ETCD_GRPC_DEADLINE_EXCEEDED = 4,
	TARTAN_ETCD_GRPC_NOT_FOUND = 5,
	TARTAN_ETCD_GRPC_PERMISSION_DENIED = 7,
	TARTAN_ETCD_GRPC_FAILED_PRECONDITION = 9,
	TARTAN_ETCD_GRPC_OUT_OF_RANGE = 11,
	TARTAN_ETCD_GRPC_UNAVAILABLE = 14,
	TARTAN_ETCD_GRPC_UNAUTHENTICATED = 16,
};

/* A byte string. data is always followed by a NUL that len does not count,
 * so text keys can be used as C strings; it may contain NULs itself. */
struct tartan_etcd_bytes {
	char *data;
	size_t len;
};

struct tartan_etcd_header {
	uint64_t cluster_id;
	uint64_t member_id;
	int64_t revision; /* 0 when absent (member list, compaction cancel) */
	uint64_t raft_term;
};

struct tartan_etcd_kv {
	struct tartan_etcd_bytes key;
	struct tartan_etcd_bytes value;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease; /* 0: no lease (a reservation, in flannel's terms) */
};

enum tartan_etcd_op_type {
	TARTAN_ETCD_OP_RANGE,
	TARTAN_ETCD_OP_PUT,
	TARTAN_ETCD_OP_DELETE,
};

/*
 * The decoded answer of any unary call. Which fields are set depends on the
 * call: range fills kvs/count/more; put with prev_kv puts the old pair in
 * kvs[0]; delete fills deleted and (with prev_kv) kvs; txn fills succeeded
 * and responses (one per executed op, each with its op type); lease calls
 * fill lease_id/ttl/granted_ttl; authenticate fills token.
 */
struct tartan_etcd_result {
	struct tartan_etcd_header header;
	enum tartan_etcd_op_type op; /* for txn sub-responses */
	struct tartan_etcd_kv *kvs;
	size_t n_kvs;
	int64_t count;
	bool more;
	int64_t deleted;
	bool succeeded;
	struct tartan_etcd_result *responses;
	size_t n_responses;
	int64_t lease_id;
	int64_t ttl; /* lease TTL; -1 from timetolive means the lease is gone */
	int64_t granted_ttl;
	bool has_ttl; /* keepalive: an absent TTL means the lease is gone */
	char *token;
	/* when set, the kvs' key and value bytes live in this buffer (the gRPC answer itself,
	 * decoded in place) and are freed with it, not one by one */
	char *backing;
};

enum tartan_etcd_result_kind {
	TARTAN_ETCD_RESULT_RANGE,
	TARTAN_ETCD_RESULT_PUT,
	TARTAN_ETCD_RESULT_DELETE,
	TARTAN_ETCD_RESULT_TXN,
	TARTAN_ETCD_RESULT_LEASE_GRANT,
	TARTAN_ETCD_RESULT_LEASE_REVOKE,
	TARTAN_ETCD_RESULT_LEASE_KEEPALIVE, /* {"result":{...}} envelope */
	TARTAN_ETCD_RESULT_LEASE_TTL,
	TARTAN_ETCD_RESULT_AUTHENTICATE,
	TARTAN_ETCD_RESULT_COMPACT,
	TARTAN_ETCD_RESULT_STATUS,
};

enum tartan_etcd_event_type {
	TARTAN_ETCD_EVENT_PUT = 0,
	TARTAN_ETCD_EVENT_DELETE = 1,
};

struct tartan_etcd_event {
	enum tartan_etcd_event_type type;
	struct tartan_etcd_kv kv; /* a DELETE carries only key and mod_revision */
	struct tartan_etcd_kv prev_kv;
	bool has_prev_kv;
};

/* One line of a watch stream. */
struct tartan_etcd_watch_msg {
	struct tartan_etcd_header header;
	int64_t watch_id;
	bool created;
	bool canceled;
	int64_t compact_revision; /* non-zero: start revision was compacted */
	char *cancel_reason;
	struct tartan_etcd_event *events;
	size_t n_events;
	/* an {"error":{...}} line inside the stream (etcd stopping, ...) */
	bool stream_error;
	int grpc_code;
	char *error_message;
};

/* Requests. Keys and values are bytes with explicit length. */
struct tartan_etcd_key_range {
	const void *key;
	size_t key_len;
	/* range_end: NULL = the single key, unless prefix is set */
	const void *range_end;
	size_t range_end_len;
	bool prefix; /* every key that starts with key */
};

struct tartan_etcd_range_req {
	struct tartan_etcd_key_range keys;
	int64_t revision; /* 0: latest */
	int64_t limit;	  /* 0: no limit */
	bool keys_only;
	bool count_only;
	bool serializable;
};

struct tartan_etcd_put_req {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	int64_t lease;
	bool prev_kv;
};

struct tartan_etcd_delete_req {
	struct tartan_etcd_key_range keys;
	bool prev_kv;
};

struct tartan_etcd_op {
	enum tartan_etcd_op_type type;
	union {
		struct tartan_etcd_range_req range;
		struct tartan_etcd_put_req put;
		struct tartan_etcd_delete_req del;
	};
};

enum tartan_etcd_compare_target {
	TARTAN_ETCD_CMP_VERSION = 0,
	TARTAN_ETCD_CMP_CREATE = 1,
	TARTAN_ETCD_CMP_MOD = 2,
	TARTAN_ETCD_CMP_VALUE = 3,
	TARTAN_ETCD_CMP_LEASE = 4,
};

enum tartan_etcd_compare_result {
	TARTAN_ETCD_CMP_EQUAL = 0,
	TARTAN_ETCD_CMP_GREATER = 1,
	TARTAN_ETCD_CMP_LESS = 2,
	TARTAN_ETCD_CMP_NOT_EQUAL = 3,
};

struct tartan_etcd_compare {
	const void *key;
	size_t key_len;
	enum tartan_etcd_compare_target target;
	enum tartan_etcd_compare_result result;
	int64_t number;	   /* version, create/mod revision or lease */
	const void *value; /* for TARTAN_ETCD_CMP_VALUE */
	size_t value_len;
};

struct tartan_etcd_txn_req {
	const struct tartan_etcd_compare *compare;
	size_t n_compare;
	const struct tartan_etcd_op *success;
	size_t n_success;
	const struct tartan_etcd_op *failure;
	size_t n_failure;
};

struct tartan_etcd_watch_req {
	struct tartan_etcd_key_range keys;
	int64_t start_revision; /* 0: from now */
	bool progress_notify;
	bool prev_kv;
};

/* Base64 (standard alphabet, padded). Decoding is strict: bad characters,
 * missing padding or non-zero trailing bits are -EINVAL. */
char *tartan_etcd_base64_encode(const void *data, size_t len) _tartan_wur_;
int tartan_etcd_base64_decode(const char *text, size_t text_len,
			      struct tartan_etcd_bytes *ret) _tartan_wur_;

/* The range_end that selects every key starting with prefix: the prefix with
 * its last byte that is not 0xff incremented; "\0" if there is none. */
int tartan_etcd_prefix_end(const void *prefix, size_t len,
			   struct tartan_etcd_bytes *ret) _tartan_wur_;

/* Request bodies, as NUL-terminated JSON text in *ret_json (free()). */
int tartan_etcd_encode_range(const struct tartan_etcd_range_req *req, char **ret_json) _tartan_wur_;
int tartan_etcd_encode_put(const struct tartan_etcd_put_req *req, char **ret_json) _tartan_wur_;
int tartan_etcd_encode_delete(const struct tartan_etcd_delete_req *req,
			      char **ret_json) _tartan_wur_;
int tartan_etcd_encode_txn(const struct tartan_etcd_txn_req *req, char **ret_json) _tartan_wur_;
int tartan_etcd_encode_watch_create(const struct tartan_etcd_watch_req *req,
				    char **ret_json) _tartan_wur_;
int tartan_etcd_encode_lease_grant(int64_t ttl, int64_t id, char **ret_json) _tartan_wur_;
/* {"ID":"N"}: revoke, keepalive; timetolive also sets "keys" */
int tartan_etcd_encode_lease_id(int64_t id, bool keys, char **ret_json) _tartan_wur_;
int tartan_etcd_encode_authenticate(const char *name, const char *password,
				    char **ret_json) _tartan_wur_;
int tartan_etcd_encode_compact(int64_t revision, bool physical, char **ret_json) _tartan_wur_;

/*
 * Decoders. Each returns 0 and a freshly allocated *ret, or -EBADMSG when the
 * text is not the JSON shape etcd sends (wrong types, bad base64, numbers
 * that do not parse); never crashes on any input.
 */
int tartan_etcd_decode_result(enum tartan_etcd_result_kind kind, const char *buf, size_t len,
			      struct tartan_etcd_result **ret) _tartan_wur_;
void tartan_etcd_result_free(struct tartan_etcd_result *r);

int tartan_etcd_decode_watch_msg(const char *buf, size_t len,
				 struct tartan_etcd_watch_msg **ret) _tartan_wur_;
void tartan_etcd_watch_msg_free(struct tartan_etcd_watch_msg *m);

/*
 * The error body of a non-200 answer: {"error","message","code"}. Sets
 * *ret_code to the gRPC code and *ret_message (free()) to the message; a body
 * that is not such JSON (a plain-text 404 or 405) gives -EBADMSG.
 */
int tartan_etcd_decode_error(const char *buf, size_t len, int *ret_code,
			     char **ret_message) _tartan_wur_;

/* -errno for a gRPC code: 3 EINVAL, 5 ENOENT, 7 EACCES, 11 ERANGE, 14 EAGAIN,
 * 16 EKEYEXPIRED, 4 ETIMEDOUT, 9 EBUSY, others EIO. */
int tartan_etcd_errno_from_grpc(int code);
