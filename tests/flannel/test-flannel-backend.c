/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for flannel/backend.c: the kernel entries each backend wants
 * towards a peer, as flanneld's backends program them
 * (shared/docs/flannel-compat.md 4.1-4.3):
 *  - host-gw: <peer subnet> via <peer PublicIP> on the external interface;
 *  - vxlan: ARP <subnet>.0 -> VtepMAC, FDB VtepMAC -> PublicIP, route
 *    <subnet> via <subnet>.0 onlink on flannel.<VNI>; with DirectRouting and
 *    a directly connected peer the host-gw route instead;
 *  - alloc, peers of another BackendType, our own subnet and vxlan leases
 *    without a VtepMAC: nothing;
 * plus the MTU rules (vxlan: configured MTU - 50), the device name
 * flannel.<VNI> and the VTEP MAC rules (unicast, locally administered).
 * Configs and lease values are parsed from flanneld's own JSON, so the
 * tables are tested on what the daemon really feeds them.
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

#include "flannel/backend.h"

#define IP(a, b, c, d)                                                                             \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

#define NET(a, b, c, d, l) ((struct tartan_ip4_net){ IP(a, b, c, d), (l) })

/* the MAC of flannel-compat.md 1.3's example lease */
static const uint8_t peer_mac[6] = { 0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44 };

/* The backend a network config (flanneld's JSON) asks for. */
static struct tartan_flannel_backend backend_of(const char *json)
{
	struct tartan_flannel_backend b = { 0 };
	struct tartan_flannel_config *c = NULL;
	char *error = NULL;
	int r;

	r = tartan_flannel_config_parse(json, strlen(json), &c, &error);
	if (r != 0)
		print_error("config %s: %d (%s)\n", json, r, error ? error : "");
	assert_int_equal(r, 0);
	r = tartan_flannel_backend_parse(c, &b, &error);
	if (r != 0)
		print_error("backend of %s: %d (%s)\n", json, r, error ? error : "");
	assert_int_equal(r, 0);
	tartan_flannel_config_free(c);
	return b;
}

/* A peer's lease value as flanneld writes it. */
static struct tartan_flannel_lease_attrs attrs_of(const char *json)
{
	struct tartan_flannel_lease_attrs a;
	char *error = NULL;
	int r;

	r = tartan_flannel_lease_value_parse(json, strlen(json), &a, &error);
	if (r != 0)
		print_error("lease value %s: %d (%s)\n", json, r, error ? error : "");
	assert_int_equal(r, 0);
	return a;
}

#define HOSTGW_CONFIG "{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"host-gw\"}}"
#define VXLAN_CONFIG "{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}"
#define VXLAN_DR_CONFIG                                                                            \
	"{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"DirectRouting\":true}}"
#define ALLOC_CONFIG "{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"alloc\"}}"

#define HOSTGW_LEASE                                                                               \
	"{\"PublicIP\":\"198.51.100.7\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}"
#define VXLAN_LEASE                                                                                \
	"{\"PublicIP\":\"198.51.100.7\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","            \
	"\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}"
/* the same peer, but reached over a router (not in our external interface's prefix) */
#define VXLAN_LEASE_FAR                                                                            \
	"{\"PublicIP\":\"203.0.113.9\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","             \
	"\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}"
/* alloc (and the old gce backend) write no BackendType */
#define ALLOC_LEASE "{\"PublicIP\":\"198.51.100.7\",\"PublicIPv6\":null}"

/* our node: 10.5.72.0/24, external interface in 198.51.100.0/24 */
static const struct tartan_ip4_net connected[] = { { IP(198, 51, 100, 0), 24 } };

static struct tartan_flannel_node node_of(const struct tartan_flannel_backend *b)
{
	return (struct tartan_flannel_node){
		.backend = b,
		.subnet = NET(10, 5, 72, 0, 24),
		.connected = connected,
		.n_connected = 1,
	};
}

