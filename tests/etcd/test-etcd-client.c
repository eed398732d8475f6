/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration tests of the async etcd v3 client against a real etcd 3.4.
 *
 * Run by client-suite.sh, which starts a private etcd and sets
 * TARTAN_TEST_ETCD (its client URL) and TARTAN_TEST_ETCD_DEAD (a loopback
 * URL where nothing listens). Every test gets its own client and its own key
 * prefix /tartan-test/<pid>/<test>/, and nothing else writes to that etcd
 * while the tests run, so revisions are exact.
 */
#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "etcd/sync.h"

/* the 1,000-put watch, and anything that waits on etcd, is bounded by this */
#define WAIT_MS 60000

static const char *live_endpoint;
static const char *dead_endpoint;

struct ctx {
	struct tartan_etcd_sync *s;
	char prefix[256];
	char keys[16][512]; /* a ring, for key() */
	unsigned next_key;
};

/* --- assertions that print what was expected and what was seen --------------- */

#define assert_i64(got, want)                                                                      \
	do {                                                                                       \
		int64_t _g = (got), _w = (want);                                                   \
		if (_g != _w)                                                                      \
			fail_msg("%s: expected %" PRId64 " (%s), saw %" PRId64, #got, _w, #want,   \
				 _g);                                                              \
	} while (0)

#define assert_ok(s, expr)                                                                         \
	do {                                                                                       \
		int _err = (expr);                                                                 \
		if (_err != 0)                                                                     \
			fail_msg("%s: expected 0, saw %d (%s): %s", #expr, _err,                   \
				 strerror(_err < 0 ? -_err : _err), tartan_etcd_sync_error(s));    \
	} while (0)

/* expr fails with -want and the error message contains msg_part */
#define assert_fails(s, expr, want, msg_part)                                                      \
	do {                                                                                       \
		int _err = (expr);                                                                 \
		const char *_msg = tartan_etcd_sync_error(s);                                      \
		if (_err != (want))                                                                \
			fail_msg("%s: expected %d (%s), saw %d (%s): %s", #expr, (want),           \
				 strerror(-(want)), _err, strerror(_err < 0 ? -_err : _err),       \
				 _msg);                                                            \
		if (!strstr(_msg, (msg_part)))                                                     \
			fail_msg("%s: expected an error message with '%s', saw '%s'", #expr,       \
				 (msg_part), _msg);                                                \
	} while (0)

#define assert_bytes(b, want) assert_bytes_at(&(b), (want), #b, __LINE__)

static void assert_bytes_at(const struct tartan_etcd_bytes *b, const char *want, const char *what,
			    int line)
{
	size_t n = strlen(want);

	if (b->len != n || (n && memcmp(b->data, want, n) != 0))
		fail_msg("line %d: %s: expected '%s' (%zu bytes), saw '%.*s' (%zu bytes)", line,
			 what, want, n, (int)(b->len > 200 ? 200 : b->len), b->data ? b->data : "",
			 b->len);
}

#define assert_contains(haystack, needle)                                                          \
	do {                                                                                       \
		const char *_h = (haystack);                                                       \
		if (!_h || !strstr(_h, (needle)))                                                  \
			fail_msg("%s: expected a text with '%s', saw '%s'", #haystack, (needle),   \
				 _h ? _h : "(null)");                                              \
	} while (0)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --- fixtures ------------------------------------------------------------------- */

static int sync_new_on(const char *const *endpoints, size_t n, struct tartan_etcd_sync **ret)
{
	const struct tartan_etcd_options opts = {
		.endpoints = endpoints,
		.n_endpoints = n,
	};

	return tartan_etcd_sync_new(&opts, ret);
}

static int setup(void **state)
{
	const char *eps[] = { live_endpoint };
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	if (sync_new_on(eps, 1, &c->s) < 0) {
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	tartan_etcd_sync_free(c->s);
	free(c);
	return 0;
}

static struct ctx *ctx_begin(void **state, const char *test)
{
	struct ctx *c = *state;

	snprintf(c->prefix, sizeof(c->prefix), "/tartan-test/%d/%s/", (int)getpid(), test);
	return c;
}

#define CTX() ctx_begin(state, __func__)

/* The test's prefix followed by fmt: a ring of 16, valid for the next 15 calls. */
static const char *key(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *key(struct ctx *c, const char *fmt, ...)
{
	char *buf = c->keys[c->next_key++ % 16];
	size_t n = strlen(c->prefix);
	va_list ap;

	memcpy(buf, c->prefix, n + 1);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(c->keys[0]) - n, fmt, ap);
	va_end(ap);
	return buf;
}

/* --- sync helpers ---------------------------------------------------------------- */

/* Puts key=value; returns the revision etcd gave it. */
static int64_t put_lease(struct ctx *c, const char *k, const char *v, int64_t lease)
{
	const struct tartan_etcd_put_req req = {
		.key = k,
		.key_len = strlen(k),
		.value = v,
		.value_len = strlen(v),
		.lease = lease,
	};
	struct tartan_etcd_result *res = NULL;
	int64_t rev;
	int err = tartan_etcd_sync_put(c->s, &req, &res);

	if (err < 0)
		fail_msg("put %s=%s: expected 0, saw %d (%s): %s", k, v, err, strerror(-err),
			 tartan_etcd_sync_error(c->s));
	rev = res->header.revision;
	tartan_etcd_result_free(res);
	if (rev <= 0)
		fail_msg("put %s: expected a revision > 0, saw %" PRId64, k, rev);
	return rev;
}

static int64_t put(struct ctx *c, const char *k, const char *v)
{
	return put_lease(c, k, v, 0);
}

static struct tartan_etcd_result *range(struct ctx *c, const struct tartan_etcd_range_req *req)
{
	struct tartan_etcd_result *res = NULL;
	int err = tartan_etcd_sync_range(c->s, req, &res);

	if (err < 0)
		fail_msg("range %.*s: expected 0, saw %d (%s): %s", (int)req->keys.key_len,
			 (const char *)req->keys.key, err, strerror(-err),
			 tartan_etcd_sync_error(c->s));
	return res;
}

static struct tartan_etcd_result *get(struct ctx *c, const char *k)
{
	const struct tartan_etcd_range_req req = { .keys = { .key = k, .key_len = strlen(k) } };

	return range(c, &req);
}

static struct tartan_etcd_result *get_prefix(struct ctx *c, const char *prefix)
{
	const struct tartan_etcd_range_req req = {
		.keys = { .key = prefix, .key_len = strlen(prefix), .prefix = true },
	};

	return range(c, &req);
}

static int64_t store_revision(struct ctx *c)
{
	struct tartan_etcd_result *res = NULL;
	int64_t rev;

	assert_ok(c->s, tartan_etcd_sync_status(c->s, &res));
	rev = res->header.revision;
	tartan_etcd_result_free(res);
	return rev;
}

static void compact(struct ctx *c, int64_t rev)
{
	struct tartan_etcd_result *res = NULL;

	assert_ok(c->s, tartan_etcd_sync_compact(c->s, rev, &res));
	tartan_etcd_result_free(res);
}

static void ticker_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/*
 * Runs the client's loop until cond(arg) holds; false after ms. A 20 ms
 * ticker bounds each ev_run, for conditions no callback announces (stats,
 * a watch's last error).
 */
static bool run_until(struct tartan_etcd_sync *s, bool (*cond)(void *), void *arg, unsigned ms)
{
	struct ev_loop *loop = tartan_etcd_sync_loop(s);
	double deadline = now_ms() + ms;
	ev_timer ticker;
	bool ok;

	ev_timer_init(&ticker, ticker_cb, 0.02, 0.02);
	ev_timer_start(loop, &ticker);
	while (!(ok = cond(arg)) && now_ms() < deadline)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &ticker);
	return ok;
}

/* --- a watch recorder ------------------------------------------------------------- */

struct rec_event {
	enum tartan_etcd_event_type type;
	int64_t rev;
	char *key, *value, *prev_value;
	bool has_prev;
};

struct recorder {
	struct rec_event *ev;
	size_t n, cap;
	size_t want;	   /* done once n >= want */
	unsigned updates;  /* callbacks of any status */
	unsigned progress; /* PROGRESS callbacks */
	enum tartan_etcd_watch_status last_status;
	int64_t last_revision, compact_revision;
	char errmsg[512];
	bool done;
	bool free_in_callback; /* tartan_etcd_watch_free() from the callback */
	struct tartan_etcd_watch *w;
};

static unsigned watch_destroyed;

static void watch_destroy_cb(void *userdata)
{
	watch_destroyed++;
}

static char *bytes_dup(const struct tartan_etcd_bytes *b)
{
	char *s = malloc(b->len + 1);

	if (!s)
		abort();
	if (b->len)
		memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	return s;
}

