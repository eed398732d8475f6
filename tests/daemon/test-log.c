/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for daemon/log.c: line format (plain and journald), level
 * filter, escaping, errno handling, and the rate limiter driven by a fake
 * monotonic clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/log.h"

#define SEC 1000000ULL

/* each test logs into a memory stream and compares what it holds */
struct capture {
	FILE *f;
	char *buf;
	size_t len;
};

static int capture_setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->f = open_memstream(&c->buf, &c->len);
	if (!c->f) {
		free(c);
		return -1;
	}
	tartan_log_setup(c->f, NULL);
	tartan_log_set_level(TARTAN_LOG_INFO);
	*state = c;
	return 0;
}

static int capture_teardown(void **state)
{
	struct capture *c = *state;

	tartan_log_setup(NULL, NULL);
	fclose(c->f);
	free(c->buf);
	free(c);
	return 0;
}

/* what was logged since the last call */
static void expect_output(struct capture *c, const char *expected)
{
	fflush(c->f);
	if (strcmp(c->buf, expected) != 0)
		print_error("log output:\n  expected \"%s\"\n  got      \"%s\"\n", expected,
			    c->buf);
	assert_string_equal(c->buf, expected);
	/* a fresh stream: a rewound one keeps the old bytes after the new */
	fclose(c->f);
	free(c->buf);
	c->buf = NULL;
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
	tartan_log_setup(c->f, NULL);
}

static void test_plain_format(void **state)
{
	struct capture *c = *state;

	tartan_log_error("lease %s lost after %d tries", "10.5.1.0/24", 3);
	expect_output(c, "tartand: error: lease 10.5.1.0/24 lost after 3 tries\n");
	tartan_log_warning("peer skipped, ignoring");
	expect_output(c, "tartand: warning: peer skipped, ignoring\n");
	tartan_log_info("started");
	expect_output(c, "tartand: info: started\n");
	assert_false(tartan_log_is_journal());
}

static void test_level_filter(void **state)
{
	struct capture *c = *state;

	assert_int_equal(tartan_log_get_level(), TARTAN_LOG_INFO);
	tartan_log_debug("hidden");
	expect_output(c, "");
	assert_false(tartan_log_enabled(TARTAN_LOG_DEBUG));
	assert_true(tartan_log_enabled(TARTAN_LOG_INFO));

	tartan_log_set_level(TARTAN_LOG_DEBUG);
	tartan_log_debug("shown");
	expect_output(c, "tartand: debug: shown\n");

	tartan_log_set_level(TARTAN_LOG_ERROR);
	tartan_log_warning("dropped");
	tartan_log_info("dropped");
	tartan_log_error("kept");
	expect_output(c, "tartand: error: kept\n");
	assert_int_equal(tartan_log_get_level(), TARTAN_LOG_ERROR);
}

static void test_one_line_each(void **state)
{
	struct capture *c = *state;

	/* a trailing newline in the format does not make an empty line */
	tartan_log_info("with newline\n");
	expect_output(c, "tartand: info: with newline\n");
	/* a peer's key cannot start a line of its own or forge a priority */
	tartan_log_warning("skipping key %s", "/a\n<0>forged\r\x1b[1m\x7f");
	expect_output(c, "tartand: warning: skipping key /a\\x0a<0>forged\\x0d\\x1b[1m\\x7f\n");
	/* tabs and UTF-8 pass */
	tartan_log_info("a\tb \xc3\xa9");
	expect_output(c, "tartand: info: a\\x09b \xc3\xa9\n");
}

