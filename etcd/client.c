/* SPDX-License-Identifier: Apache-2.0 */
/*
 * etcd v3 client: libcurl multi driven by libev (curl's evhiperfifo pattern).
 *
 * One ev_timer for the multi handle, one ev_io per socket (kept with
 * curl_multi_assign), curl_multi_socket_action from both. libcurl is never
 * called from inside its own callbacks: the write callback only buffers, and
 * finished transfers and complete watch lines are handled after
 * curl_multi_socket_action has returned.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/client.h"
#include "etcd/grpc.h"

#define UNARY_BODY_MAX (256u << 20) /* a full list of a large prefix */
#define WATCH_LINE_MAX (64u << 20)  /* etcd batches up to 1000 revisions a line */
#define RETRY_BACKOFF_FIRST_MS 50
#define RETRY_BACKOFF_MAX_MS 1000
#define WATCH_BACKOFF_FIRST_MS 100 /* flannel's watch backoff: 100 ms to 5 s */
#define WATCH_BACKOFF_MAX_MS 5000

/*
 * One libcurl multi handle with its timer. The client has two, so that gRPC
 * over HTTP/2 never shares a connection cache with the HTTP/1.1 gateway calls
 * (curl 7.88 sends an HTTP/2 request on a kept-alive HTTP/1.1 connection to
 * the same host, and etcd resets it).
 */
struct curl_driver {
	CURLM *multi;
	ev_timer timer;
	ev_timer kick;
	unsigned kick_round;
	int running;
	struct tartan_etcd_client *client;
};

struct sockinfo {
	ev_io io;
	curl_socket_t fd;
	struct curl_driver *driver;
	unsigned kicked; /* the kick round that poked it last (kick_timer_cb) */
	struct sockinfo *prev, *next;
};

/* What a finished easy handle belongs to: CURLINFO_PRIVATE points here. */
struct transfer {
	CURL *easy;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	char message[CURL_ERROR_SIZE + 96];
	size_t endpoint;		/* index of the endpoint this attempt went to */
	enum tartan_etcd_req_kind kind; /* which counters this attempt goes to */
	bool is_watch;
	bool overflow; /* the body outgrew its limit */
	bool grpc;
	bool tls_client_cert; /* https:// with a client certificate */
	int grpc_status;      /* -1 until etcd sends grpc-status */
	char grpc_message[256];
	char *buf;
	size_t len, cap, limit;
};

struct tartan_etcd_request {
	struct transfer t; /* first: CURLINFO_PRIVATE is a struct transfer * */
	struct tartan_etcd_client *client;
	struct tartan_etcd_request *prev, *next;
	enum tartan_etcd_result_kind kind;
	const char *path;
	char *body;
	size_t body_len;
	bool idempotent;
	bool is_auth; /* the authenticate call itself: sent without a token */
	bool reauthed;
	bool running;
	bool waiting_auth;
	bool finishing;
	unsigned attempts;
	ev_timer retry_timer;
	tartan_etcd_result_fn cb;
	void *userdata;
	tartan_etcd_destroy_fn destroy;
};

struct tartan_etcd_watch {
	struct transfer t; /* first, as above */
	struct tartan_etcd_client *client;
	struct tartan_etcd_watch *prev, *next;
	struct tartan_etcd_bytes key, range_end;
	bool prefix;
	int64_t start_revision;
	bool progress_notify, prev_kv;
	int64_t last_revision; /* delivered up to here */
	bool running, connected, waiting_auth, stopped, pending;
	bool in_callback, freed;
	unsigned backoff_ms;
	ev_timer reconnect_timer;
	char last_error[512];
	tartan_etcd_watch_fn cb;
	void *userdata;
	tartan_etcd_destroy_fn destroy;
};

struct tartan_etcd_client {
	struct ev_loop *loop;
	struct curl_driver http1, http2;
	char **endpoints;
	size_t n_endpoints;
	size_t current;
	char *ca_file, *cert_file, *key_file;
	char *username, *password;
	char *token;
	char *auth_header;
	char *grpc_auth_header;
	struct tartan_etcd_request *auth_req;
	unsigned request_timeout_ms, connect_timeout_ms, max_attempts;
	struct tartan_etcd_request *requests;
	struct tartan_etcd_watch *watches;
	struct sockinfo *sockets;
	struct tartan_etcd_stats stats;
	bool verbose; /* TARTAN_ETCD_DEBUG=1: curl's trace on stderr */
};

#define LIST_INSERT(head, item)                                                                    \
	do {                                                                                       \
		(item)->prev = NULL;                                                               \
		(item)->next = (head);                                                             \
		if (head)                                                                          \
			(head)->prev = (item);                                                     \
		(head) = (item);                                                                   \
	} while (0)

#define LIST_REMOVE(head, item)                                                                    \
	do {                                                                                       \
		if ((item)->prev)                                                                  \
			(item)->prev->next = (item)->next;                                         \
		else                                                                               \
			(head) = (item)->next;                                                     \
		if ((item)->next)                                                                  \
			(item)->next->prev = (item)->prev;                                         \
		(item)->prev = (item)->next = NULL;                                                \
	} while (0)

static void after_socket_action(struct tartan_etcd_client *c);
static int request_attempt(struct tartan_etcd_request *r);
static void watch_connect(struct tartan_etcd_watch *w);
static void watch_schedule_reconnect(struct tartan_etcd_watch *w);

/* --- libcurl <-> libev glue --------------------------------------------- */

static void multi_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curl_driver *d = w->data;

	curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &d->running);
	after_socket_action(d->client);
}

/*
 * curl 7.88's HTTP/2 code can read a whole burst off the socket and then stop
 * with input still buffered inside, waiting for a socket event that never
 * comes (the socket is empty): the transfer stalls for about 200 ms. While an
 * HTTP/2 transfer runs, poke its sockets every 2 ms so buffered input is
 * processed.
 */
static void kick_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curl_driver *d = w->data;
	struct tartan_etcd_client *c = d->client;
	struct sockinfo *si;

	/*
	 * A socket action may make curl close any connection (and free its sockinfo in
	 * curl_socket_cb), the next one in the list too: no saved pointer survives it, so
	 * each poke rescans from the head for a socket this round has not poked yet.
	 */
	d->kick_round++;
	for (;;) {
		for (si = c->sockets; si && (si->driver != d || si->kicked == d->kick_round);
		     si = si->next)
			;
		if (!si)
			break;
		si->kicked = d->kick_round;
		curl_multi_socket_action(d->multi, si->fd, CURL_CSELECT_IN, &d->running);
	}
	after_socket_action(c);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_driver *d = userp;

	ev_timer_stop(d->client->loop, &d->timer);
	if (timeout_ms >= 0) {
		/* milliseconds to seconds: divide by 1000.0, not 1000 (evhiperfifo's bug) */
		ev_timer_set(&d->timer, timeout_ms / 1000.0, 0.);
		ev_timer_start(d->client->loop, &d->timer);
	}
	return 0;
}

