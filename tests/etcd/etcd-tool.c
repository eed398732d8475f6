/* SPDX-License-Identifier: Apache-2.0 */
/*
 * etcd-tool: a small etcd v3 command line client on tartan's synchronous
 * wrapper, for the integration tests and the demo.
 *
 *   etcd-tool [--endpoints URL[,URL...]] [--user U --password P]
 *             [--cacert F --cert F --key F] CMD ARGS...
 *
 * Exit status: 0 done, 1 etcd or the client failed (a message on stderr names
 * the command), 2 bad usage; watch also exits 3 on its timeout, 4 when its
 * start revision was compacted, 5 when etcd refused the watch.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/sync.h"

#define EXIT_ETCD 1
#define EXIT_USAGE 2
#define EXIT_WATCH_TIMEOUT 3
#define EXIT_WATCH_COMPACTED 4
#define EXIT_WATCH_FAILED 5

static const char usage_text[] =
	"usage: etcd-tool [--endpoints URL[,URL...]] [--user U --password P]\n"
	"                 [--cacert F --cert F --key F] CMD ARGS...\n"
	"commands:\n"
	"  put KEY VALUE [--lease ID]          prints OK\n"
	"  put-many PREFIX N [--start I] [--if-absent]\n"
	"                                      puts PREFIXk<I>..PREFIXk<I+N-1> (%04d) with values\n"
	"                                      v<i>, one request after the other; prints\n"
	"                                      'KEY REV' when each is acknowledged\n"
	"  get KEY [--prefix] [--keys-only] [--rev REV]\n"
	"                                      prints 'KEY VALUE' lines, values as they are\n"
	"  del KEY [--prefix]                  prints the number of keys deleted\n"
	"  grant TTL                           prints the lease ID\n"
	"  revoke ID                           prints OK\n"
	"  keepalive ID                        prints the new TTL\n"
	"  ttl ID                              prints the remaining TTL (-1: no such lease)\n"
	"  compact REV                         prints OK\n"
	"  status                              prints the store revision\n"
	"  watch KEY [--prefix] [--from REV] [--count N] [--timeout SEC] [--prev-kv] [--verbose]\n"
	"                                      prints 'REV PUT KEY VALUE' or 'REV DELETE KEY'\n"
	"                                      (with --prev-kv: 'REV DELETE KEY OLDVALUE');\n"
	"                                      exits 0 after N events, 3 on timeout,\n"
	"                                      4 if REV was compacted, 5 if etcd refused it;\n"
	"                                      --verbose: 'connected' and 'disconnected: WHY'\n"
	"                                      on stderr whenever the stream goes up or down\n";

/* Prints a usage error; returns the exit status for it. */
static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("etcd-tool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (etcd-tool --help: usage)\n", stderr);
	return EXIT_USAGE;
}

/* Prints why CMD failed; returns the exit status for it. */
static int failed(const char *cmd, int err, const char *msg)
{
	fprintf(stderr, "etcd-tool %s: %s: %s\n", cmd, strerror(-err), msg);
	return EXIT_ETCD;
}

static int parse_i64(const char *s, int64_t min, int64_t *ret)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void print_bytes(const struct tartan_etcd_bytes *b)
{
	if (b->len)
		fwrite(b->data, 1, b->len, stdout);
}

/*
 * Sub-command options: getopt_long over the command's own argv (argv[0] is
 * the command), permuting so that options may follow the positionals as in
 * "get KEY --prefix". Returns the index of the first positional, or -1 after
 * printing a usage error.
 */
struct cmd_opts {
	bool prefix, keys_only, prev_kv, if_absent, verbose;
	const char *lease, *from, *count, *timeout, *start, *rev;
};

