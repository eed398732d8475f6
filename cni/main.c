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
 * The pod's network namespace travels as an fd: ADD and CHECK open CNI_NETNS
 * here, in the runtime's mount namespace (where the path means what the runtime
 * meant), and send the fd with the request (SCM_RIGHTS); one that cannot be
 * opened is answered here, in tartand's words (3: does not exist, 5: other).
 * DEL sends it when it opens, and goes on without when the namespace is gone.
 *
 * When tartand cannot be reached, the message says which way: "no socket at
 * PATH", "PATH is not a socket" (5), "nothing listening at PATH", "tartand at
 * PATH is too busy", "tartand at PATH refused the request: MSG", "tartand at
 * PATH closed the connection without an answer", "tartand at PATH did not
 * answer in N s"; code 11 (try again later), 50 for STATUS (not available).
 *  - ADD and CHECK wait, with short sleeps, for a daemon that is starting
 *    (socket missing, nothing listening, busy) for TARTAN_CNI_WAIT_S, else
 *    "daemonWaitSeconds" (10 s): a pod started while the node boots must not
 *    fail, and a CHECK while tartand restarts must not call a running pod
 *    broken.
 *  - DEL never waits: a DEL tartand did not take (any of the above, or its
 *    answer "try again later") is recorded in "pendingDelDir" (cni/pending.h)
 *    and answered as done at once; tartand applies it before it serves other
 *    requests. Runtimes ignore a failed DEL (podman, containerd): a DEL lost
 *    would hold the pod's address for good. Only when the record cannot be
 *    written does DEL fail (11, both reasons).
 *  - GC and STATUS answer at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* connect()'s error, told apart: a path that exists but is no socket gives ECONNREFUSED too */
