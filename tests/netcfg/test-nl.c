/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netcfg/nl against the real kernel. Run by nl-suite.sh inside a network namespace of its
 * own holding an 'eth0' with 198.51.100.2/24; TARTAN_TEST_NETNS2 names a second, empty one.
 * What the library did is checked with ip(8) and bridge(8) run in the same namespace, so a
 * bug in reading back cannot hide a bug in writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/rtnetlink.h>

#include <cmocka.h>
#include <jansson.h>

#include "netcfg/ip4.h"
#include "netcfg/monitor.h"
#include "netcfg/nl.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))
#define ETH0_IP IP(198, 51, 100, 2)

static const uint8_t mac1[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t mac2[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01 };

/* Output of a shell command (run in this namespace), malloc'ed; fails the test if it
 * cannot run at all. */
__attribute__((format(printf, 1, 2))) static char *run(const char *fmt, ...)
{
	char cmd[512], *out = NULL;
	size_t len = 0, cap = 0, got;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		got = fread(out + len, 1, cap - len - 1, p);
		len += got;
	} while (got > 0);
	out[len] = '\0';
	pclose(p);
	return out;
}

/* `ip -d -j link show NAME` as the first object of the array, or NULL if no such link. */
static json_t *link_json(const char *name)
{
	char *out = run("ip -d -j link show dev %s 2>/dev/null", name);
	json_error_t jerr;
	json_t *arr = json_loads(out, 0, &jerr), *obj;

	free(out);
	if (!arr)
		return NULL;
	obj = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	return obj;
}

static bool json_flag(json_t *link, const char *flag)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(link, "flags"), i, f)
		if (json_is_string(f) && strcmp(json_string_value(f), flag) == 0)
			return true;
	return false;
}

static void expect_str(const char *what, const char *expected, const char *seen)
{
	if (!seen || strcmp(expected, seen) != 0) {
		print_error("%s: expected '%s', saw '%s'\n", what, expected,
			    seen ? seen : "(none)");
		fail();
	}
}

static void expect_contains(const char *what, const char *text, const char *needle, bool yes)
{
	if ((strstr(text, needle) != NULL) != yes) {
		print_error("%s: expected %s'%s', saw:\n%s\n", what, yes ? "" : "no ", needle,
			    text);
		fail();
	}
}

/* A call that must succeed; on failure say what the library said. */
#define expect_ok(nl, call)                                                                        \
	do {                                                                                       \
		int _e = (call);                                                                   \
		if (_e != 0) {                                                                     \
			print_error("%s: expected 0, saw %d (%s)\n", #call, _e,                    \
				    tartan_nl_last_error(nl));                                     \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

static int setup(void **state)
{
	struct tartan_nl *nl;

	if (tartan_nl_new(&nl) < 0)
		return -1;
	*state = nl;
	return 0;
}

static int teardown(void **state)
{
	tartan_nl_free(*state);
	return 0;
}

static void test_link_index_absent_is_enodev(void **state)
{
	struct tartan_nl *nl = *state;
	int idx = -7;

	assert_int_equal(tartan_nl_link_index(nl, "nosuchlink0", &idx), -ENODEV);
	assert_int_equal(idx, -7); /* ret_* untouched on failure */
	assert_true(tartan_nl_last_error(nl)[0] != '\0');
	assert_int_equal(tartan_nl_link_index(nl, "eth0", &idx), 0);
	assert_true(idx > 0);
	/* deleting what is not there is success */
	assert_int_equal(tartan_nl_link_delete(nl, "nosuchlink0"), 0);
}

static void test_bridge_ensure_idempotent_with_mtu(void **state)
{
	struct tartan_nl *nl = *state;
	int a = 0, b = 0, dummy;
	json_t *j;

	assert_int_equal(tartan_nl_bridge_ensure(nl, "tbr0", 1400, NULL, false, &a), 0);
	assert_int_equal(tartan_nl_bridge_ensure(nl, "tbr0", 1400, NULL, false, &b), 0);
	assert_int_equal(a, b);
	j = link_json("tbr0");
	assert_non_null(j);
	expect_str("kind", "bridge",
		   json_string_value(json_object_get(json_object_get(j, "linkinfo"), "info_kind")));
	assert_int_equal(json_integer_value(json_object_get(j, "mtu")), 1400);
	assert_true(json_flag(j, "UP"));
	json_decref(j);

	/* a changed MTU is applied to the existing bridge, a link set down is set up again */
	free(run("ip link set tbr0 down"));
	assert_int_equal(tartan_nl_bridge_ensure(nl, "tbr0", 1300, NULL, false, &b), 0);
	assert_int_equal(a, b);
	j = link_json("tbr0");
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "mtu")), 1300);
	assert_true(json_flag(j, "UP"));
	json_decref(j);

	/* a link of that name that is not a bridge is not taken over */
	assert_int_equal(tartan_nl_bridge_ensure(nl, "eth0", 1300, NULL, false, &dummy), -EEXIST);

	assert_int_equal(tartan_nl_link_delete(nl, "tbr0"), 0);
	assert_int_equal(tartan_nl_link_index(nl, "tbr0", &dummy), -ENODEV);
}

/* kubenet's hairpin modes: a promiscuous bridge, or hairpin on the pods' ports */
static void test_bridge_promisc_and_hairpin(void **state)
{
	struct tartan_nl *nl = *state;
	int br = 0, b = 0, port = 0;
	char *out;
	json_t *j;

	assert_int_equal(tartan_nl_bridge_ensure(nl, "tbr3", 0, NULL, true, &br), 0);
	j = link_json("tbr3");
	assert_non_null(j);
	assert_true(json_flag(j, "PROMISC"));
	json_decref(j);
	/* set off by hand: back on with the next ensure */
	free(run("ip link set tbr3 promisc off"));
	assert_int_equal(tartan_nl_bridge_ensure(nl, "tbr3", 0, NULL, true, &b), 0);
	assert_int_equal(br, b);
	j = link_json("tbr3");
	assert_true(json_flag(j, "PROMISC"));
	json_decref(j);

	free(run("ip link add tvh0 type veth peer name tvh1"));
	assert_int_equal(tartan_nl_link_index(nl, "tvh0", &port), 0);
	assert_int_equal(tartan_nl_link_attach(nl, port, br), 0);
	assert_int_equal(tartan_nl_port_set_hairpin(nl, port, true), 0);
	out = run("bridge -d link show dev tvh0");
	expect_contains("bridge link", out, "hairpin on", true);
	free(out);
	assert_int_equal(tartan_nl_port_set_hairpin(nl, port, false), 0);
	out = run("bridge -d link show dev tvh0");
	expect_contains("bridge link", out, "hairpin off", true);
	free(out);
	/* not a bridge port: the kernel's refusal, not a crash */
	assert_int_equal(tartan_nl_link_delete(nl, "tvh0"), 0);
	assert_true(tartan_nl_port_set_hairpin(nl, br, true) < 0 ||
		    tartan_nl_port_set_hairpin(nl, 999999, true) < 0);
	assert_int_equal(tartan_nl_link_delete(nl, "tbr3"), 0);
}

