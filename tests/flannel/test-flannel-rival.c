/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for flannel/rival.c: each overwrite of our lease key counted once
 * by its revision, the rival's value read (or not, when it is no lease), three
 * within 60 s making a fight, write-backs 1 s to 30 s apart while it lasts,
 * and the rival forgotten clear_s after its last overwrite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "flannel/rival.h"

#define RIVAL_VALUE "{\"PublicIP\":\"192.0.2.99\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}"
#define IP(a, b, c, d)                                                                             \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static enum tartan_flannel_rival_event put(struct tartan_flannel_rival *r, double now, int64_t rev)
{
	return tartan_flannel_rival_overwrite(r, now, rev, RIVAL_VALUE, strlen(RIVAL_VALUE));
}

static void test_counted_once_by_revision(void **state)
{
	struct tartan_flannel_rival r;

	tartan_flannel_rival_init(&r, 0);
	assert_false(r.active);
	assert_true(r.clear_s == TARTAN_FLANNEL_RIVAL_CLEAR_S);
	assert_int_equal(put(&r, 100., 50), TARTAN_FLANNEL_RIVAL_NEW);
	assert_true(r.active);
	assert_false(r.fighting);
	assert_true(r.parsed);
	assert_int_equal(r.attrs.public_ip, IP(192, 0, 2, 99));
	assert_string_equal(r.attrs.backend_type, "host-gw");
	/* the watch event and a read of the same put; an older event arriving late */
	assert_int_equal(put(&r, 100.1, 50), TARTAN_FLANNEL_RIVAL_SEEN);
	assert_int_equal(put(&r, 100.2, 49), TARTAN_FLANNEL_RIVAL_SEEN);
	assert_int_equal(r.overwrites, 1);
	assert_int_equal(r.total, 1);
	/* not fighting: write back at once, every time */
	assert_true(tartan_flannel_rival_writeback_delay(&r, 100.2) == 0.);
	tartan_flannel_rival_wrote_back(&r, 100.2);
	assert_true(tartan_flannel_rival_writeback_delay(&r, 100.2) == 0.);
}

static void test_value_not_a_lease(void **state)
{
	static const char junk[] = "\x1b[2J{\"PublicIP\":";
	struct tartan_flannel_rival r;

	tartan_flannel_rival_init(&r, 0);
	assert_int_equal(put(&r, 1., 10), TARTAN_FLANNEL_RIVAL_NEW);
	assert_true(r.parsed);
	assert_int_equal(tartan_flannel_rival_overwrite(&r, 2., 11, junk, sizeof(junk) - 1),
			 TARTAN_FLANNEL_RIVAL_NEW);
	assert_false(r.parsed);
	assert_int_equal(r.attrs.public_ip, 0);
	assert_string_equal(r.attrs.backend_type, "");
	assert_int_equal(tartan_flannel_rival_overwrite(&r, 3., 12, NULL, 0),
			 TARTAN_FLANNEL_RIVAL_FIGHT);
	assert_false(r.parsed);
	assert_int_equal(r.overwrites, 3);
}

/* 3 within 60 s: a fight; 3 spread wider: none */
static void test_fight_needs_three_within_a_minute(void **state)
{
	struct tartan_flannel_rival r;

	tartan_flannel_rival_init(&r, 1000.);
	assert_int_equal(put(&r, 0., 1), TARTAN_FLANNEL_RIVAL_NEW);
	assert_int_equal(put(&r, 40., 2), TARTAN_FLANNEL_RIVAL_NEW);
	assert_int_equal(put(&r, 80., 3), TARTAN_FLANNEL_RIVAL_NEW); /* 0 .. 80: 80 s */
	assert_false(r.fighting);
	assert_int_equal(put(&r, 100., 4), TARTAN_FLANNEL_RIVAL_FIGHT); /* 40 .. 100: 60 s */
	assert_true(r.fighting);
	assert_int_equal(put(&r, 101., 5), TARTAN_FLANNEL_RIVAL_NEW); /* starts once */
	assert_true(r.fighting);
	assert_int_equal(r.overwrites, 5);
}

/* while fighting: the first write-back at once, then gaps of 1, 2, 4, ... up to 30 s */
static void test_backoff_doubles_to_30s(void **state)
{
	static const double gaps[] = { 1, 2, 4, 8, 16, 30, 30, 30 };
	struct tartan_flannel_rival r;
	double now = 10.;

	tartan_flannel_rival_init(&r, 0);
	put(&r, now, 1);
	put(&r, now, 2);
	assert_int_equal(put(&r, now, 3), TARTAN_FLANNEL_RIVAL_FIGHT);
	assert_true(tartan_flannel_rival_writeback_delay(&r, now) == 0.);
	for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
		tartan_flannel_rival_wrote_back(&r, now);
		put(&r, now + 0.5, 10 + (int64_t)i);
		if (tartan_flannel_rival_writeback_delay(&r, now + 0.5) != gaps[i] - 0.5)
			fail_msg("gap %zu: expected %.1f s, got %.1f s", i, gaps[i] - 0.5,
				 tartan_flannel_rival_writeback_delay(&r, now + 0.5));
		now += gaps[i];
		assert_true(tartan_flannel_rival_writeback_delay(&r, now) == 0.);
	}
}

/* forgotten clear_s after the last overwrite, not before; the next one starts afresh */
static void test_clears_after_quiet(void **state)
{
	struct tartan_flannel_rival r;

	tartan_flannel_rival_init(&r, 120.);
	assert_false(tartan_flannel_rival_expire(&r, 0.));
	assert_true(tartan_flannel_rival_clear_delay(&r, 0.) == 0.);
	put(&r, 0., 1);
	put(&r, 1., 2);
	put(&r, 2., 3);
	tartan_flannel_rival_wrote_back(&r, 2.);
	assert_true(r.fighting);
	assert_true(tartan_flannel_rival_clear_delay(&r, 100.) == 22.);
	assert_false(tartan_flannel_rival_expire(&r, 121.9));
	assert_true(r.active);
	assert_true(tartan_flannel_rival_expire(&r, 122.));
	assert_false(r.active);
	assert_false(r.fighting);
	assert_int_equal(r.overwrites, 0);
	assert_int_equal(r.total, 3);
	assert_false(tartan_flannel_rival_expire(&r, 500.));
	/* a new episode: counted from 1, not fighting, write-back at once */
	assert_int_equal(put(&r, 600., 4), TARTAN_FLANNEL_RIVAL_NEW);
	assert_int_equal(r.overwrites, 1);
	assert_int_equal(r.total, 4);
	assert_true(tartan_flannel_rival_writeback_delay(&r, 600.) == 0.);
	/* a revision seen before the clear is still not counted again */
	assert_int_equal(put(&r, 601., 3), TARTAN_FLANNEL_RIVAL_SEEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counted_once_by_revision),
		cmocka_unit_test(test_value_not_a_lease),
		cmocka_unit_test(test_fight_needs_three_within_a_minute),
		cmocka_unit_test(test_backoff_doubles_to_30s),
		cmocka_unit_test(test_clears_after_quiet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
