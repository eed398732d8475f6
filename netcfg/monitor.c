/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netcfg/monitor.h"

/*
 * Notifications come in bursts (5,000 routes replaced make 5,000 of them); a large
 * buffer makes overflow rare, and overflow is handled anyway. SO_RCVBUFFORCE needs
 * CAP_NET_ADMIN, which tartand has; SO_RCVBUF (capped by rmem_max) is the fallback.
 */
#define MONITOR_RCVBUF (8 * 1024 * 1024)
/* one datagram holds one or a few notifications; 32 KiB is libnl's and iproute2's size */
#define MONITOR_READ_BUF 32768

struct tartan_nl_monitor {
	int fd;
	char *buf;
};

int tartan_nl_monitor_new(struct tartan_nl_monitor **ret)
{
	static const int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE,
				      RTNLGRP_NEIGH };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct tartan_nl_monitor *m;
	int size = MONITOR_RCVBUF, err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->buf = malloc(MONITOR_READ_BUF);
	m->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (!m->buf || m->fd < 0) {
		err = m->buf ? -errno : -ENOMEM;
		goto fail;
	}
	if (setsockopt(m->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto fail;
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (setsockopt(m->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i],
			       sizeof(groups[i])) < 0) {
			err = -errno;
			goto fail;
		}
	}
	*ret = m;
	return 0;
fail:
	tartan_nl_monitor_free(m);
	return err;
}

void tartan_nl_monitor_free(struct tartan_nl_monitor *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->buf);
	free(m);
}

int tartan_nl_monitor_fd(const struct tartan_nl_monitor *m)
{
	return m->fd;
}

/* The attributes after a family header of hdrlen bytes: tb[type] = the last one of each
 * type up to max (others ignored). false when the message is too short for the header. */
static bool attrs_parse(const struct nlmsghdr *h, size_t hdrlen, const struct rtattr **tb,
			unsigned max)
{
	const struct rtattr *a;
	size_t len;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (h->nlmsg_len < NLMSG_LENGTH(hdrlen))
		return false;
	len = h->nlmsg_len - NLMSG_SPACE(hdrlen);
	if (h->nlmsg_len < NLMSG_SPACE(hdrlen))
		len = 0; /* a header that fills the message exactly, without padding */
	a = (const struct rtattr *)((const char *)NLMSG_DATA(h) + NLMSG_ALIGN(hdrlen));
	for (int l = (int)len; RTA_OK(a, l); a = RTA_NEXT(a, l)) {
		if (a->rta_type <= max)
			tb[a->rta_type] = a;
	}
	return true;
}

static bool rta_addr4(const struct rtattr *a, uint32_t *ret)
{
	uint32_t be;

	if (!a || RTA_PAYLOAD(a) != sizeof(be))
		return false;
	memcpy(&be, RTA_DATA(a), sizeof(be));
	*ret = ntohl(be);
	return true;
}

static bool rta_u32(const struct rtattr *a, uint32_t *ret)
{
	if (!a || RTA_PAYLOAD(a) != sizeof(*ret))
		return false;
	memcpy(ret, RTA_DATA(a), sizeof(*ret));
	return true;
}

/* family headers are copied out of the buffer: a copy costs nothing and the parsers then
 * need no more than the 4-byte alignment netlink guarantees */
static bool parse_link(const struct nlmsghdr *h, struct tartan_nl_event *e)
{
	const struct rtattr *tb[IFLA_MAX + 1];
	struct ifinfomsg ifi;
	uint32_t master;

	if (!attrs_parse(h, sizeof(ifi), tb, IFLA_MAX))
		return false;
	memcpy(&ifi, NLMSG_DATA(h), sizeof(ifi));
	/* AF_BRIDGE link messages are about bridge ports (a port leaving says DELLINK of a
	 * link that stays): only the links themselves count */
	if (ifi.ifi_family != AF_UNSPEC)
		return false;
	e->kind = TARTAN_NL_EVENT_LINK;
	e->ifindex = ifi.ifi_index;
	e->flags = ifi.ifi_flags;
	(void)rta_u32(tb[IFLA_MTU], &e->mtu);
	if (rta_u32(tb[IFLA_MASTER], &master))
		e->master = (int)master;
	if (tb[IFLA_IFNAME]) {
		size_t n = RTA_PAYLOAD(tb[IFLA_IFNAME]);

		if (n >= sizeof(e->name))
			n = sizeof(e->name) - 1;
		memcpy(e->name, RTA_DATA(tb[IFLA_IFNAME]), n);
		e->name[n] = '\0';
	}
	return true;
}

static bool parse_addr(const struct nlmsghdr *h, struct tartan_nl_event *e)
{
	const struct rtattr *tb[IFA_MAX + 1];
	struct ifaddrmsg ifa;

	if (!attrs_parse(h, sizeof(ifa), tb, IFA_MAX))
		return false;
	memcpy(&ifa, NLMSG_DATA(h), sizeof(ifa));
	if (ifa.ifa_family != AF_INET || ifa.ifa_prefixlen > 32)
		return false;
	e->kind = TARTAN_NL_EVENT_ADDR;
	e->ifindex = (int)ifa.ifa_index;
	/* IFA_LOCAL is the address itself; IFA_ADDRESS the peer's on point-to-point links */
	if (!rta_addr4(tb[IFA_LOCAL], &e->dst.addr))
		(void)rta_addr4(tb[IFA_ADDRESS], &e->dst.addr);
	e->dst.len = ifa.ifa_prefixlen;
	return true;
}