static int parse_cmd_opts(int argc, char **argv, struct cmd_opts *o, const char *allowed)
{
	static const struct option long_opts[] = {
		{ "prefix", no_argument, NULL, 'p' },
		{ "keys-only", no_argument, NULL, 'k' },
		{ "prev-kv", no_argument, NULL, 'P' },
		{ "if-absent", no_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "lease", required_argument, NULL, 'l' },
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "start", required_argument, NULL, 's' },
		{ "rev", required_argument, NULL, 'r' },
		{ 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	optind = 0; /* GNU: start over, this is a new argv */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (opt == '?' || !strchr(allowed, opt)) {
			usage("%s: unknown or misplaced option '%s'", argv[0], argv[optind - 1]);
			return -1;
		}
		switch (opt) {
		case 'p':
			o->prefix = true;
			break;
		case 'k':
			o->keys_only = true;
			break;
		case 'P':
			o->prev_kv = true;
			break;
		case 'a':
			o->if_absent = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'l':
			o->lease = optarg;
			break;
		case 'f':
			o->from = optarg;
			break;
		case 'c':
			o->count = optarg;
			break;
		case 't':
			o->timeout = optarg;
			break;
		case 's':
			o->start = optarg;
			break;
		case 'r':
			o->rev = optarg;
			break;
		}
	}
	return optind;
}

/* Checks the number of positionals and parses the options; -1 on a usage error. */
static int cmd_args(int argc, char **argv, struct cmd_opts *o, const char *allowed, int n_pos)
{
	int first = parse_cmd_opts(argc, argv, o, allowed);

	if (first < 0)
		return -1;
	if (argc - first != n_pos) {
		usage("%s takes %d argument%s, got %d", argv[0], n_pos, n_pos == 1 ? "" : "s",
		      argc - first);
		return -1;
	}
	return first;
}

static int cmd_put(struct tartan_etcd_sync *s, int argc, char **argv)
{
	struct tartan_etcd_result *res = NULL;
	struct cmd_opts o;
	struct tartan_etcd_put_req req = { 0 };
	int64_t lease = 0;
	int i, err;

	i = cmd_args(argc, argv, &o, "l", 2);
	if (i < 0)
		return EXIT_USAGE;
	if (o.lease && parse_i64(o.lease, 1, &lease) < 0)
		return usage("put: bad lease ID '%s'", o.lease);
	req.key = argv[i];
	req.key_len = strlen(argv[i]);
	req.value = argv[i + 1];
	req.value_len = strlen(argv[i + 1]);
	req.lease = lease;
	err = tartan_etcd_sync_put(s, &req, &res);
	if (err < 0)
		return failed("put", err, tartan_etcd_sync_error(s));
	tartan_etcd_result_free(res);
	puts("OK");
	return 0;
}

static int put_if_absent(struct tartan_etcd_sync *s, const struct tartan_etcd_put_req *put,
			 struct tartan_etcd_result **ret)
{
	/* create_revision 0 means the key does not exist */
	const struct tartan_etcd_compare cmp = {
		.key = put->key,
		.key_len = put->key_len,
		.target = TARTAN_ETCD_CMP_CREATE,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.number = 0,
	};
	const struct tartan_etcd_op op = { .type = TARTAN_ETCD_OP_PUT, .put = *put };
	const struct tartan_etcd_txn_req txn = {
		.compare = &cmp,
		.n_compare = 1,
		.success = &op,
		.n_success = 1,
	};

	return tartan_etcd_sync_txn(s, &txn, ret);
}

/*
 * put-many: the writer of the watch-resume test. One line per acknowledged
 * put, flushed at once, so the test knows how far it got when it kills etcd.
 * --if-absent makes a rerun idempotent: a put that etcd committed but could
 * not acknowledge before it died is not written (and watched) twice.
 */
static int cmd_put_many(struct tartan_etcd_sync *s, int argc, char **argv)
{
	struct cmd_opts o;
	int64_t n, start = 0, k;
	int i, err;

	i = cmd_args(argc, argv, &o, "sa", 2);
	if (i < 0)
		return EXIT_USAGE;
	if (parse_i64(argv[i + 1], 0, &n) < 0 || n > INT_MAX)
		return usage("put-many: bad count '%s'", argv[i + 1]);
	if (o.start && (parse_i64(o.start, 0, &start) < 0 || start > INT_MAX - n))
		return usage("put-many: bad start '%s'", o.start);
	for (k = start; k < start + n; k++) {
		struct tartan_etcd_result *res = NULL;
		char key[4096], value[32];
		struct tartan_etcd_put_req req;
		int len = snprintf(key, sizeof(key), "%sk%04" PRId64, argv[i], k);

		if (len < 0 || (size_t)len >= sizeof(key))
			return usage("put-many: prefix too long");
		snprintf(value, sizeof(value), "v%04" PRId64, k);
		req = (struct tartan_etcd_put_req){
			.key = key,
			.key_len = (size_t)len,
			.value = value,
			.value_len = strlen(value),
		};
		if (o.if_absent)
			err = put_if_absent(s, &req, &res);
		else
			err = tartan_etcd_sync_put(s, &req, &res);
		if (err < 0) {
			fprintf(stderr, "etcd-tool put-many: %s: %s: %s\n", key, strerror(-err),
				tartan_etcd_sync_error(s));
			return EXIT_ETCD;
		}
		printf("%s %" PRId64 "%s\n", key, res->header.revision,
		       o.if_absent && !res->succeeded ? " exists" : "");
		fflush(stdout);
		tartan_etcd_result_free(res);
	}
	return 0;
}

