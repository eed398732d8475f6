/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartan: the CNI plugin of tartand. A runtime runs it with the CNI_*
 * environment and the network config on stdin (CNI spec); it checks the
 * request (cni/request.h), answers VERSION itself, and forwards everything
 * else as one line over tartand's control socket, then prints tartand's
 * answer in the request's cniVersion (cni/result.h).
 *
 * Output (spec, cni-etcd-api.md 1.6): ADD prints its result, DEL, CHECK, GC
 * and STATUS print nothing, VERSION its version object, all with exit status
 * 0; a failure prints an error object on stdout and exits with 1. stderr is
 * for people only. Without CNI_COMMAND it says what it is on stderr and exits
 * 0, as skel does.
 *
 * A daemon that is not up yet (socket missing, or nobody listening) is waited
 * for, with short sleeps, for TARTAN_CNI_WAIT_S / "daemonWaitSeconds" (30 s):
 * a pod started while the node boots must not fail just because tartand is
 * starting. Then, and for every other failure to get an answer, CNI error 11
 * (try again later), which runtimes retry.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cni/request.h"
#include "cni/result.h"
#include "ctl/client.h"

#ifndef TARTAN_VERSION
#error "TARTAN_VERSION comes from the root meson.build"
#endif

extern char **environ;

/* if all else fails (no memory to render an error), this is still JSON */
#define OOM_ERROR                                                                                  \
	"{\"cniVersion\":\"" TARTAN_CNI_VERSION_LATEST "\",\"code\":999,\"msg\":\"out of "         \
	"memory\",\"details\":\"\"}\n"

/* the first sleep between two tries to reach the daemon, and the longest */
#define WAIT_STEP_MIN 0.01
#define WAIT_STEP_MAX 0.2

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* prints text on stdout; a failed write can only be told on stderr */
static void print_out(const char *text)
{
	int r = write_all(STDOUT_FILENO, text, strlen(text));

	if (r < 0)
		fprintf(stderr, "tartan: writing the answer to stdout: %s\n", strerror(-r));
}

/* prints the error object, returns the exit status 1 */
static int print_error(const struct tartan_cni_error *e, const char *cni_version)
{
	char *text = NULL;

	if (tartan_cni_error_render(e, cni_version, &text) < 0) {
		print_out(OOM_ERROR);
		return 1;
	}
	print_out(text);
	free(text);
	return 1;
}

__attribute__((format(printf, 4, 5))) static int fail(const char *cni_version, unsigned int code,
						      const char *details, const char *fmt, ...)
{
	struct tartan_cni_error *e = NULL;
	char *msg = NULL;
	va_list ap;
	int n, status;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0 || tartan_cni_error_new(code, details, &e, "%s", msg) < 0) {
		free(msg);
		print_out(OOM_ERROR);
		return 1;
	}
	fprintf(stderr, "tartan: %s%s%s\n", msg, details ? ": " : "", details ? details : "");
	free(msg);
	status = print_error(e, cni_version);
	tartan_cni_error_free(e);
	return status;
}

/* Runtimes write the config and close stdin at once; one that never closes it must not
 * keep a plugin (and the pod's start) waiting forever. TARTAN_CNI_STDIN_TIMEOUT_S sets it
 * (1..3600, for tests). */
#define STDIN_TIMEOUT_S 10

