/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartanctl's side of the control protocol (daemon/control.h): one answer
 * line in, text for the terminal out.
 *
 * The answer comes from a socket, so nothing here trusts it: unknown fields
 * are ignored, a field of the wrong type prints as "-", and every string is
 * escaped (bytes outside printable ASCII as \xNN) so that nothing the daemon
 * relays from etcd or from a CNI runtime can reach the terminal as a control
 * sequence. Pure
 * functions on buffers: no I/O, so unit tests and the fuzzer call them.
 */
#pragma once

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* the longest answer tartanctl reads: 5,000 leases take about 1 MB */
#define TARTAN_CTL_ANSWER_MAX (64 * 1024 * 1024)

/*
 * One answer line (its '\n' may be there or not). {"ok":true,"result":{...}}:
 * 0, *ret_result a new reference to the result object, *ret_error NULL.
 * {"ok":false,"error":"..."}: 0, *ret_result NULL, *ret_error the escaped
 * message (malloc'ed; "no message" when the daemon gave none). Anything
 * else: -EBADMSG; -ENOMEM.
 */
_tartan_wur_ int tartan_ctl_answer_parse(const char *line, size_t len, json_t **ret_result,
					 char **ret_error);

/*
 * Text for `tartanctl status` (malloc'ed, ends in '\n'): one "Label: value"
 * line per field. now is the wall clock, for "(in 3h 2m)" after the lease
 * expiry. Then, when the result has a non-empty "files" array, "Files:" and
 * one line per file: "  PATH  STATE", paths padded to one width, STATE "ok",
 * "restored N times" (state "ok", restored > 0), "skipped", "pending" or
 * "error: WHY".
 */
_tartan_wur_ int tartan_ctl_render_status(json_t *result, time_t now, char **ret_text);

/*
 * Text for `tartanctl leases`: a table with the header line
 * "SUBNET  PUBLIC-IP  BACKEND  EXPIRES  OWN", columns as wide as their
 * widest cell, two spaces between them; EXPIRES is UTC
 * ("2023-11-14T22:13:20Z"), "never" for a reservation (null), "-" when
 * unknown. -EBADMSG when the result has no
 * "leases" array.
 */
_tartan_wur_ int tartan_ctl_render_leases(json_t *result, char **ret_text);

/*
 * Text for `tartanctl pods`: a table with the header line
 * "ADDRESS  POD  CONTAINER  IFNAME  HOST-IF  NOTE", laid out as the leases'
 * one (no blanks at the end of a line). POD is "namespace/name" from the
 * optional "namespace" and "name" (a missing part "-"), "-" when neither is
 * known; CONTAINER the first 12 bytes of "containerID"; NOTE "outside subnet"
 * when "inSubnet" is false (an address the node's subnet does not hand out:
 * the subnet changed, or a file made by hand), empty when true, "-" when
 * unknown. Missing, empty or mistyped strings are "-". -EBADMSG when the
 * result has no "pods" array.
 */
_tartan_wur_ int tartan_ctl_render_pods(json_t *result, char **ret_text);

/*
 * Text for `tartanctl routes`: the table "DESTINATION  GATEWAY  DEV  ONLINK  STATE  KERNEL"
 * (STATE ok, missing, different, extra; KERNEL what the kernel has instead of a
 * "different" route), then, when the answer has them (vxlan), the tables of the device's
 * neighbours ("IP  MAC  STATE  KERNEL") and FDB entries ("MAC  DST  STATE  KERNEL"), and a
 * last line: "No drift: ..." or "Drift: N of M entries differ ...". A result with
 * "active": false is one line saying that tartand keeps no routes. -EBADMSG when the
 * result has no "routes" array.
 */
_tartan_wur_ int tartan_ctl_render_routes(json_t *result, char **ret_text);

/* For --json: the value indented, ASCII only (non-ASCII as \uXXXX), with '\n'. */
_tartan_wur_ int tartan_ctl_render_json(json_t *value, char **ret_text);

/* s with every byte outside printable ASCII written as \xNN (malloc'ed). */
_tartan_wur_ int tartan_ctl_escape(const char *s, size_t len, char **ret);