static bool list_has(const struct tartan_ip4_net *l, size_t n, uint32_t addr, unsigned len)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].addr == addr && l[i].len == len)
			return true;
	return false;
}

static void test_addresses(void **state)
{
	struct tartan_nl *nl = *state;
	struct tartan_ip4_net *l = NULL;
	size_t n = 99;
	int br;
	char *out;

	assert_int_equal(tartan_nl_bridge_ensure(nl, "tbr1", 0, NULL, false, &br), 0);
	assert_int_equal(tartan_nl_addr_list(nl, br, &l, &n), 0);
	assert_int_equal(n, 0);
	assert_null(l);

	assert_int_equal(tartan_nl_addr_add(nl, br, IP(10, 5, 3, 1), 24), 0);
	assert_int_equal(tartan_nl_addr_add(nl, br, IP(10, 5, 3, 1), 24), 0); /* EEXIST is ok */
	assert_int_equal(tartan_nl_addr_add(nl, br, IP(10, 9, 0, 7), 16), 0);
	out = run("ip -4 -o addr show dev tbr1");
	expect_contains("ip addr", out, "inet 10.5.3.1/24", true);
	expect_contains("ip addr", out, "inet 10.9.0.7/16", true);
	free(out);

	assert_int_equal(tartan_nl_addr_list(nl, br, &l, &n), 0);
	assert_int_equal(n, 2);
	/* the address itself, host bits kept */
	assert_true(list_has(l, n, IP(10, 5, 3, 1), 24));
	assert_true(list_has(l, n, IP(10, 9, 0, 7), 16));
	free(l);
	/* eth0's address is not listed for the bridge, and is listed for eth0 */
	{
		int eth0;

		assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
		assert_int_equal(tartan_nl_addr_list(nl, eth0, &l, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(l[0].addr, ETH0_IP);
		assert_int_equal(l[0].len, 24);
		free(l);
	}

	assert_int_equal(tartan_nl_addr_del(nl, br, IP(10, 5, 3, 1), 24), 0);
	assert_int_equal(tartan_nl_addr_del(nl, br, IP(10, 5, 3, 1), 24), 0); /* gone: ok */
	assert_int_equal(tartan_nl_addr_list(nl, br, &l, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].addr, IP(10, 9, 0, 7));
	free(l);
	out = run("ip -4 -o addr show dev tbr1");
	expect_contains("ip addr after delete", out, "10.5.3.1", false);
	free(out);
	assert_int_equal(tartan_nl_link_delete(nl, "tbr1"), 0);
}

static void check_vxlan(const char *name, long vni, const char *local, long port, int mtu,
			const char *mac)
{
	json_t *j = link_json(name), *info;

	assert_non_null(j);
	info = json_object_get(j, "linkinfo");
	expect_str("info_kind", "vxlan", json_string_value(json_object_get(info, "info_kind")));
	info = json_object_get(info, "info_data");
	assert_int_equal(json_integer_value(json_object_get(info, "id")), vni);
	expect_str("local", local, json_string_value(json_object_get(info, "local")));
	expect_str("underlay dev", "eth0", json_string_value(json_object_get(info, "link")));
	assert_int_equal(json_integer_value(json_object_get(info, "port")), port);
	if (!json_is_false(json_object_get(info, "learning"))) {
		print_error("learning: expected false\n");
		fail();
	}
	assert_null(json_object_get(info, "group"));
	assert_int_equal(json_integer_value(json_object_get(j, "mtu")), mtu);
	expect_str("address", mac, json_string_value(json_object_get(j, "address")));
	assert_true(json_flag(j, "UP"));
	json_decref(j);
}

static void test_vxlan_like_flannel(void **state)
{
	struct tartan_nl *nl = *state;
	int eth0, a, b, c;
	uint8_t mac[6];

	assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.1", 1, ETH0_IP, 8472, eth0, 1450, mac1,
						false, &a),
			 0);
	check_vxlan("flannel.1", 1, "198.51.100.2", 8472, 1450, "02:11:22:33:44:55");
	assert_int_equal(tartan_nl_link_mac(nl, a, mac), 0);
	assert_memory_equal(mac, mac1, 6);

	/* the same parameters: the device is kept (same index) */
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.1", 1, ETH0_IP, 8472, eth0, 1450, mac1,
						false, &b),
			 0);
	assert_int_equal(a, b);
	/* only MTU and MAC differ: changed in place, not recreated */
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.1", 1, ETH0_IP, 8472, eth0, 1400, mac2,
						false, &b),
			 0);
	assert_int_equal(a, b);
	check_vxlan("flannel.1", 1, "198.51.100.2", 8472, 1400, "02:aa:bb:cc:dd:01");

	/* another VNI: deleted and recreated (a new index), with the new parameters */
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.1", 7, ETH0_IP, 8472, eth0, 1450, mac1,
						false, &c),
			 0);
	assert_int_not_equal(c, a);
	check_vxlan("flannel.1", 7, "198.51.100.2", 8472, 1450, "02:11:22:33:44:55");

	/* a device made by hand with learning on and another port is replaced too */
	assert_int_equal(tartan_nl_link_delete(nl, "flannel.1"), 0);
	free(run("ip link add flannel.1 type vxlan id 1 local 198.51.100.2 dev eth0 dstport 4789"));
	assert_int_equal(tartan_nl_link_index(nl, "flannel.1", &a), 0);
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.1", 1, ETH0_IP, 8472, eth0, 1450, NULL,
						false, &b),
			 0);
	assert_int_not_equal(a, b);
	{
		char want[18];

		assert_int_equal(tartan_nl_link_mac(nl, b, mac), 0);
		snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
			 mac[2], mac[3], mac[4], mac[5]);
		check_vxlan("flannel.1", 1, "198.51.100.2", 8472, 1450, want);
	}
	assert_int_equal(tartan_nl_link_delete(nl, "flannel.1"), 0);
}

