/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Desired files: the files tartand writes for others to read (subnet.env, the CNI confs)
 * hold what tartand last set, whoever touches them, as a route does.
 *
 * Each file's directory is watched with inotify. A file deleted, replaced, edited or
 * chmod'ed, or its directory removed or moved away, is written again (directories made
 * again) after a pause of TARTAN_FILES_SETTLE_S that gathers the events of one change;
 * every file is checked at every resync as well, for what inotify cannot report. Only the
 * files' own names count: other files in those directories (a runtime's cni.lock, other
 * networks' confs) are never written, and changes to them start nothing. A write that
 * finds the content and mode in place touches nothing (netcfg/file.h), so tartand's own
 * writes, which the watch reports too, end there.
 *
 * A file declared skipped belongs to the operator: never written, never watched.
 * Before its first content is set a file is "pending", and nothing is written; a content
 * set stays the desired one until the next set (no set ever removes a file).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ev.h>
#include <jansson.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

#define TARTAN_FILES_MAX 8
#define TARTAN_FILES_SETTLE_S 0.1

struct tartan_files;

/* The files are checked every resync_s seconds (1 at least). */
_tartan_wur_ int tartan_files_new(struct ev_loop *loop, unsigned resync_s,
				  struct tartan_files **ret);
void tartan_files_free(struct tartan_files *f);

/*
 * Declares a file: kind names it in logs and status ("conflist"), path is absolute and not
 * a directory, mode its permission bits. -EEXIST for a kind declared already, -ENOSPC past
 * TARTAN_FILES_MAX, -EINVAL for a bad path.
 */
_tartan_wur_ int tartan_files_add(struct tartan_files *f, const char *kind, const char *path,
				  mode_t mode, bool skip);

/*
 * The file of kind holds data (len bytes) from now on: written at once when the file on
 * disk differs (*ret_changed true), and kept so. A skipped file: 0, nothing written.
 * -ENOENT for an undeclared kind, -ENOMEM. A failed write is still 0 (the content is held):
 * it is logged, shown as "error" (tartan_files_error()) and retried at the next change in
 * the directory and every resync. ret_changed may be NULL.
 */
_tartan_wur_ int tartan_files_set(struct tartan_files *f, const char *kind, const void *data,
				  size_t len, bool *ret_changed);

/*
 * NULL when no file's last write failed, else "PATH: reason" of the first that did (held by
 * f until its next call): runtimes cannot read what they need from this node.
 */
const char *tartan_files_error(struct tartan_files *f);

/* Checks every file now, as a resync does (SIGHUP). */
void tartan_files_check(struct tartan_files *f);

/* The path of kind, NULL when undeclared. */
const char *tartan_files_path(const struct tartan_files *f, const char *kind);

/*
 * The files for status: [{"kind", "path", "state", "restored", "error"}, ...] in the order
 * declared; "state" is "ok", "pending" (no content yet), "skipped" or "error" (the last
 * write failed; "error" says why, else null); "restored" counts the times the file was
 * found deleted or changed and written again.
 */
_tartan_wur_ int tartan_files_json(const struct tartan_files *f, json_t **ret);
