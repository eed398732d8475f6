/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for flannel/config.c: flannel's ParseConfig and
 * CheckNetworkConfig (shared/docs/flannel-compat.md 1.2), the Backend type,
 * the vxlan options (4.2) and what tartan refuses.
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

#include "flannel/config.h"

#define IP(a, b, c, d)                                                                             \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static struct tartan_flannel_config *parse_ok(const char *json)
{
	struct tartan_flannel_config *c = NULL;
	char *error = NULL;
	int r;

	r = tartan_flannel_config_parse(json, strlen(json), &c, &error);
	if (r != 0)
		print_error("config %s: expected 0, got %d (%s)\n", json, r,
			    error ? error : "no reason");
	assert_int_equal(r, 0);
	assert_null(error);
	assert_non_null(c);
	assert_non_null(c->backend_type);
	return c;
}

static void expect_error_n(const char *json, size_t len, const char *reason)
{
	struct tartan_flannel_config *c = NULL;
	char *error = NULL;
	int r;

	r = tartan_flannel_config_parse(json, len, &c, &error);
	if (r != -EINVAL)
		print_error("config %.*s: expected -EINVAL, got %d\n", (int)len, json, r);
	assert_int_equal(r, -EINVAL);
	assert_null(c);
	if (!error)
		print_error("config %.*s: expected reason \"%s\", got none\n", (int)len, json,
			    reason);
	assert_non_null(error);
	assert_string_equal(error, reason);
	free(error);

	/* no reason asked for: same answer, nothing leaks */
	r = tartan_flannel_config_parse(json, len, &c, NULL);
	assert_int_equal(r, -EINVAL);
	assert_null(c);
}

static void expect_error(const char *json, const char *reason)
{
	expect_error_n(json, strlen(json), reason);
}

static void check_ranges(const char *json, uint32_t net, unsigned plen, unsigned subnet_len,
			 uint32_t min, uint32_t max)
{
	struct tartan_flannel_config *c = parse_ok(json);
	char a[TARTAN_IP4_ADDR_STRLEN], b[TARTAN_IP4_ADDR_STRLEN];
	char x[TARTAN_IP4_ADDR_STRLEN], y[TARTAN_IP4_ADDR_STRLEN];

	if (c->network.addr != net || c->network.len != plen || c->subnet_len != subnet_len ||
	    c->subnet_min != min || c->subnet_max != max)
		print_error("config %s: expected SubnetLen %u, SubnetMin %s, SubnetMax %s; got "
			    "SubnetLen %u, SubnetMin %s, SubnetMax %s\n",
			    json, subnet_len, tartan_ip4_addr_format(min, a),
			    tartan_ip4_addr_format(max, b), c->subnet_len,
			    tartan_ip4_addr_format(c->subnet_min, x),
			    tartan_ip4_addr_format(c->subnet_max, y));
	assert_int_equal(c->network.addr, net);
	assert_int_equal(c->network.len, plen);
	assert_int_equal(c->subnet_len, subnet_len);
	assert_int_equal(c->subnet_min, min);
	assert_int_equal(c->subnet_max, max);
	tartan_flannel_config_free(c);
}

/* ------------------------------------------------------ network checks */

static void test_defaults_slash16(void **state)
{
	struct tartan_flannel_config *c = parse_ok("{\"Network\":\"10.5.0.0/16\"}");

	assert_int_equal(c->network.addr, IP(10, 5, 0, 0));
	assert_int_equal(c->network.len, 16);
	assert_int_equal(c->subnet_len, 24);
	/* the first subnet is never handed out */
	assert_int_equal(c->subnet_min, IP(10, 5, 1, 0));
	assert_int_equal(c->subnet_max, IP(10, 5, 255, 0));
	assert_false(c->enable_nftables);
	/* flannel's parseBackendType: no Backend means udp */
	assert_string_equal(c->backend_type, "udp");
	assert_null(c->backend_json);
	tartan_flannel_config_free(c);
}