static void sock_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sockinfo *si = w->data;
	struct curl_driver *d = si->driver;
	int action = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
		     (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(d->multi, si->fd, action, &d->running);
	after_socket_action(d->client);
}

static void sockinfo_free(struct tartan_etcd_client *c, struct sockinfo *si)
{
	ev_io_stop(c->loop, &si->io);
	LIST_REMOVE(c->sockets, si);
	free(si);
}

static int curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curl_driver *d = userp;
	struct tartan_etcd_client *c = d->client;
	struct sockinfo *si = socketp;
	int events;

	if (what == CURL_POLL_REMOVE) {
		if (si) {
			sockinfo_free(c, si);
			curl_multi_assign(d->multi, s, NULL);
		}
		return 0;
	}
	if (!si) {
		si = calloc(1, sizeof(*si));
		if (!si)
			return -1; /* curl fails the transfer */
		si->driver = d;
		si->fd = s;
		ev_init(&si->io, sock_io_cb);
		si->io.data = si;
		LIST_INSERT(c->sockets, si);
		curl_multi_assign(d->multi, s, si);
	}
	events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
	ev_io_stop(c->loop, &si->io);
	ev_io_set(&si->io, s, events);
	ev_io_start(c->loop, &si->io);
	return 0;
}

static size_t transfer_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *buf;

		while (cap < t->len + n + 1)
			cap *= 2;
		if (t->len + n + 1 > t->limit) {
			t->overflow = true;
			return 0; /* CURLE_WRITE_ERROR */
		}
		buf = realloc(t->buf, cap);
		if (!buf)
			return 0;
		t->buf = buf;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	t->buf[t->len] = '\0';
	if (t->is_watch)
		((struct tartan_etcd_watch *)t)->pending = true;
	return n;
}

/* gRPC puts its status in a header (trailers-only answers) or in the trailers. */
static size_t transfer_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	if (n > 12 && strncasecmp(data, "grpc-status:", 12) == 0) {
		char num[16];
		size_t len = n - 12 < sizeof(num) - 1 ? n - 12 : sizeof(num) - 1;

		memcpy(num, data + 12, len);
		num[len] = '\0';
		t->grpc_status = atoi(num);
	} else if (n > 13 && strncasecmp(data, "grpc-message:", 13) == 0) {
		char *msg = tartan_etcd_grpc_message_decode(data + 13, n - 13);

		if (msg)
			snprintf(t->grpc_message, sizeof(t->grpc_message), "%s",
				 msg + strspn(msg, " "));
		free(msg);
	}
	return size * nmemb;
}

static void transfer_reset(struct tartan_etcd_client *c, struct transfer *t)
{
	if (t->easy) {
		curl_multi_remove_handle(t->grpc ? c->http2.multi : c->http1.multi, t->easy);
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	curl_slist_free_all(t->headers);
	t->headers = NULL;
	t->len = 0;
	t->overflow = false;
	t->errbuf[0] = '\0';
	t->grpc_status = -1;
	t->grpc_message[0] = '\0';
}

/*
 * Prepares t->easy for a POST of body to path on the current endpoint: JSON
 * over HTTP/1.1 for the gateway, or a gRPC frame over HTTP/2 when t->grpc.
 */
static int transfer_setup(struct tartan_etcd_client *c, struct transfer *t, const char *path,
			  const char *body, size_t body_len, bool with_token, bool stream)
{
	const char *auth = t->grpc ? c->grpc_auth_header : c->auth_header;

	char url[1024];
	int n;

	t->endpoint = c->current;
	t->tls_client_cert = c->cert_file && strncmp(c->endpoints[t->endpoint], "https:", 6) == 0;
	n = snprintf(url, sizeof(url), "%s%s", c->endpoints[t->endpoint], path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -ENAMETOOLONG;
	t->easy = curl_easy_init();
	if (!t->easy)
		return -ENOMEM;
	/* a POST over 1 KiB would otherwise wait a second for 100-continue */
	t->headers = curl_slist_append(NULL, "Expect:");
	if (t->headers)
		t->headers =
			curl_slist_append(t->headers, t->grpc ? "Content-Type: application/grpc" :
								"Content-Type: application/json");
	if (t->headers && t->grpc)
		t->headers = curl_slist_append(t->headers, "TE: trailers");
	if (t->headers && with_token && auth)
		t->headers = curl_slist_append(t->headers, auth);
	if (!t->headers)
		return -ENOMEM;

	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)body_len);
	curl_easy_setopt(t->easy, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, transfer_write_cb);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	if (t->grpc) {
		/* etcd's client port hands HTTP/2 to its gRPC server */
		curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION,
				 strncmp(url, "https:", 6) == 0 ?
					 (long)CURL_HTTP_VERSION_2TLS :
					 (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
		/*
		 * Debian 12's curl 7.88.1 fails a POST on a reused HTTP/2
		 * connection ("Error in the HTTP2 framing layer"): one
		 * connection per range; ranges are rare (start-up, re-list).
		 */
		curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(t->easy, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, transfer_header_cb);
		curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
	} else {
		/* the JSON gateway speaks HTTP/1.1; h2 on etcd's port is gRPC's */
		curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	}
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPINTVL, 5L);
	if (!stream)
		/* a stale simple token with a large index makes etcd hang: always time out */
		curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)c->request_timeout_ms);
	if (c->ca_file)
		curl_easy_setopt(t->easy, CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file)
		curl_easy_setopt(t->easy, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file)
		curl_easy_setopt(t->easy, CURLOPT_SSLKEY, c->key_file);
	curl_easy_setopt(t->easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->verbose)
		curl_easy_setopt(t->easy, CURLOPT_VERBOSE, 1L);
	return 0;
}

static int transfer_start(struct tartan_etcd_client *c, struct transfer *t)
{
	if (curl_multi_add_handle(t->grpc ? c->http2.multi : c->http1.multi, t->easy) != CURLM_OK)
		return -ENOMEM;
	c->stats.requests++;
	c->stats.requests_by_kind[t->kind]++;
	return 0;
}

/* An attempt that failed: counted in the total and by kind and cause. */
static void transfer_count_error(struct tartan_etcd_client *c, const struct transfer *t,
				 enum tartan_etcd_cause cause)
{
	c->stats.errors++;
	c->stats.errors_by_kind[t->kind][cause]++;
}

static enum tartan_etcd_cause cause_from_curl(CURLcode rc)
{
	return rc == CURLE_OPERATION_TIMEDOUT ? TARTAN_ETCD_CAUSE_TIMEOUT :
						TARTAN_ETCD_CAUSE_TRANSPORT;
}

