/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `tartanctl network get` and `network set`, their pure half: checking a network config
 * exactly as tartand does (flannel/config.h, then the backend), and the text printed for
 * what etcd holds. No I/O: the unit tests call it directly.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* the largest config tartanctl reads from a file or etcd (flannel's are a few lines) */
#define TARTAN_CTL_NETWORK_MAX (1024 * 1024)

/*
 * Checks the config text as tartand would before it asks for a lease:
 * tartan_flannel_config_parse(), then tartan_flannel_backend_parse(). 0 and *ret_summary
 * (a new object) when tartand takes it:
 *   {"network":"10.5.0.0/16","subnet_len":24,"subnet_min":"10.5.1.0",
 *    "subnet_max":"10.5.255.0","backend":{"type":"vxlan","vni":1,"port":8472,"mtu":0,
 *    "direct_routing":false,"learning":false,"gbp":false}}
 * (backend options only for vxlan). -EINVAL with *ret_error flannel's reason (malloc'd)
 * when it does not; -ENOMEM.
 */
_tartan_wur_ int tartan_ctl_network_check(const char *buf, size_t len, json_t **ret_summary,
					  char **ret_error);

/*
 * The object `network get --json` prints, from what etcd holds at key:
 *   {"key","value" (the text as stored),"mod_revision","create_revision","version",
 *    "valid":true,"config":{summary}}  or  ..."valid":false,"error":"reason"
 */
_tartan_wur_ int tartan_ctl_network_describe(const char *key, const char *value, size_t len,
					     int64_t mod_revision, int64_t create_revision,
					     int64_t version, json_t **ret);

/*
 * Text for `network get` from that object: "Key:", "Revision:", then "Network:",
 * "Subnets:", "Backend:" (or "Invalid:" and the reason), then "Config:" and the value
 * indented (as it is, escaped, when it is not JSON). Strings escaped as in answer.h.
 * -EBADMSG when the object has no "key" or "value" string.
 */
_tartan_wur_ int tartan_ctl_render_network(json_t *described, char **ret_text);
