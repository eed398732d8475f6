/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ipam.h"
#include "daemon/ipamforeign.h"
#include "netcfg/file.h"

/* host-local's names (backend/disk/backend.go, lock.go) */
#define LAST_RESERVED_NAME "last_reserved_ip.0"
#define LOCK_NAME "lock"
/* host-local writes "strings.TrimSpace(id) + LineBreak + ifname", LineBreak "\r\n" */
#define LINE_BREAK "\r\n"
/* os.OpenFile(..., 0644) in Reserve; the umask applies there, but an address
 * file must be readable by the operator's tools whatever tartand's umask is */
#define ADDR_FILE_MODE 0644
/* go-filemutex creates the lock file with 0750 (and the umask) */
#define LOCK_FILE_MODE 0750

/* our temp files; a dot name that no IP parser takes for an address, so
 * host-local (net.ParseIP of each name) never counts one as held */
#define TEMP_PREFIX ".tartan-ipam.tmp-"
/* tartan_file_write_atomic()'s temp files for last_reserved_ip.0 */
#define LAST_TEMP_PREFIX "." LAST_RESERVED_NAME ".tmp-"

struct tartan_ipam {
	char *dir;
	int dfd;
	int lock_fd;
	struct tartan_ip4_net subnet;
	uint32_t gateway;
	/* host-local's default RangeStart and RangeEnd: the network address + 1
	 * and the broadcast address - 1 */
	uint32_t first, last;
	unsigned lock_timeout_ms;
	unsigned temp_removed;
	/* allocate()'s last reading of the directory (see scan_cached) */
	struct tartan_ipam_entry *cache;
	size_t n_cache;
	bool cache_valid;
	struct timespec cache_mtime, cache_ctime;
	/* tartan_ipam_set_foreign_root(); NULL: none */
	char *foreign_root;
	/* waiting for tartan_ipam_sync(): new address files (open) and the directory */
	int unsynced[TARTAN_IPAM_UNSYNCED_MAX];
	size_t n_unsynced;
	bool dir_unsynced;
};

/* everything the directory held when it was read, under the lock */
struct scan {
	struct tartan_ipam_entry *e;
	size_t n, cap;
};

static void scan_done(struct scan *s)
{
	tartan_ipam_entries_free(s->e, s->n);
	*s = (struct scan){ 0 };
}

void tartan_ipam_entries_free(struct tartan_ipam_entry *entries, size_t n)
{
	for (size_t i = 0; entries && i < n; i++) {
		free(entries[i].id);
		free(entries[i].ifname);
	}
	free(entries);
}

/* Go's unicode.IsSpace for ASCII, as strings.TrimSpace uses it */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* printable ASCII other than the space: what a container id and a link name
 * may hold here (and what is safe to print in logs and JSON) */
static bool is_field_char(char c)
{
	return c > ' ' && c < 0x7f;
}

static bool field_is_valid(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_field_char(s[i]))
			return false;
	return true;
}

static bool ifname_is_valid(const char *s, size_t len)
{
	if (!field_is_valid(s, len, TARTAN_IPAM_IFNAME_MAX))
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return !memchr(s, '/', len) && !memchr(s, ':', len);
}

bool tartan_ipam_attachment_is_valid(const char *id, const char *ifname)
{
	if (!id || !ifname)
		return false;
	return field_is_valid(id, strlen(id), TARTAN_IPAM_ID_MAX) &&
	       ifname_is_valid(ifname, strlen(ifname));
}

int tartan_ipam_content_parse(const char *buf, size_t len, char **ret_id, char **ret_ifname)
{
	const char *id, *ifname = NULL, *end;
	size_t id_len, ifname_len = 0;
	char *id_copy = NULL, *ifname_copy = NULL;

	if ((!buf && len > 0) || len > TARTAN_IPAM_FILE_MAX)
		return -EBADMSG;
	/* strings.TrimSpace, as FindByID and ReleaseByID compare the content */
	id = buf;
	end = buf + len;
	while (id < end && is_space(*id))
		id++;
	while (end > id && is_space(end[-1]))
		end--;
	if (id == end)
		return -EBADMSG;

	id_len = (size_t)(end - id);
	for (const char *p = id; p + 1 < end; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			id_len = (size_t)(p - id);
			ifname = p + 2;
			ifname_len = (size_t)(end - ifname);
			break;
		}
	}
	if (!field_is_valid(id, id_len, TARTAN_IPAM_ID_MAX))
		return -EBADMSG;
	/* host-local validates the interface name it stores (skel's
	 * ValidateInterfaceName) by the same rules */
	if (ifname && !ifname_is_valid(ifname, ifname_len))
		return -EBADMSG;

	id_copy = strndup(id, id_len);
	if (!id_copy)
		return -ENOMEM;
	if (ifname) {
		ifname_copy = strndup(ifname, ifname_len);
		if (!ifname_copy) {
			free(id_copy);
			return -ENOMEM;
		}
	}
	*ret_id = id_copy;
	*ret_ifname = ifname_copy;
	return 0;
}