static int cmd_get(struct tartan_etcd_sync *s, int argc, char **argv)
{
	struct tartan_etcd_result *res = NULL;
	struct tartan_etcd_range_req req = { 0 };
	struct cmd_opts o;
	int64_t rev = 0;
	size_t j;
	int i, err;

	i = cmd_args(argc, argv, &o, "pkr", 1);
	if (i < 0)
		return EXIT_USAGE;
	if (o.rev && parse_i64(o.rev, 1, &rev) < 0)
		return usage("get: bad revision '%s'", o.rev);
	req.keys.key = argv[i];
	req.keys.key_len = strlen(argv[i]);
	req.keys.prefix = o.prefix;
	req.keys_only = o.keys_only;
	req.revision = rev;
	err = tartan_etcd_sync_range(s, &req, &res);
	if (err < 0)
		return failed("get", err, tartan_etcd_sync_error(s));
	for (j = 0; j < res->n_kvs; j++) {
		print_bytes(&res->kvs[j].key);
		if (!o.keys_only) {
			putchar(' ');
			print_bytes(&res->kvs[j].value);
		}
		putchar('\n');
	}
	tartan_etcd_result_free(res);
	return 0;
}

static int cmd_del(struct tartan_etcd_sync *s, int argc, char **argv)
{
	struct tartan_etcd_result *res = NULL;
	struct tartan_etcd_delete_req req = { 0 };
	struct cmd_opts o;
	int i, err;

	i = cmd_args(argc, argv, &o, "p", 1);
	if (i < 0)
		return EXIT_USAGE;
	req.keys.key = argv[i];
	req.keys.key_len = strlen(argv[i]);
	req.keys.prefix = o.prefix;
	err = tartan_etcd_sync_delete(s, &req, &res);
	if (err < 0)
		return failed("del", err, tartan_etcd_sync_error(s));
	printf("%" PRId64 "\n", res->deleted);
	tartan_etcd_result_free(res);
	return 0;
}

/* The lease commands and compact: one number in, one number (or OK) out. */
static int cmd_number(struct tartan_etcd_sync *s, int argc, char **argv)
{
	const char *cmd = argv[0];
	struct tartan_etcd_result *res = NULL;
	struct cmd_opts o;
	int64_t v;
	int i, err;

	i = cmd_args(argc, argv, &o, "", 1);
	if (i < 0)
		return EXIT_USAGE;
	if (parse_i64(argv[i], 1, &v) < 0)
		return usage("%s: bad number '%s'", cmd, argv[i]);
	if (strcmp(cmd, "grant") == 0)
		err = tartan_etcd_sync_lease_grant(s, v, 0, &res);
	else if (strcmp(cmd, "revoke") == 0)
		err = tartan_etcd_sync_lease_revoke(s, v, &res);
	else if (strcmp(cmd, "keepalive") == 0)
		err = tartan_etcd_sync_lease_keepalive(s, v, &res);
	else if (strcmp(cmd, "ttl") == 0)
		err = tartan_etcd_sync_lease_timetolive(s, v, &res);
	else
		err = tartan_etcd_sync_compact(s, v, &res);
	if (err < 0)
		return failed(cmd, err, tartan_etcd_sync_error(s));
	if (strcmp(cmd, "grant") == 0)
		printf("%" PRId64 "\n", res->lease_id);
	else if (strcmp(cmd, "keepalive") == 0 || strcmp(cmd, "ttl") == 0)
		printf("%" PRId64 "\n", res->ttl);
	else
		puts("OK");
	tartan_etcd_result_free(res);
	return 0;
}

