/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's data plane, reconciled: the bridge with the gateway address of
 * our subnet, the vxlan device (vxlan backend), and the entries the backend
 * (flannel/backend.h) derives from the peers' leases. Level-triggered: every
 * sync compares what should be with what the kernel has and sends only the
 * difference. A sync runs right after every peer or lease change, after every
 * netlink notification that touches what we keep (someone deleted a route,
 * the device, the bridge's address: repaired within the loop pass), after a
 * monitor overflow, and every resync interval in any case. A bridge deleted is
 * made again with the ports it had (the pods' host ends), so pods need no new
 * ADD.
 */
#pragma once

#include <stdint.h>

#include <jansson.h>

#include "flannel/config.h"
#include "flannel/lease.h"
#include "flannel/registry.h"
#include "netcfg/iface.h"
#include "netcfg/nl.h"

struct ev_loop;
struct tartan_dataplane;

int tartan_dataplane_new(struct ev_loop *loop, struct tartan_flannel_registry *registry,
			 const char *bridge, const char *state_dir, unsigned resync_s,
			 struct tartan_dataplane **ret) _tartan_wur_;
void tartan_dataplane_free(struct tartan_dataplane *dp);

/*
 * Before the lease is asked for: what the backend needs in place first. For
 * vxlan the device flannel.<VNI> (its MAC kept in <state_dir>/flannel.<VNI>.mac
 * across restarts, so peers' entries towards us stay valid) and the lease's
 * BackendData in *attrs; host-gw checks that public_ip is an address of the
 * interface (peers route to us through it; flanneld refuses too). -errno with a
 * malloc'd reason for the log when the node cannot use this backend.
 */
int tartan_dataplane_prepare(struct tartan_dataplane *dp,
			     const struct tartan_flannel_backend *backend,
			     const struct tartan_iface *iface, uint32_t public_ip, unsigned mtu,
			     struct tartan_flannel_lease_attrs *attrs,
			     char **ret_reason) _tartan_wur_;

/* Our lease is held (again, or moved): from then on everything is kept in line. */
void tartan_dataplane_set_node(struct tartan_dataplane *dp, const struct tartan_ip4_net *network,
			       const struct tartan_ip4_net *subnet);

/*
 * Kubenet mode instead of prepare and set_node: no peers and no overlay; the bridge gets
 * mtu and the gateway of pod_cidr, and every other IPv4 address on it is removed (as
 * kubenet's clearBridgeAddressesExcept; an old pod CIDR's gateway would make the bridge
 * plugin fail), promiscuous mode on when promisc. Routes of tartan's protocol left from
 * flannel mode are removed: no peer wants them.
 */
void tartan_dataplane_set_kubenet(struct tartan_dataplane *dp,
				  const struct tartan_ip4_net *pod_cidr, unsigned mtu, bool promisc);

/* Hairpin mode (--hairpin-mode=hairpin-veth) for the ports put back on a bridge made again, as
 * tartan_pods_set_hairpin() gives it to new ports. */
void tartan_dataplane_set_port_hairpin(struct tartan_dataplane *dp, bool on);

/* Peers or our lease changed: sync soon. */
void tartan_dataplane_changed(struct tartan_dataplane *dp);

struct tartan_dataplane_stats {
	size_t routes, neighbours, fdb; /* entries tartan holds in the kernel now */
	uint64_t syncs;			/* reconciliations run */
	uint64_t repairs;		/* entries put back that were there before (drift) */
	uint64_t overflows;		/* monitor overflows (each followed by a full sync) */
	const char *vxlan_device;	/* NULL unless vxlan */
	uint8_t vtep_mac[6];
};

void tartan_dataplane_stats(const struct tartan_dataplane *dp, struct tartan_dataplane_stats *ret);

/* ---- tartanctl routes: what should be against what the kernel has ---- */

enum tartan_dataplane_drift {
	TARTAN_DATAPLANE_OK,	    /* in the kernel as it should be */
	TARTAN_DATAPLANE_MISSING,   /* should be, is not */
	TARTAN_DATAPLANE_DIFFERENT, /* there, with another gateway, device or onlink */
	TARTAN_DATAPLANE_EXTRA,	    /* ours (protocol 84) but no peer asks for it */
};

/* "ok", "missing", "different", "extra" */
const char *tartan_dataplane_drift_name(enum tartan_dataplane_drift d);

struct tartan_dataplane_route_diff {
	const struct tartan_nl_route *want; /* NULL for EXTRA */
	const struct tartan_nl_route *have; /* NULL for MISSING */
	enum tartan_dataplane_drift state;
};

/*
 * Pure: sorts both lists by destination (in place) and pairs them up, in the sync's terms
 * (same destination: ok when gateway, device and onlink agree). *ret (malloc'd, NULL when
 * *ret_n is 0) points into want and have.
 */
int tartan_dataplane_routes_compare(struct tartan_nl_route *want, size_t n_want,
				    struct tartan_nl_route *have, size_t n_have,
				    struct tartan_dataplane_route_diff **ret,
				    size_t *ret_n) _tartan_wur_;

/*
 * For tartanctl routes: {"routes":[{"dst","gateway","dev","onlink","state"},...]}, state
 * "ok", "missing", "different" (then "kernel":{"gateway","dev","onlink"} too) or "extra";
 * for vxlan also "neighbours":[{"ip","mac","state"}] and "fdb":[{"mac","dst","state"}] of
 * the device (state "ok", "missing", "different", "extra"). Dumps the kernel now.
 */
int tartan_dataplane_routes_json(struct tartan_dataplane *dp, json_t **ret) _tartan_wur_;

/* ---- tartanctl leases: is each lease programmed here ---- */

enum tartan_dataplane_programmed {
	TARTAN_DATAPLANE_NOTHING_TO_PROGRAM, /* alloc, another backend, before our lease */
	TARTAN_DATAPLANE_PROGRAMMED,	     /* every entry the backend wants is in the kernel */
	TARTAN_DATAPLANE_NOT_PROGRAMMED,     /* some entry is missing or different */
};

/*
 * Whether the kernel holds, now, what the backend wants for each peer (registry order:
 * (*ret)[i] is peer i; malloc'd, NULL when *ret_n is 0) and, in *ret_own, for our own lease
 * (the bridge holds the gateway address). Dumps the kernel.
 */
int tartan_dataplane_programmed(struct tartan_dataplane *dp, enum tartan_dataplane_programmed **ret,
				size_t *ret_n,
				enum tartan_dataplane_programmed *ret_own) _tartan_wur_;
