/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod's static address and MAC, as a runtime asks for them in an ADD (CNI conventions):
 *  - CNI_ARGS "IP=a.b.c.d" and "MAC=aa:bb:cc:dd:ee:ff" (podman's --ip and --mac-address),
 *    read as the reference plugins' LoadArgs reads CNI_ARGS: pairs split on ';', each
 *    exactly "KEY=VALUE" (one '='), the last of a key counting; keys other than
 *    IgnoreUnknown, IP, MAC, K8S_POD_NAMESPACE and K8S_POD_NAME are an error unless
 *    IgnoreUnknown is "1" or "true" (any case), as bridge and host-local answer
 *    "ARGS: unknown args"; an empty IP= or MAC= asks for nothing, as there;
 *  - the "ips" and "mac" capabilities in the config's runtimeConfig: {"ips":["a.b.c.d" or
 *    "a.b.c.d/len"], "mac":"aa:bb:cc:dd:ee:ff"}; an empty list asks for nothing.
 * The node hands out IPv4 addresses only, one per attachment: an IPv6 address, or more
 * than one, is refused. A MAC must be a unicast one and not all zeros (the kernel's
 * is_valid_ether_addr()). When both places ask, they must agree.
 *
 * Errors carry the CNI code of the place the request came from: 4 (invalid environment
 * variables) for CNI_ARGS, 7 (invalid network config) for runtimeConfig and for
 * disagreements. The same codes go with the request, for the checks only the daemon can
 * make (the address outside the node's subnet). Pure: no I/O; the fuzzer calls it.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

#define TARTAN_PODREQ_MSG_MAX 256

struct tartan_podreq {
	bool has_addr;
	uint32_t addr;	   /* host byte order */
	unsigned addr_len; /* the "/len" of a runtimeConfig address; 0: none given */
	int addr_code;	   /* the CNI error code for this request: 4 or 7 */
	bool has_mac;
	uint8_t mac[6];
	int mac_code;
};

struct tartan_podreq_error {
	int code; /* the CNI error code */
	char msg[TARTAN_PODREQ_MSG_MAX];
};

/*
 * Parses args (CNI_ARGS, NULL: none) and config (the plugin's config object, NULL: none;
 * its "runtimeConfig" is read) into *ret. -EINVAL with *ret_error (code and a message that
 * names the key and the reason) when they do not parse or ask for what cannot be given.
 */
_tartan_wur_ int tartan_podreq_parse(const char *args, const json_t *config,
				     struct tartan_podreq *ret,
				     struct tartan_podreq_error *ret_error);
