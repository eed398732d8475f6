/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for netcfg/ip4.c: Go's net.ParseIP / net.ParseCIDR rules for
 * IPv4 text (flannel parses its config, keys and subnet.env with them), the
 * formatting, and the CIDR predicates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netcfg/ip4.h"

#define IP(a, b, c, d)                                                                             \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static uint32_t addr_ok(const char *s)
{
	uint32_t a = 0;
	int r = tartan_ip4_addr_parse(s, strlen(s), &a);

	if (r != 0)
		print_error("addr_parse(\"%s\"): expected 0, got %d\n", s, r);
	assert_int_equal(r, 0);
	return a;
}

static void addr_bad(const char *s, size_t len)
{
	uint32_t a = 0x5a5a5a5a;
	int r = tartan_ip4_addr_parse(s, len, &a);

	if (r != -EINVAL)
		print_error("addr_parse(\"%.*s\"): expected -EINVAL, got %d\n", (int)len, s, r);
	assert_int_equal(r, -EINVAL);
	/* out-parameters are written only on success */
	assert_int_equal(a, 0x5a5a5a5a);
}

static struct tartan_ip4_net net_ok(const char *s)
{
	struct tartan_ip4_net n = { 0 };
	int r = tartan_ip4_net_parse(s, strlen(s), &n);

	if (r != 0)
		print_error("net_parse(\"%s\"): expected 0, got %d\n", s, r);
	assert_int_equal(r, 0);
	return n;
}

static void net_bad(const char *s)
{
	struct tartan_ip4_net n = { .addr = 7, .len = 7 };
	int r = tartan_ip4_net_parse(s, strlen(s), &n);

	if (r != -EINVAL)
		print_error("net_parse(\"%s\"): expected -EINVAL, got %d\n", s, r);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(n.addr, 7);
	assert_int_equal(n.len, 7);
}

static void test_addr_parse_valid(void **state)
{
	assert_int_equal(addr_ok("0.0.0.0"), 0);
	assert_int_equal(addr_ok("255.255.255.255"), UINT32_MAX);
	assert_int_equal(addr_ok("10.5.72.1"), IP(10, 5, 72, 1));
	assert_int_equal(addr_ok("192.0.2.3"), IP(192, 0, 2, 3));
	assert_int_equal(addr_ok("1.0.10.100"), IP(1, 0, 10, 100));
}

static void test_addr_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"",	     "1",	 "1.2.3",      "1.2.3.4.5",	 "256.1.1.1",  "1.2.3.256",
		"010.1.1.1", "1.2.3.04", "00.1.1.1",   "1..2.3",	 " 1.2.3.4",   "1.2.3.4 ",
		"1.2.3.-4",  "+1.2.3.4", "1.2.3.4/24", "::ffff:1.2.3.4", "1234.1.1.1", "0x1.1.1.1",
		"1.2.3.",    ".1.2.3",	 "1.2.3.4.",   "1,2,3,4",	 "1.2.3.4\n",  "１.2.3.4",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		addr_bad(bad[i], strlen(bad[i]));
	/* a NUL inside the given length is not a terminator */
	addr_bad("1.2.3.4\0", 8);
	addr_bad("1.2\0.3.4", 8);
}

static void test_addr_parse_uses_len(void **state)
{
	uint32_t a = 0;

	/* only the first len bytes count, so substrings of keys parse in place */
	assert_int_equal(tartan_ip4_addr_parse("10.1.2.3-24", 8, &a), 0);
	assert_int_equal(a, IP(10, 1, 2, 3));
	addr_bad("10.1.2.3", 7); /* "10.1.2." */
}

