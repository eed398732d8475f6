/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pending DEL: the record the tartan plugin leaves when tartand cannot be
 * reached for a DEL (not running, not answering), so that no DEL is lost: the
 * plugin answers success at once, and tartand applies the record (as a DEL)
 * before it serves other requests.
 *
 * One file per attachment in the pending-DEL directory (conf "pendingDelDir",
 * tartand's <state-dir>/pending-del), named by TARTAN_CNI_PENDING_NAME of
 * "containerID/ifName", holding one JSON object:
 *   {"containerID":"...","ifName":"eth0","netns":"/run/netns/x","args":"K=V;...",
 *    "cniVersion":"1.0.0","config":{STDIN OBJECT}}
 * netns and args only when the runtime gave them. The plugin writes it
 * atomically (temp file named ".*", fsync, rename, fsync of the directory); a
 * second DEL of the same attachment replaces it.
 *
 * Pure: buffers in, structs out; the plugin and the fuzzer call it directly.
 */
#pragma once

#include <stddef.h>

#include <jansson.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* the largest record either side writes or reads */
#define TARTAN_CNI_PENDING_MAX (1024 * 1024 + 4096)
/* 16 hex digits, ".json" and the NUL */
#define TARTAN_CNI_PENDING_NAME_SIZE 22

/* The file name of the record of (id, ifname): a 64-bit FNV-1a of "id/ifname", in hex,
 * and ".json". */
void tartan_cni_pending_name(const char *id, const char *ifname,
			     char ret[TARTAN_CNI_PENDING_NAME_SIZE]);

/* A record read back; every string is owned by the record. */
struct tartan_cni_pending {
	char *id, *ifname;
	char *netns, *args; /* NULL when absent */
	char *cni_version;
	json_t *config; /* an object */
};

/*
 * The record in buf (len bytes), read from the file named name (its last path component):
 * a JSON object with a valid containerID ([a-zA-Z0-9][a-zA-Z0-9_.-]*) and ifName (1..15
 * bytes of printable ASCII but ' ', '/' and ':'; not "." or ".."), optional netns (an
 * absolute path) and args strings, a cniVersion string and a config object, named by
 * tartan_cni_pending_name() of its attachment. 0 and *ret; -EINVAL and *ret_reason (a
 * static string saying what is wrong) when it is not one; -ENOMEM.
 */
_tartan_wur_ int tartan_cni_pending_parse(const char *name, const char *buf, size_t len,
					  struct tartan_cni_pending **ret, const char **ret_reason);
void tartan_cni_pending_free(struct tartan_cni_pending *p);