static int cmd_status(struct tartan_etcd_sync *s, int argc, char **argv)
{
	struct tartan_etcd_result *res = NULL;
	struct cmd_opts o;
	int err;

	if (cmd_args(argc, argv, &o, "", 0) < 0)
		return EXIT_USAGE;
	err = tartan_etcd_sync_status(s, &res);
	if (err < 0)
		return failed("status", err, tartan_etcd_sync_error(s));
	printf("%" PRId64 "\n", res->header.revision);
	tartan_etcd_result_free(res);
	return 0;
}

struct watch_state {
	int64_t count; /* 0: no limit */
	int64_t seen;
	int status;
	bool done;
	bool connected; /* as last reported, for --verbose */
	struct tartan_etcd_watch *w;
};

/*
 * --verbose: the client has no callback for the stream going up or down, so
 * look every 20 ms; a test waits for "connected" before it disturbs etcd.
 */
static void watch_report_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch_state *st = t->data;
	bool up = tartan_etcd_watch_is_connected(st->w);
	const char *why;

	if (up == st->connected)
		return;
	st->connected = up;
	why = tartan_etcd_watch_last_error(st->w);
	if (up)
		fprintf(stderr, "etcd-tool watch: connected\n");
	else
		fprintf(stderr, "etcd-tool watch: disconnected: %s\n", why ? why : "unknown");
}

static void watch_print(const struct tartan_etcd_event *e)
{
	bool del = e->type == TARTAN_ETCD_EVENT_DELETE;

	printf("%" PRId64 " %s ", e->kv.mod_revision, del ? "DELETE" : "PUT");
	print_bytes(&e->kv.key);
	if (!del) {
		putchar(' ');
		print_bytes(&e->kv.value);
	} else if (e->has_prev_kv) {
		putchar(' ');
		print_bytes(&e->prev_kv.value);
	}
	putchar('\n');
	/* a test reads the file while we run: every line must be there at once */
	fflush(stdout);
}

static void watch_cb(struct tartan_etcd_watch *w, const struct tartan_etcd_watch_update *u,
		     void *userdata)
{
	struct watch_state *st = userdata;
	size_t i;

	if (st->done)
		return;
	switch (u->status) {
	case TARTAN_ETCD_WATCH_EVENTS:
		for (i = 0; i < u->n_events && !st->done; i++) {
			watch_print(&u->events[i]);
			st->seen++;
			if (st->count && st->seen >= st->count) {
				st->status = 0;
				st->done = true;
			}
		}
		break;
	case TARTAN_ETCD_WATCH_PROGRESS:
		break;
	case TARTAN_ETCD_WATCH_COMPACTED:
		fprintf(stderr, "etcd-tool watch: compacted: %s (compact revision %" PRId64 ")\n",
			u->errmsg ? u->errmsg : "", u->compact_revision);
		st->status = EXIT_WATCH_COMPACTED;
		st->done = true;
		break;
	case TARTAN_ETCD_WATCH_FAILED:
		fprintf(stderr, "etcd-tool watch: failed: %s\n", u->errmsg ? u->errmsg : "");
		st->status = EXIT_WATCH_FAILED;
		st->done = true;
		break;
	}
}

static int cmd_watch(struct tartan_etcd_sync *s, int argc, char **argv)
{
	struct tartan_etcd_watch_req req = { 0 };
	struct watch_state st = { 0 };
	struct tartan_etcd_watch *w = NULL;
	struct cmd_opts o;
	int64_t from = 0, timeout = 0;
	ev_timer report;
	int i, err;

	i = cmd_args(argc, argv, &o, "pfctPv", 1);
	if (i < 0)
		return EXIT_USAGE;
	if (o.from && parse_i64(o.from, 1, &from) < 0)
		return usage("watch: bad revision '%s'", o.from);
	if (o.count && parse_i64(o.count, 1, &st.count) < 0)
		return usage("watch: bad count '%s'", o.count);
	if (o.timeout && (parse_i64(o.timeout, 1, &timeout) < 0 || timeout > UINT_MAX / 1000))
		return usage("watch: bad timeout '%s'", o.timeout);
	req.keys.key = argv[i];
	req.keys.key_len = strlen(argv[i]);
	req.keys.prefix = o.prefix;
	req.start_revision = from;
	req.prev_kv = o.prev_kv;
	err = tartan_etcd_watch_new(tartan_etcd_sync_client(s), &req, watch_cb, &st, NULL, &w);
	if (err < 0)
		return failed("watch", err, "cannot start the watch");
	st.w = w;
	ev_timer_init(&report, watch_report_cb, 0.02, 0.02);
	report.data = &st;
	if (o.verbose)
		ev_timer_start(tartan_etcd_sync_loop(s), &report);
	err = tartan_etcd_sync_run(s, &st.done, (unsigned)timeout * 1000);
	ev_timer_stop(tartan_etcd_sync_loop(s), &report);
	if (err == -ETIMEDOUT) {
		const char *why = tartan_etcd_watch_last_error(w);

		fprintf(stderr,
			"etcd-tool watch: timed out after %" PRId64 " s with %" PRId64
			" of %" PRId64 " events%s%s\n",
			timeout, st.seen, st.count, why ? "; last error: " : "", why ? why : "");
		st.status = EXIT_WATCH_TIMEOUT;
	}
	tartan_etcd_watch_free(w);
	return st.status;
}

