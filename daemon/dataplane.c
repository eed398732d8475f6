/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <ev.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "daemon/dataplane.h"
#include "daemon/log.h"
#include "flannel/backend.h"
#include "netcfg/file.h"
#include "netcfg/monitor.h"
#include "netcfg/nl.h"

/* a MAC file holds one line "xx:xx:xx:xx:xx:xx\n"; anything longer is not ours */
#define MAC_FILE_MAX 64

struct tartan_dataplane {
	struct ev_loop *loop;
	struct tartan_flannel_registry *registry;
	struct tartan_nl *nl;
	struct tartan_nl_monitor *monitor;
	ev_io monitor_io;
	char *bridge;
	char *state_dir;

	bool prepared, have_node;
	/* kubenet mode: no peers, every IPv4 address of the bridge but the gateway is
	 * removed (network is 0.0.0.0/0), the bridge promiscuous if asked */
	bool kubenet, promisc;
	struct tartan_flannel_backend backend;
	struct tartan_iface iface;
	uint32_t public_ip;
	unsigned mtu;
	struct tartan_ip4_net network, subnet;
	char vxlan_name[TARTAN_FLANNEL_VXLAN_DEVICE_MAX]; /* "" unless vxlan */
	uint8_t vtep_mac[TARTAN_NL_MAC_LEN];

	/* what the last sync saw, to tell which notifications concern us */
	int bridge_index, vxlan_index;
	/* the bridge's ports as last seen, from the notifications and each sync: a port leaves
	 * this set when it is deleted or put on another master, not when it loses its master,
	 * since deleting the bridge releases every port before the bridge goes. So when the
	 * bridge is made again they are put back on it, and the pods behind them reach out
	 * again without a new ADD. */
	int *ports;
	size_t n_ports, cap_ports;
	bool ports_stale; /* notifications were lost: the next sync lists the links */
	bool port_hairpin;   /* hairpin-veth: a port put back gets hairpin again */
	int accept_ra_index; /* the device whose accept_ra we turned off */
	bool iface_up;

	/* a sync for a change of the desired state, not a repair */
	bool desired_changed;
	struct tartan_dataplane_stats stats;
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

static void schedule_sync(struct tartan_dataplane *dp)
{
	/* one sync for a burst: the timer runs after this loop pass */
	if (dp->have_node && !ev_is_active(&dp->soon))
		ev_timer_start(dp->loop, &dp->soon);
}

/* ---- the addresses of our links ---- */

/*
 * link holds exactly `want` among the addresses inside the cluster network: one left from
 * an older subnet would make the bridge CNI plugin fail ("already has an IP address
 * different from"); addresses outside the network are not ours and stay.
 */
static int sync_link_addr(struct tartan_dataplane *dp, int index, const char *name,
			  const struct tartan_ip4_net *want, size_t *changes)
{
	struct tartan_ip4_net *addrs = NULL;
	char buf[TARTAN_IP4_NET_STRLEN];
	bool have = false;
	size_t n = 0, i;
	int err;

	err = tartan_nl_addr_list(dp->nl, index, &addrs, &n);
	if (err < 0)
		return err;
	for (i = 0; i < n && err >= 0; i++) {
		if (addrs[i].addr == want->addr && addrs[i].len == want->len) {
			have = true;
			continue;
		}
		if (!tartan_ip4_net_contains(&dp->network, addrs[i].addr))
			continue;
		tartan_log_info("removing %s/%u from %s: not this node's subnet",
				tartan_ip4_addr_format(addrs[i].addr, buf), addrs[i].len, name);
		err = tartan_nl_addr_del(dp->nl, index, addrs[i].addr, addrs[i].len);
		(*changes)++;
	}
	free(addrs);
	if (err >= 0 && !have) {
		err = tartan_nl_addr_add(dp->nl, index, want->addr, want->len);
		(*changes)++;
	}
	return err;
}

/*
 * A bridge that exists with a MAC given to it (addr_assign_type NET_ADDR_SET: the bridge
 * plugin sets one on the cni0 it makes, flannel's for one) keeps it: the pods attached
 * before hold it in their ARP caches as the gateway's, and a new one would cut them off
 * until those entries go stale. Only a MAC of tartan's own form (0a:58:..., maybe of an
 * old subnet) or one the kernel chose (random, or a port's) is replaced.
 */
static bool bridge_mac_is_kept(const char *name)
{
	char path[96], buf[32];
	FILE *f;
	bool set, ours;

	snprintf(path, sizeof(path), "/sys/class/net/%s/addr_assign_type", name);
	f = fopen(path, "re");
	if (!f)
		return false;
	set = fgets(buf, sizeof(buf), f) && atoi(buf) == 3;
	fclose(f);
	if (!set)
		return false;
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", name);
	f = fopen(path, "re");
	if (!f)
		return false;
	ours = !fgets(buf, sizeof(buf), f) || strncmp(buf, "0a:58:", 6) == 0;
	fclose(f);
	return !ours;
}

static void keep_first_error(int *err, int r)
{
	if (r < 0 && *err >= 0)
		*err = r; /* go on: one bad peer does not keep the others out */
}

static bool ports_has(const struct tartan_dataplane *dp, int index)
{
	for (size_t i = 0; i < dp->n_ports; i++)
		if (dp->ports[i] == index)
			return true;
	return false;
}

static void ports_append(struct tartan_dataplane *dp, int index)
{
	if (dp->n_ports == dp->cap_ports) {
		size_t cap = dp->cap_ports ? 2 * dp->cap_ports : 16;
		int *p = realloc(dp->ports, cap * sizeof(*p));

		if (!p)
			return; /* that port is not put back if the bridge is remade: no worse */
		dp->ports = p;
		dp->cap_ports = cap;
	}
	dp->ports[dp->n_ports++] = index;
}

static void ports_add(struct tartan_dataplane *dp, int index)
{
	if (!ports_has(dp, index))
		ports_append(dp, index);
}

static void ports_remove(struct tartan_dataplane *dp, int index)
{
	for (size_t i = 0; i < dp->n_ports; i++)
		if (dp->ports[i] == index) {
			dp->ports[i] = dp->ports[--dp->n_ports];
			return;
		}
}

/*
 * The notifications keep the set of ports between syncs, so the links are listed only to
 * seed it (the first sync, after lost notifications) and when the bridge was made again
 * (old_index gone): then every remembered port that still exists without a master goes
 * back on it. Either way the set becomes the bridge's ports as they are.
 */
static int sync_ports(struct tartan_dataplane *dp, int old_index, size_t *changes)
{
	bool remade = old_index && old_index != dp->bridge_index;
	struct tartan_nl_link *links = NULL;
	size_t n = 0, put_back = 0;
	int err, r = 0;

	if (old_index && !remade && !dp->ports_stale)
		return 0;
	err = tartan_nl_link_list(dp->nl, &links, &n);
	dp->ports_stale = err < 0;
	if (err < 0)
		return err;
	for (size_t i = 0; remade && i < n; i++) {
		if (links[i].master || !ports_has(dp, links[i].index))
			continue;
		err = tartan_nl_link_attach(dp->nl, links[i].index, dp->bridge_index);
		if (err >= 0 && dp->port_hairpin)
			err = tartan_nl_port_set_hairpin(dp->nl, links[i].index, true);
		keep_first_error(&r, err);
		if (err >= 0) {
			links[i].master = dp->bridge_index;
			put_back++;
		}
	}
	if (put_back)
		tartan_log_info("%s was made again: %zu port%s put back on it", dp->bridge,
				put_back, put_back == 1 ? "" : "s");
	*changes += put_back;
	dp->n_ports = 0; /* the kernel lists each link once */
	for (size_t i = 0; i < n; i++)
		if (links[i].master == dp->bridge_index)
			ports_append(dp, links[i].index);
	free(links);
	return r;
}

static int sync_bridge(struct tartan_dataplane *dp, size_t *changes)
{
	int old_index = dp->bridge_index;
	struct tartan_ip4_net gw = {
		.addr = tartan_ip4_net_first_host(&dp->subnet),
		.len = dp->subnet.len,
	};
	/* a MAC of its own, from the gateway address as the bridge plugin makes one
	 * (0a:58 and the address: locally administered, unique in the cluster), so the
	 * gateway's MAC in the pods' ARP caches never changes */
	uint8_t mac[TARTAN_NL_MAC_LEN] = { 0x0a,
					   0x58,
					   (uint8_t)(gw.addr >> 24),
					   (uint8_t)(gw.addr >> 16),
					   (uint8_t)(gw.addr >> 8),
					   (uint8_t)gw.addr };
	int err;

	err = tartan_nl_bridge_ensure(dp->nl, dp->bridge, dp->mtu,
				      bridge_mac_is_kept(dp->bridge) ? NULL : mac, dp->promisc,
				      &dp->bridge_index);
	if (err < 0)
		return err;
	err = sync_link_addr(dp, dp->bridge_index, dp->bridge, &gw, changes);
	keep_first_error(&err, sync_ports(dp, old_index, changes));
	return err;
}

/*
 * flanneld turns router advertisements off on its device (net.ipv6.conf.flannel/1.accept_ra
 * = 0): nothing on the overlay should configure IPv6 on it. Once per device: a new device
 * starts with the default again. No IPv6 in this namespace (no such file): nothing to do.
 */
static void vxlan_no_accept_ra(struct tartan_dataplane *dp)
{
	char path[128];
	int err;

	if (dp->vxlan_index == dp->accept_ra_index)
		return;
	dp->accept_ra_index = dp->vxlan_index;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra", dp->vxlan_name);
	err = tartan_file_write_in_place(path, "0\n", 2);
	if (err < 0 && err != -ENOENT)
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "%s: %m", path);
}