static void test_default_subnet_len(void **state)
{
	check_ranges("{\"Network\":\"10.0.0.0/8\"}", IP(10, 0, 0, 0), 8, 24, IP(10, 0, 1, 0),
		     IP(10, 255, 255, 0));
	check_ranges("{\"Network\":\"10.5.0.0/22\"}", IP(10, 5, 0, 0), 22, 24, IP(10, 5, 1, 0),
		     IP(10, 5, 3, 0));
	/* smaller than a /22: split into four and more */
	check_ranges("{\"Network\":\"10.5.0.0/23\"}", IP(10, 5, 0, 0), 23, 25, IP(10, 5, 0, 128),
		     IP(10, 5, 1, 128));
	check_ranges("{\"Network\":\"10.5.0.0/28\"}", IP(10, 5, 0, 0), 28, 30, IP(10, 5, 0, 4),
		     IP(10, 5, 0, 12));
	expect_error("{\"Network\":\"10.5.0.0/29\"}",
		     "network is too small. Minimum useful network prefix is /28 (Network "
		     "10.5.0.0/29)");
	expect_error("{\"Network\":\"10.5.0.0/32\"}",
		     "network is too small. Minimum useful network prefix is /28 (Network "
		     "10.5.0.0/32)");
	/* a network at the top of the space: SubnetMax must not wrap */
	check_ranges("{\"Network\":\"255.255.255.0/24\"}", IP(255, 255, 255, 0), 24, 26,
		     IP(255, 255, 255, 64), IP(255, 255, 255, 192));
	check_ranges("{\"Network\":\"0.0.0.0/1\"}", 0, 1, 24, IP(0, 0, 1, 0), IP(127, 255, 255, 0));
}

static void test_explicit_subnet_len(void **state)
{
	check_ranges("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":18}", IP(10, 5, 0, 0), 16, 18,
		     IP(10, 5, 64, 0), IP(10, 5, 192, 0));
	check_ranges("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":30}", IP(10, 5, 0, 0), 16, 30,
		     IP(10, 5, 0, 4), IP(10, 5, 255, 252));
	check_ranges("{\"Network\":\"10.5.0.0/28\",\"SubnetLen\":30}", IP(10, 5, 0, 0), 28, 30,
		     IP(10, 5, 0, 4), IP(10, 5, 0, 12));
	/* 0 and null both mean "not given" */
	check_ranges("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":0}", IP(10, 5, 0, 0), 16, 24,
		     IP(10, 5, 1, 0), IP(10, 5, 255, 0));
	check_ranges("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":null}", IP(10, 5, 0, 0), 16, 24,
		     IP(10, 5, 1, 0), IP(10, 5, 255, 0));

	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":31}",
		     "SubnetLen must be less than /31 (SubnetLen 31)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":32}",
		     "SubnetLen must be less than /31 (SubnetLen 32)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":17}",
		     "network must be able to accommodate at least four subnets (Network "
		     "10.5.0.0/16, SubnetLen 17)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":8}",
		     "network must be able to accommodate at least four subnets (Network "
		     "10.5.0.0/16, SubnetLen 8)");
	expect_error("{\"Network\":\"10.5.0.0/28\",\"SubnetLen\":29}",
		     "network must be able to accommodate at least four subnets (Network "
		     "10.5.0.0/28, SubnetLen 29)");
	/* the > 30 check comes first, as in flannel */
	expect_error("{\"Network\":\"10.5.0.0/30\",\"SubnetLen\":31}",
		     "SubnetLen must be less than /31 (SubnetLen 31)");
}