static void expect_addr(const char *what, uint32_t got, uint32_t want)
{
	char a[TARTAN_IP4_ADDR_STRLEN], b[TARTAN_IP4_ADDR_STRLEN];

	if (got != want) {
		print_error("%s: expected %s, got %s\n", what, tartan_ip4_addr_format(want, a),
			    tartan_ip4_addr_format(got, b));
		fail();
	}
}

static void expect_net(const char *what, const struct tartan_ip4_net *got,
		       const struct tartan_ip4_net *want)
{
	char a[TARTAN_IP4_NET_STRLEN], b[TARTAN_IP4_NET_STRLEN];

	if (!tartan_ip4_net_equal(got, want)) {
		print_error("%s: expected %s, got %s\n", what, tartan_ip4_net_format(want, a),
			    tartan_ip4_net_format(got, b));
		fail();
	}
}

/* Nothing wanted: false and every flag clear, also when ret held garbage before. */
static void expect_nothing(const char *what, const struct tartan_flannel_node *node,
			   const struct tartan_ip4_net *subnet,
			   const struct tartan_flannel_lease_attrs *attrs)
{
	struct tartan_flannel_peer_entries e;

	memset(&e, 0xa5, sizeof(e));
	if (tartan_flannel_backend_peer_entries(node, subnet, attrs, &e)) {
		print_error("%s: expected no entries, got route %d neigh %d fdb %d\n", what,
			    e.has_route, e.has_neigh, e.has_fdb);
		fail();
	}
	if (e.has_route || e.has_neigh || e.has_fdb) {
		print_error("%s: returned false but flags route %d neigh %d fdb %d\n", what,
			    e.has_route, e.has_neigh, e.has_fdb);
		fail();
	}
}

/* The host-gw route: <subnet> via <gateway> on the external interface, not onlink. */
static void expect_external_route_only(const char *what,
				       const struct tartan_flannel_peer_entries *e,
				       const struct tartan_ip4_net *subnet, uint32_t gateway)
{
	assert_true(e->has_route);
	if (e->has_neigh || e->has_fdb) {
		print_error("%s: expected only a route, got neigh %d fdb %d\n", what, e->has_neigh,
			    e->has_fdb);
		fail();
	}
	expect_net(what, &e->route.dst, subnet);
	expect_addr(what, e->route.gateway, gateway);
	assert_int_equal(e->route.link, TARTAN_FLANNEL_LINK_EXTERNAL);
	assert_false(e->route.onlink);
}

/* flannel's vxlan entries for a peer at public_ip with peer_mac holding subnet. */
static void expect_vxlan_entries(const char *what, const struct tartan_flannel_peer_entries *e,
				 const struct tartan_ip4_net *subnet, uint32_t public_ip)
{
	assert_true(e->has_neigh);
	assert_true(e->has_fdb);
	assert_true(e->has_route);
	/* ARP: the peer's VTEP address is its subnet's network address (<subnet>.0) */
	expect_addr(what, e->neigh.ip, subnet->addr);
	assert_memory_equal(e->neigh.mac, peer_mac, 6);
	/* FDB: that MAC is behind the peer's public IP */
	assert_memory_equal(e->fdb.mac, peer_mac, 6);
	expect_addr(what, e->fdb.dst, public_ip);
	/* route: the subnet via <subnet>.0 onlink on flannel.<VNI> */
	expect_net(what, &e->route.dst, subnet);
	expect_addr(what, e->route.gateway, subnet->addr);
	assert_int_equal(e->route.link, TARTAN_FLANNEL_LINK_VXLAN);
	assert_true(e->route.onlink);
}

