/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for flannel/lease.c: lease keys as flannel's regex reads them
 * and path.Join writes them, lease values byte for byte as flanneld writes
 * them (shared/docs/flannel-compat.md 1.1, 1.3), and the usability checks.
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

#include "flannel/lease.h"

#define IP(a, b, c, d)                                                                             \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* flanneld v0.20's vxlan lease value, as in shared/docs/flannel-compat.md 1.3 */
#define VXLAN_VALUE                                                                                \
	"{\"PublicIP\":\"192.0.2.3\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","               \
	"\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}"

/* ----------------------------------------------------------------- keys */

static void test_key_join(void **state)
{
	/* Go's path.Join results */
	static const struct {
		const char *prefix, *name, *key;
	} cases[] = {
		{ "/coreos.com/network", "subnets", "/coreos.com/network/subnets" },
		{ "/coreos.com/network/", "config", "/coreos.com/network/config" },
		{ "/a/b/../c", "x", "/a/c/x" },
		{ "a/./b", "c", "a/b/c" },
		{ "../a", "b", "../a/b" },
		{ "/..", "x", "/x" },
		{ "a", "../..", ".." },
		{ "a", "..", "." },
		{ "", "", "" },
		{ "", "x", "x" },
		{ "x", "", "x" },
		{ "/", "", "/" },
		{ "..", "..", "../.." },
		{ "/a/", "/b/", "/a/b" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *key = NULL;

		assert_int_equal(tartan_flannel_key_join(cases[i].prefix, cases[i].name, &key), 0);
		if (strcmp(key, cases[i].key) != 0)
			print_error("join(\"%s\", \"%s\"): expected \"%s\", got \"%s\"\n",
				    cases[i].prefix, cases[i].name, cases[i].key, key);
		assert_string_equal(key, cases[i].key);
		free(key);
	}
}

static void test_key_format(void **state)
{
	struct tartan_ip4_net sn = { .addr = IP(10, 1, 15, 0), .len = 24 };
	char *key = NULL, *dir = NULL;

	assert_int_equal(tartan_flannel_lease_key_format("/coreos.com/network", &sn, &key), 0);
	assert_string_equal(key, "/coreos.com/network/subnets/10.1.15.0-24");
	free(key);
	assert_int_equal(tartan_flannel_lease_key_format("/coreos.com/network/", &sn, &key), 0);
	assert_string_equal(key, "/coreos.com/network/subnets/10.1.15.0-24");
	free(key);
	sn = (struct tartan_ip4_net){ .addr = IP(10, 5, 0, 4), .len = 30 };
	assert_int_equal(tartan_flannel_lease_key_format("/x", &sn, &key), 0);
	assert_string_equal(key, "/x/subnets/10.5.0.4-30");
	free(key);

	key = NULL;
	sn = (struct tartan_ip4_net){ .addr = IP(10, 1, 15, 1), .len = 24 };
	assert_int_equal(tartan_flannel_lease_key_format("/x", &sn, &key), -EINVAL);
	assert_null(key);
	sn = (struct tartan_ip4_net){ .addr = 0, .len = 33 };
	assert_int_equal(tartan_flannel_lease_key_format("/x", &sn, &key), -EINVAL);

	assert_int_equal(tartan_flannel_lease_dir("/coreos.com/network", &dir), 0);
	assert_string_equal(dir, "/coreos.com/network/subnets/");
	free(dir);
	assert_int_equal(tartan_flannel_lease_dir("/coreos.com/network//", &dir), 0);
	assert_string_equal(dir, "/coreos.com/network/subnets/");
	free(dir);
}

static void key_ok(const char *key, uint32_t addr, unsigned len, bool has_ipv6)
{
	struct tartan_ip4_net sn = { 0 };
	bool v6 = !has_ipv6;
	int r;

	r = tartan_flannel_lease_key_parse(key, strlen(key), &sn, &v6);
	if (r != 0)
		print_error("key \"%s\": expected 0, got %d\n", key, r);
	assert_int_equal(r, 0);
	assert_int_equal(sn.addr, addr);
	assert_int_equal(sn.len, len);
	assert_int_equal(v6, has_ipv6);
}

static void key_bad(const char *key)
{
	struct tartan_ip4_net sn = { .addr = 7, .len = 7 };
	bool v6 = true;
	int r;

	r = tartan_flannel_lease_key_parse(key, strlen(key), &sn, &v6);
	if (r != -EINVAL)
		print_error("key \"%s\": expected -EINVAL, got %d\n", key, r);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(sn.addr, 7);
	assert_int_equal(sn.len, 7);
	assert_true(v6);
}

static void test_key_parse(void **state)
{
	struct tartan_ip4_net sn;

	key_ok("/coreos.com/network/subnets/10.1.15.0-24", IP(10, 1, 15, 0), 24, false);
	key_ok("10.1.15.0-24", IP(10, 1, 15, 0), 24, false);
	key_ok("/x/subnets/10.5.0.4-30", IP(10, 5, 0, 4), 30, false);
	/* strconv.ParseUint(.., 10, 5): leading zeros, 0..31 */
	key_ok("/x/subnets/10.1.15.0-024", IP(10, 1, 15, 0), 24, false);
	key_ok("/x/subnets/10.1.15.0-0000000000000000000024", IP(10, 1, 15, 0), 24, false);
	key_ok("/x/subnets/10.1.15.0-31", IP(10, 1, 15, 0), 31, false);
	key_ok("/x/subnets/0.0.0.0-0", 0, 0, false);
	key_ok("/x/subnets/255.255.255.254-31", IP(255, 255, 255, 254), 31, false);
	/* the regex only looks at the end of the key */
	key_ok("/other/prefix/10.1.15.0-24", IP(10, 1, 15, 0), 24, false);
	key_ok("/x/subnets/foo10.1.15.0-24", IP(10, 1, 15, 0), 24, false);
	/* its leftmost match takes all digits before the first dot ... */
	key_ok("/x/subnets/91.1.1.0-24", IP(91, 1, 1, 0), 24, false);
	/* ... and only four fields, so an extra one in front is not part of it */
	key_ok("/x/subnets/1.2.3.4.0-24", IP(2, 3, 4, 0), 24, false);

	/* dual-stack: the IPv6 part is checked as flannel does, then ignored */
	key_ok("/coreos.com/network/subnets/10.42.1.0-24&fc00:0:0:1::-64", IP(10, 42, 1, 0), 24,
	       true);
	key_ok("/x/subnets/10.42.1.0-24&::-0", IP(10, 42, 1, 0), 24, true);
	key_ok("/x/subnets/10.42.1.0-24&fc00::-127", IP(10, 42, 1, 0), 24, true);

	/* the IPv6 flag is optional */
	assert_int_equal(tartan_flannel_lease_key_parse("10.1.15.0-24", 12, &sn, NULL), 0);
	assert_int_equal(sn.addr, IP(10, 1, 15, 0));
	/* only len bytes count */
	assert_int_equal(tartan_flannel_lease_key_parse("10.1.15.0-24xyz", 12, &sn, NULL), 0);
	assert_int_equal(sn.len, 24);
}

static void test_key_parse_refused(void **state)
{
	key_bad("");
	key_bad("/coreos.com/network/subnets/");
	key_bad("/coreos.com/network/subnets/abc");
	key_bad("/coreos.com/network/config");
	key_bad("-24");
	key_bad("10.1.15.0-");
	key_bad("10.1.15.0");
	key_bad("10.1.15.0_24");
	key_bad("10.1.15.0-24 ");
	key_bad("10.1.15.0-24/extra");
	key_bad("10.1.15.0-24&");
	key_bad("10.1.15.0-2x4");
	/* flannel: a 5-bit length */
	key_bad("10.1.15.0-32");
	key_bad("10.1.15.0-99999999999999999999");
	/* net.ParseIP */
	key_bad("/x/subnets/010.1.15.0-24");
	key_bad("/x/subnets/10.1.15.00-24");
	key_bad("/x/subnets/256.1.15.0-24");
	key_bad("/x/subnets/10.1.15-24");
	key_bad("/x/subnets/910.1.1.0-24");
	key_bad("/x/subnets/10x1.15.0-24");
	key_bad("/x/subnets/10.1x15.0-24");
	/* tartan: host bits for the length make no subnet */
	key_bad("/x/subnets/10.1.15.7-24");
	key_bad("/x/subnets/10.1.15.0-0");
	/* a bad IPv6 part makes flannel drop the whole key */
	key_bad("/x/subnets/10.42.1.0-24&fc00:::1-64");
	key_bad("/x/subnets/10.42.1.0-24&fc00::-128");
	key_bad("/x/subnets/10.42.1.0-24&abc-64");
	key_bad("/x/subnets/10.42.1.0-24&123-64");
	key_bad("/x/subnets/10.42.1.0-32&fc00::-64");
	key_bad("/x/subnets/10.42.1.0-24&fc00::-");
	/* no "-" between the IPv4 part and "&" */
	key_bad("/x/subnets/1.2.3.4&5-6");
	/* an embedded NUL is a character like any other */
	assert_int_equal(tartan_flannel_lease_key_parse("10.1.15.0-2\0"
							"4",
							13, &(struct tartan_ip4_net){ 0 }, NULL),
			 -EINVAL);
}

/* Keys that name a subnet but are not the key flanneld writes for it must not
 * stand for a lease: as a peer they would replace, or remove, the real one. */
static void test_key_is_canonical(void **state)
{
	static const char dir[] = "/coreos.com/network/subnets/";
	static const char *const good[] = {
		"/coreos.com/network/subnets/10.5.1.0-24",
		"/coreos.com/network/subnets/10.5.0.0-16",
		"/coreos.com/network/subnets/0.0.0.0-1",
		/* flannel's dual-stack form */
		"/coreos.com/network/subnets/10.42.1.0-24&fc00:0:0:1::-64",
	};
	static const char *const bad[] = {
		/* each names 10.5.1.0/24 to flannel's regex */
		"/coreos.com/network/subnets/10.5.1.0-024",
		"/coreos.com/network/subnets/evil10.5.1.0-24",
		"/coreos.com/network/subnets/alias-10.5.1.0-24",
		"/coreos.com/network/subnets/x/10.5.1.0-24",
		"/coreos.com/network/subnets//10.5.1.0-24",
		"/coreos.com/network/subnetsx10.5.1.0-24",
		"/coreos.com/network/subnets/\xc3\x28\xff-10.5.1.0-24",
		"/other/network/subnets/10.5.1.0-24",
		"10.5.1.0-24",
		/* the dual-stack part, and only it, after the IPv4 part */
		"/coreos.com/network/subnets/10.5.1.0-24&10.5.1.0-24&fc00::-64",
		"/coreos.com/network/subnets/10.5.1.0-24&x-10.5.1.0-24",
		"/coreos.com/network/subnets/10.5.1.0-24&fc00::-064x",
		/* no subnet at all */
		"/coreos.com/network/subnets/10.5.1.7-24",
		"/coreos.com/network/subnets/junk-7",
		"/coreos.com/network/subnets/",
		"",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!tartan_flannel_lease_key_is_canonical(dir, good[i], strlen(good[i])))
			print_error("key %s: expected canonical\n", good[i]);
		assert_true(tartan_flannel_lease_key_is_canonical(dir, good[i], strlen(good[i])));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tartan_flannel_lease_key_is_canonical(dir, bad[i], strlen(bad[i])))
			print_error("key %s: expected not canonical\n", bad[i]);
		assert_false(tartan_flannel_lease_key_is_canonical(dir, bad[i], strlen(bad[i])));
	}
	/* only len bytes count, and a NUL is a byte like any other */
	assert_true(tartan_flannel_lease_key_is_canonical(
		dir, "/coreos.com/network/subnets/10.5.1.0-24x", 39));
	assert_false(tartan_flannel_lease_key_is_canonical(dir,
							   "/coreos.com/network/subnets/\0"
							   "10.5.1.0-24",
							   40));
	/* the directory as tartan_flannel_lease_dir() makes it from a prefix */
	assert_true(tartan_flannel_lease_key_is_canonical("subnets/", "subnets/10.5.1.0-24", 19));
}