static void test_subnet_min_max(void **state)
{
	check_ranges("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.10.0\","
		     "\"SubnetMax\":\"10.5.20.0\"}",
		     IP(10, 5, 0, 0), 16, 24, IP(10, 5, 10, 0), IP(10, 5, 20, 0));
	/* the network's first subnet may be asked for explicitly */
	check_ranges("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.0.0\"}", IP(10, 5, 0, 0),
		     16, 24, IP(10, 5, 0, 0), IP(10, 5, 255, 0));
	/* "0.0.0.0" is flannel's "not set" */
	check_ranges("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"0.0.0.0\","
		     "\"SubnetMax\":\"0.0.0.0\"}",
		     IP(10, 5, 0, 0), 16, 24, IP(10, 5, 1, 0), IP(10, 5, 255, 0));
	check_ranges("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.7.0\","
		     "\"SubnetMax\":\"10.5.7.0\"}",
		     IP(10, 5, 0, 0), 16, 24, IP(10, 5, 7, 0), IP(10, 5, 7, 0));

	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.6.0.0\"}",
		     "SubnetMin is not in the range of the Network (SubnetMin 10.6.0.0, Network "
		     "10.5.0.0/16)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMax\":\"10.4.255.0\"}",
		     "SubnetMax is not in the range of the Network (SubnetMax 10.4.255.0, Network "
		     "10.5.0.0/16)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.1.128\"}",
		     "SubnetMin is not on a SubnetLen boundary: 10.5.1.128 (SubnetLen 24)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMax\":\"10.5.200.1\"}",
		     "SubnetMax is not on a SubnetLen boundary: 10.5.200.1 (SubnetLen 24)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":20,\"SubnetMin\":\"10.5.8.0\"}",
		     "SubnetMin is not on a SubnetLen boundary: 10.5.8.0 (SubnetLen 20)");
	/* tartan: flanneld would start with this and never find a subnet */
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.200.0\","
		     "\"SubnetMax\":\"10.5.100.0\"}",
		     "SubnetMin 10.5.200.0 is above SubnetMax 10.5.100.0: no subnet can be leased");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"10.5.1\"}",
		     "SubnetMin: invalid IP address format: 10.5.1");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":\"010.5.1.0\"}",
		     "SubnetMin: invalid IP address format: 010.5.1.0");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMax\":\"fc00::1\"}",
		     "SubnetMax: invalid IPv4 address format: fc00::1");
	/* flannel's IP4 type parses the raw JSON text: null and numbers are errors */
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMin\":null}",
		     "SubnetMin: invalid IP address format: null");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetMax\":167772160}",
		     "SubnetMax: invalid IP address format: 167772160");
}

static void test_network_values(void **state)
{
	/* host bits are cleared, as Go's ParseCIDR does */
	check_ranges("{\"Network\":\"10.5.3.7/16\"}", IP(10, 5, 0, 0), 16, 24, IP(10, 5, 1, 0),
		     IP(10, 5, 255, 0));
	check_ranges("{\"Network\":\"10.5.0.0/016\"}", IP(10, 5, 0, 0), 16, 24, IP(10, 5, 1, 0),
		     IP(10, 5, 255, 0));

	expect_error("{}", "please define a correct Network parameter in the flannel config");
	expect_error("{\"Network\":\"0.0.0.0/0\"}",
		     "please define a correct Network parameter in the flannel config");
	/* masked to 0.0.0.0/0, which flannel calls empty */
	expect_error("{\"Network\":\"1.2.3.4/0\"}",
		     "please define a correct Network parameter in the flannel config");
	expect_error("{\"Network\":\"10.5.0.0/33\"}", "Network: invalid CIDR address: 10.5.0.0/33");
	expect_error("{\"Network\":\"10.5.0.0\"}", "Network: invalid CIDR address: 10.5.0.0");
	expect_error("{\"Network\":\"\"}", "Network: invalid CIDR address: ");
	expect_error("{\"Network\":10}", "Network: invalid CIDR address: 10");
	expect_error("{\"Network\":null}", "Network: invalid CIDR address: null");
	expect_error("{\"Network\":[\"10.5.0.0/16\"]}",
		     "Network: invalid CIDR address: [\"10.5.0.0/16\"]");
	expect_error("{\"Network\":\"fc00::/64\"}", "Network: invalid IPv4 CIDR format: fc00::/64");
	expect_error("{\"Network\":\"10.5.0.0/16 \"}",
		     "Network: invalid CIDR address: 10.5.0.0/16 ");
	/* a NUL inside the string is part of it; control characters are shown escaped */
	expect_error("{\"Network\":\"10.5.0.0/16\\u0000\"}",
		     "Network: invalid CIDR address: \"10.5.0.0/16\\u0000\"");
	expect_error("{\"Network\":\"10.5.0.0/16\\nE: fake log line\"}",
		     "Network: invalid CIDR address: \"10.5.0.0/16\\nE: fake log line\"");
}

