/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartanctl: asks the tartand on this node what it holds, over its control
 * socket (daemon/control.h), and prints the answer as text or JSON; reads and
 * writes the network config in etcd (network get/set) with tartand's etcd flags.
 *
 * Exit status: 0 done; 1 the daemon or etcd answered with an error (or an
 * answer tartanctl cannot read), or the config is invalid; 2 usage; 3 tartand
 * not reachable (no socket, no daemon behind it, no answer in time); 4 etcd
 * not reachable; 5 the config in etcd changed since it was read (nothing
 * written).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl/answer.h"
#include "ctl/client.h"
#include "ctl/network.h"
#include "daemon/options.h"
#include "etcd/sync.h"
#include "flannel/config.h"

#ifndef TARTAN_VERSION
#error "TARTAN_VERSION comes from the root meson.build"
#endif

#define DEFAULT_SOCKET "/run/tartan/tartand.sock"
#define DEFAULT_TIMEOUT 5.0

enum {
	EXIT_OK = 0,
	EXIT_ANSWERED_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_ETCD_UNREACHABLE = 4,
	EXIT_CONFLICT = 5,
};

/* tartand's etcd flags, as tartanctl takes them (daemon/options.c checks them) */
static const char *const etcd_flags[] = {
	"etcd-endpoints", "etcd-prefix",   "etcd-cafile",   "etcd-certfile",
	"etcd-keyfile",	  "etcd-username", "etcd-password",
};

#define N_ETCD_FLAGS (sizeof(etcd_flags) / sizeof(etcd_flags[0]))
#define MAX_ARGS 2

struct args {
	const char *socket_path;
	bool json;
	double timeout;
	const char *command;
	const char *argv[MAX_ARGS]; /* the command's own arguments */
	int argc;
	const char *etcd[N_ETCD_FLAGS]; /* the etcd flags given, NULL if not */
	bool has_if_revision;
	int64_t if_revision; /* network set --if-revision */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tartanctl [OPTION]... COMMAND [ARG]...\n"
		"\n"
		"Shows what the tartand on this node holds, through its control socket, and\n"
		"reads or writes the network config in etcd.\n"
		"\n"
		"Commands:\n"
		"  status        this node: state, lease, backend, peers, etcd connection, and\n"
		"                the files tartand writes (ok, restored N times, skipped, error)\n"
		"  leases        the subnet leases of every node in the network\n"
		"  pods          the pods attached on this node by the tartan CNI plugin: address,\n"
		"                pod (namespace/name), container, interface, host interface\n"
		"  routes        the routes (vxlan: also neighbours and FDB entries) tartand keeps\n"
		"                towards its peers against the kernel's: each ok, missing,\n"
		"                different (with what the kernel has) or extra\n"
		"  network get   the network config at <prefix>/config in etcd, its revision and\n"
		"                what tartand makes of it (network, subnets, backend)\n"
		"  network set FILE|-\n"
		"                check the config in FILE (- : standard input) as tartand does and\n"
		"                write it to etcd, only if nobody changed it since it was read\n"
		"                (or since --if-revision)\n"
		"  version       tartanctl's version\n"
		"\n"
		"Options:\n"
		"  --socket PATH   the control socket (default $TARTAN_SOCKET, else\n"
		"                  " DEFAULT_SOCKET ")\n"
		"  --json          print the result as JSON\n"
		"  --timeout SEC   give up after SEC seconds (default 5)\n"
		"  --if-revision N network set: write only if the config's mod revision is\n"
		"                  still N (as network get showed it); 0: only if there is none\n"
		"  -h, --help      this text\n"
		"  --version       tartanctl's version\n"
		"\n"
		"etcd (network get/set), as tartand's flags; a flag not given is read from\n"
		"TARTAN_<NAME>, then FLANNELD_<NAME> (--etcd-endpoints: FLANNELD_ETCD_ENDPOINTS):\n"
		"  --etcd-endpoints URL[,URL...]  (default http://127.0.0.1:2379)\n"
		"  --etcd-prefix PREFIX           (default /coreos.com/network)\n"
		"  --etcd-cafile FILE, --etcd-certfile FILE, --etcd-keyfile FILE\n"
		"  --etcd-username NAME, --etcd-password PASSWORD\n"
		"\n"
		"Exit status: 0 done, 1 tartand or etcd answered with an error or the config is\n"
		"invalid, 2 usage error, 3 tartand not reachable, 4 etcd not reachable, 5 the\n"
		"config in etcd changed since it was read (nothing written).\n");
}

