/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netcfg/file.h"

/* the temp name keeps at most this much of the target's name, so that
 * ".NAME.tmp-" plus 16 hex digits stays under NAME_MAX (255) */
#define TMP_BASE_MAX 200

int tartan_file_mkdir_parents(const char *path, mode_t mode)
{
	char *p = NULL;
	struct stat st;
	int r = 0;

	if (!path || !*path || (mode & ~(mode_t)07777))
		return -EINVAL;
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	/* each prefix that ends just before a '/', outermost first */
	for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		if (slash[-1] == '/')
			continue; /* "a//b": the prefix was done already */
		*slash = '\0';
		if (mkdir(p, mode) == 0) {
			/* mkdir applied the umask; the contract is the exact mode */
			if (chmod(p, mode) < 0) {
				r = -errno;
				goto out;
			}
		} else if (errno == EEXIST) {
			/* stat follows a symlink to a directory, which serves as well */
			if (stat(p, &st) < 0) {
				r = -errno;
				goto out;
			}
			if (!S_ISDIR(st.st_mode)) {
				r = -ENOTDIR;
				goto out;
			}
		} else {
			r = -errno;
			goto out;
		}
		*slash = '/';
	}
out:
	free(p);
	return r;
}

/* 1 when path is a regular file with exactly these bytes and permission bits, else 0 */
static int file_has_content(const char *path, const void *data, size_t len, mode_t mode)
{
	const unsigned char *want = data;
	unsigned char buf[16384];
	size_t done = 0;
	struct stat st;
	int fd, same = 0;

	/* O_NOFOLLOW: a symlink is replaced by the rename, so it never counts as
	 * "the same"; O_NONBLOCK: a FIFO planted at path must not hang the daemon */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode ||
	    (uint64_t)st.st_size != (uint64_t)len)
		goto out;
	for (;;) {
		size_t want_n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		ssize_t n;

		/* one byte more than expected at the end proves the file grew meanwhile */
		if (want_n == 0)
			want_n = 1;
		n = read(fd, buf, want_n);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if ((size_t)n > len - done || memcmp(buf, want + done, (size_t)n) != 0)
			goto out;
		done += (size_t)n;
	}
	same = done == len;
out:
	close(fd);
	return same;
}

int tartan_file_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 16 hex digits; O_EXCL makes the name safe, randomness only avoids retries */
static void random_suffix(char out[static 17])
{
	static unsigned counter;
	uint64_t v;

	/* GRND_NONBLOCK: at early boot the pool may not be ready, and a daemon
	 * writing its first subnet.env must not wait for it */
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
		    ((uint64_t)getpid() << 32) ^ (uint64_t)++counter * 0x9e3779b97f4a7c15ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)v);
}

/* "dir" and "base" of path; dir "." for a bare name, "/" for "/name" */
static int split_path(const char *path, char **ret_dir, const char **ret_base)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	*ret_dir = dir;
	*ret_base = slash ? slash + 1 : path;
	return 0;
}

static int write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			bool durable, bool *ret_changed)
{
	char *dir = NULL, tmp[TMP_BASE_MAX + 32];
	const char *base;
	bool tmp_exists = false;
	int dfd = -1, fd = -1, r;

	if (!path || !*path || (mode & ~(mode_t)07777) || (!data && len > 0))
		return -EINVAL;
	r = split_path(path, &dir, &base);
	if (r < 0)
		return r;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		r = -EISDIR;
		goto out;
	}

	if (file_has_content(path, data, len, mode)) {
		if (ret_changed)
			*ret_changed = false;
		r = 0;
		goto out;
	}

	/* everything below is relative to one directory fd, so the temp file,
	 * the rename and the fsync act on the same directory even if a
	 * component of the path is renamed meanwhile */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		r = tartan_file_mkdir_parents(path, 0755);
		if (r < 0)
			goto out;
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd < 0) {
		r = -errno;
		goto out;
	}

	for (unsigned attempt = 0;; attempt++) {
		char suffix[17];

		random_suffix(suffix);
		snprintf(tmp, sizeof(tmp), ".%.*s.tmp-%s", TMP_BASE_MAX, base, suffix);
		/* 0600 while incomplete; the final mode is set on the fd below */
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || attempt >= 16) {
			r = -errno;
			goto out;
		}
	}
	tmp_exists = true;

	r = tartan_file_write_all(fd, data, len);
	if (r < 0)
		goto out;
	/* fchmod ignores the umask, which openat's mode did not */
	if (fchmod(fd, mode) < 0 || (durable && fsync(fd) < 0)) {
		r = -errno;
		goto out;
	}
	/* close reports delayed write errors on some file systems (NFS) */
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = -errno;
		goto out;
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		r = -errno;
		goto out;
	}
	tmp_exists = false;
	/* without this, a crash can lose the rename and bring the old file back */
	if (durable && fsync(dfd) < 0) {
		r = -errno;
		goto out;
	}
	if (ret_changed)
		*ret_changed = true;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp_exists)
		(void)unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return r;
}

int tartan_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			     bool *ret_changed)
{
	return write_atomic(path, data, len, mode, true, ret_changed);
}

int tartan_file_write_hint(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, false, NULL);
}

int tartan_file_read(const char *path, size_t max, char **ret, size_t *ret_len)
{
	size_t cap, total = 0;
	char *buf = NULL;
	struct stat st;
	int fd, r;

	if (!path || !ret)
		return -EINVAL;
	/* so that max + 1 (the NUL) cannot overflow */
	if (max > (size_t)SSIZE_MAX)
		max = (size_t)SSIZE_MAX;
	/* O_NONBLOCK: a FIFO planted at path must not hang the daemon */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > (uint64_t)max) {
		r = -EFBIG;
		goto out;
	}
	/* st_size is a hint: the file may change while we read, and files in
	 * /proc say 0; the loop trusts only what read() returns */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (total == cap - 1) {
			size_t ncap;
			char *nbuf;

			if (total == max) {
				char probe;

				/* full: one more byte means the file is too big */
				do
					n = read(fd, &probe, 1);
				while (n < 0 && errno == EINTR);
				if (n < 0) {
					r = -errno;
					goto out;
				}
				if (n > 0) {
					r = -EFBIG;
					goto out;
				}
				break;
			}
			ncap = total < 4096 ? 4096 : total * 2;
			if (ncap > max)
				ncap = max;
			ncap++;
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				r = -ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + total, cap - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		total += (size_t)n;
	}
	buf[total] = '\0';
	*ret = buf;
	buf = NULL;
	if (ret_len)
		*ret_len = total;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int tartan_file_write_in_place(const char *path, const void *data, size_t len)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* a kernel setting takes the value in one write; a partial one is an error */
	n = write(fd, data, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	if (close(fd) < 0 && err >= 0)
		err = -errno;
	return err;
}