/* ------------------------------------------------------- JSON decoding */

static void test_keys_case_insensitive(void **state)
{
	struct tartan_flannel_config *c;

	check_ranges("{\"network\":\"10.5.0.0/16\"}", IP(10, 5, 0, 0), 16, 24, IP(10, 5, 1, 0),
		     IP(10, 5, 255, 0));
	check_ranges("{\"NETWORK\":\"10.5.0.0/16\",\"subnetlen\":20,\"SUBNETMIN\":\"10.5.16.0\","
		     "\"subnetMax\":\"10.5.32.0\"}",
		     IP(10, 5, 0, 0), 16, 20, IP(10, 5, 16, 0), IP(10, 5, 32, 0));
	/* Go folds U+017F (long s) to S and U+212A (Kelvin sign) to K */
	check_ranges("{\"Networ\xe2\x84\xaa\":\"10.5.0.0/16\",\"\xc5\xbfubnetLen\":20}",
		     IP(10, 5, 0, 0), 16, 20, IP(10, 5, 16, 0), IP(10, 5, 240, 0));
	/* and U+0130 / U+0131 to I */
	expect_error("{\"Network\":\"10.5.0.0/16\",\"Enable\xc4\xb0Pv6\":true}",
		     "EnableIPv6 is true: tartan is IPv4-only for now and can't join a dual-stack "
		     "flannel network");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"enable\xc4\xb1pv4\":false}",
		     "EnableIPv4 is false: tartan needs an IPv4 Network (IPv6-only networks are "
		     "not supported)");
	/* not the same name: ignored, like any unknown key */
	expect_error("{\"Net_work\":\"10.5.0.0/16\"}",
		     "please define a correct Network parameter in the flannel config");
	expect_error("{\"Networks\":\"10.5.0.0/16\"}",
		     "please define a correct Network parameter in the flannel config");
	expect_error("{\"Netwörk\":\"10.5.0.0/16\"}",
		     "please define a correct Network parameter in the flannel config");

	/* the last matching key wins, as Go decodes each into the same field */
	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"network\":\"10.6.0.0/16\"}");
	assert_int_equal(c->network.addr, IP(10, 6, 0, 0));
	tartan_flannel_config_free(c);
	c = parse_ok("{\"network\":\"10.6.0.0/16\",\"Network\":\"10.5.0.0/16\"}");
	assert_int_equal(c->network.addr, IP(10, 5, 0, 0));
	tartan_flannel_config_free(c);
	/* ... but Go decodes each of them, so a bad earlier one fails the config */
	expect_error("{\"network\":\"10.6.0.0\",\"Network\":\"10.5.0.0/16\"}",
		     "Network: invalid CIDR address: 10.6.0.0");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"subnetlen\":\"x\",\"SubnetLen\":24}",
		     "json: cannot unmarshal string into Go struct field Config.SubnetLen of type "
		     "uint");
	/* and null leaves what an earlier key set */
	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":20,\"subnetlen\":null,"
		     "\"Backend\":{\"Type\":\"vxlan\",\"type\":null}}");
	assert_int_equal(c->subnet_len, 20);
	assert_string_equal(c->backend_type, "vxlan");
	tartan_flannel_config_free(c);

	assert_true(tartan_flannel_json_key_match("network", "Network"));
	assert_true(tartan_flannel_json_key_match("IPV6NETWORK", "IPv6Network"));
	assert_false(tartan_flannel_json_key_match("Network ", "Network"));
	assert_false(tartan_flannel_json_key_match("Netwo", "Network"));
	assert_false(tartan_flannel_json_key_match("", "Network"));
}

