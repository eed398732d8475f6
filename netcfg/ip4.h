/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPv4 addresses and CIDR networks: parsing, formatting and the few
 * predicates every module needs. Addresses are uint32_t in host byte order.
 *
 * The parsers follow Go's net.ParseIP / net.ParseCIDR for IPv4 text, since
 * that is what flanneld uses for its config, its lease keys and subnet.env:
 *  - an address is exactly four decimal fields 0..255 separated by dots;
 *    a field with a leading zero ("010", "00") is refused (Go >= 1.17), so
 *    there is no octal ambiguity;
 *  - a CIDR is "a.b.c.d/N" with N decimal 0..32; leading zeros in N are
 *    accepted ("/024" is /24), as Go's ParseCIDR does;
 *  - host bits in a CIDR are accepted and cleared: "10.5.3.7/16" parses to
 *    10.5.0.0/16, which is what flannel's config decoding stores.
 * Unlike Go, IPv6 text (also IPv4-mapped "::ffff:a.b.c.d") is not IPv4 here.
 *
 * Pure functions: no I/O, no allocation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* "255.255.255.255" with its NUL; "255.255.255.255/255" (a uint8_t length) with its NUL */
#define TARTAN_IP4_ADDR_STRLEN 16
#define TARTAN_IP4_NET_STRLEN 20

struct tartan_ip4_net {
	uint32_t addr; /* host byte order, network address */
	uint8_t len;   /* prefix length, 0..32 */
};

/* A dotted quad of exactly len bytes (no NUL needed): 0 or -EINVAL. */
_tartan_wur_ int tartan_ip4_addr_parse(const char *s, size_t len, uint32_t *ret_addr);

/* "a.b.c.d/N" of exactly len bytes, host bits cleared: 0 or -EINVAL. */
_tartan_wur_ int tartan_ip4_net_parse(const char *s, size_t len, struct tartan_ip4_net *ret_net);

/* addr with len bits kept; -EINVAL if len > 32. */
_tartan_wur_ int tartan_ip4_net_make(uint32_t addr, unsigned len, struct tartan_ip4_net *ret_net);

/* Format into the caller's buffer; return buf, for use in log arguments. */
const char *tartan_ip4_addr_format(uint32_t addr, char buf[static TARTAN_IP4_ADDR_STRLEN]);
const char *tartan_ip4_net_format(const struct tartan_ip4_net *net,
				  char buf[static TARTAN_IP4_NET_STRLEN]);

/* netmask of a prefix length (0 for 0, all ones for 32 and more) */
uint32_t tartan_ip4_mask(unsigned len);

/* len <= 32 and no host bits set */
bool tartan_ip4_net_is_valid(const struct tartan_ip4_net *net);

/* number of addresses, 1 .. 2^32 */
uint64_t tartan_ip4_net_size(const struct tartan_ip4_net *net);

/* highest address of the network (the broadcast address for len <= 30) */
uint32_t tartan_ip4_net_last(const struct tartan_ip4_net *net);

/*
 * The first host address: network + 1, as flannel's FLANNEL_SUBNET and the
 * bridge gateway. /31 and /32 have no network address (RFC 3021), so there
 * it is the network address itself.
 */
uint32_t tartan_ip4_net_first_host(const struct tartan_ip4_net *net);

bool tartan_ip4_net_contains(const struct tartan_ip4_net *net, uint32_t addr);

/* inner lies entirely inside outer */
bool tartan_ip4_net_contains_net(const struct tartan_ip4_net *outer,
				 const struct tartan_ip4_net *inner);

/* the two networks share at least one address (flannel's IP4Net.Overlaps) */
bool tartan_ip4_net_overlaps(const struct tartan_ip4_net *a, const struct tartan_ip4_net *b);

bool tartan_ip4_net_equal(const struct tartan_ip4_net *a, const struct tartan_ip4_net *b);

/* order by address, then prefix length; for qsort and bsearch */
int tartan_ip4_net_cmp(const struct tartan_ip4_net *a, const struct tartan_ip4_net *b);

/*
 * NULL when addr can be a node's unicast address; otherwise why not, e.g.
 * "is a loopback address". Refused: 0.0.0.0/8 ("this network", RFC 1122),
 * 127.0.0.0/8, multicast 224.0.0.0/4 and the limited broadcast address.
 */
const char *tartan_ip4_addr_unusable_reason(uint32_t addr);
