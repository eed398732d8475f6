/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for netcfg/file.c: atomic writes (unchanged content is left
 * alone, the mode is exact whatever the umask, no temp file survives a
 * success or a failure, parents are created) and bounded reads. Each test
 * works in its own mktemp directory, removed afterwards.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netcfg/file.h"

struct ctx {
	char dir[64];
	char path[256]; /* scratch for path_of() */
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	/* a test may leave a directory without write permission */
	if (flag == FTW_DP)
		(void)chmod(p, 0700);
	return remove(p) < 0 ? -1 : 0;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/tartan-test-file.XXXXXX");
	if (!mkdtemp(c->dir)) {
		free(c);
		return -1;
	}
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
	snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, name);
	return c->path;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the names in a directory, sorted, joined by ' ': what the tests compare */
static char *list_dir(const char *dir)
{
	char *names[64], *out;
	size_t n = 0, len = 1;
	struct dirent *e;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		assert_true(n < 64);
		names[n] = strdup(e->d_name);
		assert_non_null(names[n]);
		len += strlen(names[n]) + 1;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	out = calloc(1, len);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, names[i]);
		free(names[i]);
	}
	return out;
}

static void expect_listing(const char *dir, const char *expected)
{
	char *got = list_dir(dir);

	if (strcmp(got, expected) != 0)
		print_error("directory %s:\n  expected \"%s\"\n  got      \"%s\"\n", dir, expected,
			    got);
	assert_string_equal(got, expected);
	free(got);
}

