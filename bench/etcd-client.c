/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/etcd-client: what tartan's etcd client costs on flannel-sized data.
 *
 *   etcd-client --endpoint URL [--keys 5000] [--size 150] [--runs 10] [--trials 200]
 *
 * Prints one "name value unit" line per figure, for bench/etcd-client.sh to
 * put beside etcdctl's. Not a test: it asserts nothing about speed.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd/sync.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

/* A value shaped like a flannel vxlan lease, padded to size bytes. */
static void make_value(char *buf, size_t size, unsigned i)
{
	int n = snprintf(
		buf, size + 1,
		"{\"PublicIP\":\"198.18.%u.%u\",\"PublicIPv6\":null,\"BackendType\":"
		"\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"02:42:%02x:%02x:00:01\"}}",
		(i >> 8) & 0xff, i & 0xff, (i >> 8) & 0xff, i & 0xff);

	while (n >= 0 && (size_t)n < size)
		buf[n++] = ' ';
	buf[size] = '\0';
}

static void make_key(char *buf, size_t len, const char *prefix, unsigned i)
{
	snprintf(buf, len, "%s10.%u.%u.0-24", prefix, (i >> 8) & 0xff, i & 0xff);
}

struct put_state {
	unsigned left;
	int error;
};

static void put_one_cb(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct put_state *st = ud;

	if (error) {
		fprintf(stderr, "put failed: %s\n", errmsg);
		st->error = error;
	}
	st->left--;
}

static int bench_sequential_puts(struct tartan_etcd_sync *s, const char *prefix, unsigned keys,
				 size_t size, double *ret_ms)
{
	char key[320], *value = malloc(size + 1);
	double t0 = now_ms();
	unsigned i;
	int err = 0;

	if (!value)
		return -ENOMEM;
	for (i = 0; i < keys && !err; i++) {
		struct tartan_etcd_result *res = NULL;
		struct tartan_etcd_put_req req;

		make_key(key, sizeof(key), prefix, i);
		make_value(value, size, i);
		req = (struct tartan_etcd_put_req){ key, strlen(key), value, size, 0, false };
		err = tartan_etcd_sync_put(s, &req, &res);
		tartan_etcd_result_free(res);
	}
	*ret_ms = now_ms() - t0;
	free(value);
	return err;
}

/* n puts in txns of batch ops each, one txn in flight at a time (one connection). */
static int bench_txn_puts(struct tartan_etcd_sync *s, const char *prefix, unsigned keys,
			  size_t size, unsigned batch, double *ret_ms)
{
	struct tartan_etcd_op *ops = calloc(batch, sizeof(*ops));
	char(*keybuf)[320] = calloc(batch, 320);
	char *values = malloc((size + 1) * batch);
	double t0 = now_ms();
	unsigned i, j;
	int err = 0;

	if (!ops || !keybuf || !values) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < keys && !err; i += batch) {
		struct tartan_etcd_result *res = NULL;
		struct tartan_etcd_txn_req txn = { 0 };
		unsigned n = keys - i < batch ? keys - i : batch;

		for (j = 0; j < n; j++) {
			char *v = values + (size + 1) * j;

			make_key(keybuf[j], 320, prefix, i + j);
			make_value(v, size, i + j);
			ops[j] = (struct tartan_etcd_op){
				.type = TARTAN_ETCD_OP_PUT,
				.put = { keybuf[j], strlen(keybuf[j]), v, size, 0, false },
			};
		}
		txn.success = ops;
		txn.n_success = n;
		err = tartan_etcd_sync_txn(s, &txn, &res);
		tartan_etcd_result_free(res);
	}
out:
	*ret_ms = now_ms() - t0;
	free(ops);
	free(keybuf);
	free(values);
	return err;
}