static int connect_error(const char *path, int r)
{
	struct stat st;

	if ((r == -ECONNREFUSED || r == -ENOENT) && stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	return r;
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
		if (r >= 0)
			return r;
		r = connect_error(path, r);
		if (!transient(r))
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

/* Why no answer came: a CNI error for the runtime (NULL: out of memory). STATUS says "not
 * available" (50), the spec's code for it; the rest "try again later" (11), but for a path
 * that is no socket (5): that is no daemon starting. */
static struct tartan_cni_error *no_answer(const struct tartan_cni_request *req, int r,
					  const char *refused)
{
	const char *sock = tartan_cni_request_socket(req), *details = NULL;
	enum tartan_cni_command command = tartan_cni_request_command(req);
	unsigned code = command == TARTAN_CNI_STATUS ? TARTAN_CNI_ERR_NOT_AVAILABLE :
						       TARTAN_CNI_ERR_TRY_AGAIN_LATER;
	struct tartan_cni_error *e = NULL;
	char msg[TARTAN_CNI_ERROR_TEXT_MAX], waited[64] = "";

	if (command == TARTAN_CNI_ADD || command == TARTAN_CNI_CHECK)
		snprintf(waited, sizeof(waited), " (waited %g s for tartand to start)",
			 tartan_cni_request_wait(req));
	if (refused) {
		snprintf(msg, sizeof(msg), "tartand at %s refused the request: %s", sock, refused);
	} else if (r == -ENOENT || r == -ENOTDIR) {
		snprintf(msg, sizeof(msg), "no socket at %s%s", sock, waited);
		details = "tartand is not running, or listens elsewhere (the conf's \"socket\")";
	} else if (r == -ENOTSOCK) {
		snprintf(msg, sizeof(msg), "%s is not a socket", sock);
		details = "the conf's \"socket\" must name tartand's --socket";
		if (command != TARTAN_CNI_STATUS)
			code = TARTAN_CNI_ERR_IO;
	} else if (r == -ECONNREFUSED) {
		snprintf(msg, sizeof(msg), "nothing listening at %s%s", sock, waited);
		details = "tartand is not running (the socket was left by one that stopped)";
	} else if (r == -EAGAIN) {
		snprintf(msg, sizeof(msg), "tartand at %s is too busy to take a connection%s", sock,
			 waited);
	} else if (r == -ECONNRESET || r == -EPIPE) {
		snprintf(msg, sizeof(msg), "tartand at %s closed the connection without an answer",
			 sock);
	} else if (r == -ETIMEDOUT) {
		snprintf(msg, sizeof(msg), "tartand at %s did not answer in %g s", sock,
			 tartan_cni_request_timeout(req));
	} else {
		snprintf(msg, sizeof(msg), "cannot talk to tartand at %s", sock);
		details = strerror(-r);
	}
	if (tartan_cni_error_new(code, details, &e, "%s", msg) < 0)
		return NULL;
	return e;
}

/* the message of a {"ok":false,"error":MSG} answer (tartand could not take the request:
 * not root, too many clients), else NULL; owned by *ret_answer */
static const char *refusal(const char *line, size_t len, json_t **ret_answer)
{
	json_t *a = json_loadb(line, len, 0, NULL);

	*ret_answer = a;
	if (!json_is_false(json_object_get(a, "ok")))
		return NULL;
	return json_is_string(json_object_get(a, "error")) ?
		       json_string_value(json_object_get(a, "error")) :
		       "no message";
}

/*
 * One exchange: connects (ADD and CHECK wait for a daemon that is starting), sends the line
 * with the namespace fd (-1: none), reads the answer. 0 and the answer line, or -errno and
 * *ret_error, the CNI error that says why no answer came.
 */
static int exchange(const struct tartan_cni_request *req, int netns_fd, char **ret_answer,
		    size_t *ret_len, struct tartan_cni_error **ret_error)
{
	enum tartan_cni_command command = tartan_cni_request_command(req);
	double timeout = tartan_cni_request_timeout(req), deadline;
	const char *sock = tartan_cni_request_socket(req), *why;
	char *answer = NULL;
	json_t *parsed = NULL;
	size_t len, answer_len = 0;
	const char *line = tartan_cni_request_line(req, &len);
	int fd = -1, r;

	r = daemon_connect(sock,
			   command == TARTAN_CNI_ADD || command == TARTAN_CNI_CHECK ?
				   tartan_cni_request_wait(req) :
				   0,
			   timeout, &fd);
	if (r < 0) {
		*ret_error = no_answer(req, r, NULL);
		return r;
	}
	deadline = tartan_client_now() + timeout;
	r = tartan_client_send_with_fd(fd, line, len, netns_fd, deadline);
	/* a daemon that refuses us (not root, too many clients) writes one error line and
	 * hangs up, maybe before our request went out: that line, if there is one, says more
	 * than EPIPE */
	if (r >= 0 || r == -EPIPE || r == -ECONNRESET) {
		int rr = tartan_client_read_line(fd, deadline, TARTAN_CNI_ANSWER_MAX + 2, &answer,
						 &answer_len);

		if (r >= 0 || rr >= 0)
			r = rr;
	}
	close(fd);
	if (r == -EMSGSIZE) {
		if (tartan_cni_error_new(TARTAN_CNI_ERR_IO, NULL, ret_error,
					 "the answer from tartand at %s is longer than %d bytes",
					 sock, TARTAN_CNI_ANSWER_MAX) < 0)
			*ret_error = NULL;
		return r;
	}
	if (r < 0) {
		*ret_error = no_answer(req, r, NULL);
		return r;
	}
	why = refusal(answer, answer_len, &parsed);
	if (why) {
		*ret_error = no_answer(req, -ECONNREFUSED, why);
		json_decref(parsed);
		free(answer);
		return -ECONNREFUSED;
	}
	json_decref(parsed);
	*ret_answer = answer;
	*ret_len = answer_len;
	return 0;
}

/* mkdir -p: the parents 0755, dir itself mode */
static int mkdir_p(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* dir/name holds text, or what it held: temp file, fsync, rename, fsync of dir */
static int write_durably(const char *dir, const char *name, const char *text)
{
	char tmp[TARTAN_CNI_PENDING_NAME_SIZE + 32];
	int dfd, fd, r;

	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	/* a dot name: tartand takes no half-written file for a record */
	snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	r = write_all(fd, text, strlen(text));
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dfd, tmp, 0);
	else if (fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

/* A DEL tartand did not take (why): recorded for tartand, which applies it when it can, and
 * answered as done, so the runtime never has to retry (most do not). */
static int record_del(const struct tartan_cni_request *req, const struct tartan_cni_error *why)
{
	const char *dir = tartan_cni_request_pending_dir(req),
		   *version = tartan_cni_request_version(req);
	char name[TARTAN_CNI_PENDING_NAME_SIZE];
	char *text = NULL;
	int r;

	r = tartan_cni_request_pending_record(req, name, &text);
	if (r >= 0)
		r = write_durably(dir, name, text);
	free(text);
	if (r < 0)
		return fail(version, why->code, strerror(-r),
			    "%s, and the DEL could not be recorded in %s", why->msg, dir);
	fprintf(stderr, "tartan: %s: DEL recorded as %s/%s, for tartand to apply\n", why->msg, dir,
		name);
	return 0;
}

/* the namespace the runtime named, opened here, in the runtime's mount namespace;
 * O_NONBLOCK: a FIFO in its place must not hang us */
static int netns_open(const char *path, int *ret_fd)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* prints the answer (result or error) to a request; returns the exit status */
static int print_answer(const struct tartan_cni_request *req, const char *answer, size_t len)
{
	const char *sock = tartan_cni_request_socket(req),
		   *version = tartan_cni_request_version(req);
	struct tartan_cni_error *error = NULL;
	json_t *result = NULL;
	char *text = NULL;
	int r, status;

	r = tartan_cni_answer_parse(answer, len, &result, &error);
	if (r == -ENOMEM)
		return fail(version, TARTAN_CNI_ERR_INTERNAL, NULL, "out of memory");
	if (r < 0)
		return fail(version, TARTAN_CNI_ERR_IO, NULL, "malformed answer from tartand at %s",
			    sock);
	if (error) {
		/* a DEL tartand cannot do yet (no subnet yet): recorded, done once it can */
		if (tartan_cni_request_command(req) == TARTAN_CNI_DEL &&
		    error->code == TARTAN_CNI_ERR_TRY_AGAIN_LATER) {
			status = record_del(req, error);
			tartan_cni_error_free(error);
			return status;
		}
		fprintf(stderr, "tartan: tartand: %s%s%s\n", error->msg,
			error->details[0] ? ": " : "", error->details);
		status = print_error(error, version);
		tartan_cni_error_free(error);
		return status;
	}
	/* DEL, CHECK, GC and STATUS print nothing on success */
	if (tartan_cni_request_command(req) != TARTAN_CNI_ADD) {
		json_decref(result);
		return 0;
	}
	r = tartan_cni_result_render(result, version, &text);
	json_decref(result);
	if (r == -ENOMEM)
		return fail(version, TARTAN_CNI_ERR_INTERNAL, NULL, "out of memory");
	if (r < 0)
		return fail(version, TARTAN_CNI_ERR_IO, NULL, "malformed result from tartand at %s",
			    sock);
	print_out(text);
	free(text);
	return 0;
}

/* sends the request with the pod's namespace, prints the answer; returns the exit status */
static int forward(struct tartan_cni_request *req)
{
	const char *version = tartan_cni_request_version(req),
		   *netns = tartan_cni_request_netns(req);
	enum tartan_cni_command command = tartan_cni_request_command(req);
	struct tartan_cni_error *error = NULL;
	char *answer = NULL;
	size_t len = 0;
	int netns_fd = -1, r, status;

	if (netns) {
		r = netns_open(netns, &netns_fd);
		/* tartand's words for the same failures (daemon/podanswer.c) */
		if (r == -ENOENT && command != TARTAN_CNI_DEL)
			return fail(version, TARTAN_CNI_ERR_UNKNOWN_CONTAINER, netns,
				    "the network namespace %s does not exist", netns);
		if (r < 0 && command != TARTAN_CNI_DEL)
			return fail(version, TARTAN_CNI_ERR_IO, netns,
				    "cannot open the network namespace %s: %s", netns,
				    strerror(-r));
		/* a DEL goes on without: the pod's namespace may be gone already */
		if (r < 0 && tartan_cni_request_drop_netns_fd(req) < 0)
			return fail(version, TARTAN_CNI_ERR_INTERNAL, NULL, "out of memory");
	}
	r = exchange(req, netns_fd, &answer, &len, &error);
	if (netns_fd >= 0)
		close(netns_fd);
	if (r < 0 && !error)
		return fail(version, TARTAN_CNI_ERR_INTERNAL, NULL, "out of memory");
	if (r < 0) {
		/* a DEL never waits for tartand: recorded, it is applied when tartand can */
		if (command == TARTAN_CNI_DEL && r != -EMSGSIZE) {
			status = record_del(req, error);
		} else {
			fprintf(stderr, "tartan: %s%s%s\n", error->msg,
				error->details[0] ? ": " : "", error->details);
			status = print_error(error, version);
		}
		tartan_cni_error_free(error);
		return status;
	}
	status = print_answer(req, answer, len);
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