static void test_type_errors(void **state)
{
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":\"24\"}",
		     "json: cannot unmarshal string into Go struct field Config.SubnetLen of type "
		     "uint");
	expect_error(
		"{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":-1}",
		"json: cannot unmarshal number -1 into Go struct field Config.SubnetLen of type "
		"uint");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":24.5}",
		     "json: cannot unmarshal number 24.5 into Go struct field Config.SubnetLen of "
		     "type uint");
	expect_error(
		"{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":true}",
		"json: cannot unmarshal bool into Go struct field Config.SubnetLen of type uint");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"EnableIPv4\":\"true\"}",
		     "json: cannot unmarshal string into Go struct field Config.EnableIPv4 of type "
		     "bool");
	expect_error(
		"{\"Network\":\"10.5.0.0/16\",\"EnableNFTables\":1}",
		"json: cannot unmarshal number 1 into Go struct field Config.EnableNFTables of "
		"type bool");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"IPv6SubnetLen\":\"64\"}",
		     "json: cannot unmarshal string into Go struct field Config.IPv6SubnetLen of "
		     "type uint");
}

static void test_whole_document(void **state)
{
	expect_error("[]", "json: cannot unmarshal array into Go value of type subnet.Config");
	expect_error("\"10.5.0.0/16\"",
		     "json: cannot unmarshal string into Go value of type subnet.Config");
	/* Go leaves the struct alone for null: no Network */
	expect_error("null", "please define a correct Network parameter in the flannel config");
	expect_error("", "invalid JSON in network config: unexpected token near end of file "
			 "(line 1, column 0)");
	expect_error("{\"Network\":\"10.5.0.0/16\"",
		     "invalid JSON in network config: '}' expected near end of file (line 1, "
		     "column 24)");
	expect_error(
		"{\"Network\":\"10.5.0.0/16\"} x",
		"invalid JSON in network config: end of file expected near 'x' (line 1, column "
		"27)");
	/* only len bytes count */
	expect_error_n("{\"Network\":\"10.5.0.0/16\"}", 10,
		       "invalid JSON in network config: ':' expected near end of file (line 1, "
		       "column 10)");
}

static void test_flags(void **state)
{
	struct tartan_flannel_config *c;

	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"EnableNFTables\":true,\"EnableIPv4\":true,"
		     "\"EnableIPv6\":false,\"SomethingElse\":[1,2,{\"x\":null}]}");
	assert_true(c->enable_nftables);
	tartan_flannel_config_free(c);
	/* null leaves EnableIPv4 at its default, true */
	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"EnableIPv4\":null}");
	tartan_flannel_config_free(c);

	expect_error("{\"Network\":\"10.5.0.0/16\",\"EnableIPv4\":false}",
		     "EnableIPv4 is false: tartan needs an IPv4 Network (IPv6-only networks are "
		     "not supported)");
	expect_error("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fc00::/48\"}",
		     "EnableIPv4 is false: tartan needs an IPv4 Network (IPv6-only networks are "
		     "not supported)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"EnableIPv6\":true,"
		     "\"IPv6Network\":\"fc00::/48\",\"Backend\":{\"Type\":\"vxlan\"}}",
		     "EnableIPv6 is true: tartan is IPv4-only for now and can't join a dual-stack "
		     "flannel network");
	/* the IPv4 checks come first, as in CheckNetworkConfig */
	expect_error("{\"Network\":\"10.5.0.0/29\",\"EnableIPv6\":true}",
		     "network is too small. Minimum useful network prefix is /28 (Network "
		     "10.5.0.0/29)");
}