/* Can the subnet hand out addr? host-local's range minus the gateway. */
static bool addr_is_allocatable(const struct tartan_ipam *ipam, uint32_t addr)
{
	return addr >= ipam->first && addr <= ipam->last && addr != ipam->gateway;
}

static uint64_t now_msec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * flock(LOCK_EX) as host-local takes it (go-filemutex), but polled with
 * LOCK_NB: a blocking flock would hang the daemon's loop for as long as some
 * other process holds the lock. host-local holds it for a few milliseconds.
 */
static int lock_take_keep_cache(struct tartan_ipam *ipam)
{
	uint64_t deadline = now_msec() + ipam->lock_timeout_ms;
	long step_ns = 1000000;

	for (;;) {
		struct timespec ts;

		if (flock(ipam->lock_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (now_msec() >= deadline)
			return -EAGAIN;
		ts = (struct timespec){ .tv_sec = 0, .tv_nsec = step_ns };
		nanosleep(&ts, NULL);
		if (step_ns < 50000000)
			step_ns *= 2;
	}
}

/* The calls that change the directory (release, GC, ...) may do so within allocate()'s
 * clock tick (a release, then an ADD of the same attachment): they drop its cache. */
static int lock_take(struct tartan_ipam *ipam)
{
	ipam->cache_valid = false;
	return lock_take_keep_cache(ipam);
}

static void lock_drop(struct tartan_ipam *ipam)
{
	(void)flock(ipam->lock_fd, LOCK_UN);
}

/* Reads a small file in the store: at most max bytes, -EFBIG beyond. The
 * opened file must be a regular one (a FIFO must not hang us: O_NONBLOCK;
 * a symlink is not followed: -ELOOP). */
static int read_small(int dfd, const char *name, char *buf, size_t max, size_t *ret_len)
{
	size_t total = 0;
	struct stat st;
	int fd, r = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + total, max + 1 - total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > max) {
			r = -EFBIG;
			goto out;
		}
	}
	*ret_len = total;
out:
	close(fd);
	return r;
}

static int scan_push(struct scan *s, const struct tartan_ipam_entry *e)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 32;
		struct tartan_ipam_entry *ne = realloc(s->e, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		s->e = ne;
		s->cap = ncap;
	}
	s->e[s->n++] = *e;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct tartan_ipam_entry *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* One address file: its entry, BAD when it cannot be read or parsed. 1 when
 * it vanished meanwhile (someone not taking the lock), so there is none. */
static int scan_one(const struct tartan_ipam *ipam, const char *name, uint32_t addr,
		    struct tartan_ipam_entry *ret)
{
	char buf[TARTAN_IPAM_FILE_MAX + 1];
	struct tartan_ipam_entry e = { .addr = addr, .state = TARTAN_IPAM_BAD };
	size_t len;
	int r;

	r = read_small(ipam->dfd, name, buf, TARTAN_IPAM_FILE_MAX, &len);
	if (r == -ENOENT)
		return 1;
	/* out of resources is our problem, not the file's: no verdict on it */
	if (r == -ENOMEM || r == -EMFILE || r == -ENFILE)
		return r;
	if (r == 0) {
		r = tartan_ipam_content_parse(buf, len, &e.id, &e.ifname);
		if (r == -ENOMEM)
			return r;
		if (r == 0)
			e.state = addr_is_allocatable(ipam, addr) ? TARTAN_IPAM_HELD :
								    TARTAN_IPAM_OUTSIDE;
	}
	*ret = e;
	return 0;
}

/*
 * Reads every address file (names that are a dotted quad, as host-local's
 * net.IP.String() writes them) into s, ordered by address. Other names (the
 * lock, last_reserved_ip.*, IPv6 addresses of a dual-stack host-local
 * network, temp files) are not address files of ours and are skipped.
 * Called with the lock held.
 */
static int scan_dir(const struct tartan_ipam *ipam, struct scan *s)
{
	struct dirent *de;
	DIR *d = NULL;
	int fd, r = 0;

	*s = (struct scan){ 0 };
	fd = openat(ipam->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct tartan_ipam_entry e;
		uint32_t addr;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (tartan_ip4_addr_parse(de->d_name, strlen(de->d_name), &addr) < 0)
			continue;
		r = scan_one(ipam, de->d_name, addr, &e);
		if (r == 1)
			continue;
		if (r < 0)
			break;
		r = scan_push(s, &e);
		if (r < 0) {
			free(e.id);
			free(e.ifname);
			break;
		}
	}
	closedir(d);
	if (r < 0) {
		scan_done(s);
		return r;
	}
	if (s->n > 1)
		qsort(s->e, s->n, sizeof(*s->e), entry_cmp);
	return 0;
}

