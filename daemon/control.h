/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartand's control socket: a unix stream socket (default
 * /run/tartan/tartand.sock, mode 0600) served on the daemon's libev loop.
 *
 * Protocol: newline-delimited JSON. Each request is one line holding an
 * object {"command":"NAME", ...}; each answer is one line, in request order:
 *   {"ok":true,"result":{...}}   or   {"ok":false,"error":"message"}
 * A line may end in "\r\n"; empty lines are ignored. Requests may be
 * pipelined (several in one write) or split over several writes.
 *
 * A request may carry one file descriptor (SCM_RIGHTS; the CNI plugin sends
 * the pod's network namespace, opened in the runtime's mount namespace): sent
 * with the first bytes of its line, as the connection's first line or after
 * the answers to the lines before it (the kernel may join the bytes of two
 * writes in one read; the fd goes with the line in progress when it arrives).
 * The handler borrows it; it is closed once the request is answered, so no
 * namespace is pinned by the daemon. A line that came with more than one fd
 * gets an error and none of them; fds that come with no request (an empty
 * line, a client that hangs up) are closed.
 *
 * Only root may talk to the daemon: the socket file is 0600, and every peer
 * is checked again with SO_PEERCRED (a socket passed on, or a mode changed by
 * hand, must not open the daemon up): a peer whose uid is not 0 gets one
 * error line and is closed.
 *
 * Limits, so that no client can hurt the daemon or the loop:
 *  - a request line holds at most TARTAN_CONTROL_LINE_MAX bytes; a longer one
 *    gets an error line and the connection is closed;
 *  - at most TARTAN_CONTROL_CLIENTS_MAX clients at once; one more gets an
 *    error line and is closed at once;
 *  - a client that completes no line for 10 s (idle, or a slow-loris that
 *    trickles bytes) is closed;
 *  - answers are written without blocking from a per-client buffer; a client
 *    that does not read and lets more than TARTAN_CONTROL_OUTPUT_MAX bytes pile
 *    up is closed.
 */
#pragma once

#include <stddef.h>

#include <jansson.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

#define TARTAN_CONTROL_LINE_MAX (64 * 1024)
#define TARTAN_CONTROL_CLIENTS_MAX 64
#define TARTAN_CONTROL_OUTPUT_MAX (1024 * 1024)
#define TARTAN_CONTROL_IDLE_TIMEOUT 10.0 /* seconds */

struct ev_loop;
struct tartan_control;

/*
 * Answers one request, synchronously, on the loop. command is the request's
 * "command" (a non-empty string), request the whole object (borrowed, for
 * further fields), fd the file descriptor that came with it (borrowed; -1 when
 * none: the server closes it after the answer). Returns 0 and sets *ret_result to a new reference (an
 * object; NULL answers {}), or -errno and may set *ret_error to a malloc'ed
 * message (none: strerror of the code). Unknown commands are the handler's to
 * refuse. The handler must not free the control server; ev_break() is fine.
 */
typedef int (*tartan_control_handler_fn)(const char *command, json_t *request, int fd,
					 json_t **ret_result, char **ret_error, void *userdata);

/*
 * Creates the missing parent directories of path (0755) and listens on path.
 * A socket file left at path by a daemon that is gone is replaced; if a
 * server still answers there, -EADDRINUSE; if path is not a socket, -EEXIST
 * and it is left alone. -ENAMETOOLONG when path does not fit sun_path.
 */
_tartan_wur_ int tartan_control_new(struct ev_loop *loop, const char *path,
				    tartan_control_handler_fn handler, void *userdata,
				    struct tartan_control **ret);

/* Closes every client and the socket, and unlinks the socket file if it is
 * still ours (not replaced by another daemon meanwhile). NULL is fine. */
void tartan_control_free(struct tartan_control *c);

/* The idle timeout (default TARTAN_CONTROL_IDLE_TIMEOUT); for tests. Applies
 * to clients accepted from now on. */
void tartan_control_set_idle_timeout(struct tartan_control *c, double seconds);

/*
 * Parses one request line (without its '\n'; a trailing '\r' is fine) of len
 * bytes. On success *ret_request is a new reference to the object and
 * *ret_command points into it. On failure *ret_error (if not NULL) is a
 * malloc'ed message for the client: -EMSGSIZE (longer than
 * TARTAN_CONTROL_LINE_MAX), -EBADMSG (not JSON: syntax, invalid UTF-8,
 * \u0000, duplicate keys, trailing data), -EINVAL (not an object, or no
 * non-empty string "command"), -ENOMEM. Pure: no I/O.
 */
_tartan_wur_ int tartan_control_parse_request(const char *line, size_t len, json_t **ret_request,
					      const char **ret_command, char **ret_error);

/*
 * Encodes an answer line, '\n' included: {"ok":true,"result":RESULT} when
 * error is 0 (result NULL: {}), else {"ok":false,"error":MESSAGE}, with
 * message (NULL: strerror(-error)) made valid UTF-8 if it is not. Exposed
 * for the fuzzer and tests.
 */
_tartan_wur_ int tartan_control_format_answer(int error, json_t *result, const char *message,
					      char **ret_line, size_t *ret_len);