/* EAGAIN from connect() means the daemon's backlog stayed full for the whole timeout */
static int ctl_connect(const char *path, double timeout, int *ret_fd)
{
	int r = tartan_client_connect(path, timeout, ret_fd);

	return r == -EAGAIN ? -ETIMEDOUT : r;
}

static int parse_args(int argc, char **argv, struct args *ret)
{
	enum {
		OPT_IF_REVISION = 0x100,
		OPT_ETCD = 0x200
	};
	/* clang-format off */
	static const struct option options[] = {
		{ "socket",         required_argument, NULL, 's' },
		{ "json",           no_argument,       NULL, 'j' },
		{ "timeout",        required_argument, NULL, 't' },
		{ "help",           no_argument,       NULL, 'h' },
		{ "version",        no_argument,       NULL, 'V' },
		{ "if-revision",    required_argument, NULL, OPT_IF_REVISION },
		{ "etcd-endpoints", required_argument, NULL, OPT_ETCD + 0 },
		{ "etcd-prefix",    required_argument, NULL, OPT_ETCD + 1 },
		{ "etcd-cafile",    required_argument, NULL, OPT_ETCD + 2 },
		{ "etcd-certfile",  required_argument, NULL, OPT_ETCD + 3 },
		{ "etcd-keyfile",   required_argument, NULL, OPT_ETCD + 4 },
		{ "etcd-username",  required_argument, NULL, OPT_ETCD + 5 },
		{ "etcd-password",  required_argument, NULL, OPT_ETCD + 6 },
		{},
	};
	/* clang-format on */
	struct args a = { .timeout = DEFAULT_TIMEOUT };
	const char *env;
	char *end;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!*optarg) {
				fprintf(stderr, "tartanctl: --socket needs a path\n");
				return -EINVAL;
			}
			a.socket_path = optarg;
			break;
		case 'j':
			a.json = true;
			break;
		case 't':
			errno = 0;
			a.timeout = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(a.timeout) ||
			    a.timeout <= 0 || a.timeout > 86400) {
				fprintf(stderr,
					"tartanctl: --timeout: \"%s\" is not a number of seconds "
					"in (0, 86400]\n",
					optarg);
				return -EINVAL;
			}
			break;
		case OPT_IF_REVISION: {
			long long v;

			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 0 || optarg[0] == '-' ||
			    optarg[0] == '+' || optarg[0] == ' ') {
				fprintf(stderr,
					"tartanctl: --if-revision: \"%s\" is not a revision (0 or "
					"more)\n",
					optarg);
				return -EINVAL;
			}
			a.has_if_revision = true;
			a.if_revision = v;
			break;
		}
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			a.command = "version";
			break;
		case ':':
			fprintf(stderr, "tartanctl: %s needs a value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			if (opt >= OPT_ETCD && opt < OPT_ETCD + (int)N_ETCD_FLAGS) {
				a.etcd[opt - OPT_ETCD] = optarg;
				break;
			}
			fprintf(stderr, "tartanctl: unknown option %s\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (!a.command) {
		if (optind >= argc) {
			fprintf(stderr, "tartanctl: no command given\n");
			return -EINVAL;
		}
		a.command = argv[optind++];
	}
	while (optind < argc && a.argc < MAX_ARGS)
		a.argv[a.argc++] = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "tartanctl: %s: unexpected argument \"%s\"\n", a.command,
			argv[optind]);
		return -EINVAL;
	}
	if (!a.socket_path) {
		env = getenv("TARTAN_SOCKET");
		a.socket_path = env && *env ? env : DEFAULT_SOCKET;
	}
	*ret = a;
	return 0;
}

/* prints text to stdout; a failed write (full disk, closed pipe) is an error */
static int print_text(const char *text)
{
	if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
		fprintf(stderr, "tartanctl: writing the output: %s\n", strerror(errno));
		return EXIT_ANSWERED_ERROR;
	}
	return EXIT_OK;
}

