/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asynchronous etcd v3 client over the JSON gateway (/v3/...), driven by
 * libcurl's multi interface inside the caller's libev loop. No threads, no
 * blocking call on the loop.
 *
 * Every unary call takes (callback, user_data, destroy). The callback runs
 * exactly once, from the loop, never from inside the call that started the
 * request, unless the request is cancelled first; destroy (if not NULL) runs
 * after it, or on cancel. error is 0 or -errno with errmsg saying why (curl's
 * words, or etcd's message); res is set only when error is 0. res is owned by
 * the client and freed after the callback returns; a callback that wants to
 * keep it moves its fields out and zeroes them.
 *
 * Endpoints: requests go to the current endpoint; a connection error, a timeout
 * without an answer or a 5xx answer moves the client to the next one, and with it
 * the watch streams on the failed endpoint (a hung member keeps them open and
 * silent), each resuming after its last delivered revision. Idempotent
 * requests (range, lease grant/keepalive/timetolive, authenticate, status) and
 * any request that never reached a server are retried with backoff within the
 * request's attempt budget. With username/password set, the client authenticates first
 * and again whenever etcd says the token is invalid.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "etcd/codec.h"

struct ev_loop;
struct tartan_etcd_client;
struct tartan_etcd_request;
struct tartan_etcd_watch;

struct tartan_etcd_options {
	const char *const *endpoints; /* "http://127.0.0.1:2379" or https:// */
	size_t n_endpoints;
	const char *ca_file;   /* TLS: CA bundle to verify etcd with */
	const char *cert_file; /* TLS client certificate */
	const char *key_file;  /* and its key */
	const char *username;  /* auth: token from /v3/auth/authenticate */
	const char *password;
	unsigned request_timeout_ms; /* one attempt; 0 = 5000 */
	unsigned connect_timeout_ms; /* 0 = 2000 */
	unsigned max_attempts;	     /* per request; 0 = 2 per endpoint, at least 3 */
};

typedef void (*tartan_etcd_result_fn)(int error, const char *errmsg, struct tartan_etcd_result *res,
				      void *userdata);
typedef void (*tartan_etcd_destroy_fn)(void *userdata);

/* Validates the options (URLs, TLS files only with https:// endpoints) and
 * copies them; -EINVAL with nothing allocated when they are wrong. */
int tartan_etcd_client_new(struct ev_loop *loop, const struct tartan_etcd_options *opts,
			   struct tartan_etcd_client **ret) _tartan_wur_;
/* Cancels every request and watch (destroy runs, callbacks do not). */
void tartan_etcd_client_free(struct tartan_etcd_client *c);

/* The endpoint requests go to now, for status output. */
const char *tartan_etcd_client_endpoint(const struct tartan_etcd_client *c);

/* The kinds of request the client sends, for per-kind statistics. */
enum tartan_etcd_req_kind {
	TARTAN_ETCD_REQ_RANGE,
	TARTAN_ETCD_REQ_PUT,
	TARTAN_ETCD_REQ_DELETE,
	TARTAN_ETCD_REQ_TXN,
	TARTAN_ETCD_REQ_LEASE_GRANT,
	TARTAN_ETCD_REQ_LEASE_REVOKE,
	TARTAN_ETCD_REQ_LEASE_KEEPALIVE,
	TARTAN_ETCD_REQ_LEASE_TIMETOLIVE,
	TARTAN_ETCD_REQ_AUTH, /* /v3/auth/authenticate */
	TARTAN_ETCD_REQ_COMPACT,
	TARTAN_ETCD_REQ_STATUS,
	TARTAN_ETCD_REQ_WATCH, /* one per stream opened */
	TARTAN_ETCD_REQ_MAX,
};

/* Why an attempt failed. */
enum tartan_etcd_cause {
	TARTAN_ETCD_CAUSE_TRANSPORT, /* connection, TLS, reset: no answer */
	TARTAN_ETCD_CAUSE_TIMEOUT,   /* the attempt ran out of time */
	TARTAN_ETCD_CAUSE_REFUSED,   /* etcd or a proxy said no: gRPC code, HTTP error */
	TARTAN_ETCD_CAUSE_MALFORMED, /* an answer the client cannot read */
	TARTAN_ETCD_CAUSE_MAX,
};

/* "range", "put", ..., "watch": label values for metrics; NULL when out of range. */
const char *tartan_etcd_req_kind_name(enum tartan_etcd_req_kind kind);
/* "transport", "timeout", "refused", "malformed"; NULL when out of range. */
const char *tartan_etcd_cause_name(enum tartan_etcd_cause cause);

/* Statistics, for metrics and benchmarks. */
struct tartan_etcd_stats {
	uint64_t requests;  /* HTTP requests sent (attempts) */
	uint64_t errors;    /* attempts that failed */
	uint64_t failovers; /* moves to another endpoint */
	uint64_t watch_reconnects;
	/* the same two split up: they sum to requests and errors */
	uint64_t requests_by_kind[TARTAN_ETCD_REQ_MAX];
	uint64_t errors_by_kind[TARTAN_ETCD_REQ_MAX][TARTAN_ETCD_CAUSE_MAX];
};
void tartan_etcd_client_stats(const struct tartan_etcd_client *c, struct tartan_etcd_stats *ret);

/*
 * Unary calls. *ret_req (may be NULL) is a handle for
 * tartan_etcd_request_cancel(), valid until the callback or destroy has run.
 * Returns -errno (nothing started, no callback) when the request cannot be
 * encoded or the client is out of memory.
 */
int tartan_etcd_range(struct tartan_etcd_client *c, const struct tartan_etcd_range_req *req,
		      tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
		      struct tartan_etcd_request **ret_req);
int tartan_etcd_put(struct tartan_etcd_client *c, const struct tartan_etcd_put_req *req,
		    tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
		    struct tartan_etcd_request **ret_req);
int tartan_etcd_delete(struct tartan_etcd_client *c, const struct tartan_etcd_delete_req *req,
		       tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
		       struct tartan_etcd_request **ret_req);
int tartan_etcd_txn(struct tartan_etcd_client *c, const struct tartan_etcd_txn_req *req,
		    tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
		    struct tartan_etcd_request **ret_req);
/* id 0: etcd chooses */
int tartan_etcd_lease_grant(struct tartan_etcd_client *c, int64_t ttl, int64_t id,
			    tartan_etcd_result_fn cb, void *userdata,
			    tartan_etcd_destroy_fn destroy, struct tartan_etcd_request **ret_req);
int tartan_etcd_lease_revoke(struct tartan_etcd_client *c, int64_t id, tartan_etcd_result_fn cb,
			     void *userdata, tartan_etcd_destroy_fn destroy,
			     struct tartan_etcd_request **ret_req);
/* error -ENOENT when etcd answers without a TTL (the lease is gone) */
int tartan_etcd_lease_keepalive(struct tartan_etcd_client *c, int64_t id, tartan_etcd_result_fn cb,
				void *userdata, tartan_etcd_destroy_fn destroy,
				struct tartan_etcd_request **ret_req);
/* res->ttl is -1 for a lease that does not exist */
int tartan_etcd_lease_timetolive(struct tartan_etcd_client *c, int64_t id, tartan_etcd_result_fn cb,
				 void *userdata, tartan_etcd_destroy_fn destroy,
				 struct tartan_etcd_request **ret_req);
int tartan_etcd_compact(struct tartan_etcd_client *c, int64_t revision, tartan_etcd_result_fn cb,
			void *userdata, tartan_etcd_destroy_fn destroy,
			struct tartan_etcd_request **ret_req);
/* maintenance/status of the current endpoint: res->header */
int tartan_etcd_status(struct tartan_etcd_client *c, tartan_etcd_result_fn cb, void *userdata,
		       tartan_etcd_destroy_fn destroy, struct tartan_etcd_request **ret_req);

void tartan_etcd_request_cancel(struct tartan_etcd_request *r);

/*
 * Watch streams. Events arrive once each and in revision order: across a lost
 * connection or an etcd restart the client reconnects (backoff 100 ms to 5 s,
 * next endpoint on connection errors) and resumes from the revision after the
 * last one it delivered, dropping anything at or below it.
 *
 * TARTAN_ETCD_WATCH_COMPACTED: the revision to resume from was compacted;
 * the watch has stopped, the caller re-lists and starts a new one.
 * TARTAN_ETCD_WATCH_FAILED: etcd refused the watch for good (permission
 * denied, bad request); the watch has stopped.
 * The watch handle stays valid after both until tartan_etcd_watch_free().
 */
enum tartan_etcd_watch_status {
	TARTAN_ETCD_WATCH_EVENTS,    /* events[0..n_events) */
	TARTAN_ETCD_WATCH_PROGRESS,  /* nothing new up to revision */
	TARTAN_ETCD_WATCH_COMPACTED, /* compact_revision set */
	TARTAN_ETCD_WATCH_FAILED,    /* errmsg says why */
};

struct tartan_etcd_watch_update {
	enum tartan_etcd_watch_status status;
	int64_t revision; /* delivered up to here */
	int64_t compact_revision;
	const struct tartan_etcd_event *events;
	size_t n_events;
	const char *errmsg;
};

typedef void (*tartan_etcd_watch_fn)(struct tartan_etcd_watch *w,
				     const struct tartan_etcd_watch_update *u, void *userdata);

int tartan_etcd_watch_new(struct tartan_etcd_client *c, const struct tartan_etcd_watch_req *req,
			  tartan_etcd_watch_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
			  struct tartan_etcd_watch **ret) _tartan_wur_;
/* Stops the stream; destroy runs. Safe from inside the watch's callback. */
void tartan_etcd_watch_free(struct tartan_etcd_watch *w);
/* True while the stream is connected and etcd has confirmed the watch. */
bool tartan_etcd_watch_is_connected(const struct tartan_etcd_watch *w);
/* Why the stream is down (NULL while it is up): for logs and status. */
const char *tartan_etcd_watch_last_error(const struct tartan_etcd_watch *w);