static void test_ipv6_fields_decoded(void **state)
{
	struct tartan_flannel_config *c;

	/* flanneld decodes these even with EnableIPv6 false, so garbage is refused */
	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"IPv6Network\":\"fc00::/48\","
		     "\"IPv6SubnetMin\":\"fc00:0:0:1::\",\"IPv6SubnetMax\":null,"
		     "\"IPv6SubnetLen\":64}");
	tartan_flannel_config_free(c);
	/* Go's ParseCIDR takes either family */
	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"IPv6Network\":\"10.6.0.0/16\"}");
	tartan_flannel_config_free(c);

	expect_error("{\"Network\":\"10.5.0.0/16\",\"IPv6Network\":\"fc00::\"}",
		     "IPv6Network: invalid CIDR address: fc00::");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"IPv6Network\":\"fc00::/129\"}",
		     "IPv6Network: invalid CIDR address: fc00::/129");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"IPv6Network\":null}",
		     "IPv6Network: invalid CIDR address: null");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"IPv6SubnetMin\":\"fc00::g\"}",
		     "IPv6SubnetMin: invalid IP address format: fc00::g");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"IPv6SubnetMax\":1}",
		     "IPv6SubnetMax: invalid IP address format: 1");
}

/* -------------------------------------------------------------- Backend */

static void test_backend_type(void **state)
{
	struct tartan_flannel_config *c;

	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"VXLAN\"}}");
	/* the backend manager lower-cases the type */
	assert_string_equal(c->backend_type, "vxlan");
	assert_string_equal(c->backend_json, "{\"Type\":\"VXLAN\"}");
	tartan_flannel_config_free(c);

	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\": {\n  \"type\" : \"host-gw\",\n"
		     "  \"Port\" : 1 }}");
	assert_string_equal(c->backend_type, "host-gw");
	/* compact, in the original key order */
	assert_string_equal(c->backend_json, "{\"type\":\"host-gw\",\"Port\":1}");
	tartan_flannel_config_free(c);

	c = parse_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"wireguard\"}}");
	assert_string_equal(c->backend_type, "wireguard");
	tartan_flannel_config_free(c);

	expect_error("{\"Network\":\"10.5.0.0/16\",\"Backend\":{}}",
		     "unknown backend type: \"\" (the Backend has no Type)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"\"}}",
		     "unknown backend type: \"\" (the Backend has no Type)");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":null}}",
		     "unknown backend type: \"\" (the Backend has no Type)");
	/* Go hands null to the RawMessage, whose Type is then "" */
	expect_error("{\"Network\":\"10.5.0.0/16\",\"Backend\":null}",
		     "unknown backend type: \"\" (the Backend has no Type)");
	expect_error(
		"{\"Network\":\"10.5.0.0/16\",\"Backend\":\"vxlan\"}",
		"error decoding Backend property of config: json: cannot unmarshal string into "
		"Go value of type struct { Type string }");
	expect_error("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\\u0000\"}}",
		     "unknown backend type: the Backend Type has a NUL byte");
	expect_error(
		"{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":1}}",
		"error decoding Backend property of config: json: cannot unmarshal number into "
		"Go struct field .Type of type string");
	/* ParseConfig fails on the Backend before CheckNetworkConfig runs */
	expect_error("{\"Network\":\"10.5.0.0/29\",\"Backend\":[]}",
		     "error decoding Backend property of config: json: cannot unmarshal array into "
		     "Go value of type struct { Type string }");
	/* ... while a missing Type is only found after the network checks */
	expect_error("{\"Network\":\"10.5.0.0/29\",\"Backend\":{}}",
		     "network is too small. Minimum useful network prefix is /28 (Network "
		     "10.5.0.0/29)");
}

static struct tartan_flannel_backend backend_ok(const char *json)
{
	struct tartan_flannel_config *c = parse_ok(json);
	struct tartan_flannel_backend b;
	char *error = NULL;
	int r;

	memset(&b, 0x5a, sizeof(b));
	r = tartan_flannel_backend_parse(c, &b, &error);
	if (r != 0)
		print_error("backend of %s: expected 0, got %d (%s)\n", json, r,
			    error ? error : "no reason");
	assert_int_equal(r, 0);
	assert_null(error);
	tartan_flannel_config_free(c);
	return b;
}

