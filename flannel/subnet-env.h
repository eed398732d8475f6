/* SPDX-License-Identifier: Apache-2.0 */
/*
 * subnet.env (default /run/flannel/subnet.env) as flanneld writes and reads
 * it (flannel-compat.md 3; pkg/subnet/subnet.go WriteSubnetFile, main.go
 * ReadCIDRsFromSubnetFile). Writing the file (atomically, mode 0644) is the
 * caller's; this is the text only.
 *
 * Pure functions over buffers: no I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* the longest IPv4 subnet.env, with its NUL */
#define TARTAN_SUBNET_ENV_MAX 128

/*
 * Render the IPv4 subnet.env, byte for byte as flanneld:
 *   FLANNEL_NETWORK=10.5.0.0/16
 *   FLANNEL_SUBNET=10.5.72.1/24
 *   FLANNEL_MTU=1450
 *   FLANNEL_IPMASQ=false
 * each line ending in "\n", nothing else. FLANNEL_SUBNET is the lease's
 * first host address with its length. Writes a NUL-terminated text into buf
 * and its length (without the NUL) into *ret_len. -EINVAL if network or
 * subnet has host bits or subnet is longer than /30 (flannel's SubnetLen
 * limit), -ENOBUFS if the text does not fit in size (a buffer of
 * TARTAN_SUBNET_ENV_MAX bytes always fits).
 */
_tartan_wur_ int tartan_subnet_env_format(const struct tartan_ip4_net *network,
					  const struct tartan_ip4_net *subnet, uint32_t mtu,
					  bool ip_masq, char *buf, size_t size, size_t *ret_len);

/* What an earlier subnet.env says; a has_ flag is false for what it doesn't. */
struct tartan_subnet_env {
	bool has_network;
	struct tartan_ip4_net network; /* FLANNEL_NETWORK */
	bool has_subnet;
	struct tartan_ip4_net
		subnet; /* FLANNEL_SUBNET as a network: 10.5.72.1/24 -> 10.5.72.0/24 */
	bool has_mtu;
	uint32_t mtu; /* FLANNEL_MTU */
	bool has_ip_masq;
	bool ip_masq; /* FLANNEL_IPMASQ: "true" or "false" */
};

/*
 * Read a subnet.env as flanneld reads it with godotenv v1.5.1:
 * "KEY=VALUE" or "KEY: VALUE" statements, an optional "export " before the
 * key, blank lines and "#" comment lines skipped, " #comment" cut from
 * unquoted values, values trimmed, single or double quotes stripped (with
 * \n, \r and \-escapes in double quotes), CRLF taken as LF, the last of a
 * repeated key winning. A file godotenv refuses (a key with other than
 * [A-Za-z0-9_.] and blanks, a line without "=" or ":" before the next line,
 * an unterminated quote) gives -EINVAL with a malloc'd reason in *ret_error
 * (if not NULL): flanneld then has no previous subnet either.
 *
 * FLANNEL_NETWORK and FLANNEL_SUBNET are comma lists for flanneld: entries
 * that don't parse as CIDRs are skipped and the value is used only if
 * exactly one entry is left. Unlike godotenv, "$VAR" in a value is not
 * expanded (the value then just doesn't parse); tartan and flanneld never
 * write one. Also -ENOMEM.
 */
_tartan_wur_ int tartan_subnet_env_parse(const char *buf, size_t len,
					 struct tartan_subnet_env *ret_env, char **ret_error);
