/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/control.h"
#include "daemon/log.h"
#include "netcfg/file.h"

/* a line, an optional '\r' and the '\n' */
#define IN_MAX (TARTAN_CONTROL_LINE_MAX + 2)
/* accepts per wake-up, so a connect storm cannot starve the loop */
#define ACCEPT_BATCH 16
/* after EMFILE and friends: the listening socket stays readable, so stop
 * watching it for a moment instead of spinning */
#define ACCEPT_BACKOFF 1.0
/* fds taken from one read: one is all a request may carry, the rest tell "too many" */
#define CONTROL_FDS_MAX 4

struct client {
	struct tartan_control *ctl;
	struct client *prev, *next;
	int fd;
	unsigned events; /* what io is started with, 0 when stopped */
	ev_io io;
	ev_timer idle;

	char *in;
	size_t in_len, in_cap;
	/* the fd that came with the line in progress (-1: none), and whether more than one did */
	int line_fd;
	bool line_fds_extra;

	char *out;
	size_t out_off, out_len, out_cap; /* pending: out[out_off .. out_len) */

	bool closing; /* read no more; close once the output is written */
	bool dead;    /* close now, drop the output */
};

struct tartan_control {
	struct ev_loop *loop;
	char *path;
	int fd;
	bool bound; /* path is our socket: unlink it at the end */
	dev_t dev;  /* and which file it is, so we never unlink a successor's */
	ino_t ino;
	ev_io accept_io;
	ev_timer backoff;
	bool watchers_init;

	tartan_control_handler_fn handler;
	void *userdata;
	double idle_timeout;

	struct client *clients;
	unsigned n_clients;

