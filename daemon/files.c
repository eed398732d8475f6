/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/files.h"
#include "daemon/log.h"
#include "netcfg/file.h"

/* what a change to one of our names looks like, and the directory itself going away */
#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM |          \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define DIR_GONE (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)
/* one "written again" line per file and minute; the count is in status */
#define RESTORE_LOG_INTERVAL_US (60ull * 1000000)

struct dir {
	char *path;
	int wd;	   /* -1: not watched */
	dev_t dev; /* of the directory the watch is on */
	ino_t ino;
	int warned; /* the -errno last said about watching it, 0: none */
};

struct entry {
	char *kind, *path;
	const char *name; /* the last component of path */
	size_t dir;	  /* in dirs[] */
	mode_t mode;
	bool skip;
	bool has_data;
	bool written; /* our content was on disk once: a difference since is someone else's */
	char *data;
	size_t len;
	unsigned restored;
	int error; /* the last write's -errno, 0 when it worked */
	struct tartan_ratelimit rl;
};

struct tartan_files {
	struct ev_loop *loop;
	int fd; /* inotify; -1 when there is none: resyncs only */
	ev_io io;
	ev_timer settle, resync;
	struct entry entries[TARTAN_FILES_MAX];
	size_t n;
	struct dir dirs[TARTAN_FILES_MAX];
	size_t n_dirs;
	char error[PATH_MAX + 64]; /* tartan_files_error() */
};

static struct entry *entry_find(const struct tartan_files *f, const char *kind)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->entries[i].kind, kind) == 0)
			return (struct entry *)&f->entries[i];
	return NULL;
}

static void dir_unwatch(struct tartan_files *f, int wd)
{
	if (wd < 0)
		return;
	/* two paths to one directory share the watch */
	for (size_t i = 0; i < f->n_dirs; i++)
		if (f->dirs[i].wd == wd)
			f->dirs[i].wd = -1;
	(void)inotify_rm_watch(f->fd, wd);
}

/* The directory exists and is watched: made again when it was removed, watched again when
 * the one watched is no longer at its path (moved away, or an ancestor moved). */
static void dir_watch(struct tartan_files *f, struct dir *d, const char *file)
{
	struct stat st;
	int err = 0, wd;

	if (f->fd < 0)
		return;
	if (stat(d->path, &st) == 0 && d->wd >= 0 && st.st_dev == d->dev && st.st_ino == d->ino)
		return;
	dir_unwatch(f, d->wd);
	err = tartan_file_mkdir_parents(file, 0755);
	if (err >= 0) {
		wd = inotify_add_watch(f->fd, d->path, WATCH_MASK);
		if (wd < 0 || stat(d->path, &st) < 0)
			err = -errno;
		if (wd >= 0 && err < 0)
			dir_unwatch(f, wd);
	}
	if (err < 0) {
		if (err != d->warned)
			tartan_log_errno(TARTAN_LOG_WARNING, -err,
					 "watching %s: %m; its files are checked at every resync "
					 "only, retrying",
					 d->path);
		d->warned = err;
		return;
	}
	if (d->warned)
		tartan_log_info("watching %s again", d->path);
	d->warned = 0;
	d->wd = wd;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
}

static void entry_failed(struct entry *e, int err, unsigned resync_s)
{
	if (err != e->error)
		tartan_log_errno(TARTAN_LOG_ERROR, -err,
				 "writing %s: %m; retrying at the next change and every %u s",
				 e->path, resync_s);
	e->error = err;
}

/* The file holds e's content: written when it differs. restoring: a difference is someone
 * else's doing, counted and said (a set with new content is not). */