static void recorder_cb(struct tartan_etcd_watch *w, const struct tartan_etcd_watch_update *u,
			void *userdata)
{
	struct recorder *r = userdata;
	size_t i;

	if (r->w && w != r->w)
		fail_msg("watch callback for handle %p, expected %p", (void *)w, (void *)r->w);
	r->updates++;
	r->last_status = u->status;
	r->last_revision = u->revision;
	if (u->status == TARTAN_ETCD_WATCH_PROGRESS)
		r->progress++;
	if (u->status == TARTAN_ETCD_WATCH_COMPACTED || u->status == TARTAN_ETCD_WATCH_FAILED) {
		r->compact_revision = u->compact_revision;
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", u->errmsg ? u->errmsg : "");
		r->done = true;
	}
	for (i = 0; i < u->n_events; i++) {
		const struct tartan_etcd_event *e = &u->events[i];
		struct rec_event *re;

		if (r->n == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 64;
			r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
			if (!r->ev)
				abort();
		}
		re = &r->ev[r->n++];
		re->type = e->type;
		re->rev = e->kv.mod_revision;
		re->key = bytes_dup(&e->kv.key);
		re->value = bytes_dup(&e->kv.value);
		re->has_prev = e->has_prev_kv;
		re->prev_value = e->has_prev_kv ? bytes_dup(&e->prev_kv.value) : NULL;
	}
	if (r->want && r->n >= r->want)
		r->done = true;
	if (r->free_in_callback) {
		tartan_etcd_watch_free(w);
		r->w = NULL;
		r->done = true;
	}
}

static struct recorder *recorder_new(size_t want)
{
	struct recorder *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->want = want;
	return r;
}

static void recorder_free(struct recorder *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->ev[i].key);
		free(r->ev[i].value);
		free(r->ev[i].prev_value);
	}
	free(r->ev);
	free(r);
}

static struct tartan_etcd_watch *watch_start(struct tartan_etcd_sync *s, const char *k, bool prefix,
					     int64_t from, bool prev_kv, struct recorder *r)
{
	const struct tartan_etcd_watch_req req = {
		.keys = { .key = k, .key_len = strlen(k), .prefix = prefix },
		.start_revision = from,
		.prev_kv = prev_kv,
	};
	struct tartan_etcd_watch *w = NULL;
	int err = tartan_etcd_watch_new(tartan_etcd_sync_client(s), &req, recorder_cb, r,
					watch_destroy_cb, &w);

	if (err < 0)
		fail_msg("watch %s from %" PRId64 ": expected 0, saw %d (%s)", k, from, err,
			 strerror(-err));
	r->w = w;
	return w;
}

static void watch_wait(struct tartan_etcd_sync *s, struct recorder *r, const char *what)
{
	const char *why;

	if (tartan_etcd_sync_run(s, &r->done, WAIT_MS) == 0)
		return;
	why = r->w ? tartan_etcd_watch_last_error(r->w) : NULL;
	fail_msg("%s: the watch did not finish in %d ms: %zu of %zu events, %u updates, "
		 "last error: %s",
		 what, WAIT_MS, r->n, r->want, r->updates, why ? why : "none");
}

#define assert_event(r, i, want_type, want_rev, want_key, want_value)                              \
	do {                                                                                       \
		const struct rec_event *_e = &(r)->ev[i];                                          \
		if (_e->type != (want_type) || _e->rev != (want_rev) ||                            \
		    strcmp(_e->key, (want_key)) != 0 || strcmp(_e->value, (want_value)) != 0)      \
			fail_msg("event %zu: expected %s rev %" PRId64                             \
				 " %s=%s, saw %s rev %" PRId64 " %s=%s",                           \
				 (size_t)(i), (want_type) ? "DELETE" : "PUT", (int64_t)(want_rev), \
				 (want_key), (want_value), _e->type ? "DELETE" : "PUT", _e->rev,   \
				 _e->key, _e->value);                                              \
	} while (0)

/* --- counting callbacks of unary requests --------------------------------------- */

static unsigned cb_calls, destroy_calls;
static char call_log[64];

static void count_cb(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	cb_calls++;
	strncat(call_log, "cb ", sizeof(call_log) - strlen(call_log) - 1);
	if (error)
		fail_msg("request failed: %d (%s): %s", error, strerror(-error), errmsg);
	if (!res)
		fail_msg("callback without error and without result");
}

static void count_destroy(void *ud)
{
	destroy_calls++;
	strncat(call_log, "destroy ", sizeof(call_log) - strlen(call_log) - 1);
}

static bool all_destroyed(void *arg)
{
	return destroy_calls >= *(unsigned *)arg;
}

/* --- client options ---------------------------------------------------------------- */

static void test_client_bad_options(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct tartan_etcd_client *const sentinel = (struct tartan_etcd_client *)&loop;
	struct tartan_etcd_client *client = sentinel;
	struct tartan_etcd_sync *s = NULL;
	static const char *const ftp[] = { "ftp://x" };
	static const char *const http[] = { "http://127.0.0.1:1" };
	static const char *const https[] = { "https://127.0.0.1:1" };
	static const char *const mixed[] = { "https://127.0.0.1:1", "http://127.0.0.1:2" };
	static const char *const no_host[] = { "http://" };
	static const char *const no_scheme[] = { "127.0.0.1:2379" };
	static const char *const null_ep[] = { "http://127.0.0.1:1", NULL };
	struct tartan_etcd_options o;

	assert_non_null(loop);
	o = (struct tartan_etcd_options){ .endpoints = http, .n_endpoints = 1 };
	assert_i64(tartan_etcd_client_new(NULL, &o, &client), -EINVAL);
	assert_i64(tartan_etcd_client_new(loop, NULL, &client), -EINVAL);
	assert_ptr_equal(client, sentinel);

	o = (struct tartan_etcd_options){ .endpoints = ftp, .n_endpoints = 1 };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);
	assert_ptr_equal(client, sentinel);
	assert_i64(tartan_etcd_sync_new(&o, &s), -EINVAL);
	assert_null(s);

	o = (struct tartan_etcd_options){ .endpoints = no_host, .n_endpoints = 1 };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);
	o = (struct tartan_etcd_options){ .endpoints = no_scheme, .n_endpoints = 1 };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);
	o = (struct tartan_etcd_options){ .endpoints = null_ep, .n_endpoints = 2 };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);

	/* TLS files with a plain-text endpoint would silently go unencrypted */
	o = (struct tartan_etcd_options){ .endpoints = http,
					  .n_endpoints = 1,
					  .ca_file = "/etc/ssl/certs/ca-certificates.crt" };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);
	o = (struct tartan_etcd_options){ .endpoints = http,
					  .n_endpoints = 1,
					  .cert_file = "/tmp/c.pem",
					  .key_file = "/tmp/k.pem" };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);
	assert_i64(tartan_etcd_sync_new(&o, &s), -EINVAL);
	assert_null(s);
	o = (struct tartan_etcd_options){ .endpoints = mixed,
					  .n_endpoints = 2,
					  .ca_file = "/etc/ssl/certs/ca-certificates.crt" };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);
	/* a certificate without its key, and the reverse */
	o = (struct tartan_etcd_options){ .endpoints = https,
					  .n_endpoints = 1,
					  .cert_file = "/tmp/c.pem" };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);
	o = (struct tartan_etcd_options){ .endpoints = https,
					  .n_endpoints = 1,
					  .key_file = "/tmp/k.pem" };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), -EINVAL);
	assert_ptr_equal(client, sentinel);

	/* the same TLS options with https:// are fine (the files are read per request) */
	o = (struct tartan_etcd_options){ .endpoints = https,
					  .n_endpoints = 1,
					  .ca_file = "/etc/ssl/certs/ca-certificates.crt",
					  .cert_file = "/tmp/c.pem",
					  .key_file = "/tmp/k.pem" };
	assert_i64(tartan_etcd_client_new(loop, &o, &client), 0);
	assert_ptr_not_equal(client, sentinel);
	assert_string_equal(tartan_etcd_client_endpoint(client), "https://127.0.0.1:1");
	{
		/* a watch without a key: refused at once, nothing to destroy */
		const struct tartan_etcd_watch_req wreq = { .keys = { .key = "", .key_len = 0 } };
		struct tartan_etcd_watch *w = (struct tartan_etcd_watch *)&loop;

		watch_destroyed = 0;
		assert_i64(tartan_etcd_watch_new(client, &wreq, recorder_cb, NULL, watch_destroy_cb,
						 &w),
			   -EINVAL);
		assert_ptr_equal(w, (struct tartan_etcd_watch *)&loop);
		assert_i64(watch_destroyed, 0);
	}
	tartan_etcd_client_free(client);
	ev_loop_destroy(loop);
}

/* --- range -------------------------------------------------------------------------- */

static void test_range_single(void **state)
{
	struct ctx *c = CTX();
	const char *k = key(c, "a");
	struct tartan_etcd_result *res;
	int64_t rev = put(c, k, "value-a");

	put(c, key(c, "a0"), "not this one");
	res = get(c, k);
	assert_i64(res->n_kvs, 1);
	assert_i64(res->count, 1);
	assert_false(res->more);
	assert_bytes(res->kvs[0].key, k);
	assert_bytes(res->kvs[0].value, "value-a");
	assert_i64(res->kvs[0].create_revision, rev);
	assert_i64(res->kvs[0].mod_revision, rev);
	assert_i64(res->kvs[0].version, 1);
	assert_i64(res->kvs[0].lease, 0);
	assert_i64(res->header.revision, rev + 1);
	assert_true(res->header.cluster_id != 0);
	assert_true(res->header.member_id != 0);
	tartan_etcd_result_free(res);
}