	struct tartan_ratelimit refuse_rl;
	struct tartan_ratelimit accept_rl;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* A copy of s that is valid UTF-8 and has no control characters: bytes that
 * are not printable ASCII become '?'. Good enough for messages that may hold
 * bits of a client's input (jansson quotes the text near a syntax error). */
static char *sanitize(const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return copy;
}

static int set_error(char **ret_error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_error(char **ret_error, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	if (!ret_error)
		return 0;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	*ret_error = msg;
	return 0;
}

int tartan_control_parse_request(const char *line, size_t len, json_t **ret_request,
				 const char **ret_command, char **ret_error)
{
	json_error_t jerr;
	json_t *req, *cmd;
	char *text;
	int r;

	if ((!line && len > 0) || !ret_request || !ret_command)
		return -EINVAL;
	if (len > TARTAN_CONTROL_LINE_MAX) {
		r = set_error(ret_error, "request line longer than %d bytes",
			      TARTAN_CONTROL_LINE_MAX);
		return r < 0 ? r : -EMSGSIZE;
	}
	/* duplicate keys are refused: two "command"s would be read differently
	 * by different JSON parsers, and we answer only unambiguous requests;
	 * DECODE_ANY, so that "42" is told "not an object" rather than "invalid" */
	req = json_loadb(line ? line : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!req) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		text = sanitize(jerr.text);
		if (!text)
			return -ENOMEM;
		r = set_error(ret_error, "invalid JSON: %s (at byte %d)", text, jerr.position);
		free(text);
		return r < 0 ? r : -EBADMSG;
	}
	if (!json_is_object(req)) {
		r = set_error(ret_error, "request is not a JSON object");
		goto fail;
	}
	cmd = json_object_get(req, "command");
	if (!json_is_string(cmd) || json_string_length(cmd) == 0) {
		r = set_error(ret_error, "request has no \"command\" string");
		goto fail;
	}
	*ret_request = req;
	*ret_command = json_string_value(cmd);
	return 0;
fail:
	json_decref(req);
	return r < 0 ? r : -EINVAL;
}

/* JSON_COMPACT escapes control characters, so the answer is one line */
static char *dump_answer(json_t *answer, size_t *ret_len)
{
	char *s = json_dumps(answer, JSON_COMPACT);
	size_t n;
	char *line;

	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*ret_len = n + 1;
	return line;
}

static char *error_answer(const char *message, size_t *ret_len)
{
	json_t *answer, *msg;
	char *clean = NULL, *line;

	msg = json_string(message);
	if (!msg) {
		/* json_string() refuses invalid UTF-8 */
		clean = sanitize(message);
		if (!clean)
			return NULL;
		msg = json_string(clean);
		free(clean);
		if (!msg)
			return NULL;
	}
	answer = json_object();
	/* json_object_set_new() takes msg even when it fails */
	if (!answer || json_object_set_new(answer, "ok", json_false()) < 0 ||
	    json_object_set_new(answer, "error", msg) < 0) {
		if (!answer)
			json_decref(msg);
		json_decref(answer);
		return NULL;
	}
	line = dump_answer(answer, ret_len);
	json_decref(answer);
	return line;
}

int tartan_control_format_answer(int error, json_t *result, const char *message, char **ret_line,
				 size_t *ret_len)
{
	json_t *answer;
	char *line = NULL;
	size_t len = 0;

	if (!ret_line || !ret_len)
		return -EINVAL;
	if (error >= 0) {
		json_t *value = result ? json_incref(result) : json_object();

		answer = json_object();
		/* json_object_set_new() takes value even when it fails */
		if (!answer || !value || json_object_set_new(answer, "ok", json_true()) < 0 ||
		    json_object_set_new(answer, "result", value) < 0) {
			if (!answer)
				json_decref(value);
			json_decref(answer);
			return -ENOMEM;
		}
		line = dump_answer(answer, &len);
		json_decref(answer);
		/* a result that does not encode (a cycle, a NaN real) is the
		 * daemon's bug: the client gets an error, not a broken line */
		if (!line)
			line = error_answer("internal error: the result cannot be encoded", &len);
	} else {
		line = error_answer(message ? message : strerror(-error), &len);
	}
	if (!line)
		return -ENOMEM;
	*ret_line = line;
	*ret_len = len;
	return 0;
}

static void client_free(struct client *cl)
{
	struct tartan_control *c;

	if (!cl)
		return;
	c = cl->ctl;
	if (cl->events)
		ev_io_stop(c->loop, &cl->io);
	ev_timer_stop(c->loop, &cl->idle);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->n_clients--;
	if (cl->line_fd >= 0)
		close(cl->line_fd);
	close(cl->fd);
	free(cl->in);
	free(cl->out);
	free(cl);
}

static size_t client_pending(const struct client *cl)
{
	return cl->out_len - cl->out_off;
}

/* writes what the socket takes now; -errno when the client is gone */
static int client_flush(struct client *cl)
{
	while (client_pending(cl) > 0) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, client_pending(cl),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return -errno;
		cl->out_off += (size_t)n;
	}
	if (cl->out_off == cl->out_len)
		cl->out_off = cl->out_len = 0;
	return 0;
}

static void client_queue(struct client *cl, const char *data, size_t len)
{
	/* flush first, so that what stays pending is what the client did not read */
	if (client_pending(cl) > 0 && client_flush(cl) < 0) {
		cl->dead = true;
		return;
	}
	if (client_pending(cl) > TARTAN_CONTROL_OUTPUT_MAX) {
		tartan_log_debug("control: client does not read its answers, closing it");
		cl->dead = true;
		return;
	}
	if (cl->out_off > 0 && cl->out_len + len > cl->out_cap) {
		memmove(cl->out, cl->out + cl->out_off, client_pending(cl));
		cl->out_len -= cl->out_off;
		cl->out_off = 0;
	}
	if (cl->out_len + len > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		char *n;

		while (cap < cl->out_len + len)
			cap *= 2;
		n = realloc(cl->out, cap);
		if (!n) {
			cl->dead = true;
			return;
		}
		cl->out = n;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, data, len);
	cl->out_len += len;
}

static void client_answer(struct client *cl, int error, json_t *result, const char *message)
{
	char *line;
	size_t len;

	if (tartan_control_format_answer(error, result, message, &line, &len) < 0) {
		cl->dead = true;
		return;
	}
	client_queue(cl, line, len);
	free(line);
}

/* the fd that came with the line being handled, now the caller's; the next line has none */
static int client_take_fd(struct client *cl, bool *ret_extra)
{
	int fd = cl->line_fd;

	*ret_extra = cl->line_fds_extra;
	cl->line_fd = -1;
	cl->line_fds_extra = false;
	return fd;
}

