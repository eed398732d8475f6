/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The addresses of a subnet that other host-local stores hold: the network directories
 * under another host-local dataDir (see tartan_ipam_set_foreign_root() in daemon/ipam.h),
 * read without their locks. Read only.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

struct tartan_ipamforeign;

/*
 * The address names in subnet of every network directory under root but the store's own
 * (own_dfd, matched by device and inode). root NULL: *ret is NULL, the empty set; a missing
 * root or a network directory gone meanwhile holds nothing. -errno when one cannot be read.
 */
_tartan_wur_ int tartan_ipamforeign_scan(const char *root, int own_dfd,
					 const struct tartan_ip4_net *subnet,
					 struct tartan_ipamforeign **ret);
void tartan_ipamforeign_free(struct tartan_ipamforeign *f);

/* Whether f (NULL: empty) holds addr. */
bool tartan_ipamforeign_has(const struct tartan_ipamforeign *f, uint32_t addr);