/* --------------------------------------------------------------- values */

static struct tartan_flannel_lease_attrs value_ok(const char *json)
{
	struct tartan_flannel_lease_attrs a;
	char *error = NULL;
	int r;

	memset(&a, 0x5a, sizeof(a));
	r = tartan_flannel_lease_value_parse(json, strlen(json), &a, &error);
	if (r != 0)
		print_error("value %s: expected 0, got %d (%s)\n", json, r,
			    error ? error : "no reason");
	assert_int_equal(r, 0);
	assert_null(error);
	return a;
}

static void value_bad(const char *json, const char *reason)
{
	struct tartan_flannel_lease_attrs a;
	char *error = NULL;
	int r;

	memset(&a, 0x5a, sizeof(a));
	r = tartan_flannel_lease_value_parse(json, strlen(json), &a, &error);
	if (r != -EINVAL)
		print_error("value %s: expected -EINVAL, got %d\n", json, r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(error);
	assert_string_equal(error, reason);
	free(error);
	/* not written on failure */
	assert_int_equal(a.public_ip, 0x5a5a5a5a);
	r = tartan_flannel_lease_value_parse(json, strlen(json), &a, NULL);
	assert_int_equal(r, -EINVAL);
}

static void test_value_parse_vxlan(void **state)
{
	static const uint8_t mac[6] = { 0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44 };
	struct tartan_flannel_lease_attrs a = value_ok(VXLAN_VALUE);

	assert_int_equal(a.public_ip, IP(192, 0, 2, 3));
	assert_false(a.has_public_ipv6);
	assert_string_equal(a.backend_type, "vxlan");
	assert_true(a.has_vni);
	assert_int_equal(a.vni, 1);
	assert_true(a.has_vtep_mac);
	assert_memory_equal(a.vtep_mac, mac, 6);
}

static void test_value_parse_old_forms(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0x42, 0xac, 0x11, 0x00, 0x02 };
	struct tartan_flannel_lease_attrs a;

	/* v0.10-era vxlan: no PublicIPv6, no VNI */
	a = value_ok("{\"PublicIP\":\"10.0.0.5\",\"BackendType\":\"vxlan\","
		     "\"BackendData\":{\"VtepMAC\":\"02:42:ac:11:00:02\"}}");
	assert_int_equal(a.public_ip, IP(10, 0, 0, 5));
	assert_false(a.has_vni);
	assert_int_equal(a.vni, 0);
	assert_true(a.has_vtep_mac);
	assert_memory_equal(a.vtep_mac, mac, 6);

	/* host-gw and alloc (no BackendType, no BackendData) */
	a = value_ok(
		"{\"PublicIP\":\"192.0.2.7\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}");
	assert_int_equal(a.public_ip, IP(192, 0, 2, 7));
	assert_string_equal(a.backend_type, "host-gw");
	assert_false(a.has_vtep_mac);
	assert_false(a.has_vni);
	a = value_ok("{\"PublicIP\":\"192.0.2.8\"}");
	assert_string_equal(a.backend_type, "");
	assert_false(a.has_vtep_mac);
	/* no PublicIP at all decodes as 0.0.0.0, which the check refuses */
	a = value_ok("{}");
	assert_int_equal(a.public_ip, 0);

	/* dual-stack flanneld: the IPv6 half is accepted and ignored */
	a = value_ok("{\"PublicIP\":\"192.0.2.9\",\"PublicIPv6\":\"2001:db8::9\","
		     "\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,"
		     "\"VtepMAC\":\"c6:d2:32:6f:8f:44\"},\"BackendV6Data\":{\"VNI\":1,"
		     "\"VtepMAC\":\"c6:d2:32:6f:8f:45\"}}");
	assert_true(a.has_public_ipv6);
	assert_int_equal(a.vtep_mac[5], 0x44);

	/* keys in any case, the last one winning; unknown keys ignored */
	a = value_ok("{\"publicip\":\"192.0.2.1\",\"PUBLICIP\":\"192.0.2.10\",\"backendtype\":"
		     "\"vxlan\",\"backenddata\":{\"vni\":7,\"vtepmac\":\"C6:D2:32:6F:8F:44\"},"
		     "\"Extra\":[1]}");
	assert_int_equal(a.public_ip, IP(192, 0, 2, 10));
	assert_int_equal(a.vni, 7);
	assert_int_equal(a.vtep_mac[0], 0xc6);

	/* every matching key is decoded: null resets the IPv6 address (a Go pointer) */
	a = value_ok("{\"PublicIP\":\"192.0.2.1\",\"PublicIPv6\":\"::1\",\"publicipv6\":null}");
	assert_false(a.has_public_ipv6);
	/* ... and leaves a string as it was */
	a = value_ok(
		"{\"PublicIP\":\"192.0.2.1\",\"BackendType\":\"host-gw\",\"backendtype\":null}");
	assert_string_equal(a.backend_type, "host-gw");

	/* null means absent for the optional fields */
	a = value_ok("{\"PublicIP\":\"192.0.2.1\",\"BackendType\":null,\"BackendData\":null,"
		     "\"BackendV6Data\":null}");
	assert_string_equal(a.backend_type, "");
	a = value_ok("{\"PublicIP\":\"192.0.2.1\",\"BackendType\":\"vxlan\",\"BackendData\":"
		     "{\"VNI\":null,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}");
	assert_false(a.has_vni);
	a = value_ok("{\"PublicIP\":\"192.0.2.1\",\"BackendType\":\"vxlan\",\"BackendData\":"
		     "{\"VNI\":4294967295,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}");
	assert_int_equal(a.vni, UINT32_MAX);

	/* only vxlan's BackendData is read: another backend's may look like anything */
	a = value_ok("{\"PublicIP\":\"192.0.2.1\",\"BackendType\":\"wireguard\","
		     "\"BackendData\":{\"VtepMAC\":\"not a mac\",\"VNI\":\"x\"}}");
	assert_string_equal(a.backend_type, "wireguard");
	assert_false(a.has_vtep_mac);
	/* BackendType is compared exactly, as flannel's backends do */
	a = value_ok("{\"PublicIP\":\"192.0.2.1\",\"BackendType\":\"VXLAN\","
		     "\"BackendData\":{\"VtepMAC\":\"not a mac\"}}");
	assert_string_equal(a.backend_type, "VXLAN");
	assert_false(a.has_vtep_mac);
}