static void client_handle_line(struct client *cl, const char *line, size_t len)
{
	struct tartan_control *c = cl->ctl;
	json_t *req = NULL, *result = NULL;
	const char *command;
	char *error = NULL;
	bool extra;
	int r, fd = client_take_fd(cl, &extra);

	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* blank lines (an operator pressing enter in socat) are not requests,
	 * and do not count as activity */
	if (len == 0)
		goto out;
	ev_timer_again(c->loop, &cl->idle);

	r = tartan_control_parse_request(line, len, &req, &command, &error);
	if (r == -EMSGSIZE)
		cl->closing = true;
	if (r >= 0 && extra) {
		json_decref(req);
		r = -EINVAL;
		error = strdup("more than one file descriptor came with the request");
	}
	if (r < 0) {
		client_answer(cl, r, NULL, error);
		free(error);
		goto out;
	}
	r = c->handler(command, req, fd, &result, &error, c->userdata);
	client_answer(cl, r < 0 ? r : 0, r < 0 ? NULL : result, error);
	json_decref(result);
	free(error);
	json_decref(req);
out:
	/* borrowed by the handler: an open namespace fd must not outlive the request */
	if (fd >= 0)
		close(fd);
}

/* no '\n' within the limit: answer and hang up, since the rest of the line
 * cannot be told apart from the next request */
static void client_oversize(struct client *cl)
{
	json_t *req = NULL;
	const char *command;
	char *error = NULL;
	bool extra;
	int r, fd = client_take_fd(cl, &extra);

	if (fd >= 0)
		close(fd);
	/* the parser words the error, so both paths say the same */
	r = tartan_control_parse_request(cl->in, TARTAN_CONTROL_LINE_MAX + 1, &req, &command,
					 &error);
	client_answer(cl, r < 0 ? r : -EMSGSIZE, NULL, error);
	free(error);
	json_decref(req);
	cl->closing = true;
}

/* handles the complete lines in the input buffer, keeps the rest */
static void client_process(struct client *cl, size_t scan_from, bool eof)
{
	size_t start = 0;
	char *nl;

	while (!cl->dead && !cl->closing &&
	       (nl = memchr(cl->in + scan_from, '\n', cl->in_len - scan_from))) {
		size_t end = (size_t)(nl - cl->in);

		client_handle_line(cl, cl->in + start, end - start);
		start = scan_from = end + 1;
	}
	if (cl->dead || cl->closing)
		return;
	if (eof) {
		/* the last request of `printf ... | socat` may lack its '\n' */
		if (start < cl->in_len)
			client_handle_line(cl, cl->in + start, cl->in_len - start);
		cl->in_len = 0;
		return;
	}
	if (start > 0) {
		memmove(cl->in, cl->in + start, cl->in_len - start);
		cl->in_len -= start;
	}
	if (cl->in_len >= IN_MAX)
		client_oversize(cl);
}

/* Keeps the first fd that came with the line in progress; closes every other one at once, so
 * a client cannot make the daemon hold more than one fd. */
static void client_keep_fds(struct client *cl, const int *fds, size_t n, bool truncated)
{
	for (size_t i = 0; i < n; i++) {
		if (cl->line_fd < 0 && !cl->line_fds_extra) {
			cl->line_fd = fds[i];
			continue;
		}
		close(fds[i]);
		cl->line_fds_extra = true;
	}
	/* MSG_CTRUNC: the kernel dropped the fds that did not fit */
	if (truncated)
		cl->line_fds_extra = true;
	if (cl->line_fds_extra && cl->line_fd >= 0) {
		close(cl->line_fd);
		cl->line_fd = -1;
	}
}

/*
 * read() that also takes the fds sent with the bytes (SCM_RIGHTS). They go with the line in
 * progress when the bytes arrive: a client sends an fd with the first bytes of its line. The
 * kernel ends a read after the bytes that carried fds, never merging two sets.
 */