static void test_net_parse(void **state)
{
	struct tartan_ip4_net n;

	n = net_ok("10.5.0.0/16");
	assert_int_equal(n.addr, IP(10, 5, 0, 0));
	assert_int_equal(n.len, 16);

	/* Go's ParseCIDR returns the masked network: host bits are dropped */
	n = net_ok("10.5.3.7/16");
	assert_int_equal(n.addr, IP(10, 5, 0, 0));
	assert_int_equal(n.len, 16);
	n = net_ok("10.5.72.1/24");
	assert_int_equal(n.addr, IP(10, 5, 72, 0));

	/* Go's dtoi takes leading zeros in the length */
	n = net_ok("10.5.0.0/024");
	assert_int_equal(n.len, 24);
	n = net_ok("10.5.0.0/000000000000000000024");
	assert_int_equal(n.len, 24);

	n = net_ok("0.0.0.0/0");
	assert_int_equal(n.addr, 0);
	assert_int_equal(n.len, 0);
	n = net_ok("1.2.3.4/0");
	assert_int_equal(n.addr, 0);
	n = net_ok("1.2.3.4/32");
	assert_int_equal(n.addr, IP(1, 2, 3, 4));
	assert_int_equal(n.len, 32);
	n = net_ok("255.255.255.255/31");
	assert_int_equal(n.addr, IP(255, 255, 255, 254));

	net_bad("10.5.0.0/33");
	net_bad("10.5.0.0/100");
	net_bad("10.5.0.0/0000000000033");
	net_bad("10.5.0.0/");
	net_bad("10.5.0.0");
	net_bad("10.5.0.0/-1");
	net_bad("10.5.0.0/+8");
	net_bad("10.5.0.0/8/8");
	net_bad("10.5.0.0/ 8");
	net_bad("10.5.0.0/8 ");
	net_bad("10.5.0/16");
	net_bad("010.5.0.0/16");
	net_bad("fc00::/64");
	net_bad("::ffff:10.0.0.0/104");
	net_bad("/16");
	net_bad("");
}

static void test_net_make(void **state)
{
	struct tartan_ip4_net n = { 0 };

	assert_int_equal(tartan_ip4_net_make(IP(10, 5, 72, 9), 24, &n), 0);
	assert_int_equal(n.addr, IP(10, 5, 72, 0));
	assert_int_equal(n.len, 24);
	assert_int_equal(tartan_ip4_net_make(IP(10, 5, 72, 9), 33, &n), -EINVAL);
	assert_int_equal(n.addr, IP(10, 5, 72, 0));
}

static void test_format(void **state)
{
	char a[TARTAN_IP4_ADDR_STRLEN], s[TARTAN_IP4_NET_STRLEN];
	struct tartan_ip4_net n = { .addr = IP(255, 255, 255, 255), .len = 32 };

	assert_string_equal(tartan_ip4_addr_format(0, a), "0.0.0.0");
	assert_string_equal(tartan_ip4_addr_format(UINT32_MAX, a), "255.255.255.255");
	assert_string_equal(tartan_ip4_addr_format(IP(10, 5, 72, 1), a), "10.5.72.1");
	assert_ptr_equal(tartan_ip4_addr_format(1, a), a);
	assert_string_equal(tartan_ip4_net_format(&n, s), "255.255.255.255/32");
	n = (struct tartan_ip4_net){ .addr = IP(10, 5, 0, 0), .len = 16 };
	assert_string_equal(tartan_ip4_net_format(&n, s), "10.5.0.0/16");
	assert_ptr_equal(tartan_ip4_net_format(&n, s), s);
	/* a broken length still fits the buffer */
	n.len = 255;
	assert_string_equal(tartan_ip4_net_format(&n, s), "10.5.0.0/255");
}

