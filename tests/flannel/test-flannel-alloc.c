/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for flannel/alloc.c: flanneld's allocateSubnet (walk from
 * SubnetMin in SubnetLen steps to SubnetMax inclusive, skip what overlaps a
 * lease, pick among the first 100 free), "out of subnets", the subnet-fits
 * rule, and the cost with thousands of leases.
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
#include <time.h>

#include "flannel/alloc.h"

#define IP(a, b, c, d)                                                                             \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static struct tartan_flannel_config *config(const char *json)
{
	struct tartan_flannel_config *c = NULL;
	char *error = NULL;
	int r;

	r = tartan_flannel_config_parse(json, strlen(json), &c, &error);
	if (r != 0)
		print_error("config %s: %d (%s)\n", json, r, error ? error : "");
	assert_int_equal(r, 0);
	return c;
}

static uint32_t alloc_ok(const struct tartan_flannel_config *c, const struct tartan_ip4_net *taken,
			 size_t n, uint32_t random)
{
	struct tartan_ip4_net sn = { 0 };
	int r = tartan_flannel_alloc_subnet(c, taken, n, random, &sn);

	if (r != 0)
		print_error("alloc with %zu taken, random %u: expected 0, got %d\n", n, random, r);
	assert_int_equal(r, 0);
	assert_int_equal(sn.len, c->subnet_len);
	assert_true(tartan_flannel_subnet_fits(c, &sn));
	for (size_t i = 0; i < n; i++)
		if (tartan_ip4_net_overlaps(&sn, &taken[i])) {
			char a[TARTAN_IP4_NET_STRLEN], b[TARTAN_IP4_NET_STRLEN];

			print_error("allocated %s overlaps taken %s\n",
				    tartan_ip4_net_format(&sn, a),
				    tartan_ip4_net_format(&taken[i], b));
			fail();
		}
	return sn.addr;
}