static enum tartan_etcd_req_kind req_kind_from_result(enum tartan_etcd_result_kind kind)
{
	switch (kind) {
	case TARTAN_ETCD_RESULT_RANGE:
		return TARTAN_ETCD_REQ_RANGE;
	case TARTAN_ETCD_RESULT_PUT:
		return TARTAN_ETCD_REQ_PUT;
	case TARTAN_ETCD_RESULT_DELETE:
		return TARTAN_ETCD_REQ_DELETE;
	case TARTAN_ETCD_RESULT_TXN:
		return TARTAN_ETCD_REQ_TXN;
	case TARTAN_ETCD_RESULT_LEASE_GRANT:
		return TARTAN_ETCD_REQ_LEASE_GRANT;
	case TARTAN_ETCD_RESULT_LEASE_REVOKE:
		return TARTAN_ETCD_REQ_LEASE_REVOKE;
	case TARTAN_ETCD_RESULT_LEASE_KEEPALIVE:
		return TARTAN_ETCD_REQ_LEASE_KEEPALIVE;
	case TARTAN_ETCD_RESULT_LEASE_TTL:
		return TARTAN_ETCD_REQ_LEASE_TIMETOLIVE;
	case TARTAN_ETCD_RESULT_AUTHENTICATE:
		return TARTAN_ETCD_REQ_AUTH;
	case TARTAN_ETCD_RESULT_COMPACT:
		return TARTAN_ETCD_REQ_COMPACT;
	case TARTAN_ETCD_RESULT_STATUS:
		return TARTAN_ETCD_REQ_STATUS;
	}
	abort();
}

const char *tartan_etcd_req_kind_name(enum tartan_etcd_req_kind kind)
{
	static const char *const names[TARTAN_ETCD_REQ_MAX] = {
		[TARTAN_ETCD_REQ_RANGE] = "range",
		[TARTAN_ETCD_REQ_PUT] = "put",
		[TARTAN_ETCD_REQ_DELETE] = "delete",
		[TARTAN_ETCD_REQ_TXN] = "txn",
		[TARTAN_ETCD_REQ_LEASE_GRANT] = "lease_grant",
		[TARTAN_ETCD_REQ_LEASE_REVOKE] = "lease_revoke",
		[TARTAN_ETCD_REQ_LEASE_KEEPALIVE] = "lease_keepalive",
		[TARTAN_ETCD_REQ_LEASE_TIMETOLIVE] = "lease_timetolive",
		[TARTAN_ETCD_REQ_AUTH] = "auth",
		[TARTAN_ETCD_REQ_COMPACT] = "compact",
		[TARTAN_ETCD_REQ_STATUS] = "status",
		[TARTAN_ETCD_REQ_WATCH] = "watch",
	};

	return (unsigned)kind < TARTAN_ETCD_REQ_MAX ? names[kind] : NULL;
}

const char *tartan_etcd_cause_name(enum tartan_etcd_cause cause)
{
	static const char *const names[TARTAN_ETCD_CAUSE_MAX] = {
		[TARTAN_ETCD_CAUSE_TRANSPORT] = "transport",
		[TARTAN_ETCD_CAUSE_TIMEOUT] = "timeout",
		[TARTAN_ETCD_CAUSE_REFUSED] = "refused",
		[TARTAN_ETCD_CAUSE_MALFORMED] = "malformed",
	};

	return (unsigned)cause < TARTAN_ETCD_CAUSE_MAX ? names[cause] : NULL;
}

/*
 * A connection-level failure on endpoint idx: later requests go elsewhere, and so do the
 * watch streams on it. A member that hangs (SIGSTOP, a frozen VM) keeps its connections
 * open, since its kernel still answers for it: a watch stream there falls silent and never
 * fails by itself, while requests to it time out. So the first such failure moves the
 * watches too, each resuming after the last revision it delivered (nothing missed or
 * repeated). The move waits for the loop's next turn: this runs inside curl's completion
 * handling, where a transfer must not be torn down.
 */
static void endpoint_failed(struct tartan_etcd_client *c, size_t idx)
{
	struct tartan_etcd_watch *w;

	if (c->n_endpoints <= 1 || c->current != idx)
		return;
	c->current = (idx + 1) % c->n_endpoints;
	c->stats.failovers++;
	for (w = c->watches; w; w = w->next) {
		if (!w->running || w->stopped || w->t.endpoint != idx)
			continue;
		snprintf(w->last_error, sizeof(w->last_error),
			 "etcd %s failed a request: the watch moves to %s", c->endpoints[idx],
			 c->endpoints[c->current]);
		c->stats.watch_reconnects++;
		ev_timer_stop(c->loop, &w->reconnect_timer);
		ev_timer_set(&w->reconnect_timer, 0., 0.);
		ev_timer_start(c->loop, &w->reconnect_timer);
	}
}