static void test_mask_size_bounds(void **state)
{
	struct tartan_ip4_net n;

	assert_int_equal(tartan_ip4_mask(0), 0);
	assert_int_equal(tartan_ip4_mask(1), 0x80000000u);
	assert_int_equal(tartan_ip4_mask(24), 0xffffff00u);
	assert_int_equal(tartan_ip4_mask(31), 0xfffffffeu);
	assert_int_equal(tartan_ip4_mask(32), 0xffffffffu);
	assert_int_equal(tartan_ip4_mask(40), 0xffffffffu);

	n = (struct tartan_ip4_net){ .addr = 0, .len = 0 };
	assert_true(tartan_ip4_net_size(&n) == UINT64_C(4294967296));
	assert_int_equal(tartan_ip4_net_last(&n), UINT32_MAX);
	n = (struct tartan_ip4_net){ .addr = IP(10, 5, 72, 0), .len = 24 };
	assert_true(tartan_ip4_net_size(&n) == 256);
	assert_int_equal(tartan_ip4_net_last(&n), IP(10, 5, 72, 255));
	assert_int_equal(tartan_ip4_net_first_host(&n), IP(10, 5, 72, 1));
	n = (struct tartan_ip4_net){ .addr = IP(10, 5, 72, 4), .len = 30 };
	assert_int_equal(tartan_ip4_net_first_host(&n), IP(10, 5, 72, 5));
	/* RFC 3021: /31 and /32 have no network address to skip */
	n = (struct tartan_ip4_net){ .addr = IP(10, 5, 72, 4), .len = 31 };
	assert_int_equal(tartan_ip4_net_first_host(&n), IP(10, 5, 72, 4));
	assert_true(tartan_ip4_net_size(&n) == 2);
	n = (struct tartan_ip4_net){ .addr = IP(10, 5, 72, 4), .len = 32 };
	assert_int_equal(tartan_ip4_net_first_host(&n), IP(10, 5, 72, 4));
	assert_int_equal(tartan_ip4_net_last(&n), IP(10, 5, 72, 4));
	assert_true(tartan_ip4_net_size(&n) == 1);
}

static void test_is_valid(void **state)
{
	struct tartan_ip4_net n = { .addr = IP(10, 5, 72, 0), .len = 24 };

	assert_true(tartan_ip4_net_is_valid(&n));
	n.addr = IP(10, 5, 72, 1);
	assert_false(tartan_ip4_net_is_valid(&n));
	n.len = 32;
	assert_true(tartan_ip4_net_is_valid(&n));
	n.len = 33;
	assert_false(tartan_ip4_net_is_valid(&n));
	n = (struct tartan_ip4_net){ .addr = 0, .len = 0 };
	assert_true(tartan_ip4_net_is_valid(&n));
}

static void test_contains_overlaps(void **state)
{
	struct tartan_ip4_net net = { .addr = IP(10, 5, 0, 0), .len = 16 };
	struct tartan_ip4_net a = { .addr = IP(10, 5, 72, 0), .len = 24 };
	struct tartan_ip4_net b = { .addr = IP(10, 5, 73, 0), .len = 24 };
	struct tartan_ip4_net c = { .addr = IP(10, 5, 72, 128), .len = 25 };
	struct tartan_ip4_net wide = { .addr = IP(10, 4, 0, 0), .len = 14 };
	struct tartan_ip4_net other = { .addr = IP(10, 6, 0, 0), .len = 16 };
	struct tartan_ip4_net all = { .addr = 0, .len = 0 };

	assert_true(tartan_ip4_net_contains(&net, IP(10, 5, 255, 255)));
	assert_true(tartan_ip4_net_contains(&net, IP(10, 5, 0, 0)));
	assert_false(tartan_ip4_net_contains(&net, IP(10, 6, 0, 0)));
	assert_false(tartan_ip4_net_contains(&net, IP(10, 4, 255, 255)));
	assert_true(tartan_ip4_net_contains(&all, IP(1, 2, 3, 4)));

	assert_true(tartan_ip4_net_contains_net(&net, &a));
	assert_true(tartan_ip4_net_contains_net(&net, &net));
	assert_false(tartan_ip4_net_contains_net(&a, &net));
	assert_true(tartan_ip4_net_contains_net(&wide, &net));
	assert_false(tartan_ip4_net_contains_net(&net, &other));
	assert_true(tartan_ip4_net_contains_net(&a, &c));

	assert_true(tartan_ip4_net_overlaps(&a, &a));
	assert_false(tartan_ip4_net_overlaps(&a, &b));
	assert_true(tartan_ip4_net_overlaps(&a, &c));
	assert_true(tartan_ip4_net_overlaps(&c, &a));
	assert_false(tartan_ip4_net_overlaps(&b, &c));
	assert_true(tartan_ip4_net_overlaps(&net, &a));
	assert_true(tartan_ip4_net_overlaps(&wide, &net));
	assert_false(tartan_ip4_net_overlaps(&net, &other));
	assert_true(tartan_ip4_net_overlaps(&all, &other));
}

