/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flannel's subnet leases in etcd: the key <prefix>/subnets/A.B.C.D-LEN and
 * the JSON value, byte-compatible with flanneld (v0.18 and later), plus the
 * checks that decide whether a peer's lease can be used.
 *
 * Facts: shared/docs/flannel-compat.md 1.1, 1.3; flannel's
 * pkg/subnet/subnet.go (ParseSubnetKey, MakeSubnetKey), pkg/lease/lease.go
 * (LeaseAttrs) and pkg/backend/vxlan (vxlanLeaseAttrs, hardwareAddr).
 *
 * Pure functions over buffers: no I/O.
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

/* flannel's backend names are at most 11 bytes ("tencent-vpc") */
#define TARTAN_FLANNEL_BACKEND_TYPE_MAX 31
/* "c6:d2:32:6f:8f:44" and its NUL */
#define TARTAN_FLANNEL_MAC_STRLEN 18

/* A lease value, as flannel's LeaseAttrs, for IPv4. */
struct tartan_flannel_lease_attrs {
	uint32_t public_ip;   /* host order; 0 (0.0.0.0) when the value has none */
	bool has_public_ipv6; /* parse only: PublicIPv6 was an address (ignored) */
	/* "" when absent (alloc); compared byte for byte, as flannel's backends do */
	char backend_type[TARTAN_FLANNEL_BACKEND_TYPE_MAX + 1];
	/* BackendData of a "vxlan" lease; other types' BackendData is not read */
	bool has_vni; /* v0.10-era flannel wrote no VNI */
	uint32_t vni;
	bool has_vtep_mac;
	uint8_t vtep_mac[6];
};

/* Go's path.Join(prefix, name): slashes collapsed, "." and ".." resolved. */
_tartan_wur_ int tartan_flannel_key_join(const char *prefix, const char *name, char **ret_key);

/*
 * "<prefix>/subnets/" with the trailing slash: the range and watch prefix
 * for all leases. (flanneld uses ".../subnets" and so also sees keys such as
 * ".../subnetsX"; tartan doesn't.)
 */
_tartan_wur_ int tartan_flannel_lease_dir(const char *prefix, char **ret_dir);

/* "<prefix>/subnets/A.B.C.D-LEN"; -EINVAL if subnet has host bits or len > 32 */
_tartan_wur_ int tartan_flannel_lease_key_format(const char *prefix,
						 const struct tartan_ip4_net *subnet,
						 char **ret_key);

/*
 * The subnet named at the END of key (len bytes), as flannel's regex
 * `(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$` matches it: the
 * address is a strict dotted quad, the length 0..31 (flannel parses it as a
 * 5-bit number; "024" is 24). A dual-stack key "A.B.C.D-LEN&V6-LEN6" is
 * accepted when its IPv6 part is valid (an IPv6 address, length 0..127,
 * else the key is refused as flannel refuses it); the IPv6 part is ignored
 * and *ret_has_ipv6 (if not NULL) says it was there. Unlike flannel, a key
 * whose address has host bits for its length ("10.5.1.7-24") is refused:
 * flannel would take it as a subnet no kernel accepts a route to.
 * 0 or -EINVAL.
 */
_tartan_wur_ int tartan_flannel_lease_key_parse(const char *key, size_t len,
						struct tartan_ip4_net *ret_subnet,
						bool *ret_has_ipv6);

/*
 * Whether key (len bytes) is the key flanneld writes for the subnet it names:
 * dir (as tartan_flannel_lease_dir() makes it) and the subnet as
 * tartan_flannel_lease_key_format() writes it, e.g.
 * "/coreos.com/network/subnets/10.5.1.0-24", optionally followed by
 * flannel's dual-stack part "&<v6>-<len6>" and nothing else. The other keys
 * tartan_flannel_lease_key_parse() accepts ("10.5.1.0-024", "x10.5.1.0-24",
 * "dir/10.5.1.0-24") name a subnet too, but no flanneld writes them: taken as
 * a peer, such a key would stand in for the real lease of that subnet, so
 * that anybody who can write one junk key under the prefix could move or
 * remove a node's routes.
 */
bool tartan_flannel_lease_key_is_canonical(const char *dir, const char *key, size_t len);