/* Errors where the request surely never reached etcd: safe to send again. */
static bool curl_error_before_send(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static int errno_from_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -EKEYREJECTED;
	case CURLE_SSL_CONNECT_ERROR:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static const char *transfer_curl_error(struct transfer *t, CURLcode rc)
{
	if (t->overflow)
		return "answer larger than the client accepts";
	/*
	 * With TLS 1.3 etcd checks the client certificate after the handshake and
	 * resets the connection; curl then often reports only the reset, not the
	 * alert. Say where the reason is.
	 */
	if ((rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR) && t->tls_client_cert) {
		snprintf(t->message, sizeof(t->message),
			 "%s (etcd may have refused the client certificate: its log says why)",
			 t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
		return t->message;
	}
	return t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
}

/* --- unary requests ------------------------------------------------------ */

static void request_free(struct tartan_etcd_request *r)
{
	struct tartan_etcd_client *c = r->client;

	ev_timer_stop(c->loop, &r->retry_timer);
	transfer_reset(c, &r->t);
	free(r->t.buf);
	free(r->body);
	if (r->destroy)
		r->destroy(r->userdata);
	free(r);
}

static void request_finish(struct tartan_etcd_request *r, int error, const char *errmsg,
			   struct tartan_etcd_result *res)
{
	struct tartan_etcd_client *c = r->client;

	r->finishing = true;
	LIST_REMOVE(c->requests, r);
	if (r->cb)
		r->cb(error, errmsg, error ? NULL : res, r->userdata);
	tartan_etcd_result_free(res);
	request_free(r);
}

static void request_finishf(struct tartan_etcd_request *r, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void request_finishf(struct tartan_etcd_request *r, int error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	request_finish(r, error, msg, NULL);
}

static void retry_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tartan_etcd_request *r = w->data;
	int err;

	err = request_attempt(r);
	if (err < 0)
		request_finishf(r, err, "etcd %s: cannot start request: %s", r->path,
				strerror(-err));
}

/* Tries again after a backoff if the budget allows; false when it does not. */
static bool request_retry(struct tartan_etcd_request *r)
{
	struct tartan_etcd_client *c = r->client;
	unsigned ms = RETRY_BACKOFF_FIRST_MS;
	unsigned i;

	if (r->attempts >= c->max_attempts)
		return false;
	for (i = 1; i < r->attempts && ms < RETRY_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > RETRY_BACKOFF_MAX_MS)
		ms = RETRY_BACKOFF_MAX_MS;
	/* the first retry goes to the next endpoint at once */
	if (r->attempts == 1 && c->current != r->t.endpoint)
		ms = 0;
	ev_timer_set(&r->retry_timer, ms / 1000.0, 0.);
	ev_timer_start(c->loop, &r->retry_timer);
	return true;
}

static void auth_start(struct tartan_etcd_client *c);

static int request_attempt(struct tartan_etcd_request *r)
{
	struct tartan_etcd_client *c = r->client;
	int err;

	transfer_reset(c, &r->t);
	if (c->username && !r->is_auth && !c->token) {
		r->waiting_auth = true;
		auth_start(c);
		if (!c->auth_req) {
			r->waiting_auth = false;
			return -ENOMEM;
		}
		return 0;
	}
	err = transfer_setup(c, &r->t, r->path, r->body, r->body_len, !r->is_auth, false);
	if (err < 0)
		return err;
	err = transfer_start(c, &r->t);
	if (err < 0)
		return err;
	r->attempts++;
	r->running = true;
	return 0;
}

/* etcd refused the request with a gRPC code (in JSON or in gRPC trailers). */
static void request_refused(struct tartan_etcd_request *r, long status, int code,
			    const char *message)
{
	struct tartan_etcd_client *c = r->client;
	const char *url = c->endpoints[r->t.endpoint];
	int err;

	if (code == TARTAN_ETCD_GRPC_UNAUTHENTICATED && c->username && !r->is_auth &&
	    !r->reauthed) {
		/* simple tokens expire after 5 min idle: authenticate again, once */
		free(c->token);
		c->token = NULL;
		r->reauthed = true;
		err = request_attempt(r);
		if (err < 0)
			request_finishf(r, err, "etcd %s%s: %s", url, r->path, strerror(-err));
		return;
	}
	if (status >= 500 || code == TARTAN_ETCD_GRPC_UNAVAILABLE) {
		endpoint_failed(c, r->t.endpoint);
		if (r->idempotent && request_retry(r))
			return;
	}
	request_finishf(r, tartan_etcd_errno_from_grpc(code), "etcd %s%s: %s", url, r->path,
			message);
}

static void request_done(struct tartan_etcd_request *r, CURLcode rc)
{
	struct tartan_etcd_client *c = r->client;
	const char *url = c->endpoints[r->t.endpoint];
	const char *body = r->t.buf ? r->t.buf : "";
	struct tartan_etcd_result *res = NULL;
	char *message = NULL;
	long status = 0;
	int code, err;

	r->running = false;
	curl_easy_getinfo(r->t.easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		err = errno_from_curl(rc);
		transfer_count_error(c, &r->t, cause_from_curl(rc));
		if (rc != CURLE_OPERATION_TIMEDOUT || status == 0)
			endpoint_failed(c, r->t.endpoint);
		if ((r->idempotent || curl_error_before_send(rc)) && request_retry(r))
			return;
		request_finishf(r, err, "etcd %s%s: %s", url, r->path,
				transfer_curl_error(&r->t, rc));
		return;
	}

	if (r->t.grpc && status == 200 && r->t.grpc_status != 0) {
		transfer_count_error(c, &r->t,
				     r->t.grpc_status < 0 ? TARTAN_ETCD_CAUSE_MALFORMED :
							    TARTAN_ETCD_CAUSE_REFUSED);
		if (r->t.grpc_status < 0)
			request_finishf(r, -EBADMSG, "etcd %s%s: answer without grpc-status", url,
					r->path);
		else
			request_refused(r, status, r->t.grpc_status,
					r->t.grpc_message[0] ? r->t.grpc_message : "no message");
		return;
	}
	if (status == 200) {
		if (r->t.grpc && r->t.buf) {
			/* decoded in place: the answer buffer becomes the result's (the transfer
			 * keeps buf[len] as a NUL, which the decoder needs); the buffer grew by
			 * doubling, so give back what the answer does not use */
			if (r->t.cap > r->t.len + 1 + 65536) {
				char *fit = realloc(r->t.buf, r->t.len + 1);

				if (fit) {
					r->t.buf = fit;
					r->t.cap = r->t.len + 1;
				}
			}
			err = tartan_etcd_grpc_decode_range_in_place(r->t.buf, r->t.len, &res);
			if (err >= 0) {
				r->t.buf = NULL;
				r->t.len = r->t.cap = 0;
			}
		} else if (r->t.grpc)
			err = -EBADMSG;
		else
			err = tartan_etcd_decode_result(r->kind, body, r->t.len, &res);
		if (err < 0) {
			transfer_count_error(c, &r->t, TARTAN_ETCD_CAUSE_MALFORMED);
			request_finishf(r, err, "etcd %s%s: malformed answer", url, r->path);
			return;
		}
		if (r->kind == TARTAN_ETCD_RESULT_LEASE_KEEPALIVE && !res->has_ttl) {
			tartan_etcd_result_free(res);
			request_finishf(r, -ENOENT, "etcd %s%s: lease not found", url, r->path);
			return;
		}
		request_finish(r, 0, NULL, res);
		return;
	}

	transfer_count_error(c, &r->t, TARTAN_ETCD_CAUSE_REFUSED);
	if (r->t.grpc || tartan_etcd_decode_error(body, r->t.len, &code, &message) < 0) {
		/* not etcd's answer: a proxy, a wrong URL, a 5xx without body */
		if (status >= 500) {
			endpoint_failed(c, r->t.endpoint);
			if (request_retry(r))
				return;
		}
		request_finishf(r, status == 404 ? -ENOENT : -EIO, "etcd %s%s: HTTP %ld%s%.100s",
				url, r->path, status, r->t.len && !r->t.grpc ? ": " : "",
				r->t.grpc ? "" : body);
		return;
	}
	request_refused(r, status, code, message);
	free(message);
}

static int request_submit_body(struct tartan_etcd_client *c, enum tartan_etcd_result_kind kind,
			       const char *path, char *body, size_t body_len, bool grpc,
			       bool idempotent, bool is_auth, tartan_etcd_result_fn cb,
			       void *userdata, tartan_etcd_destroy_fn destroy,
			       struct tartan_etcd_request **ret_req)
{
	struct tartan_etcd_request *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r) {
		free(body);
		return -ENOMEM;
	}
	r->client = c;
	r->kind = kind;
	r->t.kind = req_kind_from_result(kind);
	r->path = path;
	r->body = body;
	r->body_len = body_len;
	r->t.grpc = grpc;
	r->idempotent = idempotent;
	r->is_auth = is_auth;
	r->t.limit = UNARY_BODY_MAX;
	ev_init(&r->retry_timer, retry_timer_cb);
	r->retry_timer.data = r;
	LIST_INSERT(c->requests, r);

	err = request_attempt(r);
	if (err < 0) {
		/* nothing started: no callback, and the caller keeps its userdata */
		LIST_REMOVE(c->requests, r);
		request_free(r);
		return err;
	}
	r->cb = cb;
	r->userdata = userdata;
	r->destroy = destroy;
	if (ret_req)
		*ret_req = r;
	return 0;
}

/* A JSON call to the gateway: body is NUL-terminated text. */
static int request_submit(struct tartan_etcd_client *c, enum tartan_etcd_result_kind kind,
			  const char *path, char *body, bool idempotent, bool is_auth,
			  tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
			  struct tartan_etcd_request **ret_req)
{
	return request_submit_body(c, kind, path, body, strlen(body), false, idempotent, is_auth,
				   cb, userdata, destroy, ret_req);
}

void tartan_etcd_request_cancel(struct tartan_etcd_request *r)
{
	if (!r || r->finishing)
		return;
	LIST_REMOVE(r->client->requests, r);
	if (r->client->auth_req == r)
		r->client->auth_req = NULL;
	request_free(r);
}

/* --- authentication -------------------------------------------------------- */

static void auth_done(int error, const char *errmsg, struct tartan_etcd_result *res, void *userdata)
{
	struct tartan_etcd_client *c = userdata;
	struct tartan_etcd_request *r;
	struct tartan_etcd_watch *w;
	char msg[512];
	int err;

	c->auth_req = NULL;
	if (!error) {
		size_t n = strlen("Authorization: ") + strlen(res->token) + 1;
		char *hdr = malloc(n);

		if (!hdr) {
			error = -ENOMEM;
			errmsg = "out of memory";
		} else {
			/* the raw token: "Bearer <token>" is refused as an invalid token */
			snprintf(hdr, n, "Authorization: %s", res->token);
			free(c->token);
			free(c->auth_header);
			free(c->grpc_auth_header);
			c->token = res->token;
			res->token = NULL;
			c->auth_header = hdr;
			/* gRPC metadata "token", as etcd's own client sends it */
			c->grpc_auth_header = malloc(n);
			if (c->grpc_auth_header)
				snprintf(c->grpc_auth_header, n, "token: %s", c->token);
		}
	}
	if (error)
		snprintf(msg, sizeof(msg), "etcd authentication as '%s' failed: %s", c->username,
			 errmsg);

	/* handlers may submit or cancel requests: rescan from the head each time */
	for (;;) {
		for (r = c->requests; r && !r->waiting_auth; r = r->next)
			;
		if (!r)
			break;
		r->waiting_auth = false;
		if (error) {
			request_finish(r, error, msg, NULL);
			continue;
		}
		err = request_attempt(r);
		if (err < 0)
			request_finishf(r, err, "etcd %s: %s", r->path, strerror(-err));
	}
	for (w = c->watches; w; w = w->next) {
		if (!w->waiting_auth)
			continue;
		w->waiting_auth = false;
		if (error) {
			snprintf(w->last_error, sizeof(w->last_error), "%s", msg);
			watch_schedule_reconnect(w);
		} else {
			watch_connect(w);
		}
	}
}

static void auth_start(struct tartan_etcd_client *c)
{
	char *body;
	int err;

	if (c->auth_req)
		return;
	err = tartan_etcd_encode_authenticate(c->username, c->password ? c->password : "", &body);
	if (err >= 0)
		err = request_submit(c, TARTAN_ETCD_RESULT_AUTHENTICATE, "/v3/auth/authenticate",
				     body, true, true, auth_done, c, NULL, &c->auth_req);
	if (err < 0)
		c->auth_req = NULL; /* the caller fails its request itself */
}

/* --- watches --------------------------------------------------------------- */

static void watch_stop_transfer(struct tartan_etcd_watch *w)
{
	transfer_reset(w->client, &w->t);
	w->running = false;
	w->connected = false;
	w->pending = false;
}

static void watch_destroy(struct tartan_etcd_watch *w)
{
	struct tartan_etcd_client *c = w->client;

	ev_timer_stop(c->loop, &w->reconnect_timer);
	watch_stop_transfer(w);
	LIST_REMOVE(c->watches, w);
	free(w->t.buf);
	free(w->key.data);
	free(w->range_end.data);
	if (w->destroy)
		w->destroy(w->userdata);
	free(w);
}

/* Calls the user; returns false when the user freed the watch meanwhile. */
static bool watch_deliver(struct tartan_etcd_watch *w, const struct tartan_etcd_watch_update *u)
{
	w->in_callback = true;
	w->cb(w, u, w->userdata);
	w->in_callback = false;
	if (w->freed) {
		watch_destroy(w);
		return false;
	}
	return true;
}

static void watch_fail(struct tartan_etcd_watch *w, enum tartan_etcd_watch_status status,
		       int64_t compact_revision, const char *errmsg)
{
	struct tartan_etcd_watch_update u = {
		.status = status,
		.revision = w->last_revision,
		.compact_revision = compact_revision,
		.errmsg = errmsg,
	};

	snprintf(w->last_error, sizeof(w->last_error), "%s", errmsg);
	w->stopped = true;
	watch_stop_transfer(w);
	watch_deliver(w, &u);
}

/* Handles one line of the stream; false when the watch stopped or is gone. */
static bool watch_handle_line(struct tartan_etcd_watch *w, const char *line, size_t len)
{
	struct tartan_etcd_watch_msg *m = NULL;
	struct tartan_etcd_watch_update u = { 0 };
	bool alive = true;
	size_t i, first;
	int err;

	err = tartan_etcd_decode_watch_msg(line, len, &m);
	if (err < 0) {
		/* a line we cannot read would leave a hole: reconnect and replay */
		snprintf(w->last_error, sizeof(w->last_error), "malformed watch message");
		watch_stop_transfer(w);
		watch_schedule_reconnect(w);
		return false;
	}
	if (m->stream_error) {
		/* etcd is going away (408 on graceful stop); the stream ends next */
		snprintf(w->last_error, sizeof(w->last_error), "etcd: %s",
			 m->error_message ? m->error_message : "stream error");
		goto out;
	}
	if (m->canceled) {
		char msg[300];

		if (m->compact_revision > 0) {
			snprintf(msg, sizeof(msg), "revision %lld was compacted (now at %lld)",
				 (long long)(w->last_revision + 1), (long long)m->compact_revision);
			watch_fail(w, TARTAN_ETCD_WATCH_COMPACTED, m->compact_revision, msg);
		} else {
			snprintf(msg, sizeof(msg), "etcd canceled the watch: %s",
				 m->cancel_reason ? m->cancel_reason : "no reason given");
			watch_fail(w, TARTAN_ETCD_WATCH_FAILED, 0, msg);
		}
		alive = false;
		goto out;
	}
	if (m->created) {
		w->connected = true;
		w->backoff_ms = WATCH_BACKOFF_FIRST_MS;
		w->last_error[0] = '\0';
		/*
		 * The created header is the revision now, not what was replayed yet.
		 * But a watch "from now" covers exactly the revisions after it: resume
		 * from there, or what is written while a reconnect is pending is lost.
		 */
		if (w->start_revision == 0 && w->last_revision == 0)
			w->last_revision = m->header.revision;
		goto out;
	}
	if (m->n_events == 0) {
		/* progress: etcd only sends it to a watcher that is in sync */
		if (m->header.revision > w->last_revision) {
			w->last_revision = m->header.revision;
			u.status = TARTAN_ETCD_WATCH_PROGRESS;
			u.revision = w->last_revision;
			alive = watch_deliver(w, &u);
		}
		goto out;
	}
	/*
	 * After a reconnect etcd replays from last_revision + 1; anything at or
	 * below was delivered already. The header revision of a batch may run
	 * ahead of its last event (etcd sends at most 1000 revisions a line), so
	 * only event revisions move last_revision.
	 */
	for (first = 0; first < m->n_events; first++)
		if (m->events[first].kv.mod_revision > w->last_revision)
			break;
	if (first == m->n_events)
		goto out;
	u.status = TARTAN_ETCD_WATCH_EVENTS;
	u.events = m->events + first;
	u.n_events = m->n_events - first;
	for (i = first; i < m->n_events; i++)
		if (m->events[i].kv.mod_revision > w->last_revision)
			w->last_revision = m->events[i].kv.mod_revision;
	u.revision = w->last_revision;
	alive = watch_deliver(w, &u);
out:
	tartan_etcd_watch_msg_free(m);
	return alive;
}

/* Hands every complete line to the watch; keeps a partial one buffered. */
static bool watch_process(struct tartan_etcd_watch *w)
{
	size_t start = 0;

	w->pending = false;
	while (w->t.buf && start < w->t.len) {
		char *nl = memchr(w->t.buf + start, '\n', w->t.len - start);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - (w->t.buf + start));
		if (len > 0 && !watch_handle_line(w, w->t.buf + start, len))
			return false;
		start += len + 1;
	}
	if (start > 0 && w->t.buf) {
		memmove(w->t.buf, w->t.buf + start, w->t.len - start);
		w->t.len -= start;
		w->t.buf[w->t.len] = '\0';
	}
	return true;
}

