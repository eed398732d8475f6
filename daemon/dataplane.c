/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dataplane.h"
#include "daemon/log.h"
#include "netcfg/nl.h"

/*
 * A backend turns a peer's lease into the routes it needs. Peers of another
 * backend type are ignored: mixed backends do not interoperate (flannel's
 * backends skip them too).
 */
struct backend_ops {
	const char *lease_type; /* BackendType of the leases it serves */
	/* 0 with *ret_route set, or -ENOENT when the peer needs no route */
	int (*peer_route)(const struct tartan_flannel_peer *peer, const struct tartan_iface *iface,
			  struct tartan_nl_route *ret_route);
};

/* host-gw: the peer's subnet via its public IP, on the external interface */
static int hostgw_peer_route(const struct tartan_flannel_peer *peer,
			     const struct tartan_iface *iface, struct tartan_nl_route *ret_route)
{
	*ret_route = (struct tartan_nl_route){
		.dst = peer->subnet,
		.gateway = peer->attrs.public_ip,
		.ifindex = (int)iface->index,
		.protocol = TARTAN_NL_RTPROT,
	};
	return 0;
}

static const struct backend_ops backends[] = {
	[TARTAN_FLANNEL_BACKEND_ALLOC] = { .lease_type = "" },
	[TARTAN_FLANNEL_BACKEND_HOST_GW] = { .lease_type = "host-gw",
					     .peer_route = hostgw_peer_route },
};

struct tartan_dataplane {
	struct ev_loop *loop;
	struct tartan_flannel_registry *registry;
	struct tartan_nl *nl;
	char *bridge;
	bool have_node;
	const struct backend_ops *ops;
	struct tartan_ip4_net network, subnet;
	struct tartan_iface iface;
	unsigned mtu;
	size_t n_routes;
	ev_timer soon;	 /* a sync right after a change */
	ev_timer resync; /* and one every resync interval */
	struct tartan_ratelimit rl;
};

static void log_failure(struct tartan_dataplane *dp, const char *what, int err)
{
	tartan_log_ratelimited(&dp->rl, (uint64_t)(ev_now(dp->loop) * 1e6), TARTAN_LOG_WARNING,
			       "%s: %s (%s); retrying at the next resync", what, strerror(-err),
			       tartan_nl_last_error(dp->nl));
}

/* The bridge holds exactly our gateway address among the cluster's addresses:
 * one left from an older subnet would make the bridge CNI plugin fail. */
static int sync_bridge(struct tartan_dataplane *dp)
{
	uint32_t gateway = tartan_ip4_net_first_host(&dp->subnet);
	struct tartan_ip4_net *addrs = NULL;
	char buf[TARTAN_IP4_NET_STRLEN];
	bool have = false;
	size_t n = 0, i;
	int index, err;

	err = tartan_nl_bridge_ensure(dp->nl, dp->bridge, dp->mtu, &index);
	if (err < 0)
		return err;
	err = tartan_nl_addr_list(dp->nl, index, &addrs, &n);
	if (err < 0)
		return err;
	for (i = 0; i < n && err >= 0; i++) {
		if (addrs[i].addr == gateway && addrs[i].len == dp->subnet.len) {
			have = true;
			continue;
		}
		if (!tartan_ip4_net_contains(&dp->network, addrs[i].addr))
			continue; /* not ours: never touched */
		tartan_log_info("removing %s/%u from %s: not this node's subnet any more",
				tartan_ip4_addr_format(addrs[i].addr, buf), addrs[i].len,
				dp->bridge);
		err = tartan_nl_addr_del(dp->nl, index, addrs[i].addr, addrs[i].len);
	}
	free(addrs);
	if (err >= 0 && !have)
		err = tartan_nl_addr_add(dp->nl, index, gateway, dp->subnet.len);
	return err;
}

static int route_cmp(const void *a, const void *b)
{
	return tartan_ip4_net_cmp(&((const struct tartan_nl_route *)a)->dst,
				  &((const struct tartan_nl_route *)b)->dst);
}

static bool route_same(const struct tartan_nl_route *a, const struct tartan_nl_route *b)
{
	return a->gateway == b->gateway && a->ifindex == b->ifindex;
}