static void test_long_message_cut(void **state)
{
	struct capture *c = *state;
	char *big = malloc(5000);
	size_t n;

	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	tartan_log_info("%s", big);
	fflush(c->f);
	n = strlen(c->buf);
	/* prefix, 1023 bytes of message ending in "...", newline */
	assert_int_equal(n, strlen("tartand: info: ") + 1023 + 1);
	assert_memory_equal(c->buf + n - 5, "x...\n", 5);

	/* escaped control bytes grow the line, which still ends in one newline */
	memset(big, '\n', 1000);
	big[1000] = '\0';
	fclose(c->f);
	free(c->buf);
	c->buf = NULL;
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
	tartan_log_setup(c->f, NULL);
	tartan_log_info("%s", big);
	fflush(c->f);
	n = strlen(c->buf);
	assert_true(n <= 4001);
	assert_int_equal(c->buf[n - 1], '\n');
	assert_null(memchr(c->buf, '\n', n - 1));
	free(big);
}

static void test_errno(void **state)
{
	struct capture *c = *state;
	int r;

	errno = ENOENT;
	tartan_log_error("open: %m");
	expect_output(c, "tartand: error: open: No such file or directory\n");
	assert_int_equal(errno, ENOENT);

	/* -errno or errno in, -errno out, %m names it, errno left alone */
	errno = EAGAIN;
	r = tartan_log_errno(TARTAN_LOG_WARNING, -ECONNREFUSED, "etcd %s: %m", "http://e:2379");
	assert_int_equal(r, -ECONNREFUSED);
	assert_int_equal(errno, EAGAIN);
	expect_output(c, "tartand: warning: etcd http://e:2379: Connection refused\n");
	r = tartan_log_errno(TARTAN_LOG_ERROR, EPERM, "bind: %m");
	assert_int_equal(r, -EPERM);
	expect_output(c, "tartand: error: bind: Operation not permitted\n");

	/* a filtered message still returns the error */
	r = tartan_log_errno(TARTAN_LOG_DEBUG, -EIO, "quiet: %m");
	assert_int_equal(r, -EIO);
	expect_output(c, "");
}

static void test_journal_stream(void **state)
{
	FILE *f = tmpfile();
	char value[64], line[64];
	struct stat st;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);

	/* JOURNAL_STREAM names this very file: "<N>" and no program name */
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	tartan_log_setup(f, value);
	assert_true(tartan_log_is_journal());
	tartan_log_error("e");
	tartan_log_warning("w");
	tartan_log_info("i");
	tartan_log_debug("not at info");
	tartan_log_set_level(TARTAN_LOG_DEBUG);
	tartan_log_debug("d");
	rewind(f);
	for (const char *expected = "<3>e\n<4>w\n<6>i\n<7>d\n"; *expected;) {
		size_t n = strcspn(expected, "\n") + 1;

		assert_non_null(fgets(line, sizeof(line), f));
		assert_int_equal(strlen(line), n);
		assert_memory_equal(line, expected, n);
		expected += n;
	}
	assert_null(fgets(line, sizeof(line), f));

	/* inherited from a parent whose stderr was the journal, but ours is
	 * not: plain lines */
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	tartan_log_setup(f, value);
	assert_false(tartan_log_is_journal());

	/* malformed values */
	static const char *const bad[] = { "",	   "abc",  "1",	   "1:",  ":1",
					   "1:2x", "-1:2", "1:-2", " 1:2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tartan_log_setup(f, bad[i]);
		assert_false(tartan_log_is_journal());
	}
	tartan_log_setup(NULL, NULL);
	assert_false(tartan_log_is_journal());
	fclose(f);
	tartan_log_set_level(TARTAN_LOG_INFO);
}

static void test_memstream_never_journal(void **state)
{
	struct capture *c = *state;

	/* a memory stream has no file descriptor to compare */
	tartan_log_setup(c->f, "0:0");
	assert_false(tartan_log_is_journal());
	tartan_log_info("x");
	expect_output(c, "tartand: info: x\n");
}

