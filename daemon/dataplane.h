/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's data plane, reconciled: the bridge with the gateway address of
 * our subnet, and the routes the backend derives from the peers' leases.
 * Level-triggered: every sync compares what should be with what the kernel
 * has and sends only the difference; a sync runs soon after every change and
 * every resync interval, so an entry deleted by hand comes back.
 */
#pragma once

#include <stdint.h>

#include "flannel/config.h"
#include "flannel/registry.h"
#include "netcfg/iface.h"

struct ev_loop;
struct tartan_dataplane;

int tartan_dataplane_new(struct ev_loop *loop, struct tartan_flannel_registry *registry,
			 const char *bridge, unsigned resync_s,
			 struct tartan_dataplane **ret) _tartan_wur_;
void tartan_dataplane_free(struct tartan_dataplane *dp);

/* What this node is: from then on the bridge and routes are kept in line. */
void tartan_dataplane_set_node(struct tartan_dataplane *dp, enum tartan_flannel_backend_kind kind,
			       const struct tartan_ip4_net *network,
			       const struct tartan_ip4_net *subnet,
			       const struct tartan_iface *iface, unsigned mtu);

/* Peers or our lease changed: sync soon. */
void tartan_dataplane_changed(struct tartan_dataplane *dp);

/* Routes tartan holds in the kernel now, for status. */
size_t tartan_dataplane_n_routes(const struct tartan_dataplane *dp);
