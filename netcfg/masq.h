/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IP masquerade with nftables, through libnftables: one table of tartan's own,
 * `ip tartan-ipv4` (TARTAN_MASQ_TABLE), which tartan alone creates, replaces
 * and deletes; no other table is ever read or written.
 *
 * Flannel mode (--ip-masq), flannel's rule set (flannel-compat.md 5.1) with N
 * the cluster network and S this node's subnet, in chain postrtg (nat,
 * postrouting, srcnat):
 *   meta mark & 0x4000 == 0x4000 return       kube-proxy masquerades these itself
 *   ip saddr S ip daddr N return              pod to pod: addresses kept
 *   ip saddr N ip daddr S return
 *   ip saddr != N ip daddr S return           into our pods from outside: kept
 *   ip saddr N ip daddr != 224.0.0.0/4 masquerade fully-random   leaving the network
 *   ip saddr != N ip daddr N masquerade fully-random             the node to other pods
 * and chain forward (filter, forward, priority filter): ip saddr N accept, ip daddr N
 * accept. Two choices differ from flanneld's own nftables mode (5.2), both for the
 * iptables semantics flannel has had for years: the mark is tested as a bit, as
 * iptables' --mark 0x4000/0x4000 (flannel's nft rule asks for the whole mark to be
 * 0x4000), and the third return rule is `saddr != N daddr S`, as iptables' (flannel's
 * nft rule says `saddr != S daddr N`, which makes its last rule unreachable).
 *
 * Kubenet mode, kubenet's rule (flannel-compat.md 8) with C the non-masquerade CIDR:
 *   fib daddr type != local ip daddr != C masquerade
 *
 * Applying is one transaction (add, delete and define the table in one batch):
 * the kernel holds the old rule set or the new one, never a mix and never none.
 */
#pragma once

#include <stdbool.h>

#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

#define TARTAN_MASQ_FAMILY "ip"
#define TARTAN_MASQ_TABLE "tartan-ipv4"

enum tartan_masq_kind {
	TARTAN_MASQ_NONE,    /* no table */
	TARTAN_MASQ_FLANNEL, /* network and subnet */
	TARTAN_MASQ_KUBENET, /* non_masq; a /0 there means no table */
};

struct tartan_masq_rules {
	enum tartan_masq_kind kind;
	struct tartan_ip4_net network, subnet; /* flannel */
	struct tartan_ip4_net non_masq;	       /* kubenet */
};

/*
 * Pure: the nft script (nft -f syntax) that defines the table for r, malloc'd in *ret;
 * "" for no table (NONE, kubenet with a /0). -EINVAL for an unknown kind or a network,
 * subnet or CIDR with host bits (or, flannel, a subnet outside the network); -ENOMEM.
 */
_tartan_wur_ int tartan_masq_render(const struct tartan_masq_rules *r, char **ret);

struct tartan_masq;

/* A libnftables context for this network namespace. */
_tartan_wur_ int tartan_masq_new(struct tartan_masq **ret);
void tartan_masq_free(struct tartan_masq *m);

/*
 * Makes the kernel hold exactly r's table. The table is listed and compared with what
 * was listed right after tartan last applied it (so any change to it, a deleted table,
 * a rule removed or added, counts), and applied again, in one transaction, when it
 * differs or r does. Whatever tartan applies is listed back for the next compare.
 * *ret_changed (may be NULL) says whether a transaction was sent. For no table, as
 * tartan_masq_remove(). -errno with *ret_error (malloc'd, may be NULL) nft's message.
 */
_tartan_wur_ int tartan_masq_ensure(struct tartan_masq *m, const struct tartan_masq_rules *r,
				    bool *ret_changed, char **ret_error);

/* Deletes tartan's table if it is there (*ret_changed: it was). */
_tartan_wur_ int tartan_masq_remove(struct tartan_masq *m, bool *ret_changed, char **ret_error);
