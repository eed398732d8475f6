/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for daemon/kubenet.c: the pods' MTU as kubenet picks it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <net/if.h>
#include <string.h>

#include "daemon/kubenet.h"

#define UP IFF_UP

static void test_smallest_up_link(void **state)
{
	const struct tartan_nl_link links[] = {
		{ .index = 1, .name = "lo", .flags = UP | IFF_LOOPBACK, .mtu = 65536 },
		{ .index = 2, .name = "eth0", .flags = UP, .mtu = 1500 },
		{ .index = 3, .name = "eth1", .flags = UP, .mtu = 1400 },
		{ .index = 4, .name = "eth2", .flags = 0, .mtu = 1300 }, /* down */
		{ .index = 5, .name = "tun0", .flags = UP | IFF_POINTOPOINT, .mtu = 1200 },
		{ .index = 6, .name = "odd0", .flags = UP, .mtu = 500 }, /* below 576 */
	};
	const struct tartan_nl_link *from = NULL;

	assert_int_equal(tartan_kubenet_mtu(links, 6, 0, &from), 1400);
	assert_non_null(from);
	assert_string_equal(from->name, "eth1");
}

static void test_bridge_and_ports_left_out(void **state)
{
	const struct tartan_nl_link links[] = {
		{ .index = 2, .name = "eth0", .flags = UP, .mtu = 1500 },
		{ .index = 7, .name = "cbr0", .flags = UP, .mtu = 1380 },
		{ .index = 8, .name = "veth1", .flags = UP, .mtu = 1380, .master = 7 },
		{ .index = 9, .name = "other", .flags = UP, .mtu = 9000, .master = 10 },
	};
	const struct tartan_nl_link *from = NULL;

	assert_int_equal(tartan_kubenet_mtu(links, 4, 7, &from), 1500);
	assert_string_equal(from->name, "eth0");
	/* no bridge yet: everything up counts */
	assert_int_equal(tartan_kubenet_mtu(links, 4, 0, NULL), 1380);
}

static void test_default_when_none(void **state)
{
	const struct tartan_nl_link links[] = {
		{ .index = 1, .name = "lo", .flags = UP | IFF_LOOPBACK, .mtu = 65536 },
		{ .index = 2, .name = "eth0", .flags = 0, .mtu = 1500 },
	};
	const struct tartan_nl_link *from = links;

	assert_int_equal(tartan_kubenet_mtu(links, 2, 0, &from), TARTAN_KUBENET_DEFAULT_MTU);
	assert_null(from);
	assert_int_equal(tartan_kubenet_mtu(NULL, 0, 0, NULL), 1460);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smallest_up_link),
		cmocka_unit_test(test_bridge_and_ports_left_out),
		cmocka_unit_test(test_default_when_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