static size_t count_dst(const struct tartan_nl_route *l, size_t n, uint32_t dst, unsigned len)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += l[i].dst.addr == dst && l[i].dst.len == len;
	return c;
}

static const struct tartan_nl_route *find_dst(const struct tartan_nl_route *l, size_t n,
					      uint32_t dst)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].dst.addr == dst)
			return &l[i];
	return NULL;
}

static void test_routes(void **state)
{
	struct tartan_nl *nl = *state;
	struct tartan_nl_route *l = NULL;
	const struct tartan_nl_route *f;
	size_t n = 0;
	int eth0, vx;
	char *out;

	assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.3", 3, ETH0_IP, 8472, eth0, 1450, mac1,
						false, &vx),
			 0);

	/* vxlan: <peer subnet> via <peer subnet>.0 dev flannel.3 onlink */
	struct tartan_nl_route vxr = {
		.dst = { IP(10, 5, 15, 0), 24 },
		.gateway = IP(10, 5, 15, 0),
		.ifindex = vx,
		.onlink = true,
	};
	/* host-gw: <peer subnet> via <peer PublicIP> dev eth0 */
	struct tartan_nl_route hgw = {
		.dst = { IP(10, 5, 16, 0), 24 },
		.gateway = IP(198, 51, 100, 9),
		.ifindex = eth0,
	};
	assert_int_equal(tartan_nl_route_replace(nl, &vxr), 0);
	assert_int_equal(tartan_nl_route_replace(nl, &vxr), 0); /* replace: again is fine */
	assert_int_equal(tartan_nl_route_replace(nl, &hgw), 0);
	/* somebody else's route: default protocol (boot) */
	free(run("ip route add 10.5.17.0/24 via 198.51.100.10 dev eth0"));

	out = run("ip route show proto %d", TARTAN_NL_RTPROT);
	expect_contains("our routes", out, "10.5.15.0/24 via 10.5.15.0 dev flannel.3 onlink", true);
	expect_contains("our routes", out, "10.5.16.0/24 via 198.51.100.9 dev eth0", true);
	expect_contains("our routes", out, "10.5.17.0", false);
	free(out);

	assert_int_equal(tartan_nl_route_dump(nl, 0, &l, &n), 0);
	assert_int_equal(n, 2);
	f = find_dst(l, n, IP(10, 5, 15, 0));
	assert_non_null(f);
	assert_int_equal(f->dst.len, 24);
	assert_int_equal(f->gateway, IP(10, 5, 15, 0));
	assert_int_equal(f->ifindex, vx);
	assert_true(f->onlink);
	assert_int_equal(f->protocol, TARTAN_NL_RTPROT);
	f = find_dst(l, n, IP(10, 5, 16, 0));
	assert_non_null(f);
	assert_int_equal(f->gateway, IP(198, 51, 100, 9));
	assert_int_equal(f->ifindex, eth0);
	assert_false(f->onlink);
	assert_int_equal(count_dst(l, n, IP(10, 5, 17, 0), 24), 0);
	free(l);

	/* the foreign route is never deleted through us, even asked for it exactly */
	struct tartan_nl_route foreign = {
		.dst = { IP(10, 5, 17, 0), 24 },
		.gateway = IP(198, 51, 100, 10),
		.ifindex = eth0,
	};
	assert_int_equal(tartan_nl_route_del(nl, &foreign), 0);
	out = run("ip route show 10.5.17.0/24");
	expect_contains("foreign route", out, "10.5.17.0/24 via 198.51.100.10 dev eth0", true);
	free(out);

	/* a gateway that is not on-link without the onlink flag: the kernel's errno comes back */
	struct tartan_nl_route bad = {
		.dst = { IP(10, 5, 18, 0), 24 },
		.gateway = IP(203, 0, 113, 1),
		.ifindex = eth0,
	};
	int err = tartan_nl_route_replace(nl, &bad);
	if (err != -ENETUNREACH) {
		print_error("unreachable gateway: expected %d, saw %d (%s)\n", -ENETUNREACH, err,
			    tartan_nl_last_error(nl));
		fail();
	}

	assert_int_equal(tartan_nl_route_del(nl, &vxr), 0);
	assert_int_equal(tartan_nl_route_del(nl, &vxr), 0); /* gone: ok */
	assert_int_equal(tartan_nl_route_del(nl, &hgw), 0);
	assert_int_equal(tartan_nl_route_dump(nl, TARTAN_NL_RTPROT, &l, &n), 0);
	assert_int_equal(n, 0);
	assert_null(l);
	out = run("ip route show 10.5.17.0/24");
	expect_contains("foreign route at the end", out, "10.5.17.0/24", true);
	free(out);
	free(run("ip route del 10.5.17.0/24"));
	assert_int_equal(tartan_nl_link_delete(nl, "flannel.3"), 0);
}

static void test_route_replace_many(void **state)
{
	struct tartan_nl *nl = *state;
	enum {
		N = 1000
	};
	struct tartan_nl_route *r = calloc(N, sizeof(*r)), *l = NULL;
	int *res = calloc(N, sizeof(*res));
	size_t n = 0;
	int eth0;
	char *out;

	assert_non_null(r);
	assert_non_null(res);
	assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
	for (size_t i = 0; i < N; i++)
		r[i] = (struct tartan_nl_route){
			.dst = { IP(10, 100 + i / 256, i % 256, 0), 24 },
			.gateway = IP(198, 51, 100, 20 + i % 200),
			.ifindex = eth0,
		};
	/* one of them cannot be added: its own result says why, the others still go in */
	r[500].gateway = IP(203, 0, 113, 1);
	assert_int_equal(tartan_nl_route_replace_many(nl, r, N, res), -ENETUNREACH);
	for (size_t i = 0; i < N; i++)
		if (res[i] != (i == 500 ? -ENETUNREACH : 0)) {
			print_error("route %zu: expected %d, saw %d\n", i,
				    i == 500 ? -ENETUNREACH : 0, res[i]);
			fail();
		}
	assert_true(tartan_nl_last_error(nl)[0] != '\0');

	/* the socket is still in step for synchronous requests */
	assert_int_equal(tartan_nl_route_dump(nl, 0, &l, &n), 0);
	assert_int_equal(n, N - 1);
	assert_int_equal(count_dst(l, n, IP(10, 101, 244, 0), 24), 0); /* i = 500 */
	assert_int_equal(count_dst(l, n, IP(10, 103, 231, 0), 24), 1); /* i = 999 */
	free(l);
	out = run("ip route show proto %d | wc -l", TARTAN_NL_RTPROT);
	assert_int_equal(atoi(out), N - 1);
	free(out);

	/* again, all fine now: replace is idempotent */
	r[500].gateway = IP(198, 51, 100, 9);
	assert_int_equal(tartan_nl_route_replace_many(nl, r, N, NULL), 0);
	out = run("ip route show proto %d | wc -l", TARTAN_NL_RTPROT);
	assert_int_equal(atoi(out), N);
	free(out);

	for (size_t i = 0; i < N; i++)
		assert_int_equal(tartan_nl_route_del(nl, &r[i]), 0);
	assert_int_equal(tartan_nl_route_dump(nl, 0, &l, &n), 0);
	assert_int_equal(n, 0);
	free(r);
	free(res);
}