static void test_value_parse_refused(void **state)
{
	value_bad("", "invalid JSON: unexpected token near end of file (line 1, column 0)");
	value_bad("null", "lease value is a JSON null, not an object");
	value_bad("[]", "lease value is a JSON array, not an object");
	value_bad("\"x\"", "lease value is a JSON string, not an object");
	value_bad("{\"PublicIP\":\"192.0.2\"}", "PublicIP: invalid IP address format: 192.0.2");
	value_bad("{\"PublicIP\":\"192.0.2.03\"}",
		  "PublicIP: invalid IP address format: 192.0.2.03");
	value_bad("{\"PublicIP\":\"2001:db8::1\"}",
		  "PublicIP: invalid IPv4 address format: 2001:db8::1");
	value_bad("{\"PublicIP\":null}", "PublicIP: invalid IP address format: null");
	value_bad("{\"PublicIP\":3221225987}", "PublicIP: invalid IP address format: 3221225987");
	value_bad("{\"PublicIP\":\"192.0.2.3\\u0000\"}",
		  "PublicIP: invalid IP address format: \"192.0.2.3\\u0000\"");
	/* a bad key fails the value even when a later one is good, as in Go */
	value_bad("{\"publicip\":\"192.0.2\",\"PublicIP\":\"192.0.2.3\"}",
		  "PublicIP: invalid IP address format: 192.0.2");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":"
		  "{\"vtepmac\":\"x\",\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}",
		  "BackendData: VtepMAC is not a 48-bit MAC address: x");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"PublicIPv6\":\"zz\"}",
		  "PublicIPv6: invalid IP address format: zz");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"PublicIPv6\":6}",
		  "PublicIPv6: invalid IP address format: 6");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":5}",
		  "json: cannot unmarshal number into Go struct field LeaseAttrs.BackendType of "
		  "type string");
	value_bad(
		"{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"abcdefghijklmnopqrstuvwxyz012345\"}",
		"BackendType is not a backend name (NUL byte or longer than 31 bytes)");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vx\\u0000lan\"}",
		  "BackendType is not a backend name (NUL byte or longer than 31 bytes)");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"host-gw\",\"BackendData\":\"x\"}",
		  "BackendData is a JSON string, not an object");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":[]}",
		  "BackendData is a JSON array, not an object");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendV6Data\":1}",
		  "BackendV6Data is a JSON number, not an object");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":"
		  "{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f\"}}",
		  "BackendData: VtepMAC is not a 48-bit MAC address: c6:d2:32:6f:8f");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":"
		  "{\"VtepMAC\":\"01:02:03:04:05:06:07:08\"}}",
		  "BackendData: VtepMAC is not a 48-bit MAC address: 01:02:03:04:05:06:07:08");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":"
		  "{\"VtepMAC\":null}}",
		  "BackendData: VtepMAC is not a 48-bit MAC address: null");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":"
		  "{\"VtepMAC\":42}}",
		  "BackendData: VtepMAC is not a 48-bit MAC address: 42");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":"
		  "{\"VNI\":-1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}",
		  "BackendData: json: cannot unmarshal number -1 into Go struct field "
		  "vxlanLeaseAttrs.VNI of type uint32");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":"
		  "{\"VNI\":4294967296}}",
		  "BackendData: json: cannot unmarshal number 4294967296 into Go struct field "
		  "vxlanLeaseAttrs.VNI of type uint32");
	value_bad("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"vxlan\",\"BackendData\":"
		  "{\"VNI\":\"1\"}}",
		  "BackendData: json: cannot unmarshal string into Go struct field "
		  "vxlanLeaseAttrs.VNI of type uint32");
}