static void test_hostgw_entries(void **state)
{
	struct tartan_flannel_backend b = backend_of(HOSTGW_CONFIG);
	struct tartan_flannel_node node = node_of(&b);
	struct tartan_flannel_lease_attrs a = attrs_of(HOSTGW_LEASE);
	struct tartan_ip4_net sn = NET(10, 5, 15, 0, 24);
	struct tartan_flannel_peer_entries e;

	memset(&e, 0xa5, sizeof(e));
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_external_route_only("host-gw", &e, &sn, IP(198, 51, 100, 7));

	/* the peer's own subnet length is kept, whatever ours is */
	sn = NET(10, 5, 128, 0, 17);
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_external_route_only("host-gw /17", &e, &sn, IP(198, 51, 100, 7));

	/* the neighbouring subnet is a peer, not us */
	sn = NET(10, 5, 73, 0, 24);
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_external_route_only("host-gw next to ours", &e, &sn, IP(198, 51, 100, 7));

	/* host-gw never looks at the connected prefixes: it has no fallback */
	node.connected = NULL;
	node.n_connected = 0;
	sn = NET(10, 5, 15, 0, 24);
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_external_route_only("host-gw, nothing connected", &e, &sn, IP(198, 51, 100, 7));
}

static void test_vxlan_entries(void **state)
{
	struct tartan_flannel_backend b = backend_of(VXLAN_CONFIG);
	struct tartan_flannel_node node = node_of(&b);
	struct tartan_flannel_lease_attrs a = attrs_of(VXLAN_LEASE);
	struct tartan_ip4_net sn = NET(10, 5, 15, 0, 24);
	struct tartan_flannel_peer_entries e;

	assert_false(b.vxlan.direct_routing);
	memset(&e, 0xa5, sizeof(e));
	/* a directly connected peer still goes through the overlay without DirectRouting */
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_vxlan_entries("vxlan", &e, &sn, IP(198, 51, 100, 7));

	a = attrs_of(VXLAN_LEASE_FAR);
	sn = NET(10, 5, 200, 0, 24);
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_vxlan_entries("vxlan far", &e, &sn, IP(203, 0, 113, 9));

	/* v0.10-era flanneld wrote no VNI: the MAC is all the entries need */
	a = attrs_of("{\"PublicIP\":\"198.51.100.8\",\"BackendType\":\"vxlan\","
		     "\"BackendData\":{\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}");
	assert_false(a.has_vni);
	sn = NET(10, 5, 16, 0, 24);
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_vxlan_entries("vxlan without VNI", &e, &sn, IP(198, 51, 100, 8));
}

static void test_vxlan_direct_routing(void **state)
{
	struct tartan_flannel_backend b = backend_of(VXLAN_DR_CONFIG);
	static const struct tartan_ip4_net two[] = {
		{ IP(192, 0, 2, 0), 25 },
		{ IP(198, 51, 100, 0), 24 },
	};
	struct tartan_flannel_node node = node_of(&b);
	struct tartan_flannel_lease_attrs a = attrs_of(VXLAN_LEASE);
	struct tartan_ip4_net sn = NET(10, 5, 15, 0, 24);
	struct tartan_flannel_peer_entries e;

	assert_true(b.vxlan.direct_routing);
	/* connected peer: the host-gw route via its public IP, no ARP, no FDB */
	memset(&e, 0xa5, sizeof(e));
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_external_route_only("direct routing, connected", &e, &sn, IP(198, 51, 100, 7));

	/* a peer behind a router: the overlay, as without DirectRouting */
	a = attrs_of(VXLAN_LEASE_FAR);
	memset(&e, 0xa5, sizeof(e));
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_vxlan_entries("direct routing, not connected", &e, &sn, IP(203, 0, 113, 9));

	/* every connected prefix counts, and only those: 192.0.2.0/25 holds .126, not .129 */
	node.connected = two;
	node.n_connected = 2;
	a = attrs_of("{\"PublicIP\":\"192.0.2.126\",\"BackendType\":\"vxlan\","
		     "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}");
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_external_route_only("direct routing, first prefix", &e, &sn, IP(192, 0, 2, 126));
	a = attrs_of(VXLAN_LEASE);
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_external_route_only("direct routing, second prefix", &e, &sn, IP(198, 51, 100, 7));
	a = attrs_of("{\"PublicIP\":\"192.0.2.129\",\"BackendType\":\"vxlan\","
		     "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}");
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_vxlan_entries("direct routing, just outside the prefix", &e, &sn,
			     IP(192, 0, 2, 129));

	/* the daemon passes the interface's addresses as tartan_nl_addr_list() gives them:
	 * the address itself with its prefix length, host bits set */
	{
		static const struct tartan_ip4_net as_listed[] = { { IP(198, 51, 100, 2), 24 } };

		node.connected = as_listed;
		node.n_connected = 1;
		a = attrs_of(VXLAN_LEASE);
		assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
		expect_external_route_only("direct routing, address with host bits", &e, &sn,
					   IP(198, 51, 100, 7));
		a = attrs_of(VXLAN_LEASE_FAR);
		assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
		expect_vxlan_entries("direct routing, address with host bits, far peer", &e, &sn,
				     IP(203, 0, 113, 9));
	}

	/* no connected prefixes known: nobody is directly connected */
	node.connected = NULL;
	node.n_connected = 0;
	a = attrs_of(VXLAN_LEASE);
	assert_true(tartan_flannel_backend_peer_entries(&node, &sn, &a, &e));
	expect_vxlan_entries("direct routing, nothing connected", &e, &sn, IP(198, 51, 100, 7));
}