static void test_neigh_and_fdb(void **state)
{
	struct tartan_nl *nl = *state;
	int eth0, vx;
	char *out;

	assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.4", 4, ETH0_IP, 8472, eth0, 1450, mac2,
						false, &vx),
			 0);

	/* flannel's order for a peer: ARP, FDB, route */
	expect_ok(nl, tartan_nl_neigh_replace(nl, vx, IP(10, 5, 15, 0), mac1));
	expect_ok(nl, tartan_nl_neigh_replace(nl, vx, IP(10, 5, 15, 0), mac1));
	expect_ok(nl, tartan_nl_fdb_replace(nl, vx, mac1, IP(198, 51, 100, 7)));
	expect_ok(nl, tartan_nl_fdb_replace(nl, vx, mac1, IP(198, 51, 100, 7)));

	out = run("ip neigh show dev flannel.4");
	expect_contains("ip neigh", out, "10.5.15.0 lladdr 02:11:22:33:44:55 PERMANENT", true);
	free(out);
	out = run("bridge fdb show dev flannel.4");
	expect_contains("bridge fdb", out, "02:11:22:33:44:55 dst 198.51.100.7 self permanent",
			true);
	free(out);

	/* replace moves the entries: the peer got another MAC / another public IP */
	assert_int_equal(tartan_nl_neigh_replace(nl, vx, IP(10, 5, 15, 0), mac2), 0);
	assert_int_equal(tartan_nl_fdb_replace(nl, vx, mac1, IP(198, 51, 100, 8)), 0);
	out = run("ip neigh show dev flannel.4");
	expect_contains("ip neigh replaced", out, "10.5.15.0 lladdr 02:aa:bb:cc:dd:01 PERMANENT",
			true);
	free(out);
	out = run("bridge fdb show dev flannel.4");
	expect_contains("bridge fdb replaced", out, "02:11:22:33:44:55 dst 198.51.100.8 self",
			true);
	expect_contains("bridge fdb replaced", out, "198.51.100.7", false);
	free(out);

	assert_int_equal(tartan_nl_fdb_del(nl, vx, mac1, IP(198, 51, 100, 8)), 0);
	assert_int_equal(tartan_nl_fdb_del(nl, vx, mac1, IP(198, 51, 100, 8)), 0); /* gone: ok */
	assert_int_equal(tartan_nl_neigh_del(nl, vx, IP(10, 5, 15, 0)), 0);
	assert_int_equal(tartan_nl_neigh_del(nl, vx, IP(10, 5, 15, 0)), 0); /* gone: ok */
	out = run("ip neigh show dev flannel.4");
	expect_contains("ip neigh after delete", out, "10.5.15.0", false);
	free(out);
	out = run("bridge fdb show dev flannel.4");
	expect_contains("bridge fdb after delete", out, "02:11:22:33:44:55", false);
	free(out);
	assert_int_equal(tartan_nl_link_delete(nl, "flannel.4"), 0);
}

/* ---- dumps of neighbours, FDB and routes; batches; the port id ---- */

static size_t count_neigh(const struct tartan_nl_neigh *l, size_t n, uint32_t ip,
			  const uint8_t *mac)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += l[i].ip == ip && memcmp(l[i].mac, mac, 6) == 0;
	return c;
}

/* the list is exactly the want entries, in any order */
static void expect_neigh_set(const char *what, const struct tartan_nl_neigh *l, size_t n,
			     const struct tartan_nl_neigh *want, size_t n_want)
{
	char ip[TARTAN_IP4_ADDR_STRLEN];

	if (n != n_want) {
		print_error("%s: expected %zu entries, saw %zu\n", what, n_want, n);
		for (size_t i = 0; i < n; i++)
			print_error("  saw %s %02x:%02x:%02x:%02x:%02x:%02x\n",
				    tartan_ip4_addr_format(l[i].ip, ip), l[i].mac[0], l[i].mac[1],
				    l[i].mac[2], l[i].mac[3], l[i].mac[4], l[i].mac[5]);
		fail();
	}
	for (size_t i = 0; i < n_want; i++)
		if (count_neigh(l, n, want[i].ip, want[i].mac) != 1) {
			print_error("%s: expected %s -> %02x:%02x:%02x:%02x:%02x:%02x once\n", what,
				    tartan_ip4_addr_format(want[i].ip, ip), want[i].mac[0],
				    want[i].mac[1], want[i].mac[2], want[i].mac[3], want[i].mac[4],
				    want[i].mac[5]);
			fail();
		}
}