static bool parse_route(const struct nlmsghdr *h, struct tartan_nl_event *e)
{
	const struct rtattr *tb[RTA_MAX + 1];
	struct rtmsg rtm;
	uint32_t oif = 0;

	if (!attrs_parse(h, sizeof(rtm), tb, RTA_MAX))
		return false;
	memcpy(&rtm, NLMSG_DATA(h), sizeof(rtm));
	if (rtm.rtm_family != AF_INET || rtm.rtm_dst_len > 32)
		return false;
	e->kind = TARTAN_NL_EVENT_ROUTE;
	e->protocol = rtm.rtm_protocol;
	if (!rta_u32(tb[RTA_TABLE], &e->table))
		e->table = rtm.rtm_table;
	if (!rta_addr4(tb[RTA_DST], &e->dst.addr))
		e->dst.addr = 0;
	e->dst.len = rtm.rtm_dst_len;
	if (rta_u32(tb[RTA_OIF], &oif))
		e->ifindex = (int)oif;
	return true;
}

static bool parse_neigh(const struct nlmsghdr *h, struct tartan_nl_event *e)
{
	const struct rtattr *tb[NDA_MAX + 1];
	struct ndmsg ndm;

	if (!attrs_parse(h, sizeof(ndm), tb, NDA_MAX))
		return false;
	memcpy(&ndm, NLMSG_DATA(h), sizeof(ndm));
	if (ndm.ndm_family == AF_INET)
		e->kind = TARTAN_NL_EVENT_NEIGH;
	else if (ndm.ndm_family == AF_BRIDGE)
		e->kind = TARTAN_NL_EVENT_FDB;
	else
		return false;
	e->ifindex = ndm.ndm_ifindex;
	if (rta_addr4(tb[NDA_DST], &e->dst.addr))
		e->dst.len = 32;
	return true;
}

void tartan_nl_monitor_parse(const void *buf, size_t len, tartan_nl_event_fn fn, void *userdata)
{
	const char *p = buf;
	struct nlmsghdr hdr;

	while (len >= sizeof(hdr)) {
		/* messages start 4-byte aligned in an aligned buffer (see the header): the
		 * parsers read them in place; the header is copied for its checks */
		const struct nlmsghdr *h = (const struct nlmsghdr *)p;
		struct tartan_nl_event e = { 0 };
		bool ok = false;

		memcpy(&hdr, p, sizeof(hdr));
		if (hdr.nlmsg_len < sizeof(hdr) || hdr.nlmsg_len > len)
			return; /* truncated: nothing after it can be trusted */
		e.sender = hdr.nlmsg_pid;
		switch (hdr.nlmsg_type) {
		case RTM_DELLINK:
			e.deleted = true;
			/* fall through */
		case RTM_NEWLINK:
			ok = parse_link(h, &e);
			break;
		case RTM_DELADDR:
			e.deleted = true;
			/* fall through */
		case RTM_NEWADDR:
			ok = parse_addr(h, &e);
			break;
		case RTM_DELROUTE:
			e.deleted = true;
			/* fall through */
		case RTM_NEWROUTE:
			ok = parse_route(h, &e);
			break;
		case RTM_DELNEIGH:
			e.deleted = true;
			/* fall through */
		case RTM_NEWNEIGH:
			ok = parse_neigh(h, &e);
			break;
		default:
			break;
		}
		if (ok)
			fn(&e, userdata);
		if (NLMSG_ALIGN(hdr.nlmsg_len) >= len)
			return;
		p += NLMSG_ALIGN(hdr.nlmsg_len);
		len -= NLMSG_ALIGN(hdr.nlmsg_len);
	}
}

int tartan_nl_monitor_read(struct tartan_nl_monitor *m, tartan_nl_event_fn fn, void *userdata)
{
	bool lost = false;

	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t n;

		/* MSG_TRUNC: the datagram's real length, so a notification cut short by the
		 * buffer counts as lost (a resync), not as parsed */
		n = recvfrom(m->fd, m->buf, MONITOR_READ_BUF, MSG_TRUNC, (struct sockaddr *)&from,
			     &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* the queue was dropped; what follows is new: keep reading */
				lost = true;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return lost ? -ENOBUFS : 0;
			return -errno;
		}
		/* only the kernel sends to a multicast group member (nl_pid 0) */
		if (fromlen != sizeof(from) || from.nl_pid != 0)
			continue;
		if (n > MONITOR_READ_BUF) {
			lost = true;
			n = MONITOR_READ_BUF; /* what fits is still parsed: whole messages only */
		}
		tartan_nl_monitor_parse(m->buf, (size_t)n, fn, userdata);
	}
}