static void test_range_missing(void **state)
{
	struct ctx *c = CTX();
	int64_t rev = put(c, key(c, "there"), "x");
	struct tartan_etcd_result *res = get(c, key(c, "not-there"));

	assert_i64(res->n_kvs, 0);
	assert_null(res->kvs);
	assert_i64(res->count, 0);
	assert_false(res->more);
	assert_i64(res->header.revision, rev);
	tartan_etcd_result_free(res);
}

static void test_range_prefix(void **state)
{
	struct ctx *c = CTX();
	struct tartan_etcd_result *res;
	int64_t ra = put(c, key(c, "a"), "1");
	int64_t rb = put(c, key(c, "b"), "2");
	int64_t rc = put(c, key(c, "c"), ""); /* an empty value: absent on the wire */
	char sibling[300];
	struct tartan_etcd_range_req req = { 0 };

	/* "/x/" + 1 is "/x0": just outside the prefix, and sorts right after it */
	snprintf(sibling, sizeof(sibling), "%.*s0", (int)strlen(c->prefix) - 1, c->prefix);
	put(c, sibling, "outside");
	res = get_prefix(c, c->prefix);
	assert_i64(res->n_kvs, 3);
	assert_i64(res->count, 3);
	assert_false(res->more);
	assert_bytes(res->kvs[0].key, key(c, "a"));
	assert_bytes(res->kvs[0].value, "1");
	assert_i64(res->kvs[0].mod_revision, ra);
	assert_bytes(res->kvs[1].key, key(c, "b"));
	assert_bytes(res->kvs[1].value, "2");
	assert_i64(res->kvs[1].mod_revision, rb);
	assert_bytes(res->kvs[2].key, key(c, "c"));
	assert_bytes(res->kvs[2].value, "");
	assert_i64(res->kvs[2].mod_revision, rc);
	tartan_etcd_result_free(res);

	/* an explicit [a, c) range */
	req.keys.key = key(c, "a");
	req.keys.key_len = strlen(req.keys.key);
	req.keys.range_end = key(c, "c");
	req.keys.range_end_len = strlen(req.keys.range_end);
	res = range(c, &req);
	assert_i64(res->n_kvs, 2);
	assert_i64(res->count, 2);
	assert_bytes(res->kvs[0].key, key(c, "a"));
	assert_bytes(res->kvs[1].key, key(c, "b"));
	tartan_etcd_result_free(res);

	/* serializable: the local member's answer, the same data here */
	req = (struct tartan_etcd_range_req){
		.keys = { .key = c->prefix, .key_len = strlen(c->prefix), .prefix = true },
		.serializable = true,
	};
	res = range(c, &req);
	assert_i64(res->n_kvs, 3);
	tartan_etcd_result_free(res);
}

static void test_range_revision(void **state)
{
	struct ctx *c = CTX();
	const char *k = key(c, "k");
	int64_t r1 = put(c, k, "v1");
	int64_t r2 = put(c, k, "v2");
	struct tartan_etcd_range_req req = { .keys = { .key = k, .key_len = strlen(k) } };
	struct tartan_etcd_result *res;

	req.revision = r1;
	res = range(c, &req);
	assert_i64(res->n_kvs, 1);
	assert_bytes(res->kvs[0].value, "v1");
	assert_i64(res->kvs[0].mod_revision, r1);
	assert_i64(res->kvs[0].version, 1);
	/* the header is the store's revision now, not the one asked for */
	assert_i64(res->header.revision, r2);
	tartan_etcd_result_free(res);

	req.revision = 0;
	res = range(c, &req);
	assert_bytes(res->kvs[0].value, "v2");
	assert_i64(res->kvs[0].create_revision, r1);
	assert_i64(res->kvs[0].mod_revision, r2);
	assert_i64(res->kvs[0].version, 2);
	tartan_etcd_result_free(res);

	/* before the key existed */
	req.revision = r1 - 1;
	res = range(c, &req);
	assert_i64(res->n_kvs, 0);
	tartan_etcd_result_free(res);

	req.revision = r2 + 1000;
	assert_fails(c->s, tartan_etcd_sync_range(c->s, &req, &res), -ERANGE,
		     "etcdserver: mvcc: required revision is a future revision");
}

static void test_range_limit(void **state)
{
	struct ctx *c = CTX();
	struct tartan_etcd_range_req req = {
		.keys = { .key = c->prefix, .key_len = strlen(c->prefix), .prefix = true },
	};
	struct tartan_etcd_result *res;
	int i;

	for (i = 0; i < 5; i++)
		put(c, key(c, "%d", i), "v");
	req.limit = 2;
	res = range(c, &req);
	assert_i64(res->n_kvs, 2);
	assert_true(res->more);
	assert_i64(res->count, 5); /* every match, not the number returned */
	assert_bytes(res->kvs[0].key, key(c, "0"));
	assert_bytes(res->kvs[1].key, key(c, "1"));
	tartan_etcd_result_free(res);

	req.limit = 5;
	res = range(c, &req);
	assert_i64(res->n_kvs, 5);
	assert_false(res->more);
	assert_i64(res->count, 5);
	tartan_etcd_result_free(res);

	/* a negative limit is refused before anything is sent */
	req.limit = -1;
	assert_i64(tartan_etcd_range(tartan_etcd_sync_client(c->s), &req, count_cb, NULL,
				     count_destroy, NULL),
		   -EINVAL);
	req.limit = 10;
	res = range(c, &req);
	assert_i64(res->n_kvs, 5);
	assert_false(res->more);
	assert_bytes(res->kvs[4].key, key(c, "4"));
	tartan_etcd_result_free(res);
}

static void test_range_keys_only_count_only(void **state)
{
	struct ctx *c = CTX();
	struct tartan_etcd_range_req req = {
		.keys = { .key = c->prefix, .key_len = strlen(c->prefix), .prefix = true },
	};
	struct tartan_etcd_result *res;
	int64_t r0 = put(c, key(c, "x"), "value-x");
	int64_t r1 = put(c, key(c, "y"), "value-y");
	int64_t r2 = put(c, key(c, "z"), "value-z");

	req.keys_only = true;
	res = range(c, &req);
	assert_i64(res->n_kvs, 3);
	assert_i64(res->count, 3);
	assert_bytes(res->kvs[0].key, key(c, "x"));
	assert_bytes(res->kvs[0].value, "");
	assert_i64(res->kvs[0].mod_revision, r0);
	assert_bytes(res->kvs[1].key, key(c, "y"));
	assert_bytes(res->kvs[1].value, "");
	assert_i64(res->kvs[1].mod_revision, r1);
	assert_bytes(res->kvs[2].key, key(c, "z"));
	assert_bytes(res->kvs[2].value, "");
	assert_i64(res->kvs[2].mod_revision, r2);
	tartan_etcd_result_free(res);

	req.keys_only = false;
	req.count_only = true;
	res = range(c, &req);
	assert_i64(res->n_kvs, 0);
	assert_i64(res->count, 3);
	assert_i64(res->header.revision, r2);
	tartan_etcd_result_free(res);
}

/* --- put and delete ---------------------------------------------------------------- */

static void test_put_prev_kv(void **state)
{
	struct ctx *c = CTX();
	const char *k = key(c, "k");
	struct tartan_etcd_put_req req = {
		.key = k,
		.key_len = strlen(k),
		.value = "first",
		.value_len = 5,
		.prev_kv = true,
	};
	struct tartan_etcd_result *res = NULL;
	int64_t r1;

	assert_ok(c->s, tartan_etcd_sync_put(c->s, &req, &res));
	assert_i64(res->n_kvs, 0); /* nothing was there */
	r1 = res->header.revision;
	tartan_etcd_result_free(res);

	req.value = "second";
	req.value_len = 6;
	assert_ok(c->s, tartan_etcd_sync_put(c->s, &req, &res));
	assert_i64(res->header.revision, r1 + 1);
	assert_i64(res->n_kvs, 1);
	assert_bytes(res->kvs[0].key, k);
	assert_bytes(res->kvs[0].value, "first");
	assert_i64(res->kvs[0].mod_revision, r1);
	assert_i64(res->kvs[0].version, 1);
	tartan_etcd_result_free(res);

	/* without prev_kv nothing comes back */
	req.prev_kv = false;
	req.value = "third";
	req.value_len = 5;
	assert_ok(c->s, tartan_etcd_sync_put(c->s, &req, &res));
	assert_i64(res->n_kvs, 0);
	tartan_etcd_result_free(res);

	/* bytes, not C strings: a value with a NUL and a newline */
	req.value = "a\0b\nc";
	req.value_len = 5;
	assert_ok(c->s, tartan_etcd_sync_put(c->s, &req, &res));
	tartan_etcd_result_free(res);
	res = get(c, k);
	assert_i64(res->kvs[0].value.len, 5);
	assert_memory_equal(res->kvs[0].value.data, "a\0b\nc", 5);
	assert_i64(res->kvs[0].version, 4);
	tartan_etcd_result_free(res);

	/* no key: refused before anything is sent */
	req.key_len = 0;
	assert_i64(tartan_etcd_sync_put(c->s, &req, &res), -EINVAL);
}

