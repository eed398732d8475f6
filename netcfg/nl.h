/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small synchronous netlink layer on libnl-route-3: the request socket of
 * STYLE.md's "Netlink" section (one NETLINK_ROUTE socket, every request waits
 * for its ack; dumps for start-up and resync). The monitor socket is another
 * module's. Everything acts in the network namespace the socket was opened in.
 *
 * Addresses are uint32_t in host byte order, as in netcfg/ip4.h; MACs are 6
 * bytes. Every function returns 0 or -errno: the kernel's own errno when the
 * kernel refused the request (taken from its NLMSG_ERROR, so nothing is lost
 * in libnl's lossy errno -> NLE_* mapping), else libnl's -NLE_* translated.
 * tartan_nl_last_error() has the text for the log, with the kernel's extended
 * ack message when it sent one ("VXLAN: ..."). As STYLE.md asks, EEXIST on
 * add and ENOENT/ESRCH on delete are success here where the text says so.
 *
 * Not thread safe: one tartan_nl per thread (tartan has one loop).
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/*
 * The route protocol (rtm_protocol) tartan marks its routes with, so a dump
 * by protocol returns only ours and a delete with it can never remove a
 * route somebody else made (the kernel matches rtm_protocol on RTM_DELROUTE
 * when it is not 0). 0x54 ('T') = 84: values >= RTPROT_STATIC (4) are not
 * interpreted by the kernel; 84 is neither in linux/rtnetlink.h (0-4, 8-18,
 * 42, 99, 186-189, 192) nor in iproute2's /etc/iproute2/rt_protos, and not
 * one of the numbers other node agents are known to use (Calico's 80).
 */
#define TARTAN_NL_RTPROT 0x54

#define TARTAN_NL_MAC_LEN 6

struct tartan_nl;

/* Open the request socket in the caller's current network namespace. */
_tartan_wur_ int tartan_nl_new(struct tartan_nl **ret);
void tartan_nl_free(struct tartan_nl *nl);

/* Text of the last failure ("" if none yet), valid until the next call on nl. */
const char *tartan_nl_last_error(const struct tartan_nl *nl);

/* ---- links ---- */

/* -ENODEV if there is no link of that name. */
_tartan_wur_ int tartan_nl_link_index(struct tartan_nl *nl, const char *name, int *ret_index);

/*
 * Bridge `name`: created if missing, then MTU set (mtu 0: left alone), MAC set
 * (NULL: left alone; a bridge without a MAC of its own takes its lowest port's,
 * which changes as ports come and go, and the pods' ARP entries for the
 * gateway go stale with it) and up. Idempotent. -EEXIST if a link of that name
 * exists and is not a bridge. promisc: promiscuous mode on as well (kubelet's
 * promiscuous-bridge hairpin mode); false leaves it as it is.
 */
_tartan_wur_ int tartan_nl_bridge_ensure(struct tartan_nl *nl, const char *name, unsigned mtu,
					 const uint8_t *mac, bool promisc, int *ret_index);

/*
 * VXLAN device as flannel makes it (flannel-compat.md 4.2):
 * `ip link add NAME type vxlan id VNI local LOCAL dev DEV dstport PORT nolearning`,
 * no group, no l2miss/l3miss. port 0 leaves the kernel default (8472) and is
 * then not compared. An existing link of that name with another type or other
 * parameters is deleted and recreated (flannel does the same). Then MTU (0:
 * left alone), MAC (NULL: the kernel's random one is kept) and up.
 */
_tartan_wur_ int tartan_nl_vxlan_ensure(struct tartan_nl *nl, const char *name, uint32_t vni,
					uint32_t local_ip, uint16_t port, int dev_index,
					unsigned mtu, const uint8_t *mac, bool learning,
					int *ret_index);

_tartan_wur_ int tartan_nl_link_mac(struct tartan_nl *nl, int index,
				    uint8_t ret_mac[static TARTAN_NL_MAC_LEN]);

/* The index of the link's master (a bridge it is a port of), 0 for none. */
_tartan_wur_ int tartan_nl_link_master(struct tartan_nl *nl, int index, int *ret_master);

struct tartan_nl_link {
	int index;
	char name[IF_NAMESIZE];
	unsigned flags; /* IFF_UP, IFF_LOOPBACK, IFF_POINTOPOINT, ... */
	unsigned mtu;
	int master; /* the bridge it is a port of; 0: none */
};

/* Every link of this namespace, in the kernel's order; *ret malloc'd (NULL when *ret_n
 * is 0), freed by the caller. */
_tartan_wur_ int tartan_nl_link_list(struct tartan_nl *nl, struct tartan_nl_link **ret,
				     size_t *ret_n);

/* Delete by name; 0 if it does not exist. */
_tartan_wur_ int tartan_nl_link_delete(struct tartan_nl *nl, const char *name);

/*
 * A veth pair in one RTM_NEWLINK: host_name here, peer_name created directly in
 * the namespace peer_netns_fd refers to (IFLA_NET_NS_FD; -1: this namespace), so
 * the peer's name never appears here. Both ends get mtu (0: kernel default) and
 * the MACs given (NULL: the kernel's random ones); master_index (0: none) makes
 * the host end a port of that bridge and host_up sets the host end up, all in
 * the same request. The peer stays down: set it up from its own namespace (the
 * kernel answers ENOTCONN to IFF_UP on a peer born in another namespace). -EEXIST if either name is taken; on any error nothing is
 * left (the kernel creates the pair whole or not at all).
 */
struct tartan_nl_veth {
	const char *host_name, *peer_name;
	int peer_netns_fd;
	unsigned mtu;
	const uint8_t *host_mac, *peer_mac;
	int master_index;
	bool host_up;
};

_tartan_wur_ int tartan_nl_veth_create(struct tartan_nl *nl, const struct tartan_nl_veth *v);

/* A random locally administered unicast MAC, as the kernel's eth_random_addr() makes. */
_tartan_wur_ int tartan_nl_mac_random(uint8_t ret_mac[static TARTAN_NL_MAC_LEN]);

/* Makes index a port of master_index and sets it up, in one request. */
_tartan_wur_ int tartan_nl_link_attach(struct tartan_nl *nl, int index, int master_index);
_tartan_wur_ int tartan_nl_link_set_up(struct tartan_nl *nl, int index);

/* Hairpin mode of a bridge port (frames may leave by the port they came in on: a pod
 * reaching itself through a service address), as the bridge plugin's hairpinMode. */
_tartan_wur_ int tartan_nl_port_set_hairpin(struct tartan_nl *nl, int index, bool on);

/* ---- IPv4 addresses ---- */

/*
 * The IPv4 addresses on ifindex, in the kernel's order. Here .addr is the
 * address itself (host bits kept), .len its prefix length. *ret is malloc'ed
 * (NULL when *ret_n is 0); the caller frees it.
 */
_tartan_wur_ int tartan_nl_addr_list(struct tartan_nl *nl, int ifindex, struct tartan_ip4_net **ret,
				     size_t *ret_n);
/* 0 also when that address/prefix is already there (EEXIST). */
_tartan_wur_ int tartan_nl_addr_add(struct tartan_nl *nl, int ifindex, uint32_t addr,
				    unsigned prefixlen);
/* 0 also when it is not there (EADDRNOTAVAIL, ENOENT). */
_tartan_wur_ int tartan_nl_addr_del(struct tartan_nl *nl, int ifindex, uint32_t addr,
				    unsigned prefixlen);

/* ---- IPv4 routes, main table ---- */

struct tartan_nl_route {
	struct tartan_ip4_net dst; /* host bits must be clear */
	uint32_t gateway;	   /* host order; 0: none (a link-scope route on ifindex) */
	int ifindex;		   /* 0: let the kernel pick it from the gateway */
	bool onlink;		   /* RTNH_F_ONLINK: gateway need not be on a local subnet */
	uint8_t protocol;	   /* 0 on input means TARTAN_NL_RTPROT */
};

/*
 * RTM_NEWROUTE with NLM_F_CREATE|NLM_F_REPLACE. Note the kernel replaces a
 * route of the same dst (and metric 0, tos 0) whatever its protocol: callers
 * decide beforehand (with a dump) whether a foreign route may be replaced.
 */
_tartan_wur_ int tartan_nl_route_replace(struct tartan_nl *nl, const struct tartan_nl_route *r);

/*
 * Delete the route matching dst, protocol and, when set, gateway and ifindex;
 * 0 if there is none (ESRCH/ENOENT). Because the protocol is always sent, a
 * route of another protocol is never deleted.
 */
_tartan_wur_ int tartan_nl_route_del(struct tartan_nl *nl, const struct tartan_nl_route *r);

/*
 * The main-table IPv4 unicast routes with that protocol (0: TARTAN_NL_RTPROT),
 * first nexthop only. *ret malloc'ed (NULL when *ret_n is 0).
 */
_tartan_wur_ int tartan_nl_route_dump(struct tartan_nl *nl, uint8_t protocol,
				      struct tartan_nl_route **ret, size_t *ret_n);

/*
 * tartan_nl_route_replace for n routes, pipelined: requests go out in windows
 * of up to TARTAN_NL_BATCH_WINDOW before their acks are read, so 5,000 peers
 * cost about 5,000 / window round-trips, not 5,000 (and the socket's receive
 * buffer never holds more acks than that, so none are dropped). Every route is
 * tried. results (may be NULL) gets n entries, 0 or -errno (EEXIST counts as
 * 0). Returns 0 when all succeeded, else the first failure's -errno; a failure
 * of the socket itself (not of one route) stops the batch and is returned,
 * the results of routes not acked then being that error.
 */
#define TARTAN_NL_BATCH_WINDOW 64
_tartan_wur_ int tartan_nl_route_replace_many(struct tartan_nl *nl,
					      const struct tartan_nl_route *routes, size_t n,
					      int *results);

/* ---- neighbours (ARP) and bridge FDB ---- */

/* A neighbour (ip -> mac) or an FDB entry (mac -> dst ip) */
struct tartan_nl_neigh {
	uint32_t ip; /* host order */
	uint8_t mac[TARTAN_NL_MAC_LEN];
};

/*
 * ip -> mac on ifindex, NUD_PERMANENT, unicast: flannel's vxlan ARP entry
 * (`ip neigh replace IP lladdr MAC dev flannel.1 nud permanent`).
 */
_tartan_wur_ int tartan_nl_neigh_replace(struct tartan_nl *nl, int ifindex, uint32_t ip,
					 const uint8_t mac[static TARTAN_NL_MAC_LEN]);
/* 0 if there is none. */
_tartan_wur_ int tartan_nl_neigh_del(struct tartan_nl *nl, int ifindex, uint32_t ip);

/*
 * AF_BRIDGE entry mac -> dst_ip on the vxlan device ifindex, NTF_SELF,
 * NUD_PERMANENT: flannel's AddFDB, `bridge fdb replace MAC dev flannel.1 dst IP
 * self permanent`.
 */
_tartan_wur_ int tartan_nl_fdb_replace(struct tartan_nl *nl, int ifindex,
				       const uint8_t mac[static TARTAN_NL_MAC_LEN],
				       uint32_t dst_ip);
/* 0 if there is none. */
_tartan_wur_ int tartan_nl_fdb_del(struct tartan_nl *nl, int ifindex,
				   const uint8_t mac[static TARTAN_NL_MAC_LEN], uint32_t dst_ip);

/*
 * The permanent IPv4 neighbours on ifindex (ip -> mac), resp. its own permanent FDB
 * entries that have a destination (NTF_SELF, mac -> dst in .ip: a vxlan device's
 * entries; the device's multicast list entries have none). *ret malloc'ed (NULL when
 * *ret_n is 0).
 */
_tartan_wur_ int tartan_nl_neigh_dump(struct tartan_nl *nl, int ifindex,
				      struct tartan_nl_neigh **ret, size_t *ret_n);
_tartan_wur_ int tartan_nl_fdb_dump(struct tartan_nl *nl, int ifindex,
				    struct tartan_nl_neigh **ret, size_t *ret_n);

/* tartan_nl_neigh_replace / tartan_nl_fdb_replace for n entries, pipelined as
 * tartan_nl_route_replace_many (same results and return value). */
_tartan_wur_ int tartan_nl_neigh_replace_many(struct tartan_nl *nl, int ifindex,
					      const struct tartan_nl_neigh *items, size_t n,
					      int *results);
_tartan_wur_ int tartan_nl_fdb_replace_many(struct tartan_nl *nl, int ifindex,
					    const struct tartan_nl_neigh *items, size_t n,
					    int *results);

/*
 * The netlink port id of the request socket: the kernel puts it in nlmsg_pid of the
 * notifications its requests cause, so a monitor can tell our own changes from others'.
 * It changes when a broken batch reopens the socket: read it again each time.
 */
uint32_t tartan_nl_port(const struct tartan_nl *nl);
