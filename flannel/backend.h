/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flannel's backends as tables: each turns a peer's lease into the kernel
 * entries this node needs towards that peer, exactly as flanneld's backends
 * program them (shared/docs/flannel-compat.md 4.1-4.3):
 *   host-gw: route <peer subnet> via <peer PublicIP> dev <external iface>
 *   vxlan:   neigh <peer subnet>.0 lladdr <VtepMAC> dev flannel.<VNI> permanent,
 *            fdb   <VtepMAC> dst <peer PublicIP> dev flannel.<VNI> self permanent,
 *            route <peer subnet> via <peer subnet>.0 dev flannel.<VNI> onlink,
 *            or with DirectRouting and a directly connected peer the host-gw route
 *   alloc:   nothing.
 * Peers of another BackendType get nothing (flannel's backends skip them).
 *
 * Pure: the caller (daemon/dataplane.c) compares the entries with the kernel
 * and applies the difference.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flannel/config.h"
#include "flannel/lease.h"
#include "netcfg/ip4.h"

/* "flannel.16777215" and its NUL: the name a VNI makes. Link names have at most 15 bytes,
 * so VNIs of 10000000 and up (accepted by flannel's config parser) cannot have a device;
 * flanneld fails when it creates it, tartand refuses them before its lease. */
#define TARTAN_FLANNEL_VXLAN_DEVICE_MAX 17

/* Which link an entry goes on. */
enum tartan_flannel_link {
	TARTAN_FLANNEL_LINK_EXTERNAL, /* the external interface (host-gw, direct routing) */
	TARTAN_FLANNEL_LINK_VXLAN,    /* flannel.<VNI> */
};

/* What this node is, as far as its backend needs to know. */
struct tartan_flannel_node {
	const struct tartan_flannel_backend *backend;
	struct tartan_ip4_net subnet; /* our lease: a peer holding it gets nothing */
	/* the external interface's own prefixes: a peer whose PublicIP is inside one is
	 * directly connected (flannel asks `ip route get`: a gateway-less route) */
	const struct tartan_ip4_net *connected;
	size_t n_connected;
};

/* The entries towards one peer; a flag says which of them are wanted. */
struct tartan_flannel_peer_entries {
	bool has_route, has_neigh, has_fdb;
	struct {
		struct tartan_ip4_net dst;
		uint32_t gateway;
		enum tartan_flannel_link link;
		bool onlink;
	} route;
	struct {
		uint32_t ip;
		uint8_t mac[6];
	} neigh; /* on the vxlan device */
	struct {
		uint8_t mac[6];
		uint32_t dst;
	} fdb; /* on the vxlan device */
};

/*
 * The entries for the peer holding subnet with attrs. false (and nothing
 * wanted) when the backend programs nothing for it: alloc, another
 * BackendType, a subnet overlapping ours, or a vxlan lease without a VtepMAC
 * that needs one (with DirectRouting a directly connected peer gets its route
 * without one, as in flanneld; tartan_flannel_lease_check() refuses such
 * leases before they get here anyway).
 */
bool tartan_flannel_backend_peer_entries(const struct tartan_flannel_node *node,
					 const struct tartan_ip4_net *subnet,
					 const struct tartan_flannel_lease_attrs *attrs,
					 struct tartan_flannel_peer_entries *ret);

/* Whether the backend programs the kernel at all (alloc does not). */
bool tartan_flannel_backend_programs(const struct tartan_flannel_backend *backend);
/* host-gw: peers route to our public IP as a gateway, so it must be the interface's */
bool tartan_flannel_backend_wants_public_ip_on_iface(const struct tartan_flannel_backend *backend);
/* vxlan: the device flannel.<VNI> carries the overlay */
bool tartan_flannel_backend_has_vxlan_device(const struct tartan_flannel_backend *backend);

/* "flannel.<VNI>", flanneld's device name. */
const char *tartan_flannel_vxlan_device(uint32_t vni,
					char buf[static TARTAN_FLANNEL_VXLAN_DEVICE_MAX]);

/*
 * The MTU of the bridge, the vxlan device and FLANNEL_MTU: for vxlan the
 * configured MTU (the backend's MTU option, else iface_mtu) minus the vxlan
 * overhead of 50; for the others iface_mtu. 0 when that leaves less than
 * IPv4's minimum of 68.
 */
unsigned tartan_flannel_backend_mtu(const struct tartan_flannel_backend *backend,
				    unsigned iface_mtu);

/*
 * A VTEP MAC from 6 random bytes as flanneld makes one: unicast and locally
 * administered (first octet (b & 0xfe) | 0x02).
 */
void tartan_flannel_vtep_mac_from_random(const uint8_t random[6], uint8_t ret_mac[6]);

/* Whether mac can be a VTEP's MAC: not zero, not multicast or broadcast. */
bool tartan_flannel_vtep_mac_is_valid(const uint8_t mac[6]);