static void expect_content(const char *path, const char *expected, size_t expected_len)
{
	char *got = NULL;
	size_t got_len = 0;

	assert_int_equal(tartan_file_read(path, 1 << 24, &got, &got_len), 0);
	assert_int_equal(got_len, expected_len);
	assert_memory_equal(got, expected, expected_len);
	free(got);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void put(const char *path, const char *s, mode_t mode, bool expect_changed)
{
	bool changed = !expect_changed;

	assert_int_equal(tartan_file_write_atomic(path, s, strlen(s), mode, &changed), 0);
	if (changed != expect_changed)
		print_error("%s: expected changed=%d, got %d\n", path, expect_changed, changed);
	assert_int_equal(changed, expect_changed);
}

static void test_write_new_file(void **state)
{
	struct ctx *c = *state;
	const char *p = path_of(c, "subnet.env");

	put(p, "FLANNEL_NETWORK=10.5.0.0/16\n", 0644, true);
	expect_content(p, "FLANNEL_NETWORK=10.5.0.0/16\n", 28);
	assert_int_equal(mode_of(p), 0644);
	expect_listing(c->dir, "subnet.env");
}

/* the hint variant: same result on disk (content, exact mode, no temp file left), only
 * without the fsyncs */
static void test_write_hint(void **state)
{
	struct ctx *c = *state;
	const char *p = path_of(c, "last_reserved_ip.0");

	assert_int_equal(tartan_file_write_hint(p, "10.5.3.7", 8, 0644), 0);
	expect_content(p, "10.5.3.7", 8);
	assert_int_equal(mode_of(p), 0644);
	assert_int_equal(tartan_file_write_hint(p, "10.5.3.10", 9, 0600), 0);
	expect_content(p, "10.5.3.10", 9);
	assert_int_equal(mode_of(p), 0600);
	expect_listing(c->dir, "last_reserved_ip.0");
}

static void test_unchanged_not_rewritten(void **state)
{
	struct ctx *c = *state;
	const char *p = path_of(c, "a.conf");
	struct timespec old[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
	struct stat before, after;

	put(p, "{\"cniVersion\":\"1.0.0\"}\n", 0644, true);
	/* an mtime far in the past: any rewrite would move it to now */
	assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
	assert_int_equal(stat(p, &before), 0);

	put(p, "{\"cniVersion\":\"1.0.0\"}\n", 0644, false);
	assert_int_equal(stat(p, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_mtim.tv_sec, 1000000000);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	assert_int_equal(after.st_ctim.tv_sec, before.st_ctim.tv_sec);
	assert_int_equal(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
	expect_listing(c->dir, "a.conf");
}

static void test_changed_content_rewritten(void **state)
{
	struct ctx *c = *state;
	const char *p = path_of(c, "a.conf");
	struct stat before, after;

	put(p, "one\n", 0644, true);
	assert_int_equal(stat(p, &before), 0);
	/* same length, one byte differs: the size check alone would not see it */
	put(p, "onE\n", 0644, true);
	assert_int_equal(stat(p, &after), 0);
	assert_int_not_equal(after.st_ino, before.st_ino);
	expect_content(p, "onE\n", 4);
	/* shorter, then longer */
	put(p, "on", 0644, true);
	expect_content(p, "on", 2);
	put(p, "one more line\n", 0644, true);
	expect_content(p, "one more line\n", 14);
	expect_listing(c->dir, "a.conf");
}

static void test_mode_change_rewrites(void **state)
{
	struct ctx *c = *state;
	const char *p = path_of(c, "state");

	put(p, "x", 0644, true);
	put(p, "x", 0600, true);
	assert_int_equal(mode_of(p), 0600);
	put(p, "x", 0600, false);
}

static void test_mode_exact_despite_umask(void **state)
{
	struct ctx *c = *state;
	const char *p = path_of(c, "f");

	/* a umask that would strip group and other bits */
	umask(077);
	put(p, "a", 0644, true);
	assert_int_equal(mode_of(p), 0644);
	/* a umask of 0 must not widen a private file */
	umask(0);
	put(p, "b", 0600, true);
	assert_int_equal(mode_of(p), 0600);
	/* unusual bits pass through too */
	umask(0777);
	put(p, "c", 0751, true);
	assert_int_equal(mode_of(p), 0751);
	umask(022);
	expect_listing(c->dir, "f");
}

static void test_parents_created_0755(void **state)
{
	struct ctx *c = *state;
	char top[256], mid[256], leaf[256];

	snprintf(top, sizeof(top), "%s/etc", c->dir);
	snprintf(mid, sizeof(mid), "%s/etc/cni", c->dir);
	snprintf(leaf, sizeof(leaf), "%s/etc/cni/net.d", c->dir);
	umask(077);
	put(path_of(c, "etc/cni/net.d/10-tartan.conflist"), "{}\n", 0644, true);
	umask(022);
	assert_int_equal(mode_of(top), 0755);
	assert_int_equal(mode_of(mid), 0755);
	assert_int_equal(mode_of(leaf), 0755);
	expect_listing(leaf, "10-tartan.conflist");

	/* existing directories keep their mode */
	assert_int_equal(chmod(mid, 0700), 0);
	put(path_of(c, "etc/cni/other/x"), "{}\n", 0644, true);
	assert_int_equal(mode_of(mid), 0700);

	/* "//" in the path is one separator */
	put(path_of(c, "a//b///c"), "z", 0644, true);
	expect_content(path_of(c, "a/b/c"), "z", 1);
}

static void test_mkdir_parents_not_a_directory(void **state)
{
	struct ctx *c = *state;

	put(path_of(c, "plain"), "x", 0644, true);
	assert_int_equal(tartan_file_mkdir_parents(path_of(c, "plain/sub/f"), 0755), -ENOTDIR);
	assert_int_equal(tartan_file_mkdir_parents(path_of(c, "dir/sub/f"), 0755), 0);
	assert_int_equal(mode_of(path_of(c, "dir/sub")), 0755);
	assert_int_equal(tartan_file_mkdir_parents(path_of(c, "dir/sub/f"), 0755), 0);
	assert_int_equal(tartan_file_mkdir_parents(path_of(c, "dir/x"), 010000), -EINVAL);
	expect_listing(c->dir, "dir plain");
}

static void test_failure_enotdir_leaves_nothing(void **state)
{
	struct ctx *c = *state;
	bool changed = false;

	/* run as root, so a read-only directory would not stop us: a path
	 * through a regular file fails for everyone */
	put(path_of(c, "regular"), "keep", 0644, true);
	assert_int_equal(
		tartan_file_write_atomic(path_of(c, "regular/subnet.env"), "x", 1, 0644, &changed),
		-ENOTDIR);
	assert_int_equal(tartan_file_write_atomic(path_of(c, "regular/deeper/subnet.env"), "x", 1,
						  0644, &changed),
			 -ENOTDIR);
	assert_false(changed); /* not written on error */
	expect_listing(c->dir, "regular");
	expect_content(path_of(c, "regular"), "keep", 4);
}

static void test_failure_after_temp_removes_it(void **state)
{
	struct ctx *c = *state;
	bool changed = false;

	/* the target is a non-empty directory: the temp file is created and
	 * written, then the rename fails */
	assert_int_equal(mkdir(path_of(c, "target"), 0755), 0);
	put(path_of(c, "target/inside"), "i", 0644, true);
	assert_int_equal(tartan_file_write_atomic(path_of(c, "target"), "data", 4, 0644, &changed),
			 -EISDIR);
	assert_false(changed);
	expect_listing(c->dir, "target");
	expect_listing(path_of(c, "target"), "inside");
}

static void test_write_error_removes_temp(void **state)
{
	struct ctx *c = *state;
	struct rlimit old, small;
	char big[4096];
	int r;

	put(path_of(c, "conf"), "old content\n", 0644, true);
	/* a file size limit makes write() fail half way with EFBIG */
	memset(big, 'x', sizeof(big));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 1024;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	r = tartan_file_write_atomic(path_of(c, "conf"), big, sizeof(big), 0644, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);

	assert_int_equal(r, -EFBIG);
	expect_listing(c->dir, "conf");
	expect_content(path_of(c, "conf"), "old content\n", 12);
}

static void test_no_temp_after_many_writes(void **state)
{
	struct ctx *c = *state;
	char buf[64];

	for (int i = 0; i < 50; i++) {
		snprintf(buf, sizeof(buf), "FLANNEL_SUBNET=10.5.%d.1/24\n", i);
		put(path_of(c, "subnet.env"), buf, 0644, true);
		put(path_of(c, "subnet.env"), buf, 0644, false);
	}
	expect_listing(c->dir, "subnet.env");
	expect_content(path_of(c, "subnet.env"), buf, strlen(buf));
}

static void test_symlink_replaced_not_followed(void **state)
{
	struct ctx *c = *state;
	char link_path[256];
	struct stat st;

	put(path_of(c, "real"), "same", 0644, true);
	snprintf(link_path, sizeof(link_path), "%s/link", c->dir);
	assert_int_equal(symlink("real", link_path), 0);
	/* even with equal content the link is replaced by a file of our own */
	put(link_path, "same", 0644, true);
	put(link_path, "new", 0644, true);
	assert_int_equal(lstat(link_path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	expect_content(path_of(c, "real"), "same", 4);
	expect_content(link_path, "new", 3);
}

static void test_empty_and_large_content(void **state)
{
	struct ctx *c = *state;
	size_t n = 3 * 1024 * 1024 + 17;
	char *big = malloc(n);

	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7);
	assert_int_equal(tartan_file_write_atomic(path_of(c, "empty"), NULL, 0, 0644, NULL), 0);
	put(path_of(c, "empty"), "", 0644, false);
	expect_content(path_of(c, "empty"), "", 0);

	{
		bool changed = false;

		assert_int_equal(
			tartan_file_write_atomic(path_of(c, "big"), big, n, 0600, &changed), 0);
		assert_true(changed);
		assert_int_equal(
			tartan_file_write_atomic(path_of(c, "big"), big, n, 0600, &changed), 0);
		assert_false(changed);
		/* a difference in the last byte, past the first compare chunk */
		big[n - 1] ^= 1;
		assert_int_equal(
			tartan_file_write_atomic(path_of(c, "big"), big, n, 0600, &changed), 0);
		assert_true(changed);
	}
	expect_content(path_of(c, "big"), big, n);
	free(big);
	expect_listing(c->dir, "big empty");
}

static void test_invalid_arguments(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(tartan_file_write_atomic(path_of(c, "f"), "x", 1, 010644, NULL), -EINVAL);
	assert_int_equal(tartan_file_write_atomic("", "x", 1, 0644, NULL), -EINVAL);
	assert_int_equal(tartan_file_write_atomic(path_of(c, "f"), NULL, 1, 0644, NULL), -EINVAL);
	assert_int_equal(tartan_file_write_atomic(path_of(c, "dir/"), "x", 1, 0644, NULL), -EISDIR);
	assert_int_equal(tartan_file_write_atomic(path_of(c, ".."), "x", 1, 0644, NULL), -EISDIR);
	expect_listing(c->dir, "");
}

static void test_read_limits(void **state)
{
	struct ctx *c = *state;
	char *got = NULL;
	size_t len = 99;

	put(path_of(c, "ten"), "0123456789", 0644, true);
	/* exactly max bytes is fine, one more is not */
	assert_int_equal(tartan_file_read(path_of(c, "ten"), 10, &got, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(got, "0123456789"); /* NUL-terminated */
	free(got);
	got = NULL;
	assert_int_equal(tartan_file_read(path_of(c, "ten"), 9, &got, &len), -EFBIG);
	assert_null(got);
	assert_int_equal(len, 10); /* untouched on error */
	assert_int_equal(tartan_file_read(path_of(c, "ten"), 0, &got, &len), -EFBIG);

	assert_int_equal(tartan_file_read(path_of(c, "missing"), 10, &got, &len), -ENOENT);
	assert_int_equal(tartan_file_read(c->dir, 10, &got, &len), -EISDIR);

	put(path_of(c, "empty"), "", 0644, true);
	assert_int_equal(tartan_file_read(path_of(c, "empty"), 0, &got, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(got, "");
	free(got);

	/* NULs in the content are kept and counted */
	assert_int_equal(tartan_file_write_atomic(path_of(c, "nul"), "a\0b", 3, 0644, NULL), 0);
	assert_int_equal(tartan_file_read(path_of(c, "nul"), 3, &got, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(got, "a\0b", 4);
	free(got);
}

static void test_read_size_unknown(void **state)
{
	char *got = NULL;
	size_t len = 0;

	/* /proc files report st_size 0: the limit holds on what read() returns */
	assert_int_equal(tartan_file_read("/proc/self/status", 1 << 20, &got, &len), 0);
	assert_true(len > 100);
	assert_int_equal(strlen(got), len);
	assert_non_null(strstr(got, "Name:"));
	free(got);
	assert_int_equal(tartan_file_read("/proc/self/status", 50, &got, &len), -EFBIG);
	/* a FIFO is refused, not waited on */
	{
		struct ctx *c = *state;

		assert_int_equal(mkfifo(path_of(c, "fifo"), 0600), 0);
		assert_int_equal(tartan_file_read(path_of(c, "fifo"), 10, &got, &len), -EINVAL);
		/* and writing over it replaces it without blocking */
		put(path_of(c, "fifo"), "now a file", 0644, true);
		expect_content(path_of(c, "fifo"), "now a file", 10);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_new_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_not_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_content_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_change_rewrites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_exact_despite_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parents_created_0755, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_parents_not_a_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failure_enotdir_leaves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failure_after_temp_removes_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_error_removes_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_temp_after_many_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_replaced_not_followed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_large_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_size_unknown, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
