/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod records under <state-dir>/pods: one small JSON file per attachment made through
 * tartan ({"containerID","ifName","namespace","name"}), named by a hash of "id/ifname". A
 * record marks the attachment's address as tartan's (the IPAM store is shared with the rkt
 * conf's host-local, whose pods a tartan GC must not touch) and keeps the pod's names from
 * CNI_ARGS for tartanctl: host-local's layout has no room for them. Also the names derived
 * from an attachment: its host end's, and the pod's label for log lines. Files and names
 * only: no netlink, no IPAM.
 */
#pragma once

#include <jansson.h>
#include <net/if.h>
#include <stddef.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* Kubernetes names are at most 253 bytes (DNS subdomains); anything else in CNI_ARGS is
 * not ours to keep */
#define TARTAN_PODRECORDS_NAME_MAX 253
/* tartan_podrecords_label()'s "namespace/name" and its NUL */
#define TARTAN_PODRECORDS_LABEL_MAX (2 * TARTAN_PODRECORDS_NAME_MAX + 2)

struct tartan_podrecords;

/* The records in <state_dir>/pods (created by the first write). */
_tartan_wur_ int tartan_podrecords_new(const char *state_dir, struct tartan_podrecords **ret);
void tartan_podrecords_free(struct tartan_podrecords *rec);

/* Writes the record of (id, ifname), with the pod's names from args (CNI_ARGS, NULL: none).
 * Best effort, a failure logged. */
void tartan_podrecords_write(struct tartan_podrecords *rec, const char *id, const char *ifname,
			     const char *args);

/* Removes the record of (id, ifname); none is fine, a failure logged. */
void tartan_podrecords_remove(struct tartan_podrecords *rec, const char *id, const char *ifname);

/* The record of (id, ifname) (its "namespace" and "name" when the runtime gave them), or
 * NULL when there is none. */
json_t *tartan_podrecords_read(struct tartan_podrecords *rec, const char *id, const char *ifname);

/* Called for each record by tartan_podrecords_foreach(): its attachment (borrowed); a
 * negative return stops the walk and is returned. */
typedef int (*tartan_podrecords_fn)(const char *id, const char *ifname, void *userdata);

/* Every record in the folder; anything else there is left alone, an unreadable record
 * skipped. 0 (also when the folder cannot be opened), -ENOMEM, or fn's error. */
int tartan_podrecords_foreach(struct tartan_podrecords *rec, tartan_podrecords_fn fn,
			      void *userdata);

/* The host end's name of the attachment (id, ifname). */
void tartan_podrecords_host_ifname(const char *id, const char *ifname, char ret[IF_NAMESIZE]);

/* The pod's "namespace/name" (or "name") from args (CNI_ARGS, NULL: none), else "-". */
void tartan_podrecords_label(const char *args, char *buf, size_t size);