static void test_neigh_and_fdb_dump(void **state)
{
	struct tartan_nl *nl = *state;
	static const uint8_t mac3[6] = { 0x02, 0x33, 0x33, 0x33, 0x33, 0x03 };
	struct tartan_nl_neigh *l = NULL;
	size_t n = 99;
	int eth0, vx, vx2;
	char *out;

	assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.5", 5, ETH0_IP, 8472, eth0, 1450, mac2,
						false, &vx),
			 0);
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.6", 6, ETH0_IP, 8473, eth0, 1450, mac1,
						false, &vx2),
			 0);

	/* a fresh device has neither */
	assert_int_equal(tartan_nl_neigh_dump(nl, vx, &l, &n), 0);
	assert_int_equal(n, 0);
	assert_null(l);
	n = 99;
	assert_int_equal(tartan_nl_fdb_dump(nl, vx, &l, &n), 0);
	assert_int_equal(n, 0);
	assert_null(l);

	/* two peers on flannel.5 */
	expect_ok(nl, tartan_nl_neigh_replace(nl, vx, IP(10, 5, 15, 0), mac1));
	expect_ok(nl, tartan_nl_neigh_replace(nl, vx, IP(10, 5, 16, 0), mac3));
	expect_ok(nl, tartan_nl_fdb_replace(nl, vx, mac1, IP(198, 51, 100, 7)));
	expect_ok(nl, tartan_nl_fdb_replace(nl, vx, mac3, IP(198, 51, 100, 8)));
	/* what must not be listed for flannel.5: the same kind of entries on another link ... */
	expect_ok(nl, tartan_nl_neigh_replace(nl, vx2, IP(10, 6, 1, 0), mac1));
	expect_ok(nl, tartan_nl_fdb_replace(nl, vx2, mac1, IP(198, 51, 100, 9)));
	free(run("ip neigh replace 198.51.100.50 lladdr 02:00:00:00:00:50 dev eth0 nud permanent"));
	/* ... and entries on flannel.5 that are not permanent (learnt ones, not ours) */
	free(run("ip neigh replace 10.5.99.0 lladdr 02:00:00:00:00:99 dev flannel.5 nud stale"));
	free(run("bridge fdb add 02:00:00:00:00:98 dev flannel.5 dst 198.51.100.98 self dynamic"));
	/* they are really there, so the dumps below had something to leave out */
	out = run("ip neigh show dev flannel.5");
	expect_contains("stale neighbour", out, "10.5.99.0 lladdr 02:00:00:00:00:99 STALE", true);
	free(out);
	out = run("bridge fdb show dev flannel.5");
	expect_contains("dynamic fdb entry", out, "02:00:00:00:00:98 dst 198.51.100.98 self", true);
	expect_contains("dynamic fdb entry", out,
			"02:00:00:00:00:98 dst 198.51.100.98 self permanent", false);
	free(out);

	{
		const struct tartan_nl_neigh want[] = {
			{ IP(10, 5, 15, 0), { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } },
			{ IP(10, 5, 16, 0), { 0x02, 0x33, 0x33, 0x33, 0x33, 0x03 } },
		};

		expect_ok(nl, tartan_nl_neigh_dump(nl, vx, &l, &n));
		expect_neigh_set("neighbours of flannel.5", l, n, want, 2);
		free(l);
	}
	{
		/* an FDB entry lists mac -> dst (the peer's public IP) */
		const struct tartan_nl_neigh want[] = {
			{ IP(198, 51, 100, 7), { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } },
			{ IP(198, 51, 100, 8), { 0x02, 0x33, 0x33, 0x33, 0x33, 0x03 } },
		};

		expect_ok(nl, tartan_nl_fdb_dump(nl, vx, &l, &n));
		expect_neigh_set("fdb of flannel.5", l, n, want, 2);
		free(l);
	}
	{
		const struct tartan_nl_neigh want_n[] = {
			{ IP(10, 6, 1, 0), { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } },
		};
		const struct tartan_nl_neigh want_f[] = {
			{ IP(198, 51, 100, 9), { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } },
		};

		expect_ok(nl, tartan_nl_neigh_dump(nl, vx2, &l, &n));
		expect_neigh_set("neighbours of flannel.6", l, n, want_n, 1);
		free(l);
		expect_ok(nl, tartan_nl_fdb_dump(nl, vx2, &l, &n));
		expect_neigh_set("fdb of flannel.6", l, n, want_f, 1);
		free(l);
	}
	/* eth0's permanent neighbour is listed for eth0; eth0 has no FDB entries with a dst */
	{
		const struct tartan_nl_neigh want[] = {
			{ IP(198, 51, 100, 50), { 0x02, 0, 0, 0, 0, 0x50 } },
		};

		expect_ok(nl, tartan_nl_neigh_dump(nl, eth0, &l, &n));
		expect_neigh_set("neighbours of eth0", l, n, want, 1);
		free(l);
		expect_ok(nl, tartan_nl_fdb_dump(nl, eth0, &l, &n));
		assert_int_equal(n, 0);
		free(l);
	}

	/* a replaced entry is listed with its new values only */
	expect_ok(nl, tartan_nl_neigh_replace(nl, vx, IP(10, 5, 15, 0), mac2));
	expect_ok(nl, tartan_nl_fdb_replace(nl, vx, mac3, IP(198, 51, 100, 80)));
	{
		const struct tartan_nl_neigh want_n[] = {
			{ IP(10, 5, 15, 0), { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01 } },
			{ IP(10, 5, 16, 0), { 0x02, 0x33, 0x33, 0x33, 0x33, 0x03 } },
		};
		const struct tartan_nl_neigh want_f[] = {
			{ IP(198, 51, 100, 7), { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } },
			{ IP(198, 51, 100, 80), { 0x02, 0x33, 0x33, 0x33, 0x33, 0x03 } },
		};

		expect_ok(nl, tartan_nl_neigh_dump(nl, vx, &l, &n));
		expect_neigh_set("neighbours of flannel.5 after replace", l, n, want_n, 2);
		free(l);
		expect_ok(nl, tartan_nl_fdb_dump(nl, vx, &l, &n));
		expect_neigh_set("fdb of flannel.5 after replace", l, n, want_f, 2);
		free(l);
	}

	/* deleted entries are gone from the dumps */
	expect_ok(nl, tartan_nl_neigh_del(nl, vx, IP(10, 5, 16, 0)));
	expect_ok(nl, tartan_nl_fdb_del(nl, vx, mac1, IP(198, 51, 100, 7)));
	{
		const struct tartan_nl_neigh want_n[] = {
			{ IP(10, 5, 15, 0), { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01 } },
		};
		const struct tartan_nl_neigh want_f[] = {
			{ IP(198, 51, 100, 80), { 0x02, 0x33, 0x33, 0x33, 0x33, 0x03 } },
		};

		expect_ok(nl, tartan_nl_neigh_dump(nl, vx, &l, &n));
		expect_neigh_set("neighbours of flannel.5 after delete", l, n, want_n, 1);
		free(l);
		expect_ok(nl, tartan_nl_fdb_dump(nl, vx, &l, &n));
		expect_neigh_set("fdb of flannel.5 after delete", l, n, want_f, 1);
		free(l);
	}

	free(run("ip neigh del 198.51.100.50 dev eth0"));
	assert_int_equal(tartan_nl_link_delete(nl, "flannel.5"), 0);
	assert_int_equal(tartan_nl_link_delete(nl, "flannel.6"), 0);
}

