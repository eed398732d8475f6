/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartanctl: asks the tartand on this node what it holds, over its control
 * socket (daemon/control.h), and prints the answer as text or JSON.
 *
 * Exit status: 0 done; 1 the daemon answered with an error (or an answer
 * tartanctl cannot read); 2 usage; 3 tartand not reachable (no socket, no
 * daemon behind it, no answer in time).
 */
#include <errno.h>
#include <getopt.h>
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
};

struct args {
	const char *socket_path;
	bool json;
	double timeout;
	const char *command;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: tartanctl [--socket PATH] [--json] [--timeout SEC] COMMAND\n"
		   "\n"
		   "Shows what the tartand on this node holds, through its control socket.\n"
		   "\n"
		   "Commands:\n"
		   "  status    this node: state, lease, backend, peers, etcd connection\n"
		   "  leases    the subnet leases of every node in the network\n"
		   "  pods      the pods attached on this node by the tartan CNI plugin: address,\n"
		   "            pod (namespace/name), container, interface, host interface\n"
		   "  version   tartanctl's version\n"
		   "\n"
		   "Options:\n"
		   "  --socket PATH   the control socket (default $TARTAN_SOCKET, else\n"
		   "                  " DEFAULT_SOCKET ")\n"
		   "  --json          print the daemon's result as JSON\n"
		   "  --timeout SEC   give up after SEC seconds (default 5)\n"
		   "  -h, --help      this text\n"
		   "  --version       tartanctl's version\n"
		   "\n"
		   "Exit status: 0 done, 1 the daemon answered with an error, 2 usage error,\n"
		   "3 tartand not reachable.\n");
}

/* EAGAIN from connect() means the daemon's backlog stayed full for the whole timeout */
static int ctl_connect(const char *path, double timeout, int *ret_fd)
{
	int r = tartan_client_connect(path, timeout, ret_fd);

	return r == -EAGAIN ? -ETIMEDOUT : r;
}

static int parse_args(int argc, char **argv, struct args *ret)
{
	/* clang-format off */
	static const struct option options[] = {
		{ "socket",  required_argument, NULL, 's' },
		{ "json",    no_argument,       NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help",    no_argument,       NULL, 'h' },
		{ "version", no_argument,       NULL, 'V' },
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

int main(int argc, char **argv)
{
	struct args a;

	if (parse_args(argc, argv, &a) < 0) {
		fprintf(stderr, "Try 'tartanctl --help'.\n");
		return EXIT_USAGE;
	}
	if (strcmp(a.command, "version") == 0)
		return cmd_version(&a);
	if (strcmp(a.command, "status") == 0 || strcmp(a.command, "leases") == 0 ||
	    strcmp(a.command, "pods") == 0)
		return cmd_daemon(&a);
	fprintf(stderr, "tartanctl: unknown command \"%s\"\nTry 'tartanctl --help'.\n", a.command);
	return EXIT_USAGE;
}