static int entry_sync(struct tartan_files *f, struct entry *e, bool restoring, bool *ret_changed)
{
	unsigned resync_s = (unsigned)f->resync.repeat;
	bool changed = false, existed, failed;
	struct stat st;
	int err;

	if (e->skip || !e->has_data)
		return 0;
	dir_watch(f, &f->dirs[e->dir], e->path);
	existed = lstat(e->path, &st) == 0;
	err = tartan_file_write_atomic(e->path, e->data, e->len, e->mode, &changed);
	if (err < 0) {
		entry_failed(e, err, resync_s);
		return err;
	}
	failed = e->error != 0;
	e->error = 0;
	if (changed && restoring && e->written) {
		e->restored++;
		tartan_log_ratelimited(
			&e->rl, (uint64_t)(ev_now(f->loop) * 1e6), TARTAN_LOG_WARNING,
			"%s was %s by someone else; written again (%u times so far; "
			"--skip-files=%s leaves it to you)",
			e->path, existed ? "changed" : "deleted", e->restored, e->kind);
	} else if (failed) {
		tartan_log_info("%s written after the failure", e->path);
	} else if (changed) {
		tartan_log_info("wrote %s", e->path);
	}
	e->written = true;
	if (ret_changed)
		*ret_changed = changed;
	return 0;
}

void tartan_files_check(struct tartan_files *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		(void)entry_sync(f, &f->entries[i], true, NULL);
}

