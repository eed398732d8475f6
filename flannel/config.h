/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flannel's network config (the JSON at <prefix>/config) and its Backend.
 *
 * Facts: shared/docs/flannel-compat.md 1.2 and 4.2; flannel's
 * pkg/subnet/config.go (ParseConfig, CheckNetworkConfig) and
 * pkg/backend/vxlan/vxlan.go (parseVXLANConfig). Keys are matched the way
 * Go's encoding/json matches struct fields: exact or case-insensitive
 * (Unicode folding, so "network", "NETWORK" and "Network" are one key);
 * every matching key is decoded in turn, so a bad one fails the config and
 * the last good one wins (null leaves a field as it was); unknown keys are
 * ignored. Error reasons keep flannel's wording, with the values involved
 * added, so operators who know flanneld recognise them.
 *
 * Where jansson makes tartan read a text differently from Go (found by
 * differential testing against Go's decoder): a key repeated with the very
 * same spelling is seen once, with its last value (Go would also refuse a
 * bad earlier one); escapes in address strings are decoded, so
 * "10.5.0.0\/16" is 10.5.0.0/16 (flannel's IP types parse the raw text and
 * refuse it); "-0" is 0 (Go refuses it for an unsigned field); an integer
 * beyond 64 bits, a real beyond a double or invalid UTF-8 anywhere refuses
 * the text (Go takes them in keys it ignores).
 *
 * Where tartan refuses what flanneld takes: EnableIPv6 (tartan is IPv4-only
 * for now), EnableIPv4 false, SubnetMin above SubnetMax (flanneld then
 * starts and finds no subnet), and, in tartan_flannel_backend_parse(),
 * backend types other than host-gw, vxlan and alloc.
 *
 * Pure functions over buffers: no I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flannel/gojson.h"
#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* A checked config, with flannel's defaults filled in. */
struct tartan_flannel_config {
	struct tartan_ip4_net network; /* host bits cleared, as Go's ParseCIDR does */
	uint8_t subnet_len;	       /* 2..30; default 24, or network prefix + 2 */
	uint32_t subnet_min;	       /* address of the first subnet that may be leased */
	uint32_t subnet_max;	       /* address of the last one (its start, not its end) */
	bool enable_nftables;
	char *backend_type; /* lower-cased Backend.Type; "udp" when Backend is absent */
	char *backend_json; /* Backend as compact JSON; NULL when absent */
};

/*
 * Parse and check the config text. On -EINVAL, *ret_error (if ret_error is
 * not NULL) is a malloc'd reason for the log, e.g. "SubnetLen must be less
 * than /31". Also -ENOMEM.
 */
_tartan_wur_ int tartan_flannel_config_parse(const char *buf, size_t len,
					     struct tartan_flannel_config **ret_config,
					     char **ret_error);
void tartan_flannel_config_free(struct tartan_flannel_config *config);

/* "<prefix>/config", joined as Go's path.Join does (no double slashes) */
_tartan_wur_ int tartan_flannel_config_key(const char *prefix, char **ret_key);

enum tartan_flannel_backend_kind {
	TARTAN_FLANNEL_BACKEND_ALLOC,
	TARTAN_FLANNEL_BACKEND_HOST_GW,
	TARTAN_FLANNEL_BACKEND_VXLAN,
};

#define TARTAN_FLANNEL_VXLAN_DEFAULT_VNI 1
/* flannel leaves Port 0 to the kernel, whose default (vxlan's udp_port) is 8472 */
#define TARTAN_FLANNEL_VXLAN_DEFAULT_PORT 8472
/* the vxlan device's MTU and FLANNEL_MTU are the configured MTU minus this */
#define TARTAN_FLANNEL_VXLAN_OVERHEAD 50

struct tartan_flannel_vxlan_options {
	uint32_t vni;  /* 0..16777215, default 1 */
	uint16_t port; /* default (absent or 0) 8472 */
	uint32_t mtu;  /* 0: the external interface's MTU; else 118..65535 */
	bool gbp;
	bool learning;
	bool direct_routing;
};

struct tartan_flannel_backend {
	enum tartan_flannel_backend_kind kind;
	const char *type;		/* "alloc", "host-gw" or "vxlan" (static) */
	const char *lease_backend_type; /* BackendType of our lease: "" for alloc (static) */
	struct tartan_flannel_vxlan_options vxlan; /* kind VXLAN only, zero otherwise */
};

/*
 * The backend a parsed config asks for, with its options. -EINVAL with a
 * malloc'd reason for udp (flannel's default when Backend is absent), for
 * flannel's other backends and unknown types, and for bad vxlan options.
 * host-gw and alloc have no options; other keys are ignored, as flannel does.
 */
_tartan_wur_ int tartan_flannel_backend_parse(const struct tartan_flannel_config *config,
					      struct tartan_flannel_backend *ret_backend,
					      char **ret_error);
