/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod attachments: the daemon's side of the `tartan` CNI plugin (cni/). The
 * plugin forwards the runtime's request over the control socket as
 *   {"command":"cni","cni":{"command":"ADD","containerID":...,"netns":...,
 *    "netnsFd":true,"ifName":...,"args":...,"cniVersion":...,"config":{...}}}
 * with the pod's network namespace as an fd it opened in the runtime's mount
 * namespace (daemon/control.h), and gets back {"result":{NEUTRAL RESULT}} or
 * {"error":{"code":N,"msg":...,"details":...}}, which it renders for the
 * runtime's cniVersion. ADD and CHECK enter that fd after checking it is a
 * network namespace (4 when not; 4 too when "netnsFd" came without an fd);
 * "netns" is kept for messages and results. A client that sends no
 * "netnsFd" (an older plugin, socat) gets the path opened here, as before.
 *
 * ADD takes an address from the IPAM store (daemon/ipam.h: host-local's layout
 * under <state-dir>/networks/rkt.kubernetes.io, the directory host-local uses
 * for the rkt conf tartan writes, so pods attached either way never share an
 * address), makes a veth pair whose pod end is born inside the pod's network
 * namespace under its CNI_IFNAME (no move between namespaces), gives it the
 * address, the MTU and a default route via the bridge's gateway, and puts the
 * host end on the bridge. The host end's name is derived from the container
 * id and interface name, so DEL finds it without the namespace. A static
 * address and MAC the runtime asks for (CNI_ARGS IP= and MAC=, runtimeConfig
 * ips and mac: daemon/podreq.h) are given exactly, or refused with 4 or 7 (not
 * one the subnet hands out, a bad MAC) or TARTAN_PODS_ERR_ADDRESS_IN_USE; the
 * MAC is the pod end's. With hairpin on (tartan_pods_set_hairpin()) the host
 * end gets hairpin mode. Any failure undoes what was done: nothing is left
 * half-made, no address is held.
 * DEL undoes ADD and succeeds when there is nothing to undo; CHECK verifies
 * what ADD made (the host end on the bridge, the pod's address, its default
 * route via the gateway; 3 with the reason when one is missing); GC releases
 * every address tartan gave whose attachment the runtime does not list as
 * valid (the rkt conf's host-local pods share the store and are not the
 * runtime's to list: they stay); STATUS says whether a
 * pod can be added now. Until the node holds a subnet the store is closed:
 * ADD, DEL, CHECK and GC answer "try again later" (11), so a DEL is never
 * answered as done without its address released. An attachment whose pod
 * network is gone without any DEL is shown as "gone" and released by the rule
 * of tartan_pods_sweep_gone().
 *
 * No DEL is lost: the DELs the plugin could not hand over are records in
 * <state-dir>/pending-del (cni/pending.h), applied as DELs before requests are
 * served (tartan_pods_apply_pending()), and an ADD of an attachment with a
 * record applies the record first.
 *
 * Every request is logged on one line: at info "pod ADD <12 of the id>
 * <namespace/name from CNI_ARGS, or -> <ifname> <address or -> ok <ms> ms"
 * (GC: "pod GC released N ok ..."; STATUS: "pod STATUS ok ..."), at warning
 * "... failed (code N): msg" instead of "ok"; at debug the netlink steps.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* the network name whose host-local directory the store shares (see above) */
#define TARTAN_PODS_NETWORK "rkt.kubernetes.io"

/* the plugin's own error codes (the spec leaves 100 and up to plugins); the spec's are in
 * cni/result.h */
enum {
	TARTAN_PODS_ERR_NO_ADDRESS = 100, /* every address of the node's subnet is held */
	TARTAN_PODS_ERR_NETLINK = 101,	  /* the kernel refused a change */
	/* the static address asked for is another attachment's (the message names it) */
	TARTAN_PODS_ERR_ADDRESS_IN_USE = 102,
};

struct tartan_pods;

/* Files under state_dir: the IPAM store in networks/rkt.kubernetes.io/ (host-local's
 * dataDir is state_dir/networks), the pods' names in pods/; bridge: the node's bridge. */
_tartan_wur_ int tartan_pods_new(const char *state_dir, const char *bridge,
				 struct tartan_pods **ret);
void tartan_pods_free(struct tartan_pods *p);

/*
 * host-local's dataDir of the CNI plugins the node used before tartan (--cni-data-dir,
 * default /var/lib/cni/networks; NULL or "": none): the addresses its networks hold in
 * the node's subnet are never handed out (see tartan_ipam_set_foreign_root()), so the
 * pods of a node taken over from flannel keep theirs alone.
 */
_tartan_wur_ int tartan_pods_set_cni_data_dir(struct tartan_pods *p, const char *dir);

/*
 * The node's subnet and the pods' MTU; until then ADD answers "try again
 * later" and STATUS "not available". When the subnet changes, the addresses
 * held in the old one are released and logged (the pods there lost their
 * network with the subnet).
 */
_tartan_wur_ int tartan_pods_set_node(struct tartan_pods *p, const struct tartan_ip4_net *subnet,
				      unsigned mtu);

/* Hairpin mode on the host end of every pod added from now on (--hairpin-mode=hairpin-veth,
 * flannel mode's default: as the bridge plugin's hairpinMode); off until called. */
void tartan_pods_set_hairpin(struct tartan_pods *p, bool hairpin);

/* where the plugin records the DELs tartand cannot take (cni/pending.h), under state_dir;
 * tartand writes it as "pendingDelDir" into the conflist */
#define TARTAN_PODS_PENDING_DIR "pending-del"

/*
 * Applies the pending DELs under <state_dir>/TARTAN_PODS_PENDING_DIR, each as a DEL (logged;
 * a record that is not one is moved aside as NAME.bad), once the store is open: by
 * tartan_pods_set_node() when it opens, before a request when the directory changed, and by
 * the daemon at every resync. Returns how many were applied, or -errno (logged).
 */
int tartan_pods_apply_pending(struct tartan_pods *p);

/*
 * Attachments whose pod network is gone without a DEL (the pod's namespace destroyed while
 * tartand was down, and no DEL recorded): the pod end of a veth dies with its namespace and
 * takes the host end with it. The rule, applied at every call (every resync interval):
 * an attachment tartan made (it has a pod record under <state-dir>/pods) whose host end
 * does not exist is marked gone, with the time it was first seen so (no ADD is ever half
 * done while this runs: requests are served on the same loop); still gone at a call
 * TARTAN_PODS_GONE_GRACE_S or more later (TARTAN_GONE_GRACE_S in the environment, for
 * tests), its address and record are released, logged at warning with the container, the
 * interface and the address. A host end that exists again clears the mark. An address
 * whose host end exists is never released; the rkt conf's host-local pods (no record)
 * are never touched. The marks live in memory: after a restart the grace starts again.
 */
#define TARTAN_PODS_GONE_GRACE_S 60
void tartan_pods_sweep_gone(struct tartan_pods *p);
/* The grace above, in seconds (tartand passes TARTAN_GONE_GRACE_S, for tests). */
void tartan_pods_set_gone_grace(struct tartan_pods *p, unsigned seconds);

/* The IPAM store's fsyncs for the allocations and releases answered so far (see
 * daemon/ipam.h), a failure logged; cheap when nothing waits. NULL is fine. */
void tartan_pods_sync(struct tartan_pods *p);

/* Answers one "cni" request (the object under "cni"): *ret_answer is
 * {"result":...} or {"error":...}; -ENOMEM only. netns_fd: the pod's network
 * namespace that came with it (borrowed, -1: none), used when the request says
 * "netnsFd": true; without that key the "netns" path is opened here. */
_tartan_wur_ int tartan_pods_handle(struct tartan_pods *p, json_t *request, int netns_fd,
				    json_t **ret_answer);

/* {"pods":[{"address","containerID","ifName","hostIf","inSubnet","state","namespace",
 * "name"}...]} for tartanctl pods; namespace and name from CNI_ARGS (K8S_POD_NAMESPACE,
 * K8S_POD_NAME) when the runtime gave them; state "gone" for an attachment tartan made
 * whose host end is missing now (see tartan_pods_sweep_gone()), else "attached" */
_tartan_wur_ int tartan_pods_list(struct tartan_pods *p, json_t **ret);

/* ---- counters for /metrics (daemon/http.h) ---- */

/* the commands counted; anything else (no command, an unknown one) is OTHER */
enum tartan_pods_command {
	TARTAN_PODS_CMD_ADD,
	TARTAN_PODS_CMD_DEL,
	TARTAN_PODS_CMD_CHECK,
	TARTAN_PODS_CMD_GC,
	TARTAN_PODS_CMD_STATUS,
	TARTAN_PODS_CMD_OTHER,
	TARTAN_PODS_N_CMDS
};

/* the names of the commands, as the runtime sends them ("other" for OTHER) */
extern const char *const tartan_pods_command_names[TARTAN_PODS_N_CMDS];

/* upper bounds (seconds) of the latency histogram's buckets; +Inf is implied */
#define TARTAN_PODS_N_BUCKETS 12
extern const double tartan_pods_latency_bounds[TARTAN_PODS_N_BUCKETS];

struct tartan_pods_stats {
	/* answers by command: [cmd][0] a result, [cmd][1] an error */
	uint64_t requests[TARTAN_PODS_N_CMDS][2];
	/* the time tartan_pods_handle() took: per bucket (not cumulative; the last one is
	 * +Inf), sum in seconds, count */
	uint64_t latency_buckets[TARTAN_PODS_N_CMDS][TARTAN_PODS_N_BUCKETS + 1];
	double latency_sum[TARTAN_PODS_N_CMDS];
	uint64_t latency_count[TARTAN_PODS_N_CMDS];
};

const struct tartan_pods_stats *tartan_pods_stats(const struct tartan_pods *p);

/* The node's subnet's pod addresses: *ret_in_use held by an attachment, *ret_free that could
 * be handed out now (hosts of the subnet less the gateway, the held ones and unreadable
 * address files). false (nothing set) until the node has a subnet or when the store cannot
 * be read. */
bool tartan_pods_addresses(struct tartan_pods *p, size_t *ret_in_use, size_t *ret_free);