static void test_put_lease(void **state)
{
	struct ctx *c = CTX();
	struct tartan_etcd_result *res = NULL;
	const char *k = key(c, "leased");
	int64_t id;

	assert_ok(c->s, tartan_etcd_sync_lease_grant(c->s, 60, 0, &res));
	id = res->lease_id;
	tartan_etcd_result_free(res);
	assert_true(id > 0);

	put_lease(c, k, "alive", id);
	res = get(c, k);
	assert_i64(res->n_kvs, 1);
	assert_i64(res->kvs[0].lease, id);
	tartan_etcd_result_free(res);

	/* a lease that does not exist: etcd's NotFound */
	{
		const struct tartan_etcd_put_req req = {
			.key = k,
			.key_len = strlen(k),
			.value = "x",
			.value_len = 1,
			.lease = id + 1000,
		};

		assert_fails(c->s, tartan_etcd_sync_put(c->s, &req, &res), -ENOENT,
			     "etcdserver: requested lease not found");
	}
	assert_ok(c->s, tartan_etcd_sync_lease_revoke(c->s, id, &res));
	tartan_etcd_result_free(res);
}

static void test_delete(void **state)
{
	struct ctx *c = CTX();
	struct tartan_etcd_delete_req req = { 0 };
	struct tartan_etcd_result *res = NULL;
	int64_t r;
	char sibling[300];

	put(c, key(c, "a"), "1");
	put(c, key(c, "b"), "2");
	put(c, key(c, "c/d"), "3");
	snprintf(sibling, sizeof(sibling), "%.*s0", (int)strlen(c->prefix) - 1, c->prefix);
	r = put(c, sibling, "outside");

	/* one key, with its old value */
	req.keys.key = key(c, "a");
	req.keys.key_len = strlen(req.keys.key);
	req.prev_kv = true;
	assert_ok(c->s, tartan_etcd_sync_delete(c->s, &req, &res));
	assert_i64(res->deleted, 1);
	assert_i64(res->header.revision, r + 1);
	assert_i64(res->n_kvs, 1);
	assert_bytes(res->kvs[0].key, key(c, "a"));
	assert_bytes(res->kvs[0].value, "1");
	tartan_etcd_result_free(res);

	/* already gone: nothing deleted, the revision does not move */
	assert_ok(c->s, tartan_etcd_sync_delete(c->s, &req, &res));
	assert_i64(res->deleted, 0);
	assert_i64(res->n_kvs, 0);
	assert_i64(res->header.revision, r + 1);
	tartan_etcd_result_free(res);

	/* the prefix: both remaining keys in one revision, the sibling stays */
	req.keys.key = c->prefix;
	req.keys.key_len = strlen(c->prefix);
	req.keys.prefix = true;
	assert_ok(c->s, tartan_etcd_sync_delete(c->s, &req, &res));
	assert_i64(res->deleted, 2);
	assert_i64(res->header.revision, r + 2);
	assert_i64(res->n_kvs, 2);
	assert_bytes(res->kvs[0].key, key(c, "b"));
	assert_bytes(res->kvs[0].value, "2");
	assert_bytes(res->kvs[1].key, key(c, "c/d"));
	assert_bytes(res->kvs[1].value, "3");
	tartan_etcd_result_free(res);

	res = get_prefix(c, c->prefix);
	assert_i64(res->n_kvs, 0);
	tartan_etcd_result_free(res);
	res = get(c, sibling);
	assert_i64(res->n_kvs, 1);
	assert_bytes(res->kvs[0].value, "outside");
	tartan_etcd_result_free(res);

	/* without prev_kv: only the count */
	put(c, key(c, "e"), "5");
	req.prev_kv = false;
	assert_ok(c->s, tartan_etcd_sync_delete(c->s, &req, &res));
	assert_i64(res->deleted, 1);
	assert_i64(res->n_kvs, 0);
	tartan_etcd_result_free(res);
}

/* --- txn ------------------------------------------------------------------------------ */

static void test_txn_create_if_absent(void **state)
{
	struct ctx *c = CTX();
	const char *k = key(c, "lock");
	const struct tartan_etcd_compare cmp = {
		.key = k,
		.key_len = strlen(k),
		.target = TARTAN_ETCD_CMP_CREATE,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.number = 0,
	};
	struct tartan_etcd_op ok_op = {
		.type = TARTAN_ETCD_OP_PUT,
		.put = { .key = k, .key_len = strlen(k), .value = "owner-1", .value_len = 7 },
	};
	const struct tartan_etcd_op fail_op = {
		.type = TARTAN_ETCD_OP_RANGE,
		.range = { .keys = { .key = k, .key_len = strlen(k) } },
	};
	struct tartan_etcd_txn_req txn = {
		.compare = &cmp,
		.n_compare = 1,
		.success = &ok_op,
		.n_success = 1,
		.failure = &fail_op,
		.n_failure = 1,
	};
	struct tartan_etcd_result *res = NULL;
	int64_t rev;

	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_true(res->succeeded);
	assert_i64(res->n_responses, 1);
	assert_i64(res->responses[0].op, TARTAN_ETCD_OP_PUT);
	rev = res->header.revision;
	assert_i64(res->responses[0].header.revision, rev);
	tartan_etcd_result_free(res);

	/* the key exists now: the failure branch answers with the range */
	ok_op.put.value = "owner-2";
	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_false(res->succeeded);
	assert_i64(res->header.revision, rev);
	assert_i64(res->n_responses, 1);
	assert_i64(res->responses[0].op, TARTAN_ETCD_OP_RANGE);
	assert_i64(res->responses[0].n_kvs, 1);
	assert_i64(res->responses[0].count, 1);
	assert_bytes(res->responses[0].kvs[0].key, k);
	assert_bytes(res->responses[0].kvs[0].value, "owner-1");
	assert_i64(res->responses[0].kvs[0].create_revision, rev);
	assert_i64(res->responses[0].kvs[0].version, 1);
	tartan_etcd_result_free(res);

	res = get(c, k);
	assert_bytes(res->kvs[0].value, "owner-1");
	tartan_etcd_result_free(res);
}

static void test_txn_cas_mod_revision(void **state)
{
	struct ctx *c = CTX();
	const char *k = key(c, "lock");
	int64_t r1 = put(c, k, "owner-1");
	struct tartan_etcd_compare cmp = {
		.key = k,
		.key_len = strlen(k),
		.target = TARTAN_ETCD_CMP_MOD,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.number = r1,
	};
	const struct tartan_etcd_op ok_op = {
		.type = TARTAN_ETCD_OP_PUT,
		.put = { .key = k,
			 .key_len = strlen(k),
			 .value = "owner-2",
			 .value_len = 7,
			 .prev_kv = true },
	};
	const struct tartan_etcd_op fail_op = {
		.type = TARTAN_ETCD_OP_RANGE,
		.range = { .keys = { .key = k, .key_len = strlen(k) } },
	};
	const struct tartan_etcd_txn_req txn = {
		.compare = &cmp,
		.n_compare = 1,
		.success = &ok_op,
		.n_success = 1,
		.failure = &fail_op,
		.n_failure = 1,
	};
	struct tartan_etcd_result *res = NULL;

	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_true(res->succeeded);
	assert_i64(res->header.revision, r1 + 1);
	assert_i64(res->n_responses, 1);
	assert_i64(res->responses[0].op, TARTAN_ETCD_OP_PUT);
	assert_i64(res->responses[0].n_kvs, 1); /* prev_kv of the put */
	assert_bytes(res->responses[0].kvs[0].value, "owner-1");
	assert_i64(res->responses[0].kvs[0].mod_revision, r1);
	tartan_etcd_result_free(res);

	/* the same compare again is stale now */
	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_false(res->succeeded);
	assert_i64(res->n_responses, 1);
	assert_i64(res->responses[0].op, TARTAN_ETCD_OP_RANGE);
	assert_bytes(res->responses[0].kvs[0].value, "owner-2");
	assert_i64(res->responses[0].kvs[0].mod_revision, r1 + 1);
	tartan_etcd_result_free(res);

	/* LESS and GREATER on revisions */
	cmp.result = TARTAN_ETCD_CMP_GREATER;
	cmp.number = r1;
	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_true(res->succeeded);
	tartan_etcd_result_free(res);
	cmp.result = TARTAN_ETCD_CMP_LESS;
	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_false(res->succeeded);
	tartan_etcd_result_free(res);
}