/* n puts with up to depth requests in flight (curl opens up to depth connections). */
static int bench_concurrent_puts(struct tartan_etcd_sync *s, const char *prefix, unsigned keys,
				 size_t size, unsigned depth, double *ret_ms)
{
	struct tartan_etcd_client *c = tartan_etcd_sync_client(s);
	struct put_state st = { .left = 0 };
	char key[320], *value = malloc(size + 1);
	double t0 = now_ms();
	unsigned sent = 0;

	if (!value)
		return -ENOMEM;
	while ((sent < keys || st.left > 0) && !st.error) {
		while (sent < keys && st.left < depth) {
			struct tartan_etcd_put_req req;
			int err;

			make_key(key, sizeof(key), prefix, sent);
			make_value(value, size, sent);
			req =
				(struct tartan_etcd_put_req){ key,  strlen(key), value,
							      size, 0,		 false };
			err = tartan_etcd_put(c, &req, put_one_cb, &st, NULL, NULL);
			if (err < 0) {
				st.error = err;
				break;
			}
			st.left++;
			sent++;
		}
		ev_run(tartan_etcd_sync_loop(s), EVRUN_ONCE);
	}
	*ret_ms = now_ms() - t0;
	free(value);
	return st.error;
}

static int bench_range(struct tartan_etcd_sync *s, const char *prefix, unsigned keys, unsigned runs,
		       double *ret_median_ms)
{
	double *t = calloc(runs, sizeof(*t));
	unsigned i;
	int err = 0;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < runs && !err; i++) {
		struct tartan_etcd_range_req req = { .keys = { prefix, strlen(prefix),
							       .prefix = true } };
		struct tartan_etcd_result *res = NULL;
		double t0 = now_ms();

		err = tartan_etcd_sync_range(s, &req, &res);
		t[i] = now_ms() - t0;
		if (getenv("BENCH_VERBOSE"))
			fprintf(stderr, "range %u: %.1f ms\n", i, t[i]);
		if (!err && res->n_kvs != keys) {
			fprintf(stderr, "range: expected %u kvs, got %zu\n", keys, res->n_kvs);
			err = -EIO;
		}
		tartan_etcd_result_free(res);
	}
	if (!err)
		*ret_median_ms = percentile(t, runs, 0.5);
	free(t);
	return err;
}

struct watch_state {
	bool seen;
	double t;
	char expect[320];
};

static void latency_watch_cb(struct tartan_etcd_watch *w, const struct tartan_etcd_watch_update *u,
			     void *userdata)
{
	struct watch_state *st = userdata;
	size_t i;

	for (i = 0; u->status == TARTAN_ETCD_WATCH_EVENTS && i < u->n_events; i++)
		if (strcmp(u->events[i].kv.key.data, st->expect) == 0) {
			st->seen = true;
			st->t = now_ms();
		}
}

struct put_done {
	bool done;
	int error;
};

static void put_done_cb(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct put_done *pd = ud;

	pd->done = true;
	pd->error = error;
}

static int bench_watch_latency(struct tartan_etcd_sync *s, const char *prefix, unsigned trials,
			       double *ret_median, double *ret_p99)
{
	struct tartan_etcd_client *c = tartan_etcd_sync_client(s);
	struct watch_state st = { 0 };
	struct tartan_etcd_watch_req wreq = { .keys = { prefix, strlen(prefix), .prefix = true } };
	struct tartan_etcd_watch *w = NULL;
	double *lat = calloc(trials, sizeof(*lat));
	unsigned i;
	int err;

	if (!lat)
		return -ENOMEM;
	err = tartan_etcd_watch_new(c, &wreq, latency_watch_cb, &st, NULL, &w);
	for (i = 0; i < 200 && !err && !tartan_etcd_watch_is_connected(w); i++) {
		bool never = false;

		if (tartan_etcd_sync_run(s, &never, 10) == 0)
			break; /* cannot happen: never stays false */
	}
	for (i = 0; i < trials && !err; i++) {
		struct put_done pd = { 0 };
		struct tartan_etcd_put_req req;
		double t0;

		snprintf(st.expect, sizeof(st.expect), "%slat-%u", prefix, i);
		st.seen = false;
		req = (struct tartan_etcd_put_req){
			st.expect, strlen(st.expect), "x", 1, 0, false
		};
		t0 = now_ms();
		err = tartan_etcd_put(c, &req, put_done_cb, &pd, NULL, NULL);
		if (!err)
			err = tartan_etcd_sync_run(s, &st.seen, 5000);
		if (!err)
			err = tartan_etcd_sync_run(s, &pd.done, 5000);
		if (!err)
			err = pd.error;
		lat[i] = st.t - t0;
	}
	if (!err) {
		*ret_median = percentile(lat, trials, 0.5);
		*ret_p99 = percentile(lat, trials, 0.99);
	}
	tartan_etcd_watch_free(w);
	free(lat);
	return err;
}

