/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for flannel/subnet-env.c: the file flanneld writes
 * (shared/docs/flannel-compat.md 3), byte for byte, and reading one back as
 * flanneld does with godotenv v1.5.1.
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

#include "flannel/subnet-env.h"

#define IP(a, b, c, d)                                                                             \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

#define FLANNEL_ENV                                                                                \
	"FLANNEL_NETWORK=10.5.0.0/16\n"                                                            \
	"FLANNEL_SUBNET=10.5.72.1/24\n"                                                            \
	"FLANNEL_MTU=1450\n"                                                                       \
	"FLANNEL_IPMASQ=false\n"

static const struct tartan_ip4_net net16 = { .addr = IP(10, 5, 0, 0), .len = 16 };
static const struct tartan_ip4_net sn72 = { .addr = IP(10, 5, 72, 0), .len = 24 };

static void test_format_byte_exact(void **state)
{
	char buf[TARTAN_SUBNET_ENV_MAX];
	size_t len = 0;

	assert_int_equal(
		tartan_subnet_env_format(&net16, &sn72, 1450, false, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, FLANNEL_ENV);
	assert_int_equal(len, strlen(FLANNEL_ENV));

	assert_int_equal(
		tartan_subnet_env_format(&net16, &sn72, 1500, true, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\n"
				 "FLANNEL_MTU=1500\nFLANNEL_IPMASQ=true\n");

	/* the first host of a /30 */
	struct tartan_ip4_net n28 = { .addr = IP(10, 5, 0, 0), .len = 28 };
	struct tartan_ip4_net sn30 = { .addr = IP(10, 5, 0, 8), .len = 30 };

	assert_int_equal(tartan_subnet_env_format(&n28, &sn30, 9001, false, buf, sizeof(buf), &len),
			 0);
	assert_string_equal(buf, "FLANNEL_NETWORK=10.5.0.0/28\nFLANNEL_SUBNET=10.5.0.9/30\n"
				 "FLANNEL_MTU=9001\nFLANNEL_IPMASQ=false\n");
}

static void test_format_longest_fits(void **state)
{
	struct tartan_ip4_net n = { .addr = IP(255, 255, 255, 0), .len = 24 };
	struct tartan_ip4_net sn = { .addr = IP(255, 255, 255, 252), .len = 30 };
	char buf[TARTAN_SUBNET_ENV_MAX];
	size_t len = 0;

	assert_int_equal(
		tartan_subnet_env_format(&n, &sn, UINT32_MAX, false, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "FLANNEL_NETWORK=255.255.255.0/24\n"
				 "FLANNEL_SUBNET=255.255.255.253/30\n"
				 "FLANNEL_MTU=4294967295\nFLANNEL_IPMASQ=false\n");
	assert_true(len < TARTAN_SUBNET_ENV_MAX);
}

static void test_format_refused(void **state)
{
	struct tartan_ip4_net bad = { .addr = IP(10, 5, 72, 1), .len = 24 };
	struct tartan_ip4_net sn31 = { .addr = IP(10, 5, 72, 0), .len = 31 };
	char buf[TARTAN_SUBNET_ENV_MAX];
	size_t len = 12345;

	assert_int_equal(
		tartan_subnet_env_format(&net16, &bad, 1450, false, buf, sizeof(buf), &len),
		-EINVAL);
	assert_int_equal(tartan_subnet_env_format(&bad, &sn72, 1450, false, buf, sizeof(buf), &len),
			 -EINVAL);
	assert_int_equal(
		tartan_subnet_env_format(&net16, &sn31, 1450, false, buf, sizeof(buf), &len),
		-EINVAL);
	assert_int_equal(tartan_subnet_env_format(&net16, &sn72, 1450, false, buf,
						  strlen(FLANNEL_ENV), &len),
			 -ENOBUFS);
	assert_int_equal(len, 12345);
	/* exactly enough room, with the NUL */
	assert_int_equal(tartan_subnet_env_format(&net16, &sn72, 1450, false, buf,
						  strlen(FLANNEL_ENV) + 1, &len),
			 0);
	assert_string_equal(buf, FLANNEL_ENV);
}

static struct tartan_subnet_env parse_ok(const char *text, size_t len)
{
	struct tartan_subnet_env env;
	char *error = NULL;
	int r;

	memset(&env, 0x5a, sizeof(env));
	r = tartan_subnet_env_parse(text, len, &env, &error);
	if (r != 0)
		print_error("subnet.env \"%.*s\": expected 0, got %d (%s)\n", (int)len, text, r,
			    error ? error : "no reason");
	assert_int_equal(r, 0);
	assert_null(error);
	return env;
}

static struct tartan_subnet_env parse_s(const char *text)
{
	return parse_ok(text, strlen(text));
}

static void expect_subnet(const char *text, uint32_t addr, unsigned len)
{
	struct tartan_subnet_env env = parse_s(text);

	if (!env.has_subnet)
		print_error("subnet.env \"%s\": expected a FLANNEL_SUBNET\n", text);
	assert_true(env.has_subnet);
	assert_int_equal(env.subnet.addr, addr);
	assert_int_equal(env.subnet.len, len);
}

static void expect_no_subnet(const char *text)
{
	struct tartan_subnet_env env = parse_s(text);

	if (env.has_subnet)
		print_error("subnet.env \"%s\": expected no usable FLANNEL_SUBNET\n", text);
	assert_false(env.has_subnet);
}

static void parse_bad(const char *text, size_t len, const char *reason)
{
	struct tartan_subnet_env env, untouched;
	char *error = NULL;
	int r;

	memset(&env, 0x5a, sizeof(env));
	memset(&untouched, 0x5a, sizeof(untouched));
	r = tartan_subnet_env_parse(text, len, &env, &error);
	if (r != -EINVAL)
		print_error("subnet.env \"%.*s\": expected -EINVAL, got %d\n", (int)len, text, r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(error);
	assert_string_equal(error, reason);
	free(error);
	/* not written on failure (compared as bytes: 0x5a is no valid bool) */
	assert_memory_equal(&env, &untouched, sizeof(env));
	assert_int_equal(tartan_subnet_env_parse(text, len, &env, NULL), -EINVAL);
}

static void test_parse_flannel_file(void **state)
{
	struct tartan_subnet_env env = parse_s(FLANNEL_ENV);

	assert_true(env.has_network);
	assert_int_equal(env.network.addr, IP(10, 5, 0, 0));
	assert_int_equal(env.network.len, 16);
	/* FLANNEL_SUBNET's first host address back to its network */
	assert_true(env.has_subnet);
	assert_int_equal(env.subnet.addr, IP(10, 5, 72, 0));
	assert_int_equal(env.subnet.len, 24);
	assert_true(env.has_mtu);
	assert_int_equal(env.mtu, 1450);
	assert_true(env.has_ip_masq);
	assert_false(env.ip_masq);

	env = parse_s("FLANNEL_IPMASQ=true\n");
	assert_true(env.has_ip_masq);
	assert_true(env.ip_masq);
	assert_false(env.has_network);
	assert_false(env.has_subnet);
	assert_false(env.has_mtu);
}

static void test_parse_round_trip(void **state)
{
	struct tartan_ip4_net n = { .addr = IP(172, 16, 0, 0), .len = 12 };
	struct tartan_ip4_net sn = { .addr = IP(172, 20, 3, 0), .len = 24 };
	char buf[TARTAN_SUBNET_ENV_MAX];
	struct tartan_subnet_env env;
	size_t len;

	assert_int_equal(tartan_subnet_env_format(&n, &sn, 1410, true, buf, sizeof(buf), &len), 0);
	env = parse_ok(buf, len);
	assert_true(env.has_network && env.has_subnet && env.has_mtu && env.has_ip_masq);
	assert_true(tartan_ip4_net_equal(&env.network, &n));
	assert_true(tartan_ip4_net_equal(&env.subnet, &sn));
	assert_int_equal(env.mtu, 1410);
	assert_true(env.ip_masq);
}

static void test_parse_empty(void **state)
{
	struct tartan_subnet_env env = parse_ok("", 0);

	assert_false(env.has_network || env.has_subnet || env.has_mtu || env.has_ip_masq);
	env = parse_s("\n\n   \n# nothing here\n");
	assert_false(env.has_network || env.has_subnet || env.has_mtu || env.has_ip_masq);
}

static void test_parse_dotenv_forms(void **state)
{
	const uint32_t a = IP(10, 5, 72, 0);

	/* quotes are stripped */
	expect_subnet("FLANNEL_SUBNET=\"10.5.72.1/24\"\n", a, 24);
	expect_subnet("FLANNEL_SUBNET='10.5.72.1/24'\n", a, 24);
	/* export, blanks around "=", yaml-style ":" */
	expect_subnet("export FLANNEL_SUBNET=10.5.72.1/24\n", a, 24);
	expect_subnet("export\tFLANNEL_SUBNET=10.5.72.1/24\n", a, 24);
	expect_subnet("  FLANNEL_SUBNET = 10.5.72.1/24  \n", a, 24);
	expect_subnet("FLANNEL_SUBNET: 10.5.72.1/24\n", a, 24);
	expect_subnet("\tFLANNEL_SUBNET\t=\t10.5.72.1/24\t\n", a, 24);
	/* CRLF, comments, blank lines, no final newline */
	expect_subnet("# written by flanneld\r\n\r\nFLANNEL_SUBNET=10.5.72.1/24\r\n", a, 24);
	expect_subnet("FLANNEL_SUBNET=10.5.72.1/24", a, 24);
	expect_subnet("FLANNEL_SUBNET=10.5.72.1/24 # ours\n", a, 24);
	expect_subnet("FLANNEL_SUBNET=\"10.5.72.1/24\" # ours\n", a, 24);
	/* a lone CR ends the value too */
	expect_subnet("FLANNEL_SUBNET=10.5.72.1/24\rFLANNEL_MTU=1\n", a, 24);
	/* the last one wins */
	expect_subnet("FLANNEL_SUBNET=10.5.1.1/24\nFLANNEL_SUBNET=10.5.72.1/24\n", a, 24);
	/* escapes in double quotes: a backslash before a digit goes away */
	expect_subnet("FLANNEL_SUBNET=\"10.5.\\72.1/24\"\n", a, 24);
	/* a statement without "=" at the very end is godotenv's empty key */
	expect_subnet("FLANNEL_SUBNET=10.5.72.1/24\nJUNK", a, 24);
	/* other keys, even odd ones, don't matter */
	expect_subnet("A.B=1\nFOO_BAR=\"x\ny\"\nFLANNEL_SUBNET=10.5.72.1/24\n", a, 24);

	struct tartan_subnet_env env = parse_s("FLANNEL_MTU=\"14\\50\"\n");

	assert_true(env.has_mtu);
	assert_int_equal(env.mtu, 1450);
}

static void test_parse_comma_lists(void **state)
{
	/* flanneld: entries that don't parse are skipped, exactly one must be left */
	expect_subnet("FLANNEL_SUBNET=10.5.72.1/24,garbage\n", IP(10, 5, 72, 0), 24);
	expect_subnet("FLANNEL_SUBNET=,10.5.72.1/24,\n", IP(10, 5, 72, 0), 24);
	/* (flanneld panics on an IPv6 entry here; tartan skips it) */
	expect_subnet("FLANNEL_SUBNET=fc00::1/64,10.5.72.1/24\n", IP(10, 5, 72, 0), 24);
	expect_no_subnet("FLANNEL_SUBNET=10.5.72.1/24,10.5.73.1/24\n");
	expect_no_subnet("FLANNEL_SUBNET=10.5.72.1/24,10.5.72.1/24\n");
	/* no trimming inside the list: " 10.5.73.1/24 " is no CIDR, so one is left */
	expect_subnet("FLANNEL_SUBNET=10.5.72.1/24, 10.5.73.1/24 , x\n", IP(10, 5, 72, 0), 24);
	expect_no_subnet("FLANNEL_SUBNET=\n");
	expect_no_subnet("FLANNEL_SUBNET=10.5.72.1\n");
	expect_no_subnet("FLANNEL_SUBNET=10.5.72.1/24#x\n");
	expect_no_subnet("FLANNEL_SUBNET=fc00::1/64\n");
	expect_no_subnet("flannel_subnet=10.5.72.1/24\n");
	/* unlike godotenv, "$VAR" is not expanded: such a value just doesn't parse */
	expect_no_subnet("X=10.5.72.1/24\nFLANNEL_SUBNET=$X\n");

	struct tartan_subnet_env env =
		parse_s("FLANNEL_NETWORK=10.5.0.0/16,10.6.0.0/16\nFLANNEL_MTU=x\n"
			"FLANNEL_IPMASQ=yes\n");

	assert_false(env.has_network);
	assert_false(env.has_mtu);
	assert_false(env.has_ip_masq);
	env = parse_s("FLANNEL_MTU=99999999999\nFLANNEL_IPMASQ=True\n");
	assert_false(env.has_mtu);
	assert_false(env.has_ip_masq);
}

static void test_parse_nul(void **state)
{
	static const char text[] = "FLANNEL_SUBNET=10.5.72.1/24\0\n";
	struct tartan_subnet_env env = parse_ok(text, sizeof(text) - 1);

	/* Go's value keeps the NUL and so is no CIDR */
	assert_false(env.has_subnet);
	parse_bad("FLANNEL\0SUBNET=10.5.72.1/24\n", 27,
		  "subnet.env line 1: unexpected character 0x00 in variable name");
}

static void test_parse_refused(void **state)
{
	/* godotenv fails the whole file: flanneld then has no previous subnet */
	parse_bad("FLANNEL_SUBNET\n", 15,
		  "subnet.env line 1: no \"=\" or \":\" after the variable name");
	parse_bad("FLANNEL_MTU=1450\nFOO BAR\nFLANNEL_SUBNET=10.5.72.1/24\n", 53,
		  "subnet.env line 2: no \"=\" or \":\" after the variable name");
	parse_bad("FLANNEL-SUBNET=10.5.72.1/24\n", 28,
		  "subnet.env line 1: unexpected character '-' in variable name");
	parse_bad("FLANNEL_SUBNET=\"10.5.72.1/24\n", 29,
		  "subnet.env line 1: unterminated quoted value");
	parse_bad("FLANNEL_SUBNET='10.5.72.1/24\\'\n", 31,
		  "subnet.env line 1: unterminated quoted value");
	parse_bad("FLANNEL_SUBNET=\"10.5.72.1/24\" junk\n", 35,
		  "subnet.env line 1: no \"=\" or \":\" after the variable name");
	parse_bad("export   ", 9, "subnet.env line 1: zero length string");
	/* "" ends the value; what follows is read as the next key */
	parse_bad("FLANNEL_SUBNET=\"\"10.5.72.1/24\"\n", 31,
		  "subnet.env line 1: unexpected character '/' in variable name");
	parse_bad("\n\nX=1\n$Y=2\n", 11,
		  "subnet.env line 4: unexpected character '$' in variable name");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_byte_exact),
		cmocka_unit_test(test_format_longest_fits),
		cmocka_unit_test(test_format_refused),
		cmocka_unit_test(test_parse_flannel_file),
		cmocka_unit_test(test_parse_round_trip),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_parse_dotenv_forms),
		cmocka_unit_test(test_parse_comma_lists),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_parse_refused),
	};

	return cmocka_run_group_tests_name("subnet-env", tests, NULL, NULL);
}
