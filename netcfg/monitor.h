/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The netlink monitor socket of STYLE.md's "Netlink" section: non-blocking,
 * subscribed to link, IPv4 address, IPv4 route and neighbour notifications,
 * never used for requests. The caller watches its fd with its loop and calls
 * tartan_nl_monitor_read() when it is readable; each notification becomes one
 * small event. When the kernel had to drop notifications (the receive buffer
 * overflowed: ENOBUFS) read says so, and the caller must treat everything as
 * changed (dump and reconcile), since it cannot know what it missed.
 *
 * A raw socket rather than libnl's: libnl folds ENOBUFS into NLE_NOMEM, and
 * overflow is the one error a monitor must tell apart.
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netcfg/ip4.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

enum tartan_nl_event_kind {
	TARTAN_NL_EVENT_LINK,
	TARTAN_NL_EVENT_ADDR,
	TARTAN_NL_EVENT_ROUTE,
	TARTAN_NL_EVENT_NEIGH, /* an IPv4 neighbour */
	TARTAN_NL_EVENT_FDB,   /* an AF_BRIDGE neighbour: an FDB entry */
};

struct tartan_nl_event {
	enum tartan_nl_event_kind kind;
	bool deleted;	 /* RTM_DEL*; else new or changed */
	uint32_t sender; /* nlmsg_pid: the port id of the socket whose request caused it, 0 kernel */
	int ifindex;	 /* link, address, neighbour, FDB: the link; route: its output link (0 none) */
	char name[IF_NAMESIZE]; /* link: its name ("" when absent) */
	unsigned flags;		/* link: ifi_flags (IFF_UP...) */
	unsigned mtu;		/* link: IFLA_MTU, 0 when absent */
	int master;		/* link: IFLA_MASTER, the bridge it is a port of; 0 none */
	uint8_t protocol;	/* route */
	uint32_t table;		/* route */
	/* route: destination; address: address/prefix; neighbour: ip/32 */
	struct tartan_ip4_net dst;
};

typedef void (*tartan_nl_event_fn)(const struct tartan_nl_event *event, void *userdata);

struct tartan_nl_monitor;

/* Opens and subscribes the socket in the caller's current network namespace. */
_tartan_wur_ int tartan_nl_monitor_new(struct tartan_nl_monitor **ret);
void tartan_nl_monitor_free(struct tartan_nl_monitor *m);
int tartan_nl_monitor_fd(const struct tartan_nl_monitor *m);

/*
 * Reads every notification queued now and calls fn for each. 0 once the
 * socket is drained; -ENOBUFS when notifications were lost (after which the
 * socket goes on working; the caller resyncs); another -errno on a socket error.
 */
_tartan_wur_ int tartan_nl_monitor_read(struct tartan_nl_monitor *m, tartan_nl_event_fn fn,
					void *userdata);

/*
 * The parser under tartan_nl_monitor_read: the notifications in buf (one
 * datagram: whole netlink messages), one call of fn per message that is a
 * link, IPv4 address, IPv4 route, neighbour or FDB notification. Messages
 * that are truncated, malformed or of other kinds are skipped. buf must be
 * 4-byte aligned (netlink aligns messages and attributes to 4 within it). Pure:
 * the fuzz target calls it.
 */
void tartan_nl_monitor_parse(const void *buf, size_t len, tartan_nl_event_fn fn, void *userdata);