static void test_txn_compare_value(void **state)
{
	struct ctx *c = CTX();
	const char *k = key(c, "lock");
	struct tartan_etcd_compare cmp = {
		.key = k,
		.key_len = strlen(k),
		.target = TARTAN_ETCD_CMP_VALUE,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.value = "someone-else",
		.value_len = 12,
	};
	const struct tartan_etcd_op del_op = {
		.type = TARTAN_ETCD_OP_DELETE,
		.del = { .keys = { .key = k, .key_len = strlen(k) }, .prev_kv = true },
	};
	const struct tartan_etcd_txn_req txn = {
		.compare = &cmp,
		.n_compare = 1,
		.success = &del_op,
		.n_success = 1,
	};
	struct tartan_etcd_result *res = NULL;
	int64_t r = put(c, k, "me");

	/* another owner's value: nothing happens, and no failure ops means no responses */
	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_false(res->succeeded);
	assert_i64(res->n_responses, 0);
	assert_i64(res->header.revision, r);
	tartan_etcd_result_free(res);

	cmp.value = "me";
	cmp.value_len = 2;
	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_true(res->succeeded);
	assert_i64(res->header.revision, r + 1);
	assert_i64(res->n_responses, 1);
	assert_i64(res->responses[0].op, TARTAN_ETCD_OP_DELETE);
	assert_i64(res->responses[0].deleted, 1);
	assert_i64(res->responses[0].n_kvs, 1);
	assert_bytes(res->responses[0].kvs[0].value, "me");
	tartan_etcd_result_free(res);

	res = get(c, k);
	assert_i64(res->n_kvs, 0);
	tartan_etcd_result_free(res);
}

static void test_txn_multi_op(void **state)
{
	struct ctx *c = CTX();
	const char *kx = key(c, "x"), *ky = key(c, "y"), *kz = key(c, "z"), *kk = key(c, "k");
	int64_t rk, r;
	struct tartan_etcd_compare cmp[3];
	struct tartan_etcd_op ops[4];
	struct tartan_etcd_txn_req txn;
	struct tartan_etcd_result *res = NULL;

	rk = put(c, kk, "kept");
	r = put(c, kz, "doomed");
	cmp[0] = (struct tartan_etcd_compare){ .key = kk,
					       .key_len = strlen(kk),
					       .target = TARTAN_ETCD_CMP_VERSION,
					       .result = TARTAN_ETCD_CMP_GREATER,
					       .number = 0 };
	cmp[1] = (struct tartan_etcd_compare){ .key = kk,
					       .key_len = strlen(kk),
					       .target = TARTAN_ETCD_CMP_MOD,
					       .result = TARTAN_ETCD_CMP_LESS,
					       .number = rk + 1 };
	cmp[2] = (struct tartan_etcd_compare){ .key = kk,
					       .key_len = strlen(kk),
					       .target = TARTAN_ETCD_CMP_VALUE,
					       .result = TARTAN_ETCD_CMP_NOT_EQUAL,
					       .value = "other",
					       .value_len = 5 };
	ops[0] = (struct tartan_etcd_op){
		.type = TARTAN_ETCD_OP_PUT,
		.put = { .key = kx, .key_len = strlen(kx), .value = "vx", .value_len = 2 },
	};
	ops[1] = (struct tartan_etcd_op){
		.type = TARTAN_ETCD_OP_PUT,
		.put = { .key = ky, .key_len = strlen(ky), .value = "vy", .value_len = 2 },
	};
	ops[2] = (struct tartan_etcd_op){
		.type = TARTAN_ETCD_OP_RANGE,
		.range = { .keys = { .key = kk, .key_len = strlen(kk) } },
	};
	ops[3] = (struct tartan_etcd_op){
		.type = TARTAN_ETCD_OP_DELETE,
		.del = { .keys = { .key = kz, .key_len = strlen(kz) } },
	};
	txn = (struct tartan_etcd_txn_req){
		.compare = cmp, .n_compare = 3, .success = ops, .n_success = 4
	};

	assert_ok(c->s, tartan_etcd_sync_txn(c->s, &txn, &res));
	assert_true(res->succeeded);
	/* one txn is one revision, whatever it writes */
	assert_i64(res->header.revision, r + 1);
	assert_i64(res->n_responses, 4);
	assert_i64(res->responses[0].op, TARTAN_ETCD_OP_PUT);
	assert_i64(res->responses[1].op, TARTAN_ETCD_OP_PUT);
	assert_i64(res->responses[2].op, TARTAN_ETCD_OP_RANGE);
	assert_i64(res->responses[3].op, TARTAN_ETCD_OP_DELETE);
	assert_i64(res->responses[2].n_kvs, 1);
	assert_bytes(res->responses[2].kvs[0].value, "kept");
	assert_i64(res->responses[3].deleted, 1);
	tartan_etcd_result_free(res);

	res = get_prefix(c, c->prefix);
	assert_i64(res->n_kvs, 3);
	assert_bytes(res->kvs[0].key, kk);
	assert_bytes(res->kvs[1].key, kx);
	assert_bytes(res->kvs[1].value, "vx");
	assert_i64(res->kvs[1].mod_revision, r + 1);
	assert_bytes(res->kvs[2].key, ky);
	assert_bytes(res->kvs[2].value, "vy");
	assert_i64(res->kvs[2].mod_revision, r + 1);
	tartan_etcd_result_free(res);

	/* one key twice in a txn: etcd's InvalidArgument, with its words */
	ops[1].put.key = kx;
	ops[1].put.key_len = strlen(kx);
	txn.n_compare = 0;
	txn.n_success = 2;
	assert_fails(c->s, tartan_etcd_sync_txn(c->s, &txn, &res), -EINVAL,
		     "etcdserver: duplicate key given in txn request");
}

/* --- leases ----------------------------------------------------------------------------- */

static void test_lease_lifecycle(void **state)
{
	struct ctx *c = CTX();
	struct tartan_etcd_result *res = NULL;
	/* a client-chosen ID, unique to this run */
	const int64_t id = ((int64_t)getpid() << 16) | 0x7a7a;
	const char *k1 = key(c, "a"), *k2 = key(c, "b");

	assert_ok(c->s, tartan_etcd_sync_lease_grant(c->s, 60, id, &res));
	assert_i64(res->lease_id, id);
	assert_i64(res->ttl, 60);
	tartan_etcd_result_free(res);

	assert_ok(c->s, tartan_etcd_sync_lease_timetolive(c->s, id, &res));
	assert_i64(res->lease_id, id);
	assert_i64(res->granted_ttl, 60);
	if (res->ttl <= 0 || res->ttl > 60)
		fail_msg("timetolive: expected 0 < ttl <= 60, saw %" PRId64, res->ttl);
	tartan_etcd_result_free(res);

	assert_ok(c->s, tartan_etcd_sync_lease_keepalive(c->s, id, &res));
	assert_true(res->has_ttl);
	assert_i64(res->lease_id, id);
	assert_i64(res->ttl, 60);
	tartan_etcd_result_free(res);

	put_lease(c, k1, "1", id);
	put_lease(c, k2, "2", id);
	put(c, key(c, "c"), "no lease");

	assert_ok(c->s, tartan_etcd_sync_lease_revoke(c->s, id, &res));
	tartan_etcd_result_free(res);
	/* revoking deletes the lease's keys, and only those */
	res = get_prefix(c, c->prefix);
	assert_i64(res->n_kvs, 1);
	assert_bytes(res->kvs[0].key, key(c, "c"));
	tartan_etcd_result_free(res);

	assert_fails(c->s, tartan_etcd_sync_lease_keepalive(c->s, id, &res), -ENOENT,
		     "lease not found");
	assert_ok(c->s, tartan_etcd_sync_lease_timetolive(c->s, id, &res));
	assert_i64(res->ttl, -1);
	tartan_etcd_result_free(res);
	assert_fails(c->s, tartan_etcd_sync_lease_revoke(c->s, id, &res), -ENOENT,
		     "etcdserver: requested lease not found");

	/* an etcd-chosen ID, and the minimum TTL etcd raises short ones to */
	assert_ok(c->s, tartan_etcd_sync_lease_grant(c->s, 1, 0, &res));
	assert_true(res->lease_id > 0);
	assert_true(res->lease_id != id);
	/* etcd raises it to its minimum, 1.5 election timeouts (1 s by default), rounded up */
	assert_i64(res->ttl, 2);
	{
		int64_t id2 = res->lease_id;

		tartan_etcd_result_free(res);
		assert_ok(c->s, tartan_etcd_sync_lease_revoke(c->s, id2, &res));
		tartan_etcd_result_free(res);
	}
}

static void test_lease_unknown(void **state)
{
	struct ctx *c = CTX();
	struct tartan_etcd_result *res = NULL;
	const int64_t id = ((int64_t)getpid() << 16) | 0x0bad;

	assert_ok(c->s, tartan_etcd_sync_lease_timetolive(c->s, id, &res));
	assert_i64(res->ttl, -1);
	tartan_etcd_result_free(res);
	assert_fails(c->s, tartan_etcd_sync_lease_keepalive(c->s, id, &res), -ENOENT,
		     "lease not found");
	assert_fails(c->s, tartan_etcd_sync_lease_revoke(c->s, id, &res), -ENOENT,
		     "requested lease not found");
}

/* --- compaction and status --------------------------------------------------------------- */