/* flannel.<VNI> as flanneld makes it, with our MAC */
static int vxlan_ensure(struct tartan_dataplane *dp)
{
	const struct tartan_flannel_vxlan_options *o = &dp->backend.vxlan;

	return tartan_nl_vxlan_ensure(dp->nl, dp->vxlan_name, o->vni, dp->iface.addr, o->port,
				      (int)dp->iface.index, dp->mtu, dp->vtep_mac, o->learning,
				      &dp->vxlan_index);
}

/* the device, and its address <subnet>.0/32 */
static int sync_vxlan_device(struct tartan_dataplane *dp, size_t *changes)
{
	struct tartan_ip4_net vtep = { .addr = dp->subnet.addr, .len = 32 };
	int err;

	err = vxlan_ensure(dp);
	if (err < 0)
		return err;
	vxlan_no_accept_ra(dp);
	return sync_link_addr(dp, dp->vxlan_index, dp->vxlan_name, &vtep, changes);
}

/* ---- the peers' entries ---- */

/* the peers' entries: what should be (desired_build) or what the kernel has (peers_load) */
struct entries {
	struct tartan_nl_route *routes;
	struct tartan_nl_neigh *neigh, *fdb;
	size_t n_routes, n_neigh, n_fdb;
};

static void entries_free(struct entries *w)
{
	free(w->routes);
	free(w->neigh);
	free(w->fdb);
}