static void expect_addr(uint32_t got, uint32_t want)
{
	char a[TARTAN_IP4_ADDR_STRLEN], b[TARTAN_IP4_ADDR_STRLEN];

	if (got != want)
		print_error("expected %s, got %s\n", tartan_ip4_addr_format(want, a),
			    tartan_ip4_addr_format(got, b));
	assert_int_equal(got, want);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* a fixed xorshift, so a failure reproduces */
static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void shuffle(struct tartan_ip4_net *v, size_t n)
{
	uint32_t seed = 2463534242u;

	for (size_t i = n; i > 1; i--) {
		size_t j = next_random(&seed) % i;
		struct tartan_ip4_net t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

static void test_first_candidates(void **state)
{
	struct tartan_flannel_config *c = config("{\"Network\":\"10.5.0.0/16\"}");

	/* candidates start at SubnetMin, the network's second subnet */
	expect_addr(alloc_ok(c, NULL, 0, 0), IP(10, 5, 1, 0));
	expect_addr(alloc_ok(c, NULL, 0, 1), IP(10, 5, 2, 0));
	/* the 100th free candidate is the last one that can be picked */
	expect_addr(alloc_ok(c, NULL, 0, 99), IP(10, 5, 100, 0));
	expect_addr(alloc_ok(c, NULL, 0, 100), IP(10, 5, 1, 0));
	expect_addr(alloc_ok(c, NULL, 0, 199), IP(10, 5, 100, 0));
	expect_addr(alloc_ok(c, NULL, 0, UINT32_MAX), IP(10, 5, 1 + UINT32_MAX % 100, 0));
	tartan_flannel_config_free(c);
}

static void test_only_first_100(void **state)
{
	struct tartan_flannel_config *c = config("{\"Network\":\"10.5.0.0/16\"}");
	bool seen[256] = { false };
	size_t n_seen = 0;

	/* 255 free candidates, but only the first 100 are ever picked, each of them */
	for (uint32_t r = 0; r < 1000; r++) {
		uint32_t a = alloc_ok(c, NULL, 0, r);
		unsigned third = (a >> 8) & 0xff;

		if (third < 1 || third > 100)
			print_error("random %u gave 10.5.%u.0, beyond the first 100\n", r, third);
		assert_in_range(third, 1, 100);
		if (!seen[third]) {
			seen[third] = true;
			n_seen++;
		}
	}
	assert_int_equal(n_seen, 100);
	tartan_flannel_config_free(c);
}

static void test_skips_taken(void **state)
{
	struct tartan_flannel_config *c = config("{\"Network\":\"10.5.0.0/16\"}");
	struct tartan_ip4_net taken[] = {
		{ .addr = IP(10, 5, 3, 0), .len = 24 },
		{ .addr = IP(10, 5, 1, 0), .len = 24 },
	};
	struct tartan_ip4_net wide[] = {
		/* a /20 reservation covers 10.5.0.0 to 10.5.15.255 */
		{ .addr = IP(10, 5, 0, 0), .len = 20 },
	};
	struct tartan_ip4_net small[] = {
		/* a smaller subnet inside a candidate takes the candidate */
		{ .addr = IP(10, 5, 1, 128), .len = 25 },
		{ .addr = IP(10, 5, 2, 4), .len = 30 },
		{ .addr = IP(10, 5, 3, 255), .len = 32 },
	};
	struct tartan_ip4_net host_bits[] = {
		/* flannel's Overlaps masks: 10.5.1.7/24 is 10.5.1.0/24 */
		{ .addr = IP(10, 5, 1, 7), .len = 24 },
	};
	struct tartan_ip4_net elsewhere[] = {
		{ .addr = IP(10, 6, 1, 0), .len = 24 },
		{ .addr = IP(192, 168, 0, 0), .len = 16 },
	};

	expect_addr(alloc_ok(c, taken, 2, 0), IP(10, 5, 2, 0));
	expect_addr(alloc_ok(c, taken, 2, 1), IP(10, 5, 4, 0));
	/* still 100 candidates: the 100th free one is 10.5.102.0 */
	expect_addr(alloc_ok(c, taken, 2, 99), IP(10, 5, 102, 0));
	expect_addr(alloc_ok(c, wide, 1, 0), IP(10, 5, 16, 0));
	expect_addr(alloc_ok(c, wide, 1, 99), IP(10, 5, 115, 0));
	expect_addr(alloc_ok(c, small, 3, 0), IP(10, 5, 4, 0));
	expect_addr(alloc_ok(c, host_bits, 1, 0), IP(10, 5, 2, 0));
	expect_addr(alloc_ok(c, elsewhere, 2, 0), IP(10, 5, 1, 0));
	/* a taken list covering the whole network */
	struct tartan_ip4_net all = { .addr = 0, .len = 0 };
	struct tartan_ip4_net sn = { .addr = 77, .len = 77 };

	assert_int_equal(tartan_flannel_alloc_subnet(c, &all, 1, 0, &sn), -ENOSPC);
	assert_int_equal(sn.addr, 77);
	tartan_flannel_config_free(c);
}

static void test_min_max_inclusive(void **state)
{
	struct tartan_flannel_config *c =
		config("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.10.0\","
		       "\"SubnetMax\":\"10.5.12.0\"}");
	struct tartan_ip4_net taken[] = {
		{ .addr = IP(10, 5, 10, 0), .len = 24 },
		{ .addr = IP(10, 5, 11, 0), .len = 24 },
	};
	struct tartan_ip4_net all[] = {
		{ .addr = IP(10, 5, 12, 0), .len = 24 },
		{ .addr = IP(10, 5, 10, 0), .len = 23 },
	};
	struct tartan_ip4_net sn = { 0 };

	expect_addr(alloc_ok(c, NULL, 0, 0), IP(10, 5, 10, 0));
	expect_addr(alloc_ok(c, NULL, 0, 2), IP(10, 5, 12, 0));
	expect_addr(alloc_ok(c, NULL, 0, 3), IP(10, 5, 10, 0));
	/* SubnetMax itself is a candidate */
	expect_addr(alloc_ok(c, taken, 2, 0), IP(10, 5, 12, 0));
	expect_addr(alloc_ok(c, taken, 2, 12345), IP(10, 5, 12, 0));
	/* "out of subnets" */
	assert_int_equal(tartan_flannel_alloc_subnet(c, all, 2, 0, &sn), -ENOSPC);
	tartan_flannel_config_free(c);
}

static void test_small_network(void **state)
{
	/* /28: SubnetLen 30, candidates .4, .8, .12 */
	struct tartan_flannel_config *c = config("{\"Network\":\"10.5.0.0/28\"}");
	struct tartan_ip4_net taken[] = {
		{ .addr = IP(10, 5, 0, 4), .len = 30 },
		{ .addr = IP(10, 5, 0, 8), .len = 30 },
		{ .addr = IP(10, 5, 0, 12), .len = 30 },
	};
	struct tartan_ip4_net sn = { 0 };

	expect_addr(alloc_ok(c, NULL, 0, 0), IP(10, 5, 0, 4));
	expect_addr(alloc_ok(c, NULL, 0, 2), IP(10, 5, 0, 12));
	expect_addr(alloc_ok(c, taken, 2, 7), IP(10, 5, 0, 12));
	assert_int_equal(tartan_flannel_alloc_subnet(c, taken, 3, 0, &sn), -ENOSPC);
	tartan_flannel_config_free(c);
}

static void test_top_of_address_space(void **state)
{
	/* flanneld's uint32 walk wraps to 0.0.0.0 after 255.255.255.192 here */
	struct tartan_flannel_config *c = config("{\"Network\":\"255.255.255.0/24\"}");
	struct tartan_ip4_net taken[] = {
		{ .addr = IP(255, 255, 255, 64), .len = 26 },
		{ .addr = IP(255, 255, 255, 128), .len = 26 },
		{ .addr = IP(255, 255, 255, 192), .len = 26 },
	};
	struct tartan_ip4_net sn = { 0 };

	expect_addr(alloc_ok(c, taken, 2, 0), IP(255, 255, 255, 192));
	expect_addr(alloc_ok(c, taken, 2, 1), IP(255, 255, 255, 192));
	assert_int_equal(tartan_flannel_alloc_subnet(c, taken, 3, 0, &sn), -ENOSPC);
	tartan_flannel_config_free(c);
}

static void test_bad_config(void **state)
{
	struct tartan_flannel_config c = {
		.network = { .addr = IP(10, 5, 0, 0), .len = 16 },
		.subnet_len = 24,
		.subnet_min = IP(10, 5, 1, 128),
		.subnet_max = IP(10, 5, 255, 0),
	};
	struct tartan_ip4_net sn = { 0 };

	assert_int_equal(tartan_flannel_alloc_subnet(&c, NULL, 0, 0, &sn), -EINVAL);
	c.subnet_min = IP(10, 5, 1, 0);
	c.subnet_len = 33;
	assert_int_equal(tartan_flannel_alloc_subnet(&c, NULL, 0, 0, &sn), -EINVAL);
	/* min above max: nothing to pick */
	c.subnet_len = 24;
	c.subnet_min = IP(10, 5, 9, 0);
	c.subnet_max = IP(10, 5, 8, 0);
	assert_int_equal(tartan_flannel_alloc_subnet(&c, NULL, 0, 0, &sn), -ENOSPC);
}

static void test_subnet_fits(void **state)
{
	struct tartan_flannel_config *c =
		config("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.10.0\","
		       "\"SubnetMax\":\"10.5.20.0\"}");
	static const struct {
		uint32_t addr;
		unsigned len;
		bool fits;
	} cases[] = {
		{ IP(10, 5, 10, 0), 24, true },	 { IP(10, 5, 15, 0), 24, true },
		{ IP(10, 5, 20, 0), 24, true },	 { IP(10, 5, 9, 0), 24, false },
		{ IP(10, 5, 21, 0), 24, false }, { IP(10, 5, 15, 0), 25, false },
		{ IP(10, 5, 15, 0), 23, false }, { IP(10, 5, 15, 1), 24, false },
		{ IP(10, 6, 15, 0), 24, false }, { IP(10, 5, 20, 128), 24, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tartan_ip4_net sn = { .addr = cases[i].addr, .len = (uint8_t)cases[i].len };
		char s[TARTAN_IP4_NET_STRLEN];

		if (tartan_flannel_subnet_fits(c, &sn) != cases[i].fits)
			print_error("%s: expected fits=%d\n", tartan_ip4_net_format(&sn, s),
				    cases[i].fits);
		assert_int_equal(tartan_flannel_subnet_fits(c, &sn), cases[i].fits);
	}
	tartan_flannel_config_free(c);
}

/*
 * 5,000 leases on the first 5,000 candidates, listed in random order: the
 * free ones start right after them. flanneld's loop makes 25 million overlap
 * checks here; the sorted walk a sort and a pass.
 */
static void test_5000_taken(void **state)
{
	struct tartan_flannel_config *c = config("{\"Network\":\"10.0.0.0/8\"}");
	const size_t n = 5000;
	struct tartan_ip4_net *taken = calloc(n, sizeof(*taken));
	double t0, elapsed;
	uint32_t first_free = IP(10, 0, 1, 0) + (uint32_t)n * 256;

	assert_non_null(taken);
	for (size_t i = 0; i < n; i++)
		taken[i] = (struct tartan_ip4_net){ .addr = IP(10, 0, 1, 0) + (uint32_t)i * 256,
						    .len = 24 };
	shuffle(taken, n);

	t0 = now();
	for (uint32_t r = 0; r < 100; r++) {
		struct tartan_ip4_net sn = { 0 };

		assert_int_equal(tartan_flannel_alloc_subnet(c, taken, n, r, &sn), 0);
		expect_addr(sn.addr, first_free + r * 256);
	}
	elapsed = now() - t0;
	/* 100 allocations: about 50 ms even under ASan; quadratic would be seconds */
	if (elapsed > 2.0)
		print_error("100 allocations with %zu taken took %.3f s, expected < 2 s\n", n,
			    elapsed);
	assert_true(elapsed <= 2.0);

	/* and all the checks of alloc_ok once */
	expect_addr(alloc_ok(c, taken, n, 42), first_free + 42 * 256);
	free(taken);
	tartan_flannel_config_free(c);
}

/* 65,000 /24s of a /8 taken, in random order: 3.6 billion checks for flanneld's loop */
static void test_65000_taken(void **state)
{
	struct tartan_flannel_config *c = config("{\"Network\":\"10.0.0.0/8\"}");
	const size_t n = 65000;
	struct tartan_ip4_net *taken = calloc(n + 1, sizeof(*taken));
	struct tartan_ip4_net sn = { 0 };
	double t0, elapsed;

	assert_non_null(taken);
	for (size_t i = 0; i < n; i++)
		taken[i] = (struct tartan_ip4_net){ .addr = IP(10, 0, 0, 0) + (uint32_t)i * 256,
						    .len = 24 };
	shuffle(taken, n);

	t0 = now();
	assert_int_equal(tartan_flannel_alloc_subnet(c, taken, n, 0, &sn), 0);
	expect_addr(sn.addr, IP(10, 0, 0, 0) + (uint32_t)n * 256);
	assert_int_equal(tartan_flannel_alloc_subnet(c, taken, n, 99, &sn), 0);
	expect_addr(sn.addr, IP(10, 0, 0, 0) + (uint32_t)(n + 99) * 256);
	/* a /21 over the first free ones: the next free one is right after it */
	taken[n] = (struct tartan_ip4_net){ .addr = IP(10, 253, 232, 0), .len = 21 };
	assert_int_equal(tartan_flannel_alloc_subnet(c, taken, n + 1, 0, &sn), 0);
	expect_addr(sn.addr, IP(10, 253, 240, 0));
	elapsed = now() - t0;
	if (elapsed > 2.0)
		print_error("3 allocations with %zu taken took %.3f s, expected < 2 s\n", n,
			    elapsed);
	assert_true(elapsed <= 2.0);
	free(taken);
	tartan_flannel_config_free(c);
}

/* a /9 reservation over /30 candidates: two million of them are jumped over at once */
static void test_jump_over_reservation(void **state)
{
	struct tartan_flannel_config *c = config("{\"Network\":\"10.0.0.0/8\",\"SubnetLen\":30}");
	struct tartan_ip4_net taken[] = {
		{ .addr = IP(10, 0, 0, 0), .len = 9 },
		{ .addr = IP(10, 128, 0, 0), .len = 30 },
		{ .addr = IP(10, 128, 0, 12), .len = 30 },
	};
	double t0 = now();

	expect_addr(alloc_ok(c, taken, 3, 0), IP(10, 128, 0, 4));
	expect_addr(alloc_ok(c, taken, 3, 1), IP(10, 128, 0, 8));
	expect_addr(alloc_ok(c, taken, 3, 2), IP(10, 128, 0, 16));
	assert_true(now() - t0 < 1.0);
	tartan_flannel_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_candidates),
		cmocka_unit_test(test_only_first_100),
		cmocka_unit_test(test_skips_taken),
		cmocka_unit_test(test_min_max_inclusive),
		cmocka_unit_test(test_small_network),
		cmocka_unit_test(test_top_of_address_space),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_subnet_fits),
		cmocka_unit_test(test_5000_taken),
		cmocka_unit_test(test_65000_taken),
		cmocka_unit_test(test_jump_over_reservation),
	};

	return cmocka_run_group_tests_name("flannel-alloc", tests, NULL, NULL);
}
