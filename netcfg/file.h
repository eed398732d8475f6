/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files tartan owns (subnet.env, CNI confs, IPAM state): atomic writes that
 * leave either the old or the new content behind, never a mix, even across a
 * crash or a power cut, and bounded reads.
 *
 * A write goes to a hidden temp file in the same directory
 * (".NAME.tmp-RANDOM": a dot name and no ".conf" ending, so a runtime that
 * scans a CNI conf dir never picks it up), is fsync'ed, renamed over the
 * target and the directory is fsync'ed, so the rename itself is durable. A
 * symlink at the target is replaced by the file, not followed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/*
 * Creates the missing directories above path (not path itself), each with
 * exactly mode (the umask does not apply: readers such as the CNI runtimes
 * must find them whatever the daemon's umask). Existing ones are left as they
 * are. -ENOTDIR when a component exists and is no directory.
 */
_tartan_wur_ int tartan_file_mkdir_parents(const char *path, mode_t mode);

/*
 * Makes path hold exactly data (len bytes) with permission bits exactly mode
 * (07777 at most; the umask does not apply), creating missing parent
 * directories with 0755. When the file already holds these bytes with this
 * mode, nothing is written and *ret_changed is false, so consumers that watch
 * the file see no event and its mtime stays. Otherwise *ret_changed is true.
 * On error -errno, and no temp file is left behind; the old file is intact
 * unless the error came after the rename (the fsync of the directory).
 * ret_changed may be NULL.
 */
_tartan_wur_ int tartan_file_write_atomic(const char *path, const void *data, size_t len,
					  mode_t mode, bool *ret_changed);

/*
 * As tartan_file_write_atomic(), without the two fsyncs (each costs milliseconds):
 * for files that are only hints, where a power cut may bring back the old
 * content or leave none, but a crashed process never leaves a torn one
 * (host-local's last_reserved_ip.0, labels for operators).
 */
_tartan_wur_ int tartan_file_write_hint(const char *path, const void *data, size_t len,
					mode_t mode);

/*
 * Reads the whole file, at most max bytes: -EFBIG when it holds more. *ret is
 * NUL-terminated (not counted in *ret_len) for the convenience of text
 * parsers; the content may itself hold NULs. -ENOENT and other open errors
 * pass through.
 */
_tartan_wur_ int tartan_file_read(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * Writes data to an existing file in place, without creating, truncating or
 * renaming: for kernel settings under /proc/sys and /sys, which are not
 * ordinary files. -ENOENT when it does not exist; a short write is -EIO.
 */
_tartan_wur_ int tartan_file_write_in_place(const char *path, const void *data, size_t len);

/* All len bytes to fd, through short writes and EINTR; -errno, -EIO for a write of 0. */
_tartan_wur_ int tartan_file_write_all(int fd, const void *data, size_t len);