static void test_compaction(void **state)
{
	struct ctx *c = CTX();
	const char *k = key(c, "k");
	int64_t r1 = put(c, k, "v1");
	int64_t r2 = put(c, k, "v2");
	int64_t r3 = put(c, k, "v3");
	struct tartan_etcd_range_req req = { .keys = { .key = k, .key_len = strlen(k) } };
	struct tartan_etcd_result *res = NULL;

	compact(c, r2);

	req.revision = r1;
	assert_fails(c->s, tartan_etcd_sync_range(c->s, &req, &res), -ERANGE,
		     "etcdserver: mvcc: required revision has been compacted");
	/* the state at the compaction revision itself stays readable */
	req.revision = r2;
	res = range(c, &req);
	assert_bytes(res->kvs[0].value, "v2");
	tartan_etcd_result_free(res);
	req.revision = 0;
	res = range(c, &req);
	assert_bytes(res->kvs[0].value, "v3");
	assert_i64(res->kvs[0].mod_revision, r3);
	assert_i64(res->kvs[0].version, 3);
	tartan_etcd_result_free(res);

	assert_fails(c->s, tartan_etcd_sync_compact(c->s, r1, &res), -ERANGE,
		     "etcdserver: mvcc: required revision has been compacted");
	assert_fails(c->s, tartan_etcd_sync_compact(c->s, r3 + 1000, &res), -ERANGE,
		     "etcdserver: mvcc: required revision is a future revision");
}

static void test_status(void **state)
{
	struct ctx *c = CTX();
	int64_t r = put(c, key(c, "k"), "v");
	struct tartan_etcd_result *res = NULL;

	assert_ok(c->s, tartan_etcd_sync_status(c->s, &res));
	assert_i64(res->header.revision, r);
	assert_true(res->header.cluster_id != 0);
	assert_true(res->header.member_id != 0);
	assert_true(res->header.raft_term > 0);
	tartan_etcd_result_free(res);
}

/* --- watches ------------------------------------------------------------------------------ */

#define N_WATCH_PUTS 1000

static void test_watch_thousand_puts(void **state)
{
	struct ctx *c = CTX();
	struct recorder *r = recorder_new(N_WATCH_PUTS);
	int64_t *revs = calloc(N_WATCH_PUTS, sizeof(*revs));
	int64_t start = store_revision(c) + 1;
	struct tartan_etcd_watch *w;
	char sentinel[512], want_key[512], want_value[32];
	size_t i;

	assert_non_null(revs);
	snprintf(sentinel, sizeof(sentinel), "%szz-sentinel", c->prefix);
	watch_destroyed = 0;
	/* from a revision, not "from now": no race with the first put */
	w = watch_start(c->s, c->prefix, true, start, false, r);
	for (i = 0; i < N_WATCH_PUTS; i++) {
		snprintf(want_value, sizeof(want_value), "v%04zu", i);
		revs[i] = put(c, key(c, "k%04zu", i), want_value);
	}
	watch_wait(c->s, r, "1000 puts");
	assert_i64(r->n, N_WATCH_PUTS);

	/* a last put: once it is in, anything sent twice before it would be too */
	r->want = N_WATCH_PUTS + 1;
	r->done = false;
	{
		int64_t rs = put(c, sentinel, "end");

		watch_wait(c->s, r, "the sentinel put");
		assert_i64(r->n, N_WATCH_PUTS + 1);
		assert_event(r, N_WATCH_PUTS, TARTAN_ETCD_EVENT_PUT, rs, sentinel, "end");
		assert_i64(r->last_revision, rs);
	}
	for (i = 0; i < N_WATCH_PUTS; i++) {
		snprintf(want_key, sizeof(want_key), "%sk%04zu", c->prefix, i);
		snprintf(want_value, sizeof(want_value), "v%04zu", i);
		assert_event(r, i, TARTAN_ETCD_EVENT_PUT, revs[i], want_key, want_value);
		if (i > 0 && r->ev[i].rev <= r->ev[i - 1].rev)
			fail_msg("event %zu: revision %" PRId64 " not above the previous %" PRId64,
				 i, r->ev[i].rev, r->ev[i - 1].rev);
	}
	assert_i64(revs[0], start);
	assert_true(tartan_etcd_watch_is_connected(w));
	assert_null(tartan_etcd_watch_last_error(w));
	assert_i64(watch_destroyed, 0);
	tartan_etcd_watch_free(w);
	assert_i64(watch_destroyed, 1);

	/* the same history again, as a replay: etcd sends it in large batches */
	{
		struct recorder *replay = recorder_new(N_WATCH_PUTS + 1);

		w = watch_start(c->s, c->prefix, true, start, false, replay);
		watch_wait(c->s, replay, "the replay of 1001 puts");
		assert_i64(replay->n, N_WATCH_PUTS + 1);
		for (i = 0; i <= N_WATCH_PUTS; i++)
			assert_event(replay, i, r->ev[i].type, r->ev[i].rev, r->ev[i].key,
				     r->ev[i].value);
		tartan_etcd_watch_free(w);
		recorder_free(replay);
	}
	free(revs);
	recorder_free(r);
}

static void test_watch_compacted(void **state)
{
	struct ctx *c = CTX();
	struct recorder *r = recorder_new(0);
	struct tartan_etcd_watch *w;
	int64_t r1 = put(c, key(c, "a"), "1");
	int64_t r3;

	put(c, key(c, "b"), "2");
	r3 = put(c, key(c, "c"), "3");
	compact(c, r3);

	watch_destroyed = 0;
	w = watch_start(c->s, c->prefix, true, r1, false, r);
	watch_wait(c->s, r, "watch from a compacted revision");
	assert_i64(r->last_status, TARTAN_ETCD_WATCH_COMPACTED);
	assert_i64(r->updates, 1);
	assert_i64(r->n, 0);
	assert_i64(r->compact_revision, r3);
	assert_contains(r->errmsg, "compacted");
	/* stopped, but the handle stays valid until freed */
	assert_false(tartan_etcd_watch_is_connected(w));
	assert_contains(tartan_etcd_watch_last_error(w), "compacted");
	put(c, key(c, "d"), "4");
	assert_i64(r->updates, 1);
	assert_i64(watch_destroyed, 0);
	tartan_etcd_watch_free(w);
	assert_i64(watch_destroyed, 1);
	recorder_free(r);
}

static void test_watch_prev_kv(void **state)
{
	struct ctx *c = CTX();
	struct recorder *r = recorder_new(3);
	const char *k = key(c, "k");
	struct tartan_etcd_delete_req del = { .keys = { .key = k, .key_len = strlen(k) } };
	struct tartan_etcd_result *res = NULL;
	struct tartan_etcd_watch *w;
	int64_t r1, r2, r3;

	/* a single-key watch: a put beside it is not seen */
	w = watch_start(c->s, k, false, store_revision(c) + 1, true, r);
	r1 = put(c, k, "v1");
	put(c, key(c, "k2"), "beside");
	r2 = put(c, k, "v2");
	assert_ok(c->s, tartan_etcd_sync_delete(c->s, &del, &res));
	r3 = res->header.revision;
	tartan_etcd_result_free(res);
	watch_wait(c->s, r, "put, put, delete");

	assert_i64(r->n, 3);
	assert_event(r, 0, TARTAN_ETCD_EVENT_PUT, r1, k, "v1");
	assert_false(r->ev[0].has_prev);
	assert_event(r, 1, TARTAN_ETCD_EVENT_PUT, r2, k, "v2");
	assert_true(r->ev[1].has_prev);
	assert_string_equal(r->ev[1].prev_value, "v1");
	/* a DELETE carries only key and revision; the old value is in prev_kv */
	assert_event(r, 2, TARTAN_ETCD_EVENT_DELETE, r3, k, "");
	assert_true(r->ev[2].has_prev);
	assert_string_equal(r->ev[2].prev_value, "v2");
	tartan_etcd_watch_free(w);
	recorder_free(r);
}

static void test_watch_free_in_callback(void **state)
{
	struct ctx *c = CTX();
	struct recorder *r = recorder_new(0);
	int64_t start = store_revision(c) + 1;
	int64_t r1;

	watch_destroyed = 0;
	r->free_in_callback = true;
	watch_start(c->s, c->prefix, true, start, false, r);
	r1 = put(c, key(c, "a"), "1");
	put(c, key(c, "b"), "2");
	watch_wait(c->s, r, "first event");
	assert_i64(r->updates, 1);
	assert_i64(watch_destroyed, 1);
	assert_i64(r->ev[0].rev, r1);
	/* more writes, and the loop runs again: the freed watch stays silent */
	put(c, key(c, "c"), "3");
	store_revision(c);
	assert_i64(r->updates, 1);
	assert_i64(watch_destroyed, 1);
	recorder_free(r);

	/* the same from the callback that reports a compacted start revision */
	r = recorder_new(0);
	r->free_in_callback = true;
	compact(c, store_revision(c));
	watch_start(c->s, c->prefix, true, start, false, r);
	watch_wait(c->s, r, "compacted");
	assert_i64(r->updates, 1);
	assert_i64(r->last_status, TARTAN_ETCD_WATCH_COMPACTED);
	assert_i64(watch_destroyed, 2);
	store_revision(c);
	assert_i64(r->updates, 1);
	recorder_free(r);
}

/* --- async requests: cancel, destroy, several at once ------------------------------------- */