static ssize_t client_recv(struct client *cl, char *buf, size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * CONTROL_FDS_MAX)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n = recvmsg(cl->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		int fds[CONTROL_FDS_MAX];
		size_t nfds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (nfds > CONTROL_FDS_MAX)
			nfds = CONTROL_FDS_MAX; /* cannot be: the buffer holds no more */
		memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
		client_keep_fds(cl, fds, nfds, false);
	}
	if (msg.msg_flags & MSG_CTRUNC)
		client_keep_fds(cl, NULL, 0, true);
	return n;
}

static void client_read(struct client *cl)
{
	size_t scan_from = cl->in_len;
	ssize_t n;

	if (cl->in_len >= IN_MAX) {
		/* client_process() never leaves a full buffer behind; be sure */
		client_oversize(cl);
		return;
	}
	if (cl->in_len == cl->in_cap) {
		size_t cap = cl->in_cap ? cl->in_cap * 2 : 4096;
		char *b;

		if (cap > IN_MAX)
			cap = IN_MAX;
		b = realloc(cl->in, cap);
		if (!b) {
			cl->dead = true;
			return;
		}
		cl->in = b;
		cl->in_cap = cap;
	}
	n = client_recv(cl, cl->in + cl->in_len, cl->in_cap - cl->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		cl->dead = true;
		return;
	}
	if (n == 0) {
		/* the client shut down its side; it may still read the answers */
		client_process(cl, scan_from, true);
		cl->closing = true;
		return;
	}
	cl->in_len += (size_t)n;
	client_process(cl, scan_from, false);
}

/* after any event: write, then close or adjust what the watcher waits for */
static void client_update(struct client *cl)
{
	struct tartan_control *c = cl->ctl;
	unsigned want;

	if (!cl->dead && client_flush(cl) < 0)
		cl->dead = true;
	if (cl->dead || (cl->closing && client_pending(cl) == 0)) {
		client_free(cl);
		return;
	}
	want = (cl->closing ? 0 : EV_READ) | (client_pending(cl) > 0 ? EV_WRITE : 0);
	if (want == cl->events)
		return;
	if (cl->events)
		ev_io_stop(c->loop, &cl->io);
	ev_io_set(&cl->io, cl->fd, (int)want);
	cl->events = want;
	if (want)
		ev_io_start(c->loop, &cl->io);
}

static void on_client_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *cl = w->data;

	if ((revents & EV_READ) && !cl->closing)
		client_read(cl);
	client_update(cl);
}

static void on_client_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *cl = w->data;

	tartan_log_debug("control: client completed no request for %.0f s, closing it",
			 cl->ctl->idle_timeout);
	client_free(cl);
}

/* one error line on a fresh socket (its buffer is empty, so it fits), then close */
static void refuse(int fd, const char *message)
{
	char *line;
	size_t len;

	if (tartan_control_format_answer(-EPERM, NULL, message, &line, &len) == 0) {
		(void)send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(line);
	}
	close(fd);
}

static int client_new(struct tartan_control *c, int fd)
{
	struct client *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return -ENOMEM;
	cl->ctl = c;
	cl->fd = fd;
	cl->line_fd = -1;
	ev_io_init(&cl->io, on_client_io, fd, EV_READ);
	cl->io.data = cl;
	ev_io_start(c->loop, &cl->io);
	cl->events = EV_READ;
	ev_init(&cl->idle, on_client_idle);
	cl->idle.repeat = c->idle_timeout;
	cl->idle.data = cl;
	ev_timer_again(c->loop, &cl->idle);
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	c->n_clients++;
	return 0;
}