static char *format_ok(const struct tartan_flannel_lease_attrs *a)
{
	char *value = NULL;
	int r = tartan_flannel_lease_value_format(a, &value);

	assert_int_equal(r, 0);
	assert_non_null(value);
	return value;
}

/* A value longer than any lease is refused before the JSON parser sees it, even when it
 * would be a valid lease; one byte less is parsed. */
static void test_value_parse_too_long(void **state)
{
	static const char head[] = "{\"PublicIP\":\"192.0.2.7\",\"Pad\":\"";
	size_t n = TARTAN_FLANNEL_LEASE_VALUE_MAX + 1;
	struct tartan_flannel_lease_attrs a;
	char *buf, *error = NULL;

	buf = malloc(n + 1);
	assert_non_null(buf);
	memset(buf, 'A', n);
	memcpy(buf, head, strlen(head));
	memcpy(buf + n - 2, "\"}", 2);
	buf[n] = '\0';
	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(tartan_flannel_lease_value_parse(buf, n, &a, &error), -EINVAL);
	assert_string_equal(error,
			    "lease value of 65537 bytes, longer than the 65536 a lease can be");
	free(error);
	assert_int_equal(a.public_ip, 0x5a5a5a5a);
	assert_int_equal(tartan_flannel_lease_value_parse(buf, n, &a, NULL), -EINVAL);

	/* the same lease one byte shorter */
	memcpy(buf + n - 3, "\"}", 3);
	assert_int_equal(tartan_flannel_lease_value_parse(buf, n - 1, &a, NULL), 0);
	assert_int_equal(a.public_ip, IP(192, 0, 2, 7));
	free(buf);
}

