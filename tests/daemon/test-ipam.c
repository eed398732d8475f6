/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of daemon/ipam.c, the pods' address store on host-local's on-disk
 * layout. Each test works in its own mktemp directory, removed afterwards.
 *
 * What they prove:
 *  - the content parser and the id/ifname rules (host-local's format);
 *  - a /29 hands out exactly its five addresses (network, broadcast and
 *    gateway never), then -ENOSPC; files byte-exact as host-local writes
 *    them ("ID\r\nIFNAME", mode 0644), last_reserved_ip.0 and lock present;
 *  - a static address: exactly the one asked for, again for a repeated or
 *    renewed request, the old one released when the request changes; -EDOM
 *    for one the subnet does not hand out, -EADDRINUSE for one another
 *    attachment, an unreadable file or a foreign store holds;
 *  - allocate and release are idempotent; round robin after
 *    last_reserved_ip.0 as host-local's iterator, also from a file written by
 *    hand, and from the first address when that file is garbage;
 *  - files written by hand in host-local's format (also the pre-0.8 format
 *    holding the id alone) are found, released and never handed out again;
 *  - files that do not parse are reported as BAD, kept, and never handed out;
 *  - GC releases exactly what is not in the valid list;
 *  - after a subnet change the old allocations are OUTSIDE, not found, and
 *    released and returned by tartan_ipam_release_outside();
 *  - temp files left by a crash are removed on open, nothing else is;
 *  - the lock held by another process makes a call wait, then -EAGAIN;
 *  - crash safety: a child allocating and releasing in a loop is SIGKILLed at
 *    random instants, 200 times; after each kill no address file is torn,
 *    no container holds two addresses, every operation the child completed
 *    is on disk, and only the one in flight may or may not be;
 *  - with a foreign root (tartand's --cni-data-dir): the addresses of the
 *    subnet that another network directory there holds (flannel's "cbr0") are
 *    never handed out, are left untouched, the store's own directory and
 *    names that are no address of the subnet are not counted; with no root,
 *    or a missing one, they are handed out again;
 *  - with Debian's containernetworking-plugins installed: the real host-local
 *    binary and this store share one directory, each sees the other's
 *    allocations, never hands them out, releases them, and follows the
 *    other's last_reserved_ip.0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ipam.h"

#define HOST_LOCAL "/usr/lib/cni/host-local"
#define NET_NAME "tnet"

struct ctx {
	char dir[64];  /* the data dir (host-local's dataDir) */
	char net[128]; /* the network's dir: dir/NET_NAME */
	char path[256];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? -1 : 0;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/tartan-test-ipam.XXXXXX");
	if (!mkdtemp(c->dir)) {
		free(c);
		return -1;
	}
	snprintf(c->net, sizeof(c->net), "%s/%s", c->dir, NET_NAME);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	umask(022);
	if (nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		print_error("cannot remove %s: %s\n", c->dir, strerror(errno));
	free(c);
	return 0;
}

static const char *path_of(struct ctx *c, const char *name)
{
	snprintf(c->path, sizeof(c->path), "%s/%s", c->net, name);
	return c->path;
}

static uint32_t ip(const char *s)
{
	uint32_t a = 0;

	assert_int_equal(tartan_ip4_addr_parse(s, strlen(s), &a), 0);
	return a;
}

static struct tartan_ip4_net net(const char *s)
{
	struct tartan_ip4_net n = { 0 };

	assert_int_equal(tartan_ip4_net_parse(s, strlen(s), &n), 0);
	return n;
}

static const char *fmt(uint32_t a)
{
	static char bufs[4][TARTAN_IP4_ADDR_STRLEN];
	static unsigned i;

	return tartan_ip4_addr_format(a, bufs[i++ % 4]);
}

static struct tartan_ipam *open_store(struct ctx *c, const char *subnet)
{
	struct tartan_ip4_net n = net(subnet);
	struct tartan_ipam *ipam = NULL;

	assert_int_equal(tartan_ipam_new(c->net, &n, 0, &ipam), 0);
	assert_non_null(ipam);
	return ipam;
}

/* the whole file, NUL-terminated; -1 when it cannot be read */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static void put_file(struct ctx *c, const char *name, const char *content, size_t len)
{
	int fd = open(path_of(c, name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
}

static bool exists(struct ctx *c, const char *name)
{
	struct stat st;

	return lstat(path_of(c, name), &st) == 0;
}

/* the file holds exactly want (len bytes) with mode 0644 */
static void assert_file_is(struct ctx *c, const char *name, const char *want, size_t len)
{
	char buf[512];
	struct stat st;
	ssize_t n;

	n = slurp(path_of(c, name), buf, sizeof(buf));
	if (n < 0)
		fail_msg("%s: cannot read: %s", c->path, strerror(errno));
	if ((size_t)n != len || memcmp(buf, want, len) != 0)
		fail_msg("%s: expected %zu bytes \"%.*s\", saw %zd bytes \"%s\"", c->path, len,
			 (int)len, want, n, buf);
	assert_int_equal(stat(c->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
}

static unsigned count_prefix(struct ctx *c, const char *prefix)
{
	unsigned n = 0;
	struct dirent *de;
	DIR *d = opendir(c->net);

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static uint32_t alloc_ok(struct tartan_ipam *ipam, const char *id, const char *ifname)
{
	uint32_t a = 0;
	int r = tartan_ipam_allocate(ipam, id, ifname, &a);

	if (r != 0)
		fail_msg("allocate %s/%s: expected 0, saw %s", id, ifname, strerror(-r));
	return a;
}

static void assert_addr(uint32_t got, const char *want)
{
	if (got != ip(want))
		fail_msg("expected %s, saw %s", want, fmt(got));
}

static void put_abs(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

/* ---- pure parts ---- */

static void test_content_parse(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *id, *ifname; /* id NULL: -EBADMSG */
	} cases[] = {
		{ "abc\r\neth0", 9, "abc", "eth0" },
		/* host-local compares strings.TrimSpace(content) */
		{ "  abc\r\neth0\n", 12, "abc", "eth0" },
		{ "\tabc\r\neth0\r\n", 11, "abc", "eth0" },
		/* before v0.8 the file held the id alone */
		{ "abc", 3, "abc", NULL },
		{ "abc\n", 4, "abc", NULL },
		{ "abc\r\n", 5, "abc", NULL },
		{ "", 0, NULL, NULL },
		{ " \r\n\t", 4, NULL, NULL },
		/* trimmed first, so this is an id alone, as host-local reads it */
		{ "\r\neth0", 6, "eth0", NULL },
		{ "abc\r\neth0\r\nx", 12, NULL, NULL },
		{ "ab c\r\neth0", 10, NULL, NULL },
		{ "abc\r\neth 0", 10, NULL, NULL },
		{ "abc\r\neth/0", 10, NULL, NULL },
		{ "abc\r\neth:0", 10, NULL, NULL },
		{ "abc\r\n..", 7, NULL, NULL },
		{ "abc\r\n0123456789abcdef", 21, NULL, NULL },
		{ "ab\0c\r\neth0", 10, NULL, NULL },
		{ "abc\neth0", 8, NULL, NULL },
		{ "ab\001c", 4, NULL, NULL },
		{ "ab\xc3\xa9", 4, NULL, NULL },
	};
	char *big;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *id = (char *)1, *ifname = (char *)1;
		int r = tartan_ipam_content_parse(cases[i].in, cases[i].len, &id, &ifname);

		if (!cases[i].id) {
			if (r != -EBADMSG)
				fail_msg("case %zu: expected -EBADMSG, saw %d", i, r);
			assert_ptr_equal(id, (char *)1);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu: expected 0, saw %d", i, r);
		assert_string_equal(id, cases[i].id);
		if (cases[i].ifname)
			assert_string_equal(ifname, cases[i].ifname);
		else
			assert_null(ifname);
		free(id);
		free(ifname);
	}

	/* a 64-hex-digit id as the runtimes make them; one past the file limit */
	big = malloc(TARTAN_IPAM_FILE_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', TARTAN_IPAM_FILE_MAX + 1);
	{
		char *id, *ifname;

		assert_int_equal(tartan_ipam_content_parse(big, 64, &id, &ifname), 0);
		assert_int_equal(strlen(id), 64);
		free(id);
		free(ifname);
		assert_int_equal(
			tartan_ipam_content_parse(big, TARTAN_IPAM_FILE_MAX + 1, &id, &ifname),
			-EBADMSG);
	}
	free(big);
}

static void test_attachment_is_valid(void **state)
{
	assert_true(tartan_ipam_attachment_is_valid("abc", "eth0"));
	assert_true(tartan_ipam_attachment_is_valid("a_b.c-d", "0123456789abcde"));
	assert_false(tartan_ipam_attachment_is_valid("", "eth0"));
	assert_false(tartan_ipam_attachment_is_valid("abc", ""));
	assert_false(tartan_ipam_attachment_is_valid(NULL, "eth0"));
	assert_false(tartan_ipam_attachment_is_valid("abc", NULL));
	assert_false(tartan_ipam_attachment_is_valid("a b", "eth0"));
	assert_false(tartan_ipam_attachment_is_valid("a\r\nb", "eth0"));
	assert_false(tartan_ipam_attachment_is_valid(" abc", "eth0"));
	assert_false(tartan_ipam_attachment_is_valid("abc", "0123456789abcdef"));
	assert_false(tartan_ipam_attachment_is_valid("abc", "eth/0"));
	assert_false(tartan_ipam_attachment_is_valid("abc", "eth:0"));
	assert_false(tartan_ipam_attachment_is_valid("abc", "."));
	assert_false(tartan_ipam_attachment_is_valid("abc", ".."));
}

/* ---- the store ---- */

static void test_new_checks_and_layout(void **state)
{
	struct ctx *c = *state;
	struct tartan_ip4_net n = net("10.5.3.0/29"), small = net("10.5.3.0/31");
	struct tartan_ip4_net hostbits = { .addr = ip("10.5.3.1"), .len = 29 };
	struct tartan_ipam *ipam = NULL;
	struct stat st;
	int fd;

	assert_int_equal(tartan_ipam_new(c->net, &small, 0, &ipam), -EINVAL);
	small = net("10.5.3.0/32");
	assert_int_equal(tartan_ipam_new(c->net, &small, 0, &ipam), -EINVAL);
	assert_int_equal(tartan_ipam_new(c->net, &hostbits, 0, &ipam), -EINVAL);
	assert_int_equal(tartan_ipam_new(c->net, &n, ip("10.5.4.1"), &ipam), -EINVAL);
	assert_int_equal(tartan_ipam_new("", &n, 0, &ipam), -EINVAL);
	assert_null(ipam);

	/* parents and the network dir made 0755 whatever the umask */
	umask(077);
	snprintf(c->net, sizeof(c->net), "%s/a/b/%s", c->dir, NET_NAME);
	assert_int_equal(tartan_ipam_new(c->net, &n, 0, &ipam), 0);
	assert_int_equal(stat(c->net, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_true(exists(c, "lock"));
	assert_int_equal(tartan_ipam_temp_removed(ipam), 0);
	tartan_ipam_free(ipam);
	tartan_ipam_free(NULL);
	ipam = NULL;

	/* a file where the dir should be */
	snprintf(c->net, sizeof(c->net), "%s/plain", c->dir);
	fd = open(c->net, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	n = net("10.5.3.0/30");
	assert_int_equal(tartan_ipam_new(c->net, &n, 0, &ipam), -ENOTDIR);
	assert_null(ipam);
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The fsyncs wait for tartan_ipam_sync(); the files are complete before it, and at most
 * TARTAN_IPAM_UNSYNCED_MAX allocations hold an fd meanwhile. */
static void test_sync_deferred(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/24");
	unsigned base = open_fds();
	uint32_t addr;
	size_t n = 0;

	assert_false(tartan_ipam_sync_pending(ipam));
	assert_int_equal(tartan_ipam_sync(ipam), 0);
	assert_int_equal(tartan_ipam_sync(NULL), 0);
	assert_false(tartan_ipam_sync_pending(NULL));
	for (unsigned i = 0; i < 200; i++) {
		char id[16], content[32];
		const char *a;

		snprintf(id, sizeof(id), "ctr%u", i);
		a = fmt(alloc_ok(ipam, id, "eth0"));
		snprintf(content, sizeof(content), "ctr%u\r\neth0", i);
		assert_file_is(c, a, content, strlen(content));
		assert_true(tartan_ipam_sync_pending(ipam));
		assert_true(open_fds() <= base + TARTAN_IPAM_UNSYNCED_MAX);
	}
	assert_int_equal(tartan_ipam_sync(ipam), 0);
	assert_false(tartan_ipam_sync_pending(ipam));
	assert_int_equal(open_fds(), base);
	/* a repeated ADD writes nothing, so nothing waits */
	assert_addr(alloc_ok(ipam, "ctr0", "eth0"), "10.5.3.2");
	assert_false(tartan_ipam_sync_pending(ipam));
	/* a release leaves the directory to sync */
	addr = 0;
	assert_int_equal(tartan_ipam_release(ipam, "ctr1", "eth0", &n, &addr), 0);
	assert_int_equal(n, 1);
	assert_addr(addr, "10.5.3.3"); /* what it released */
	assert_false(exists(c, "10.5.3.3"));
	assert_true(tartan_ipam_sync_pending(ipam));
	assert_int_equal(tartan_ipam_sync(ipam), 0);
	assert_false(tartan_ipam_sync_pending(ipam));
	/* free syncs what waits and closes every fd */
	(void)alloc_ok(ipam, "ctr1", "eth0");
	tartan_ipam_free(ipam);
	assert_int_equal(open_fds(), base - 2); /* the directory and the lock file */
	assert_int_equal(count_prefix(c, ".tartan-ipam"), 0);
}

static void test_allocate_until_full(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/29");
	static const char *const want[] = { "10.5.3.2", "10.5.3.3", "10.5.3.4", "10.5.3.5",
					    "10.5.3.6" };
	struct tartan_ipam_entry *e = NULL;
	uint32_t a = 0;
	size_t n = 0;

	umask(077); /* the files' modes must not depend on it */
	for (unsigned i = 0; i < 5; i++) {
		char id[16], content[32];

		snprintf(id, sizeof(id), "ctr%u", i);
		assert_addr(alloc_ok(ipam, id, "eth0"), want[i]);
		snprintf(content, sizeof(content), "ctr%u\r\neth0", i);
		assert_file_is(c, want[i], content, strlen(content));
		assert_file_is(c, "last_reserved_ip.0", want[i], strlen(want[i]));
	}
	assert_int_equal(tartan_ipam_allocate(ipam, "ctr9", "eth0", &a), -ENOSPC);
	assert_int_equal(a, 0);
	/* never the network, the gateway or the broadcast address */
	assert_false(exists(c, "10.5.3.0"));
	assert_false(exists(c, "10.5.3.1"));
	assert_false(exists(c, "10.5.3.7"));
	/* and no temp file left by the failed attempt */
	assert_int_equal(count_prefix(c, ".tartan-ipam"), 0);
	assert_int_equal(count_prefix(c, ".last_reserved"), 0);

	assert_int_equal(tartan_ipam_list(ipam, &e, &n), 0);
	assert_int_equal(n, 5);
	for (unsigned i = 0; i < 5; i++) {
		char id[16];

		snprintf(id, sizeof(id), "ctr%u", i);
		assert_addr(e[i].addr, want[i]);
		assert_int_equal(e[i].state, TARTAN_IPAM_HELD);
		assert_string_equal(e[i].id, id);
		assert_string_equal(e[i].ifname, "eth0");
	}
	tartan_ipam_entries_free(e, n);

	/* one freed: exactly that one comes back */
	assert_int_equal(tartan_ipam_release(ipam, "ctr2", "eth0", &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_addr(alloc_ok(ipam, "ctr9", "eth0"), "10.5.3.4");
	assert_int_equal(tartan_ipam_allocate(ipam, "ctr10", "eth0", &a), -ENOSPC);
	tartan_ipam_free(ipam);
}

static void test_idempotent(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/24");
	uint32_t a, b, f = 0;
	size_t n = 99;

	a = alloc_ok(ipam, "ctr-a", "eth0");
	assert_addr(a, "10.5.3.2");
	/* the same attachment again: the same address, nothing new written */
	assert_int_equal(alloc_ok(ipam, "ctr-a", "eth0"), a);
	assert_file_is(c, "last_reserved_ip.0", "10.5.3.2", 8);
	assert_false(exists(c, "10.5.3.3"));
	/* another interface of the same container is another attachment */
	b = alloc_ok(ipam, "ctr-a", "net1");
	assert_addr(b, "10.5.3.3");
	assert_int_equal(tartan_ipam_find(ipam, "ctr-a", "eth0", &f), 0);
	assert_int_equal(f, a);
	assert_int_equal(tartan_ipam_find(ipam, "ctr-a", "net1", &f), 0);
	assert_int_equal(f, b);
	assert_int_equal(tartan_ipam_find(ipam, "ctr-b", "eth0", &f), -ENOENT);

	assert_int_equal(tartan_ipam_release(ipam, "ctr-a", "eth0", &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_false(exists(c, "10.5.3.2"));
	assert_true(exists(c, "10.5.3.3"));
	assert_int_equal(tartan_ipam_release(ipam, "ctr-a", "eth0", &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tartan_ipam_release(ipam, "never", "eth0", NULL, NULL), 0);
	assert_int_equal(tartan_ipam_find(ipam, "ctr-a", "eth0", &f), -ENOENT);

	/* ids and names host-local's format cannot hold */
	assert_int_equal(tartan_ipam_allocate(ipam, "a\r\nb", "eth0", &f), -EINVAL);
	assert_int_equal(tartan_ipam_allocate(ipam, "abc", "eth/0", &f), -EINVAL);
	assert_int_equal(tartan_ipam_release(ipam, "", "eth0", NULL, NULL), -EINVAL);
	tartan_ipam_free(ipam);
}

/* a static address (CNI_ARGS IP=, runtimeConfig ips) */
static void test_allocate_addr(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/29");
	char p[256];
	uint32_t f = 0;
	size_t n = 0;

	/* exactly the address asked for, in host-local's format; last_reserved_ip.0 follows */
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-a", "eth0", ip("10.5.3.5")), 0);
	assert_file_is(c, "10.5.3.5", "ctr-a\r\neth0", 11);
	assert_file_is(c, "last_reserved_ip.0", "10.5.3.5", 8);
	assert_int_equal(tartan_ipam_find(ipam, "ctr-a", "eth0", &f), 0);
	assert_addr(f, "10.5.3.5");
	/* asked again: the same, nothing else written; allocate() finds it too */
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-a", "eth0", ip("10.5.3.5")), 0);
	assert_addr(alloc_ok(ipam, "ctr-a", "eth0"), "10.5.3.5");
	/* dynamic allocations go round it */
	assert_addr(alloc_ok(ipam, "ctr-b", "eth0"), "10.5.3.6");
	assert_addr(alloc_ok(ipam, "ctr-c", "eth0"), "10.5.3.2");

	/* not one the subnet hands out: outside, network, broadcast, gateway */
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-d", "eth0", ip("10.5.4.2")), -EDOM);
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-d", "eth0", ip("10.5.3.0")), -EDOM);
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-d", "eth0", ip("10.5.3.7")), -EDOM);
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-d", "eth0", ip("10.5.3.1")), -EDOM);
	/* another attachment's (another interface of the same container too), a file that
	 * does not parse */
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-d", "eth0", ip("10.5.3.6")),
			 -EADDRINUSE);
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-a", "net1", ip("10.5.3.5")),
			 -EADDRINUSE);
	put_file(c, "10.5.3.3", "", 0);
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-d", "eth0", ip("10.5.3.3")),
			 -EADDRINUSE);
	assert_file_is(c, "10.5.3.6", "ctr-b\r\neth0", 11);
	assert_int_equal(tartan_ipam_find(ipam, "ctr-d", "eth0", &f), -ENOENT);
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "a b", "eth0", ip("10.5.3.4")), -EINVAL);

	/* another store under the foreign root holds it: not ours to give */
	snprintf(p, sizeof(p), "%s/cbr0", c->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/cbr0/10.5.3.4", c->dir);
	put_abs(p, "ctr-f\r\neth0");
	assert_int_equal(tartan_ipam_set_foreign_root(ipam, c->dir), 0);
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-d", "eth0", ip("10.5.3.4")),
			 -EADDRINUSE);
	assert_false(exists(c, "10.5.3.4"));
	assert_int_equal(unlink(p), 0);

	/* an ADD repeated with another request: the new one taken, the old one released */
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-a", "eth0", ip("10.5.3.4")), 0);
	assert_false(exists(c, "10.5.3.5"));
	assert_file_is(c, "10.5.3.4", "ctr-a\r\neth0", 11);
	/* DEL, then the same request again: the same address */
	assert_int_equal(tartan_ipam_release(ipam, "ctr-a", "eth0", &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tartan_ipam_allocate_addr(ipam, "ctr-a", "eth0", ip("10.5.3.4")), 0);
	assert_int_equal(tartan_ipam_find(ipam, "ctr-a", "eth0", &f), 0);
	assert_addr(f, "10.5.3.4");
	/* the only free one left was .5: the store is full now */
	assert_addr(alloc_ok(ipam, "ctr-e", "eth0"), "10.5.3.5");
	assert_int_equal(tartan_ipam_allocate(ipam, "ctr-f", "eth0", &f), -ENOSPC);
	tartan_ipam_free(ipam);
}

static void test_round_robin(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/29");

	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.3.2");
	assert_addr(alloc_ok(ipam, "b", "eth0"), "10.5.3.3");
	assert_addr(alloc_ok(ipam, "c", "eth0"), "10.5.3.4");
	assert_int_equal(tartan_ipam_release(ipam, "b", "eth0", NULL, NULL), 0);
	/* not the freed .3: the search goes on after the last reserved */
	assert_addr(alloc_ok(ipam, "d", "eth0"), "10.5.3.5");
	assert_addr(alloc_ok(ipam, "e", "eth0"), "10.5.3.6");
	/* wraps: .1 is the gateway, .2 held, .3 free */
	assert_addr(alloc_ok(ipam, "f", "eth0"), "10.5.3.3");

	/* last_reserved_ip.0 as host-local or an operator left it */
	assert_int_equal(tartan_ipam_release(ipam, "a", "eth0", NULL, NULL), 0);
	assert_int_equal(tartan_ipam_release(ipam, "d", "eth0", NULL, NULL), 0);
	put_file(c, "last_reserved_ip.0", "10.5.3.2", 8);
	assert_addr(alloc_ok(ipam, "g", "eth0"), "10.5.3.5");
	/* torn or foreign: the search starts at the first address */
	assert_int_equal(tartan_ipam_release(ipam, "g", "eth0", NULL, NULL), 0);
	put_file(c, "last_reserved_ip.0", "10.5.3.", 7);
	assert_addr(alloc_ok(ipam, "h", "eth0"), "10.5.3.2");
	assert_int_equal(tartan_ipam_release(ipam, "h", "eth0", NULL, NULL), 0);
	put_file(c, "last_reserved_ip.0", "192.0.2.9", 9);
	assert_addr(alloc_ok(ipam, "i", "eth0"), "10.5.3.2");
	/* the broadcast address is outside the range: from the first too */
	assert_int_equal(tartan_ipam_release(ipam, "i", "eth0", NULL, NULL), 0);
	put_file(c, "last_reserved_ip.0", "10.5.3.7", 8);
	assert_addr(alloc_ok(ipam, "j", "eth0"), "10.5.3.2");
	tartan_ipam_free(ipam);
}

static void test_custom_gateway(void **state)
{
	struct ctx *c = *state;
	struct tartan_ip4_net n = net("10.5.3.0/30");
	struct tartan_ipam *ipam = NULL;
	uint32_t a;

	/* a /30 has two hosts; with the gateway on .2, .1 is the one left */
	assert_int_equal(tartan_ipam_new(c->net, &n, ip("10.5.3.2"), &ipam), 0);
	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.3.1");
	assert_int_equal(tartan_ipam_allocate(ipam, "b", "eth0", &a), -ENOSPC);
	tartan_ipam_free(ipam);
}

static void test_host_local_files_read_back(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/24");
	struct tartan_ipam_entry *e = NULL;
	uint32_t a = 0;
	size_t n = 0;

	/* as host-local >= 0.8 writes them, and as before 0.8 (the id alone) */
	put_file(c, "10.5.3.2", "ctr-h\r\neth0", 11);
	put_file(c, "10.5.3.3", "ctr-old", 7);
	put_file(c, "last_reserved_ip.0", "10.5.3.3", 8);

	assert_int_equal(tartan_ipam_find(ipam, "ctr-h", "eth0", &a), 0);
	assert_addr(a, "10.5.3.2");
	assert_int_equal(tartan_ipam_find(ipam, "ctr-h", "eth1", &a), -ENOENT);
	/* the old format belongs to any interface of the container */
	assert_int_equal(tartan_ipam_find(ipam, "ctr-old", "eth1", &a), 0);
	assert_addr(a, "10.5.3.3");
	/* an ADD for the host-local attachment gets what it holds */
	assert_addr(alloc_ok(ipam, "ctr-h", "eth0"), "10.5.3.2");
	assert_addr(alloc_ok(ipam, "new", "eth0"), "10.5.3.4");

	assert_int_equal(tartan_ipam_list(ipam, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[1].id, "ctr-old");
	assert_null(e[1].ifname);
	assert_int_equal(e[1].state, TARTAN_IPAM_HELD);
	tartan_ipam_entries_free(e, n);

	/* released as host-local's ReleaseByID does */
	assert_int_equal(tartan_ipam_release(ipam, "ctr-old", "eth0", &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_false(exists(c, "10.5.3.3"));
	assert_int_equal(tartan_ipam_release(ipam, "ctr-h", "eth0", &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_false(exists(c, "10.5.3.2"));
	assert_true(exists(c, "10.5.3.4"));
	tartan_ipam_free(ipam);
}

static void test_bad_files_kept(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/29");
	struct tartan_ipam_entry *e = NULL, *rel = NULL;
	static const char *const bad[] = { "10.5.3.2", "10.5.3.3", "10.5.3.4", "10.5.3.5" };
	uint32_t a = 0;
	size_t n = 0;

	put_file(c, "10.5.3.2", "", 0);		    /* empty: a torn host-local write */
	put_file(c, "10.5.3.3", "a b\r\neth0", 10); /* space in the id */
	assert_int_equal(mkdir(path_of(c, "10.5.3.4"), 0755), 0);
	assert_int_equal(symlink("10.5.3.2", path_of(c, "10.5.3.5")), 0);
	/* names no parser here takes for an address: ignored */
	put_file(c, "010.5.3.6", "x\r\neth0", 7);
	put_file(c, "fd00::5", "y\r\neth0", 7);

	assert_int_equal(tartan_ipam_list(ipam, &e, &n), 0);
	assert_int_equal(n, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_addr(e[i].addr, bad[i]);
		assert_int_equal(e[i].state, TARTAN_IPAM_BAD);
		assert_null(e[i].id);
		assert_null(e[i].ifname);
	}
	tartan_ipam_entries_free(e, n);

	/* never handed out: .6 is the only address left */
	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.3.6");
	assert_int_equal(tartan_ipam_allocate(ipam, "b", "eth0", &a), -ENOSPC);
	/* GC with nothing valid and release_outside leave them alone */
	assert_int_equal(tartan_ipam_gc(ipam, NULL, 0, &rel, &n), 0);
	assert_int_equal(n, 1);
	assert_addr(rel[0].addr, "10.5.3.6");
	tartan_ipam_entries_free(rel, n);
	assert_int_equal(tartan_ipam_release_outside(ipam, &rel, &n), 0);
	assert_int_equal(n, 0);
	for (unsigned i = 0; i < 4; i++)
		assert_true(exists(c, bad[i]));
	assert_true(exists(c, "010.5.3.6"));
	assert_true(exists(c, "fd00::5"));
	tartan_ipam_free(ipam);
}

static void test_gc(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/24");
	const struct tartan_ipam_attachment valid[] = {
		{ .id = "a", .ifname = "eth0" },
		{ .id = "c", .ifname = "net1" },
		{ .id = "d", .ifname = "eth0" },
		{ .id = "zz", .ifname = "eth0" }, /* valid but holds nothing */
	};
	struct tartan_ipam_entry *rel = NULL;
	uint32_t a;
	size_t n = 0;

	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.3.2");
	assert_addr(alloc_ok(ipam, "b", "eth0"), "10.5.3.3");
	assert_addr(alloc_ok(ipam, "c", "eth0"), "10.5.3.4");
	assert_addr(alloc_ok(ipam, "c", "net1"), "10.5.3.5");
	put_file(c, "10.5.3.6", "d", 1); /* old format: kept for any valid ifname of d */
	put_file(c, "10.5.3.7", "e", 1); /* old format, e not valid: released */

	assert_int_equal(tartan_ipam_gc(ipam, valid, 4, &rel, &n), 0);
	assert_int_equal(n, 3);
	assert_addr(rel[0].addr, "10.5.3.3");
	assert_string_equal(rel[0].id, "b");
	assert_string_equal(rel[0].ifname, "eth0");
	assert_addr(rel[1].addr, "10.5.3.4");
	assert_string_equal(rel[1].id, "c");
	assert_string_equal(rel[1].ifname, "eth0");
	assert_addr(rel[2].addr, "10.5.3.7");
	assert_string_equal(rel[2].id, "e");
	assert_null(rel[2].ifname);
	tartan_ipam_entries_free(rel, n);

	assert_true(exists(c, "10.5.3.2"));
	assert_false(exists(c, "10.5.3.3"));
	assert_false(exists(c, "10.5.3.4"));
	assert_true(exists(c, "10.5.3.5"));
	assert_true(exists(c, "10.5.3.6"));
	assert_false(exists(c, "10.5.3.7"));
	assert_int_equal(tartan_ipam_find(ipam, "c", "net1", &a), 0);

	/* again: nothing more to do */
	assert_int_equal(tartan_ipam_gc(ipam, valid, 4, &rel, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rel);
	/* an empty valid list releases everything */
	assert_int_equal(tartan_ipam_gc(ipam, NULL, 0, &rel, &n), 0);
	assert_int_equal(n, 3);
	tartan_ipam_entries_free(rel, n);
	assert_int_equal(count_prefix(c, "10."), 0);
	tartan_ipam_free(ipam);
}

static void test_subnet_change(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/24");
	struct tartan_ipam_entry *e = NULL;
	uint32_t a = 0;
	size_t n = 0;

	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.3.2");
	assert_addr(alloc_ok(ipam, "b", "eth0"), "10.5.3.3");
	/* host-local never writes these; they are not allocatable either */
	put_file(c, "10.5.4.0", "n\r\neth0", 7);
	put_file(c, "10.5.4.1", "g\r\neth0", 7);
	put_file(c, "10.5.4.255", "x\r\neth0", 7);
	tartan_ipam_free(ipam);

	/* the node got 10.5.4.0/24 */
	ipam = open_store(c, "10.5.4.0/24");
	assert_int_equal(tartan_ipam_list(ipam, &e, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(e[i].state, TARTAN_IPAM_OUTSIDE);
	tartan_ipam_entries_free(e, n);
	/* an old address is not the answer to a new ADD */
	assert_int_equal(tartan_ipam_find(ipam, "a", "eth0", &a), -ENOENT);
	/* last_reserved_ip.0 (10.5.3.3) is foreign now: from the first */
	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.4.2");

	assert_int_equal(tartan_ipam_release_outside(ipam, &e, &n), 0);
	assert_int_equal(n, 5);
	assert_addr(e[0].addr, "10.5.3.2");
	assert_string_equal(e[0].id, "a");
	assert_addr(e[1].addr, "10.5.3.3");
	assert_string_equal(e[1].id, "b");
	assert_addr(e[2].addr, "10.5.4.0");
	assert_addr(e[3].addr, "10.5.4.1");
	assert_addr(e[4].addr, "10.5.4.255");
	tartan_ipam_entries_free(e, n);

	assert_int_equal(tartan_ipam_list(ipam, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_addr(e[0].addr, "10.5.4.2");
	assert_int_equal(e[0].state, TARTAN_IPAM_HELD);
	tartan_ipam_entries_free(e, n);
	assert_int_equal(tartan_ipam_release_outside(ipam, &e, &n), 0);
	assert_int_equal(n, 0);

	/* release() takes an attachment's addresses in every subnet */
	put_file(c, "10.5.3.9", "a\r\neth0", 7);
	assert_int_equal(tartan_ipam_release(ipam, "a", "eth0", &n, NULL), 0);
	assert_int_equal(n, 2);
	tartan_ipam_free(ipam);
}

static void test_leftover_temp_files(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/24");
	struct tartan_ipam_entry *e = NULL;
	char linked[256];
	size_t n = 0;

	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.3.2");
	tartan_ipam_free(ipam);
	/* what a crash leaves: our temp file before and after its link(2) to
	 * the address, and file.c's temp file of last_reserved_ip.0 */
	put_file(c, ".tartan-ipam.tmp-0123456789abcdef", "b\r\neth0", 7);
	snprintf(linked, sizeof(linked), "%s/.tartan-ipam.tmp-00000000deadbeef", c->net);
	assert_int_equal(link(path_of(c, "10.5.3.2"), linked), 0);
	put_file(c, ".last_reserved_ip.0.tmp-0123456789abcdef", "10.5.", 5);
	/* not ours: stays */
	put_file(c, ".keep", "x", 1);

	ipam = open_store(c, "10.5.3.0/24");
	assert_int_equal(tartan_ipam_temp_removed(ipam), 3);
	assert_int_equal(count_prefix(c, ".tartan-ipam"), 0);
	assert_int_equal(count_prefix(c, ".last_reserved"), 0);
	assert_true(exists(c, ".keep"));
	/* the allocation survives; b, never linked, holds nothing */
	assert_file_is(c, "10.5.3.2", "a\r\neth0", 7);
	assert_int_equal(tartan_ipam_list(ipam, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].id, "a");
	tartan_ipam_entries_free(e, n);
	tartan_ipam_free(ipam);
}

/* another process (host-local, say) holds the lock */
static void test_lock_held_elsewhere(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/24");
	int ready[2], go[2], status;
	struct timespec t0, t1;
	uint32_t a = 0;
	char byte = 0;
	double waited;
	pid_t pid;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path_of(c, "lock"), O_RDONLY | O_CLOEXEC);

		if (fd < 0 || flock(fd, LOCK_EX) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		(void)!read(go[0], &byte, 1);
		tartan_ipam_free(ipam); /* the parent's copy: no leak report under valgrind */
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &byte, 1), 1);

	tartan_ipam_set_lock_timeout(ipam, 200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(tartan_ipam_allocate(ipam, "a", "eth0", &a), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (waited < 0.2)
		fail_msg("expected to wait the 0.2 s timeout for the lock, waited %.3f s", waited);
	assert_int_equal(tartan_ipam_release(ipam, "a", "eth0", NULL, NULL), -EAGAIN);
	assert_false(exists(c, "10.5.3.2"));

	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.3.2");
	close(ready[0]);
	close(go[1]);
	tartan_ipam_free(ipam);
}

/* ---- crash safety ---- */

#define CRASH_IDS 24
#define CRASH_ROUNDS 200

/* what the child reports after each operation it completed */
struct crash_rec {
	uint32_t k;    /* operation index in the round */
	uint32_t addr; /* for an allocation */
	int32_t r;
};

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* operation k of a round: which container, and allocate or release; both
 * sides compute the same sequence from the seed */
static void crash_op(uint32_t *seed, unsigned *ret_id, bool *ret_release)
{
	uint32_t v = xorshift(seed);

	*ret_id = v % CRASH_IDS;
	*ret_release = (v >> 16) % 3 == 0;
}

static void __attribute__((noreturn)) crash_child(const char *dir, uint32_t seed, int wfd)
{
	struct tartan_ip4_net n = { .addr = 0x0a050300, .len = 24 };
	struct tartan_ipam *ipam;

	if (tartan_ipam_new(dir, &n, 0, &ipam) < 0)
		_exit(2);
	for (uint32_t k = 0;; k++) {
		struct crash_rec rec = { .k = k };
		char id[16];
		unsigned i;
		bool release;

		crash_op(&seed, &i, &release);
		snprintf(id, sizeof(id), "ctr-%u", i);
		if (release)
			rec.r = tartan_ipam_release(ipam, id, "eth0", NULL, NULL);
		else
			rec.r = tartan_ipam_allocate(ipam, id, "eth0", &rec.addr);
		if (write(wfd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			_exit(3);
	}
}

static void test_crash_safety(void **state)
{
	struct ctx *c = *state;
	uint32_t model[CRASH_IDS] = { 0 }; /* what each container holds, 0: nothing */
	unsigned long ops = 0, in_flight_done = 0, temp_seen = 0;
	uint32_t rng = 0x1234567;

	for (unsigned round = 0; round < CRASH_ROUNDS; round++) {
		uint32_t seed = round * 2654435761u + 1, disk[CRASH_IDS] = { 0 };
		struct tartan_ip4_net n = net("10.5.3.0/24");
		struct tartan_ipam *ipam = NULL;
		struct timespec delay;
		struct crash_rec rec;
		struct dirent *de;
		unsigned fid;
		bool frel;
		uint32_t k = 0;
		int fds[2], status;
		pid_t pid;
		DIR *d;

		assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(c->net, seed, fds[1]);
		}
		close(fds[1]);
		/* 0 .. 40 ms: before open, inside it, or anywhere in an operation */
		delay = (struct timespec){ .tv_nsec = (long)(xorshift(&rng) % 40000) * 1000 };
		nanosleep(&delay, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("round %u: the child exited by itself (status %d)", round,
				 WEXITSTATUS(status));

		/* replay what the child completed: each answer must agree with
		 * the model, and the model follows it */
		while (read(fds[0], &rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
			unsigned i;
			bool release;

			assert_int_equal(rec.k, k);
			crash_op(&seed, &i, &release);
			k++;
			if (rec.r != 0)
				fail_msg("round %u op %u: ctr-%u %s failed: %s", round, rec.k, i,
					 release ? "release" : "allocate", strerror(-rec.r));
			if (release) {
				model[i] = 0;
				continue;
			}
			if (model[i] && rec.addr != model[i])
				fail_msg("round %u op %u: ctr-%u holds %s but was given %s", round,
					 rec.k, i, fmt(model[i]), fmt(rec.addr));
			for (unsigned j = 0; j < CRASH_IDS; j++)
				if (j != i && model[j] == rec.addr)
					fail_msg(
						"round %u op %u: %s given to ctr-%u, held by ctr-%u",
						round, rec.k, fmt(rec.addr), i, j);
			model[i] = rec.addr;
		}
		close(fds[0]);
		ops += k;
		/* the operation in flight when the kill came */
		crash_op(&seed, &fid, &frel);

		/* the directory as the crash left it, before any cleanup */
		d = opendir(c->net);
		if (!d) {
			/* killed before tartan_ipam_new made it */
			assert_int_equal(errno, ENOENT);
			assert_int_equal(k, 0);
			continue;
		}
		while ((de = readdir(d))) {
			char buf[256], *id = NULL, *ifname = NULL;
			uint32_t addr;
			unsigned i;
			ssize_t len;

			if (strncmp(de->d_name, ".tartan-ipam.tmp-", 17) == 0 ||
			    strncmp(de->d_name, ".last_reserved_ip.0.tmp-", 24) == 0) {
				temp_seen++;
				continue;
			}
			if (strcmp(de->d_name, "last_reserved_ip.0") == 0) {
				len = slurp(path_of(c, de->d_name), buf, sizeof(buf));
				if (len < 0 || tartan_ip4_addr_parse(buf, (size_t)len, &addr) < 0)
					fail_msg("round %u: last_reserved_ip.0 torn: \"%s\"", round,
						 len < 0 ? "" : buf);
				continue;
			}
			if (tartan_ip4_addr_parse(de->d_name, strlen(de->d_name), &addr) < 0)
				continue;
			len = slurp(path_of(c, de->d_name), buf, sizeof(buf));
			if (len < 0 ||
			    tartan_ipam_content_parse(buf, (size_t)len, &id, &ifname) < 0)
				fail_msg("round %u: %s torn: %zd bytes \"%s\"", round, de->d_name,
					 len, len < 0 ? "" : buf);
			if (sscanf(id, "ctr-%u", &i) != 1 || i >= CRASH_IDS || !ifname ||
			    strcmp(ifname, "eth0") != 0)
				fail_msg("round %u: %s holds \"%s\"", round, de->d_name, buf);
			if (disk[i])
				fail_msg("round %u: ctr-%u holds two addresses, %s and %s", round,
					 i, fmt(disk[i]), de->d_name);
			disk[i] = addr;
			free(id);
			free(ifname);
		}
		closedir(d);

		for (unsigned i = 0; i < CRASH_IDS; i++) {
			bool ok = disk[i] == model[i];

			/* the one in flight may have happened or not */
			if (!ok && i == fid)
				ok = frel ? disk[i] == 0 : (model[i] == 0 && disk[i] != 0);
			if (!ok)
				fail_msg("round %u: after %u operations ctr-%u should hold %s, the "
					 "disk says %s (in flight: ctr-%u %s)",
					 round, k, i, model[i] ? fmt(model[i]) : "nothing",
					 disk[i] ? fmt(disk[i]) : "nothing", fid,
					 frel ? "release" : "allocate");
			if (i == fid && disk[i] != model[i])
				in_flight_done++;
			model[i] = disk[i];
		}

		/* opening cleans what the crash left */
		assert_int_equal(tartan_ipam_new(c->net, &n, 0, &ipam), 0);
		assert_int_equal(count_prefix(c, ".tartan-ipam"), 0);
		assert_int_equal(count_prefix(c, ".last_reserved"), 0);
		tartan_ipam_free(ipam);
	}
	print_message("# crash: %u kills, %lu operations completed, %lu in-flight operations "
		      "found done, %lu temp files left by kills\n",
		      CRASH_ROUNDS, ops, in_flight_done, temp_seen);
	/* not vacuous: the children did work between the kills */
	assert_true(ops >= CRASH_ROUNDS);
}

/* ---- the real host-local ---- */

/* Runs host-local as a runtime does; its stdout in out. Returns its exit status. */
static int host_local(struct ctx *c, const char *command, const char *id, char *out, size_t size)
{
	char conf[512], confpath[128];
	char e_cmd[64], e_id[128];
	int fds[2], status, cfd;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	snprintf(conf, sizeof(conf),
		 "{\"cniVersion\":\"0.3.1\",\"name\":\"" NET_NAME "\",\"ipam\":{\"type\":"
		 "\"host-local\",\"dataDir\":\"%s\",\"ranges\":[[{\"subnet\":\"10.5.3.0/29\","
		 "\"gateway\":\"10.5.3.1\"}]]}}",
		 c->dir);
	snprintf(confpath, sizeof(confpath), "%s/conf.json", c->dir);
	cfd = open(confpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(cfd >= 0);
	assert_int_equal(write(cfd, conf, strlen(conf)), (ssize_t)strlen(conf));
	close(cfd);
	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", command);
	snprintf(e_id, sizeof(e_id), "CNI_CONTAINERID=%s", id);

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* host-local never enters the netns; skel only wants the variable */
		char *envp[] = { e_cmd,
				 e_id,
				 "CNI_NETNS=/proc/self/ns/net",
				 "CNI_IFNAME=eth0",
				 "CNI_PATH=/usr/lib/cni",
				 "PATH=/usr/bin:/bin",
				 NULL };
		char *argv[] = { HOST_LOCAL, NULL };
		int in = open(confpath, O_RDONLY);

		umask(022);
		if (in < 0 || dup2(in, 0) < 0 || dup2(fds[1], 1) < 0)
			_exit(127);
		execve(HOST_LOCAL, argv, envp);
		_exit(127);
	}
	close(fds[1]);
	while (len + 1 < size && (n = read(fds[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* host-local ADD; the address it printed */
static uint32_t host_local_add(struct ctx *c, const char *id)
{
	char out[2048], *p, *slash;
	uint32_t a;
	int st = host_local(c, "ADD", id, out, sizeof(out));

	if (st != 0)
		fail_msg("host-local ADD %s: exit %d: %s", id, st, out);
	p = strstr(out, "\"address\": \"");
	if (!p)
		fail_msg("host-local ADD %s: no address in %s", id, out);
	p += strlen("\"address\": \"");
	slash = strchr(p, '/');
	assert_non_null(slash);
	assert_int_equal(tartan_ip4_addr_parse(p, (size_t)(slash - p), &a), 0);
	return a;
}

static void test_foreign_root(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam = open_store(c, "10.5.3.0/29");
	char cbr0[128], p[256], buf[64], missing[128];
	uint32_t a = 0;

	/* flannel's host-local store beside ours, as the bridge plugin left it */
	snprintf(cbr0, sizeof(cbr0), "%s/cbr0", c->dir);
	assert_int_equal(mkdir(cbr0, 0755), 0);
	snprintf(p, sizeof(p), "%s/10.5.3.3", cbr0);
	put_abs(p, "ctr-f1\r\neth0");
	snprintf(p, sizeof(p), "%s/10.5.3.4", cbr0);
	put_abs(p, "ctr-f2\r\neth0");
	snprintf(p, sizeof(p), "%s/10.9.0.5", cbr0); /* another subnet: not ours to skip */
	put_abs(p, "ctr-f3\r\neth0");
	snprintf(p, sizeof(p), "%s/last_reserved_ip.0", cbr0);
	put_abs(p, "10.5.3.4");
	snprintf(p, sizeof(p), "%s/lock", cbr0);
	put_abs(p, "");
	snprintf(p, sizeof(p), "%s/2001:db8::5", cbr0);
	put_abs(p, "ctr-f4\r\neth0");
	snprintf(p, sizeof(p), "%s/not-a-dir", c->dir); /* a file in the root: skipped */
	put_abs(p, "10.5.3.2");

	assert_int_equal(tartan_ipam_set_foreign_root(ipam, c->dir), 0);
	/* .1 the gateway, .3 .4 flannel's: five host addresses, three for us */
	assert_addr(alloc_ok(ipam, "a", "eth0"), "10.5.3.2");
	assert_addr(alloc_ok(ipam, "b", "eth0"), "10.5.3.5");
	assert_addr(alloc_ok(ipam, "c", "eth0"), "10.5.3.6");
	assert_int_equal(tartan_ipam_allocate(ipam, "d", "eth0", &a), -ENOSPC);
	/* the store's own directory lies in the root too: its files count once, as its own */
	assert_addr(alloc_ok(ipam, "b", "eth0"), "10.5.3.5");
	/* not ours: found by no call, left as they were */
	assert_int_equal(tartan_ipam_find(ipam, "ctr-f1", "eth0", &a), -ENOENT);
	snprintf(p, sizeof(p), "%s/10.5.3.3", cbr0);
	assert_int_equal(slurp(p, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "ctr-f1\r\neth0");
	snprintf(p, sizeof(p), "%s/last_reserved_ip.0", cbr0);
	assert_int_equal(slurp(p, buf, sizeof(buf)), 8);
	assert_false(exists(c, "10.5.3.3"));

	/* one freed by host-local is ours to give again; one it takes meanwhile is not */
	snprintf(p, sizeof(p), "%s/10.5.3.3", cbr0);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/10.5.3.2", cbr0);
	assert_int_equal(tartan_ipam_release(ipam, "a", "eth0", NULL, NULL), 0);
	put_abs(p, "ctr-f5\r\neth0");
	assert_addr(alloc_ok(ipam, "d", "eth0"), "10.5.3.3");
	assert_int_equal(tartan_ipam_allocate(ipam, "e", "eth0", &a), -ENOSPC);

	/* a missing root holds nothing (.4 is flannel's), no root neither (.2 is) */
	snprintf(missing, sizeof(missing), "%s/missing", c->dir);
	assert_int_equal(tartan_ipam_set_foreign_root(ipam, missing), 0);
	assert_addr(alloc_ok(ipam, "e", "eth0"), "10.5.3.4");
	assert_int_equal(tartan_ipam_set_foreign_root(ipam, NULL), 0);
	assert_addr(alloc_ok(ipam, "f", "eth0"), "10.5.3.2");
	tartan_ipam_free(ipam);
}

static void test_host_local_binary(void **state)
{
	struct ctx *c = *state;
	struct tartan_ipam *ipam;
	struct tartan_ipam_entry *e = NULL;
	char out[2048];
	struct stat st;
	uint32_t a;
	size_t n;

	if (access(HOST_LOCAL, X_OK) != 0) {
		print_message("# %s not installed (Debian containernetworking-plugins)\n",
			      HOST_LOCAL);
		skip();
	}
	ipam = open_store(c, "10.5.3.0/29");

	/* tartan first; host-local continues after tartan's last_reserved_ip.0 */
	assert_addr(alloc_ok(ipam, "ctr-a", "eth0"), "10.5.3.2");
	assert_addr(host_local_add(c, "ctr-h1"), "10.5.3.3");
	/* host-local's file, byte for byte what tartan writes */
	assert_file_is(c, "10.5.3.3", "ctr-h1\r\neth0", 12);
	assert_file_is(c, "10.5.3.2", "ctr-a\r\neth0", 11);
	assert_file_is(c, "last_reserved_ip.0", "10.5.3.3", 8);
	assert_int_equal(stat(path_of(c, "lock"), &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_size == 0);

	/* tartan sees host-local's and goes on after it */
	assert_int_equal(tartan_ipam_find(ipam, "ctr-h1", "eth0", &a), 0);
	assert_addr(a, "10.5.3.3");
	assert_addr(alloc_ok(ipam, "ctr-b", "eth0"), "10.5.3.4");
	assert_addr(host_local_add(c, "ctr-h2"), "10.5.3.5");
	assert_addr(alloc_ok(ipam, "ctr-c", "eth0"), "10.5.3.6");

	/* full for both */
	assert_int_equal(tartan_ipam_allocate(ipam, "ctr-d", "eth0", &a), -ENOSPC);
	if (host_local(c, "ADD", "ctr-h3", out, sizeof(out)) == 0)
		fail_msg("host-local ADD on a full range succeeded: %s", out);

	/* host-local releases tartan's allocation, tartan releases host-local's */
	assert_int_equal(host_local(c, "DEL", "ctr-a", out, sizeof(out)), 0);
	assert_false(exists(c, "10.5.3.2"));
	assert_int_equal(tartan_ipam_find(ipam, "ctr-a", "eth0", &a), -ENOENT);
	assert_int_equal(tartan_ipam_release(ipam, "ctr-h1", "eth0", &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_false(exists(c, "10.5.3.3"));

	/* host-local wraps after tartan's last (.6) to the freed .2; tartan after it to .3 */
	assert_addr(host_local_add(c, "ctr-h4"), "10.5.3.2");
	assert_addr(alloc_ok(ipam, "ctr-e", "eth0"), "10.5.3.3");

	assert_int_equal(tartan_ipam_list(ipam, &e, &n), 0);
	assert_int_equal(n, 5);
	{
		static const char *const ids[] = { "ctr-h4", "ctr-e", "ctr-b", "ctr-h2", "ctr-c" };

		for (size_t i = 0; i < n; i++) {
			assert_int_equal(e[i].state, TARTAN_IPAM_HELD);
			assert_string_equal(e[i].id, ids[i]);
			assert_string_equal(e[i].ifname, "eth0");
		}
	}
	tartan_ipam_entries_free(e, n);
	tartan_ipam_free(ipam);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_parse),
		cmocka_unit_test(test_attachment_is_valid),
		cmocka_unit_test_setup_teardown(test_new_checks_and_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocate_until_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocate_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_robin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_local_files_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subnet_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftover_temp_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_held_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_local_binary, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