/* peer i of a batch: its VTEP address 10.(6 + i / 256).(i % 256).0, its MAC, its public IP
 * in 198.18.0.0/15 */
static struct tartan_nl_neigh batch_neigh(size_t i)
{
	return (struct tartan_nl_neigh){ IP(10, 6 + i / 256, i % 256, 0),
					 { 0x02, 0x42, 0, 0, (uint8_t)(i >> 8), (uint8_t)i } };
}

static struct tartan_nl_neigh batch_fdb(size_t i)
{
	return (struct tartan_nl_neigh){ IP(198, 18, i / 256, i % 256),
					 { 0x02, 0x42, 0, 0, (uint8_t)(i >> 8), (uint8_t)i } };
}

static void expect_results_all(const char *what, const int *res, size_t n, int want)
{
	for (size_t i = 0; i < n; i++)
		if (res[i] != want) {
			print_error("%s: entry %zu: expected %d, saw %d\n", what, i, want, res[i]);
			fail();
		}
}

static void test_neigh_and_fdb_replace_many(void **state)
{
	struct tartan_nl *nl = *state;
	enum {
		N = 300 /* four full windows of TARTAN_NL_BATCH_WINDOW and a partial one */
	};
	struct tartan_nl_neigh *ne = calloc(N, sizeof(*ne)), *fd = calloc(N, sizeof(*fd)),
			       *l = NULL;
	int *res = calloc(N, sizeof(*res));
	size_t n = 0;
	int eth0, vx, idx;
	char *out;

	assert_non_null(ne);
	assert_non_null(fd);
	assert_non_null(res);
	assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.7", 7, ETH0_IP, 8472, eth0, 1450, mac2,
						false, &vx),
			 0);
	for (size_t i = 0; i < N; i++) {
		ne[i] = batch_neigh(i);
		fd[i] = batch_fdb(i);
	}

	memset(res, 0x55, N * sizeof(*res));
	expect_ok(nl, tartan_nl_neigh_replace_many(nl, vx, ne, N, res));
	expect_results_all("neigh batch", res, N, 0);
	memset(res, 0x55, N * sizeof(*res));
	expect_ok(nl, tartan_nl_fdb_replace_many(nl, vx, fd, N, res));
	expect_results_all("fdb batch", res, N, 0);

	/* all there, as the library reads them back ... */
	expect_ok(nl, tartan_nl_neigh_dump(nl, vx, &l, &n));
	expect_neigh_set("neighbours after the batch", l, n, ne, N);
	free(l);
	expect_ok(nl, tartan_nl_fdb_dump(nl, vx, &l, &n));
	expect_neigh_set("fdb after the batch", l, n, fd, N);
	free(l);
	/* ... and as ip(8) and bridge(8) see them: permanent, with the right values */
	out = run("ip neigh show dev flannel.7 nud permanent | wc -l");
	assert_int_equal(atoi(out), N);
	free(out);
	out = run("ip neigh show dev flannel.7");
	expect_contains("first neighbour", out, "10.6.0.0 lladdr 02:42:00:00:00:00 PERMANENT",
			true);
	expect_contains("last neighbour", out, "10.7.43.0 lladdr 02:42:00:00:01:2b PERMANENT",
			true);
	free(out);
	out = run("bridge fdb show dev flannel.7 | grep -c 'dst 198\\.18\\..* self permanent'");
	assert_int_equal(atoi(out), N);
	free(out);
	out = run("bridge fdb show dev flannel.7");
	expect_contains("last fdb entry", out, "02:42:00:00:01:2b dst 198.18.1.43 self permanent",
			true);
	free(out);

	/* again: replace is idempotent, results NULL is allowed */
	expect_ok(nl, tartan_nl_neigh_replace_many(nl, vx, ne, N, NULL));
	expect_ok(nl, tartan_nl_fdb_replace_many(nl, vx, fd, N, NULL));
	expect_ok(nl, tartan_nl_neigh_dump(nl, vx, &l, &n));
	assert_int_equal(n, N);
	free(l);

	/* every entry on a link that does not exist fails on its own, with the kernel's errno */
	memset(res, 0, N * sizeof(*res));
	assert_int_equal(tartan_nl_neigh_replace_many(nl, 999999, ne, N, res), -ENODEV);
	expect_results_all("neigh batch on no link", res, N, -ENODEV);
	assert_true(tartan_nl_last_error(nl)[0] != '\0');
	memset(res, 0, N * sizeof(*res));
	assert_int_equal(tartan_nl_fdb_replace_many(nl, 999999, fd, N, res), -ENODEV);
	expect_results_all("fdb batch on no link", res, N, -ENODEV);
	/* and the socket is still in step for synchronous requests afterwards */
	assert_int_equal(tartan_nl_link_index(nl, "flannel.7", &idx), 0);
	assert_int_equal(idx, vx);
	expect_ok(nl, tartan_nl_fdb_dump(nl, vx, &l, &n));
	assert_int_equal(n, N);
	free(l);

	/* an empty batch is nothing at all */
	assert_int_equal(tartan_nl_neigh_replace_many(nl, vx, ne, 0, res), 0);
	assert_int_equal(tartan_nl_fdb_replace_many(nl, vx, fd, 0, NULL), 0);

	assert_int_equal(tartan_nl_link_delete(nl, "flannel.7"), 0);
	free(ne);
	free(fd);
	free(res);
}