static void reconnect_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	watch_connect(t->data);
}

static void watch_schedule_reconnect(struct tartan_etcd_watch *w)
{
	struct tartan_etcd_client *c = w->client;

	if (w->stopped)
		return;
	c->stats.watch_reconnects++;
	ev_timer_stop(c->loop, &w->reconnect_timer);
	ev_timer_set(&w->reconnect_timer, w->backoff_ms / 1000.0, 0.);
	ev_timer_start(c->loop, &w->reconnect_timer);
	w->backoff_ms *= 2;
	if (w->backoff_ms > WATCH_BACKOFF_MAX_MS)
		w->backoff_ms = WATCH_BACKOFF_MAX_MS;
}

static void watch_connect(struct tartan_etcd_watch *w)
{
	struct tartan_etcd_client *c = w->client;
	struct tartan_etcd_watch_req req = {
		.keys = {
			.key = w->key.data,
			.key_len = w->key.len,
			.range_end = w->range_end.data,
			.range_end_len = w->range_end.len,
			.prefix = w->prefix,
		},
		.start_revision = w->last_revision ? w->last_revision + 1 : w->start_revision,
		.progress_notify = w->progress_notify,
		.prev_kv = w->prev_kv,
	};
	char *body = NULL;
	int err;

	watch_stop_transfer(w);
	if (c->username && !c->token) {
		w->waiting_auth = true;
		auth_start(c);
		if (c->auth_req)
			return;
		w->waiting_auth = false;
		snprintf(w->last_error, sizeof(w->last_error), "cannot start authentication");
		goto retry;
	}
	err = tartan_etcd_encode_watch_create(&req, &body);
	if (err >= 0)
		err = transfer_setup(c, &w->t, "/v3/watch", body, strlen(body), true, true);
	if (err >= 0)
		err = transfer_start(c, &w->t);
	free(body);
	if (err >= 0) {
		w->running = true;
		return;
	}
	snprintf(w->last_error, sizeof(w->last_error), "cannot start watch: %s", strerror(-err));
	watch_stop_transfer(w);
retry:
	watch_schedule_reconnect(w);
}