static const struct {
	const char *name;
	int (*run)(struct tartan_etcd_sync *s, int argc, char **argv);
} commands[] = {
	/* clang-format off */
	{ "put", cmd_put },
	{ "put-many", cmd_put_many },
	{ "get", cmd_get },
	{ "del", cmd_del },
	{ "grant", cmd_number },
	{ "revoke", cmd_number },
	{ "keepalive", cmd_number },
	{ "ttl", cmd_number },
	{ "compact", cmd_number },
	{ "status", cmd_status },
	{ "watch", cmd_watch },
	/* clang-format on */
};

/* Splits "a,b,c" into *ret (free() the array and ret[0]). */
static int split_endpoints(const char *list, char ***ret, size_t *ret_n)
{
	char *copy = strdup(list), *p, **v;
	size_t n = 1, i = 0;

	if (!copy)
		return -ENOMEM;
	for (p = copy; *p; p++)
		n += *p == ',';
	v = calloc(n, sizeof(*v));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	for (p = copy;; p++) {
		char *comma = strchr(p, ',');

		v[i++] = p;
		if (!comma)
			break;
		*comma = '\0';
		p = comma;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "endpoints", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'w' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tartan_etcd_options opts = { 0 };
	struct tartan_etcd_sync *s = NULL;
	const char *endpoints = NULL;
	char **eps = NULL;
	size_t n_eps = 0, j;
	int opt, err, rc = EXIT_USAGE;

	opterr = 0;
	/* '+': stop at the command; its own options are parsed by the command */
	while ((opt = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'e':
			endpoints = optarg;
			break;
		case 'u':
			opts.username = optarg;
			break;
		case 'w':
			opts.password = optarg;
			break;
		case 'C':
			opts.ca_file = optarg;
			break;
		case 'c':
			opts.cert_file = optarg;
			break;
		case 'k':
			opts.key_file = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage("unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage("no command given");
	if (!!opts.username != !!opts.password)
		return usage("--user and --password go together");
	for (j = 0; j < sizeof(commands) / sizeof(commands[0]); j++)
		if (strcmp(argv[optind], commands[j].name) == 0)
			break;
	if (j == sizeof(commands) / sizeof(commands[0]))
		return usage("unknown command '%s'", argv[optind]);

	if (endpoints) {
		err = split_endpoints(endpoints, &eps, &n_eps);
		if (err < 0)
			return failed(commands[j].name, err, "cannot parse --endpoints");
		opts.endpoints = (const char *const *)eps;
		opts.n_endpoints = n_eps;
	}
	err = tartan_etcd_sync_new(&opts, &s);
	if (err == -EINVAL) {
		rc = usage("bad client options: endpoints must be http:// or https:// URLs, "
			   "TLS files need https:// endpoints, --cert needs --key");
		goto out;
	}
	if (err < 0) {
		rc = failed(commands[j].name, err, "cannot create the etcd client");
		goto out;
	}
	rc = commands[j].run(s, argc - optind, argv + optind);
out:
	tartan_etcd_sync_free(s);
	if (eps)
		free(eps[0]);
	free(eps);
	if (fflush(stdout) != 0 && rc == 0)
		rc = EXIT_ETCD;
	return rc;
}