static int desired_build(struct tartan_dataplane *dp, struct entries *w)
{
	size_t n_peers = dp->registry ? tartan_flannel_registry_n_peers(dp->registry) : 0;
	struct tartan_ip4_net *connected = NULL;
	struct tartan_flannel_node node = {
		.backend = &dp->backend,
		.subnet = dp->subnet,
	};
	size_t n_connected = 0;
	int err;

	*w = (struct entries){ 0 };
	if (dp->backend.vxlan.direct_routing) {
		err = tartan_nl_addr_list(dp->nl, (int)dp->iface.index, &connected, &n_connected);
		if (err < 0)
			return err;
		node.connected = connected;
		node.n_connected = n_connected;
	}
	if (n_peers) {
		w->routes = calloc(n_peers, sizeof(*w->routes));
		w->neigh = calloc(n_peers, sizeof(*w->neigh));
		w->fdb = calloc(n_peers, sizeof(*w->fdb));
		if (!w->routes || !w->neigh || !w->fdb) {
			free(connected);
			entries_free(w);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n_peers; i++) {
		const struct tartan_flannel_peer *p = tartan_flannel_registry_peer(dp->registry, i);
		struct tartan_flannel_peer_entries e;

		if (!tartan_flannel_backend_peer_entries(&node, &p->subnet, &p->attrs, &e))
			continue;
		if (e.has_route)
			w->routes[w->n_routes++] = (struct tartan_nl_route){
				.dst = e.route.dst,
				.gateway = e.route.gateway,
				.ifindex = e.route.link == TARTAN_FLANNEL_LINK_VXLAN ?
						   dp->vxlan_index :
						   (int)dp->iface.index,
				.onlink = e.route.onlink,
				.protocol = TARTAN_NL_RTPROT,
			};
		if (e.has_neigh) {
			w->neigh[w->n_neigh].ip = e.neigh.ip;
			memcpy(w->neigh[w->n_neigh++].mac, e.neigh.mac, TARTAN_NL_MAC_LEN);
		}
		if (e.has_fdb) {
			w->fdb[w->n_fdb].ip = e.fdb.dst;
			memcpy(w->fdb[w->n_fdb++].mac, e.fdb.mac, TARTAN_NL_MAC_LEN);
		}
	}
	free(connected);
	return 0;
}

static int route_cmp(const void *a, const void *b)
{
	return tartan_ip4_net_cmp(&((const struct tartan_nl_route *)a)->dst,
				  &((const struct tartan_nl_route *)b)->dst);
}

static bool route_same(const struct tartan_nl_route *a, const struct tartan_nl_route *b)
{
	return a->gateway == b->gateway && a->ifindex == b->ifindex && a->onlink == b->onlink;
}

static int neigh_cmp_ip(const void *a, const void *b)
{
	uint32_t x = ((const struct tartan_nl_neigh *)a)->ip,
		 y = ((const struct tartan_nl_neigh *)b)->ip;

	return x < y ? -1 : x > y;
}

static int neigh_cmp_mac(const void *a, const void *b)
{
	return memcmp(((const struct tartan_nl_neigh *)a)->mac,
		      ((const struct tartan_nl_neigh *)b)->mac, TARTAN_NL_MAC_LEN);
}

static bool neigh_same(const struct tartan_nl_neigh *a, const struct tartan_nl_neigh *b)
{
	return a->ip == b->ip && memcmp(a->mac, b->mac, TARTAN_NL_MAC_LEN) == 0;
}

static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1) /* qsort with a NULL base is undefined, even for 0 items */
		qsort(base, n, size, cmp);
}

/*
 * The merge walk of two lists sorted by cmp: fn sees each pair of items with the same key
 * (have and want both set), each item of have without a key in want (want NULL) and each
 * item of want missing from have (have NULL), in key order. fn may move items of either
 * list to an earlier slot (diff() does).
 */
static void merge_walk(char *h, size_t n_have, char *w, size_t n_want, size_t size,
		       int (*cmp)(const void *, const void *),
		       void (*fn)(void *have, void *want, void *ctx), void *ctx)
{
	size_t i = 0, j = 0;

	while (i < n_have || j < n_want) {
		int c = i == n_have ? 1 : j == n_want ? -1 : cmp(h + i * size, w + j * size);

		if (c < 0)
			fn(h + i++ * size, NULL, ctx);
		else if (c > 0)
			fn(NULL, w + j++ * size, ctx);
		else
			fn(h + i++ * size, w + j++ * size, ctx);
	}
}

struct diff_ctx {
	char *have, *want;
	size_t size, n_del, n_add;
	bool (*same)(const void *, const void *);
};

static void diff_fn(void *have, void *want, void *ctx)
{
	struct diff_ctx *d = ctx;

	if (!want)
		memmove(d->have + d->n_del++ * d->size, have, d->size);
	else if (!have || !d->same(have, want))
		memmove(d->want + d->n_add++ * d->size, want, d->size);
}

/*
 * The sync's diff: items of `have` without a key in `want` are moved to the front of have
 * (to delete; *ret_n_del of them), items of `want` missing from `have` or different there
 * to the front of want (to replace; *ret_n_add). O(n log n) with the sorts, so 5,000 peers
 * cost milliseconds, not flanneld's quadratic seconds.
 */
static void diff(void *have, size_t n_have, void *want, size_t n_want, size_t size,
		 int (*cmp)(const void *, const void *), bool (*same)(const void *, const void *),
		 size_t *ret_n_del, size_t *ret_n_add)
{
	struct diff_ctx d = { .have = have, .want = want, .size = size, .same = same };

	sort(have, n_have, size, cmp);
	sort(want, n_want, size, cmp);
	merge_walk(have, n_have, want, n_want, size, cmp, diff_fn, &d);
	*ret_n_del = d.n_del;
	*ret_n_add = d.n_add;
}

static bool route_same_v(const void *a, const void *b)
{
	return route_same(a, b);
}

static bool neigh_same_v(const void *a, const void *b)
{
	return neigh_same(a, b);
}

static bool have_vxlan(const struct tartan_dataplane *dp)
{
	return dp->vxlan_name[0] && dp->vxlan_index > 0;
}

/*
 * What the peers' entries should be and what the kernel has: routes of our protocol; on
 * the vxlan device, its permanent neighbours and FDB entries (the device is ours by name,
 * so everything permanent on it is ours). Both freed by the caller, also on error.
 */
static int peers_load(struct tartan_dataplane *dp, struct entries *w, struct entries *k)
{
	int err;

	*k = (struct entries){ 0 };
	err = desired_build(dp, w);
	if (err < 0)
		return err;
	err = tartan_nl_route_dump(dp->nl, TARTAN_NL_RTPROT, &k->routes, &k->n_routes);
	if (err >= 0 && have_vxlan(dp))
		err = tartan_nl_neigh_dump(dp->nl, dp->vxlan_index, &k->neigh, &k->n_neigh);
	if (err >= 0 && have_vxlan(dp))
		err = tartan_nl_fdb_dump(dp->nl, dp->vxlan_index, &k->fdb, &k->n_fdb);
	return err;
}

