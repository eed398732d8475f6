/* SPDX-License-Identifier: Apache-2.0 */
/*
 * systemd's service notification (sd_notify(3)) without libsystemd: one
 * datagram to the unix socket named by $NOTIFY_SOCKET, a path or, starting
 * with '@', an abstract name. Used for Type=notify: "READY=1" once tartand is
 * ready (as /readyz), "STOPPING=1" when it stops cleanly.
 */
#pragma once

/* Sends state ("READY=1", ...). 0 when sent, 1 when $NOTIFY_SOCKET is unset or empty (not
 * under systemd: nothing to do), -errno when the name is invalid or sending fails. */
int tartan_notify(const char *state);