static void test_value_format_byte_exact(void **state)
{
	struct tartan_flannel_lease_attrs a = {
		.public_ip = IP(192, 0, 2, 3),
		.backend_type = "vxlan",
		.has_vni = true,
		.vni = 1,
		.has_vtep_mac = true,
		.vtep_mac = { 0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44 },
	};
	char *v;

	v = format_ok(&a);
	assert_string_equal(v, VXLAN_VALUE);
	free(v);

	/* host-gw: no BackendData */
	a = (struct tartan_flannel_lease_attrs){ .public_ip = IP(192, 0, 2, 3),
						 .backend_type = "host-gw" };
	v = format_ok(&a);
	assert_string_equal(v, "{\"PublicIP\":\"192.0.2.3\",\"PublicIPv6\":null,"
			       "\"BackendType\":\"host-gw\"}");
	free(v);

	/* alloc: no BackendType either */
	a = (struct tartan_flannel_lease_attrs){ .public_ip = IP(10, 0, 0, 5) };
	v = format_ok(&a);
	assert_string_equal(v, "{\"PublicIP\":\"10.0.0.5\",\"PublicIPv6\":null}");
	free(v);

	/* a dual-stack lease read from a peer is written IPv4-only */
	a = (struct tartan_flannel_lease_attrs){ .public_ip = IP(10, 0, 0, 5),
						 .has_public_ipv6 = true,
						 .backend_type = "vxlan",
						 .vni = 4096,
						 .has_vtep_mac = true,
						 .vtep_mac = { 0x0a, 0xBC, 0xDE, 0xF0, 0x01,
							       0x02 } };
	v = format_ok(&a);
	assert_string_equal(v, "{\"PublicIP\":\"10.0.0.5\",\"PublicIPv6\":null,"
			       "\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":4096,"
			       "\"VtepMAC\":\"0a:bc:de:f0:01:02\"}}");
	free(v);

	/* Go would escape these; flannel's types never need it */
	v = NULL;
	a = (struct tartan_flannel_lease_attrs){ .public_ip = 1, .backend_type = "a\"b" };
	assert_int_equal(tartan_flannel_lease_value_format(&a, &v), -EINVAL);
	assert_null(v);
	a = (struct tartan_flannel_lease_attrs){ .public_ip = 1, .backend_type = "a<b" };
	assert_int_equal(tartan_flannel_lease_value_format(&a, &v), -EINVAL);
	memset(a.backend_type, 'x', sizeof(a.backend_type)); /* no NUL */
	assert_int_equal(tartan_flannel_lease_value_format(&a, &v), -EINVAL);
}