/*
 * The peers' entries against the kernel's (peers_load). Deletes first, routes before what
 * they rest on; then adds in flannel's order (neighbour, FDB, route), in pipelined batches.
 */
static int sync_peers(struct tartan_dataplane *dp, size_t *changes)
{
	struct entries k;
	size_t del_r = 0, add_r = 0, del_n = 0, add_n = 0, del_f = 0, add_f = 0, i;
	bool vxlan = have_vxlan(dp);
	struct entries w;
	int err, r = 0;

	err = peers_load(dp, &w, &k);
	if (err < 0)
		goto out;
	dp->stats.routes = w.n_routes;
	dp->stats.neighbours = w.n_neigh;
	dp->stats.fdb = w.n_fdb;

	diff(k.routes, k.n_routes, w.routes, w.n_routes, sizeof(*w.routes), route_cmp, route_same_v,
	     &del_r, &add_r);
	if (vxlan) {
		diff(k.neigh, k.n_neigh, w.neigh, w.n_neigh, sizeof(*w.neigh), neigh_cmp_ip,
		     neigh_same_v, &del_n, &add_n);
		diff(k.fdb, k.n_fdb, w.fdb, w.n_fdb, sizeof(*w.fdb), neigh_cmp_mac, neigh_same_v,
		     &del_f, &add_f);
	}
	for (i = 0; i < del_r; i++)
		keep_first_error(&r, tartan_nl_route_del(dp->nl, &k.routes[i]));
	for (i = 0; i < del_n; i++)
		keep_first_error(&r, tartan_nl_neigh_del(dp->nl, dp->vxlan_index, k.neigh[i].ip));
	for (i = 0; i < del_f; i++)
		keep_first_error(
			&r, tartan_nl_fdb_del(dp->nl, dp->vxlan_index, k.fdb[i].mac, k.fdb[i].ip));
	if (add_n)
		keep_first_error(&r, tartan_nl_neigh_replace_many(dp->nl, dp->vxlan_index, w.neigh,
								  add_n, NULL));
	if (add_f)
		keep_first_error(&r, tartan_nl_fdb_replace_many(dp->nl, dp->vxlan_index, w.fdb,
								add_f, NULL));
	if (add_r)
		keep_first_error(&r, tartan_nl_route_replace_many(dp->nl, w.routes, add_r, NULL));
	*changes += del_r + add_r + del_n + add_n + del_f + add_f;
	err = r;
out:
	entries_free(&k);
	entries_free(&w);
	return err;
}

static void sync_now(struct tartan_dataplane *dp)
{
	size_t changes = 0;
	int err;

	if (!dp->have_node)
		return;
	dp->stats.syncs++;
	err = sync_bridge(dp, &changes);
	if (err < 0)
		log_failure(dp, "bridge", err);
	if (dp->vxlan_name[0]) {
		err = sync_vxlan_device(dp, &changes);
		if (err < 0) {
			dp->vxlan_index = 0;
			log_failure(dp, dp->vxlan_name, err);
		}
	}
	err = sync_peers(dp, &changes);
	if (err < 0)
		log_failure(dp, "peer entries", err);
	if (changes && !dp->desired_changed) {
		dp->stats.repairs += changes;
		tartan_log_info("repaired %zu kernel entr%s changed behind our back", changes,
				changes == 1 ? "y" : "ies");
	}
	dp->desired_changed = false;
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	sync_now(w->data);
}

/* ---- the netlink monitor ---- */

/*
 * Whether a notification touches what we keep; our own requests' echoes do not count. The
 * kernel names the requester in most of them, but sends vxlan FDB changes and neighbour
 * deletions with sender 0: those cost one extra sync after our own batch, which finds
 * nothing to do (no loop), and are left so because telling them from a hand-made change
 * would need the desired set here.
 */
static bool event_concerns_us(struct tartan_dataplane *dp, const struct tartan_nl_event *e)
{
	if (e->sender && e->sender == tartan_nl_port(dp->nl))
		return false;
	switch (e->kind) {
	case TARTAN_NL_EVENT_LINK: {
		bool ours = strcmp(e->name, dp->bridge) == 0 ||
			    (dp->vxlan_name[0] && strcmp(e->name, dp->vxlan_name) == 0);

		if (e->ifindex == (int)dp->iface.index) {
			/* IPv4 flushes the routes through a link that goes down without a
			 * notification per route: when it is up again, put them back */
			bool was_up = dp->iface_up;

			dp->iface_up = !e->deleted && (e->flags & IFF_UP);
			return dp->iface_up && !was_up;
		}
		if (!ours && !(e->deleted && e->ifindex &&
			       (e->ifindex == dp->bridge_index || e->ifindex == dp->vxlan_index)))
			return false;
		/* a bridge changes whenever a pod's port comes or goes: only what we set counts */
		return e->deleted || !(e->flags & IFF_UP) || (e->mtu && e->mtu != dp->mtu) ||
		       (dp->promisc && e->ifindex == dp->bridge_index &&
			!(e->flags & IFF_PROMISC)) ||
		       (e->ifindex != dp->bridge_index && e->ifindex != dp->vxlan_index);
	}
	case TARTAN_NL_EVENT_ADDR:
		/* with DirectRouting, the external interface's prefixes decide which peers are
		 * directly connected */
		return e->ifindex == dp->bridge_index ||
		       (dp->vxlan_index && e->ifindex == dp->vxlan_index) ||
		       (dp->backend.vxlan.direct_routing && e->ifindex == (int)dp->iface.index);
	case TARTAN_NL_EVENT_ROUTE:
		/* kubenet's "network" is everything: only routes of ours count there */
		return e->table == RT_TABLE_MAIN &&
		       (e->protocol == TARTAN_NL_RTPROT ||
			(!dp->kubenet && tartan_ip4_net_contains(&dp->network, e->dst.addr)));
	case TARTAN_NL_EVENT_NEIGH:
	case TARTAN_NL_EVENT_FDB:
		return dp->vxlan_index && e->ifindex == dp->vxlan_index;
	}
	return false;
}