static int fail(const char *what, int err, struct tartan_etcd_sync *s)
{
	fprintf(stderr, "etcd-client: %s: %s (%s)\n", what, strerror(-err),
		s ? tartan_etcd_sync_error(s) : "");
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "keys", required_argument, NULL, 'k' },
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "trials", required_argument, NULL, 't' },
		{ "prefix", required_argument, NULL, 'p' },
		{},
	};
	const char *endpoint = "http://127.0.0.1:2379", *prefix = "/bench/subnets/";
	unsigned keys = 5000, runs = 10, trials = 200;
	size_t size = 150;
	struct tartan_etcd_sync *s = NULL;
	struct tartan_etcd_options opts = { 0 };
	struct tartan_etcd_delete_req del = { 0 };
	struct tartan_etcd_result *res = NULL;
	double ms = 0, med = 0, p99 = 0;
	char pfx[256];
	int opt, err;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			endpoint = optarg;
			break;
		case 'k':
			keys = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			trials = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			prefix = optarg;
			break;
		default:
			fprintf(stderr, "usage: etcd-client --endpoint URL [--keys N] [--size B] "
					"[--runs N] [--trials N] [--prefix P]\n");
			return 2;
		}
	}
	if (!keys || !runs || !trials || size < 16 || size > 65536) {
		fprintf(stderr,
			"etcd-client: --keys, --runs, --trials > 0 and 16 <= --size <= 65536\n");
		return 2;
	}
	opts.endpoints = &endpoint;
	opts.n_endpoints = 1;
	opts.request_timeout_ms = 30000;
	err = tartan_etcd_sync_new(&opts, &s);
	if (err < 0)
		return fail("client", err, NULL);

	snprintf(pfx, sizeof(pfx), "%sseq/", prefix);
	err = bench_sequential_puts(s, pfx, keys, size, &ms);
	if (err < 0)
		return fail("sequential puts", err, s);
	printf("tartan_put_sequential_ms %.1f\n", ms);

	snprintf(pfx, sizeof(pfx), "%stxn/", prefix);
	err = bench_txn_puts(s, pfx, keys, size, 128, &ms);
	if (err < 0)
		return fail("txn puts", err, s);
	printf("tartan_put_txn128_ms %.1f\n", ms);

	snprintf(pfx, sizeof(pfx), "%sconc/", prefix);
	err = bench_concurrent_puts(s, pfx, keys, size, 16, &ms);
	if (err < 0)
		return fail("concurrent puts", err, s);
	printf("tartan_put_concurrent16_ms %.1f\n", ms);

	snprintf(pfx, sizeof(pfx), "%sseq/", prefix);
	err = bench_range(s, pfx, keys, runs, &med);
	if (err < 0)
		return fail("range", err, s);
	printf("tartan_range_median_ms %.2f\n", med);

	snprintf(pfx, sizeof(pfx), "%slat/", prefix);
	err = bench_watch_latency(s, pfx, trials, &med, &p99);
	if (err < 0)
		return fail("watch latency", err, s);
	printf("tartan_put_to_watch_median_ms %.3f\n", med);
	printf("tartan_put_to_watch_p99_ms %.3f\n", p99);

	/* leave the seq/ keys for etcdctl's read; drop the rest */
	snprintf(pfx, sizeof(pfx), "%sconc/", prefix);
	del.keys = (struct tartan_etcd_key_range){ pfx, strlen(pfx), .prefix = true };
	err = tartan_etcd_sync_delete(s, &del, &res);
	tartan_etcd_result_free(res);
	tartan_etcd_sync_free(s);
	return err < 0 ? 1 : 0;
}