static bool entry_is_exact(const struct tartan_ipam_entry *e, const char *id, const char *ifname)
{
	return e->state != TARTAN_IPAM_BAD && e->ifname && strcmp(e->id, id) == 0 &&
	       strcmp(e->ifname, ifname) == 0;
}

static bool entry_is_legacy(const struct tartan_ipam_entry *e, const char *id)
{
	return e->state != TARTAN_IPAM_BAD && !e->ifname && strcmp(e->id, id) == 0;
}

/*
 * The entries that belong to (id, ifname), as host-local's FindByID and
 * ReleaseByID match them: exact "id\r\nifname" files, and only if there are
 * none, files holding the id alone. With held_only, only HELD entries count.
 * Marks them in match[] (s->n of them); returns how many.
 */
static size_t scan_match(const struct scan *s, const char *id, const char *ifname, bool held_only,
			 bool *match)
{
	size_t n = 0;

	for (int pass = 0; pass < 2 && n == 0; pass++) {
		for (size_t i = 0; i < s->n; i++) {
			const struct tartan_ipam_entry *e = &s->e[i];

			match[i] = false;
			if (held_only && e->state != TARTAN_IPAM_HELD)
				continue;
			if (pass == 0 ? entry_is_exact(e, id, ifname) : entry_is_legacy(e, id)) {
				match[i] = true;
				n++;
			}
		}
	}
	return n;
}

/* the address (id, ifname) holds in the subnet, or -ENOENT; s is read */
static int scan_find(const struct scan *s, const char *id, const char *ifname, uint32_t *ret_addr)
{
	bool *match;
	int r = -ENOENT;

	if (s->n == 0)
		return -ENOENT;
	match = calloc(s->n, sizeof(*match));
	if (!match)
		return -ENOMEM;
	if (scan_match(s, id, ifname, true, match) > 0) {
		for (size_t i = 0; i < s->n; i++) {
			if (match[i]) {
				*ret_addr = s->e[i].addr;
				r = 0;
				break;
			}
		}
	}
	free(match);
	return r;
}

static int dir_sync(const struct tartan_ipam *ipam)
{
	return fsync(ipam->dfd) < 0 ? -errno : 0;
}

/*
 * Unlinks the marked entries (ENOENT: gone already, fine), moves them to
 * *ret_released (if not NULL); the directory waits for tartan_ipam_sync(). An entry whose
 * unlink fails stays in s and makes the result that error, after the others
 * were done.
 */
static int scan_release(struct tartan_ipam *ipam, struct scan *s, const bool *match,
			struct tartan_ipam_entry **ret_released, size_t *ret_n)
{
	struct tartan_ipam_entry *out = NULL;
	size_t n_out = 0, n_match = 0;
	int r = 0;

	for (size_t i = 0; i < s->n; i++)
		n_match += match[i];
	if (n_match == 0)
		goto done;
	if (ret_released) {
		out = calloc(n_match, sizeof(*out));
		if (!out)
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		char name[TARTAN_IP4_ADDR_STRLEN];

		if (!match[i])
			continue;
		tartan_ip4_addr_format(s->e[i].addr, name);
		if (unlinkat(ipam->dfd, name, 0) < 0 && errno != ENOENT) {
			if (r == 0)
				r = -errno;
			continue;
		}
		if (out) {
			out[n_out] = s->e[i];
			s->e[i].id = s->e[i].ifname = NULL;
		}
		n_out++;
	}
	ipam->dir_unsynced = true;
	if (r < 0) {
		tartan_ipam_entries_free(out, n_out);
		return r;
	}
done:
	if (ret_released)
		*ret_released = out;
	*ret_n = n_out;
	return 0;
}

/* 16 hex digits; O_EXCL makes the name safe, randomness only avoids retries */
static void random_suffix(char out[static 17])
{
	static unsigned counter;
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
		    ((uint64_t)getpid() << 32) ^ (uint64_t)++counter * 0x9e3779b97f4a7c15ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)v);
}

/* A complete address file under a temp name: what link(2) then publishes under the
 * address's name. *ret_fd stays open, for tartan_ipam_sync() to fsync later. */