static void watch_done(struct tartan_etcd_watch *w, CURLcode rc)
{
	struct tartan_etcd_client *c = w->client;
	size_t endpoint = w->t.endpoint;
	bool failed = false;
	long status = 0;

	curl_easy_getinfo(w->t.easy, CURLINFO_RESPONSE_CODE, &status);
	/* lines that arrived with the end of the stream first */
	if (status == 200 && !watch_process(w))
		return;
	if (w->stopped)
		return;
	if (rc != CURLE_OK) {
		transfer_count_error(c, &w->t, cause_from_curl(rc));
		snprintf(w->last_error, sizeof(w->last_error), "etcd %s/v3/watch: %s",
			 c->endpoints[w->t.endpoint], transfer_curl_error(&w->t, rc));
		failed = rc != CURLE_WRITE_ERROR;
	} else if (status != 200) {
		char *message = NULL;
		int code = 0;

		transfer_count_error(c, &w->t, TARTAN_ETCD_CAUSE_REFUSED);
		if (tartan_etcd_decode_error(w->t.buf ? w->t.buf : "", w->t.len, &code, &message) <
		    0)
			message = NULL;
		snprintf(w->last_error, sizeof(w->last_error), "etcd %s/v3/watch: HTTP %ld: %s",
			 c->endpoints[w->t.endpoint], status, message ? message : "no detail");
		free(message);
		if (code == TARTAN_ETCD_GRPC_UNAUTHENTICATED && c->username) {
			free(c->token);
			c->token = NULL;
		}
		failed = status >= 500;
	} else if (!w->last_error[0]) {
		snprintf(w->last_error, sizeof(w->last_error), "etcd %s closed the watch stream",
			 c->endpoints[w->t.endpoint]);
	}
	/* stopped first: endpoint_failed() moves the other watches on that endpoint */
	watch_stop_transfer(w);
	if (failed)
		endpoint_failed(c, endpoint);
	watch_schedule_reconnect(w);
}

int tartan_etcd_watch_new(struct tartan_etcd_client *c, const struct tartan_etcd_watch_req *req,
			  tartan_etcd_watch_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
			  struct tartan_etcd_watch **ret)
{
	struct tartan_etcd_watch *w;

