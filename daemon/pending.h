/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pending-DEL directory (cni/pending.h): the DELs the tartan plugin could not hand to
 * tartand, one record per attachment. This module finds and reads them; pods.c applies each
 * as a DEL. A record applied is unlinked; one that is not a record (does not parse, names
 * no valid attachment, is not a regular file) is logged with the reason and moved aside as
 * NAME.bad, never applied, never a crash; one whose DEL failed stays for the next try.
 * Names starting with '.' are the plugin's temp files (left by a plugin killed mid-write:
 * removed after a minute).
 */
#pragma once

#include <stdbool.h>

#include "cni/pending.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

struct tartan_pending;

_tartan_wur_ int tartan_pending_new(const char *dir, struct tartan_pending **ret);
void tartan_pending_free(struct tartan_pending *pd);
const char *tartan_pending_dir(const struct tartan_pending *pd);

/* Whether the directory may hold records not looked at yet: its mtime, ctime or inode
 * changed since the last tartan_pending_apply_all() (a stat; a change within the last two
 * seconds counts as one, file system clocks being coarse). */
bool tartan_pending_changed(struct tartan_pending *pd);

/* Applies one record (path: its file, for messages): 0 done (the file is removed),
 * -EINVAL not a record to apply (moved aside), other -errno: failed, kept for a later try. */
typedef int (*tartan_pending_apply_fn)(const struct tartan_cni_pending *rec, const char *path,
				       void *userdata);

/* Every record, in name order. Returns how many were applied, or -errno when the directory
 * cannot be read (none at all: 0). */
int tartan_pending_apply_all(struct tartan_pending *pd, tartan_pending_apply_fn apply,
			     void *userdata);

/* The record of (id, ifname) alone, if there is one: 1 applied, 0 none (or not a record:
 * moved aside), -EAGAIN there and kept (unreadable, or its DEL failed), other -errno. */
int tartan_pending_apply_one(struct tartan_pending *pd, const char *id, const char *ifname,
			     tartan_pending_apply_fn apply, void *userdata);