static int cmd_version(const struct args *a)
{
	json_t *v;
	char *text = NULL;
	int r;

	if (!a->json)
		return print_text("tartanctl " TARTAN_VERSION "\n");
	/* an object, so that the daemon's version can join it later */
	v = json_pack("{s:s}", "tartanctl", TARTAN_VERSION);
	if (!v || tartan_ctl_render_json(v, &text) < 0) {
		json_decref(v);
		fprintf(stderr, "tartanctl: out of memory\n");
		return EXIT_ANSWERED_ERROR;
	}
	r = print_text(text);
	free(text);
	json_decref(v);
	return r;
}

/* asks the daemon and prints its result; returns the exit status */
static int cmd_daemon(const struct args *a)
{
	double deadline = tartan_client_now() + a->timeout;
	char *request = NULL, *line = NULL, *error = NULL, *text = NULL;
	json_t *req, *result = NULL;
	size_t line_len = 0;
	int fd = -1, r, status;

	r = ctl_connect(a->socket_path, a->timeout, &fd);
	if (r < 0) {
		fprintf(stderr, "tartanctl: cannot reach tartand at %s: %s; is it running?\n",
			a->socket_path, strerror(-r));
		return EXIT_UNREACHABLE;
	}
	req = json_pack("{s:s}", "command", a->command);
	request = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!request) {
		fprintf(stderr, "tartanctl: out of memory\n");
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	r = tartan_client_send_all(fd, request, strlen(request), deadline);
	if (r >= 0)
		r = tartan_client_send_all(fd, "\n", 1, deadline);
	/* a daemon that refuses us (not root, too many clients) writes one
	 * error line and hangs up, maybe before our request went out: that
	 * line, if there is one, says more than EPIPE */
	if (r >= 0 || r == -EPIPE || r == -ECONNRESET) {
		int rr = tartan_client_read_line(fd, deadline, TARTAN_CTL_ANSWER_MAX, &line,
						 &line_len);

		if (r >= 0 || rr >= 0)
			r = rr;
		/* either way the daemon closed the connection on us */
		if (r == -EPIPE)
			r = -ECONNRESET;
	}
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "tartanctl: %s: no answer from tartand at %s within %g s\n",
			a->command, a->socket_path, a->timeout);
		status = EXIT_UNREACHABLE;
		goto out;
	}
	if (r == -EMSGSIZE) {
		fprintf(stderr, "tartanctl: %s: the answer from tartand is longer than %d bytes\n",
			a->command, TARTAN_CTL_ANSWER_MAX);
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "tartanctl: %s: talking to tartand at %s: %s\n", a->command,
			a->socket_path,
			r == -ECONNRESET ? "the connection closed before an answer" : strerror(-r));
		status = EXIT_UNREACHABLE;
		goto out;
	}

	r = tartan_ctl_answer_parse(line, line_len, &result, &error);
	if (r < 0) {
		fprintf(stderr, "tartanctl: %s: %s\n", a->command,
			r == -ENOMEM ? "out of memory" : "malformed answer from tartand");
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	if (error) {
		fprintf(stderr, "tartanctl: %s: %s\n", a->command, error);
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	if (a->json)
		r = tartan_ctl_render_json(result, &text);
	else if (strcmp(a->command, "status") == 0)
		r = tartan_ctl_render_status(result, time(NULL), &text);
	else if (strcmp(a->command, "leases") == 0)
		r = tartan_ctl_render_leases(result, &text);
	else if (strcmp(a->command, "routes") == 0)
		r = tartan_ctl_render_routes(result, &text);
	else
		r = tartan_ctl_render_pods(result, &text);
	if (r < 0) {
		fprintf(stderr, "tartanctl: %s: %s\n", a->command,
			r == -ENOMEM ? "out of memory" : "malformed answer from tartand");
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	status = print_text(text);
out:
	free(text);
	free(error);
	json_decref(result);
	free(line);
	free(request);
	if (fd >= 0)
		close(fd);
	return status;
}

/* ---- network get / set: etcd ---- */

extern char **environ;

/*
 * The etcd options, as tartand reads them: the flags given here and TARTAN_ETCD_* /
 * FLANNELD_ETCD_* from the environment, checked by tartand's own parser
 * (daemon/options.c), which sees only those (no other variable can fail tartanctl).
 */
static int etcd_options(const struct args *a, struct tartan_options **ret)
{
	char *argv[1 + N_ETCD_FLAGS] = { "tartanctl" }, **envp = NULL, *error = NULL;
	size_t n_env = 0, n_environ = 0;
	int argc = 1, r = -ENOMEM;

	for (size_t i = 0; i < N_ETCD_FLAGS; i++) {
		if (!a->etcd[i])
			continue;
		if (asprintf(&argv[argc], "--%s=%s", etcd_flags[i], a->etcd[i]) < 0) {
			argv[argc] = NULL;
			goto out;
		}
		argc++;
	}
	while (environ && environ[n_environ])
		n_environ++;
	envp = calloc(n_environ + 1, sizeof(*envp));
	if (!envp)
		goto out;
	for (size_t i = 0; i < n_environ; i++)
		if (strncmp(environ[i], "TARTAN_ETCD_", 12) == 0 ||
		    strncmp(environ[i], "FLANNELD_ETCD_", 14) == 0)
			envp[n_env++] = environ[i];
	r = tartan_options_parse(argc, argv, envp, ret, &error);
	if (r == -EINVAL)
		fprintf(stderr, "tartanctl: %s\n", error ? error : "bad etcd options");
	else if (r < 0)
		fprintf(stderr, "tartanctl: %s\n", strerror(-r));
	free(error);
out:
	if (r == -ENOMEM && !error)
		fprintf(stderr, "tartanctl: out of memory\n");
	for (int i = 1; i < argc; i++)
		free(argv[i]);
	free(envp);
	return r;
}

struct etcd_ctx {
	struct tartan_options *opts;
	struct tartan_etcd_sync *etcd;
	char *key; /* <prefix>/config */
};

static void etcd_ctx_free(struct etcd_ctx *c)
{
	tartan_etcd_sync_free(c->etcd);
	tartan_options_free(c->opts);
	free(c->key);
}

/* returns an exit status: EXIT_OK or EXIT_USAGE (bad flags) or EXIT_ANSWERED_ERROR */
static int etcd_open(const struct args *a, struct etcd_ctx *c)
{
	struct tartan_etcd_options eo = { 0 };
	unsigned ms = (unsigned)(a->timeout * 1000);
	int r;

	*c = (struct etcd_ctx){ 0 };
	r = etcd_options(a, &c->opts);
	if (r < 0)
		return r == -EINVAL ? EXIT_USAGE : EXIT_ANSWERED_ERROR;
	eo = (struct tartan_etcd_options){
		.endpoints = (const char *const *)c->opts->etcd_endpoints,
		.n_endpoints = c->opts->n_etcd_endpoints,
		.ca_file = c->opts->etcd_cafile,
		.cert_file = c->opts->etcd_certfile,
		.key_file = c->opts->etcd_keyfile,
		.username = c->opts->etcd_username,
		.password = c->opts->etcd_password,
		/* --timeout bounds each attempt; a dead endpoint costs at most that */
		.request_timeout_ms = ms ? ms : 1,
		.connect_timeout_ms = ms < 2000 ? (ms ? ms : 1) : 2000,
		.max_attempts = (unsigned)c->opts->n_etcd_endpoints,
	};
	r = tartan_flannel_config_key(c->opts->etcd_prefix, &c->key);
	if (r >= 0)
		r = tartan_etcd_sync_new(&eo, &c->etcd);
	if (r < 0) {
		fprintf(stderr, "tartanctl: etcd client: %s\n", strerror(-r));
		etcd_ctx_free(c);
		return EXIT_ANSWERED_ERROR;
	}
	return EXIT_OK;
}

/* the status for a failed etcd call, with a message */
static int etcd_failed(const char *what, struct etcd_ctx *c, int err)
{
	bool down = err == -ECONNREFUSED || err == -EHOSTUNREACH || err == -ETIMEDOUT ||
		    err == -EAGAIN || err == -ENETUNREACH || err == -ECONNRESET;

	fprintf(stderr, "tartanctl: %s: %s%s\n", what, tartan_etcd_sync_error(c->etcd),
		down ? "; is etcd running? (see --etcd-endpoints)" : "");
	return down ? EXIT_ETCD_UNREACHABLE : EXIT_ANSWERED_ERROR;
}

/* reads <prefix>/config: *ret_res NULL when there is none */
static int config_read(struct etcd_ctx *c, struct tartan_etcd_result **ret_res, const char *what)
{
	struct tartan_etcd_range_req req = {
		.keys = { .key = c->key, .key_len = strlen(c->key) },
	};
	struct tartan_etcd_result *res = NULL;
	int r;

	r = tartan_etcd_sync_range(c->etcd, &req, &res);
	if (r < 0)
		return etcd_failed(what, c, r);
	if (res->n_kvs == 0) {
		tartan_etcd_result_free(res);
		res = NULL;
	}
	*ret_res = res;
	return EXIT_OK;
}

static int print_json_or_text(const struct args *a, json_t *v, int (*render)(json_t *, char **))
{
	char *text = NULL;
	int r;

	r = a->json ? tartan_ctl_render_json(v, &text) : render(v, &text);
	if (r < 0) {
		fprintf(stderr, "tartanctl: out of memory\n");
		return EXIT_ANSWERED_ERROR;
	}
	r = print_text(text);
	free(text);
	return r;
}

static int cmd_network_get(const struct args *a)
{
	struct tartan_etcd_result *res = NULL;
	struct etcd_ctx c;
	json_t *d = NULL;
	int status, r;

	if (a->argc != 1) {
		fprintf(stderr, "tartanctl: network get: unexpected argument \"%s\"\n", a->argv[1]);
		return EXIT_USAGE;
	}
	status = etcd_open(a, &c);
	if (status != EXIT_OK)
		return status;
	status = config_read(&c, &res, "network get");
	if (status != EXIT_OK)
		goto out;
	if (!res) {
		fprintf(stderr,
			"tartanctl: network get: no network config at %s (tartand waits for one; "
			"write it with tartanctl network set)\n",
			c.key);
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	r = tartan_ctl_network_describe(c.key, res->kvs[0].value.data, res->kvs[0].value.len,
					res->kvs[0].mod_revision, res->kvs[0].create_revision,
					res->kvs[0].version, &d);
	if (r < 0) {
		fprintf(stderr, "tartanctl: out of memory\n");
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	status = print_json_or_text(a, d, tartan_ctl_render_network);
	if (status == EXIT_OK && !json_is_true(json_object_get(d, "valid"))) {
		fprintf(stderr, "tartanctl: network get: the config at %s is invalid: %s\n", c.key,
			json_string_value(json_object_get(d, "error")));
		status = EXIT_ANSWERED_ERROR;
	}
out:
	json_decref(d);
	tartan_etcd_result_free(res);
	etcd_ctx_free(&c);
	return status;
}

/* the whole of FILE or standard input ("-"), at most TARTAN_CTL_NETWORK_MAX bytes */
static int read_input(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	size_t len = 0, cap = 4096, n;
	char *buf;
	int err = 0;

	if (!f)
		return -errno;
	buf = malloc(cap + 1);
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len > TARTAN_CTL_NETWORK_MAX) {
			err = -EFBIG;
			break;
		}
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (!buf)
		err = -ENOMEM;
	else if (!err && ferror(f))
		err = -EIO;
	if (f != stdin)
		fclose(f);
	if (err < 0) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int cmd_network_set(const struct args *a)
{
	struct tartan_etcd_result *cur = NULL, *res = NULL;
	const char *file = a->argc == 2 ? a->argv[1] : NULL;
	const char *name;
	struct tartan_etcd_compare cmp;
	struct tartan_etcd_op put;
	struct tartan_etcd_txn_req txn;
	json_t *summary = NULL, *out = NULL;
	char *buf = NULL, *error = NULL;
	struct etcd_ctx c = { 0 };
	int64_t base;
	size_t len = 0;
	int status, r;

	if (!file) {
		fprintf(stderr, "tartanctl: network set: needs FILE, or - for standard input\n");
		return EXIT_USAGE;
	}
	name = strcmp(file, "-") == 0 ? "standard input" : file;
	r = read_input(file, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "tartanctl: network set: %s: %s\n", name,
			r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return EXIT_ANSWERED_ERROR;
	}
	/* first what tartand would say: an invalid config never reaches etcd */
	r = tartan_ctl_network_check(buf, len, &summary, &error);
	if (r < 0) {
		fprintf(stderr, "tartanctl: network set: %s: invalid network config: %s\n", name,
			r == -ENOMEM ? "out of memory" :
			error	     ? error :
				       "invalid");
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	status = etcd_open(a, &c);
	if (status != EXIT_OK)
		goto out;
	if (a->has_if_revision) {
		base = a->if_revision;
	} else {
		status = config_read(&c, &cur, "network set");
		if (status != EXIT_OK)
			goto out;
		base = cur ? cur->kvs[0].mod_revision : 0;
	}
	/* written only if the key is still what was read: absent (created at 0) or at the
	 * same mod revision; so two admins cannot overwrite each other */
	cmp = (struct tartan_etcd_compare){
		.key = c.key,
		.key_len = strlen(c.key),
		.target = base ? TARTAN_ETCD_CMP_MOD : TARTAN_ETCD_CMP_CREATE,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.number = base,
	};
	put = (struct tartan_etcd_op){
		.type = TARTAN_ETCD_OP_PUT,
		.put = { .key = c.key, .key_len = strlen(c.key), .value = buf, .value_len = len },
	};
	txn = (struct tartan_etcd_txn_req){
		.compare = &cmp,
		.n_compare = 1,
		.success = &put,
		.n_success = 1,
	};
	r = tartan_etcd_sync_txn(c.etcd, &txn, &res);
	if (r < 0) {
		status = etcd_failed("network set", &c, r);
		goto out;
	}
	if (!res->succeeded) {
		if (base)
			fprintf(stderr,
				"tartanctl: network set: %s changed since revision %" PRId64
				" (someone else wrote or deleted it); nothing written: see it with "
				"tartanctl network get, then set again\n",
				c.key, base);
		else
			fprintf(stderr,
				"tartanctl: network set: %s was created meanwhile by someone else; "
				"nothing written: see it with tartanctl network get, then set "
				"again\n",
				c.key);
		status = EXIT_CONFLICT;
		goto out;
	}
	out = json_pack("{s:s,s:I,s:I,s:O}", "key", c.key, "mod_revision",
			(json_int_t)res->header.revision, "previous_mod_revision", (json_int_t)base,
			"config", summary);
	if (!out) {
		fprintf(stderr, "tartanctl: out of memory\n");
		status = EXIT_ANSWERED_ERROR;
		goto out;
	}
	if (a->json) {
		char *text = NULL;

		status = tartan_ctl_render_json(out, &text) < 0 ? EXIT_ANSWERED_ERROR :
								  print_text(text);
		free(text);
	} else {
		char line[512];

		snprintf(line, sizeof(line),
			 "wrote the network config to %s (mod revision %" PRId64 ")\n", c.key,
			 res->header.revision);
		status = print_text(line);
	}
out:
	json_decref(out);
	json_decref(summary);
	tartan_etcd_result_free(res);
	tartan_etcd_result_free(cur);
	etcd_ctx_free(&c);
	free(error);
	free(buf);
	return status;
}

static int cmd_network(const struct args *a)
{
	if (a->argc >= 1 && strcmp(a->argv[0], "get") == 0)
		return cmd_network_get(a);
	if (a->argc >= 1 && strcmp(a->argv[0], "set") == 0)
		return cmd_network_set(a);
	fprintf(stderr, "tartanctl: network: %s \"%s\"; use network get, or network set FILE|-\n",
		a->argc ? "unknown subcommand" : "needs a subcommand", a->argc ? a->argv[0] : "");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct args a;

	if (parse_args(argc, argv, &a) < 0) {
		fprintf(stderr, "Try 'tartanctl --help'.\n");
		return EXIT_USAGE;
	}
	if (strcmp(a.command, "network") == 0)
		return cmd_network(&a);
	if (a.argc) {
		fprintf(stderr,
			"tartanctl: %s: unexpected argument \"%s\"\nTry 'tartanctl --help'.\n",
			a.command, a.argv[0]);
		return EXIT_USAGE;
	}
	if (strcmp(a.command, "version") == 0)
		return cmd_version(&a);
	if (strcmp(a.command, "status") == 0 || strcmp(a.command, "leases") == 0 ||
	    strcmp(a.command, "pods") == 0 || strcmp(a.command, "routes") == 0)
		return cmd_daemon(&a);
	fprintf(stderr, "tartanctl: unknown command \"%s\"\nTry 'tartanctl --help'.\n", a.command);
	return EXIT_USAGE;
}