struct event_ctx {
	struct tartan_dataplane *dp;
	bool relevant;
};

static void on_event(const struct tartan_nl_event *e, void *userdata)
{
	struct event_ctx *c = userdata;

	if (e->kind == TARTAN_NL_EVENT_LINK && c->dp->bridge_index) {
		if (e->deleted || (e->master && e->master != c->dp->bridge_index))
			ports_remove(c->dp, e->ifindex);
		else if (e->master == c->dp->bridge_index)
			ports_add(c->dp, e->ifindex);
	}

	if (!c->relevant && event_concerns_us(c->dp, e))
		c->relevant = true;
}

static void monitor_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tartan_dataplane *dp = w->data;
	struct event_ctx c = { .dp = dp };
	int err;

	err = tartan_nl_monitor_read(dp->monitor, on_event, &c);
	if (err == -ENOBUFS) {
		/* notifications were dropped: we cannot know what changed, so check it all */
		dp->stats.overflows++;
		dp->ports_stale = true;
		tartan_log_debug("netlink monitor overflow: full resync");
		c.relevant = true;
	} else if (err < 0) {
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "netlink monitor: %m");
	}
	if (c.relevant)
		schedule_sync(dp);
}

/* ---- life cycle ---- */

int tartan_dataplane_new(struct ev_loop *loop, struct tartan_flannel_registry *registry,
			 const char *bridge, const char *state_dir, unsigned resync_s,
			 struct tartan_dataplane **ret)
{
	struct tartan_dataplane *dp = calloc(1, sizeof(*dp));
	int err;

	if (!dp)
		return -ENOMEM;
	dp->loop = loop;
	dp->registry = registry;
	dp->rl = TARTAN_RATELIMIT_INIT(60ull * 1000000, 3);
	ev_timer_init(&dp->soon, timer_cb, 0., 0.);
	dp->soon.data = dp;
	ev_timer_init(&dp->resync, timer_cb, resync_s, resync_s);
	dp->resync.data = dp;
	dp->bridge = strdup(bridge);
	dp->state_dir = strdup(state_dir);
	if (!dp->bridge || !dp->state_dir) {
		tartan_dataplane_free(dp);
		return -ENOMEM;
	}
	err = tartan_nl_new(&dp->nl);
	if (err >= 0)
		err = tartan_nl_monitor_new(&dp->monitor);
	if (err < 0) {
		tartan_dataplane_free(dp);
		return err;
	}
	ev_io_init(&dp->monitor_io, monitor_cb, tartan_nl_monitor_fd(dp->monitor), EV_READ);
	dp->monitor_io.data = dp;
	ev_io_start(loop, &dp->monitor_io);
	*ret = dp;
	return 0;
}

void tartan_dataplane_free(struct tartan_dataplane *dp)
{
	if (!dp)
		return;
	/* routes, entries, the device and the bridge stay: traffic flows on while tartand
	 * restarts */
	ev_timer_stop(dp->loop, &dp->soon);
	ev_timer_stop(dp->loop, &dp->resync);
	ev_io_stop(dp->loop, &dp->monitor_io);
	tartan_nl_monitor_free(dp->monitor);
	tartan_nl_free(dp->nl);
	free(dp->ports);
	free(dp->bridge);
	free(dp->state_dir);
	free(dp);
}

static int fail(char **ret_reason, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char **ret_reason, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_reason, fmt, ap) < 0)
		*ret_reason = NULL;
	va_end(ap);
	return err;
}

/*
 * The VTEP MAC this node keeps: the one in the state dir; else the existing device's (a
 * node moving from flanneld keeps the MAC its peers know); else a new random one. Written
 * back so the next start finds it.
 */
static int vtep_mac_load(struct tartan_dataplane *dp, char **ret_reason)
{
	char path[4096], text[TARTAN_FLANNEL_MAC_STRLEN + 1];
	uint8_t mac[TARTAN_NL_MAC_LEN], rnd[6];
	bool have = false, changed;
	char *buf = NULL;
	size_t len;
	int index, err;

	if (snprintf(path, sizeof(path), "%s/%s.mac", dp->state_dir, dp->vxlan_name) >=
	    (int)sizeof(path))
		return fail(ret_reason, -ENAMETOOLONG, "state dir path too long");
	err = tartan_file_read(path, MAC_FILE_MAX, &buf, &len);
	if (err >= 0) {
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			len--;
		if (tartan_flannel_mac_parse(buf, len, mac) >= 0 &&
		    tartan_flannel_vtep_mac_is_valid(mac))
			have = true;
		else
			tartan_log_warning("%s: not a unicast MAC address; making a new one", path);
	} else if (err != -ENOENT) {
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "%s: %m; making a new MAC", path);
	}
	free(buf);
	if (!have && tartan_nl_link_index(dp->nl, dp->vxlan_name, &index) >= 0 &&
	    tartan_nl_link_mac(dp->nl, index, mac) >= 0 && tartan_flannel_vtep_mac_is_valid(mac)) {
		tartan_log_info("keeping the MAC of the existing %s", dp->vxlan_name);
		have = true;
	}
	if (!have) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return fail(ret_reason, -errno, "getrandom: %s", strerror(errno));
		tartan_flannel_vtep_mac_from_random(rnd, mac);
	}
	tartan_flannel_mac_format(mac, text);
	len = strlen(text);
	text[len++] = '\n';
	err = tartan_file_write_atomic(path, text, len, 0644, &changed);
	if (err < 0)
		return fail(ret_reason, err, "writing %s: %s", path, strerror(-err));
	memcpy(dp->vtep_mac, mac, TARTAN_NL_MAC_LEN);
	return 0;
}

int tartan_dataplane_prepare(struct tartan_dataplane *dp,
			     const struct tartan_flannel_backend *backend,
			     const struct tartan_iface *iface, uint32_t public_ip, unsigned mtu,
			     struct tartan_flannel_lease_attrs *attrs, char **ret_reason)
{
	char ip[TARTAN_IP4_ADDR_STRLEN];
	struct tartan_iface own;
	int err;

