/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/pending.h"
#include "netcfg/file.h"

/* a temp file older than this was left by a plugin that died while writing it */
#define TEMP_MAX_AGE 60
/* changes closer to now than this may hide another one within the same clock tick */
#define RECENT_S 2

struct tartan_pending {
	char *dir;
	bool scanned; /* the directory as it was at the start of the last full scan: */
	bool absent;
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
};

int tartan_pending_new(const char *dir, struct tartan_pending **ret)
{
	struct tartan_pending *pd = calloc(1, sizeof(*pd));

	if (!pd)
		return -ENOMEM;
	pd->dir = strdup(dir);
	if (!pd->dir) {
		free(pd);
		return -ENOMEM;
	}
	*ret = pd;
	return 0;
}

void tartan_pending_free(struct tartan_pending *pd)
{
	if (!pd)
		return;
	free(pd->dir);
	free(pd);
}

const char *tartan_pending_dir(const struct tartan_pending *pd)
{
	return pd->dir;
}

static bool ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool tartan_pending_changed(struct tartan_pending *pd)
{
	struct stat st;
	time_t now = time(NULL);

	if (!pd->scanned)
		return true;
	if (stat(pd->dir, &st) < 0)
		return !pd->absent;
	return pd->absent || st.st_dev != pd->dev || st.st_ino != pd->ino ||
	       !ts_equal(&st.st_mtim, &pd->mtime) || !ts_equal(&st.st_ctim, &pd->ctime) ||
	       st.st_mtim.tv_sec + RECENT_S >= now;
}

/* what the directory looks like now, before it is read */
static void snapshot(struct tartan_pending *pd)
{
	struct stat st;

	pd->scanned = true;
	pd->absent = stat(pd->dir, &st) < 0;
	if (pd->absent)
		return;
	pd->dev = st.st_dev;
	pd->ino = st.st_ino;
	pd->mtime = st.st_mtim;
	pd->ctime = st.st_ctim;
}

static void move_aside(const char *path, const char *reason)
{
	char *bad = NULL;

	if (asprintf(&bad, "%s.bad", path) < 0 || rename(path, bad) < 0) {
		tartan_log_errno(TARTAN_LOG_WARNING, errno,
				 "pending DEL %s: %s; cannot move it aside: %m", path, reason);
		/* without a rename it would come back at every scan: remove it */
		if (unlink(path) < 0 && errno != ENOENT)
			tartan_log_errno(TARTAN_LOG_WARNING, errno, "removing %s: %m", path);
	} else {
		tartan_log_warning("pending DEL %s: %s; moved aside to %s, not applied", path,
				   reason, bad);
	}
	free(bad);
}

/* The file's content, when it is a regular file of at most TARTAN_CNI_PENDING_MAX bytes. */
static int read_record(const char *path, char **ret, size_t *ret_len, const char **ret_reason)
{
	struct stat st;
	int err;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		*ret_reason = "not a regular file";
		return -EINVAL;
	}
	err = tartan_file_read(path, TARTAN_CNI_PENDING_MAX, ret, ret_len);
	if (err == -EFBIG) {
		*ret_reason = "longer than a record can be";
		return -EINVAL;
	}
	return err;
}

/* 1 applied, 0 gone or kept, -ENOMEM */
static int apply_file(struct tartan_pending *pd, const char *name, tartan_pending_apply_fn apply,
		      void *userdata)
{
	struct tartan_cni_pending *rec = NULL;
	const char *reason = NULL;
	char *path = NULL, *buf = NULL;
	size_t len = 0;
	int err;

	if (asprintf(&path, "%s/%s", pd->dir, name) < 0)
		return -ENOMEM;
	err = read_record(path, &buf, &len, &reason);
	if (err >= 0)
		err = tartan_cni_pending_parse(name, buf, len, &rec, &reason);
	free(buf);
	if (err == -ENOENT || err == -ENOMEM) {
		free(path);
		return err == -ENOMEM ? err : 0;
	}
	if (err == -EINVAL) {
		move_aside(path, reason);
		free(path);
		return 0;
	}
	if (err < 0) {
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "pending DEL %s: %m; kept", path);
		free(path);
		return -EAGAIN;
	}
	err = apply(rec, path, userdata);
	if (err == -EINVAL)
		move_aside(path, "its attachment cannot be one of tartan's");
	else if (err >= 0 && unlink(path) < 0 && errno != ENOENT)
		tartan_log_errno(TARTAN_LOG_WARNING, errno, "removing %s: %m", path);
	tartan_cni_pending_free(rec);
	free(path);
	if (err >= 0)
		return 1;
	return err == -ENOMEM ? err : err == -EINVAL ? 0 : -EAGAIN;
}

static void remove_stale_temp(struct tartan_pending *pd, const char *name)
{
	char *path = NULL;
	struct stat st;
	size_t len = strlen(name);

	if (len < 5 || strcmp(name + len - 4, ".tmp") != 0 ||
	    asprintf(&path, "%s/%s", pd->dir, name) < 0)
		return;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_mtime + TEMP_MAX_AGE < time(NULL) && unlink(path) == 0)
		tartan_log_info("pending DEL: removed %s, left by a plugin that stopped mid-write",
				path);
	free(path);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int tartan_pending_apply_all(struct tartan_pending *pd, tartan_pending_apply_fn apply,
			     void *userdata)
{
	struct dirent **list = NULL;
	int n, applied = 0, err = 0;

	snapshot(pd);
	n = scandir(pd->dir, &list, NULL, by_name);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		size_t len = strlen(name);

		if (name[0] == '.')
			remove_stale_temp(pd, name);
		else if (err >= 0 && !(len > 4 && strcmp(name + len - 4, ".bad") == 0))
			err = apply_file(pd, name, apply, userdata);
		applied += err > 0;
		/* a record kept for a later try does not hold up the others */
		err = err > 0 || err == -EAGAIN ? 0 : err;
		free(list[i]);
	}
	free(list);
	return err < 0 ? err : applied;
}

int tartan_pending_apply_one(struct tartan_pending *pd, const char *id, const char *ifname,
			     tartan_pending_apply_fn apply, void *userdata)
{
	char name[TARTAN_CNI_PENDING_NAME_SIZE];

	tartan_cni_pending_name(id, ifname, name);
	return apply_file(pd, name, apply, userdata);
}
