/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The external interface: the one whose IPv4 address is the node's public IP
 * and whose MTU the backends start from. Chosen as flanneld does
 * (shared/docs/flannel-compat.md 4.0): --iface names or addresses in order,
 * then --iface-regex, else the interface of the default route.
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

struct tartan_iface {
	char name[IF_NAMESIZE];
	unsigned index;
	uint32_t addr; /* host order: its first IPv4 address, or the one asked for */
	unsigned mtu;
};

/* One candidate: by name (first IPv4 address) or by address. -ENODEV if it
 * does not exist or has no IPv4 address. */
int tartan_iface_by_name(const char *name, struct tartan_iface *ret) _tartan_wur_;
int tartan_iface_by_addr(uint32_t addr, struct tartan_iface *ret) _tartan_wur_;
/* The first interface whose name or one of whose IPv4 addresses matches the
 * POSIX extended regex. */
int tartan_iface_by_regex(const char *regex, struct tartan_iface *ret) _tartan_wur_;
/* The interface of the IPv4 default route (lowest metric). */
int tartan_iface_default(struct tartan_iface *ret) _tartan_wur_;