static void test_value_round_trip(void **state)
{
	struct tartan_flannel_lease_attrs a = value_ok(VXLAN_VALUE), b;
	char *v = format_ok(&a), *w;

	assert_string_equal(v, VXLAN_VALUE);
	b = value_ok(v);
	assert_int_equal(a.public_ip, b.public_ip);
	assert_int_equal(a.has_public_ipv6, b.has_public_ipv6);
	assert_string_equal(a.backend_type, b.backend_type);
	assert_int_equal(a.has_vni, b.has_vni);
	assert_int_equal(a.vni, b.vni);
	assert_int_equal(a.has_vtep_mac, b.has_vtep_mac);
	assert_memory_equal(a.vtep_mac, b.vtep_mac, 6);
	w = format_ok(&b);
	assert_string_equal(v, w);
	free(v);
	free(w);
}

static void test_mac(void **state)
{
	static const uint8_t want[6] = { 0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44 };
	static const char *const good[] = {
		"c6:d2:32:6f:8f:44", "C6:D2:32:6F:8F:44", "c6-d2-32-6f-8f-44",
		"c6d2.326f.8f44",    "C6D2.326F.8F44",
	};
	static const char *const bad[] = {
		"",
		"c6:d2:32:6f:8f",
		"c6:d2:32:6f:8f:44:",
		"c6:d2-32:6f:8f:44",
		"c6:d2:32:6f:8f:4g",
		"c6d2.326f.8f4",
		"c6d2.326f-8f44",
		"c6d2326f8f44",
		"c6:d2:32:6f:8f:44 ",
		"c6 d2 32 6f 8f 44",
		"0c6:d2:32:6f:8f:44",
		"c6.d2.32.6f.8f.44",
		"01:02:03:04:05:06:07:08",
	};
	char buf[TARTAN_FLANNEL_MAC_STRLEN];
	uint8_t mac[6];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(mac, 0, sizeof(mac));
		if (tartan_flannel_mac_parse(good[i], strlen(good[i]), mac) != 0)
			print_error("mac \"%s\": expected 0\n", good[i]);
		assert_int_equal(tartan_flannel_mac_parse(good[i], strlen(good[i]), mac), 0);
		assert_memory_equal(mac, want, 6);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(mac, 0x5a, sizeof(mac));
		if (tartan_flannel_mac_parse(bad[i], strlen(bad[i]), mac) != -EINVAL)
			print_error("mac \"%s\": expected -EINVAL\n", bad[i]);
		assert_int_equal(tartan_flannel_mac_parse(bad[i], strlen(bad[i]), mac), -EINVAL);
		assert_int_equal(mac[0], 0x5a);
	}
	assert_string_equal(tartan_flannel_mac_format(want, buf), "c6:d2:32:6f:8f:44");
}