/*
 * The longest lease value parsed. flanneld's are under 300 bytes (the longest
 * BackendData, wireguard's or vxlan's, is about 100); a longer value is no
 * lease of a flanneld, and refusing it before the JSON parser keeps a junk
 * value of etcd's maximum size (1.5 MiB by default) from costing a parse at
 * every event and every list.
 */
#define TARTAN_FLANNEL_LEASE_VALUE_MAX 65536

/*
 * Parse a lease value. Accepted: flanneld's current form, older ones (no
 * PublicIPv6; vxlan BackendData without VNI), keys in any case (decoded as
 * config.h says, with the same caveats). Refused,
 * -EINVAL with a malloc'd reason in *ret_error (if not NULL): not a JSON
 * object, a PublicIP that is not a dotted quad, a PublicIPv6 that is not an
 * address or null, a BackendType that is not a string or longer than
 * TARTAN_FLANNEL_BACKEND_TYPE_MAX, a BackendData or BackendV6Data that is not
 * an object (or null), for "vxlan" a VNI that is not a uint32 or a
 * VtepMAC that is not a 48-bit MAC, and a value longer than
 * TARTAN_FLANNEL_LEASE_VALUE_MAX. Also -ENOMEM.
 */
_tartan_wur_ int tartan_flannel_lease_value_parse(const char *buf, size_t len,
						  struct tartan_flannel_lease_attrs *ret_attrs,
						  char **ret_error);

/*
 * The value as flanneld's json.Marshal writes it, byte for byte:
 *   {"PublicIP":"192.0.2.3","PublicIPv6":null,"BackendType":"vxlan",
 *    "BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}   (one line)
 * BackendType is left out when empty; BackendData is written when
 * has_vtep_mac (VNI always with it, as Go has no omitempty there) and left
 * out otherwise; PublicIPv6 is always null (tartan is IPv4-only).
 * -EINVAL if backend_type has characters other than [A-Za-z0-9._-] (Go
 * would escape them; flannel's types never have any). Also -ENOMEM.
 */
_tartan_wur_ int tartan_flannel_lease_value_format(const struct tartan_flannel_lease_attrs *attrs,
						   char **ret_value);

/*
 * Whether a peer's lease can be used: its subnet is a network address of
 * the config's SubnetLen inside the Network; its PublicIP is a unicast host
 * address (not 0.0.0.0/8, loopback, multicast or broadcast); a "vxlan"
 * lease has a VtepMAC that is not zero, multicast or broadcast. 0, or
 * -EINVAL with a malloc'd reason in *ret_reason (if not NULL), e.g.
 * "subnet 10.6.1.0/24 is outside the network 10.5.0.0/16". Also -ENOMEM.
 */
_tartan_wur_ int tartan_flannel_lease_check(const struct tartan_flannel_config *config,
					    const struct tartan_ip4_net *subnet,
					    const struct tartan_flannel_lease_attrs *attrs,
					    char **ret_reason);

/*
 * Whether a peer's lease (attrs) names this node, whose own lease value is
 * ours: the same PublicIP (when ours has one), or the same VtepMAC for the
 * same BackendType, for which the FDB entry would send our own VTEP's frames
 * to that peer. 0, or -EINVAL with a malloc'd reason in *ret_reason (if not
 * NULL), e.g. "it names our own VtepMAC c6:d2:32:6f:8f:44". Also -ENOMEM.
 */
_tartan_wur_ int tartan_flannel_lease_check_not_ours(const struct tartan_flannel_lease_attrs *ours,
						     const struct tartan_flannel_lease_attrs *attrs,
						     char **ret_reason);

/*
 * A 48-bit MAC as Go's net.ParseMAC reads it: "c6:d2:32:6f:8f:44",
 * "c6-d2-32-6f-8f-44" or "c6d2.326f.8f44", hex in any case. 0 or -EINVAL.
 */
_tartan_wur_ int tartan_flannel_mac_parse(const char *s, size_t len, uint8_t ret_mac[6]);

/* lower-case, colon-separated, as Go's HardwareAddr.String(); returns buf */
const char *tartan_flannel_mac_format(const uint8_t mac[6],
				      char buf[static TARTAN_FLANNEL_MAC_STRLEN]);