static int temp_create(const struct tartan_ipam *ipam, const char *content, size_t len,
		       char name[static sizeof(TEMP_PREFIX) + 16], int *ret_fd)
{
	int fd = -1, r;

	for (unsigned attempt = 0;; attempt++) {
		char suffix[17];

		random_suffix(suffix);
		snprintf(name, sizeof(TEMP_PREFIX) + 16, TEMP_PREFIX "%s", suffix);
		fd = openat(ipam->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			    0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || attempt >= 16)
			return -errno;
	}
	r = tartan_file_write_all(fd, content, len);
	/* the exact mode, whatever the umask */
	if (r == 0 && fchmod(fd, ADDR_FILE_MODE) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		(void)unlinkat(ipam->dfd, name, 0);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* last_reserved_ip.0 as host-local reads it: net.ParseIP of the whole content */
static bool last_reserved_read(const struct tartan_ipam *ipam, uint32_t *ret_addr)
{
	char buf[64];
	size_t len;

	if (read_small(ipam->dfd, LAST_RESERVED_NAME, buf, sizeof(buf) - 1, &len) < 0)
		return false;
	return tartan_ip4_addr_parse(buf, len, ret_addr) == 0;
}

/* The entry of s at addr, or NULL (s is ordered by address). */
static const struct tartan_ipam_entry *scan_at(const struct scan *s, uint32_t addr)
{
	struct tartan_ipam_entry key = { .addr = addr };

	return s->n > 0 ? bsearch(&key, s->e, s->n, sizeof(*s->e), entry_cmp) : NULL;
}

static bool scan_has(const struct scan *s, uint32_t addr)
{
	return scan_at(s, addr) != NULL;
}

/* A new address file's fd waits for tartan_ipam_sync(); when the list is full, the waiting
 * ones are synced first, so the fds stay bounded. */
static int unsynced_make_room(struct tartan_ipam *ipam)
{
	return ipam->n_unsynced == TARTAN_IPAM_UNSYNCED_MAX ? tartan_ipam_sync(ipam) : 0;
}

static void unsynced_add(struct tartan_ipam *ipam, int fd)
{
	ipam->unsynced[ipam->n_unsynced++] = fd;
	ipam->dir_unsynced = true;
}

/*
 * Takes the next free address for content, round robin as host-local's
 * RangeIter: from the one after last_reserved_ip.0 when that lies in the
 * range (else from the first), through the last, wrapping to the first,
 * each once, the gateway skipped. Names seen taken in s (whatever their
 * content) and the addresses other networks' stores hold (f) are skipped
 * without a system call; for the rest linkat decides
 * (EEXIST: taken meanwhile by someone who ignores the lock: the next).
 */
static int take_next(const struct tartan_ipam *ipam, const struct scan *s,
		     const struct tartan_ipamforeign *f, const char *content, size_t content_len,
		     uint32_t *ret_addr, int *ret_fd)
{
	char tmp[sizeof(TEMP_PREFIX) + 16];
	int fd = -1;
	uint64_t size = (uint64_t)ipam->last - ipam->first + 1;
	uint32_t last_res, cur;
	bool have_tmp = false;
	int r = -ENOSPC;

	if (last_reserved_read(ipam, &last_res) && last_res >= ipam->first &&
	    last_res <= ipam->last)
		cur = last_res;
	else
		cur = ipam->last; /* so that the first step lands on the first address */

	for (uint64_t k = 0; k < size; k++) {
		char name[TARTAN_IP4_ADDR_STRLEN];

		cur = cur == ipam->last ? ipam->first : cur + 1;
		if (cur == ipam->gateway || scan_has(s, cur) || tartan_ipamforeign_has(f, cur))
			continue;
		if (!have_tmp) {
			r = temp_create(ipam, content, content_len, tmp, &fd);
			if (r < 0)
				return r;
			have_tmp = true;
			r = -ENOSPC;
		}
		tartan_ip4_addr_format(cur, name);
		if (linkat(ipam->dfd, tmp, ipam->dfd, name, 0) == 0) {
			*ret_addr = cur;
			r = 0;
			break;
		}
		if (errno != EEXIST) {
			r = -errno;
			break;
		}
	}
	if (have_tmp)
		(void)unlinkat(ipam->dfd, tmp, 0);
	if (r == 0)
		*ret_fd = fd;
	else if (fd >= 0)
		close(fd);
	return r;
}

/* Only where the next search starts: a failure here (disk full) costs round
 * robin for one allocation, never an address, so it is not an error of the
 * allocation. Written atomically, unlike host-local's os.WriteFile, so it
 * never reads back torn; not fsync'ed, as a hint lost in a power cut costs
 * nothing either. */
static void last_reserved_write(const struct tartan_ipam *ipam, uint32_t addr)
{
	char buf[TARTAN_IP4_ADDR_STRLEN], *path = NULL;
	int r;

	if (asprintf(&path, "%s/%s", ipam->dir, LAST_RESERVED_NAME) < 0)
		return;
	tartan_ip4_addr_format(addr, buf);
	r = tartan_file_write_hint(path, buf, strlen(buf), ADDR_FILE_MODE);
	(void)r;
	free(path);
}

/*
 * Reading every address file costs an open and a read per held address, on every ADD: with
 * 200 pods that is most of an ADD. So allocate() keeps its last reading, with the
 * directory's mtime and ctime after its own changes, and reads again only when they moved
 * (host-local or a person changed something; tartan's other calls drop the cache). A change
 * by another process within the same clock tick as ours can go unseen: a release then only
 * leaves an address skipped until the next change, and an allocation is still never taken
 * twice, since linkat() refuses a name that exists (take_next goes on to the next one). A
 * repeated ADD of the same attachment is always found: only tartan writes its attachments.
 */
static void cache_stamp(struct tartan_ipam *ipam)
{
	struct stat st;

	ipam->cache_valid = fstat(ipam->dfd, &st) == 0;
	ipam->cache_mtime = st.st_mtim;
	ipam->cache_ctime = st.st_ctim;
}

static bool ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* A copy of the cached reading in *s (the callers change and free theirs), or a new one. */
static int scan_cached(struct tartan_ipam *ipam, struct scan *s)
{
	struct stat st;
	int r;

	*s = (struct scan){ 0 };
	if (ipam->cache_valid && fstat(ipam->dfd, &st) == 0 &&
	    ts_equal(&st.st_mtim, &ipam->cache_mtime) &&
	    ts_equal(&st.st_ctim, &ipam->cache_ctime)) {
		for (size_t i = 0; i < ipam->n_cache; i++) {
			struct tartan_ipam_entry e = ipam->cache[i];

			e.id = e.id ? strdup(e.id) : NULL;
			e.ifname = e.ifname ? strdup(e.ifname) : NULL;
			if ((ipam->cache[i].id && !e.id) || (ipam->cache[i].ifname && !e.ifname) ||
			    scan_push(s, &e) < 0) {
				free(e.id);
				free(e.ifname);
				scan_done(s);
				return -ENOMEM;
			}
		}
		return 0;
	}
	ipam->cache_valid = false;
	r = scan_dir(ipam, s);
	if (r < 0)
		return r;
	/* the cache takes a copy of its own: the caller's reading goes with the call */
	tartan_ipam_entries_free(ipam->cache, ipam->n_cache);
	ipam->cache = NULL;
	ipam->n_cache = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct tartan_ipam_entry e = s->e[i];
		struct scan c = { .e = ipam->cache, .n = ipam->n_cache, .cap = ipam->n_cache };

		e.id = e.id ? strdup(e.id) : NULL;
		e.ifname = e.ifname ? strdup(e.ifname) : NULL;
		if ((s->e[i].id && !e.id) || (s->e[i].ifname && !e.ifname) ||
		    scan_push(&c, &e) < 0) {
			free(e.id);
			free(e.ifname);
			return 0; /* no cache then: the next call reads again */
		}
		ipam->cache = c.e;
		ipam->n_cache = c.n;
	}
	cache_stamp(ipam);
	return 0;
}

/* Our own allocation, into the cache (kept ordered by address). */
static void cache_add(struct tartan_ipam *ipam, uint32_t addr, const char *id, const char *ifname)
{
	struct tartan_ipam_entry e = { .addr = addr, .state = TARTAN_IPAM_HELD };
	struct tartan_ipam_entry *ne;
	size_t i;

	if (!ipam->cache_valid)
		return;
	e.id = strdup(id);
	e.ifname = strdup(ifname);
	ne = realloc(ipam->cache, (ipam->n_cache + 1) * sizeof(*ne));
	if (!e.id || !e.ifname || !ne) {
		free(e.id);
		free(e.ifname);
		if (ne)
			ipam->cache = ne;
		ipam->cache_valid = false;
		return;
	}
	ipam->cache = ne;
	for (i = ipam->n_cache; i > 0 && ne[i - 1].addr > addr; i--)
		ne[i] = ne[i - 1];
	ne[i] = e;
	ipam->n_cache++;
}

int tartan_ipam_allocate(struct tartan_ipam *ipam, const char *id, const char *ifname,
			 uint32_t *ret_addr)
{
	char *content = NULL;
	struct scan s = { 0 };
	struct tartan_ipamforeign *f = NULL;
	uint32_t addr;
	int r, len, fd = -1;

	if (!ipam || !tartan_ipam_attachment_is_valid(id, ifname))
		return -EINVAL;
	len = asprintf(&content, "%s" LINE_BREAK "%s", id, ifname);
	if (len < 0)
		return -ENOMEM;
	r = lock_take_keep_cache(ipam);
	if (r < 0) {
		free(content);
		return r;
	}
	r = scan_cached(ipam, &s);
	if (r < 0)
		goto out;
	/* host-local refuses a second ADD ("duplicate allocation is not
	 * allowed"); the daemon must answer a repeated ADD after a crash with
	 * what it gave before, so the existing address is the answer */
	r = scan_find(&s, id, ifname, &addr);
	if (r != -ENOENT)
		goto out;

	r = tartan_ipamforeign_scan(ipam->foreign_root, ipam->dfd, &ipam->subnet, &f);
	if (r < 0)
		goto out;
	r = unsynced_make_room(ipam);
	if (r < 0)
		goto out;
	r = take_next(ipam, &s, f, content, (size_t)len, &addr, &fd);
	if (r < 0)
		goto out;
	unsynced_add(ipam, fd);
	cache_add(ipam, addr, id, ifname);
	last_reserved_write(ipam, addr);
	cache_stamp(ipam);
	r = 0;
out:
	if (r < 0)
		ipam->cache_valid = false;
	lock_drop(ipam);
	scan_done(&s);
	tartan_ipamforeign_free(f);
	free(content);
	if (r == 0)
		*ret_addr = addr;
	return r;
}

/* content under addr's name, if that name is free: -EADDRINUSE when it is not */
static int take_addr(struct tartan_ipam *ipam, const char *content, size_t len, uint32_t addr)
{
	char tmp[sizeof(TEMP_PREFIX) + 16], name[TARTAN_IP4_ADDR_STRLEN];
	int fd = -1, r;

	r = unsynced_make_room(ipam);
	if (r < 0)
		return r;
	r = temp_create(ipam, content, len, tmp, &fd);
	if (r < 0)
		return r;
	tartan_ip4_addr_format(addr, name);
	r = 0;
	if (linkat(ipam->dfd, tmp, ipam->dfd, name, 0) < 0)
		r = errno == EEXIST ? -EADDRINUSE : -errno;
	(void)unlinkat(ipam->dfd, tmp, 0);
	if (r < 0) {
		close(fd);
		return r;
	}
	unsynced_add(ipam, fd);
	return 0;
}

int tartan_ipam_allocate_addr(struct tartan_ipam *ipam, const char *id, const char *ifname,
			      uint32_t addr)
{
	const struct tartan_ipam_entry *e;
	struct tartan_ipamforeign *f = NULL;
	struct scan s = { 0 };
	char *content = NULL, name[TARTAN_IP4_ADDR_STRLEN];
	bool *match = NULL, taken = false;
	size_t n_old = 0;
	int r, len;

	if (!ipam || !tartan_ipam_attachment_is_valid(id, ifname))
		return -EINVAL;
	/* host-local: outside the range, or "requested ip ... is subnet's gateway" */
	if (!addr_is_allocatable(ipam, addr))
		return -EDOM;
	len = asprintf(&content, "%s" LINE_BREAK "%s", id, ifname);
	if (len < 0)
		return -ENOMEM;
	r = lock_take(ipam);
	if (r >= 0)
		r = scan_dir(ipam, &s);
	if (r < 0)
		goto out;
	match = calloc(s.n + 1, sizeof(*match));
	if (!match) {
		r = -ENOMEM;
		goto out;
	}
	/* what (id, ifname) holds now; the entry at addr is ours when it is among them */
	n_old = scan_match(&s, id, ifname, true, match);
	e = scan_at(&s, addr);
	if (e && e->state == TARTAN_IPAM_HELD && match[e - s.e]) {
		match[e - s.e] = false; /* kept: a repeated request is answered as it was */
		r = 0;
	} else if (e) {
		r = -EADDRINUSE; /* another attachment's, or a file that does not parse */
	} else {
		r = tartan_ipamforeign_scan(ipam->foreign_root, ipam->dfd, &ipam->subnet, &f);
		if (r >= 0 && tartan_ipamforeign_has(f, addr))
			r = -EADDRINUSE;
		if (r >= 0)
			r = take_addr(ipam, content, (size_t)len, addr);
		taken = r >= 0;
		if (taken)
			last_reserved_write(ipam, addr);
	}
	/* the attachment asked for this address now: what it held before goes, after; if it
	 * cannot, the new one goes again, so that a failed request holds nothing new */
	if (r >= 0 && n_old > 0) {
		size_t n_released;

		r = scan_release(ipam, &s, match, NULL, &n_released);
		if (r < 0 && taken &&
		    unlinkat(ipam->dfd, tartan_ip4_addr_format(addr, name), 0) < 0)
			r = -errno;
	}
out:
	lock_drop(ipam);
	scan_done(&s);
	free(match);
	tartan_ipamforeign_free(f);
	free(content);
	return r;
}

int tartan_ipam_find(struct tartan_ipam *ipam, const char *id, const char *ifname,
		     uint32_t *ret_addr)
{
	struct scan s = { 0 };
	uint32_t addr;
	int r;

	if (!ipam || !tartan_ipam_attachment_is_valid(id, ifname))
		return -EINVAL;
	r = lock_take_keep_cache(ipam); /* reads only */
	if (r < 0)
		return r;
	r = scan_dir(ipam, &s);
	if (r == 0)
		r = scan_find(&s, id, ifname, &addr);
	lock_drop(ipam);
	scan_done(&s);
	if (r == 0)
		*ret_addr = addr;
	return r;
}

int tartan_ipam_release(struct tartan_ipam *ipam, const char *id, const char *ifname, size_t *ret_n,
			uint32_t *ret_addr)
{
	struct scan s = { 0 };
	bool *match = NULL;
	uint32_t addr = 0;
	size_t n = 0;
	int r;

	if (!ipam || !tartan_ipam_attachment_is_valid(id, ifname))
		return -EINVAL;
	r = lock_take(ipam);
	if (r < 0)
		return r;
	r = scan_dir(ipam, &s);
	if (r < 0 || s.n == 0)
		goto out;
	match = calloc(s.n, sizeof(*match));
	if (!match) {
		r = -ENOMEM;
		goto out;
	}
	if (scan_match(&s, id, ifname, false, match) > 0) {
		for (size_t i = 0; i < s.n && !addr; i++)
			addr = match[i] ? s.e[i].addr : 0;
		r = scan_release(ipam, &s, match, NULL, &n);
	}
out:
	lock_drop(ipam);
	scan_done(&s);
	free(match);
	if (r == 0 && ret_n)
		*ret_n = n;
	if (r == 0 && n > 0 && ret_addr)
		*ret_addr = addr;
	return r;
}

bool tartan_ipam_attachment_listed(const struct tartan_ipam_attachment *valid, size_t n,
				   const char *id, const char *ifname)
{
	for (size_t i = 0; i < n; i++) {
		if (!valid[i].id || strcmp(valid[i].id, id) != 0)
			continue;
		/* a file holding the id alone belongs to any of its interfaces */
		if (!ifname || (valid[i].ifname && strcmp(valid[i].ifname, ifname) == 0))
			return true;
	}
	return false;
}

/* Releases the entries a predicate picks; the common body of gc and release_outside. */
static int release_where(struct tartan_ipam *ipam, const struct tartan_ipam_attachment *valid,
			 size_t n_valid, bool outside_only, struct tartan_ipam_entry **ret_released,
			 size_t *ret_n)
{
	struct tartan_ipam_entry *out = NULL;
	struct scan s = { 0 };
	bool *match = NULL;
	size_t n = 0;
	int r;

	if (!ipam || (!valid && n_valid > 0) || !ret_released || !ret_n)
		return -EINVAL;
	r = lock_take(ipam);
	if (r < 0)
		return r;
	r = scan_dir(ipam, &s);
	if (r < 0 || s.n == 0)
		goto out;
	match = calloc(s.n, sizeof(*match));
	if (!match) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s.n; i++) {
		const struct tartan_ipam_entry *e = &s.e[i];

		if (e->state == TARTAN_IPAM_BAD)
			continue;
		if (outside_only)
			match[i] = e->state == TARTAN_IPAM_OUTSIDE;
		else
			match[i] = !tartan_ipam_attachment_listed(valid, n_valid, e->id, e->ifname);
	}
	r = scan_release(ipam, &s, match, &out, &n);
out:
	lock_drop(ipam);
	scan_done(&s);
	free(match);
	if (r == 0) {
		*ret_released = out;
		*ret_n = n;
	}
	return r;
}

