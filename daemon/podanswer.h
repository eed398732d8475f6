/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartand's answers to the tartan plugin's CNI requests (daemon/pods.h): {"result":...} or
 * {"error":{"code","msg","details"}} with the spec's codes (cni/result.h) or the plugin's
 * own (TARTAN_PODS_ERR_*), the messages for the failures every command shares, and the one
 * log line per answered request. A NULL answer is no memory.
 */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "daemon/ipam.h"
#include "netcfg/ip4.h"
#include "netcfg/nl.h"

/* {"error":...}: msg printf'd (at most 511 bytes), details NULL: "" */
json_t *tartan_podanswer_error(int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* {"result":result}, which it takes; NULL result: NULL */
json_t *tartan_podanswer_ok(json_t *result);

/* the kernel refused what (err: -errno; nl's last error as details) */
json_t *tartan_podanswer_netlink_error(struct tartan_nl *nl, int err, const char *what);

/* the pod's network namespace at path cannot be used (err: -errno of opening it) */
json_t *tartan_podanswer_netns_error(const char *path, int err);

/* the IPAM store in dir refused (err: -errno), the node's subnet for "no address left" */
json_t *tartan_podanswer_ipam_error(int err, const char *dir, const struct tartan_ip4_net *subnet);

/* ADD's static address addr is held: by whom, as the store in dir (ipam) tells, else in
 * another host-local store under foreign_root (tartan_ipam_set_foreign_root()) */
json_t *tartan_podanswer_in_use_error(struct tartan_ipam *ipam, uint32_t addr, const char *dir,
				      const char *foreign_root);

/* what the log line names of a request; strings borrowed, NULL when the request lacks one */
struct tartan_podanswer_request {
	const char *command, *id, *ifname, *args;
	uint32_t addr; /* the attachment's address before the request (DEL, CHECK), 0: unknown */
	size_t gc_released; /* GC: how many addresses it released */
};

/* Logs the request's line with its answer; t0: CLOCK_MONOTONIC when it came. */
void tartan_podanswer_log(const struct tartan_podanswer_request *r, json_t *answer,
			  const struct timespec *t0);
