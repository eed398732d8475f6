/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client side of tartand's control socket (daemon/control.h), shared by
 * tartanctl and the tartan CNI plugin: connect within a timeout, send a
 * request line, read one answer line, all against one monotonic deadline.
 * Blocking in the caller's thread (both are short-lived programs).
 */
#pragma once

#include <stddef.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* CLOCK_MONOTONIC in seconds: deadlines are now + timeout */
double tartan_client_now(void);

/*
 * Connects to the unix socket path; the socket is non-blocking afterwards. A
 * unix connect() waits only when the daemon's listen backlog is full, for as
 * long as SO_SNDTIMEO (timeout) allows, and then fails with EAGAIN. -errno:
 * ENOENT and ECONNREFUSED when no daemon listens there, ENAMETOOLONG when
 * path does not fit sun_path.
 */
_tartan_wur_ int tartan_client_connect(const char *path, double timeout, int *ret_fd);

/* All of data, or -ETIMEDOUT at the deadline, or -errno (EPIPE: the daemon hung up). */
_tartan_wur_ int tartan_client_send_all(int fd, const char *data, size_t len, double deadline);

/* As tartan_client_send_all(), with pass_fd (-1: none) sent along with the first bytes
 * (SCM_RIGHTS), as tartand's control socket takes a request's fd. */
_tartan_wur_ int tartan_client_send_with_fd(int fd, const char *data, size_t len, int pass_fd,
					    double deadline);

/*
 * One line, '\n' included, into *ret_line (malloc'ed; *ret_len counts up to
 * the '\n'), holding at most max bytes: -EMSGSIZE beyond; -ECONNRESET when the
 * daemon hung up before a whole line; -ETIMEDOUT at the deadline.
 */
_tartan_wur_ int tartan_client_read_line(int fd, double deadline, size_t max, char **ret_line,
					 size_t *ret_len);