	if (!c || !req || !cb || !ret || !req->keys.key || req->keys.key_len == 0)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->client = c;
	w->t.is_watch = true;
	w->t.kind = TARTAN_ETCD_REQ_WATCH;
	w->t.limit = WATCH_LINE_MAX;
	w->key.data = malloc(req->keys.key_len + 1);
	if (!w->key.data)
		goto oom;
	memcpy(w->key.data, req->keys.key, req->keys.key_len);
	w->key.data[req->keys.key_len] = '\0';
	w->key.len = req->keys.key_len;
	if (req->keys.range_end) {
		w->range_end.data = malloc(req->keys.range_end_len + 1);
		if (!w->range_end.data)
			goto oom;
		memcpy(w->range_end.data, req->keys.range_end, req->keys.range_end_len);
		w->range_end.data[req->keys.range_end_len] = '\0';
		w->range_end.len = req->keys.range_end_len;
	}
	w->prefix = req->keys.prefix;
	w->start_revision = req->start_revision;
	/* resuming from start_revision means everything before it counts as seen */
	w->last_revision = req->start_revision > 0 ? req->start_revision - 1 : 0;
	w->progress_notify = req->progress_notify;
	w->prev_kv = req->prev_kv;
	w->backoff_ms = WATCH_BACKOFF_FIRST_MS;
	ev_init(&w->reconnect_timer, reconnect_timer_cb);
	w->reconnect_timer.data = w;
	w->cb = cb;
	w->userdata = userdata;
	w->destroy = destroy;
	LIST_INSERT(c->watches, w);
	watch_connect(w);
	*ret = w;
	return 0;
oom:
	free(w->key.data);
	free(w);
	return -ENOMEM;
}

void tartan_etcd_watch_free(struct tartan_etcd_watch *w)
{
	if (!w)
		return;
	if (w->in_callback) {
		w->freed = true;
		return;
	}
	watch_destroy(w);
}

bool tartan_etcd_watch_is_connected(const struct tartan_etcd_watch *w)
{
	return w && w->connected;
}

const char *tartan_etcd_watch_last_error(const struct tartan_etcd_watch *w)
{
	return w && w->last_error[0] ? w->last_error : NULL;
}

/* --- completion handling ---------------------------------------------------- */

static void drain_done(struct tartan_etcd_client *c, CURLM *multi)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(multi, &left))) {
		struct transfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		if (!t)
			continue;
		if (t->is_watch)
			watch_done((struct tartan_etcd_watch *)t, msg->data.result);
		else
			request_done((struct tartan_etcd_request *)t, msg->data.result);
	}
}

static void after_socket_action(struct tartan_etcd_client *c)
{
	struct tartan_etcd_watch *w;

	/*
	 * Complete watch lines first, so a stream's end sees all its data
	 * handled. A callback may free any watch: rescan from the head after
	 * each one (processing clears pending, so this ends).
	 */
	for (;;) {
		for (w = c->watches; w && !(w->pending && !w->stopped); w = w->next)
			;
		if (!w)
			break;
		watch_process(w);
	}
	drain_done(c, c->http1.multi);
	drain_done(c, c->http2.multi);
	if (c->http2.running > 0 && !ev_is_active(&c->http2.kick)) {
		ev_timer_set(&c->http2.kick, 0.002, 0.002);
		ev_timer_start(c->loop, &c->http2.kick);
	} else if (c->http2.running == 0) {
		ev_timer_stop(c->loop, &c->http2.kick);
	}
}

static int driver_init(struct tartan_etcd_client *c, struct curl_driver *d)
{
	d->client = c;
	d->multi = curl_multi_init();
	if (!d->multi)
		return -ENOMEM;
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	ev_init(&d->timer, multi_timer_cb);
	d->timer.data = d;
	ev_init(&d->kick, kick_timer_cb);
	d->kick.data = d;
	return 0;
}

static void driver_done(struct tartan_etcd_client *c, struct curl_driver *d)
{
	if (d->multi) {
		/* the sockets are ours to free: curl must not call back into freed state */
		curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, NULL);
		curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, NULL);
		curl_multi_cleanup(d->multi);
		d->multi = NULL;
	}
	if (c->loop) {
		ev_timer_stop(c->loop, &d->timer);
		ev_timer_stop(c->loop, &d->kick);
	}
}

/* --- client -------------------------------------------------------------------- */

static bool url_valid(const char *url, bool *ret_https)
{
	const char *host;

	if (strncmp(url, "http://", 7) == 0) {
		host = url + 7;
		*ret_https = false;
	} else if (strncmp(url, "https://", 8) == 0) {
		host = url + 8;
		*ret_https = true;
	} else {
		return false;
	}
	return *host && *host != '/' && strlen(url) < 512 && !strpbrk(url, " \t\r\n");
}

