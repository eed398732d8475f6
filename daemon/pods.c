/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cni/result.h"
#include "daemon/ipam.h"
#include "daemon/log.h"
#include "daemon/pending.h"
#include "daemon/podanswer.h"
#include "daemon/podgone.h"
#include "daemon/podrecords.h"
#include "daemon/podreq.h"
#include "daemon/pods.h"
#include "flannel/lease.h"
#include "netcfg/netns.h"
#include "netcfg/nl.h"

struct tartan_pods {
	char *ipam_dir;			   /* <data dir>/<TARTAN_PODS_NETWORK> */
	char *cni_data_dir;		   /* tartan_pods_set_cni_data_dir(); NULL: none */
	struct tartan_podrecords *records; /* ours, and the pods' names */
	struct tartan_pending *pending;	   /* the DELs the plugin could not hand over */
	char *bridge;
	struct tartan_nl *nl;
	struct tartan_ipam *ipam; /* NULL until the node has a subnet */
	struct tartan_ip4_net subnet;
	uint32_t gateway;
	unsigned mtu;
	bool hairpin;		     /* kubenet hairpin-veth: on every host end */
	struct tartan_podgone *gone; /* attachments whose pod network is gone (sweep_gone) */
	size_t gc_released;	     /* by the last GC, for its log line */
	struct tartan_pods_stats stats;
};

const char *const tartan_pods_command_names[TARTAN_PODS_N_CMDS] = {
	[TARTAN_PODS_CMD_ADD] = "ADD",	     [TARTAN_PODS_CMD_DEL] = "DEL",
	[TARTAN_PODS_CMD_CHECK] = "CHECK",   [TARTAN_PODS_CMD_GC] = "GC",
	[TARTAN_PODS_CMD_STATUS] = "STATUS", [TARTAN_PODS_CMD_OTHER] = "other",
};

const double tartan_pods_latency_bounds[TARTAN_PODS_N_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

/* One request, read once. Strings point into the request object. */
struct cni_request {
	const char *command, *id, *netns, *ifname, *args;
	json_t *config;
	int netns_fd;	   /* came with the request (borrowed), -1: none */
	bool netns_fd_set; /* "netnsFd": true, the plugin sent one */
};

static int pending_new(struct tartan_pods *p, const char *state_dir)
{
	char *dir = NULL;
	int err;

	if (asprintf(&dir, "%s/" TARTAN_PODS_PENDING_DIR, state_dir) < 0)
		return -ENOMEM;
	err = tartan_pending_new(dir, &p->pending);
	free(dir);
	return err;
}

int tartan_pods_new(const char *state_dir, const char *bridge, struct tartan_pods **ret)
{
	struct tartan_pods *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	p->bridge = strdup(bridge);
	if (!p->bridge ||
	    asprintf(&p->ipam_dir, "%s/networks/%s", state_dir, TARTAN_PODS_NETWORK) < 0) {
		p->ipam_dir = NULL;
		tartan_pods_free(p);
		return -ENOMEM;
	}
	err = tartan_podrecords_new(state_dir, &p->records);
	if (err >= 0)
		err = tartan_podgone_new(TARTAN_PODS_GONE_GRACE_S, &p->gone);
	if (err >= 0)
		err = pending_new(p, state_dir);
	if (err < 0) {
		tartan_pods_free(p);
		return err;
	}
	err = tartan_nl_new(&p->nl);
	if (err < 0) {
		tartan_pods_free(p);
		return err;
	}
	*ret = p;
	return 0;
}

void tartan_pods_free(struct tartan_pods *p)
{
	if (!p)
		return;
	/* pods and their addresses stay: they keep working while tartand restarts */
	tartan_ipam_free(p->ipam);
	tartan_nl_free(p->nl);
	tartan_pending_free(p->pending);
	tartan_podgone_free(p->gone);
	tartan_podrecords_free(p->records);
	free(p->ipam_dir);
	free(p->cni_data_dir);
	free(p->bridge);
	free(p);
}

static void log_released(const struct tartan_ipam_entry *e, size_t n, const char *why)
{
	char ip[TARTAN_IP4_ADDR_STRLEN];

	for (size_t i = 0; i < n; i++)
		tartan_log_warning("released %s of container %s (%s): %s",
				   tartan_ip4_addr_format(e[i].addr, ip), e[i].id ? e[i].id : "?",
				   e[i].ifname ? e[i].ifname : "-", why);
}

int tartan_pods_set_cni_data_dir(struct tartan_pods *p, const char *dir)
{
	char *c = NULL;

	if (dir && *dir) {
		c = strdup(dir);
		if (!c)
			return -ENOMEM;
	}
	free(p->cni_data_dir);
	p->cni_data_dir = c;
	return p->ipam ? tartan_ipam_set_foreign_root(p->ipam, c) : 0;
}

void tartan_pods_sync(struct tartan_pods *p)
{
	int err;

	if (!p || !tartan_ipam_sync_pending(p->ipam))
		return;
	err = tartan_ipam_sync(p->ipam);
	if (err < 0)
		tartan_log_errno(TARTAN_LOG_ERROR, -err,
				 "IPAM store %s: cannot sync the last changes to disk (a power cut "
				 "could lose them): %m",
				 p->ipam_dir);
}

void tartan_pods_set_gone_grace(struct tartan_pods *p, unsigned seconds)
{
	tartan_podgone_set_grace(p->gone, seconds);
}

void tartan_pods_set_hairpin(struct tartan_pods *p, bool hairpin)
{
	p->hairpin = hairpin;
}

int tartan_pods_set_node(struct tartan_pods *p, const struct tartan_ip4_net *subnet, unsigned mtu)
{
	struct tartan_ipam_entry *gone = NULL;
	struct tartan_ipam *ipam = NULL;
	size_t n_gone = 0;
	int err;

	p->mtu = mtu;
	if (p->ipam && tartan_ip4_net_equal(&p->subnet, subnet))
		return 0;
	err = tartan_ipam_new(p->ipam_dir, subnet, 0, &ipam);
	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "IPAM store %s: %m", p->ipam_dir);
	err = tartan_ipam_set_foreign_root(ipam, p->cni_data_dir);
	if (err < 0) {
		tartan_ipam_free(ipam);
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "IPAM store %s: %m", p->ipam_dir);
	}
	if (tartan_ipam_temp_removed(ipam))
		tartan_log_info("IPAM store %s: removed %u temp files left by a crash", p->ipam_dir,
				tartan_ipam_temp_removed(ipam));
	/* a new subnet: what was held in the old one cannot work any more; say so */
	err = tartan_ipam_release_outside(ipam, &gone, &n_gone);
	if (err < 0)
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "IPAM store %s: %m", p->ipam_dir);
	log_released(gone, n_gone, "outside the node's subnet now");
	tartan_ipam_entries_free(gone, n_gone);
	tartan_pods_sync(p);
	tartan_ipam_free(p->ipam);
	p->ipam = ipam;
	p->subnet = *subnet;
	p->gateway = tartan_ip4_net_first_host(subnet);
	/* the DELs recorded while the store was closed come before any new request */
	tartan_pods_apply_pending(p);
	return 0;
}