static void test_other_backend_types_get_nothing(void **state)
{
	struct tartan_flannel_backend hgw = backend_of(HOSTGW_CONFIG);
	struct tartan_flannel_backend vx = backend_of(VXLAN_CONFIG);
	struct tartan_flannel_backend dr = backend_of(VXLAN_DR_CONFIG);
	struct tartan_flannel_backend alloc = backend_of(ALLOC_CONFIG);
	struct tartan_flannel_node n_hgw = node_of(&hgw), n_vx = node_of(&vx), n_dr = node_of(&dr),
				   n_alloc = node_of(&alloc);
	struct tartan_flannel_lease_attrs l_hgw = attrs_of(HOSTGW_LEASE),
					  l_vx = attrs_of(VXLAN_LEASE),
					  l_alloc = attrs_of(ALLOC_LEASE),
					  l_udp = attrs_of("{\"PublicIP\":\"198.51.100.7\","
							   "\"BackendType\":\"udp\"}"),
					  l_case = attrs_of("{\"PublicIP\":\"198.51.100.7\","
							    "\"BackendType\":\"Host-GW\"}");
	struct tartan_ip4_net sn = NET(10, 5, 15, 0, 24);

	expect_nothing("host-gw node, vxlan lease", &n_hgw, &sn, &l_vx);
	expect_nothing("host-gw node, alloc lease", &n_hgw, &sn, &l_alloc);
	expect_nothing("host-gw node, udp lease", &n_hgw, &sn, &l_udp);
	/* flannel compares BackendType byte for byte */
	expect_nothing("host-gw node, Host-GW lease", &n_hgw, &sn, &l_case);
	expect_nothing("vxlan node, host-gw lease", &n_vx, &sn, &l_hgw);
	expect_nothing("vxlan node, alloc lease", &n_vx, &sn, &l_alloc);
	/* DirectRouting makes a host-gw route, but still only for vxlan peers */
	expect_nothing("vxlan direct routing node, host-gw lease", &n_dr, &sn, &l_hgw);
	/* alloc programs nothing, not even for its own kind of lease */
	expect_nothing("alloc node, alloc lease", &n_alloc, &sn, &l_alloc);
	expect_nothing("alloc node, host-gw lease", &n_alloc, &sn, &l_hgw);
	expect_nothing("alloc node, vxlan lease", &n_alloc, &sn, &l_vx);
}