static int strdup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (!s || !*s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int tartan_etcd_client_new(struct ev_loop *loop, const struct tartan_etcd_options *opts,
			   struct tartan_etcd_client **ret)
{
	static const char *const default_endpoint[] = { "http://127.0.0.1:2379" };
	const char *const *endpoints;
	size_t n_endpoints;
	struct tartan_etcd_client *c;
	bool tls_files, any_https = false, any_http = false;
	size_t i;
	int err = -ENOMEM;

	if (!loop || !opts || !ret)
		return -EINVAL;
	endpoints = opts->endpoints;
	n_endpoints = opts->n_endpoints;
	if (n_endpoints == 0) {
		endpoints = default_endpoint;
		n_endpoints = 1;
	}
	for (i = 0; i < n_endpoints; i++) {
		bool https;

		if (!endpoints[i] || !url_valid(endpoints[i], &https))
			return -EINVAL;
		any_https |= https;
		any_http |= !https;
	}
	tls_files = (opts->ca_file && *opts->ca_file) || (opts->cert_file && *opts->cert_file) ||
		    (opts->key_file && *opts->key_file);
	/* TLS settings with a plain-text endpoint would silently go unencrypted */
	if (tls_files && any_http)
		return -EINVAL;
	if (!!(opts->cert_file && *opts->cert_file) != !!(opts->key_file && *opts->key_file))
		return -EINVAL;

	/* TLS libraries cost memory (OpenSSL's init alone is megabytes): only when used */
	if (curl_global_init(any_https ? CURL_GLOBAL_DEFAULT : CURL_GLOBAL_NOTHING) != CURLE_OK)
		return -EIO;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->request_timeout_ms = opts->request_timeout_ms ? opts->request_timeout_ms : 5000;
	c->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 2000;
	c->max_attempts = opts->max_attempts;
	if (!c->max_attempts) {
		c->max_attempts = 2 * (unsigned)n_endpoints;
		if (c->max_attempts < 3)
			c->max_attempts = 3;
	}
	c->endpoints = calloc(n_endpoints, sizeof(char *));
	if (!c->endpoints)
		goto fail;
	c->n_endpoints = n_endpoints;
	for (i = 0; i < n_endpoints; i++) {
		size_t len = strlen(endpoints[i]);

		c->endpoints[i] = strdup(endpoints[i]);
		if (!c->endpoints[i])
			goto fail;
		/* paths are appended as "/v3/...": drop a trailing slash */
		while (len > 0 && c->endpoints[i][len - 1] == '/')
			c->endpoints[i][--len] = '\0';
	}
	if (strdup_opt(opts->ca_file, &c->ca_file) < 0 ||
	    strdup_opt(opts->cert_file, &c->cert_file) < 0 ||
	    strdup_opt(opts->key_file, &c->key_file) < 0 ||
	    strdup_opt(opts->username, &c->username) < 0 ||
	    strdup_opt(opts->password, &c->password) < 0)
		goto fail;

	c->verbose = getenv("TARTAN_ETCD_DEBUG") && strcmp(getenv("TARTAN_ETCD_DEBUG"), "1") == 0;
	if (driver_init(c, &c->http1) < 0 || driver_init(c, &c->http2) < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	tartan_etcd_client_free(c);
	return err;
}

void tartan_etcd_client_free(struct tartan_etcd_client *c)
{
	size_t i;

	if (!c)
		return;
	while (c->watches)
		watch_destroy(c->watches);
	while (c->requests) {
		struct tartan_etcd_request *r = c->requests;

		LIST_REMOVE(c->requests, r);
		request_free(r);
	}
	driver_done(c, &c->http1);
	driver_done(c, &c->http2);
	while (c->sockets)
		sockinfo_free(c, c->sockets);
	for (i = 0; c->endpoints && i < c->n_endpoints; i++)
		free(c->endpoints[i]);
	free(c->endpoints);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->username);
	free(c->password);
	free(c->token);
	free(c->auth_header);
	free(c->grpc_auth_header);
	free(c);
}

const char *tartan_etcd_client_endpoint(const struct tartan_etcd_client *c)
{
	return c->endpoints[c->current];
}

void tartan_etcd_client_stats(const struct tartan_etcd_client *c, struct tartan_etcd_stats *ret)
{
	*ret = c->stats;
}

/* --- the calls ----------------------------------------------------------------- */

int tartan_etcd_range(struct tartan_etcd_client *c, const struct tartan_etcd_range_req *req,
		      tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
		      struct tartan_etcd_request **ret_req)
{
	size_t len;
	char *body;
	int err = tartan_etcd_grpc_encode_range(req, &body, &len);

	if (err < 0)
		return err;
	/* over gRPC: the gateway's JSON costs ten times more for a large range */
	return request_submit_body(c, TARTAN_ETCD_RESULT_RANGE, TARTAN_ETCD_GRPC_RANGE_PATH, body,
				   len, true, true, false, cb, userdata, destroy, ret_req);
}

int tartan_etcd_put(struct tartan_etcd_client *c, const struct tartan_etcd_put_req *req,
		    tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
		    struct tartan_etcd_request **ret_req)
{
	char *body;
	int err = tartan_etcd_encode_put(req, &body);

	if (err < 0)
		return err;
	return request_submit(c, TARTAN_ETCD_RESULT_PUT, "/v3/kv/put", body, false, false, cb,
			      userdata, destroy, ret_req);
}

int tartan_etcd_delete(struct tartan_etcd_client *c, const struct tartan_etcd_delete_req *req,
		       tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
		       struct tartan_etcd_request **ret_req)
{
	char *body;
	int err = tartan_etcd_encode_delete(req, &body);

	if (err < 0)
		return err;
	return request_submit(c, TARTAN_ETCD_RESULT_DELETE, "/v3/kv/deleterange", body, false,
			      false, cb, userdata, destroy, ret_req);
}

int tartan_etcd_txn(struct tartan_etcd_client *c, const struct tartan_etcd_txn_req *req,
		    tartan_etcd_result_fn cb, void *userdata, tartan_etcd_destroy_fn destroy,
		    struct tartan_etcd_request **ret_req)
{
	char *body;
	int err = tartan_etcd_encode_txn(req, &body);

	if (err < 0)
		return err;
	return request_submit(c, TARTAN_ETCD_RESULT_TXN, "/v3/kv/txn", body, false, false, cb,
			      userdata, destroy, ret_req);
}

int tartan_etcd_lease_grant(struct tartan_etcd_client *c, int64_t ttl, int64_t id,
			    tartan_etcd_result_fn cb, void *userdata,
			    tartan_etcd_destroy_fn destroy, struct tartan_etcd_request **ret_req)
{
	char *body;
	int err = tartan_etcd_encode_lease_grant(ttl, id, &body);

	if (err < 0)
		return err;
	/* a second grant only leaves an unused lease that expires: safe to retry */
	return request_submit(c, TARTAN_ETCD_RESULT_LEASE_GRANT, "/v3/lease/grant", body, true,
			      false, cb, userdata, destroy, ret_req);
}

static int lease_id_call(struct tartan_etcd_client *c, enum tartan_etcd_result_kind kind,
			 const char *path, int64_t id, bool idempotent, tartan_etcd_result_fn cb,
			 void *userdata, tartan_etcd_destroy_fn destroy,
			 struct tartan_etcd_request **ret_req)
{
	char *body;
	int err = tartan_etcd_encode_lease_id(id, false, &body);

	if (err < 0)
		return err;
	return request_submit(c, kind, path, body, idempotent, false, cb, userdata, destroy,
			      ret_req);
}

int tartan_etcd_lease_revoke(struct tartan_etcd_client *c, int64_t id, tartan_etcd_result_fn cb,
			     void *userdata, tartan_etcd_destroy_fn destroy,
			     struct tartan_etcd_request **ret_req)
{
	return lease_id_call(c, TARTAN_ETCD_RESULT_LEASE_REVOKE, "/v3/lease/revoke", id, false, cb,
			     userdata, destroy, ret_req);
}

int tartan_etcd_lease_keepalive(struct tartan_etcd_client *c, int64_t id, tartan_etcd_result_fn cb,
				void *userdata, tartan_etcd_destroy_fn destroy,
				struct tartan_etcd_request **ret_req)
{
	return lease_id_call(c, TARTAN_ETCD_RESULT_LEASE_KEEPALIVE, "/v3/lease/keepalive", id, true,
			     cb, userdata, destroy, ret_req);
}

int tartan_etcd_lease_timetolive(struct tartan_etcd_client *c, int64_t id, tartan_etcd_result_fn cb,
				 void *userdata, tartan_etcd_destroy_fn destroy,
				 struct tartan_etcd_request **ret_req)
{
	return lease_id_call(c, TARTAN_ETCD_RESULT_LEASE_TTL, "/v3/lease/timetolive", id, true, cb,
			     userdata, destroy, ret_req);
}

int tartan_etcd_compact(struct tartan_etcd_client *c, int64_t revision, tartan_etcd_result_fn cb,
			void *userdata, tartan_etcd_destroy_fn destroy,
			struct tartan_etcd_request **ret_req)
{
	char *body;
	int err = tartan_etcd_encode_compact(revision, true, &body);

	if (err < 0)
		return err;
	return request_submit(c, TARTAN_ETCD_RESULT_COMPACT, "/v3/kv/compaction", body, true, false,
			      cb, userdata, destroy, ret_req);
}

int tartan_etcd_status(struct tartan_etcd_client *c, tartan_etcd_result_fn cb, void *userdata,
		       tartan_etcd_destroy_fn destroy, struct tartan_etcd_request **ret_req)
{
	char *body = strdup("{}");

	if (!body)
		return -ENOMEM;
	return request_submit(c, TARTAN_ETCD_RESULT_STATUS, "/v3/maintenance/status", body, true,
			      false, cb, userdata, destroy, ret_req);
}