static void test_equal_cmp(void **state)
{
	struct tartan_ip4_net a = { .addr = IP(10, 5, 72, 0), .len = 24 };
	struct tartan_ip4_net a25 = { .addr = IP(10, 5, 72, 0), .len = 25 };
	struct tartan_ip4_net b = { .addr = IP(10, 5, 73, 0), .len = 24 };
	struct tartan_ip4_net hi = { .addr = IP(200, 0, 0, 0), .len = 8 };

	assert_true(tartan_ip4_net_equal(&a, &a));
	assert_false(tartan_ip4_net_equal(&a, &a25));
	assert_int_equal(tartan_ip4_net_cmp(&a, &a), 0);
	assert_int_equal(tartan_ip4_net_cmp(&a, &a25), -1);
	assert_int_equal(tartan_ip4_net_cmp(&a25, &a), 1);
	assert_int_equal(tartan_ip4_net_cmp(&a, &b), -1);
	assert_int_equal(tartan_ip4_net_cmp(&b, &a), 1);
	/* unsigned order: 200.x is above 10.x (a signed compare would put it below) */
	assert_int_equal(tartan_ip4_net_cmp(&hi, &a), 1);
}

static void test_unusable_reason(void **state)
{
	static const struct {
		uint32_t addr;
		const char *reason;
	} cases[] = {
		{ IP(0, 0, 0, 0), "is in 0.0.0.0/8 (\"this network\", not a host address)" },
		{ IP(0, 1, 2, 3), "is in 0.0.0.0/8 (\"this network\", not a host address)" },
		{ IP(127, 0, 0, 1), "is a loopback address" },
		{ IP(127, 255, 255, 254), "is a loopback address" },
		{ IP(224, 0, 0, 1), "is a multicast address" },
		{ IP(239, 255, 255, 255), "is a multicast address" },
		{ IP(255, 255, 255, 255), "is the broadcast address" },
		{ IP(10, 0, 0, 1), NULL },
		{ IP(192, 0, 2, 3), NULL },
		{ IP(1, 0, 0, 0), NULL },
		{ IP(126, 255, 255, 255), NULL },
		{ IP(128, 0, 0, 0), NULL },
		{ IP(223, 255, 255, 255), NULL },
		{ IP(240, 0, 0, 1), NULL },
		{ IP(255, 255, 255, 254), NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = tartan_ip4_addr_unusable_reason(cases[i].addr);
		char a[TARTAN_IP4_ADDR_STRLEN];

		tartan_ip4_addr_format(cases[i].addr, a);
		if (!cases[i].reason) {
			if (why)
				print_error("%s: expected usable, got \"%s\"\n", a, why);
			assert_null(why);
		} else {
			if (!why)
				print_error("%s: expected \"%s\", got usable\n", a,
					    cases[i].reason);
			assert_non_null(why);
			assert_string_equal(why, cases[i].reason);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_valid),
		cmocka_unit_test(test_addr_parse_invalid),
		cmocka_unit_test(test_addr_parse_uses_len),
		cmocka_unit_test(test_net_parse),
		cmocka_unit_test(test_net_make),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_mask_size_bounds),
		cmocka_unit_test(test_is_valid),
		cmocka_unit_test(test_contains_overlaps),
		cmocka_unit_test(test_equal_cmp),
		cmocka_unit_test(test_unusable_reason),
	};

	return cmocka_run_group_tests_name("ip4", tests, NULL, NULL);
}