static void test_own_subnet_gets_nothing(void **state)
{
	struct tartan_flannel_backend hgw = backend_of(HOSTGW_CONFIG);
	struct tartan_flannel_backend vx = backend_of(VXLAN_CONFIG);
	struct tartan_flannel_backend dr = backend_of(VXLAN_DR_CONFIG);
	struct tartan_flannel_node n_hgw = node_of(&hgw), n_vx = node_of(&vx), n_dr = node_of(&dr);
	struct tartan_flannel_lease_attrs l_hgw = attrs_of(HOSTGW_LEASE),
					  l_vx = attrs_of(VXLAN_LEASE);
	struct tartan_ip4_net own = NET(10, 5, 72, 0, 24);
	/* a lease that covers ours (a stale one of another SubnetLen) would hijack it */
	struct tartan_ip4_net wider = NET(10, 5, 72, 0, 23);
	struct tartan_ip4_net inside = NET(10, 5, 72, 128, 25);

	expect_nothing("host-gw, own subnet", &n_hgw, &own, &l_hgw);
	expect_nothing("vxlan, own subnet", &n_vx, &own, &l_vx);
	expect_nothing("vxlan direct routing, own subnet", &n_dr, &own, &l_vx);
	expect_nothing("host-gw, subnet covering ours", &n_hgw, &wider, &l_hgw);
	expect_nothing("vxlan, subnet inside ours", &n_vx, &inside, &l_vx);
}

static void test_vxlan_without_vtep_mac_gets_nothing(void **state)
{
	struct tartan_flannel_backend vx = backend_of(VXLAN_CONFIG);
	struct tartan_flannel_node node = node_of(&vx);
	struct tartan_ip4_net sn = NET(10, 5, 15, 0, 24);
	struct tartan_flannel_lease_attrs a;

	a = attrs_of("{\"PublicIP\":\"198.51.100.7\",\"BackendType\":\"vxlan\"}");
	assert_false(a.has_vtep_mac);
	expect_nothing("vxlan, no BackendData", &node, &sn, &a);
	a = attrs_of("{\"PublicIP\":\"198.51.100.7\",\"BackendType\":\"vxlan\","
		     "\"BackendData\":{\"VNI\":1}}");
	assert_false(a.has_vtep_mac);
	expect_nothing("vxlan, BackendData without VtepMAC", &node, &sn, &a);
	a = attrs_of("{\"PublicIP\":\"203.0.113.9\",\"BackendType\":\"vxlan\","
		     "\"BackendData\":null}");
	assert_false(a.has_vtep_mac);
	expect_nothing("vxlan, BackendData null", &node, &sn, &a);
}

static void test_backend_predicates(void **state)
{
	struct tartan_flannel_backend hgw = backend_of(HOSTGW_CONFIG);
	struct tartan_flannel_backend vx = backend_of(VXLAN_CONFIG);
	struct tartan_flannel_backend alloc = backend_of(ALLOC_CONFIG);

	assert_true(tartan_flannel_backend_programs(&hgw));
	assert_true(tartan_flannel_backend_programs(&vx));
	assert_false(tartan_flannel_backend_programs(&alloc));

	/* host-gw peers route to our PublicIP as their gateway: it must be on the iface */
	assert_true(tartan_flannel_backend_wants_public_ip_on_iface(&hgw));
	assert_false(tartan_flannel_backend_wants_public_ip_on_iface(&vx));
	assert_false(tartan_flannel_backend_wants_public_ip_on_iface(&alloc));

	assert_false(tartan_flannel_backend_has_vxlan_device(&hgw));
	assert_true(tartan_flannel_backend_has_vxlan_device(&vx));
	assert_false(tartan_flannel_backend_has_vxlan_device(&alloc));
}

static void expect_mtu(const char *what, const struct tartan_flannel_backend *b, unsigned iface,
		       unsigned want)
{
	unsigned got = tartan_flannel_backend_mtu(b, iface);

	if (got != want) {
		print_error("%s, iface MTU %u: expected %u, got %u\n", what, iface, want, got);
		fail();
	}
}

