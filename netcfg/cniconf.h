/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CNI network configurations tartand writes for container runtimes
 * (cni-etcd-api.md 1.4, 1.7, 1.8; flannel-compat.md 7-9), as text. Writing
 * them (atomically, only on change: tartan_file_write_atomic) is the
 * caller's; the text is deterministic (keys in a fixed order, 2-space
 * indent, one trailing newline), so equal inputs give equal bytes.
 *
 * Pure functions: no I/O.
 *
 * The kinds, and what each reads from struct tartan_cniconf_input:
 *
 * TARTAN_CNICONF_RKT_BRIDGE (file TARTAN_CNICONF_RKT_FILE in --rkt-net-dir):
 *   {"cniVersion":"0.3.1","name":"rkt.kubernetes.io","type":"bridge",
 *    "bridge":<bridge>,"mtu":<mtu>,"isGateway":true,"ipMasq":<!ip_masq>,
 *    "hairpinMode":<hairpin_mode>,
 *    "ipam":{"type":"host-local","subnet":<subnet>,"gateway":<subnet + 1>,
 *            ["dataDir":<ipam_data_dir>,] "routes":[{"dst":"0.0.0.0/0"}]}}
 *   0.3.1 is what rkt's last releases and Debian's plugins (0.1.0..1.0.0)
 *   both accept. "subnet" rather than "ranges": host-local takes both, the
 *   plugins rkt shipped only the former. The gateway is the address
 *   tartand puts on the bridge, so bridge's isGateway finds it there and
 *   does not fail on "already has an IP address different from".
 *
 *   ipMasq is NOT ip_masq, flannel's CNI rule (delegate ipMasq defaults to
 *   !FLANNEL_IPMASQ), so that this conf and the flannel-type one give a pod
 *   the same network:
 *    - with --ip-masq the node's own rules masquerade traffic leaving the
 *      cluster network and leave pod-to-pod traffic alone; bridge's rule
 *      (masquerade everything from the pod not to its own /24, except
 *      multicast) would also rewrite traffic to pods on other nodes, so it
 *      must be off;
 *    - without --ip-masq nothing on the node masquerades, so bridge does it,
 *      as with flannel. Its rule then also applies to pod-to-pod traffic
 *      between nodes (the peer sees the node's address), as it does under
 *      flanneld without --ip-masq.
 *
 * TARTAN_CNICONF_RKT_FLANNEL (--rkt-conf-type=flannel; same file name):
 *   {"cniVersion":"0.3.1","name":"rkt.kubernetes.io","type":"flannel",
 *    "subnetFile":<subnet_file>,["ipam":{"dataDir":<ipam_data_dir>},]
 *    "delegate":{"bridge":<bridge>,"isDefaultGateway":true,"hairpinMode":<hairpin_mode>}}
 *   flannel's plugin fills the rest from subnet.env (mtu, ipMasq as above,
 *   isGateway, host-local on FLANNEL_SUBNET with a route to FLANNEL_NETWORK)
 *   and passes other delegate keys through to bridge: "bridge" keeps the
 *   pods on tartand's bridge (bridge's default is cni0), isDefaultGateway
 *   adds the default route (the k8s rkt example), hairpinMode as the pods
 *   tartan attaches get (kube-flannel's conf sets it). subnet, mtu and ip_masq
 *   are not read.
 *
 * TARTAN_CNICONF_TARTAN_LIST (file TARTAN_CNICONF_LIST_FILE in --cni-conf-dir):
 *   {"cniVersion":"1.0.0","name":"tartan","plugins":[
 *     {"type":"tartan","socket":<socket_path>,["pendingDelDir":<pending_del_dir>,]
 *      "capabilities":{"ips":true,"mac":true}},
 *     {"type":"portmap","capabilities":{"portMappings":true}}]}
 *   1.0.0: the newest version Debian's portmap 1.1.1 accepts (its VERSION
 *   answer stops there). "ips" and "mac": the runtime passes a pod's static
 *   address and MAC in runtimeConfig (CNI conventions). The daemon knows the
 *   rest, so only socket_path and pending_del_dir are read: the list can be
 *   written before the node has a lease.
 *
 * TARTAN_CNICONF_KUBENET (kubenet mode; kubelet's kubenet kept it in memory,
 *   so the file name is the caller's):
 *   {"cniVersion":"0.3.1","name":"kubenet","type":"bridge",
 *    "bridge":<bridge>,"mtu":<mtu>,"isGateway":true,"ipMasq":false,
 *    "hairpinMode":<hairpin_mode>,
 *    "ipam":{"type":"host-local","subnet":<subnet>,"gateway":<subnet + 1>,
 *            ["dataDir":<ipam_data_dir>,] "routes":[{"dst":"0.0.0.0/0"}]}}
 *   kubenet's own conf (flannel-compat.md 8) but at 0.3.1 instead of
 *   0.1.0, so results carry the interfaces a CRI runtime looks for, and
 *   without kubenet's "addIf":"eth0", a key no bridge plugin reads. ipMasq is
 *   false: kubenet masquerades with a node rule of its own. The caller passes
 *   the bridge (kubenet: cbr0) and the pod CIDR as subnet.
 *
 * Checks: bridge 1..15 bytes, not "." or "..", without '/', ':' or blanks
 * (the kernel's rule); subnet without host bits and at most /30 (host-local
 * needs two hosts); mtu 68..65535; paths absolute; strings valid UTF-8.
 */
#pragma once

#include <stdbool.h>

#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* rkt reads its confs in file-name order; the conf's name is what kubelet asks for */
#define TARTAN_CNICONF_RKT_FILE "10-rkt.kubernetes.io.conf"
/* containerd takes the first of a conf dir in name order: a low number */
#define TARTAN_CNICONF_LIST_FILE "10-tartan.conflist"

enum tartan_cniconf_kind {
	TARTAN_CNICONF_RKT_BRIDGE,
	TARTAN_CNICONF_RKT_FLANNEL,
	TARTAN_CNICONF_TARTAN_LIST,
	TARTAN_CNICONF_KUBENET,
};

struct tartan_cniconf_input {
	const char *bridge;	      /* tartand's bridge (--bridge) */
	struct tartan_ip4_net subnet; /* the node's lease, or the pod CIDR in kubenet mode */
	unsigned mtu;
	bool ip_masq;		 /* tartand's --ip-masq (not the conf's ipMasq: see above) */
	bool hairpin_mode;	 /* --hairpin-mode=hairpin-veth: the bridge confs' hairpinMode */
	const char *subnet_file; /* --subnet-file, for the flannel-type conf */
	const char *socket_path; /* --socket, for the tartan plugin */
	/* where the tartan plugin records a DEL tartand cannot take now; NULL: the plugin's
	 * default (the key is left out) */
	const char *pending_del_dir;
	/* host-local's dataDir (all kinds but the list); NULL: its default /var/lib/cni/networks */
	const char *ipam_data_dir;
};

/*
 * The conf of that kind for in, as a malloc'd NUL-terminated text ending in
 * "\n" (the caller frees it). -EINVAL for an unknown kind or a field that
 * fails the checks above; -ENOMEM.
 */
_tartan_wur_ int tartan_cniconf_render(enum tartan_cniconf_kind kind,
				       const struct tartan_cniconf_input *in, char **ret);
