/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A synchronous wrapper over the async client, for tools and tests: each call
 * runs a private libev loop until its answer is in. Not for the daemon.
 */
#pragma once

#include "etcd/client.h"

struct tartan_etcd_sync;

int tartan_etcd_sync_new(const struct tartan_etcd_options *opts,
			 struct tartan_etcd_sync **ret) _tartan_wur_;
void tartan_etcd_sync_free(struct tartan_etcd_sync *s);

/* The async client on the private loop, for watches driven by _sync_run(). */
struct tartan_etcd_client *tartan_etcd_sync_client(struct tartan_etcd_sync *s);
struct ev_loop *tartan_etcd_sync_loop(struct tartan_etcd_sync *s);
/* Runs the loop until *done is true or timeout_ms passes (-ETIMEDOUT). */
int tartan_etcd_sync_run(struct tartan_etcd_sync *s, const bool *done,
			 unsigned timeout_ms) _tartan_wur_;

/* Each returns 0 and the result in *ret (tartan_etcd_result_free()), or
 * -errno; the error message of the last failure is in tartan_etcd_sync_error(). */
int tartan_etcd_sync_range(struct tartan_etcd_sync *s, const struct tartan_etcd_range_req *req,
			   struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_put(struct tartan_etcd_sync *s, const struct tartan_etcd_put_req *req,
			 struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_delete(struct tartan_etcd_sync *s, const struct tartan_etcd_delete_req *req,
			    struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_txn(struct tartan_etcd_sync *s, const struct tartan_etcd_txn_req *req,
			 struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_lease_grant(struct tartan_etcd_sync *s, int64_t ttl, int64_t id,
				 struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_lease_revoke(struct tartan_etcd_sync *s, int64_t id,
				  struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_lease_keepalive(struct tartan_etcd_sync *s, int64_t id,
				     struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_lease_timetolive(struct tartan_etcd_sync *s, int64_t id,
				      struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_compact(struct tartan_etcd_sync *s, int64_t revision,
			     struct tartan_etcd_result **ret) _tartan_wur_;
int tartan_etcd_sync_status(struct tartan_etcd_sync *s,
			    struct tartan_etcd_result **ret) _tartan_wur_;
const char *tartan_etcd_sync_error(const struct tartan_etcd_sync *s);
