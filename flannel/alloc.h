/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Choosing a free subnet as flanneld does (flannel-compat.md 2, step d;
 * pkg/subnet/etcd/local_manager.go allocateSubnet): candidates from
 * SubnetMin in SubnetLen steps up to SubnetMax inclusive, each skipped if it
 * overlaps a taken subnet; the first 100 free ones are collected and one is
 * picked at random.
 *
 * Unlike flanneld's loop (candidates x leases, and a uint32 address that
 * wraps past 255.255.255.0), the taken list is sorted once and walked
 * together with the candidates, jumping over large taken ranges, so 5,000
 * or 500,000 leases cost a sort, not a product.
 *
 * Pure: no I/O; the caller supplies the randomness.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flannel/config.h"
#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* flanneld picks among at most this many free candidates */
#define TARTAN_FLANNEL_ALLOC_CANDIDATES 100

/*
 * Pick a subnet for config that overlaps none of taken[0..n_taken) (any
 * lengths, in any order; host bits are ignored as flannel's Overlaps does).
 * The choice is free[random % n_free] among the first n_free <= 100 free
 * candidates in address order. -ENOSPC when there is none ("out of
 * subnets"), -EINVAL for a config that was not checked by
 * tartan_flannel_config_parse(), -ENOMEM.
 */
_tartan_wur_ int tartan_flannel_alloc_subnet(const struct tartan_flannel_config *config,
					     const struct tartan_ip4_net *taken, size_t n_taken,
					     uint32_t random, struct tartan_ip4_net *ret_subnet);

/*
 * The subnet could be ours under config: the config's SubnetLen, aligned,
 * and its address within [SubnetMin, SubnetMax] (flannel's
 * isSubnetConfigCompat, plus alignment). Used to keep a lease found by
 * PublicIP or the subnet remembered in subnet.env.
 */
bool tartan_flannel_subnet_fits(const struct tartan_flannel_config *config,
				const struct tartan_ip4_net *subnet);