int tartan_ipam_gc(struct tartan_ipam *ipam, const struct tartan_ipam_attachment *valid, size_t n,
		   struct tartan_ipam_entry **ret_released, size_t *ret_n)
{
	return release_where(ipam, valid, n, false, ret_released, ret_n);
}

int tartan_ipam_release_outside(struct tartan_ipam *ipam, struct tartan_ipam_entry **ret_released,
				size_t *ret_n)
{
	return release_where(ipam, NULL, 0, true, ret_released, ret_n);
}

int tartan_ipam_list(struct tartan_ipam *ipam, struct tartan_ipam_entry **ret_entries,
		     size_t *ret_n)
{
	struct scan s = { 0 };
	int r;

	if (!ipam || !ret_entries || !ret_n)
		return -EINVAL;
	r = lock_take_keep_cache(ipam); /* reads only */
	if (r < 0)
		return r;
	r = scan_dir(ipam, &s);
	lock_drop(ipam);
	if (r < 0)
		return r;
	*ret_entries = s.e;
	*ret_n = s.n;
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Under the lock, nobody is writing: a temp file now was left by a crash. */
static int temp_clean(struct tartan_ipam *ipam)
{
	struct dirent *de;
	unsigned removed = 0;
	DIR *d;
	int fd, r = 0;

	fd = openat(ipam->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (!has_prefix(de->d_name, TEMP_PREFIX) &&
		    !has_prefix(de->d_name, LAST_TEMP_PREFIX))
			continue;
		if (unlinkat(ipam->dfd, de->d_name, 0) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		removed++;
	}
	closedir(d);
	if (r == 0 && removed > 0)
		r = dir_sync(ipam);
	ipam->temp_removed += removed;
	return r;
}

/* dir itself with exactly 0755 (host-local: os.MkdirAll(dir, 0755)) and its parents */
static int dir_create(const char *dir)
{
	struct stat st;
	int r;

	r = tartan_file_mkdir_parents(dir, 0755);
	if (r < 0)
		return r;
	if (mkdir(dir, 0755) == 0)
		return chmod(dir, 0755) < 0 ? -errno : 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int tartan_ipam_new(const char *dir, const struct tartan_ip4_net *subnet, uint32_t gateway,
		    struct tartan_ipam **ret)
{
	struct tartan_ipam *ipam;
	int r;

	if (!dir || !*dir || !subnet || !ret || !tartan_ip4_net_is_valid(subnet))
		return -EINVAL;
	/* host-local: "Network %s too small to allocate from" below /30 */
	if (subnet->len > 30)
		return -EINVAL;
	if (gateway != 0 && !tartan_ip4_net_contains(subnet, gateway))
		return -EINVAL;

	ipam = calloc(1, sizeof(*ipam));
	if (!ipam)
		return -ENOMEM;
	ipam->dfd = -1;
	ipam->lock_fd = -1;
	ipam->subnet = *subnet;
	ipam->first = subnet->addr + 1;
	ipam->last = tartan_ip4_net_last(subnet) - 1;
	ipam->gateway = gateway ? gateway : ipam->first;
	ipam->lock_timeout_ms = TARTAN_IPAM_LOCK_TIMEOUT_MS;
	ipam->dir = strdup(dir);
	if (!ipam->dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = dir_create(dir);
	if (r < 0)
		goto fail;
	ipam->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ipam->dfd < 0) {
		r = -errno;
		goto fail;
	}
	ipam->lock_fd = openat(ipam->dfd, LOCK_NAME, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			       LOCK_FILE_MODE);
	if (ipam->lock_fd < 0) {
		r = -errno;
		goto fail;
	}
	r = lock_take(ipam);
	if (r < 0)
		goto fail;
	r = temp_clean(ipam);
	lock_drop(ipam);
	if (r < 0)
		goto fail;
	*ret = ipam;
	return 0;
fail:
	tartan_ipam_free(ipam);
	return r;
}

int tartan_ipam_sync(struct tartan_ipam *ipam)
{
	int r = 0;

	if (!ipam)
		return 0;
	for (size_t i = 0; i < ipam->n_unsynced; i++) {
		if (fsync(ipam->unsynced[i]) < 0 && r == 0)
			r = -errno;
		close(ipam->unsynced[i]);
	}
	ipam->n_unsynced = 0;
	/* the links (and unlinks) after the files' content */
	if (ipam->dir_unsynced) {
		int r2 = dir_sync(ipam);

		ipam->dir_unsynced = false;
		if (r == 0)
			r = r2;
	}
	return r;
}

bool tartan_ipam_sync_pending(const struct tartan_ipam *ipam)
{
	return ipam && (ipam->n_unsynced > 0 || ipam->dir_unsynced);
}

void tartan_ipam_free(struct tartan_ipam *ipam)
{
	if (!ipam)
		return;
	if (tartan_ipam_sync(ipam) < 0) {
		/* nobody to tell: the caller wanting the error calls it first */
	}
	if (ipam->lock_fd >= 0)
		close(ipam->lock_fd);
	if (ipam->dfd >= 0)
		close(ipam->dfd);
	tartan_ipam_entries_free(ipam->cache, ipam->n_cache);
	free(ipam->foreign_root);
	free(ipam->dir);
	free(ipam);
}

unsigned tartan_ipam_temp_removed(const struct tartan_ipam *ipam)
{
	return ipam ? ipam->temp_removed : 0;
}

void tartan_ipam_set_lock_timeout(struct tartan_ipam *ipam, unsigned msec)
{
	if (ipam)
		ipam->lock_timeout_ms = msec;
}

int tartan_ipam_set_foreign_root(struct tartan_ipam *ipam, const char *root)
{
	char *c = NULL;

	if (!ipam)
		return -EINVAL;
	if (root && *root) {
		c = strdup(root);
		if (!c)
			return -ENOMEM;
	}
	free(ipam->foreign_root);
	ipam->foreign_root = c;
	return 0;
}