static void test_route_dump_onlink_and_filters(void **state)
{
	struct tartan_nl *nl = *state;
	enum {
		N = 200
	};
	struct tartan_nl_route *r = calloc(N, sizeof(*r)), *l = NULL;
	const struct tartan_nl_route *f;
	int *res = calloc(N, sizeof(*res));
	size_t n = 0;
	int eth0, vx;

	assert_non_null(r);
	assert_non_null(res);
	assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
	assert_int_equal(tartan_nl_vxlan_ensure(nl, "flannel.8", 8, ETH0_IP, 8472, eth0, 1450, mac1,
						false, &vx),
			 0);
	/* vxlan peers: <subnet> via <subnet>.0 dev flannel.8 onlink, as a batch */
	for (size_t i = 0; i < N; i++)
		r[i] = (struct tartan_nl_route){
			.dst = { IP(10, 20, i, 0), 24 },
			.gateway = IP(10, 20, i, 0),
			.ifindex = vx,
			.onlink = true,
		};
	memset(res, 0x55, N * sizeof(*res));
	expect_ok(nl, tartan_nl_route_replace_many(nl, r, N, res));
	expect_results_all("onlink route batch", res, N, 0);

	/* ours too, made by hand: a multipath route (the first nexthop is reported) and an
	 * onlink one through eth0 to a gateway outside eth0's prefix */
	free(run("ip route add 10.21.0.0/24 proto %d nexthop via 198.51.100.5 dev eth0 "
		 "nexthop via 198.51.100.6 dev eth0",
		 TARTAN_NL_RTPROT));
	free(run("ip route add 10.21.1.0/24 proto %d nexthop via 10.21.1.0 dev flannel.8 onlink "
		 "nexthop via 198.51.100.6 dev eth0",
		 TARTAN_NL_RTPROT));
	free(run("ip route add 10.21.2.0/24 via 203.0.113.1 dev eth0 onlink proto %d",
		 TARTAN_NL_RTPROT));
	/* not listed: our protocol in another table, a blackhole, another protocol */
	free(run("ip route add 10.22.0.0/24 via 198.51.100.5 dev eth0 table 100 proto %d",
		 TARTAN_NL_RTPROT));
	free(run("ip route add blackhole 10.22.1.0/24 proto %d", TARTAN_NL_RTPROT));
	free(run("ip route add 10.22.2.0/24 via 10.22.2.0 dev flannel.8 onlink proto static"));
	{
		char *out = run("ip -o route show proto %d | wc -l", TARTAN_NL_RTPROT);

		/* the batch, the three by hand and the blackhole (main table only; -o: one line
		 * per route, also multipath) */
		assert_int_equal(atoi(out), N + 4);
		free(out);
	}

	expect_ok(nl, tartan_nl_route_dump(nl, 0, &l, &n));
	assert_int_equal(n, N + 3);
	for (size_t i = 0; i < N; i++) {
		f = find_dst(l, n, IP(10, 20, i, 0));
		if (!f || f->dst.len != 24 || f->gateway != IP(10, 20, i, 0) || f->ifindex != vx ||
		    !f->onlink || f->protocol != TARTAN_NL_RTPROT) {
			print_error("route 10.20.%zu.0/24: expected via 10.20.%zu.0 dev %d onlink "
				    "proto %d, saw %s\n",
				    i, i, vx, TARTAN_NL_RTPROT, f ? "another" : "none");
			fail();
		}
	}
	f = find_dst(l, n, IP(10, 21, 0, 0));
	assert_non_null(f);
	assert_int_equal(f->gateway, IP(198, 51, 100, 5));
	assert_int_equal(f->ifindex, eth0);
	assert_false(f->onlink);
	f = find_dst(l, n, IP(10, 21, 1, 0));
	assert_non_null(f);
	assert_int_equal(f->gateway, IP(10, 21, 1, 0));
	assert_int_equal(f->ifindex, vx);
	assert_true(f->onlink);
	f = find_dst(l, n, IP(10, 21, 2, 0));
	assert_non_null(f);
	assert_int_equal(f->gateway, IP(203, 0, 113, 1));
	assert_int_equal(f->ifindex, eth0);
	assert_true(f->onlink);
	assert_null(find_dst(l, n, IP(10, 22, 0, 0)));
	assert_null(find_dst(l, n, IP(10, 22, 1, 0)));
	assert_null(find_dst(l, n, IP(10, 22, 2, 0)));
	free(l);

	/* by another protocol: the static one, and only it */
	expect_ok(nl, tartan_nl_route_dump(nl, RTPROT_STATIC, &l, &n));
	assert_int_equal(n, 1);
	assert_int_equal(l[0].dst.addr, IP(10, 22, 2, 0));
	assert_int_equal(l[0].gateway, IP(10, 22, 2, 0));
	assert_true(l[0].onlink);
	assert_int_equal(l[0].protocol, RTPROT_STATIC);
	free(l);

	free(run("ip route flush table 100"));
	free(run("ip route del blackhole 10.22.1.0/24"));
	free(run("ip route del 10.22.2.0/24"));
	free(run("ip route del 10.21.0.0/24"));
	free(run("ip route del 10.21.1.0/24"));
	free(run("ip route del 10.21.2.0/24"));
	/* deleting the device takes its routes */
	assert_int_equal(tartan_nl_link_delete(nl, "flannel.8"), 0);
	expect_ok(nl, tartan_nl_route_dump(nl, 0, &l, &n));
	assert_int_equal(n, 0);
	free(r);
	free(res);
}

/* a monitor event: the sender of the first route notification for dst */
struct sender_seen {
	uint32_t dst;
	bool seen;
	uint32_t sender;
};

static void on_route_event(const struct tartan_nl_event *e, void *userdata)
{
	struct sender_seen *s = userdata;

	if (e->kind == TARTAN_NL_EVENT_ROUTE && !e->deleted && e->dst.addr == s->dst && !s->seen) {
		s->seen = true;
		s->sender = e->sender;
	}
}

static void test_port(void **state)
{
	struct tartan_nl *nl = *state;
	struct tartan_nl_monitor *m;
	struct sender_seen s = { .dst = IP(10, 23, 0, 0) };
	struct tartan_nl_route hgw = {
		.dst = { IP(10, 23, 0, 0), 24 },
		.gateway = IP(198, 51, 100, 9),
	};
	uint32_t port = tartan_nl_port(nl);
	int eth0;

	assert_true(port != 0);
	assert_int_equal(tartan_nl_port(nl), port); /* stable while nothing breaks */
	assert_int_equal(tartan_nl_link_index(nl, "eth0", &eth0), 0);
	hgw.ifindex = eth0;

	/* what the port is for: notifications our requests cause carry it, others' do not */
	assert_int_equal(tartan_nl_monitor_new(&m), 0);
	expect_ok(nl, tartan_nl_route_replace(nl, &hgw));
	/* the kernel queues the notification before it acks the request */
	assert_int_equal(tartan_nl_monitor_read(m, on_route_event, &s), 0);
	assert_true(s.seen);
	assert_int_equal(s.sender, port);

	s = (struct sender_seen){ .dst = IP(10, 23, 1, 0) };
	free(run("ip route add 10.23.1.0/24 via 198.51.100.9 dev eth0"));
	assert_int_equal(tartan_nl_monitor_read(m, on_route_event, &s), 0);
	assert_true(s.seen);
	assert_true(s.sender != port);

	tartan_nl_monitor_free(m);
	expect_ok(nl, tartan_nl_route_del(nl, &hgw));
	free(run("ip route del 10.23.1.0/24"));
}