static void test_mtu(void **state)
{
	struct tartan_flannel_backend hgw = backend_of(HOSTGW_CONFIG);
	struct tartan_flannel_backend vx = backend_of(VXLAN_CONFIG);
	struct tartan_flannel_backend alloc = backend_of(ALLOC_CONFIG);
	struct tartan_flannel_backend vx_mtu = backend_of(
		"{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"MTU\":9000}}");
	struct tartan_flannel_backend vx_small = vx;

	/* host-gw and alloc: the external interface's MTU as it is */
	expect_mtu("host-gw", &hgw, 1500, 1500);
	expect_mtu("host-gw", &hgw, 9001, 9001);
	expect_mtu("alloc", &alloc, 1500, 1500);
	expect_mtu("alloc", &alloc, 1280, 1280);

	/* vxlan: minus the 50 bytes of outer Ethernet, IPv4, UDP and VXLAN headers */
	expect_mtu("vxlan", &vx, 1500, 1450);
	expect_mtu("vxlan", &vx, 9001, 8951);
	/* the MTU option replaces the interface's, and the overhead still comes off it */
	assert_int_equal(vx_mtu.vxlan.mtu, 9000);
	expect_mtu("vxlan MTU 9000", &vx_mtu, 1500, 8950);
	expect_mtu("vxlan MTU 9000", &vx_mtu, 0, 8950);

	/* what is left must carry IPv4 (at least 68 bytes), else 0 */
	expect_mtu("vxlan", &vx, 118, 68);
	expect_mtu("vxlan", &vx, 117, 0);
	expect_mtu("vxlan", &vx, 50, 0);
	expect_mtu("vxlan", &vx, 49, 0);
	expect_mtu("vxlan", &vx, 0, 0);
	/* a too small MTU option (config.c refuses it; the table must not wrap) */
	vx_small.vxlan.mtu = 100;
	expect_mtu("vxlan MTU option 100", &vx_small, 1500, 0);
	vx_small.vxlan.mtu = 118;
	expect_mtu("vxlan MTU option 118", &vx_small, 1500, 68);
}

static void test_vxlan_device_name(void **state)
{
	static const struct {
		uint32_t vni;
		const char *name;
	} cases[] = {
		{ 1, "flannel.1" },
		{ 0, "flannel.0" },
		{ 42, "flannel.42" },
		{ 4096, "flannel.4096" },
		{ 9999999, "flannel.9999999" },
	};
	char buf[TARTAN_FLANNEL_VXLAN_DEVICE_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got;

		memset(buf, 'x', sizeof(buf));
		got = tartan_flannel_vxlan_device(cases[i].vni, buf);
		assert_ptr_equal(got, buf);
		if (strcmp(got, cases[i].name) != 0)
			print_error("VNI %u: expected %s, got %s\n", cases[i].vni, cases[i].name,
				    got);
		assert_string_equal(got, cases[i].name);
		/* a link name: at most IFNAMSIZ - 1 = 15 characters */
		assert_true(strlen(got) <= 15);
	}
	/*
	 * flanneld's name also for 8-digit VNIs, which the buffer holds; such a name is 16
	 * characters, one more than a link name may have (the kernel refuses it with ERANGE,
	 * as it does flanneld's), so only VNIs up to 9999999 give a usable device.
	 */
	memset(buf, 'x', sizeof(buf));
	assert_string_equal(tartan_flannel_vxlan_device(16777215, buf), "flannel.16777215");
	assert_string_equal(tartan_flannel_vxlan_device(10000000, buf), "flannel.10000000");
	/* the device of a parsed config's VNI */
	{
		struct tartan_flannel_backend b = backend_of(
			"{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":7}}");

		assert_string_equal(tartan_flannel_vxlan_device(b.vxlan.vni, buf), "flannel.7");
		b = backend_of(VXLAN_CONFIG);
		assert_string_equal(tartan_flannel_vxlan_device(b.vxlan.vni, buf), "flannel.1");
	}
}