static void backend_bad(const char *json, const char *reason)
{
	struct tartan_flannel_config *c = parse_ok(json);
	struct tartan_flannel_backend b;
	char *error = NULL;
	int r;

	r = tartan_flannel_backend_parse(c, &b, &error);
	if (r != -EINVAL)
		print_error("backend of %s: expected -EINVAL, got %d\n", json, r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(error);
	assert_string_equal(error, reason);
	free(error);
	r = tartan_flannel_backend_parse(c, &b, NULL);
	assert_int_equal(r, -EINVAL);
	tartan_flannel_config_free(c);
}

static void test_backend_refused(void **state)
{
	backend_bad(
		"{\"Network\":\"10.5.0.0/16\"}",
		"backend type udp is not supported by tartan (flannel's default when Backend is "
		"absent); use host-gw or vxlan");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"UDP\"}}",
		    "backend type udp is not supported by tartan; use host-gw or vxlan");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"wireguard\"}}",
		    "backend type wireguard is not supported by tartan; use host-gw or vxlan");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"ipip\"}}",
		    "backend type ipip is not supported by tartan; use host-gw or vxlan");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"extension\"}}",
		    "backend type extension is not supported by tartan; use host-gw or vxlan");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"ipsec\"}}",
		    "backend type ipsec is not supported by tartan; use host-gw or vxlan");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"tencent-vpc\"}}",
		    "backend type tencent-vpc is not supported by tartan; use host-gw or vxlan");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"gce\"}}",
		    "unknown backend type: gce (tartan supports host-gw, vxlan and alloc)");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"host_gw\"}}",
		    "unknown backend type: host_gw (tartan supports host-gw, vxlan and alloc)");
}

static void test_backend_host_gw_alloc(void **state)
{
	struct tartan_flannel_backend b;

	b = backend_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"host-gw\","
		       "\"VNI\":\"ignored\"}}");
	assert_int_equal(b.kind, TARTAN_FLANNEL_BACKEND_HOST_GW);
	assert_string_equal(b.type, "host-gw");
	assert_string_equal(b.lease_backend_type, "host-gw");
	assert_int_equal(b.vxlan.vni, 0);

	b = backend_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"Alloc\"}}");
	assert_int_equal(b.kind, TARTAN_FLANNEL_BACKEND_ALLOC);
	assert_string_equal(b.type, "alloc");
	/* alloc leases carry no BackendType */
	assert_string_equal(b.lease_backend_type, "");
}

static void test_backend_vxlan_defaults(void **state)
{
	struct tartan_flannel_backend b;

	b = backend_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");
	assert_int_equal(b.kind, TARTAN_FLANNEL_BACKEND_VXLAN);
	assert_string_equal(b.type, "vxlan");
	assert_string_equal(b.lease_backend_type, "vxlan");
	assert_int_equal(b.vxlan.vni, 1);
	assert_int_equal(b.vxlan.port, 8472);
	assert_int_equal(b.vxlan.mtu, 0);
	assert_false(b.vxlan.gbp);
	assert_false(b.vxlan.learning);
	assert_false(b.vxlan.direct_routing);

	/* Port 0 is the kernel's default, 8472; MTU 0 the interface's; null changes nothing */
	b = backend_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"Port\":0,"
		       "\"MTU\":0,\"VNI\":null,\"GBP\":null}}");
	assert_int_equal(b.vxlan.vni, 1);
	assert_int_equal(b.vxlan.port, 8472);
	assert_int_equal(b.vxlan.mtu, 0);
	assert_false(b.vxlan.gbp);
}

