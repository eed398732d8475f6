/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "flannel/backend.h"

/*
 * One table entry per backend kind; the core never switches on the kind.
 * lease_type is the BackendType of the leases a backend serves.
 */
struct backend_ops {
	const char *lease_type;
	/* NULL: programs nothing (alloc) */
	void (*peer_entries)(const struct tartan_flannel_node *node,
			     const struct tartan_ip4_net *subnet,
			     const struct tartan_flannel_lease_attrs *attrs,
			     struct tartan_flannel_peer_entries *ret);
	/* MTU of the bridge and FLANNEL_MTU, from the configured one */
	unsigned (*mtu)(const struct tartan_flannel_backend *backend, unsigned iface_mtu);
	bool public_ip_on_iface;
	bool vxlan_device;
};

/* host-gw (and vxlan's DirectRouting): the peer's subnet via its public IP, on the
 * external interface */
static void route_via_public_ip(const struct tartan_ip4_net *subnet,
				const struct tartan_flannel_lease_attrs *attrs,
				struct tartan_flannel_peer_entries *ret)
{
	ret->has_route = true;
	ret->route.dst = *subnet;
	ret->route.gateway = attrs->public_ip;
	ret->route.link = TARTAN_FLANNEL_LINK_EXTERNAL;
}

static void hostgw_peer_entries(const struct tartan_flannel_node *node,
				const struct tartan_ip4_net *subnet,
				const struct tartan_flannel_lease_attrs *attrs,
				struct tartan_flannel_peer_entries *ret)
{
	route_via_public_ip(subnet, attrs, ret);
}

static bool directly_connected(const struct tartan_flannel_node *node, uint32_t ip)
{
	for (size_t i = 0; i < node->n_connected; i++)
		if (tartan_ip4_net_contains(&node->connected[i], ip))
			return true;
	return false;
}

/* flannel's vxlan_network.go handleSubnetEvents, in its order: the ARP entry, the FDB
 * entry, then the onlink route via the peer's VTEP address (<subnet>.0, which is the
 * address on the peer's flannel.<VNI>) */
static void vxlan_peer_entries(const struct tartan_flannel_node *node,
			       const struct tartan_ip4_net *subnet,
			       const struct tartan_flannel_lease_attrs *attrs,
			       struct tartan_flannel_peer_entries *ret)
{
	if (node->backend->vxlan.direct_routing && directly_connected(node, attrs->public_ip)) {
		route_via_public_ip(subnet, attrs, ret);
		return;
	}
	if (!attrs->has_vtep_mac)
		return; /* lease_check refuses these; never program a zero MAC */
	ret->has_neigh = true;
	ret->neigh.ip = subnet->addr;
	memcpy(ret->neigh.mac, attrs->vtep_mac, 6);
	ret->has_fdb = true;
	memcpy(ret->fdb.mac, attrs->vtep_mac, 6);
	ret->fdb.dst = attrs->public_ip;
	ret->has_route = true;
	ret->route.dst = *subnet;
	ret->route.gateway = subnet->addr;
	ret->route.link = TARTAN_FLANNEL_LINK_VXLAN;
	ret->route.onlink = true;
}

static unsigned iface_mtu_as_is(const struct tartan_flannel_backend *backend, unsigned iface_mtu)
{
	return iface_mtu;
}

static unsigned vxlan_mtu(const struct tartan_flannel_backend *backend, unsigned iface_mtu)
{
	unsigned mtu = backend->vxlan.mtu ? backend->vxlan.mtu : iface_mtu;

	return mtu >= 68 + TARTAN_FLANNEL_VXLAN_OVERHEAD ? mtu - TARTAN_FLANNEL_VXLAN_OVERHEAD : 0;
}

static const struct backend_ops backends[] = {
	[TARTAN_FLANNEL_BACKEND_ALLOC] = { .lease_type = "", .mtu = iface_mtu_as_is },
	[TARTAN_FLANNEL_BACKEND_HOST_GW] = { .lease_type = "host-gw",
					     .peer_entries = hostgw_peer_entries,
					     .mtu = iface_mtu_as_is,
					     .public_ip_on_iface = true },
	[TARTAN_FLANNEL_BACKEND_VXLAN] = { .lease_type = "vxlan",
					   .peer_entries = vxlan_peer_entries,
					   .mtu = vxlan_mtu,
					   .vxlan_device = true },
};

static const struct backend_ops *ops_of(const struct tartan_flannel_backend *backend)
{
	if ((size_t)backend->kind >= sizeof(backends) / sizeof(backends[0]))
		return NULL;
	return &backends[backend->kind];
}

bool tartan_flannel_backend_peer_entries(const struct tartan_flannel_node *node,
					 const struct tartan_ip4_net *subnet,
					 const struct tartan_flannel_lease_attrs *attrs,
					 struct tartan_flannel_peer_entries *ret)
{
	const struct backend_ops *ops = ops_of(node->backend);

	*ret = (struct tartan_flannel_peer_entries){ 0 };
	if (!ops || !ops->peer_entries || strcmp(attrs->backend_type, ops->lease_type) != 0 ||
	    tartan_ip4_net_overlaps(subnet, &node->subnet))
		return false;
	ops->peer_entries(node, subnet, attrs, ret);
	return ret->has_route || ret->has_neigh || ret->has_fdb;
}

bool tartan_flannel_backend_programs(const struct tartan_flannel_backend *backend)
{
	const struct backend_ops *ops = ops_of(backend);

	return ops && ops->peer_entries;
}

bool tartan_flannel_backend_wants_public_ip_on_iface(const struct tartan_flannel_backend *backend)
{
	const struct backend_ops *ops = ops_of(backend);

	return ops && ops->public_ip_on_iface;
}

bool tartan_flannel_backend_has_vxlan_device(const struct tartan_flannel_backend *backend)
{
	const struct backend_ops *ops = ops_of(backend);

	return ops && ops->vxlan_device;
}

const char *tartan_flannel_vxlan_device(uint32_t vni,
					char buf[static TARTAN_FLANNEL_VXLAN_DEVICE_MAX])
{
	snprintf(buf, TARTAN_FLANNEL_VXLAN_DEVICE_MAX, "flannel.%u", vni & 0xffffffu);
	return buf;
}

unsigned tartan_flannel_backend_mtu(const struct tartan_flannel_backend *backend,
				    unsigned iface_mtu)
{
	const struct backend_ops *ops = ops_of(backend);

	return ops ? ops->mtu(backend, iface_mtu) : 0;
}

void tartan_flannel_vtep_mac_from_random(const uint8_t random[6], uint8_t ret_mac[6])
{
	memcpy(ret_mac, random, 6);
	ret_mac[0] = (uint8_t)((ret_mac[0] & 0xfe) | 0x02);
}

bool tartan_flannel_vtep_mac_is_valid(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	/* the I/G bit marks multicast; broadcast has it too */
	return memcmp(mac, zero, sizeof(zero)) != 0 && !(mac[0] & 1);
}
