/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of daemon/control.c: a real control server on a private libev loop,
 * its socket in a mktemp directory, and real unix-socket clients in the same
 * process (the test drives the loop with EVRUN_NOWAIT between non-blocking
 * client reads), plus a forked client that drops root for the SO_PEERCRED
 * check. Fds passed with requests (SCM_RIGHTS): the handler gets the one that
 * came with its line, and the server holds none once the line is answered, nor
 * after a line with two, an empty line, or a client that hangs up or goes idle
 * (the test sends a pipe's write end and waits for its read end's EOF). Also
 * the pure request parser and answer encoder.
 *
 * The server admits root only, so the socket tests need root (they run as
 * root here and in CI); elsewhere they are reported as skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/control.h"

#define BIG_LEN 40000

struct ctx {
	char dir[64];
	char path[160]; /* the socket */
	struct ev_loop *loop;
	struct tartan_control *ctl;
	unsigned handled;
};

/* one client connection with the bytes read but not yet taken as lines */
struct conn {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
	int err; /* -errno of a failed read (ECONNRESET after a refusal) */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the daemon's side, as tartand will answer */
static int handler(const char *command, json_t *request, int fd, json_t **ret_result,
		   char **ret_error, void *userdata)
{
	struct ctx *c = userdata;

	c->handled++;
	if (strcmp(command, "fd") == 0) {
		struct stat st;

		/* what came with the request: its inode, to compare with the file sent */
		*ret_result =
			json_pack("{s:I}", "ino",
				  fd >= 0 && fstat(fd, &st) == 0 ? (json_int_t)st.st_ino : -1);
		return *ret_result ? 0 : -ENOMEM;
	}
	if (strcmp(command, "status") == 0) {
		*ret_result = json_pack("{s:s,s:i}", "state", "running", "peers", 2);
		return *ret_result ? 0 : -ENOMEM;
	}
	if (strcmp(command, "echo") == 0) {
		*ret_result = json_pack("{s:O}", "request", request);
		return *ret_result ? 0 : -ENOMEM;
	}
	if (strcmp(command, "empty") == 0)
		return 0; /* no result object: the answer says {} */
	if (strcmp(command, "fail") == 0)
		return -EIO; /* no message: strerror */
	if (strcmp(command, "bad-utf8") == 0) {
		*ret_error = strdup("bad \xff byte\nand a newline");
		return -EINVAL;
	}
	if (strcmp(command, "big") == 0) {
		char *s = malloc(BIG_LEN + 1);

		if (!s)
			return -ENOMEM;
		memset(s, 'x', BIG_LEN);
		s[BIG_LEN] = '\0';
		*ret_result = json_pack("{s:s}", "data", s);
		free(s);
		return *ret_result ? 0 : -ENOMEM;
	}
	if (asprintf(ret_error, "unknown command \"%s\"", command) < 0)
		return -ENOMEM;
	return -EOPNOTSUPP;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? -1 : 0;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/tartan-test-control.XXXXXX");
	if (!mkdtemp(c->dir)) {
		free(c);
		return -1;
	}
	/* the forked non-root client must be able to walk to the socket */
	chmod(c->dir, 0755);
	snprintf(c->path, sizeof(c->path), "%s/run/tartan/tartand.sock", c->dir);
	c->loop = ev_loop_new(EVFLAG_AUTO);
	if (!c->loop)
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	tartan_control_free(c->ctl);
	ev_loop_destroy(c->loop);
	umask(022);
	if (nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		print_error("cannot remove %s: %s\n", c->dir, strerror(errno));
	free(c);
	return 0;
}

static void need_root(void)
{
	if (geteuid() != 0) {
		print_message("the control socket admits root only: run this test as root\n");
		skip();
	}
}

/* setup plus a server at c->path */
static int setup_server(void **state)
{
	struct ctx *c;
	int r;

	if (setup(state) < 0)
		return -1;
	c = *state;
	r = tartan_control_new(c->loop, c->path, handler, c, &c->ctl);
	if (r < 0) {
		print_error("tartan_control_new(%s): %s\n", c->path, strerror(-r));
		return -1;
	}
	return 0;
}

static void pump(struct ctx *c, double seconds)
{
	double end = now() + seconds;

	do {
		ev_run(c->loop, EVRUN_NOWAIT);
		usleep(1000);
	} while (now() < end);
}

static struct conn *conn_open(struct ctx *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	strcpy(sa.sun_path, c->path);
	k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(k->fd >= 0);
	if (connect(k->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("connect %s: %s", c->path, strerror(errno));
	return k;
}

static void conn_close(struct conn *k)
{
	if (!k)
		return;
	close(k->fd);
	free(k->buf);
	free(k);
}

/* sends all of data while the loop runs; -errno if the server hung up */
static int conn_send(struct ctx *c, struct conn *k, const void *data, size_t len)
{
	const char *p = data;
	double end = now() + 5;

	while (len > 0) {
		ssize_t n = send(k->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (now() > end)
			fail_msg("send: the server takes no data for 5 s");
		ev_run(c->loop, EVRUN_NOWAIT);
		usleep(500);
	}
	return 0;
}

static void conn_send_str(struct ctx *c, struct conn *k, const char *s)
{
	int r = conn_send(c, k, s, strlen(s));

	if (r < 0)
		fail_msg("send \"%s\": %s", s, strerror(-r));
}

/* reads what is there now; false when nothing came */
static bool conn_fill(struct conn *k)
{
	ssize_t n;

	if (k->eof || k->err)
		return false;
	if (k->cap - k->len < 65536) {
		k->cap = k->cap ? k->cap * 2 : 131072;
		k->buf = realloc(k->buf, k->cap);
		assert_non_null(k->buf);
	}
	n = recv(k->fd, k->buf + k->len, k->cap - k->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n < 0) {
		k->err = -errno;
		return false;
	}
	if (n == 0) {
		k->eof = true;
		return false;
	}
	k->len += (size_t)n;
	return true;
}

/* the next answer line (malloc'ed, without '\n'), or NULL at EOF or after timeout */
static char *conn_line(struct ctx *c, struct conn *k, double timeout)
{
	double end = now() + timeout;

	for (;;) {
		char *nl = k->len ? memchr(k->buf, '\n', k->len) : NULL;

		if (nl) {
			size_t n = (size_t)(nl - k->buf);
			char *line = strndup(k->buf, n);

			assert_non_null(line);
			memmove(k->buf, nl + 1, k->len - n - 1);
			k->len -= n + 1;
			return line;
		}
		if (k->eof || k->err || now() > end)
			return NULL;
		ev_run(c->loop, EVRUN_NOWAIT);
		if (!conn_fill(k))
			usleep(500);
	}
}

static void expect_line(struct ctx *c, struct conn *k, const char *expected)
{
	char *got = conn_line(c, k, 5);

	if (!got || strcmp(got, expected) != 0)
		print_error("answer:\n  expected %s\n  got      %s\n", expected,
			    got	   ? got :
			    k->eof ? "(end of stream)" :
				     "(nothing within 5 s)");
	assert_non_null(got);
	assert_string_equal(got, expected);
	free(got);
}

/* the server closes: EOF, or ECONNRESET when it closed with our bytes unread */
static void expect_closed(struct ctx *c, struct conn *k, double timeout)
{
	char *extra = conn_line(c, k, timeout);

	if (extra)
		print_error("expected the connection closed, got the line %s\n", extra);
	assert_null(extra);
	if (!k->eof && k->err != -ECONNRESET)
		fail_msg("expected the connection closed within %.1f s, it is still open (%s)",
			 timeout, k->err ? strerror(-k->err) : "no error");
}

static void expect_open(struct ctx *c, struct conn *k)
{
	conn_send_str(c, k, "{\"command\":\"status\"}\n");
	expect_line(c, k, "{\"ok\":true,\"result\":{\"state\":\"running\",\"peers\":2}}");
}

/* sends data with the fds (SCM_RIGHTS) in one sendmsg */
static void conn_send_fds(struct conn *k, const char *data, const int *fds, size_t n)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} control;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = strlen(data) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = CMSG_SPACE(sizeof(int) * n),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(control.buf, 0, sizeof(control.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	if (sendmsg(k->fd, &msg, MSG_NOSIGNAL) != (ssize_t)strlen(data))
		fail_msg("sendmsg: %s", strerror(errno));
}

/* A pipe whose write end the test sends: once the server closed every copy it got, the read
 * end sees the end of the stream. */
struct probe {
	int rd, wr;
	char ino[32];
};

static void probe_open(struct probe *p)
{
	int fds[2];
	struct stat st;

	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	p->rd = fds[0];
	p->wr = fds[1];
	assert_int_equal(fstat(p->wr, &st), 0);
	snprintf(p->ino, sizeof(p->ino), "%llu", (unsigned long long)st.st_ino);
}

/* the server holds no copy of the write end any more (the test closed its own) */
static void expect_probe_closed(struct ctx *c, struct probe *p)
{
	double end = now() + 5;
	char b;

	if (p->wr >= 0)
		close(p->wr);
	p->wr = -1;
	while (read(p->rd, &b, 1) < 0 && errno == EAGAIN) {
		if (now() > end)
			fail_msg("the server still holds the fd it was sent");
		ev_run(c->loop, EVRUN_NOWAIT);
		usleep(500);
	}
	close(p->rd);
}

static void test_fd_passing(void **state)
{
	struct ctx *c = *state;
	struct probe p1, p2, p3;
	char want[160];
	struct conn *k;
	int two[2];

	need_root();
	k = conn_open(c);
	/* one fd with the line: the handler gets it; closed once answered */
	probe_open(&p1);
	conn_send_fds(k, "{\"command\":\"fd\"}\n", &p1.wr, 1);
	snprintf(want, sizeof(want), "{\"ok\":true,\"result\":{\"ino\":%s}}", p1.ino);
	expect_line(c, k, want);
	expect_probe_closed(c, &p1);
	/* the next line has none */
	conn_send_str(c, k, "{\"command\":\"fd\"}\n");
	expect_line(c, k, "{\"ok\":true,\"result\":{\"ino\":-1}}");
	/* the fd on the first bytes of a line split over two writes */
	probe_open(&p1);
	conn_send_fds(k, "{\"command\":", &p1.wr, 1);
	pump(c, 0.05);
	conn_send_str(c, k, "\"fd\"}\n");
	snprintf(want, sizeof(want), "{\"ok\":true,\"result\":{\"ino\":%s}}", p1.ino);
	expect_line(c, k, want);
	expect_probe_closed(c, &p1);
	/* two fds with one line, in one message or in two: refused, both closed */
	probe_open(&p1);
	probe_open(&p2);
	two[0] = p1.wr;
	two[1] = p2.wr;
	conn_send_fds(k, "{\"command\":\"fd\"}\n", two, 2);
	expect_line(c, k,
		    "{\"ok\":false,\"error\":\"more than one file descriptor came with the "
		    "request\"}");
	expect_probe_closed(c, &p1);
	expect_probe_closed(c, &p2);
	probe_open(&p1);
	probe_open(&p2);
	conn_send_fds(k, "{\"comm", &p1.wr, 1);
	pump(c, 0.05);
	conn_send_fds(k, "and\":\"fd\"}\n", &p2.wr, 1);
	expect_line(c, k,
		    "{\"ok\":false,\"error\":\"more than one file descriptor came with the "
		    "request\"}");
	expect_probe_closed(c, &p1);
	expect_probe_closed(c, &p2);
	/* with an empty line: closed, no answer, the connection goes on */
	probe_open(&p1);
	conn_send_fds(k, "\n", &p1.wr, 1);
	expect_probe_closed(c, &p1);
	expect_open(c, k);
	/* with half a line, then the client goes: closed with the client */
	probe_open(&p3);
	conn_send_fds(k, "{\"command\":\"fd\"", &p3.wr, 1);
	pump(c, 0.05);
	conn_close(k);
	expect_probe_closed(c, &p3);
	/* with half a line from a client that stays silent: closed when the server drops it */
	tartan_control_set_idle_timeout(c->ctl, 0.2);
	k = conn_open(c);
	probe_open(&p3);
	conn_send_fds(k, "{\"command\":\"fd\"", &p3.wr, 1);
	expect_closed(c, k, 5);
	expect_probe_closed(c, &p3);
	conn_close(k);
}

static void test_good_command(void **state)
{
	struct ctx *c = *state;
	struct conn *k;

	need_root();
	k = conn_open(c);
	expect_open(c, k);
	/* the handler sees the whole request, extra fields included */
	conn_send_str(c, k, "{\"command\":\"echo\",\"x\":[1,{\"y\":null}]}\n");
	expect_line(
		c, k,
		"{\"ok\":true,\"result\":{\"request\":{\"command\":\"echo\",\"x\":[1,{\"y\":null}]"
		"}}}");
	conn_send_str(c, k, "{\"command\":\"empty\"}\n");
	expect_line(c, k, "{\"ok\":true,\"result\":{}}");
	assert_int_equal(c->handled, 3);
	conn_close(k);
}

static void test_unknown_command(void **state)
{
	struct ctx *c = *state;
	struct conn *k;

	need_root();
	k = conn_open(c);
	conn_send_str(c, k, "{\"command\":\"frobnicate\"}\n");
	expect_line(c, k, "{\"ok\":false,\"error\":\"unknown command \\\"frobnicate\\\"\"}");
	/* an error answer leaves the connection usable */
	expect_open(c, k);
	conn_close(k);
}

static void test_handler_errors(void **state)
{
	struct ctx *c = *state;
	struct conn *k;

	need_root();
	k = conn_open(c);
	conn_send_str(c, k, "{\"command\":\"fail\"}\n");
	expect_line(c, k, "{\"ok\":false,\"error\":\"Input/output error\"}");
	/* a message that is not UTF-8 still makes one valid JSON line */
	conn_send_str(c, k, "{\"command\":\"bad-utf8\"}\n");
	expect_line(c, k, "{\"ok\":false,\"error\":\"bad ? byte?and a newline\"}");
	expect_open(c, k);
	conn_close(k);
}

static void test_bad_json(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *request, *answer;
	} cases[] = {
		{ "{\"command\":\n",
		  "{\"ok\":false,\"error\":\"invalid JSON: unexpected token near end of file (at "
		  "byte 11)\"}" },
		{ "{\"command\":\"status\"} trailing\n",
		  "{\"ok\":false,\"error\":\"invalid JSON: end of file expected near 'trailing' (at "
		  "byte 29)\"}" },
		{ "{\"command\":\"status\",\"command\":\"fail\"}\n",
		  "{\"ok\":false,\"error\":\"invalid JSON: duplicate object key near '\\\"command\\\"' "
		  "(at byte 29)\"}" },
		{ "{\"command\":\"st\\u0000tus\"}\n",
		  "{\"ok\":false,\"error\":\"invalid JSON: \\\\u0000 is not allowed without "
		  "JSON_ALLOW_NUL near '\\\"st\\\\u0000tus\\\"' (at byte 24)\"}" },
		{ "{\"command\":\"\xc3\x28\"}\n",
		  "{\"ok\":false,\"error\":\"invalid JSON: unable to decode byte 0xc3 near '\\\"' (at "
		  "byte 12)\"}" },
	};
	struct conn *k;

	need_root();
	k = conn_open(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conn_send_str(c, k, cases[i].request);
		expect_line(c, k, cases[i].answer);
	}
	assert_int_equal(c->handled, 0);
	expect_open(c, k);
	conn_close(k);
}

static void test_missing_command(void **state)
{
	struct ctx *c = *state;
	static const char *const requests[] = {
		"{}\n",
		"{\"cmd\":\"status\"}\n",
		"{\"command\":5}\n",
		"{\"command\":null}\n",
		"{\"command\":\"\"}\n",
		"{\"command\":[\"status\"]}\n",
	};
	struct conn *k;

	need_root();
	k = conn_open(c);
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		conn_send_str(c, k, requests[i]);
		expect_line(c, k,
			    "{\"ok\":false,\"error\":\"request has no \\\"command\\\" string\"}");
	}
	assert_int_equal(c->handled, 0);
	expect_open(c, k);
	conn_close(k);
}

static void test_not_object(void **state)
{
	struct ctx *c = *state;
	static const char *const requests[] = {
		"[\"status\"]\n", "\"status\"\n", "42\n", "null\n", "true\n",
	};
	struct conn *k;

	need_root();
	k = conn_open(c);
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		conn_send_str(c, k, requests[i]);
		expect_line(c, k, "{\"ok\":false,\"error\":\"request is not a JSON object\"}");
	}
	expect_open(c, k);
	conn_close(k);
}

/* {"command":"status","pad":"xxx..."} of exactly len bytes, plus end */
static char *padded_request(size_t len, const char *end)
{
	static const char head[] = "{\"command\":\"status\",\"pad\":\"";
	size_t hl = strlen(head), el = strlen(end);
	char *s = malloc(len + el + 1);

	assert_non_null(s);
	assert_true(len >= hl + 2);
	memcpy(s, head, hl);
	memset(s + hl, 'x', len - hl - 2);
	memcpy(s + len - 2, "\"}", 2);
	memcpy(s + len, end, el + 1);
	return s;
}

static void test_oversize_line(void **state)
{
	struct ctx *c = *state;
	const char *too_long = "{\"ok\":false,\"error\":\"request line longer than 65536 bytes\"}";
	struct conn *k;
	char *req;

	need_root();
	/* exactly the limit is fine, also with "\r\n" */
	k = conn_open(c);
	req = padded_request(TARTAN_CONTROL_LINE_MAX, "\n");
	assert_int_equal(conn_send(c, k, req, strlen(req)), 0);
	free(req);
	expect_line(c, k, "{\"ok\":true,\"result\":{\"state\":\"running\",\"peers\":2}}");
	req = padded_request(TARTAN_CONTROL_LINE_MAX, "\r\n");
	assert_int_equal(conn_send(c, k, req, strlen(req)), 0);
	free(req);
	expect_line(c, k, "{\"ok\":true,\"result\":{\"state\":\"running\",\"peers\":2}}");

	/* one byte more, newline included: an error, then the server hangs up */
	req = padded_request(TARTAN_CONTROL_LINE_MAX + 1, "\n{\"command\":\"status\"}\n");
	(void)conn_send(c, k, req, strlen(req)); /* may see EPIPE: the server hung up */
	free(req);
	expect_line(c, k, too_long);
	expect_closed(c, k, 5);
	conn_close(k);

	/* no newline at all: the server stops reading at the limit */
	k = conn_open(c);
	req = malloc(200000);
	assert_non_null(req);
	memset(req, ' ', 200000);
	(void)conn_send(c, k, req, 200000);
	free(req);
	expect_line(c, k, too_long);
	expect_closed(c, k, 5);
	conn_close(k);
	assert_int_equal(c->handled, 2);
}

static void test_two_requests_one_write(void **state)
{
	struct ctx *c = *state;
	struct conn *k;

	need_root();
	k = conn_open(c);
	conn_send_str(c, k, "{\"command\":\"status\"}\n{\"command\":\"nope\"}\n");
	expect_line(c, k, "{\"ok\":true,\"result\":{\"state\":\"running\",\"peers\":2}}");
	expect_line(c, k, "{\"ok\":false,\"error\":\"unknown command \\\"nope\\\"\"}");
	/* CRLF, blank lines and a bad line in the middle: answers stay in order */
	conn_send_str(c, k,
		      "\r\n{\"command\":\"empty\"}\r\n\n[1]\n   \n{\"command\":\"fail\"}\n"
		      "{\"command\":\"status\"}\n");
	expect_line(c, k, "{\"ok\":true,\"result\":{}}");
	expect_line(c, k, "{\"ok\":false,\"error\":\"request is not a JSON object\"}");
	/* a line of spaces is not blank: it is not JSON */
	expect_line(c, k,
		    "{\"ok\":false,\"error\":\"invalid JSON: unexpected token near end of file (at "
		    "byte 3)\"}");
	expect_line(c, k, "{\"ok\":false,\"error\":\"Input/output error\"}");
	expect_line(c, k, "{\"ok\":true,\"result\":{\"state\":\"running\",\"peers\":2}}");
	assert_int_equal(c->handled, 5);
	conn_close(k);
}

static void test_split_request(void **state)
{
	struct ctx *c = *state;
	const char *req = "{\"command\":\"status\"}\n";
	struct conn *k;
	char *early;

	need_root();
	k = conn_open(c);
	conn_send_str(c, k, "{\"comm");
	pump(c, 0.05);
	early = conn_line(c, k, 0.05);
	if (early)
		print_error("an answer before the line was complete: %s\n", early);
	assert_null(early);
	assert_int_equal(c->handled, 0);
	conn_send_str(c, k, "and\":\"status\"}\n");
	expect_line(c, k, "{\"ok\":true,\"result\":{\"state\":\"running\",\"peers\":2}}");

	/* one byte per write, the loop running in between */
	for (const char *p = req; *p; p++) {
		assert_int_equal(conn_send(c, k, p, 1), 0);
		ev_run(c->loop, EVRUN_NOWAIT);
	}
	expect_line(c, k, "{\"ok\":true,\"result\":{\"state\":\"running\",\"peers\":2}}");
	assert_int_equal(c->handled, 2);
	conn_close(k);
}

static void test_half_close(void **state)
{
	struct ctx *c = *state;
	struct conn *k;

	need_root();
	/* `printf '{"command":"status"}' | socat - UNIX-CONNECT:...`: no final
	 * newline, then the write side is shut: still one answer, then EOF */
	k = conn_open(c);
	conn_send_str(c, k, "{\"command\":\"empty\"}\n{\"command\":\"status\"}");
	assert_int_equal(shutdown(k->fd, SHUT_WR), 0);
	expect_line(c, k, "{\"ok\":true,\"result\":{}}");
	expect_line(c, k, "{\"ok\":true,\"result\":{\"state\":\"running\",\"peers\":2}}");
	expect_closed(c, k, 5);
	conn_close(k);
}

static void test_socket_mode(void **state)
{
	struct ctx *c = *state;
	char dir[200];
	struct stat st;

	/* 0600 whatever the umask: 0 would make it 0777 through bind() */
	umask(0);
	assert_int_equal(tartan_control_new(c->loop, c->path, handler, c, &c->ctl), 0);
	umask(022);
	assert_int_equal(lstat(c->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	/* the missing parents were made, 0755 */
	snprintf(dir, sizeof(dir), "%s/run/tartan", c->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	snprintf(dir, sizeof(dir), "%s/run", c->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	/* free unlinks it */
	tartan_control_free(c->ctl);
	c->ctl = NULL;
	assert_int_equal(lstat(c->path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/*
 * In a child that drops to nobody: connect, send a request, and report on
 * the pipe what happened: "connect: <errno name>" or the answer line and how
 * the stream ended.
 */
static void unprivileged_client(const char *path, int report)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char req[] = "{\"command\":\"status\"}\n";
	char buf[4096], msg[4200];
	size_t len = 0;
	int fd, n;

	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0 || geteuid() != 65534) {
		n = snprintf(msg, sizeof(msg), "cannot drop root: %s", strerror(errno));
		goto out;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		n = snprintf(msg, sizeof(msg), "connect: %s", errno == EACCES ? "EACCES" : "other");
		goto out;
	}
	(void)send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0) {
			n = snprintf(msg, sizeof(msg), "%.*s|timeout", (int)len, buf);
			goto out;
		}
		r = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (r <= 0) {
			n = snprintf(msg, sizeof(msg), "%.*s|%s", (int)len, buf,
				     r == 0		 ? "eof" :
				     errno == ECONNRESET ? "reset" :
							   "error");
			goto out;
		}
		len += (size_t)r;
		if (len == sizeof(buf)) {
			n = snprintf(msg, sizeof(msg), "too much data");
			goto out;
		}
	}
out:
	(void)!write(report, msg, (size_t)n);
	_exit(0);
}

/* the child's report, the loop running meanwhile */
static char *run_unprivileged(struct ctx *c)
{
	char *out = calloc(1, 8192);
	size_t len = 0;
	int p[2], status;
	double end = now() + 10;
	pid_t pid;

	assert_non_null(out);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		unprivileged_client(c->path, p[1]);
	}
	close(p[1]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("the unprivileged client did not finish within 10 s");
		}
		pump(c, 0.005);
	}
	for (;;) {
		ssize_t n = read(p[0], out + len, 8191 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	return out;
}

static void test_non_root_refused(void **state)
{
	struct ctx *c = *state;
	const char *refusal_eof = "{\"ok\":false,\"error\":\"permission denied: the control socket "
				  "is for root only\"}\n|eof";
	const char *refusal_reset = "{\"ok\":false,\"error\":\"permission denied: the control "
				    "socket is for root only\"}\n|reset";
	char *got;

	need_root();
	/* the socket's mode is the first wall */
	got = run_unprivileged(c);
	if (strcmp(got, "connect: EACCES") != 0)
		print_error(
			"uid 65534 with the socket 0600:\n  expected connect: EACCES\n  got %s\n",
			got);
	assert_string_equal(got, "connect: EACCES");
	free(got);

	/* SO_PEERCRED is the second: with the mode opened by hand, the peer is
	 * still refused with one error line and closed */
	assert_int_equal(chmod(c->path, 0666), 0);
	got = run_unprivileged(c);
	/* then EOF, or ECONNRESET as the server closed with our request unread */
	if (strcmp(got, refusal_eof) != 0 && strcmp(got, refusal_reset) != 0)
		print_error("uid 65534 with the socket 0666:\n  expected %s\n  or       %s\n"
			    "  got      %s\n",
			    refusal_eof, refusal_reset, got);
	assert_true(strcmp(got, refusal_eof) == 0 || strcmp(got, refusal_reset) == 0);
	free(got);
	assert_int_equal(c->handled, 0);

	/* root is still served */
	{
		struct conn *k = conn_open(c);

		expect_open(c, k);
		conn_close(k);
	}
}

static void test_stale_and_live_socket(void **state)
{
	struct ctx *c = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tartan_control *second = NULL;
	struct stat st;
	struct conn *k;
	char file[200];
	int fd;

	need_root();
	/* a socket file left by a daemon that died: replaced */
	snprintf(c->path, sizeof(c->path), "%s/stale.sock", c->dir);
	strcpy(sa.sun_path, c->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(tartan_control_new(c->loop, c->path, handler, c, &c->ctl), 0);
	k = conn_open(c);
	expect_open(c, k);
	conn_close(k);

	/* a server that answers there: not taken over */
	assert_int_equal(tartan_control_new(c->loop, c->path, handler, c, &second), -EADDRINUSE);
	assert_null(second);
	k = conn_open(c);
	expect_open(c, k);
	conn_close(k);

	/* not a socket: left alone */
	snprintf(file, sizeof(file), "%s/regular", c->dir);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(tartan_control_new(c->loop, file, handler, c, &second), -EEXIST);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	/* a path that does not fit sun_path */
	{
		char long_path[200];

		memset(long_path, 'a', sizeof(long_path) - 1);
		long_path[0] = '/';
		long_path[sizeof(long_path) - 1] = '\0';
		assert_int_equal(tartan_control_new(c->loop, long_path, handler, c, &second),
				 -ENAMETOOLONG);
	}

	/* a successor's socket at our path is not unlinked by our free */
	assert_int_equal(unlink(c->path), 0);
	assert_int_equal(tartan_control_new(c->loop, c->path, handler, c, &second), 0);
	tartan_control_free(c->ctl);
	c->ctl = second;
	assert_int_equal(lstat(c->path, &st), 0);
	k = conn_open(c);
	expect_open(c, k);
	conn_close(k);
}

static void test_free_closes_clients(void **state)
{
	struct ctx *c = *state;
	struct conn *a, *b;

	need_root();
	a = conn_open(c);
	b = conn_open(c);
	expect_open(c, a);
	conn_send_str(c, b, "{\"command\":\"sta");
	pump(c, 0.02);
	tartan_control_free(c->ctl);
	c->ctl = NULL;
	expect_closed(c, a, 1);
	expect_closed(c, b, 1);
	assert_int_equal(access(c->path, F_OK), -1);
	conn_close(a);
	conn_close(b);
}

static void test_idle_timeout(void **state)
{
	struct ctx *c = *state;
	struct conn *loris, *busy;
	double start;

	need_root();
	tartan_control_set_idle_timeout(c->ctl, 0.3);
	loris = conn_open(c);
	busy = conn_open(c);
	start = now();
	/* one byte every 50 ms never completes a line: closed at 0.3 s */
	conn_send_str(c, loris, "{");
	while (now() - start < 0.6 && !loris->eof && !loris->err) {
		(void)conn_send(c, loris, " ", 1);
		/* a client that completes lines keeps its connection */
		expect_open(c, busy);
		pump(c, 0.05);
		(void)conn_fill(loris);
	}
	expect_closed(c, loris, 1);
	{
		double took = now() - start;

		if (took < 0.25 || took > 1.5)
			fail_msg("slow client closed after %.2f s, expected about 0.3 s", took);
	}
	expect_open(c, busy);
	/* and an idle client goes too */
	start = now();
	expect_closed(c, busy, 2);
	assert_true(now() - start >= 0.2);
	conn_close(loris);
	conn_close(busy);
}

static void test_max_clients(void **state)
{
	struct ctx *c = *state;
	struct conn *k[TARTAN_CONTROL_CLIENTS_MAX], *extra;

	need_root();
	for (int i = 0; i < TARTAN_CONTROL_CLIENTS_MAX; i++) {
		k[i] = conn_open(c);
		expect_open(c, k[i]);
	}
	extra = conn_open(c);
	expect_line(c, extra, "{\"ok\":false,\"error\":\"too many clients, try again later\"}");
	expect_closed(c, extra, 2);
	conn_close(extra);

	/* a slot that frees up is usable again */
	conn_close(k[0]);
	pump(c, 0.02);
	k[0] = conn_open(c);
	expect_open(c, k[0]);
	for (int i = 0; i < TARTAN_CONTROL_CLIENTS_MAX; i++) {
		expect_open(c, k[i]);
		conn_close(k[i]);
	}
}

static void test_output_limit(void **state)
{
	struct ctx *c = *state;
	const size_t n_req = 80; /* 80 answers of 40 kB: 3.2 MB, far beyond 1 MiB */
	size_t answers = 0;
	struct conn *k;
	char *line;

	need_root();
	/* one at a time, each answer read: all served */
	k = conn_open(c);
	for (size_t i = 0; i < n_req; i++) {
		conn_send_str(c, k, "{\"command\":\"big\"}\n");
		line = conn_line(c, k, 5);
		assert_non_null(line);
		/* {"ok":true,"result":{"data":"xxx..."}} */
		assert_int_equal(strlen(line), BIG_LEN + 32);
		free(line);
	}
	conn_close(k);

	/* all at once, reading nothing while the server answers: closed */
	k = conn_open(c);
	for (size_t i = 0; i < n_req; i++)
		conn_send_str(c, k, "{\"command\":\"big\"}\n");
	pump(c, 0.3);
	while ((line = conn_line(c, k, 2))) {
		answers++;
		free(line);
	}
	if (answers >= n_req || (!k->eof && k->err != -ECONNRESET))
		fail_msg(
			"a client that does not read: expected it closed before %zu answers, it got "
			"%zu and the stream %s",
			n_req, answers, k->eof ? "ended" : "is open");
	/* it got what the socket buffer held; the 1 MiB behind it was dropped */
	assert_true(answers >= 1);
	conn_close(k);

	/* the server is fine */
	k = conn_open(c);
	expect_open(c, k);
	conn_close(k);
}

static void test_parse_request(void **state)
{
	json_t *req = NULL;
	const char *command = NULL;
	char *error = NULL;
	const char *good = "{\"command\":\"leases\",\"verbose\":true}\r";

	assert_int_equal(tartan_control_parse_request(good, strlen(good), &req, &command, &error),
			 0);
	assert_string_equal(command, "leases");
	assert_true(json_is_true(json_object_get(req, "verbose")));
	assert_null(error);
	json_decref(req);

	/* errors: out-params untouched, a message when asked for */
	req = NULL;
	command = NULL;
	assert_int_equal(tartan_control_parse_request("", 0, &req, &command, &error), -EBADMSG);
	assert_non_null(error);
	assert_true(strncmp(error, "invalid JSON: ", 14) == 0);
	free(error);
	error = NULL;
	assert_int_equal(
		tartan_control_parse_request("{\"command\":\"a\"}\0", 16, &req, &command, NULL),
		-EBADMSG);
	assert_int_equal(tartan_control_parse_request("[]", 2, &req, &command, &error), -EINVAL);
	assert_string_equal(error, "request is not a JSON object");
	free(error);
	error = NULL;
	assert_int_equal(
		tartan_control_parse_request("{\"command\":true}", 16, &req, &command, &error),
		-EINVAL);
	assert_string_equal(error, "request has no \"command\" string");
	free(error);
	error = NULL;
	assert_int_equal(tartan_control_parse_request("{}", TARTAN_CONTROL_LINE_MAX + 1, &req,
						      &command, &error),
			 -EMSGSIZE);
	assert_string_equal(error, "request line longer than 65536 bytes");
	free(error);
	assert_null(req);
	assert_null(command);
}

static void expect_answer(int error, json_t *result, const char *message, const char *expected)
{
	char *line = NULL;
	size_t len = 0;

	assert_int_equal(tartan_control_format_answer(error, result, message, &line, &len), 0);
	if (strcmp(line, expected) != 0)
		print_error("answer:\n  expected %s  got      %s", expected, line);
	assert_string_equal(line, expected);
	assert_int_equal(len, strlen(expected));
	free(line);
}

static void test_format_answer(void **state)
{
	json_t *result = json_pack("{s:s,s:[i,n]}", "text", "two\nlines\x01", "list", 1);

	assert_non_null(result);
	expect_answer(
		0, result, NULL,
		"{\"ok\":true,\"result\":{\"text\":\"two\\nlines\\u0001\",\"list\":[1,null]}}\n");
	/* the caller keeps its reference */
	assert_int_equal(result->refcount, 1);
	json_decref(result);
	expect_answer(0, NULL, NULL, "{\"ok\":true,\"result\":{}}\n");
	expect_answer(-ENOENT, NULL, NULL,
		      "{\"ok\":false,\"error\":\"No such file or directory\"}\n");
	expect_answer(-EINVAL, NULL, "tab\there", "{\"ok\":false,\"error\":\"tab\\there\"}\n");
	expect_answer(-EINVAL, NULL, "caf\xc3\xa9", "{\"ok\":false,\"error\":\"caf\xc3\xa9\"}\n");
	expect_answer(-EINVAL, NULL, "caf\xc3", "{\"ok\":false,\"error\":\"caf?\"}\n");
	/* a result that cannot be encoded (here a cycle) is the daemon's bug,
	 * told to the client as an error rather than as a broken line */
	{
		json_t *a = json_object(), *b = json_object();

		assert_int_equal(json_object_set(a, "b", b), 0);
		assert_int_equal(json_object_set(b, "a", a), 0);
		expect_answer(0, a, NULL,
			      "{\"ok\":false,\"error\":\"internal error: the result cannot be "
			      "encoded\"}\n");
		assert_int_equal(json_object_del(b, "a"), 0); /* break the cycle to free it */
		json_decref(a);
		json_decref(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_request),
		cmocka_unit_test(test_format_answer),
		cmocka_unit_test_setup_teardown(test_good_command, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_handler_errors, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_bad_json, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_missing_command, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_not_object, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_line, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_two_requests_one_write, setup_server,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_request, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_half_close, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_socket_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_root_refused, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_live_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_closes_clients, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_max_clients, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_output_limit, setup_server, teardown),
	};

	/* a client that hangs up must not kill the test with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