	*ret_reason = NULL;
	dp->backend = *backend;
	dp->iface = *iface;
	dp->public_ip = public_ip;
	dp->mtu = mtu;
	dp->iface_up = true; /* it has an address and was chosen: it is up */
	dp->vxlan_name[0] = '\0';
	if (tartan_flannel_backend_wants_public_ip_on_iface(backend) &&
	    (tartan_iface_by_addr(public_ip, &own) < 0 || own.index != iface->index))
		return fail(ret_reason, -EADDRNOTAVAIL,
			    "%s: the public IP %s is not an address of %s (NAT?)", backend->type,
			    tartan_ip4_addr_format(public_ip, ip), iface->name);
	if (tartan_flannel_backend_has_vxlan_device(backend)) {
		if (backend->vxlan.gbp)
			return fail(ret_reason, -EOPNOTSUPP,
				    "vxlan: GBP is not supported by tartand");
		tartan_flannel_vxlan_device(backend->vxlan.vni, dp->vxlan_name);
		if (strlen(dp->vxlan_name) >= IF_NAMESIZE) {
			dp->vxlan_name[0] = '\0';
			return fail(ret_reason, -ENAMETOOLONG,
				    "vxlan: VNI %u makes the device name flannel.%u, longer than "
				    "the kernel's 15 bytes (flanneld fails there too); use a VNI "
				    "below 10000000",
				    backend->vxlan.vni, backend->vxlan.vni);
		}
		err = vtep_mac_load(dp, ret_reason);
		if (err < 0)
			return err;
		err = vxlan_ensure(dp);
		if (err < 0)
			return fail(ret_reason, err, "creating %s: %s", dp->vxlan_name,
				    tartan_nl_last_error(dp->nl));
		attrs->has_vni = true;
		attrs->vni = backend->vxlan.vni;
		attrs->has_vtep_mac = true;
		memcpy(attrs->vtep_mac, dp->vtep_mac, TARTAN_NL_MAC_LEN);
		memcpy(dp->stats.vtep_mac, dp->vtep_mac, TARTAN_NL_MAC_LEN);
		dp->stats.vxlan_device = dp->vxlan_name;
	}
	dp->prepared = tartan_flannel_backend_programs(backend);
	return 0;
}

void tartan_dataplane_set_node(struct tartan_dataplane *dp, const struct tartan_ip4_net *network,
			       const struct tartan_ip4_net *subnet)
{
	if (!dp->prepared)
		return; /* alloc: nothing to program */
	dp->network = *network;
	dp->subnet = *subnet;
	dp->have_node = true;
	if (!ev_is_active(&dp->resync))
		ev_timer_start(dp->loop, &dp->resync);
	tartan_dataplane_changed(dp);
}

void tartan_dataplane_set_kubenet(struct tartan_dataplane *dp,
				  const struct tartan_ip4_net *pod_cidr, unsigned mtu, bool promisc)
{
	dp->backend = (struct tartan_flannel_backend){ 0 };
	dp->vxlan_name[0] = '\0';
	dp->mtu = mtu;
	dp->kubenet = true;
	dp->promisc = promisc;
	dp->prepared = true;
	dp->network = (struct tartan_ip4_net){ 0 }; /* every IPv4 address on the bridge */
	dp->subnet = *pod_cidr;
	dp->have_node = true;
	if (!ev_is_active(&dp->resync))
		ev_timer_start(dp->loop, &dp->resync);
	tartan_dataplane_changed(dp);
}

void tartan_dataplane_set_port_hairpin(struct tartan_dataplane *dp, bool on)
{
	dp->port_hairpin = on;
}

void tartan_dataplane_changed(struct tartan_dataplane *dp)
{
	dp->desired_changed = true;
	schedule_sync(dp);
}

void tartan_dataplane_stats(const struct tartan_dataplane *dp, struct tartan_dataplane_stats *ret)
{
	*ret = dp->stats;
}

/* ---- tartanctl routes ---- */

const char *tartan_dataplane_drift_name(enum tartan_dataplane_drift d)
{
	switch (d) {
	case TARTAN_DATAPLANE_OK:
		return "ok";
	case TARTAN_DATAPLANE_MISSING:
		return "missing";
	case TARTAN_DATAPLANE_DIFFERENT:
		return "different";
	case TARTAN_DATAPLANE_EXTRA:
		return "extra";
	}
	return "?";
}

/* one pair of the merge walk, classified; the walk runs twice: to count, then to fill */
struct drift_item {
	const void *want, *have;
	enum tartan_dataplane_drift state;
};

struct drift_ctx {
	bool (*same)(const void *, const void *);
	struct drift_item *items; /* NULL: count only */
	size_t n;
};

static void drift_fn(void *have, void *want, void *ctx)
{
	struct drift_ctx *d = ctx;
	enum tartan_dataplane_drift state = !want		? TARTAN_DATAPLANE_EXTRA :
					    !have		? TARTAN_DATAPLANE_MISSING :
					    d->same(have, want) ? TARTAN_DATAPLANE_OK :
								  TARTAN_DATAPLANE_DIFFERENT;

	if (d->items)
		d->items[d->n] = (struct drift_item){ .want = want, .have = have, .state = state };
	d->n++;
}

static int drift(void *want, size_t n_want, void *have, size_t n_have, size_t size,
		 int (*cmp)(const void *, const void *), bool (*same)(const void *, const void *),
		 struct drift_item **ret, size_t *ret_n)
{
	struct drift_ctx d = { .same = same };

	sort(have, n_have, size, cmp);
	sort(want, n_want, size, cmp);
	merge_walk(have, n_have, want, n_want, size, cmp, drift_fn, &d);
	*ret = NULL;
	*ret_n = d.n;
	if (!d.n)
		return 0;
	d.items = calloc(d.n, sizeof(*d.items));
	if (!d.items)
		return -ENOMEM;
	d.n = 0;
	merge_walk(have, n_have, want, n_want, size, cmp, drift_fn, &d);
	*ret = d.items;
	return 0;
}