/* The routes the peers ask for against the routes of our protocol in the kernel. */
static int sync_routes(struct tartan_dataplane *dp)
{
	size_t n_peers = tartan_flannel_registry_n_peers(dp->registry), n_want = 0, n_have = 0;
	struct tartan_nl_route *want = NULL, *have = NULL;
	size_t i, j;
	int err = 0, r;

	if (n_peers) {
		want = calloc(n_peers, sizeof(*want));
		if (!want)
			return -ENOMEM;
	}
	for (i = 0; i < n_peers; i++) {
		const struct tartan_flannel_peer *p = tartan_flannel_registry_peer(dp->registry, i);

		if (!dp->ops->peer_route || strcmp(p->attrs.backend_type, dp->ops->lease_type) != 0)
			continue;
		if (dp->ops->peer_route(p, &dp->iface, &want[n_want]) == 0)
			n_want++;
	}
	err = tartan_nl_route_dump(dp->nl, TARTAN_NL_RTPROT, &have, &n_have);
	if (err < 0)
		goto out;
	if (n_want > 1)
		qsort(want, n_want, sizeof(*want), route_cmp);
	if (n_have > 1)
		qsort(have, n_have, sizeof(*have), route_cmp);

	/* merge walk: ours not wanted go, wanted missing or different are replaced */
	for (i = 0, j = 0; i < n_have || j < n_want;) {
		int cmp = i == n_have ? 1 : j == n_want ? -1 : route_cmp(&have[i], &want[j]);

		if (cmp < 0) {
			r = tartan_nl_route_del(dp->nl, &have[i++]);
		} else if (cmp > 0) {
			r = tartan_nl_route_replace(dp->nl, &want[j++]);
		} else {
			r = route_same(&have[i], &want[j]) ?
				    0 :
				    tartan_nl_route_replace(dp->nl, &want[j]);
			i++;
			j++;
		}
		if (r < 0 && err >= 0)
			err = r; /* go on: one bad peer does not keep the others out */
	}
	dp->n_routes = n_want;
out:
	free(want);
	free(have);
	return err;
}

static void sync_now(struct tartan_dataplane *dp)
{
	int err;

	if (!dp->have_node)
		return;
	err = sync_bridge(dp);
	if (err < 0)
		log_failure(dp, "bridge", err);
	err = sync_routes(dp);
	if (err < 0)
		log_failure(dp, "routes", err);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	sync_now(w->data);
}

int tartan_dataplane_new(struct ev_loop *loop, struct tartan_flannel_registry *registry,
			 const char *bridge, unsigned resync_s, struct tartan_dataplane **ret)
{
	struct tartan_dataplane *dp = calloc(1, sizeof(*dp));
	int err;

	if (!dp)
		return -ENOMEM;
	dp->loop = loop;
	dp->registry = registry;
	dp->rl = TARTAN_RATELIMIT_INIT(60ull * 1000000, 3);
	dp->bridge = strdup(bridge);
	if (!dp->bridge) {
		free(dp);
		return -ENOMEM;
	}
	err = tartan_nl_new(&dp->nl);
	if (err < 0) {
		tartan_dataplane_free(dp);
		return err;
	}
	ev_timer_init(&dp->soon, timer_cb, 0., 0.);
	dp->soon.data = dp;
	ev_timer_init(&dp->resync, timer_cb, resync_s, resync_s);
	dp->resync.data = dp;
	*ret = dp;
	return 0;
}

void tartan_dataplane_free(struct tartan_dataplane *dp)
{
	if (!dp)
		return;
	/* routes and the bridge stay: traffic flows on while tartand restarts */
	ev_timer_stop(dp->loop, &dp->soon);
	ev_timer_stop(dp->loop, &dp->resync);
	tartan_nl_free(dp->nl);
	free(dp->bridge);
	free(dp);
}

void tartan_dataplane_set_node(struct tartan_dataplane *dp, enum tartan_flannel_backend_kind kind,
			       const struct tartan_ip4_net *network,
			       const struct tartan_ip4_net *subnet,
			       const struct tartan_iface *iface, unsigned mtu)
{
	if ((size_t)kind >= sizeof(backends) / sizeof(backends[0]) || !backends[kind].peer_route) {
		tartan_log_error("data plane: backend not available here; nothing programmed");
		return;
	}
	dp->ops = &backends[kind];
	dp->network = *network;
	dp->subnet = *subnet;
	dp->iface = *iface;
	dp->mtu = mtu;
	dp->have_node = true;
	if (!ev_is_active(&dp->resync))
		ev_timer_start(dp->loop, &dp->resync);
	tartan_dataplane_changed(dp);
}

void tartan_dataplane_changed(struct tartan_dataplane *dp)
{
	/* one sync for a burst of peer events: the timer runs after this loop pass */
	if (dp->have_node && !ev_is_active(&dp->soon))
		ev_timer_start(dp->loop, &dp->soon);
}

size_t tartan_dataplane_n_routes(const struct tartan_dataplane *dp)
{
	return dp->n_routes;
}
