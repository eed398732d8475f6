/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the comparison behind `tartanctl routes` (daemon/dataplane.c,
 * tartan_dataplane_routes_compare): what tartand keeps against what the kernel holds,
 * each destination marked ok, missing, different or extra, in the terms of the sync that
 * repairs them (same destination; same gateway, device and onlink). The netns test
 * (tests/daemon/ctl.sh) cannot show drift reliably: the monitor repairs it within
 * milliseconds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "daemon/dataplane.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static struct tartan_nl_route route(uint8_t third, uint32_t gw, int ifindex, bool onlink)
{
	return (struct tartan_nl_route){
		.dst = { .addr = IP(10, 5, third, 0), .len = 24 },
		.gateway = gw,
		.ifindex = ifindex,
		.onlink = onlink,
		.protocol = TARTAN_NL_RTPROT,
	};
}

static void test_states(void **state)
{
	/* unsorted on purpose: the comparison sorts */
	struct tartan_nl_route want[] = {
		route(4, IP(10, 5, 4, 0), 7, true),   /* different: gateway */
		route(1, IP(192, 0, 2, 1), 2, false), /* ok */
		route(3, IP(192, 0, 2, 3), 2, false), /* missing */
		route(5, IP(192, 0, 2, 5), 2, false), /* different: device */
		route(6, IP(192, 0, 2, 6), 2, false), /* different: onlink */
	};
	struct tartan_nl_route have[] = {
		route(6, IP(192, 0, 2, 6), 2, true),
		route(9, IP(192, 0, 2, 9), 2, false), /* extra */
		route(5, IP(192, 0, 2, 5), 3, false),
		route(1, IP(192, 0, 2, 1), 2, false),
		route(4, IP(192, 0, 2, 4), 7, true),
	};
	static const struct {
		uint8_t third;
		enum tartan_dataplane_drift state;
	} expected[] = {
		{ 1, TARTAN_DATAPLANE_OK },	   { 3, TARTAN_DATAPLANE_MISSING },
		{ 4, TARTAN_DATAPLANE_DIFFERENT }, { 5, TARTAN_DATAPLANE_DIFFERENT },
		{ 6, TARTAN_DATAPLANE_DIFFERENT }, { 9, TARTAN_DATAPLANE_EXTRA },
	};
	struct tartan_dataplane_route_diff *d = NULL;
	size_t n = 0;

	assert_int_equal(tartan_dataplane_routes_compare(want, 5, have, 5, &d, &n), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		const struct tartan_nl_route *r = d[i].want ? d[i].want : d[i].have;

		assert_int_equal(r->dst.addr, IP(10, 5, expected[i].third, 0));
		assert_int_equal(d[i].state, expected[i].state);
		/* want is there unless extra, have unless missing */
		assert_int_equal(d[i].want == NULL, d[i].state == TARTAN_DATAPLANE_EXTRA);
		assert_int_equal(d[i].have == NULL, d[i].state == TARTAN_DATAPLANE_MISSING);
	}
	/* a different route points at both sides */
	assert_int_equal(d[2].want->gateway, IP(10, 5, 4, 0));
	assert_int_equal(d[2].have->gateway, IP(192, 0, 2, 4));
	assert_int_equal(d[3].have->ifindex, 3);
	assert_true(d[4].have->onlink);
	assert_string_equal(tartan_dataplane_drift_name(d[0].state), "ok");
	assert_string_equal(tartan_dataplane_drift_name(d[1].state), "missing");
	assert_string_equal(tartan_dataplane_drift_name(d[2].state), "different");
	assert_string_equal(tartan_dataplane_drift_name(d[5].state), "extra");
	free(d);
}

static void test_empty(void **state)
{
	struct tartan_nl_route one[] = { route(1, IP(192, 0, 2, 1), 2, false) };
	struct tartan_dataplane_route_diff *d = (void *)1;
	size_t n = 1;

	assert_int_equal(tartan_dataplane_routes_compare(NULL, 0, NULL, 0, &d, &n), 0);
	assert_int_equal(n, 0);
	assert_null(d);
	/* nothing wanted: everything of ours in the kernel is extra */
	assert_int_equal(tartan_dataplane_routes_compare(NULL, 0, one, 1, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].state, TARTAN_DATAPLANE_EXTRA);
	free(d);
	/* nothing in the kernel (all deleted by hand): everything missing */
	assert_int_equal(tartan_dataplane_routes_compare(one, 1, NULL, 0, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].state, TARTAN_DATAPLANE_MISSING);
	free(d);
}

static void test_many_in_line(void **state)
{
	/* 5,000 peers, all in place but one, reversed in the kernel's dump */
	enum {
		N = 5000
	};
	struct tartan_nl_route *want = calloc(N, sizeof(*want)), *have = calloc(N, sizeof(*have));
	struct tartan_dataplane_route_diff *d = NULL;
	size_t n = 0, ok = 0;

	assert_non_null(want);
	assert_non_null(have);
	for (size_t i = 0; i < N; i++) {
		struct tartan_nl_route r = {
			.dst = { .addr = IP(10, 0, 0, 0) + (uint32_t)i * 256, .len = 24 },
			.gateway = IP(198, 18, 0, 0) + (uint32_t)i,
			.ifindex = 2,
			.protocol = TARTAN_NL_RTPROT,
		};

		want[i] = r;
		have[N - 1 - i] = r;
	}
	have[0].gateway = IP(203, 0, 113, 1); /* the last destination, changed by hand */
	assert_int_equal(tartan_dataplane_routes_compare(want, N, have, N, &d, &n), 0);
	assert_int_equal(n, N);
	for (size_t i = 0; i < n; i++)
		ok += d[i].state == TARTAN_DATAPLANE_OK;
	assert_int_equal(ok, N - 1);
	assert_int_equal(d[N - 1].state, TARTAN_DATAPLANE_DIFFERENT);
	free(d);
	free(want);
	free(have);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_many_in_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