static void test_vtep_mac_from_random(void **state)
{
	/* every first octet: I/G (bit 0) cleared, U/L (bit 1) set, the rest kept */
	for (unsigned v = 0; v < 256; v++) {
		const uint8_t random[6] = { (uint8_t)v, 0x12, 0x34, 0x56, 0x78, (uint8_t)~v };
		uint8_t mac[6];

		memset(mac, 0xee, sizeof(mac));
		tartan_flannel_vtep_mac_from_random(random, mac);
		if (mac[0] != (uint8_t)((v & 0xfe) | 0x02)) {
			print_error("first octet %02x: expected %02x, got %02x\n", v,
				    (v & 0xfe) | 0x02, mac[0]);
			fail();
		}
		assert_int_equal(mac[0] & 0x01, 0);    /* unicast */
		assert_int_equal(mac[0] & 0x02, 0x02); /* locally administered */
		assert_int_equal(mac[0] & 0xfc, v & 0xfc);
		assert_memory_equal(mac + 1, random + 1, 5);
		assert_true(tartan_flannel_vtep_mac_is_valid(mac));
	}
	/* all-zero and all-one randomness still give usable MACs */
	{
		static const uint8_t zero[6], ones[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		static const uint8_t want_zero[6] = { 0x02, 0, 0, 0, 0, 0 };
		static const uint8_t want_ones[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };
		uint8_t mac[6];

		tartan_flannel_vtep_mac_from_random(zero, mac);
		assert_memory_equal(mac, want_zero, 6);
		assert_true(tartan_flannel_vtep_mac_is_valid(mac));
		tartan_flannel_vtep_mac_from_random(ones, mac);
		assert_memory_equal(mac, want_ones, 6);
		assert_true(tartan_flannel_vtep_mac_is_valid(mac));
	}
}

static void test_vtep_mac_is_valid(void **state)
{
	static const struct {
		uint8_t mac[6];
		bool valid;
	} cases[] = {
		{ { 0, 0, 0, 0, 0, 0 }, false },		   /* zero */
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, false }, /* broadcast */
		{ { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, false }, /* IPv4 multicast */
		{ { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 }, false }, /* IPv6 multicast */
		{ { 0x03, 0x00, 0x00, 0x00, 0x00, 0x00 }, false }, /* local, multicast */
		{ { 0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44 }, true },  /* flanneld's kind */
		{ { 0x02, 0x00, 0x00, 0x00, 0x00, 0x00 }, true },
		{ { 0x00, 0x00, 0x00, 0x00, 0x00, 0x01 }, true }, /* not zero */
		{ { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 }, true }, /* universal unicast */
		{ { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff }, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *m = cases[i].mac;

		if (tartan_flannel_vtep_mac_is_valid(m) != cases[i].valid) {
			print_error("%02x:%02x:%02x:%02x:%02x:%02x: expected %s\n", m[0], m[1],
				    m[2], m[3], m[4], m[5], cases[i].valid ? "valid" : "invalid");
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostgw_entries),
		cmocka_unit_test(test_vxlan_entries),
		cmocka_unit_test(test_vxlan_direct_routing),
		cmocka_unit_test(test_other_backend_types_get_nothing),
		cmocka_unit_test(test_own_subnet_gets_nothing),
		cmocka_unit_test(test_vxlan_without_vtep_mac_gets_nothing),
		cmocka_unit_test(test_backend_predicates),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_vxlan_device_name),
		cmocka_unit_test(test_vtep_mac_from_random),
		cmocka_unit_test(test_vtep_mac_is_valid),
	};

	return cmocka_run_group_tests_name("flannel-backend", tests, NULL, NULL);
}