/* true when the event is about one of our files or a watched directory itself */
static bool event_relevant(struct tartan_files *f, const struct inotify_event *ev)
{
	bool relevant = false;

	if (ev->mask & IN_Q_OVERFLOW)
		return true; /* events were lost: check everything */
	for (size_t i = 0; i < f->n_dirs; i++) {
		if (f->dirs[i].wd != ev->wd)
			continue;
		if (ev->mask & DIR_GONE) {
			/* a moved directory keeps its watch, which no longer sees our path */
			dir_unwatch(f, ev->wd);
			return true;
		}
		for (size_t k = 0; k < f->n && ev->len; k++)
			relevant |= f->entries[k].dir == i && !f->entries[k].skip &&
				    strcmp(f->entries[k].name, ev->name) == 0;
	}
	return relevant;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tartan_files *f = w->data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;

	(void)revents;
	for (;;) {
		ssize_t n = read(f->fd, buf, sizeof(buf));
		const char *p = buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EAGAIN: all read */
		while (p + sizeof(struct inotify_event) <= buf + n) {
			const struct inotify_event *ev = (const void *)p;

			relevant |= event_relevant(f, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	/* one check for the events of one change (an editor's write, rename and chmod) */
	if (relevant && !ev_is_active(&f->settle)) {
		ev_timer_set(&f->settle, TARTAN_FILES_SETTLE_S, 0.);
		ev_timer_start(loop, &f->settle);
	}
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	tartan_files_check(w->data);
}

int tartan_files_new(struct ev_loop *loop, unsigned resync_s, struct tartan_files **ret)
{
	struct tartan_files *f;

	if (!loop || !ret)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->loop = loop;
	f->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->fd < 0)
		tartan_log_errno(TARTAN_LOG_WARNING, errno,
				 "inotify: %m; the files tartand writes are checked at every "
				 "resync only");
	ev_io_init(&f->io, io_cb, f->fd, EV_READ);
	f->io.data = f;
	if (f->fd >= 0)
		ev_io_start(loop, &f->io);
	ev_timer_init(&f->settle, timer_cb, TARTAN_FILES_SETTLE_S, 0.);
	f->settle.data = f;
	ev_timer_init(&f->resync, timer_cb, resync_s ? resync_s : 1, resync_s ? resync_s : 1);
	f->resync.data = f;
	ev_timer_start(loop, &f->resync);
	*ret = f;
	return 0;
}

void tartan_files_free(struct tartan_files *f)
{
	if (!f)
		return;
	ev_io_stop(f->loop, &f->io);
	ev_timer_stop(f->loop, &f->settle);
	ev_timer_stop(f->loop, &f->resync);
	if (f->fd >= 0)
		close(f->fd);
	for (size_t i = 0; i < f->n; i++) {
		free(f->entries[i].kind);
		free(f->entries[i].path);
		free(f->entries[i].data);
	}
	for (size_t i = 0; i < f->n_dirs; i++)
		free(f->dirs[i].path);
	free(f);
}

/* the index in dirs[] of path's directory, added when new */
static int dir_index(struct tartan_files *f, const char *path, const char *name, size_t *ret)
{
	size_t len = name - 1 > path ? (size_t)(name - 1 - path) : 1; /* "/x": "/" */
	char *dir;

	for (size_t i = 0; i < f->n_dirs; i++)
		if (strlen(f->dirs[i].path) == len && strncmp(f->dirs[i].path, path, len) == 0) {
			*ret = i;
			return 0;
		}
	dir = strndup(path, len);
	if (!dir)
		return -ENOMEM;
	f->dirs[f->n_dirs] = (struct dir){ .path = dir, .wd = -1 };
	*ret = f->n_dirs++;
	return 0;
}

int tartan_files_add(struct tartan_files *f, const char *kind, const char *path, mode_t mode,
		     bool skip)
{
	const char *name;
	struct entry e = {
		.mode = mode,
		.skip = skip,
		.rl = TARTAN_RATELIMIT_INIT(RESTORE_LOG_INTERVAL_US, 1),
	};
	int err;

	if (!f || !kind || !path || path[0] != '/' || (mode & ~(mode_t)07777))
		return -EINVAL;
	name = strrchr(path, '/') + 1;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (entry_find(f, kind))
		return -EEXIST;
	if (f->n == TARTAN_FILES_MAX)
		return -ENOSPC;
	e.kind = strdup(kind);
	e.path = strdup(path);
	if (!e.kind || !e.path) {
		err = -ENOMEM;
		goto fail;
	}
	e.name = e.path + (name - path);
	err = dir_index(f, e.path, e.name, &e.dir);
	if (err < 0)
		goto fail;
	f->entries[f->n++] = e;
	return 0;
fail:
	free(e.kind);
	free(e.path);
	return err;
}

int tartan_files_set(struct tartan_files *f, const char *kind, const void *data, size_t len,
		     bool *ret_changed)
{
	struct entry *e = f && kind ? entry_find(f, kind) : NULL;
	bool same;
	char *copy;

	if (!e)
		return f && kind ? -ENOENT : -EINVAL;
	if (!data && len)
		return -EINVAL;
	if (ret_changed)
		*ret_changed = false;
	if (e->skip)
		return 0;
	same = e->has_data && e->len == len && (len == 0 || memcmp(e->data, data, len) == 0);
	if (!same) {
		copy = malloc(len ? len : 1);
		if (!copy)
			return -ENOMEM;
		if (len)
			memcpy(copy, data, len);
		free(e->data);
		e->data = copy;
		e->len = len;
		e->has_data = true;
	}
	/* the same content again (SIGHUP, a lease renewed): a check like a resync's; a failed
	 * write is the file's state, retried */
	(void)entry_sync(f, e, same, ret_changed);
	return 0;
}

const char *tartan_files_error(struct tartan_files *f)
{
	for (size_t i = 0; f && i < f->n; i++)
		if (f->entries[i].error && !f->entries[i].skip) {
			snprintf(f->error, sizeof(f->error), "%s: %s", f->entries[i].path,
				 strerror(-f->entries[i].error));
			return f->error;
		}
	return NULL;
}

const char *tartan_files_path(const struct tartan_files *f, const char *kind)
{
	const struct entry *e = f && kind ? entry_find(f, kind) : NULL;

	return e ? e->path : NULL;
}

static json_t *entry_json(const struct entry *e)
{
	const char *state = e->skip	? "skipped" :
			    e->error	? "error" :
			    e->has_data ? "ok" :
					  "pending";

	return json_pack("{s:s, s:s, s:s, s:I, s:o}", "kind", e->kind, "path", e->path, "state",
			 state, "restored", (json_int_t)e->restored, "error",
			 e->error && !e->skip ? json_string(strerror(-e->error)) : json_null());
}

int tartan_files_json(const struct tartan_files *f, json_t **ret)
{
	json_t *list;

	if (!f || !ret)
		return -EINVAL;
	list = json_array();
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++)
		if (json_array_append_new(list, entry_json(&f->entries[i])) < 0) {
			json_decref(list);
			return -ENOMEM;
		}
	*ret = list;
	return 0;
}