static void test_request_cancel(void **state)
{
	struct ctx *c = CTX();
	const char *k = key(c, "k");
	const struct tartan_etcd_range_req req = { .keys = { .key = k, .key_len = strlen(k) } };
	struct tartan_etcd_client *client = tartan_etcd_sync_client(c->s);
	struct tartan_etcd_request *rq = NULL;
	struct tartan_etcd_result *res;
	unsigned want = 1;

	put(c, k, "v");
	cb_calls = destroy_calls = 0;
	call_log[0] = '\0';

	/* a normal answer: the callback once, from the loop, then destroy */
	assert_i64(tartan_etcd_range(client, &req, count_cb, NULL, count_destroy, &rq), 0);
	assert_non_null(rq);
	assert_i64(cb_calls, 0); /* never from inside the call */
	if (!run_until(c->s, all_destroyed, &want, WAIT_MS))
		fail_msg("range: no answer in %d ms", WAIT_MS);
	assert_string_equal(call_log, "cb destroy ");

	/* cancelled: destroy at once, the callback never */
	cb_calls = destroy_calls = 0;
	call_log[0] = '\0';
	rq = NULL;
	assert_i64(tartan_etcd_range(client, &req, count_cb, NULL, count_destroy, &rq), 0);
	assert_non_null(rq);
	tartan_etcd_request_cancel(rq);
	assert_string_equal(call_log, "destroy ");
	/* the same request again, started after it, gets its answer; the cancelled one
	 * stays silent */
	res = range(c, &req);
	assert_bytes(res->kvs[0].value, "v");
	tartan_etcd_result_free(res);
	put(c, k, "v2");
	assert_i64(cb_calls, 0);
	assert_i64(destroy_calls, 1);
	assert_string_equal(call_log, "destroy ");
}

struct dead_wait {
	struct tartan_etcd_client *client;
	uint64_t errors;
};

static bool dead_has_failed(void *arg)
{
	struct dead_wait *d = arg;
	struct tartan_etcd_stats st;

	tartan_etcd_client_stats(d->client, &st);
	return st.errors >= d->errors;
}

static void test_request_cancel_during_retry(void **state)
{
	const char *eps[] = { dead_endpoint };
	struct tartan_etcd_sync *dead = NULL;
	struct tartan_etcd_request *rq = NULL;
	struct tartan_etcd_result *res = NULL;
	const struct tartan_etcd_range_req req = { .keys = { .key = "/k", .key_len = 2 } };
	struct dead_wait d;

	assert_i64(sync_new_on(eps, 1, &dead), 0);
	cb_calls = destroy_calls = 0;
	call_log[0] = '\0';
	assert_i64(tartan_etcd_range(tartan_etcd_sync_client(dead), &req, count_cb, NULL,
				     count_destroy, &rq),
		   0);
	/* the first attempt was refused; the retry waits for its backoff */
	d = (struct dead_wait){ .client = tartan_etcd_sync_client(dead), .errors = 1 };
	if (!run_until(dead, dead_has_failed, &d, 5000))
		fail_msg("the first attempt on %s did not fail within 5 s", dead_endpoint);
	assert_i64(cb_calls, 0);
	tartan_etcd_request_cancel(rq);
	assert_string_equal(call_log, "destroy ");
	/* a second request on the same loop goes through all its attempts: the
	 * cancelled one, ahead of it, would have finished by then */
	assert_fails(dead, tartan_etcd_sync_range(dead, &req, &res), -ECONNREFUSED, dead_endpoint);
	assert_i64(cb_calls, 0);
	assert_i64(destroy_calls, 1);
	tartan_etcd_sync_free(dead);
}

static void test_requests_concurrent(void **state)
{
	struct ctx *c = CTX();
	struct tartan_etcd_client *client = tartan_etcd_sync_client(c->s);
	struct tartan_etcd_result *res;
	unsigned want = 50;
	int i;

	cb_calls = destroy_calls = 0;
	call_log[0] = '\0';
	for (i = 0; i < 50; i++) {
		const char *k = key(c, "k%02d", i);
		const struct tartan_etcd_put_req req = {
			.key = k,
			.key_len = strlen(k),
			.value = "v",
			.value_len = 1,
		};

		assert_i64(tartan_etcd_put(client, &req, count_cb, NULL, count_destroy, NULL), 0);
	}
	assert_i64(cb_calls, 0);
	if (!run_until(c->s, all_destroyed, &want, WAIT_MS))
		fail_msg("50 puts at once: %u callbacks and %u destroys after %d ms", cb_calls,
			 destroy_calls, WAIT_MS);
	assert_i64(cb_calls, 50);
	assert_i64(destroy_calls, 50);
	res = get_prefix(c, c->prefix);
	assert_i64(res->n_kvs, 50);
	assert_i64(res->count, 50);
	tartan_etcd_result_free(res);
}

static void test_client_free_cancels(void **state)
{
	struct ctx *c = CTX();
	const char *eps[] = { live_endpoint };
	struct tartan_etcd_sync *s = NULL;
	struct recorder *r = recorder_new(0);
	const char *k = key(c, "k");
	const struct tartan_etcd_range_req req = { .keys = { .key = k, .key_len = strlen(k) } };
	int i;

	assert_i64(sync_new_on(eps, 1, &s), 0);
	cb_calls = destroy_calls = 0;
	watch_destroyed = 0;
	for (i = 0; i < 3; i++)
		assert_i64(tartan_etcd_range(tartan_etcd_sync_client(s), &req, count_cb, NULL,
					     count_destroy, NULL),
			   0);
	watch_start(s, c->prefix, true, 0, false, r);
	/* with everything in flight: destroy for each, no callback */
	tartan_etcd_sync_free(s);
	assert_i64(destroy_calls, 3);
	assert_i64(cb_calls, 0);
	assert_i64(watch_destroyed, 1);
	assert_i64(r->updates, 0);
	recorder_free(r);
}

/* --- endpoints: failover and a dead etcd --------------------------------------------------- */

static bool watch_has_error(void *arg)
{
	return tartan_etcd_watch_last_error(arg) != NULL;
}

static void test_dead_endpoint(void **state)
{
	const char *eps[] = { dead_endpoint };
	struct tartan_etcd_sync *dead = NULL;
	struct tartan_etcd_result *res = NULL;
	const struct tartan_etcd_range_req req = { .keys = { .key = "/k", .key_len = 2 } };
	const struct tartan_etcd_put_req preq = {
		.key = "/k",
		.key_len = 2,
		.value = "v",
		.value_len = 1,
	};
	struct tartan_etcd_stats st;
	struct recorder *r = recorder_new(0);
	struct tartan_etcd_watch *w;
	double t0, ms;

	assert_i64(sync_new_on(eps, 1, &dead), 0);
	t0 = now_ms();
	assert_fails(dead, tartan_etcd_sync_range(dead, &req, &res), -ECONNREFUSED, dead_endpoint);
	ms = now_ms() - t0;
	/* three attempts with 50 and 100 ms of backoff: far below the timeouts */
	if (ms > 3000)
		fail_msg("range on a dead endpoint: expected an answer within 3 s, took %.0f ms",
			 ms);
	tartan_etcd_client_stats(tartan_etcd_sync_client(dead), &st);
	assert_i64(st.requests, 3);
	assert_i64(st.failovers, 0); /* there is nowhere to go */

	t0 = now_ms();
	assert_fails(dead, tartan_etcd_sync_put(dead, &preq, &res), -ECONNREFUSED, "/v3/kv/put");
	ms = now_ms() - t0;
	if (ms > 3000)
		fail_msg("put on a dead endpoint: expected an answer within 3 s, took %.0f ms", ms);
	assert_string_equal(tartan_etcd_client_endpoint(tartan_etcd_sync_client(dead)),
			    dead_endpoint);

	/* a watch keeps trying and says why it is down; its callback stays silent */
	w = watch_start(dead, "/k", false, 0, false, r);
	if (!run_until(dead, watch_has_error, w, 5000))
		fail_msg("watch on a dead endpoint: no last error after 5 s");
	assert_false(tartan_etcd_watch_is_connected(w));
	assert_contains(tartan_etcd_watch_last_error(w), dead_endpoint);
	assert_i64(r->updates, 0);
	tartan_etcd_watch_free(w);
	recorder_free(r);
	tartan_etcd_sync_free(dead);
}