static void test_level_names(void **state)
{
	enum tartan_log_level l = TARTAN_LOG_INFO;

	assert_int_equal(tartan_log_level_from_string("error", &l), 0);
	assert_int_equal(l, TARTAN_LOG_ERROR);
	assert_int_equal(tartan_log_level_from_string("warning", &l), 0);
	assert_int_equal(l, TARTAN_LOG_WARNING);
	assert_int_equal(tartan_log_level_from_string("info", &l), 0);
	assert_int_equal(l, TARTAN_LOG_INFO);
	assert_int_equal(tartan_log_level_from_string("debug", &l), 0);
	assert_int_equal(l, TARTAN_LOG_DEBUG);
	/* only the four the flag documents; the out-parameter stays */
	l = TARTAN_LOG_INFO;
	assert_int_equal(tartan_log_level_from_string("notice", &l), -EINVAL);
	assert_int_equal(tartan_log_level_from_string("Error", &l), -EINVAL);
	assert_int_equal(tartan_log_level_from_string("", &l), -EINVAL);
	assert_int_equal(tartan_log_level_from_string(NULL, &l), -EINVAL);
	assert_int_equal(l, TARTAN_LOG_INFO);
	assert_string_equal(tartan_log_level_to_string(TARTAN_LOG_ERROR), "error");
	assert_string_equal(tartan_log_level_to_string(TARTAN_LOG_WARNING), "warning");
	assert_string_equal(tartan_log_level_to_string(TARTAN_LOG_INFO), "info");
	assert_string_equal(tartan_log_level_to_string(TARTAN_LOG_DEBUG), "debug");
	assert_string_equal(tartan_log_level_to_string((enum tartan_log_level)42), "unknown");
}

static void test_ratelimit_window(void **state)
{
	struct tartan_ratelimit rl = TARTAN_RATELIMIT_INIT(10 * SEC, 3);
	uint64_t t = 1000 * SEC;

	/* three pass, the rest of the window is refused and counted */
	assert_true(tartan_ratelimit_ok(&rl, t));
	assert_true(tartan_ratelimit_ok(&rl, t + 1 * SEC));
	assert_true(tartan_ratelimit_ok(&rl, t + 2 * SEC));
	assert_false(tartan_ratelimit_ok(&rl, t + 3 * SEC));
	assert_false(tartan_ratelimit_ok(&rl, t + 10 * SEC - 1));
	assert_int_equal(tartan_ratelimit_take_suppressed(&rl), 2);
	assert_int_equal(tartan_ratelimit_take_suppressed(&rl), 0);
	assert_false(tartan_ratelimit_ok(&rl, t + 10 * SEC - 1));

	/* the window is measured from its first event: a new one at t+10s */
	assert_true(tartan_ratelimit_ok(&rl, t + 10 * SEC));
	assert_int_equal(tartan_ratelimit_take_suppressed(&rl), 1);
	assert_true(tartan_ratelimit_ok(&rl, t + 19 * SEC));
	assert_true(tartan_ratelimit_ok(&rl, t + 19 * SEC));
	assert_false(tartan_ratelimit_ok(&rl, t + 19 * SEC));

	/* long quiet: a fresh window */
	assert_true(tartan_ratelimit_ok(&rl, t + 3600 * SEC));

	/* a clock that steps back starts a window rather than stalling */
	assert_true(tartan_ratelimit_ok(&rl, t + 3600 * SEC));
	assert_true(tartan_ratelimit_ok(&rl, t + 3600 * SEC));
	assert_false(tartan_ratelimit_ok(&rl, t + 3600 * SEC));
	assert_true(tartan_ratelimit_ok(&rl, t));
}

static void test_ratelimit_at_time_zero(void **state)
{
	/* a monotonic clock may start near 0: the first window opens there */
	struct tartan_ratelimit rl = TARTAN_RATELIMIT_INIT(5 * SEC, 1);

	assert_true(tartan_ratelimit_ok(&rl, 0));
	assert_false(tartan_ratelimit_ok(&rl, 1));
	assert_false(tartan_ratelimit_ok(&rl, 5 * SEC - 1));
	assert_true(tartan_ratelimit_ok(&rl, 5 * SEC));
}