/* -EINVAL for a value that is not a whole number of seconds in 1..3600 */
static int stdin_timeout(int *ret_ms)
{
	const char *v = getenv("TARTAN_CNI_STDIN_TIMEOUT_S");
	int s = 0;

	*ret_ms = STDIN_TIMEOUT_S * 1000;
	if (!v || !*v)
		return 0;
	for (const char *c = v; *c; c++) {
		if (*c < '0' || *c > '9' || (c == v && *c == '0') || c - v >= 4)
			return -EINVAL;
		s = s * 10 + (*c - '0');
	}
	if (s < 1 || s > 3600)
		return -EINVAL;
	*ret_ms = s * 1000;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * stdin, up to TARTAN_CNI_STDIN_MAX + 1 bytes (one more than the parser
 * takes, so that it tells a config that is too long). The runtime closes
 * stdin after the config; what is left unread of a longer one is not waited
 * for. -ETIMEDOUT when stdin is not closed within timeout_ms.
 */
static int read_stdin(int timeout_ms, char **ret_data, size_t *ret_len)
{
	size_t cap = TARTAN_CNI_STDIN_MAX + 1, len = 0;
	double deadline = now_ms() + timeout_ms;
	char *buf = malloc(cap);
	int r;

	if (!buf)
		return -ENOMEM;
	while (len < cap) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		double left = deadline - now_ms();
		ssize_t n;

		/* a file or /dev/null is always readable: poll only waits for pipes */
		r = left > 0 ? poll(&pfd, 1, (int)left + 1) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_data = buf;
	*ret_len = len;
	return 0;
}

/* the daemon is not there yet, or busy: worth another try */
static bool transient(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED || r == -EAGAIN;
}

/* connects, waiting up to wait seconds for a daemon that is not up yet */
static int daemon_connect(const char *path, double wait, double timeout, int *ret_fd)
{
	double deadline = tartan_client_now() + wait, step = WAIT_STEP_MIN;
	bool said = false;
	int r;

	for (;;) {
		double left;

		r = tartan_client_connect(path, timeout, ret_fd);
		if (r >= 0 || !transient(r))
			return r;
		left = deadline - tartan_client_now();
		if (left <= 0)
			return r;
		if (!said) {
			fprintf(stderr, "tartan: waiting up to %g s for tartand at %s (%s)\n", wait,
				path, strerror(-r));
			said = true;
		}
		sleep_s(step < left ? step : left);
		step = step * 2 < WAIT_STEP_MAX ? step * 2 : WAIT_STEP_MAX;
	}
}

/* sends the request, prints the answer; returns the exit status */
static int forward(const struct tartan_cni_request *req)
{
	const char *sock = tartan_cni_request_socket(req),
		   *version = tartan_cni_request_version(req);
	double wait = tartan_cni_request_wait(req), timeout = tartan_cni_request_timeout(req);
	enum tartan_cni_command command = tartan_cni_request_command(req);
	struct tartan_cni_error *error = NULL;
	char *answer = NULL, *text = NULL;
	json_t *result = NULL;
	size_t len, answer_len = 0;
	const char *line = tartan_cni_request_line(req, &len);
	double deadline;
	int fd = -1, r, status;

	r = daemon_connect(sock, wait, timeout, &fd);
	if (r == -EAGAIN)
		return fail(version, TARTAN_CNI_ERR_TRY_AGAIN_LATER, NULL,
			    "tartand at %s is too busy to accept a connection", sock);
	if (r < 0 && transient(r))
		return fail(version, TARTAN_CNI_ERR_TRY_AGAIN_LATER, strerror(-r),
			    "tartand is not running: no daemon at %s after waiting %g s", sock,
			    wait);
	if (r < 0)
		return fail(version, TARTAN_CNI_ERR_TRY_AGAIN_LATER, strerror(-r),
			    "cannot connect to tartand at %s", sock);

	deadline = tartan_client_now() + timeout;
	r = tartan_client_send_all(fd, line, len, deadline);
	/* a daemon that refuses us (not root, too many clients) writes one error
	 * line and hangs up, maybe before our request went out: that line, if
	 * there is one, says more than EPIPE */
	if (r >= 0 || r == -EPIPE || r == -ECONNRESET) {
		int rr = tartan_client_read_line(fd, deadline, TARTAN_CNI_ANSWER_MAX + 2, &answer,
						 &answer_len);

		if (r >= 0 || rr >= 0)
			r = rr;
	}
	close(fd);
	if (r == -ETIMEDOUT) {
		status = fail(version, TARTAN_CNI_ERR_TRY_AGAIN_LATER, NULL,
			      "no answer from tartand at %s within %g s", sock, timeout);
		goto out;
	}
	if (r == -EMSGSIZE) {
		status = fail(version, TARTAN_CNI_ERR_IO, NULL,
			      "the answer from tartand at %s is longer than %d bytes", sock,
			      TARTAN_CNI_ANSWER_MAX);
		goto out;
	}
	if (r < 0) {
		status = fail(version, TARTAN_CNI_ERR_TRY_AGAIN_LATER,
			      r == -ECONNRESET || r == -EPIPE ?
				      "the connection closed before an answer" :
				      strerror(-r),
			      "talking to tartand at %s", sock);
		goto out;
	}

	r = tartan_cni_answer_parse(answer, answer_len, &result, &error);
	if (r == -ENOMEM) {
		status = fail(version, TARTAN_CNI_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	if (r < 0) {
		status = fail(version, TARTAN_CNI_ERR_IO, NULL,
			      "malformed answer from tartand at %s", sock);
		goto out;
	}
	if (error) {
		fprintf(stderr, "tartan: tartand: %s%s%s\n", error->msg,
			error->details[0] ? ": " : "", error->details);
		status = print_error(error, version);
		goto out;
	}
	/* DEL, CHECK, GC and STATUS print nothing on success */
	if (command != TARTAN_CNI_ADD) {
		status = 0;
		goto out;
	}
	r = tartan_cni_result_render(result, version, &text);
	if (r == -ENOMEM) {
		status = fail(version, TARTAN_CNI_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	if (r < 0) {
		status = fail(version, TARTAN_CNI_ERR_IO, NULL,
			      "malformed result from tartand at %s", sock);
		goto out;
	}
	print_out(text);
	status = 0;
out:
	free(text);
	json_decref(result);
	tartan_cni_error_free(error);
	free(answer);
	return status;
}

int main(void)
{
	struct tartan_cni_request *req = NULL;
	struct tartan_cni_error *error = NULL;
	const char *command = getenv("CNI_COMMAND");
	char *data = NULL, *text = NULL;
	size_t len = 0;
	int r, status, timeout_ms;

	/* a runtime that stops reading must not kill us: writes fail instead */
	signal(SIGPIPE, SIG_IGN);

	if (!command || !*command) {
		fprintf(stderr,
			"CNI plugin tartan v%s (the CNI plugin of tartand)\n"
			"CNI protocol versions supported: %s, %s, %s, %s\n",
			TARTAN_VERSION, tartan_cni_versions[0], tartan_cni_versions[1],
			tartan_cni_versions[2], tartan_cni_versions[3]);
		return 0;
	}

	if (stdin_timeout(&timeout_ms) < 0)
		return fail(NULL, TARTAN_CNI_ERR_INVALID_ENV, getenv("TARTAN_CNI_STDIN_TIMEOUT_S"),
			    "TARTAN_CNI_STDIN_TIMEOUT_S: not a whole number of seconds in 1..3600");
	/* VERSION on a terminal: someone typing, nothing to read */
	if (strcmp(command, "VERSION") != 0 || !isatty(STDIN_FILENO)) {
		r = read_stdin(timeout_ms, &data, &len);
		if (r == -ETIMEDOUT)
			return fail(NULL, TARTAN_CNI_ERR_IO, NULL,
				    "stdin was not closed within %d s: the runtime must write the "
				    "network config and close stdin",
				    timeout_ms / 1000);
		if (r < 0 && strcmp(command, "VERSION") != 0)
			return fail(NULL, TARTAN_CNI_ERR_IO, strerror(-r),
				    "error reading from stdin");
	}

	r = tartan_cni_request_new(environ, data, len, &req, &error);
	free(data);
	if (r == -EINVAL && error) {
		fprintf(stderr, "tartan: %s%s%s\n", error->msg, error->details[0] ? ": " : "",
			error->details);
		status = print_error(error, NULL);
		tartan_cni_error_free(error);
		return status;
	}
	if (r < 0)
		return fail(NULL, TARTAN_CNI_ERR_INTERNAL, NULL, "out of memory");

	if (tartan_cni_request_command(req) == TARTAN_CNI_VERSION) {
		r = tartan_cni_version_render(tartan_cni_request_version(req), &text);
		tartan_cni_request_free(req);
		if (r < 0)
			return fail(NULL, TARTAN_CNI_ERR_INTERNAL, NULL, "out of memory");
		print_out(text);
		free(text);
		return 0;
	}
	status = forward(req);
	tartan_cni_request_free(req);
	return status;
}