static void test_failover(void **state)
{
	struct ctx *c = CTX();
	const char *eps[] = { dead_endpoint, live_endpoint };
	struct tartan_etcd_sync *fo = NULL;
	struct tartan_etcd_result *res = NULL;
	const char *k = key(c, "k");
	const struct tartan_etcd_range_req req = { .keys = { .key = k, .key_len = strlen(k) } };
	const struct tartan_etcd_put_req preq = {
		.key = k,
		.key_len = strlen(k),
		.value = "through-failover",
		.value_len = 16,
	};
	struct tartan_etcd_stats st;
	struct recorder *r;
	struct tartan_etcd_watch *w;
	int64_t rev = put(c, k, "v1");

	/* a range: idempotent, retried on the next endpoint */
	assert_i64(sync_new_on(eps, 2, &fo), 0);
	assert_string_equal(tartan_etcd_client_endpoint(tartan_etcd_sync_client(fo)),
			    dead_endpoint);
	assert_ok(fo, tartan_etcd_sync_range(fo, &req, &res));
	assert_i64(res->n_kvs, 1);
	assert_bytes(res->kvs[0].value, "v1");
	assert_i64(res->kvs[0].mod_revision, rev);
	tartan_etcd_result_free(res);
	assert_string_equal(tartan_etcd_client_endpoint(tartan_etcd_sync_client(fo)),
			    live_endpoint);
	tartan_etcd_client_stats(tartan_etcd_sync_client(fo), &st);
	assert_i64(st.failovers, 1);
	assert_i64(st.requests, 2);
	/* and it stays there */
	assert_ok(fo, tartan_etcd_sync_put(fo, &preq, &res));
	assert_i64(res->header.revision, rev + 1);
	tartan_etcd_result_free(res);
	tartan_etcd_client_stats(tartan_etcd_sync_client(fo), &st);
	assert_i64(st.requests, 3);
	tartan_etcd_sync_free(fo);

	/* a put first: not idempotent, but a refused connection never reached etcd */
	fo = NULL;
	assert_i64(sync_new_on(eps, 2, &fo), 0);
	assert_ok(fo, tartan_etcd_sync_put(fo, &preq, &res));
	assert_i64(res->header.revision, rev + 2);
	tartan_etcd_result_free(res);
	assert_string_equal(tartan_etcd_client_endpoint(tartan_etcd_sync_client(fo)),
			    live_endpoint);
	res = get(c, k);
	assert_bytes(res->kvs[0].value, "through-failover");
	assert_i64(res->kvs[0].version, 3);
	tartan_etcd_result_free(res);
	tartan_etcd_sync_free(fo);

	/* a watch starts on the dead one and moves over */
	fo = NULL;
	assert_i64(sync_new_on(eps, 2, &fo), 0);
	r = recorder_new(1);
	w = watch_start(fo, k, false, rev, false, r);
	watch_wait(fo, r, "watch through failover");
	assert_event(r, 0, TARTAN_ETCD_EVENT_PUT, rev, k, "v1");
	assert_string_equal(tartan_etcd_client_endpoint(tartan_etcd_sync_client(fo)),
			    live_endpoint);
	tartan_etcd_watch_free(w);
	recorder_free(r);
	tartan_etcd_sync_free(fo);
}

/* --- statistics ----------------------------------------------------------------------- */

static void assert_stats_sum(const struct tartan_etcd_stats *st)
{
	uint64_t requests = 0, errors = 0;

	for (int k = 0; k < TARTAN_ETCD_REQ_MAX; k++) {
		requests += st->requests_by_kind[k];
		for (int e = 0; e < TARTAN_ETCD_CAUSE_MAX; e++)
			errors += st->errors_by_kind[k][e];
	}
	assert_i64(requests, st->requests);
	assert_i64(errors, st->errors);
}

/* Each call is counted under its own kind, each failure under its kind and cause, and the
 * kinds add up to the totals. */
static void test_stats_by_kind(void **state)
{
	struct ctx *c = CTX();
	const char *eps[] = { live_endpoint };
	struct tartan_etcd_sync *s = NULL;
	struct tartan_etcd_result *res = NULL;
	const char *k = key(c, "k");
	const struct tartan_etcd_put_req preq = {
		.key = k, .key_len = strlen(k), .value = "v", .value_len = 1
	};
	const struct tartan_etcd_range_req rreq = { .keys = { .key = k, .key_len = strlen(k) } };
	const struct tartan_etcd_delete_req dreq = { .keys = { .key = k, .key_len = strlen(k) } };
	const struct tartan_etcd_op op = { .type = TARTAN_ETCD_OP_RANGE, .range = rreq };
	const struct tartan_etcd_txn_req txn = { .success = &op, .n_success = 1 };
	const int64_t id = ((int64_t)getpid() << 16) | 0x57a7;
	const char *e;
	struct tartan_etcd_stats st;

	assert_i64(sync_new_on(eps, 1, &s), 0);
	tartan_etcd_client_stats(tartan_etcd_sync_client(s), &st);
	assert_i64(st.requests, 0);
	assert_i64(st.errors, 0);

	assert_ok(s, tartan_etcd_sync_put(s, &preq, &res));
	tartan_etcd_result_free(res);
	tartan_etcd_client_stats(tartan_etcd_sync_client(s), &st);
	assert_i64(st.requests, 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_PUT], 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_RANGE], 0);

	assert_ok(s, tartan_etcd_sync_range(s, &rreq, &res));
	tartan_etcd_result_free(res);
	assert_ok(s, tartan_etcd_sync_range(s, &rreq, &res));
	tartan_etcd_result_free(res);
	assert_ok(s, tartan_etcd_sync_txn(s, &txn, &res));
	tartan_etcd_result_free(res);
	assert_ok(s, tartan_etcd_sync_delete(s, &dreq, &res));
	tartan_etcd_result_free(res);
	assert_ok(s, tartan_etcd_sync_lease_grant(s, 60, id, &res));
	tartan_etcd_result_free(res);
	assert_ok(s, tartan_etcd_sync_lease_keepalive(s, id, &res));
	tartan_etcd_result_free(res);
	assert_ok(s, tartan_etcd_sync_lease_timetolive(s, id, &res));
	tartan_etcd_result_free(res);
	assert_ok(s, tartan_etcd_sync_lease_revoke(s, id, &res));
	tartan_etcd_result_free(res);
	assert_ok(s, tartan_etcd_sync_status(s, &res));
	tartan_etcd_result_free(res);
	/* etcd refuses: revoking a lease that is gone */
	assert_fails(s, tartan_etcd_sync_lease_revoke(s, id, &res), -ENOENT, "lease not found");

	tartan_etcd_client_stats(tartan_etcd_sync_client(s), &st);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_PUT], 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_RANGE], 2);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_TXN], 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_DELETE], 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_LEASE_GRANT], 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_LEASE_KEEPALIVE], 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_LEASE_TIMETOLIVE], 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_LEASE_REVOKE], 2);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_STATUS], 1);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_COMPACT], 0);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_AUTH], 0);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_WATCH], 0);
	assert_i64(st.requests, 11);
	assert_i64(st.errors, 1);
	assert_i64(st.errors_by_kind[TARTAN_ETCD_REQ_LEASE_REVOKE][TARTAN_ETCD_CAUSE_REFUSED], 1);
	assert_stats_sum(&st);
	tartan_etcd_sync_free(s);

	/* a dead endpoint: three attempts of a range, each a transport error */
	s = NULL;
	eps[0] = dead_endpoint;
	assert_i64(sync_new_on(eps, 1, &s), 0);
	assert_fails(s, tartan_etcd_sync_range(s, &rreq, &res), -ECONNREFUSED, dead_endpoint);
	tartan_etcd_client_stats(tartan_etcd_sync_client(s), &st);
	assert_i64(st.requests_by_kind[TARTAN_ETCD_REQ_RANGE], 3);
	assert_i64(st.errors_by_kind[TARTAN_ETCD_REQ_RANGE][TARTAN_ETCD_CAUSE_TRANSPORT], 3);
	assert_i64(st.errors, 3);
	assert_stats_sum(&st);
	tartan_etcd_sync_free(s);

	/* the names metrics use */
	assert_string_equal(tartan_etcd_req_kind_name(TARTAN_ETCD_REQ_RANGE), "range");
	assert_string_equal(tartan_etcd_req_kind_name(TARTAN_ETCD_REQ_LEASE_TIMETOLIVE),
			    "lease_timetolive");
	assert_string_equal(tartan_etcd_req_kind_name(TARTAN_ETCD_REQ_WATCH), "watch");
	assert_null(tartan_etcd_req_kind_name(TARTAN_ETCD_REQ_MAX));
	for (int i = 0; i < TARTAN_ETCD_REQ_MAX; i++) {
		e = tartan_etcd_req_kind_name(i);
		assert_non_null(e);
		assert_true(strspn(e, "abcdefghijklmnopqrstuvwxyz_") == strlen(e));
	}
	for (int i = 0; i < TARTAN_ETCD_CAUSE_MAX; i++)
		assert_non_null(tartan_etcd_cause_name(i));
	assert_string_equal(tartan_etcd_cause_name(TARTAN_ETCD_CAUSE_TIMEOUT), "timeout");
	assert_null(tartan_etcd_cause_name(TARTAN_ETCD_CAUSE_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_bad_options),
		cmocka_unit_test_setup_teardown(test_range_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_keys_only_count_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_prev_kv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_create_if_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_cas_mod_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_compare_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_multi_op, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_thousand_puts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_compacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_prev_kv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_free_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_cancel, setup, teardown),
		cmocka_unit_test(test_request_cancel_during_retry),
		cmocka_unit_test_setup_teardown(test_requests_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_free_cancels, setup, teardown),
		cmocka_unit_test(test_dead_endpoint),
		cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_by_kind, setup, teardown),
	};

	live_endpoint = getenv("TARTAN_TEST_ETCD");
	dead_endpoint = getenv("TARTAN_TEST_ETCD_DEAD");
	if (!live_endpoint || !*live_endpoint || !dead_endpoint || !*dead_endpoint) {
		/* not a skip: this binary only makes sense inside client-suite.sh */
		printf("Bail out! TARTAN_TEST_ETCD and TARTAN_TEST_ETCD_DEAD must be set "
		       "(run tests/etcd/client-suite.sh)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("etcd-client", tests, NULL, NULL);
}
