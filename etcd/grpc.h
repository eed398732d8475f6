/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one etcd call tartan makes over gRPC instead of the JSON gateway: range.
 *
 * Why: etcd 3.4's gateway turns a 5,000-key range into JSON with reflection;
 * that alone takes about 110 ms here, while the same range over gRPC (HTTP/2
 * on the same client port, which etcd's listener hands to its gRPC server)
 * answers in about 12 ms, and protobuf decodes far faster than JSON. Range is
 * the bulk read at start-up and after compaction; everything else stays JSON.
 *
 * Pure functions over buffers: the gRPC length-prefixed frame and the
 * protobuf messages etcdserverpb.RangeRequest / RangeResponse.
 */
#pragma once

#include <stddef.h>

#include "etcd/codec.h"

#define TARTAN_ETCD_GRPC_RANGE_PATH "/etcdserverpb.KV/Range"

/* A framed RangeRequest (5-byte gRPC prefix + protobuf) in *ret (free()). */
int tartan_etcd_grpc_encode_range(const struct tartan_etcd_range_req *req, char **ret,
				  size_t *ret_len) _tartan_wur_;

/* Decodes one framed RangeResponse into the same result struct the JSON
 * decoder fills; -EBADMSG for anything else (compressed frames included). */
int tartan_etcd_grpc_decode_range(const char *buf, size_t len,
				  struct tartan_etcd_result **ret) _tartan_wur_;

/*
 * The same, decoding in place: buf (malloc'ed, len bytes plus a writable byte
 * at buf[len]) becomes the result's backing store on success and the keys and
 * values point into it, NUL-terminated over the protobuf bytes that follow
 * them, which are all read before. No copy per key and value: for 5,000
 * leases that is 10,000 allocations and about 1 MB less at the daemon's peak.
 * On failure buf stays the caller's (its bytes may have been changed).
 */
int tartan_etcd_grpc_decode_range_in_place(char *buf, size_t len,
					   struct tartan_etcd_result **ret) _tartan_wur_;

/* grpc-message is percent-encoded: decode it for a log line (free()). */
char *tartan_etcd_grpc_message_decode(const char *text, size_t len);
