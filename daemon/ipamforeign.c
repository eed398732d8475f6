/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ipamforeign.h"

/* the addresses of the subnet held in other host-local stores, sorted */
struct tartan_ipamforeign {
	uint32_t *a;
	size_t n, cap;
};

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

bool tartan_ipamforeign_has(const struct tartan_ipamforeign *f, uint32_t addr)
{
	return f && f->n > 0 && bsearch(&addr, f->a, f->n, sizeof(*f->a), u32_cmp);
}

void tartan_ipamforeign_free(struct tartan_ipamforeign *f)
{
	if (!f)
		return;
	free(f->a);
	free(f);
}

/* The address names of one network directory that lie in the subnet, into f. */
static int foreign_scan_one(const struct tartan_ip4_net *subnet, int dfd,
			    struct tartan_ipamforeign *f)
{
	struct dirent *de;
	DIR *d = fdopendir(dfd);
	int r = 0;

	if (!d) {
		r = -errno;
		close(dfd);
		return r;
	}
	for (;;) {
		uint32_t addr;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (tartan_ip4_addr_parse(de->d_name, strlen(de->d_name), &addr) < 0 ||
		    !tartan_ip4_net_contains(subnet, addr))
			continue;
		if (f->n == f->cap) {
			size_t cap = f->cap ? 2 * f->cap : 64;
			uint32_t *na = realloc(f->a, cap * sizeof(*na));

			if (!na) {
				r = -ENOMEM;
				break;
			}
			f->a = na;
			f->cap = cap;
		}
		f->a[f->n++] = addr;
	}
	closedir(d);
	return r;
}

/*
 * Reads every network directory under the foreign root but our own (by
 * device and inode), without their locks: a name host-local links in while
 * we read is not seen, as with any store we do not share a lock with; the
 * names already there (the pods of the flannel era) are what matters.
 * A missing root or a network directory gone meanwhile is no error.
 */
static int foreign_scan(const char *root, const struct stat *own,
			const struct tartan_ip4_net *subnet, struct tartan_ipamforeign *f)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		struct stat st;
		int fd;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue;
			r = -errno;
			break;
		}
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			break;
		}
		if (st.st_dev == own->st_dev && st.st_ino == own->st_ino) {
			close(fd);
			continue;
		}
		r = foreign_scan_one(subnet, fd, f);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int tartan_ipamforeign_scan(const char *root, int own_dfd, const struct tartan_ip4_net *subnet,
			    struct tartan_ipamforeign **ret)
{
	struct tartan_ipamforeign *f;
	struct stat own;
	int r;

	if (!root) {
		*ret = NULL;
		return 0;
	}
	if (fstat(own_dfd, &own) < 0)
		return -errno;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	r = foreign_scan(root, &own, subnet, f);
	if (r < 0) {
		tartan_ipamforeign_free(f);
		return r;
	}
	if (f->n > 1)
		qsort(f->a, f->n, sizeof(*f->a), u32_cmp);
	*ret = f;
	return 0;
}
