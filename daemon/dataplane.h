/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's data plane, reconciled: the bridge with the gateway address of
 * our subnet, the vxlan device (vxlan backend), and the entries the backend
 * (flannel/backend.h) derives from the peers' leases. Level-triggered: every
 * sync compares what should be with what the kernel has and sends only the
 * difference. A sync runs right after every peer or lease change, after every
 * netlink notification that touches what we keep (someone deleted a route,
 * the device, the bridge's address: repaired within the loop pass), after a
 * monitor overflow, and every resync interval in any case.
 */
#pragma once

#include <stdint.h>

#include "flannel/config.h"
#include "flannel/lease.h"
#include "flannel/registry.h"
#include "netcfg/iface.h"

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
			     struct tartan_flannel_lease_attrs *attrs, char **ret_reason) _tartan_wur_;

/* Our lease is held (again, or moved): from then on everything is kept in line. */
void tartan_dataplane_set_node(struct tartan_dataplane *dp, const struct tartan_ip4_net *network,
			       const struct tartan_ip4_net *subnet);

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