/* The pod's namespace as an fd of the caller's: the one the plugin opened in the runtime's
 * mount namespace (duplicated), or, from a client that sends none (an older plugin, socat),
 * the path opened here. */
static int pod_netns_open(const struct cni_request *r, int *ret_fd)
{
	int fd, err;

	if (!r->netns_fd_set)
		return tartan_netns_open(r->netns, ret_fd);
	if (r->netns_fd < 0)
		return -EBADF;
	err = tartan_netns_check(r->netns_fd);
	if (err < 0)
		return err;
	fd = fcntl(r->netns_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* The pod's side, from a socket inside its namespace: address, up, default route. */
static int pod_side_setup(struct tartan_pods *p, struct tartan_nl *pod, const char *ifname,
			  uint32_t addr, int *ret_index)
{
	struct tartan_nl_route def = {
		.dst = { .addr = 0, .len = 0 },
		.gateway = p->gateway,
		/* the pod's own table: marked as the bridge plugin's routes are, not as the
		 * node's routes tartan reconciles */
		.protocol = RTPROT_BOOT,
	};
	int err;

	err = tartan_nl_link_index(pod, ifname, ret_index);
	if (err >= 0)
		err = tartan_nl_addr_add(pod, *ret_index, addr, p->subnet.len);
	if (err >= 0)
		err = tartan_nl_link_set_up(pod, *ret_index);
	def.ifindex = *ret_index;
	if (err >= 0)
		err = tartan_nl_route_replace(pod, &def);
	return err;
}

/* Undo and cleanup paths go on whatever happens; what could not be removed is logged, and a
 * later DEL or GC removes it. */
static void undo_link(struct tartan_pods *p, const char *host)
{
	int err = tartan_nl_link_delete(p->nl, host);

	if (err < 0)
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "cannot delete %s (%s): %m", host,
				 tartan_nl_last_error(p->nl));
}

/* The pod's address: the one it asked for (daemon/podreq.h), or the next free one. On
 * failure *ret_answer is the error to answer (NULL: no memory). */
static int pod_address(struct tartan_pods *p, const struct cni_request *r,
		       const struct tartan_podreq *req, uint32_t *ret_addr, json_t **ret_answer)
{
	char ip[TARTAN_IP4_ADDR_STRLEN], net[TARTAN_IP4_NET_STRLEN];
	int err;

	if (!req->has_addr) {
		err = tartan_ipam_allocate(p->ipam, r->id, r->ifname, ret_addr);
		if (err < 0)
			*ret_answer = tartan_podanswer_ipam_error(err, p->ipam_dir, &p->subnet);
		return err;
	}
	tartan_ip4_addr_format(req->addr, ip);
	tartan_ip4_net_format(&p->subnet, net);
	if (req->addr_len && req->addr_len != p->subnet.len) {
		*ret_answer = tartan_podanswer_error(
			req->addr_code, ip, "the requested address %s/%u: the node's subnet is %s",
			ip, req->addr_len, net);
		return -EDOM;
	}
	err = tartan_ipam_allocate_addr(p->ipam, r->id, r->ifname, req->addr);
	if (err == -EDOM)
		*ret_answer = tartan_podanswer_error(
			req->addr_code, ip,
			"the requested address %s is not one this node hands out: "
			"%s less its network, broadcast and gateway addresses",
			ip, net);
	else if (err == -EADDRINUSE)
		*ret_answer = tartan_podanswer_in_use_error(p->ipam, req->addr, p->ipam_dir,
							    p->cni_data_dir);
	else if (err < 0)
		*ret_answer = tartan_podanswer_ipam_error(err, p->ipam_dir, &p->subnet);
	else
		*ret_addr = req->addr;
	return err;
}

static json_t *pod_add(struct tartan_pods *p, const struct cni_request *r)
{
	char host[IF_NAMESIZE], ip[TARTAN_IP4_ADDR_STRLEN], gw[TARTAN_IP4_ADDR_STRLEN];
	char cidr[TARTAN_IP4_NET_STRLEN + 4], hmac[TARTAN_FLANNEL_MAC_STRLEN],
		pmac[TARTAN_FLANNEL_MAC_STRLEN];
	uint8_t host_mac[TARTAN_NL_MAC_LEN], pod_mac[TARTAN_NL_MAC_LEN];
	struct tartan_podreq_error req_error;
	struct tartan_nl *pod = NULL;
	int fd = -1, host_index, pod_index, bridge_index, err;
	struct tartan_podreq req;
	json_t *answer = NULL;
	uint32_t addr;

	if (!p->ipam)
		return tartan_podanswer_error(
			TARTAN_CNI_ERR_TRY_AGAIN_LATER, NULL,
			"this node holds no subnet yet (tartand is waiting for its lease)");
	if (!r->netns)
		return tartan_podanswer_error(TARTAN_CNI_ERR_INVALID_ENV, NULL,
					      "ADD needs CNI_NETNS");
	if (tartan_podreq_parse(r->args, r->config, &req, &req_error) < 0)
		return tartan_podanswer_error(req_error.code, NULL, "%s", req_error.msg);
	err = pod_netns_open(r, &fd);
	if (err < 0)
		return tartan_podanswer_netns_error(r->netns, err);
	err = tartan_nl_link_index(p->nl, p->bridge, &bridge_index);
	if (err < 0) {
		close(fd);
		return tartan_podanswer_error(TARTAN_CNI_ERR_TRY_AGAIN_LATER, p->bridge,
					      "the bridge %s is not there yet", p->bridge);
	}
	/* the record first: an address tartan gives always has one, even when the daemon dies
	 * right after the allocation, so a GC after the restart can release it */
	tartan_podrecords_write(p->records, r->id, r->ifname, r->args);
	err = pod_address(p, r, &req, &addr, &answer);
	if (err < 0) {
		close(fd);
		/* an ADD repeated with another static address keeps what it held until its DEL */
		if (tartan_ipam_find(p->ipam, r->id, r->ifname, &addr) == -ENOENT)
			tartan_podrecords_remove(p->records, r->id, r->ifname);
		return answer;
	}
	tartan_podrecords_host_ifname(r->id, r->ifname, host);
	/* Both ends made with their MTU and MACs, the host end up on the bridge, in one request.
	 * MACs chosen here, as random as the kernel's: the answer needs no lookups, and udev's
	 * MACAddressPolicy=persistent leaves a set address alone where it would rewrite a
	 * random one under the bridge's feet. */
	struct tartan_nl_veth veth = {
		.host_name = host,
		.peer_name = r->ifname,
		.peer_netns_fd = fd,
		.mtu = p->mtu,
		.host_mac = host_mac,
		.peer_mac = pod_mac,
		.master_index = bridge_index,
		.host_up = true,
	};
	err = tartan_nl_mac_random(host_mac);
	if (err >= 0 && req.has_mac)
		memcpy(pod_mac, req.mac, sizeof(pod_mac));
	else if (err >= 0)
		err = tartan_nl_mac_random(pod_mac);
	if (err >= 0)
		err = tartan_nl_veth_create(p->nl, &veth);
	if (err == -EEXIST) {
		/* an ADD repeated for the same attachment starts afresh (its old pair goes with
		 * the host end; the address is the same, the store is idempotent) */
		err = tartan_nl_link_delete(p->nl, host);
		if (err >= 0)
			err = tartan_nl_veth_create(p->nl, &veth);
	}
	if (err < 0) {
		answer = tartan_podanswer_netlink_error(p->nl, err, "creating the veth pair");
		goto undo_address;
	}
	tartan_log_debug("pod ADD %.12s: veth %s on %s, its peer %s in %s, MTU %u", r->id, host,
			 p->bridge, r->ifname, r->netns, p->mtu);
	err = tartan_nl_new_in_netns(fd, &pod);
	if (err < 0) {
		answer = tartan_podanswer_error(TARTAN_CNI_ERR_IO, r->netns, "entering %s: %s",
						r->netns, strerror(-err));
		goto undo_link;
	}
	err = pod_side_setup(p, pod, r->ifname, addr, &pod_index);
	if (err < 0) {
		answer = tartan_podanswer_netlink_error(pod, err, "setting up the pod's interface");
		goto undo_link;
	}
	tartan_log_debug("pod ADD %.12s: %s/%u on %s, up, default route via %s", r->id,
			 tartan_ip4_addr_format(addr, ip), p->subnet.len, r->ifname,
			 tartan_ip4_addr_format(p->gateway, gw));
	if (p->hairpin) {
		err = tartan_nl_link_index(p->nl, host, &host_index);
		if (err >= 0)
			err = tartan_nl_port_set_hairpin(p->nl, host_index, true);
		if (err < 0) {
			answer = tartan_podanswer_netlink_error(
				p->nl, err, "setting the bridge port's hairpin mode");
			goto undo_link;
		}
	}
	snprintf(cidr, sizeof(cidr), "%s/%u", tartan_ip4_addr_format(addr, ip), p->subnet.len);
	tartan_ip4_addr_format(p->gateway, gw);
	answer = tartan_podanswer_ok(json_pack(
		"{s:[{s:s,s:s},{s:s,s:s,s:s}],s:[{s:s,s:s,s:i}],s:[{s:s,s:s}],s:{}}", "interfaces",
		"name", host, "mac", tartan_flannel_mac_format(host_mac, hmac), "name", r->ifname,
		"mac", tartan_flannel_mac_format(pod_mac, pmac), "sandbox", r->netns, "ips",
		"address", cidr, "gateway", gw, "interface", 1, "routes", "dst", "0.0.0.0/0", "gw",
		gw, "dns"));
	tartan_nl_free(pod);
	close(fd);
	return answer;

undo_link:
	tartan_nl_free(pod);
	undo_link(p, host);
undo_address:
	err = tartan_ipam_release(p->ipam, r->id, r->ifname, NULL, NULL);
	if (err < 0)
		tartan_log_errno(
			TARTAN_LOG_WARNING, -err,
			"failed ADD of %s (%s): its address stays held until DEL or GC: %m", r->id,
			r->ifname);
	else
		tartan_podrecords_remove(p->records, r->id, r->ifname);
	close(fd);
	return answer;
}

/* *ret_addr: the address released, for the log line (unchanged when none) */
static json_t *pod_del(struct tartan_pods *p, const struct cni_request *r, uint32_t *ret_addr)
{
	char host[IF_NAMESIZE];
	size_t n = 0;
	int err;

	/* before the daemon has its subnet (starting, etcd away) the store is not open: the
	 * address could not be released, and a DEL answered as done is never repeated */
	if (!p->ipam)
		return tartan_podanswer_error(TARTAN_CNI_ERR_TRY_AGAIN_LATER, NULL,
					      "tartand is starting (no subnet yet); try again");
	/* the host end first: it takes the pod end with it, wherever that is */
	tartan_podrecords_host_ifname(r->id, r->ifname, host);
	err = tartan_nl_link_delete(p->nl, host);
	if (err < 0)
		return tartan_podanswer_netlink_error(p->nl, err, "deleting the veth pair");
	tartan_log_debug("pod DEL %.12s: veth %s deleted (or gone already)", r->id, host);
	err = tartan_ipam_release(p->ipam, r->id, r->ifname, &n, ret_addr);
	if (err < 0)
		return tartan_podanswer_ipam_error(err, p->ipam_dir, &p->subnet);
	tartan_log_debug("pod DEL %.12s: %zu address(es) released", r->id, n);
	tartan_podrecords_remove(p->records, r->id, r->ifname);
	return tartan_podanswer_ok(json_object());
}

/* The default route ADD made in the pod (pod_side_setup()), as the bridge plugin's CHECK
 * verifies the result's routes: without it the pod reaches nothing beyond its subnet. */
static json_t *check_default_route(struct tartan_pods *p, struct tartan_nl *pod,
				   const char *ifname, int index)
{
	char gw[TARTAN_IP4_ADDR_STRLEN];
	struct tartan_nl_route *routes = NULL;
	bool found = false;
	size_t n = 0;
	int err;

	err = tartan_nl_route_dump(pod, RTPROT_BOOT, &routes, &n);
	if (err < 0)
		return tartan_podanswer_netlink_error(pod, err, "listing the pod's routes");
	for (size_t i = 0; i < n; i++)
		found |= routes[i].dst.len == 0 && routes[i].gateway == p->gateway &&
			 routes[i].ifindex == index;
	free(routes);
	if (!found)
		return tartan_podanswer_error(TARTAN_CNI_ERR_UNKNOWN_CONTAINER, ifname,
					      "the pod has no default route via %s on %s",
					      tartan_ip4_addr_format(p->gateway, gw), ifname);
	return tartan_podanswer_ok(json_object());
}

/* *ret_addr: the address checked, for the log line (unchanged when none) */
static json_t *pod_check(struct tartan_pods *p, const struct cni_request *r, uint32_t *ret_addr)
{
	struct tartan_ip4_net *addrs = NULL;
	char host[IF_NAMESIZE], ip[TARTAN_IP4_ADDR_STRLEN];
	int fd = -1, index, master, bridge_index, err;
	struct tartan_nl *pod = NULL;
	json_t *answer = NULL;
	bool found = false;
	uint32_t addr;
	size_t n = 0;

	if (!p->ipam)
		return tartan_podanswer_error(TARTAN_CNI_ERR_TRY_AGAIN_LATER, NULL,
					      "this node holds no subnet yet");
	err = tartan_ipam_find(p->ipam, r->id, r->ifname, &addr);
	if (err < 0)
		return tartan_podanswer_error(TARTAN_CNI_ERR_UNKNOWN_CONTAINER, r->id,
					      "container %s (%s) holds no address", r->id,
					      r->ifname);
	*ret_addr = addr;
	tartan_podrecords_host_ifname(r->id, r->ifname, host);
	if (tartan_nl_link_index(p->nl, host, &index) < 0 ||
	    tartan_nl_link_master(p->nl, index, &master) < 0 ||
	    tartan_nl_link_index(p->nl, p->bridge, &bridge_index) < 0 || master != bridge_index)
		return tartan_podanswer_error(TARTAN_CNI_ERR_UNKNOWN_CONTAINER, host,
					      "the host end %s is missing or not on %s", host,
					      p->bridge);
	if (!r->netns)
		return tartan_podanswer_error(TARTAN_CNI_ERR_INVALID_ENV, NULL,
					      "CHECK needs CNI_NETNS");
	err = pod_netns_open(r, &fd);
	if (err < 0)
		return tartan_podanswer_netns_error(r->netns, err);
	err = tartan_nl_new_in_netns(fd, &pod);
	if (err >= 0)
		err = tartan_nl_link_index(pod, r->ifname, &index);
	if (err >= 0)
		err = tartan_nl_addr_list(pod, index, &addrs, &n);
	for (size_t i = 0; i < n; i++)
		found |= addrs[i].addr == addr && addrs[i].len == p->subnet.len;
	if (err < 0)
		answer = tartan_podanswer_error(TARTAN_CNI_ERR_UNKNOWN_CONTAINER, r->netns,
						"the pod's interface %s is missing in %s",
						r->ifname, r->netns);
	else if (!found)
		answer = tartan_podanswer_error(TARTAN_CNI_ERR_UNKNOWN_CONTAINER, r->ifname,
						"the pod's interface %s does not hold %s/%u",
						r->ifname, tartan_ip4_addr_format(addr, ip),
						p->subnet.len);
	else
		answer = check_default_route(p, pod, r->ifname, index);
	free(addrs);
	tartan_nl_free(pod);
	close(fd);
	return answer;
}

/*
 * The runtime lists only its own network's attachments; the store also holds the rkt conf's
 * (host-local's): those are added to the valid list, so a GC through tartan releases only
 * addresses tartan gave (the ones with a pod record).
 */
static int keep_foreign(struct tartan_pods *p, struct tartan_ipam_attachment **valid, size_t *n)
{
	struct tartan_ipam_entry *e = NULL;
	struct tartan_ipam_attachment *v;
	size_t n_e = 0;
	int err;

	err = tartan_ipam_list(p->ipam, &e, &n_e);
	if (err < 0)
		return err;
	v = realloc(*valid, (*n + n_e + 1) * sizeof(*v));
	if (!v) {
		tartan_ipam_entries_free(e, n_e);
		return -ENOMEM;
	}
	*valid = v;
	for (size_t i = 0; i < n_e; i++) {
		json_t *meta;

		if (!e[i].id)
			continue; /* BAD: GC leaves those alone anyway */
		meta = e[i].ifname ? tartan_podrecords_read(p->records, e[i].id, e[i].ifname) :
				     NULL;
		if (meta) {
			json_decref(meta);
			continue;
		}
		/* ids and names must outlive the entries: the pointers go to GC below */
		v[*n].id = strdup(e[i].id);
		v[*n].ifname = e[i].ifname ? strdup(e[i].ifname) : strdup("");
		if (!v[*n].id || !v[*n].ifname) {
			free((char *)v[*n].id);
			free((char *)v[*n].ifname);
			tartan_ipam_entries_free(e, n_e);
			return -ENOMEM;
		}
		(*n)++;
	}
	tartan_ipam_entries_free(e, n_e);
	return 0;
}

/*
 * After a GC: the pod records of attachments that hold no address and are not valid for the
 * runtime (an ADD cut short by a crash between its record and its address) go, with a host
 * veth of that name if one is left. Best effort: a record that cannot be read stays.
 */
struct sweep_records {
	struct tartan_pods *p;
	const struct tartan_ipam_attachment *valid;
	size_t n_valid;
};

static int sweep_record(const char *id, const char *ifname, void *userdata)
{
	struct sweep_records *sw = userdata;
	char host[IF_NAMESIZE];
	uint32_t addr;

	if (!tartan_ipam_attachment_listed(sw->valid, sw->n_valid, id, ifname) &&
	    tartan_ipam_find(sw->p->ipam, id, ifname, &addr) == -ENOENT) {
		tartan_podrecords_host_ifname(id, ifname, host);
		undo_link(sw->p, host);
		tartan_podrecords_remove(sw->p->records, id, ifname);
		tartan_log_info("GC: removed the pod record of %s (%s): no address, not a "
				"valid attachment",
				id, ifname);
	}
	return 0;
}

static void sweep_records(struct tartan_pods *p, const struct tartan_ipam_attachment *valid,
			  size_t n_valid)
{
	struct sweep_records sw = { .p = p, .valid = valid, .n_valid = n_valid };

	/* a record that cannot be read stays */
	(void)tartan_podrecords_foreach(p->records, sweep_record, &sw);
}

void tartan_pods_sweep_gone(struct tartan_pods *p)
{
	if (!p || !p->ipam)
		return;
	tartan_podgone_sweep(p->gone, p->nl, p->ipam, p->records);
}

/* CNI GC: config["cni.dev/valid-attachments"] = [{"containerID":..,"ifname":..}...] */
static json_t *pod_gc(struct tartan_pods *p, const struct cni_request *r)
{
	json_t *list = json_object_get(r->config, "cni.dev/valid-attachments"), *v;
	struct tartan_ipam_attachment *valid = NULL;
	struct tartan_ipam_entry *gone = NULL;
	size_t n = 0, n_runtime, n_gone = 0, i;
	int err;

	if (!p->ipam)
		return tartan_podanswer_error(TARTAN_CNI_ERR_TRY_AGAIN_LATER, NULL,
					      "tartand is starting (no subnet yet); try again");
	if (list && !json_is_array(list))
		return tartan_podanswer_error(TARTAN_CNI_ERR_INVALID_CONFIG, NULL,
					      "cni.dev/valid-attachments is not a list");
	if (json_array_size(list)) {
		valid = calloc(json_array_size(list), sizeof(*valid));
		if (!valid)
			return NULL;
	}
	json_array_foreach(list, i, v) {
		const char *id = json_string_value(json_object_get(v, "containerID"));
		const char *ifname = json_string_value(json_object_get(v, "ifname"));

		if (!id || !ifname) {
			free(valid);
			return tartan_podanswer_error(
				TARTAN_CNI_ERR_INVALID_CONFIG, NULL,
				"cni.dev/valid-attachments[%zu] lacks containerID or "
				"ifname",
				i);
		}
		valid[n++] = (struct tartan_ipam_attachment){ .id = id, .ifname = ifname };
	}
	n_runtime = n;
	err = keep_foreign(p, &valid, &n);
	if (err >= 0)
		err = tartan_ipam_gc(p->ipam, valid, n, &gone, &n_gone);
	for (i = n_runtime; i < n; i++) {
		free((char *)valid[i].id);
		free((char *)valid[i].ifname);
	}
	if (err < 0) {
		free(valid);
		return tartan_podanswer_ipam_error(err, p->ipam_dir, &p->subnet);
	}
	for (i = 0; i < n_gone; i++) {
		char host[IF_NAMESIZE];

		if (!gone[i].id || !gone[i].ifname)
			continue;
		tartan_podrecords_host_ifname(gone[i].id, gone[i].ifname, host);
		undo_link(p, host);
		tartan_podrecords_remove(p->records, gone[i].id, gone[i].ifname);
	}
	log_released(gone, n_gone, "not a valid attachment (CNI GC)");
	p->gc_released = n_gone;
	tartan_ipam_entries_free(gone, n_gone);
	sweep_records(p, valid, n_runtime);
	free(valid);
	return tartan_podanswer_ok(json_object());
}

static json_t *pod_status(struct tartan_pods *p)
{
	int index;

	if (!p->ipam)
		return tartan_podanswer_error(TARTAN_CNI_ERR_NOT_AVAILABLE, NULL,
					      "this node holds no subnet yet");
	if (tartan_nl_link_index(p->nl, p->bridge, &index) < 0)
		return tartan_podanswer_error(TARTAN_CNI_ERR_NOT_AVAILABLE, p->bridge,
					      "the bridge %s is not there yet", p->bridge);
	return tartan_podanswer_ok(json_object());
}

/* one pending DEL (daemon/pending.h), through pod_del() as a DEL from the plugin */
static int pending_apply(const struct tartan_cni_pending *rec, const char *path, void *userdata)
{
	struct tartan_pods *p = userdata;
	struct cni_request r = {
		.command = "DEL",
		.id = rec->id,
		.netns = rec->netns,
		.ifname = rec->ifname,
		.args = rec->args,
		.config = rec->config,
		.netns_fd = -1,
	};
	char ip[TARTAN_IP4_ADDR_STRLEN] = "nothing";
	json_t *answer, *error;
	uint32_t addr = 0;

	if (!tartan_ipam_attachment_is_valid(rec->id, rec->ifname))
		return -EINVAL;
	answer = pod_del(p, &r, &addr);
	if (addr)
		tartan_ip4_addr_format(addr, ip);
	if (!answer)
		return -ENOMEM;
	error = json_object_get(answer, "error");
	if (error)
		tartan_log_warning(
			"pending DEL of %s (%s) from %s failed: %s; kept for a later try", rec->id,
			rec->ifname, path, json_string_value(json_object_get(error, "msg")));
	else
		tartan_log_info("pending DEL of %s (%s) applied from %s: released %s", rec->id,
				rec->ifname, path, ip);
	json_decref(answer);
	return error ? -EAGAIN : 0;
}

/* the pending DEL of r's attachment, if there is one (see tartan_pending_apply_one()) */
static int pending_apply_first(struct tartan_pods *p, const struct cni_request *r)
{
	return tartan_pending_apply_one(p->pending, r->id, r->ifname, pending_apply, p);
}

int tartan_pods_apply_pending(struct tartan_pods *p)
{
	int n;

	/* without the store a DEL could not release its address: the records wait */
	if (!p || !p->ipam)
		return 0;
	n = tartan_pending_apply_all(p->pending, pending_apply, p);
	if (n < 0)
		tartan_log_errno(TARTAN_LOG_WARNING, -n, "pending DELs in %s: %m",
				 tartan_pending_dir(p->pending));
	return n;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void count_request(struct tartan_pods *p, const char *command, bool error,
			  const struct timespec *t0)
{
	struct tartan_pods_stats *st = &p->stats;
	struct timespec t1;
	double s;
	size_t c = TARTAN_PODS_CMD_OTHER, b;

	for (size_t i = 0; i < TARTAN_PODS_CMD_OTHER && command; i++)
		if (strcmp(command, tartan_pods_command_names[i]) == 0)
			c = i;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
	for (b = 0; b < TARTAN_PODS_N_BUCKETS && s > tartan_pods_latency_bounds[b]; b++)
		;
	st->requests[c][error]++;
	st->latency_buckets[c][b]++;
	st->latency_sum[c] += s;
	st->latency_count[c]++;
}

int tartan_pods_handle(struct tartan_pods *p, json_t *request, int netns_fd, json_t **ret_answer)
{
	struct cni_request r = {
		.command = str(request, "command"),
		.id = str(request, "containerID"),
		.netns = str(request, "netns"),
		.ifname = str(request, "ifName"),
		.args = str(request, "args"),
		.config = json_object_get(request, "config"),
		.netns_fd = netns_fd,
		.netns_fd_set = json_is_true(json_object_get(request, "netnsFd")),
	};
	struct tartan_podanswer_request logged;
	json_t *answer;
	struct timespec t0;
	uint32_t addr = 0; /* for the log line: the address a DEL releases, a CHECK checks */
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (p->ipam && tartan_pending_changed(p->pending))
		tartan_pods_apply_pending(p);
	if (!r.command) {
		answer = tartan_podanswer_error(TARTAN_CNI_ERR_INVALID_ENV, NULL, "no CNI command");
	} else if (strcmp(r.command, "STATUS") == 0) {
		answer = pod_status(p);
	} else if (strcmp(r.command, "GC") == 0) {
		answer = pod_gc(p, &r);
	} else if (strcmp(r.command, "ADD") != 0 && strcmp(r.command, "DEL") != 0 &&
		   strcmp(r.command, "CHECK") != 0) {
		answer = tartan_podanswer_error(TARTAN_CNI_ERR_INVALID_ENV, r.command,
						"unknown CNI command '%.32s'", r.command);
	} else if (!r.id || !r.ifname || !tartan_ipam_attachment_is_valid(r.id, r.ifname)) {
		/* the plugin checks these too; the socket is an interface of its own */
		answer = tartan_podanswer_error(TARTAN_CNI_ERR_INVALID_ENV, NULL,
						"CNI_CONTAINERID or CNI_IFNAME missing or invalid");
	} else if (strcmp(r.command, "ADD") == 0) {
		/* a DEL of this attachment the plugin recorded comes first, even when the
		 * directory's clock did not tell it apart; one that cannot be applied yet must
		 * not be applied after this ADD, to the new pod */
		err = p->ipam ? pending_apply_first(p, &r) : 0;
		if (err == -ENOMEM)
			return -ENOMEM;
		if (err == -EAGAIN)
			answer = tartan_podanswer_error(TARTAN_CNI_ERR_TRY_AGAIN_LATER, NULL,
							"a DEL of this attachment recorded while "
							"tartand was away cannot be applied yet");
		else
			answer = pod_add(p, &r);
	} else if (strcmp(r.command, "DEL") == 0) {
		answer = pod_del(p, &r, &addr);
	} else {
		answer = pod_check(p, &r, &addr);
	}
	if (!answer)
		return -ENOMEM;
	count_request(p, r.command, json_object_get(answer, "error") != NULL, &t0);
	logged = (struct tartan_podanswer_request){
		.command = r.command,
		.id = r.id,
		.ifname = r.ifname,
		.args = r.args,
		.addr = addr,
		.gc_released = p->gc_released,
	};
	tartan_podanswer_log(&logged, answer, &t0);
	*ret_answer = answer;
	return 0;
}

const struct tartan_pods_stats *tartan_pods_stats(const struct tartan_pods *p)
{
	return &p->stats;
}

bool tartan_pods_addresses(struct tartan_pods *p, size_t *ret_in_use, size_t *ret_free)
{
	struct tartan_ipam_entry *e = NULL;
	size_t n = 0, held = 0, taken = 0, hosts;
	uint32_t net, bcast;

	if (!p->ipam || p->subnet.len > 30 || tartan_ipam_list(p->ipam, &e, &n) < 0)
		return false;
	net = tartan_ip4_net_first_host(&p->subnet) - 1;
	bcast = tartan_ip4_net_last(&p->subnet);
	for (size_t i = 0; i < n; i++) {
		if (e[i].state == TARTAN_IPAM_HELD)
			held++;
		/* an unreadable file blocks its address too, when it is one to hand out */
		if (e[i].state != TARTAN_IPAM_OUTSIDE &&
		    tartan_ip4_net_contains(&p->subnet, e[i].addr) && e[i].addr != net &&
		    e[i].addr != bcast && e[i].addr != p->gateway)
			taken++;
	}
	tartan_ipam_entries_free(e, n);
	/* less the network, broadcast and gateway addresses */
	hosts = ((size_t)1 << (32 - p->subnet.len)) - 3;
	*ret_in_use = held;
	*ret_free = taken < hosts ? hosts - taken : 0;
	return true;
}

int tartan_pods_list(struct tartan_pods *p, json_t **ret)
{
	struct tartan_ipam_entry *e = NULL;
	struct tartan_nl_link *links = NULL;
	size_t n = 0, n_links = 0;
	json_t *list, *out;
	int err = 0;

	list = json_array();
	if (!list)
		return -ENOMEM;
	if (p->ipam)
		err = tartan_ipam_list(p->ipam, &e, &n);
	/* the host ends there are, for "state" */
	if (err >= 0 && n > 0)
		err = tartan_nl_link_list(p->nl, &links, &n_links);
	for (size_t i = 0; i < n && err >= 0; i++) {
		char ip[TARTAN_IP4_ADDR_STRLEN], host[IF_NAMESIZE] = "";
		json_t *o, *meta = NULL;

		if (e[i].state == TARTAN_IPAM_BAD)
			continue;
		if (e[i].id && e[i].ifname) {
			tartan_podrecords_host_ifname(e[i].id, e[i].ifname, host);
			meta = tartan_podrecords_read(p->records, e[i].id, e[i].ifname);
		}
		o = json_pack("{s:s,s:s?,s:s?,s:s,s:b,s:s,s:O?,s:O?}", "address",
			      tartan_ip4_addr_format(e[i].addr, ip), "containerID", e[i].id,
			      "ifName", e[i].ifname, "hostIf", host, "inSubnet",
			      e[i].state == TARTAN_IPAM_HELD, "state",
			      meta && !tartan_podgone_link_listed(links, n_links, host) ?
				      "gone" :
				      "attached",
			      "namespace", json_object_get(meta, "namespace"), "name",
			      json_object_get(meta, "name"));
		json_decref(meta);
		if (!o || json_array_append_new(list, o) < 0)
			err = -ENOMEM;
	}
	tartan_ipam_entries_free(e, n);
	free(links);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	out = json_pack("{s:o}", "pods", list);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}
