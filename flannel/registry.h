/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lease registry: the node's part of flannel's etcd protocol, on the
 * async etcd client. It waits for a valid network config (watching the
 * config key), acquires a subnet lease as flanneld does, renews it better
 * than flanneld does, and keeps a cache of every peer's lease from a list
 * plus a watch, re-listed after compaction.
 *
 * Facts: shared/docs/flannel-compat.md sections 1 and 2. Where tartan does
 * better than flanneld:
 *  - a lost create race is retried with a fresh list (flanneld exits);
 *  - renewal is a txn that only succeeds while our key holds our value, and
 *    the previous etcd lease is revoked (flanneld leaks one per renewal);
 *  - a key without an etcd lease is a reservation: kept, never given a TTL;
 *  - our key vanishing (expired in an outage, deleted by hand) re-creates the
 *    same subnet if it is free, instead of exiting;
 *  - our key overwritten by another writer (a put over it, any value but ours
 *    byte for byte) gets our value back at once, with a compare on the
 *    revision seen; when the overwrites go on, write-backs back off and the
 *    rival is reported (flannel/rival.h) until it stops;
 *  - peers come from one range call: no TimeToLive call per key.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "etcd/client.h"
#include "flannel/config.h"
#include "flannel/lease.h"
#include "flannel/rival.h"

struct ev_loop;
struct tartan_flannel_registry;

struct tartan_flannel_peer {
	struct tartan_ip4_net subnet;
	struct tartan_flannel_lease_attrs attrs;
	int64_t etcd_lease; /* 0: a reservation */
	int64_t mod_revision;
	int64_t create_revision; /* of its key: the older of two leases with one VtepMAC wins */
};

enum tartan_flannel_log_level {
	TARTAN_FLANNEL_LOG_ERROR,
	TARTAN_FLANNEL_LOG_WARNING,
	TARTAN_FLANNEL_LOG_INFO,
	TARTAN_FLANNEL_LOG_DEBUG,
};

struct tartan_flannel_registry_ops {
	/* a valid network config: the caller returns false when it cannot use it (e.g. its
	 * backend), and the registry waits for another one. Once one is accepted, later
	 * changes are only logged, as flanneld reads it once (a restart applies them). */
	bool (*config_ready)(struct tartan_flannel_registry *reg,
			     const struct tartan_flannel_config *config, void *userdata);
	/* our lease is held (first time, renewed, or moved to another subnet) */
	void (*lease_acquired)(struct tartan_flannel_registry *reg,
			       const struct tartan_ip4_net *subnet, void *userdata);
	/* a peer's lease appeared or changed; peer_removed carries the cached lease, since
	 * an etcd DELETE event has no value */
	void (*peer_added)(struct tartan_flannel_registry *reg,
			   const struct tartan_flannel_peer *peer, void *userdata);
	void (*peer_removed)(struct tartan_flannel_registry *reg,
			     const struct tartan_flannel_peer *peer, void *userdata);
	/* one line with context per event worth an operator's attention; the caller may
	 * rate-limit by key (a stable identifier of the kind of message) */
	void (*log)(enum tartan_flannel_log_level level, const char *key, const char *message,
		    void *userdata);
};

struct tartan_flannel_registry_options {
	const char *prefix;		       /* "/coreos.com/network" */
	uint32_t public_ip;		       /* host order */
	struct tartan_ip4_net previous_subnet; /* from subnet.env; len 0 = none */
	unsigned lease_ttl_s;		       /* 86400, as flanneld */
	unsigned renew_margin_s;	       /* 3600 */
	unsigned rival_clear_s;		       /* 0: TARTAN_FLANNEL_RIVAL_CLEAR_S */
};

int tartan_flannel_registry_new(struct ev_loop *loop, struct tartan_etcd_client *etcd,
				const struct tartan_flannel_registry_options *opts,
				const struct tartan_flannel_registry_ops *ops, void *userdata,
				struct tartan_flannel_registry **ret) _tartan_wur_;
void tartan_flannel_registry_free(struct tartan_flannel_registry *reg);

/* Starts acquiring a lease that carries attrs (BackendType, BackendData) once
 * the config is there; peers are watched once the lease is held. */
int tartan_flannel_registry_acquire(struct tartan_flannel_registry *reg,
				    const struct tartan_flannel_lease_attrs *attrs) _tartan_wur_;

/* What the registry holds, for status and tartanctl. */
const struct tartan_flannel_config *
tartan_flannel_registry_config(const struct tartan_flannel_registry *reg);
/* false until a lease is held */
bool tartan_flannel_registry_lease(const struct tartan_flannel_registry *reg,
				   struct tartan_ip4_net *ret_subnet, int64_t *ret_expiry_unix);
size_t tartan_flannel_registry_n_peers(const struct tartan_flannel_registry *reg);
const struct tartan_flannel_peer *
tartan_flannel_registry_peer(const struct tartan_flannel_registry *reg, size_t i);
/* "waiting-for-config", "acquiring", "running" */
const char *tartan_flannel_registry_state(const struct tartan_flannel_registry *reg);
/* both watches connected (or the peer watch dropped for a list by choice, not failed) */
bool tartan_flannel_registry_connected(const struct tartan_flannel_registry *reg);
/* The writer that overwrote our lease key, while it is remembered (rival.h); else NULL */
const struct tartan_flannel_rival *
tartan_flannel_registry_rival(const struct tartan_flannel_registry *reg);
/* overwrites of our lease key by other writers since start */
uint64_t tartan_flannel_registry_overwrites_total(const struct tartan_flannel_registry *reg);