static void test_veth_peer_in_other_netns(void **state)
{
	struct tartan_nl *nl = *state;
	const char *ns2 = getenv("TARTAN_TEST_NETNS2");
	char path[256];
	int fd, host, br, idx;
	json_t *j;
	char *out;

	assert_non_null(ns2);
	snprintf(path, sizeof(path), "/run/netns/%s", ns2);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);

	struct tartan_nl_veth v = {
		.host_name = "vh0", .peer_name = "vp0", .peer_netns_fd = fd, .mtu = 1400,
	};
	assert_int_equal(tartan_nl_veth_create(nl, &v), 0);
	v.peer_name = "vp1";
	assert_int_equal(tartan_nl_veth_create(nl, &v), -EEXIST);
	close(fd);
	assert_int_equal(tartan_nl_link_index(nl, "vh0", &host), 0);
	/* the peer is not here ... */
	assert_int_equal(tartan_nl_link_index(nl, "vp0", &idx), -ENODEV);
	/* ... but there, with its MTU */
	out = run("ip -n %s -j link show dev vp0", ns2);
	expect_contains("peer in the other namespace", out, "\"ifname\":\"vp0\"", true);
	expect_contains("peer in the other namespace", out, "\"mtu\":1400", true);
	free(out);

	assert_int_equal(tartan_nl_bridge_ensure(nl, "tbr2", 0, NULL, false, &br), 0);
	assert_int_equal(tartan_nl_link_attach(nl, host, br), 0);
	j = link_json("vh0");
	assert_non_null(j);
	expect_str("master", "tbr2", json_string_value(json_object_get(j, "master")));
	assert_int_equal(json_integer_value(json_object_get(j, "mtu")), 1400);
	assert_true(json_flag(j, "UP"));
	json_decref(j);

	assert_int_equal(tartan_nl_link_delete(nl, "vh0"), 0);
	assert_int_equal(tartan_nl_link_delete(nl, "tbr2"), 0);
	out = run("ip -n %s -o link show", ns2);
	expect_contains("peer gone with its host end", out, "vp0", false);
	free(out);
}

/* MACs, master and the host end up given at creation: both ends come out as asked. */
static void test_veth_one_request(void **state)
{
	struct tartan_nl *nl = *state;
	const char *ns2 = getenv("TARTAN_TEST_NETNS2");
	uint8_t hmac[TARTAN_NL_MAC_LEN], pmac[TARTAN_NL_MAC_LEN], got[TARTAN_NL_MAC_LEN];
	char path[256], want[64];
	int fd, br, host, master;
	json_t *j;
	char *out;

	assert_non_null(ns2);
	snprintf(path, sizeof(path), "/run/netns/%s", ns2);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(tartan_nl_mac_random(hmac), 0);
	assert_int_equal(tartan_nl_mac_random(pmac), 0);
	/* locally administered unicast, and two calls differ */
	assert_int_equal(hmac[0] & 0x03, 0x02);
	assert_int_equal(pmac[0] & 0x03, 0x02);
	assert_memory_not_equal(hmac, pmac, TARTAN_NL_MAC_LEN);
	assert_int_equal(tartan_nl_bridge_ensure(nl, "tbr3", 0, NULL, false, &br), 0);

	struct tartan_nl_veth v = {
		.host_name = "vh1", .peer_name = "vq0", .peer_netns_fd = fd, .mtu = 1450,
		.host_mac = hmac, .peer_mac = pmac, .master_index = br, .host_up = true,
	};
	assert_int_equal(tartan_nl_veth_create(nl, &v), 0);
	close(fd);
	assert_int_equal(tartan_nl_link_index(nl, "vh1", &host), 0);
	assert_int_equal(tartan_nl_link_master(nl, host, &master), 0);
	assert_int_equal(master, br);
	assert_int_equal(tartan_nl_link_mac(nl, host, got), 0);
	assert_memory_equal(got, hmac, TARTAN_NL_MAC_LEN);
	j = link_json("vh1");
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "mtu")), 1450);
	assert_true(json_flag(j, "UP"));
	json_decref(j);

	out = run("ip -n %s -o link show dev vq0", ns2);
	snprintf(want, sizeof(want), "link/ether %02x:%02x:%02x:%02x:%02x:%02x", pmac[0], pmac[1],
		 pmac[2], pmac[3], pmac[4], pmac[5]);
	expect_contains("peer's MAC", out, want, true);
	expect_contains("peer down", out, "<BROADCAST,MULTICAST>", true);
	expect_contains("peer's MTU", out, "mtu 1450", true);
	free(out);

	/* a bridge that is not there: nothing is left behind */
	v.host_name = "vh2";
	v.peer_name = "vq1";
	v.master_index = 999999;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	v.peer_netns_fd = fd;
	assert_true(tartan_nl_veth_create(nl, &v) < 0);
	close(fd);
	assert_int_equal(tartan_nl_link_index(nl, "vh2", &host), -ENODEV);
	out = run("ip -n %s -o link show", ns2);
	expect_contains("no peer after a failed create", out, "vq1", false);
	free(out);

	assert_int_equal(tartan_nl_link_delete(nl, "vh1"), 0);
	assert_int_equal(tartan_nl_link_delete(nl, "tbr3"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_index_absent_is_enodev),
		cmocka_unit_test(test_bridge_ensure_idempotent_with_mtu),
		cmocka_unit_test(test_bridge_promisc_and_hairpin),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_vxlan_like_flannel),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_route_replace_many),
		cmocka_unit_test(test_neigh_and_fdb),
		cmocka_unit_test(test_neigh_and_fdb_dump),
		cmocka_unit_test(test_neigh_and_fdb_replace_many),
		cmocka_unit_test(test_route_dump_onlink_and_filters),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_veth_peer_in_other_netns),
		cmocka_unit_test(test_veth_one_request),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