/* --------------------------------------------------------------- checks */

static struct tartan_flannel_config *config_16(void)
{
	static const char json[] = "{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}";
	struct tartan_flannel_config *c = NULL;

	assert_int_equal(tartan_flannel_config_parse(json, strlen(json), &c, NULL), 0);
	return c;
}

static void check_ok(const struct tartan_flannel_config *c, uint32_t addr, unsigned len,
		     const struct tartan_flannel_lease_attrs *a)
{
	struct tartan_ip4_net sn = { .addr = addr, .len = (uint8_t)len };
	char *reason = NULL;
	int r = tartan_flannel_lease_check(c, &sn, a, &reason);

	if (r != 0)
		print_error("check: expected 0, got %d (%s)\n", r, reason ? reason : "no reason");
	assert_int_equal(r, 0);
	assert_null(reason);
}

static void check_bad(const struct tartan_flannel_config *c, uint32_t addr, unsigned len,
		      const struct tartan_flannel_lease_attrs *a, const char *want)
{
	struct tartan_ip4_net sn = { .addr = addr, .len = (uint8_t)len };
	char *reason = NULL;
	int r = tartan_flannel_lease_check(c, &sn, a, &reason);

	if (r != -EINVAL)
		print_error("check: expected -EINVAL (%s), got %d\n", want, r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(reason);
	assert_string_equal(reason, want);
	free(reason);
	assert_int_equal(tartan_flannel_lease_check(c, &sn, a, NULL), -EINVAL);
}

static void test_check(void **state)
{
	struct tartan_flannel_config *c = config_16();
	struct tartan_flannel_lease_attrs vx = value_ok(VXLAN_VALUE);
	struct tartan_flannel_lease_attrs hg = value_ok("{\"PublicIP\":\"192.0.2.4\","
							"\"BackendType\":\"host-gw\"}");
	struct tartan_flannel_lease_attrs a;

	check_ok(c, IP(10, 5, 72, 0), 24, &vx);
	check_ok(c, IP(10, 5, 72, 0), 24, &hg);
	/* peers outside [SubnetMin, SubnetMax] are still peers */
	check_ok(c, IP(10, 5, 0, 0), 24, &hg);

	check_bad(c, IP(10, 6, 1, 0), 24, &vx,
		  "subnet 10.6.1.0/24 is outside the network 10.5.0.0/16");
	check_bad(c, IP(10, 0, 0, 0), 8, &vx,
		  "subnet 10.0.0.0/8 is outside the network 10.5.0.0/16");
	check_bad(c, IP(10, 5, 1, 0), 25, &vx,
		  "subnet 10.5.1.0/25 is not a /24, the network's SubnetLen");
	check_bad(c, IP(10, 5, 0, 0), 16, &vx,
		  "subnet 10.5.0.0/16 is not a /24, the network's SubnetLen");
	check_bad(c, IP(10, 5, 1, 7), 24, &vx, "subnet 10.5.1.7/24 has host bits set");

	a = hg;
	a.public_ip = 0;
	check_bad(c, IP(10, 5, 72, 0), 24, &a,
		  "PublicIP 0.0.0.0 is in 0.0.0.0/8 (\"this network\", not a host address)");
	a.public_ip = IP(127, 0, 0, 1);
	check_bad(c, IP(10, 5, 72, 0), 24, &a, "PublicIP 127.0.0.1 is a loopback address");
	a.public_ip = IP(224, 0, 0, 5);
	check_bad(c, IP(10, 5, 72, 0), 24, &a, "PublicIP 224.0.0.5 is a multicast address");
	a.public_ip = UINT32_MAX;
	check_bad(c, IP(10, 5, 72, 0), 24, &a, "PublicIP 255.255.255.255 is the broadcast address");

	a = vx;
	a.has_vtep_mac = false;
	check_bad(c, IP(10, 5, 72, 0), 24, &a, "vxlan lease without a VtepMAC");
	a = vx;
	memset(a.vtep_mac, 0, 6);
	check_bad(c, IP(10, 5, 72, 0), 24, &a, "VtepMAC 00:00:00:00:00:00 is zero");
	a.vtep_mac[0] = 0x01;
	a.vtep_mac[1] = 0x00;
	a.vtep_mac[2] = 0x5e;
	check_bad(c, IP(10, 5, 72, 0), 24, &a,
		  "VtepMAC 01:00:5e:00:00:00 is a multicast or broadcast address");
	memset(a.vtep_mac, 0xff, 6);
	check_bad(c, IP(10, 5, 72, 0), 24, &a,
		  "VtepMAC ff:ff:ff:ff:ff:ff is a multicast or broadcast address");
	/* a locally administered unicast MAC, as flannel makes them, is fine */
	a.vtep_mac[0] = 0x02;
	check_ok(c, IP(10, 5, 72, 0), 24, &a);

	tartan_flannel_config_free(c);
}

/* A peer's lease that names this node's public IP or, for the same backend, its VtepMAC
 * is refused: the FDB entry would send our own VTEP's frames elsewhere. */
static void test_check_not_ours(void **state)
{
	struct tartan_flannel_lease_attrs ours = value_ok(VXLAN_VALUE);
	struct tartan_flannel_lease_attrs peer =
		value_ok("{\"PublicIP\":\"192.0.2.9\",\"BackendType\":\"vxlan\","
			 "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:45\"}}");
	struct tartan_flannel_lease_attrs same_mac =
		value_ok("{\"PublicIP\":\"192.0.2.9\",\"BackendType\":\"vxlan\","
			 "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"C6-D2-32-6F-8F-44\"}}");
	struct tartan_flannel_lease_attrs same_ip =
		value_ok("{\"PublicIP\":\"192.0.2.3\",\"BackendType\":\"host-gw\"}");
	struct tartan_flannel_lease_attrs other_type = same_mac;
	struct tartan_flannel_lease_attrs only_ip = { .public_ip = IP(192, 0, 2, 3) };
	struct tartan_flannel_lease_attrs none = { 0 };
	char *reason = NULL;

	assert_int_equal(tartan_flannel_lease_check_not_ours(&ours, &peer, &reason), 0);
	assert_null(reason);
	assert_int_equal(tartan_flannel_lease_check_not_ours(&ours, &same_mac, &reason), -EINVAL);
	assert_string_equal(reason, "it names our own VtepMAC c6:d2:32:6f:8f:44");
	free(reason);
	reason = NULL;
	assert_int_equal(tartan_flannel_lease_check_not_ours(&ours, &same_ip, &reason), -EINVAL);
	assert_string_equal(reason, "it names our own public IP");
	free(reason);
	assert_int_equal(tartan_flannel_lease_check_not_ours(&ours, &same_ip, NULL), -EINVAL);
	/* a MAC only counts for the backend that programs it */
	strcpy(other_type.backend_type, "udp");
	assert_int_equal(tartan_flannel_lease_check_not_ours(&ours, &other_type, NULL), 0);
	/* before our lease value is known: the public IP alone */
	assert_int_equal(tartan_flannel_lease_check_not_ours(&only_ip, &same_ip, NULL), -EINVAL);
	assert_int_equal(tartan_flannel_lease_check_not_ours(&only_ip, &same_mac, NULL), 0);
	/* no public IP of ours: nothing matches 0.0.0.0 */
	assert_int_equal(tartan_flannel_lease_check_not_ours(&none, &none, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_join),
		cmocka_unit_test(test_key_format),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_key_parse_refused),
		cmocka_unit_test(test_key_is_canonical),
		cmocka_unit_test(test_value_parse_vxlan),
		cmocka_unit_test(test_value_parse_old_forms),
		cmocka_unit_test(test_value_parse_refused),
		cmocka_unit_test(test_value_parse_too_long),
		cmocka_unit_test(test_value_format_byte_exact),
		cmocka_unit_test(test_value_round_trip),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_not_ours),
	};

	return cmocka_run_group_tests_name("flannel-lease", tests, NULL, NULL);
}