int tartan_dataplane_routes_compare(struct tartan_nl_route *want, size_t n_want,
				    struct tartan_nl_route *have, size_t n_have,
				    struct tartan_dataplane_route_diff **ret, size_t *ret_n)
{
	struct tartan_dataplane_route_diff *out = NULL;
	struct drift_item *items;
	size_t n;
	int err;

	err = drift(want, n_want, have, n_have, sizeof(*want), route_cmp, route_same_v, &items, &n);
	if (err < 0)
		return err;
	if (n) {
		out = calloc(n, sizeof(*out));
		if (!out) {
			free(items);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (struct tartan_dataplane_route_diff){
			.want = items[i].want,
			.have = items[i].have,
			.state = items[i].state,
		};
	free(items);
	*ret = out;
	*ret_n = n;
	return 0;
}

static const char *dev_name(const struct tartan_dataplane *dp, int ifindex, char buf[IF_NAMESIZE])
{
	if (ifindex <= 0)
		return NULL;
	if (dp->vxlan_name[0] && ifindex == dp->vxlan_index)
		return dp->vxlan_name;
	if (ifindex == (int)dp->iface.index)
		return dp->iface.name;
	if (if_indextoname((unsigned)ifindex, buf))
		return buf;
	snprintf(buf, IF_NAMESIZE, "if%d", ifindex);
	return buf;
}

/* {"gateway","dev","onlink"} of r into o; dst too when with_dst */
static int route_fields(const struct tartan_dataplane *dp, const struct tartan_nl_route *r,
			bool with_dst, json_t *o)
{
	char net[TARTAN_IP4_NET_STRLEN], gw[TARTAN_IP4_ADDR_STRLEN], dev[IF_NAMESIZE];
	const char *name = dev_name(dp, r->ifindex, dev);
	int err = 0;

	if (with_dst)
		err |= json_object_set_new(o, "dst",
					   json_string(tartan_ip4_net_format(&r->dst, net)));
	err |= json_object_set_new(
		o, "gateway",
		r->gateway ? json_string(tartan_ip4_addr_format(r->gateway, gw)) : json_null());
	err |= json_object_set_new(o, "dev", name ? json_string(name) : json_null());
	err |= json_object_set_new(o, "onlink", json_boolean(r->onlink));
	return err ? -ENOMEM : 0;
}

static int routes_array(const struct tartan_dataplane *dp, struct entries *w, struct entries *k,
			json_t *arr)
{
	struct tartan_dataplane_route_diff *d = NULL;
	size_t n = 0;
	int err;

	err = tartan_dataplane_routes_compare(w->routes, w->n_routes, k->routes, k->n_routes, &d,
					      &n);
	for (size_t i = 0; err >= 0 && i < n; i++) {
		json_t *o = json_object(), *kernel = NULL;

		if (!o || json_array_append_new(arr, o) < 0) {
			err = -ENOMEM;
			break;
		}
		err = route_fields(dp, d[i].want ? d[i].want : d[i].have, true, o);
		if (err >= 0 && d[i].state == TARTAN_DATAPLANE_DIFFERENT) {
			kernel = json_object();
			err = kernel && json_object_set_new(o, "kernel", kernel) == 0 ?
				      route_fields(dp, d[i].have, false, kernel) :
				      -ENOMEM;
		}
		if (err >= 0 &&
		    json_object_set_new(o, "state",
					json_string(tartan_dataplane_drift_name(d[i].state))) < 0)
			err = -ENOMEM;
	}
	free(d);
	return err;
}

/* neighbours ("ip", "mac") or FDB entries ("mac", "dst") with their state */
static int neigh_array(struct tartan_nl_neigh *want, size_t n_want, struct tartan_nl_neigh *have,
		       size_t n_have, bool fdb, json_t *arr)
{
	struct drift_item *items = NULL;
	size_t n = 0;
	int err;

	err = drift(want, n_want, have, n_have, sizeof(*want), fdb ? neigh_cmp_mac : neigh_cmp_ip,
		    neigh_same_v, &items, &n);
	for (size_t i = 0; err >= 0 && i < n; i++) {
		const struct tartan_nl_neigh *e = items[i].want ? items[i].want : items[i].have;
		char ip[TARTAN_IP4_ADDR_STRLEN], mac[TARTAN_FLANNEL_MAC_STRLEN + 1],
			kmac[sizeof(mac)];
		char kip[TARTAN_IP4_ADDR_STRLEN];
		json_t *o;

		tartan_flannel_mac_format(e->mac, mac);
		tartan_ip4_addr_format(e->ip, ip);
		o = json_pack("{s:s,s:s,s:s}", fdb ? "mac" : "ip", fdb ? mac : ip,
			      fdb ? "dst" : "mac", fdb ? ip : mac, "state",
			      tartan_dataplane_drift_name(items[i].state));
		if (o && items[i].state == TARTAN_DATAPLANE_DIFFERENT) {
			const struct tartan_nl_neigh *h = items[i].have;

			tartan_flannel_mac_format(h->mac, kmac);
			tartan_ip4_addr_format(h->ip, kip);
			if (json_object_set_new(o, "kernel",
						json_pack("{s:s}", fdb ? "dst" : "mac",
							  fdb ? kip : kmac)) < 0) {
				json_decref(o);
				o = NULL;
			}
		}
		if (!o || json_array_append_new(arr, o) < 0)
			err = -ENOMEM;
	}
	free(items);
	return err;
}

int tartan_dataplane_routes_json(struct tartan_dataplane *dp, json_t **ret)
{
	struct entries w = { 0 };
	struct entries k = { 0 };
	json_t *r, *routes, *neigh = NULL, *fdb = NULL;
	int err = 0;

	r = json_object();
	routes = json_array();
	if (!r || !routes || json_object_set_new(r, "routes", routes) < 0) {
		json_decref(r);
		return -ENOMEM;
	}
	/* "active": false before our lease (or for alloc): nothing is kept, nothing compared */
	if (json_object_set_new(r, "active", json_boolean(dp->have_node)) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (!dp->have_node)
		goto out;
	err = peers_load(dp, &w, &k);
	if (err >= 0)
		err = routes_array(dp, &w, &k, routes);
	if (err >= 0 && have_vxlan(dp)) {
		neigh = json_array();
		fdb = json_array();
		if (json_object_set_new(r, "neighbours", neigh) < 0 ||
		    json_object_set_new(r, "fdb", fdb) < 0)
			err = -ENOMEM;
		if (err >= 0)
			err = neigh_array(w.neigh, w.n_neigh, k.neigh, k.n_neigh, false, neigh);
		if (err >= 0)
			err = neigh_array(w.fdb, w.n_fdb, k.fdb, k.n_fdb, true, fdb);
	}
out:
	entries_free(&k);
	entries_free(&w);
	if (err < 0) {
		json_decref(r);
		return err;
	}
	*ret = r;
	return 0;
}

/* ---- tartanctl leases ---- */

static const void *find(const void *key, const void *base, size_t n, size_t size,
			int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL; /* bsearch's base is nonnull */
}

/* whether the kernel's sorted list k holds want as it should be */
static bool kernel_holds(const void *want, const void *k, size_t n_k, size_t size,
			 int (*cmp)(const void *, const void *),
			 bool (*same)(const void *, const void *))
{
	const void *have = find(want, k, n_k, size, cmp);

	return have && same(have, want);
}

/* one peer's state from the sorted desired (w) and kernel (k) entries */
static enum tartan_dataplane_programmed peer_programmed(const struct tartan_dataplane *dp,
							const struct tartan_flannel_peer *p,
							const struct entries *w,
							const struct entries *k)
{
	struct tartan_nl_route rkey = { .dst = p->subnet };
	struct tartan_nl_neigh nkey = { .ip = p->subnet.addr }, fkey = { 0 };
	const struct tartan_nl_route *route;
	const struct tartan_nl_neigh *neigh, *fdb = NULL;

	route = find(&rkey, w->routes, w->n_routes, sizeof(*w->routes), route_cmp);
	if (!route)
		return TARTAN_DATAPLANE_NOTHING_TO_PROGRAM;
	if (!kernel_holds(route, k->routes, k->n_routes, sizeof(*k->routes), route_cmp,
			  route_same_v))
		return TARTAN_DATAPLANE_NOT_PROGRAMMED;
	if (!have_vxlan(dp))
		return TARTAN_DATAPLANE_PROGRAMMED;
	/* vxlan: the neighbour of the peer's .0 and the FDB entry of its VtepMAC, unless
	 * DirectRouting gave it the host-gw route instead (then the backend wants neither) */
	neigh = find(&nkey, w->neigh, w->n_neigh, sizeof(*w->neigh), neigh_cmp_ip);
	if (p->attrs.has_vtep_mac) {
		memcpy(fkey.mac, p->attrs.vtep_mac, TARTAN_NL_MAC_LEN);
		fdb = find(&fkey, w->fdb, w->n_fdb, sizeof(*w->fdb), neigh_cmp_mac);
	}
	if (neigh && !kernel_holds(neigh, k->neigh, k->n_neigh, sizeof(*k->neigh), neigh_cmp_ip,
				   neigh_same_v))
		return TARTAN_DATAPLANE_NOT_PROGRAMMED;
	if (fdb &&
	    !kernel_holds(fdb, k->fdb, k->n_fdb, sizeof(*k->fdb), neigh_cmp_mac, neigh_same_v))
		return TARTAN_DATAPLANE_NOT_PROGRAMMED;
	return TARTAN_DATAPLANE_PROGRAMMED;
}

static enum tartan_dataplane_programmed own_programmed(struct tartan_dataplane *dp)
{
	struct tartan_ip4_net *addrs = NULL;
	uint32_t gw = dp->subnet.addr + 1;
	bool have = false;
	size_t n = 0;
	int index;

	if (tartan_nl_link_index(dp->nl, dp->bridge, &index) < 0 ||
	    tartan_nl_addr_list(dp->nl, index, &addrs, &n) < 0)
		return TARTAN_DATAPLANE_NOT_PROGRAMMED;
	for (size_t i = 0; i < n; i++)
		have |= addrs[i].addr == gw && addrs[i].len == dp->subnet.len;
	free(addrs);
	return have ? TARTAN_DATAPLANE_PROGRAMMED : TARTAN_DATAPLANE_NOT_PROGRAMMED;
}

int tartan_dataplane_programmed(struct tartan_dataplane *dp, enum tartan_dataplane_programmed **ret,
				size_t *ret_n, enum tartan_dataplane_programmed *ret_own)
{
	size_t n = dp->registry ? tartan_flannel_registry_n_peers(dp->registry) : 0;
	enum tartan_dataplane_programmed *states = NULL, own;
	struct entries w = { 0 }, k = { 0 };
	int err = 0;

	if (n) {
		states = calloc(n, sizeof(*states)); /* 0: nothing to program */
		if (!states)
			return -ENOMEM;
	}
	/* before our lease, or with alloc, tartan keeps nothing in the kernel */
	own = TARTAN_DATAPLANE_NOTHING_TO_PROGRAM;
	if (dp->have_node) {
		err = peers_load(dp, &w, &k);
		if (err < 0)
			goto out;
		sort(w.routes, w.n_routes, sizeof(*w.routes), route_cmp);
		sort(k.routes, k.n_routes, sizeof(*k.routes), route_cmp);
		sort(w.neigh, w.n_neigh, sizeof(*w.neigh), neigh_cmp_ip);
		sort(k.neigh, k.n_neigh, sizeof(*k.neigh), neigh_cmp_ip);
		sort(w.fdb, w.n_fdb, sizeof(*w.fdb), neigh_cmp_mac);
		sort(k.fdb, k.n_fdb, sizeof(*k.fdb), neigh_cmp_mac);
		for (size_t i = 0; i < n; i++)
			states[i] = peer_programmed(
				dp, tartan_flannel_registry_peer(dp->registry, i), &w, &k);
		own = own_programmed(dp);
	}
out:
	entries_free(&k);
	entries_free(&w);
	if (err < 0) {
		free(states);
		return err;
	}
	*ret = states;
	*ret_n = n;
	*ret_own = own;
	return 0;
}