static void test_ratelimit_off(void **state)
{
	struct tartan_ratelimit no_interval = TARTAN_RATELIMIT_INIT(0, 1);
	struct tartan_ratelimit no_burst = TARTAN_RATELIMIT_INIT(SEC, 0);

	for (int i = 0; i < 100; i++) {
		assert_true(tartan_ratelimit_ok(&no_interval, 7));
		assert_true(tartan_ratelimit_ok(&no_burst, 7));
	}
	assert_int_equal(tartan_ratelimit_take_suppressed(&no_interval), 0);
}

static void test_log_ratelimited(void **state)
{
	struct capture *c = *state;
	struct tartan_ratelimit rl = TARTAN_RATELIMIT_INIT(60 * SEC, 1);
	uint64_t t = 5 * SEC;

	/* "network config missing" once a minute, whatever the retry rate */
	for (int i = 0; i < 4; i++)
		tartan_log_ratelimited(&rl, t + (uint64_t)i * SEC, TARTAN_LOG_WARNING,
				       "no network config at %s, waiting",
				       "/coreos.com/network/config");
	expect_output(c, "tartand: warning: no network config at /coreos.com/network/config, "
			 "waiting\n");
	tartan_log_ratelimited(&rl, t + 60 * SEC, TARTAN_LOG_WARNING, "still %s", "missing");
	expect_output(c, "tartand: warning: still missing (3 similar messages suppressed)\n");
	tartan_log_ratelimited(&rl, t + 61 * SEC, TARTAN_LOG_WARNING, "dropped");
	tartan_log_ratelimited(&rl, t + 120 * SEC, TARTAN_LOG_WARNING, "again");
	expect_output(c, "tartand: warning: again (1 similar message suppressed)\n");
	tartan_log_ratelimited(&rl, t + 180 * SEC, TARTAN_LOG_WARNING, "quiet since");
	expect_output(c, "tartand: warning: quiet since\n");

	/* below the level: neither logged nor counted against the limit */
	tartan_log_ratelimited(&rl, t + 240 * SEC, TARTAN_LOG_DEBUG, "debug");
	expect_output(c, "");
	tartan_log_ratelimited(&rl, t + 240 * SEC, TARTAN_LOG_ERROR, "error %m");
	assert_int_equal(tartan_ratelimit_take_suppressed(&rl), 0);
	fflush(c->f);
	assert_non_null(strstr(c->buf, "tartand: error: error "));
}

static void test_ratelimited_keeps_errno(void **state)
{
	struct capture *c = *state;
	struct tartan_ratelimit rl = TARTAN_RATELIMIT_INIT(SEC, 1);

	errno = ETIMEDOUT;
	tartan_log_ratelimited(&rl, 0, TARTAN_LOG_ERROR, "etcd: %m");
	assert_int_equal(errno, ETIMEDOUT);
	expect_output(c, "tartand: error: etcd: Connection timed out\n");
	tartan_log_ratelimited(&rl, 1, TARTAN_LOG_ERROR, "etcd: %m");
	assert_int_equal(errno, ETIMEDOUT);
	expect_output(c, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_format, capture_setup, capture_teardown),
		cmocka_unit_test_setup_teardown(test_level_filter, capture_setup, capture_teardown),
		cmocka_unit_test_setup_teardown(test_one_line_each, capture_setup,
						capture_teardown),
		cmocka_unit_test_setup_teardown(test_long_message_cut, capture_setup,
						capture_teardown),
		cmocka_unit_test_setup_teardown(test_errno, capture_setup, capture_teardown),
		cmocka_unit_test(test_journal_stream),
		cmocka_unit_test_setup_teardown(test_memstream_never_journal, capture_setup,
						capture_teardown),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_ratelimit_window),
		cmocka_unit_test(test_ratelimit_at_time_zero),
		cmocka_unit_test(test_ratelimit_off),
		cmocka_unit_test_setup_teardown(test_log_ratelimited, capture_setup,
						capture_teardown),
		cmocka_unit_test_setup_teardown(test_ratelimited_keeps_errno, capture_setup,
						capture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