static void test_backend_vxlan_options(void **state)
{
	struct tartan_flannel_backend b;

	b = backend_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":4096,"
		       "\"Port\":4789,\"GBP\":true,\"Learning\":true,\"DirectRouting\":true,"
		       "\"MTU\":1500,\"MacPrefix\":\"0E-2A\",\"Name\":\"x\"}}");
	assert_int_equal(b.vxlan.vni, 4096);
	assert_int_equal(b.vxlan.port, 4789);
	assert_int_equal(b.vxlan.mtu, 1500);
	assert_true(b.vxlan.gbp);
	assert_true(b.vxlan.learning);
	assert_true(b.vxlan.direct_routing);

	/* the struct tags are lower-case; Go matches them in any case */
	b = backend_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"type\":\"vxlan\",\"vni\":0,"
		       "\"port\":65535,\"directrouting\":true,\"mtu\":118}}");
	assert_int_equal(b.vxlan.vni, 0);
	assert_int_equal(b.vxlan.port, 65535);
	assert_int_equal(b.vxlan.mtu, 118);
	assert_true(b.vxlan.direct_routing);
	b = backend_ok("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\","
		       "\"VNI\":16777215,\"MTU\":65535}}");
	assert_int_equal(b.vxlan.vni, 16777215);
	assert_int_equal(b.vxlan.mtu, 65535);
}

static void test_backend_vxlan_bad_options(void **state)
{
	backend_bad(
		"{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":16777216}}",
		"error decoding VXLAN backend config: VNI 16777216 is out of range "
		"(0..16777215)");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":-1}}",
		    "error decoding VXLAN backend config: VNI -1 is out of range (0..16777215)");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":\"1\"}}",
		    "error decoding VXLAN backend config: json: cannot unmarshal string into Go "
		    "struct field VXLANConfig.vni of type int");
	backend_bad(
		"{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":1.5}}",
		"error decoding VXLAN backend config: json: cannot unmarshal number 1.5 into Go "
		"struct field VXLANConfig.vni of type int");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"Port\":65536}}",
		    "error decoding VXLAN backend config: Port 65536 is out of range (0..65535)");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"Port\":-1}}",
		    "error decoding VXLAN backend config: Port -1 is out of range (0..65535)");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"MTU\":117}}",
		    "error decoding VXLAN backend config: MTU 117 is out of range (118..65535)");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"MTU\":-1500}}",
		    "error decoding VXLAN backend config: MTU -1500 is out of range (118..65535)");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"MTU\":65536}}",
		    "error decoding VXLAN backend config: MTU 65536 is out of range (118..65535)");
	backend_bad(
		"{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"GBP\":\"yes\"}}",
		"error decoding VXLAN backend config: json: cannot unmarshal string into Go "
		"struct field VXLANConfig.gbp of type bool");
	backend_bad("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\","
		    "\"DirectRouting\":1}}",
		    "error decoding VXLAN backend config: json: cannot unmarshal number 1 into Go "
		    "struct field VXLANConfig.directRouting of type bool");
}

static void test_config_key(void **state)
{
	static const struct {
		const char *prefix, *key;
	} cases[] = {
		{ "/coreos.com/network", "/coreos.com/network/config" },
		{ "/coreos.com/network/", "/coreos.com/network/config" },
		{ "//coreos.com//network//", "/coreos.com/network/config" },
		{ "coreos.com/network", "coreos.com/network/config" },
		{ "/", "/config" },
		{ "", "config" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *key = NULL;

		assert_int_equal(tartan_flannel_config_key(cases[i].prefix, &key), 0);
		assert_string_equal(key, cases[i].key);
		free(key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_slash16),
		cmocka_unit_test(test_default_subnet_len),
		cmocka_unit_test(test_explicit_subnet_len),
		cmocka_unit_test(test_subnet_min_max),
		cmocka_unit_test(test_network_values),
		cmocka_unit_test(test_keys_case_insensitive),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_whole_document),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_ipv6_fields_decoded),
		cmocka_unit_test(test_backend_type),
		cmocka_unit_test(test_backend_refused),
		cmocka_unit_test(test_backend_host_gw_alloc),
		cmocka_unit_test(test_backend_vxlan_defaults),
		cmocka_unit_test(test_backend_vxlan_options),
		cmocka_unit_test(test_backend_vxlan_bad_options),
		cmocka_unit_test(test_config_key),
	};

	return cmocka_run_group_tests_name("flannel-config", tests, NULL, NULL);
}
