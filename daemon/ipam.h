/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pods' address store, on the on-disk layout of the CNI reference
 * plugin host-local (plugins/ipam/host-local/backend/disk), so that an
 * operator's tools, and a node switched from bridge + host-local to tartan
 * and back, read and write the same state. One directory per network
 * (host-local: <dataDir>/<network name>, by default /var/lib/cni/networks/<name>)
 * holds:
 *  - one file per held address, named by the address ("10.5.3.7", Go's
 *    net.IP.String(): no leading zeros), mode 0644, holding exactly
 *    "<containerID>\r\n<ifname>" with no trailing newline. host-local before
 *    v0.8 wrote the container id alone: such files are read as the id with no
 *    interface, and match any interface of that container, as host-local does;
 *  - "last_reserved_ip.0": the address handed out last (no newline), where the
 *    next search starts (the ".0" is the index of the range in host-local's
 *    range set; tartan has one range);
 *  - "lock": an empty file that every reader and writer holds with flock(2)
 *    LOCK_EX for the time of one operation, so host-local and tartan may work
 *    on the same directory at the same time.
 *
 * The next address follows host-local's round robin: from the address after
 * last_reserved_ip.0 (or the first host address if it is missing, unreadable
 * or outside the subnet) up to the last host address, then from the first
 * host, until each was tried once; the network address, the broadcast address
 * and the gateway are never handed out. Subnets smaller than /30 are refused,
 * as host-local does.
 *
 * Crash safety. SIGKILL of the daemon at any instant: an address file is
 * written complete under a temp name (".tartan-ipam.tmp-RANDOM") and then
 * link(2)ed to the address's name. link fails with EEXIST when the name is
 * taken, so it is an atomic "create if absent" that gives the name its full
 * content at once (the page cache is the same for every process): no address
 * can be seen half-written or held twice, none is lost. A release is one
 * unlink. Temp files a crash left behind are removed by tartan_ipam_new().
 * The owner of a container id is found again after a crash by reading the
 * files, so an allocation repeated by a restarted daemon returns the address
 * it held, never a second.
 * Power cut: the new files and the directory are fsync'ed by
 * tartan_ipam_sync(), which the daemon calls once its answers are sent (each
 * turn of its loop), not before each answer: the two fsyncs cost 0.5 to 2 ms
 * on the VMs here, more than the rest of an ADD, and a power cut that loses
 * the last allocations also ends the pods they were made for (nothing a pod
 * needs hangs on them surviving). The order (content, then link) still holds
 * on disk: an address file is never seen without its content, though it may
 * be missing after the cut. At most TARTAN_IPAM_UNSYNCED_MAX allocations wait;
 * one more syncs them first. tartan_ipam_free() syncs what waits.
 *
 * The store caches nothing: each call takes the lock and reads the directory,
 * so changes made meanwhile by host-local or by hand are always seen.
 *
 * The lock is waited for at most TARTAN_IPAM_LOCK_TIMEOUT_MS (polling, so a
 * hung process holding it cannot hang the daemon's loop for longer); then the
 * call fails with -EAGAIN ("try again later" for a CNI runtime).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

#define TARTAN_IPAM_LOCK_TIMEOUT_MS 5000
/* allocations whose files wait for tartan_ipam_sync() (one fd each) */
#define TARTAN_IPAM_UNSYNCED_MAX 64
/* address files larger than this are not read: no valid one comes near */
#define TARTAN_IPAM_FILE_MAX 4096
/* a container id as the CNI runtimes make them is 64 hex digits; allow far more */
#define TARTAN_IPAM_ID_MAX 1024
/* IFNAMSIZ - 1 */
#define TARTAN_IPAM_IFNAME_MAX 15

struct tartan_ipam;

enum tartan_ipam_state {
	/* an address of the current subnet that could be handed out */
	TARTAN_IPAM_HELD,
	/* its content parses, but the address is not one the current subnet hands
	 * out: another subnet (the node's subnet changed), or its network,
	 * broadcast or gateway address */
	TARTAN_IPAM_OUTSIDE,
	/* named as an address but not a regular file, or its content does not
	 * parse: left alone, and the address is never handed out */
	TARTAN_IPAM_BAD,
};

struct tartan_ipam_entry {
	uint32_t addr; /* host byte order */
	enum tartan_ipam_state state;
	char *id;     /* NULL when BAD */
	char *ifname; /* NULL when BAD, and for a file that holds only the id */
};

/* one attachment the runtime says is valid, for tartan_ipam_gc() */
struct tartan_ipam_attachment {
	const char *id;
	const char *ifname;
};

/*
 * Opens the store in dir (the network's directory itself, created with its
 * missing parents, 0755, as host-local does), for allocations from subnet
 * (/30 or larger: else -EINVAL) with gateway (0: the first host address, as
 * host-local's default; else it must lie inside subnet: -EINVAL). Creates the
 * lock file, and under the lock removes the temp files a crash left behind
 * (see tartan_ipam_temp_removed()). Files that do not parse are not touched:
 * tartan_ipam_list() reports them as TARTAN_IPAM_BAD.
 */
_tartan_wur_ int tartan_ipam_new(const char *dir, const struct tartan_ip4_net *subnet,
				 uint32_t gateway, struct tartan_ipam **ret);

/* Syncs what waits (tartan_ipam_sync(), errors ignored: call it first to see them), closes
 * the lock file. NULL is fine. The files stay. */
void tartan_ipam_free(struct tartan_ipam *ipam);

/* fsyncs the address files made and the directory changed since the last call: the
 * allocations and releases made so far then survive a power cut. 0 when nothing waits;
 * else 0 or the first error (every file is tried). NULL is fine. */
_tartan_wur_ int tartan_ipam_sync(struct tartan_ipam *ipam);
bool tartan_ipam_sync_pending(const struct tartan_ipam *ipam);

/* How many temp files left by a crash tartan_ipam_new() removed, for its log. */
unsigned tartan_ipam_temp_removed(const struct tartan_ipam *ipam);

/*
 * Another host-local dataDir (host-local's default /var/lib/cni/networks; NULL
 * or "": none, the default): every network directory in it but the store's
 * own is read on each allocation, and any address file there that lies in
 * the store's subnet counts as taken, so a node taken over from bridge +
 * host-local (flannel's CNI plugin) never hands out an address a pod of that
 * era still holds. Read only, without those directories' locks; a missing
 * root holds nothing. tartan_ipam_allocate() fails with the error when a
 * directory there cannot be read (an address is never handed out unchecked).
 */
_tartan_wur_ int tartan_ipam_set_foreign_root(struct tartan_ipam *ipam, const char *root);

/* The lock wait (default TARTAN_IPAM_LOCK_TIMEOUT_MS); for tests. */
void tartan_ipam_set_lock_timeout(struct tartan_ipam *ipam, unsigned msec);

/*
 * Gives the attachment (id, ifname) an address of the subnet. Idempotent: if
 * it holds one already (as tartan_ipam_find() says), that one is returned and
 * nothing is written. Otherwise the next free address after the last reserved
 * one is taken and last_reserved_ip.0 updated. -ENOSPC when every address is
 * held; -EINVAL when id or ifname cannot be stored in host-local's format
 * (see tartan_ipam_attachment_is_valid()); -EAGAIN when the lock stays taken.
 */
_tartan_wur_ int tartan_ipam_allocate(struct tartan_ipam *ipam, const char *id, const char *ifname,
				      uint32_t *ret_addr);

/*
 * Gives the attachment (id, ifname) exactly addr: a static address the runtime asked for,
 * reserved as host-local reserves a requested IP (last_reserved_ip.0 updated too). -EDOM
 * when the subnet does not hand addr out (outside it, its network, broadcast or gateway
 * address); -EADDRINUSE when another attachment holds it, a file that does not parse is
 * named by it, or a store under the foreign root holds it (tartan_ipam_list() says who).
 * Idempotent: when (id, ifname) holds addr already, nothing is written. When it holds
 * other addresses of the subnet (an ADD repeated with another request), addr is taken
 * first and they are released after. -EINVAL and -EAGAIN as tartan_ipam_allocate().
 */
_tartan_wur_ int tartan_ipam_allocate_addr(struct tartan_ipam *ipam, const char *id,
					   const char *ifname, uint32_t addr);

/*
 * The address (id, ifname) holds in the current subnet, found as host-local's
 * FindByID does: files holding exactly id and ifname, and if there is none,
 * files holding only id (written by host-local before v0.8). -ENOENT when it
 * holds none in the subnet (an address in another subnet does not count: it is
 * for tartan_ipam_release_outside()).
 */
_tartan_wur_ int tartan_ipam_find(struct tartan_ipam *ipam, const char *id, const char *ifname,
				  uint32_t *ret_addr);

/*
 * Releases every address (id, ifname) holds, in any subnet, matched as in
 * tartan_ipam_find(). Idempotent: holding nothing is success. *ret_n (may be
 * NULL) is how many were released; *ret_addr (may be NULL; set only when one
 * was) the lowest of them, for the caller's log line.
 */
_tartan_wur_ int tartan_ipam_release(struct tartan_ipam *ipam, const char *id, const char *ifname,
				     size_t *ret_n, uint32_t *ret_addr);

/*
 * CNI GC: releases every address whose holder is not among the n valid
 * attachments (a file holding only an id is kept when any valid attachment
 * has that id). BAD files are left alone. The released entries are returned
 * (ordered by address; free with tartan_ipam_entries_free()).
 */
_tartan_wur_ int tartan_ipam_gc(struct tartan_ipam *ipam,
				const struct tartan_ipam_attachment *valid, size_t n,
				struct tartan_ipam_entry **ret_released, size_t *ret_n);

/*
 * After a subnet change: releases every TARTAN_IPAM_OUTSIDE entry and returns
 * them (ordered by address), so the daemon can report which pods lost their
 * address.
 */
_tartan_wur_ int tartan_ipam_release_outside(struct tartan_ipam *ipam,
					     struct tartan_ipam_entry **ret_released,
					     size_t *ret_n);

/* Every address file, ordered by address, with its state. */
_tartan_wur_ int tartan_ipam_list(struct tartan_ipam *ipam, struct tartan_ipam_entry **ret_entries,
				  size_t *ret_n);

void tartan_ipam_entries_free(struct tartan_ipam_entry *entries, size_t n);

/*
 * Whether (id, ifname) can be stored and found again in host-local's format:
 * id of 1..TARTAN_IPAM_ID_MAX printable ASCII bytes without spaces (host-local
 * trims the content, and "\r\n" separates the fields); ifname of
 * 1..TARTAN_IPAM_IFNAME_MAX printable ASCII bytes without spaces, '/' or ':',
 * and not "." or ".." (the kernel's rules for a link name).
 */
bool tartan_ipam_attachment_is_valid(const char *id, const char *ifname);

/*
 * Whether (id, ifname) is one of the n valid attachments, as GC decides it:
 * ifname NULL (a file holding the id alone, as host-local wrote before v0.8)
 * matches any interface of id. Entries of valid with a NULL field match nothing.
 */
bool tartan_ipam_attachment_listed(const struct tartan_ipam_attachment *valid, size_t n,
				   const char *id, const char *ifname);

/*
 * Parses the content of an address file (len bytes, NULs included) as
 * host-local reads it: surrounding white space trimmed, then "ID\r\nIFNAME",
 * or "ID" alone (*ret_ifname NULL). -EBADMSG when it does not parse: empty,
 * longer than TARTAN_IPAM_FILE_MAX, control characters or white space inside
 * the fields, an empty field. Pure: for tests and the fuzzer.
 */
_tartan_wur_ int tartan_ipam_content_parse(const char *buf, size_t len, char **ret_id,
					   char **ret_ifname);