static void on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tartan_control *c = w->data;

	ev_io_start(loop, &c->accept_io);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tartan_control *c = w->data;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct ucred cred;
		socklen_t cred_len = sizeof(cred);
		int fd;

		fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int e = errno;

			if (e == EAGAIN || e == EWOULDBLOCK)
				return;
			if (e == EINTR || e == ECONNABORTED)
				continue;
			/* out of fds or memory: keep the loop alive and retry later */
			if (tartan_ratelimit_ok(&c->accept_rl, now_usec()))
				(void)tartan_log_errno(
					TARTAN_LOG_WARNING, e,
					"control: accept on %s: %m, pausing for %.0f s", c->path,
					ACCEPT_BACKOFF);
			ev_io_stop(loop, &c->accept_io);
			ev_timer_set(&c->backoff, ACCEPT_BACKOFF, 0.);
			ev_timer_start(loop, &c->backoff);
			return;
		}
		/* the credentials of the process that connected, taken by the
		 * kernel at connect(): they cannot be forged by the client */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0) {
			refuse(fd, "permission denied: peer credentials unknown");
			continue;
		}
		if (cred.uid != 0) {
			if (tartan_ratelimit_ok(&c->refuse_rl, now_usec()))
				tartan_log_warning("control: refused uid %u (pid %d): root only, "
						   "ignoring",
						   (unsigned)cred.uid, (int)cred.pid);
			refuse(fd, "permission denied: the control socket is for root only");
			continue;
		}
		if (c->n_clients >= TARTAN_CONTROL_CLIENTS_MAX) {
			if (tartan_ratelimit_ok(&c->accept_rl, now_usec()))
				tartan_log_warning("control: %u clients already, refusing one more",
						   c->n_clients);
			refuse(fd, "too many clients, try again later");
			continue;
		}
		if (client_new(c, fd) < 0)
			close(fd);
	}
}

/* 0 when nothing (or only a dead socket) is at path any more */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* never unlink what is not a socket: a typo in --socket must not cost a file */
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a unix connect() never waits: it succeeds, or EAGAIN when the
	 * backlog is full (alive too), or ECONNREFUSED with nobody listening */
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (r == 0 || errno == EAGAIN) {
		r = -EADDRINUSE;
	} else if (errno == ECONNREFUSED) {
		r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	} else {
		r = -errno;
	}
	close(fd);
	return r;
}

int tartan_control_new(struct ev_loop *loop, const char *path, tartan_control_handler_fn handler,
		       void *userdata, struct tartan_control **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tartan_control *c = NULL;
	struct stat st;
	mode_t old_umask;
	int r;

	if (!loop || !path || !*path || !handler || !ret)
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->fd = -1;
	c->handler = handler;
	c->userdata = userdata;
	c->idle_timeout = TARTAN_CONTROL_IDLE_TIMEOUT;
	c->refuse_rl = TARTAN_RATELIMIT_INIT(10 * 1000000ULL, 5);
	c->accept_rl = TARTAN_RATELIMIT_INIT(10 * 1000000ULL, 5);
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto fail;
	}

	r = tartan_file_mkdir_parents(path, 0755);
	if (r < 0)
		goto fail;
	r = remove_stale_socket(path, &sa);
	if (r < 0)
		goto fail;

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		goto fail;
	}
	/* bind() creates the file with 0777 & ~umask: this umask gives 0600
	 * from the start, with no window in which others could connect. The
	 * daemon is single-threaded, so the process-wide umask is safe here. */
	old_umask = umask(0177);
	r = bind(c->fd, (const struct sockaddr *)&sa, sizeof(sa));
	if (r < 0)
		r = -errno;
	umask(old_umask);
	if (r < 0)
		goto fail;
	if (lstat(path, &st) < 0) {
		r = -errno;
		goto fail;
	}
	c->bound = true;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (listen(c->fd, SOMAXCONN) < 0) {
		r = -errno;
		goto fail;
	}

	ev_io_init(&c->accept_io, on_accept, c->fd, EV_READ);
	c->accept_io.data = c;
	ev_init(&c->backoff, on_backoff);
	c->backoff.data = c;
	c->watchers_init = true;
	ev_io_start(loop, &c->accept_io);
	*ret = c;
	return 0;
fail:
	tartan_control_free(c);
	return r;
}

void tartan_control_free(struct tartan_control *c)
{
	struct stat st;

	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	if (c->watchers_init) {
		ev_io_stop(c->loop, &c->accept_io);
		ev_timer_stop(c->loop, &c->backoff);
	}
	if (c->fd >= 0)
		close(c->fd);
	if (c->bound && lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		(void)unlink(c->path);
	free(c->path);
	free(c);
}

void tartan_control_set_idle_timeout(struct tartan_control *c, double seconds)
{
	if (c && seconds > 0)
		c->idle_timeout = seconds;
}
