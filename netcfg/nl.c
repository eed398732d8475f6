/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "netcfg/nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct tartan_nl {
	struct nl_sock *sk;
	int kerr;      /* errno of the kernel's last NLMSG_ERROR in this call, 0 none */
	char ext[128]; /* its extended ack message, "" none */
	char err[320]; /* tartan_nl_last_error() */
};

/* libnl's code for errors that did not come from the kernel (or when the kernel's errno is
 * lost); the kernel's own errno is preferred, see nl_fail(). */
static int nle_to_errno(int nle)
{
	switch (abs(nle)) {
	case NLE_EXIST:
		return EEXIST;
	case NLE_OBJ_NOTFOUND:
		return ENOENT;
	case NLE_NODEV:
		return ENODEV;
	case NLE_PERM:
	case NLE_NOACCESS:
		return EPERM;
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_INVAL:
	case NLE_MISSING_ATTR:
	case NLE_AF_MISMATCH:
		return EINVAL;
	case NLE_BUSY:
		return EBUSY;
	case NLE_NOADDR:
		return EADDRNOTAVAIL;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_AGAIN:
		return EAGAIN;
	case NLE_INTR:
		return EINTR;
	case NLE_RANGE:
		return ERANGE;
	default:
		return EIO;
	}
}

/* The kernel's extended ack text (NLMSGERR_ATTR_MSG), e.g. "VXLAN: ..." explains an EINVAL
 * far better than the errno. The TLVs follow the echoed request, or only its header when
 * the kernel capped it (NETLINK_CAP_ACK). */
static void save_ext_ack(struct tartan_nl *nl, const struct nlmsgerr *e)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
	size_t payload = h->nlmsg_len - NLMSG_HDRLEN, off = sizeof(*e);
	struct nlattr *a;

	nl->ext[0] = '\0';
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	if (h->nlmsg_len < NLMSG_HDRLEN || off >= payload)
		return;
	a = nla_find((struct nlattr *)((char *)e + off), (int)(payload - off), NLMSGERR_ATTR_MSG);
	if (a && nla_len(a) > 0)
		snprintf(nl->ext, sizeof(nl->ext), "%.*s", nla_len(a), (const char *)nla_data(a));
}

/* Error callback of the socket (kept by every libnl call that clones its callbacks): remember
 * the kernel's errno; NL_STOP lets libnl return its -NLE_* as usual. */
static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct tartan_nl *nl = arg;

	nl->kerr = e->error < 0 ? -e->error : e->error;
	save_ext_ack(nl, e);
	return NL_STOP;
}

static void nl_begin(struct tartan_nl *nl)
{
	nl->kerr = 0;
	nl->ext[0] = '\0';
}

/* -errno of a failed libnl call (nle < 0), with the text for tartan_nl_last_error(). */
static int nl_fail(struct tartan_nl *nl, int nle, const char *what)
{
	int err = nl->kerr ? nl->kerr : nle_to_errno(nle);

	snprintf(nl->err, sizeof(nl->err), "%s: %s%s%s", what,
		 nl->kerr ? strerror(nl->kerr) : nl_geterror(nle), nl->ext[0] ? ": " : "", nl->ext);
	return -err;
}

static int nl_fail_errno(struct tartan_nl *nl, int err, const char *what, const char *why)
{
	snprintf(nl->err, sizeof(nl->err), "%s: %s", what, why ? why : strerror(err));
	return -err;
}

static int sock_open(struct tartan_nl *nl, struct nl_sock **ret)
{
	struct nl_sock *sk;
	int one = 1, err;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(sk);
		return -nle_to_errno(err);
	}
	/* Extended acks carry the kernel's reason; capped acks do not echo every request back,
	 * which keeps a batch's acks small in the receive buffer. Both best effort (>= 4.12). */
	(void)setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	err = nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_error, nl);
	if (err < 0) {
		nl_socket_free(sk);
		return -nle_to_errno(err);
	}
	*ret = sk;
	return 0;
}

int tartan_nl_new(struct tartan_nl **ret)
{
	struct tartan_nl *nl;
	int err;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	err = sock_open(nl, &nl->sk);
	if (err < 0) {
		free(nl);
		return err;
	}
	*ret = nl;
	return 0;
}

void tartan_nl_free(struct tartan_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

const char *tartan_nl_last_error(const struct tartan_nl *nl)
{
	return nl->err;
}

/* ---- helpers ---- */

static struct nl_addr *addr4_new(uint32_t host, int prefixlen)
{
	uint32_t be = htonl(host);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));

	if (a && prefixlen >= 0)
		nl_addr_set_prefixlen(a, prefixlen);
	return a;
}

static struct nl_addr *mac_new(const uint8_t *mac)
{
	return nl_addr_build(AF_LLC, mac, TARTAN_NL_MAC_LEN);
}

static bool addr4_get(struct nl_addr *a, uint32_t *ret)
{
	uint32_t be;

	if (!a || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != sizeof(be))
		return false;
	memcpy(&be, nl_addr_get_binary_addr(a), sizeof(be));
	*ret = ntohl(be);
	return true;
}

/* One link from the kernel by index (name NULL) or by name: -ENODEV if absent. */
static int link_get(struct tartan_nl *nl, int index, const char *name, struct rtnl_link **ret)
{
	int err;

	if (name && strlen(name) >= IF_NAMESIZE)
		return nl_fail_errno(nl, EINVAL, name, "name too long");
	nl_begin(nl);
	err = rtnl_link_get_kernel(nl->sk, index, name, ret);
	if (err < 0)
		return nl_fail(nl, err, "get link");
	return 0;
}

/* RTM_NEWLINK on an existing link with only the attributes set in changes. */
static int link_change(struct tartan_nl *nl, int index, struct rtnl_link *changes, const char *what)
{
	struct rtnl_link *orig = rtnl_link_alloc();
	int err;

	if (!orig)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, index);
	nl_begin(nl);
	err = rtnl_link_change(nl->sk, orig, changes, 0);
	rtnl_link_put(orig);
	if (err < 0)
		return nl_fail(nl, err, what);
	return 0;
}

static bool link_mac_equal(struct rtnl_link *link, const uint8_t *mac)
{
	struct nl_addr *a = rtnl_link_get_addr(link);

	return a && nl_addr_get_len(a) == TARTAN_NL_MAC_LEN &&
	       memcmp(nl_addr_get_binary_addr(a), mac, TARTAN_NL_MAC_LEN) == 0;
}

/* Bring an existing link to mtu (0: any), mac (NULL: any), up and the other flags given
 * (IFF_PROMISC), sending only what differs. */
static int link_settle(struct tartan_nl *nl, struct rtnl_link *link, unsigned mtu,
		       const uint8_t *mac, unsigned flags)
{
	struct rtnl_link *changes;
	struct nl_addr *a = NULL;
	bool any = false;
	int err = 0;

	changes = rtnl_link_alloc();
	if (!changes)
		return -ENOMEM;
	if (mtu && rtnl_link_get_mtu(link) != mtu) {
		rtnl_link_set_mtu(changes, mtu);
		any = true;
	}
	if (mac && !link_mac_equal(link, mac)) {
		a = mac_new(mac);
		if (!a) {
			err = -ENOMEM;
			goto out;
		}
		rtnl_link_set_addr(changes, a);
		any = true;
	}
	flags |= IFF_UP;
	if ((rtnl_link_get_flags(link) & flags) != flags) {
		rtnl_link_set_flags(changes, flags);
		any = true;
	}
	if (any)
		err = link_change(nl, rtnl_link_get_ifindex(link), changes, "change link");
out:
	nl_addr_put(a);
	rtnl_link_put(changes);
	return err;
}

/* RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL; a concurrent creator's EEXIST is fine, the
 * caller re-reads the link and checks it. */
static int link_add(struct tartan_nl *nl, struct rtnl_link *link, const char *what)
{
	int err;

	nl_begin(nl);
	err = rtnl_link_add(nl->sk, link, NLM_F_CREATE | NLM_F_EXCL);
	if (err < 0) {
		err = nl_fail(nl, err, what);
		if (err == -EEXIST)
			return 0;
	}
	return err;
}

/* ---- links ---- */

int tartan_nl_link_index(struct tartan_nl *nl, const char *name, int *ret_index)
{
	struct rtnl_link *link;
	int err;

	err = link_get(nl, 0, name, &link);
	if (err < 0)
		return err;
	*ret_index = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return 0;
}

static bool link_is(struct rtnl_link *link, const char *kind)
{
	const char *t = rtnl_link_get_type(link);

	return t && strcmp(t, kind) == 0;
}

int tartan_nl_bridge_ensure(struct tartan_nl *nl, const char *name, unsigned mtu,
			    const uint8_t *mac, bool promisc, int *ret_index)
{
	struct rtnl_link *link = NULL;
	int err;

	err = link_get(nl, 0, name, &link);
	if (err == -ENODEV) {
		struct rtnl_link *n = rtnl_link_alloc();

		if (!n)
			return -ENOMEM;
		rtnl_link_set_name(n, name);
		err = rtnl_link_set_type(n, "bridge");
		if (err < 0) {
			rtnl_link_put(n);
			return nl_fail(nl, err, "bridge type");
		}
		if (mtu)
			rtnl_link_set_mtu(n, mtu);
		rtnl_link_set_flags(n, IFF_UP);
		err = link_add(nl, n, "add bridge");
		rtnl_link_put(n);
		if (err < 0)
			return err;
		err = link_get(nl, 0, name, &link);
	}
	if (err < 0)
		return err;
	if (!link_is(link, "bridge")) {
		err = nl_fail_errno(nl, EEXIST, name, "exists and is not a bridge");
		goto out;
	}
	err = link_settle(nl, link, mtu, mac, promisc ? IFF_PROMISC : 0);
	if (err < 0)
		goto out;
	*ret_index = rtnl_link_get_ifindex(link);
out:
	rtnl_link_put(link);
	return err;
}

/* The parameters flannel compares before reusing a device (vxlan/device.go, isCompatible). */
static bool vxlan_compatible(struct rtnl_link *link, uint32_t vni, uint32_t local_ip, uint16_t port,
			     int dev_index, bool learning)
{
	struct nl_addr *a = NULL;
	uint32_t v, local;
	bool ok;

	if (!link_is(link, "vxlan"))
		return false;
	if (rtnl_link_vxlan_get_id(link, &v) < 0 || v != vni)
		return false;
	if (rtnl_link_vxlan_get_link(link, &v) < 0 || v != (uint32_t)dev_index)
		return false;
	if (port && (rtnl_link_vxlan_get_port(link, &v) < 0 || v != port))
		return false;
	if (rtnl_link_vxlan_get_learning(link) != (learning ? 1 : 0))
		return false;
	if (rtnl_link_vxlan_get_l2miss(link) > 0 || rtnl_link_vxlan_get_l3miss(link) > 0)
		return false;
	if (rtnl_link_vxlan_get_group(link, &a) == 0) {
		nl_addr_put(a);
		return false;
	}
	if (rtnl_link_vxlan_get_local(link, &a) < 0)
		return false;
	ok = addr4_get(a, &local) && local == local_ip;
	nl_addr_put(a);
	return ok;
}

static int vxlan_create(struct tartan_nl *nl, const char *name, uint32_t vni, uint32_t local_ip,
			uint16_t port, int dev_index, unsigned mtu, const uint8_t *mac,
			bool learning)
{
	struct nl_addr *local = NULL, *lladdr = NULL;
	struct rtnl_link *n;
	int err = -ENOMEM;

	n = rtnl_link_vxlan_alloc();
	if (!n)
		return -ENOMEM;
	local = addr4_new(local_ip, -1);
	if (!local)
		goto out;
	rtnl_link_set_name(n, name);
	if (rtnl_link_vxlan_set_id(n, vni) < 0 || rtnl_link_vxlan_set_local(n, local) < 0 ||
	    rtnl_link_vxlan_set_link(n, (uint32_t)dev_index) < 0 ||
	    (port && rtnl_link_vxlan_set_port(n, port) < 0) ||
	    rtnl_link_vxlan_set_learning(n, learning) < 0) {
		err = nl_fail_errno(nl, EINVAL, name, "vxlan parameters");
		goto out;
	}
	if (mac) {
		lladdr = mac_new(mac);
		if (!lladdr)
			goto out;
		rtnl_link_set_addr(n, lladdr);
	}
	if (mtu)
		rtnl_link_set_mtu(n, mtu);
	rtnl_link_set_flags(n, IFF_UP);
	err = link_add(nl, n, "add vxlan");
out:
	nl_addr_put(lladdr);
	nl_addr_put(local);
	rtnl_link_put(n);
	return err;
}

int tartan_nl_vxlan_ensure(struct tartan_nl *nl, const char *name, uint32_t vni, uint32_t local_ip,
			   uint16_t port, int dev_index, unsigned mtu, const uint8_t *mac,
			   bool learning, int *ret_index)
{
	struct rtnl_link *link = NULL;
	int err, tries;

	/* Twice at most: a device of that name that is not ours as asked is replaced once; if
	 * what we then read back still differs, somebody races us and we report it. */
	for (tries = 0; tries < 2; tries++) {
		err = link_get(nl, 0, name, &link);
		if (err == 0) {
			if (vxlan_compatible(link, vni, local_ip, port, dev_index, learning))
				break;
			nl_begin(nl);
			err = rtnl_link_delete(nl->sk, link);
			rtnl_link_put(link);
			link = NULL;
			if (err < 0 && (err = nl_fail(nl, err, "delete vxlan")) != -ENODEV)
				return err;
		} else if (err != -ENODEV) {
			return err;
		}
		err = vxlan_create(nl, name, vni, local_ip, port, dev_index, mtu, mac, learning);
		if (err < 0)
			return err;
	}
	if (!link) {
		err = link_get(nl, 0, name, &link);
		if (err < 0)
			return err;
		if (!vxlan_compatible(link, vni, local_ip, port, dev_index, learning)) {
			err = nl_fail_errno(nl, EEXIST, name, "recreated, still not as asked");
			goto out;
		}
	}
	err = link_settle(nl, link, mtu, mac, 0);
	if (err < 0)
		goto out;
	*ret_index = rtnl_link_get_ifindex(link);
out:
	rtnl_link_put(link);
	return err;
}

int tartan_nl_link_mac(struct tartan_nl *nl, int index, uint8_t ret_mac[static TARTAN_NL_MAC_LEN])
{
	struct rtnl_link *link;
	struct nl_addr *a;
	int err;

	err = link_get(nl, index, NULL, &link);
	if (err < 0)
		return err;
	a = rtnl_link_get_addr(link);
	if (!a || nl_addr_get_len(a) != TARTAN_NL_MAC_LEN)
		err = nl_fail_errno(nl, EADDRNOTAVAIL, "link mac", "no Ethernet address");
	else
		memcpy(ret_mac, nl_addr_get_binary_addr(a), TARTAN_NL_MAC_LEN);
	rtnl_link_put(link);
	return err;
}

int tartan_nl_link_master(struct tartan_nl *nl, int index, int *ret_master)
{
	struct rtnl_link *link;
	int err;

	err = link_get(nl, index, NULL, &link);
	if (err < 0)
		return err;
	*ret_master = rtnl_link_get_master(link);
	rtnl_link_put(link);
	return 0;
}

struct link_list {
	struct tartan_nl_link *links;
	size_t n, cap;
	int err;
};

static void link_list_add(struct nl_object *obj, void *arg)
{
	struct rtnl_link *link = (struct rtnl_link *)obj;
	struct link_list *l = arg;
	struct tartan_nl_link *e;
	const char *name = rtnl_link_get_name(link);

	if (l->err < 0)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct tartan_nl_link *p = reallocarray(l->links, cap, sizeof(*p));

		if (!p) {
			l->err = -ENOMEM;
			return;
		}
		l->links = p;
		l->cap = cap;
	}
	e = &l->links[l->n++];
	*e = (struct tartan_nl_link){
		.index = rtnl_link_get_ifindex(link),
		.flags = rtnl_link_get_flags(link),
		.mtu = rtnl_link_get_mtu(link),
		.master = rtnl_link_get_master(link),
	};
	snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
}

int tartan_nl_link_list(struct tartan_nl *nl, struct tartan_nl_link **ret, size_t *ret_n)
{
	struct link_list l = { 0 };
	struct nl_cache *cache = NULL;
	int err;

	nl_begin(nl);
	err = rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache);
	if (err < 0)
		return nl_fail(nl, err, "list links");
	nl_cache_foreach(cache, link_list_add, &l);
	nl_cache_free(cache);
	if (l.err < 0) {
		free(l.links);
		return nl_fail_errno(nl, -l.err, "list links", NULL);
	}
	*ret = l.links;
	*ret_n = l.n;
	return 0;
}

int tartan_nl_link_delete(struct tartan_nl *nl, const char *name)
{
	struct rtnl_link *link;
	int err;

	if (strlen(name) >= IF_NAMESIZE)
		return nl_fail_errno(nl, EINVAL, name, "name too long");
	link = rtnl_link_alloc();
	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, name);
	nl_begin(nl);
	err = rtnl_link_delete(nl->sk, link);
	rtnl_link_put(link);
	if (err < 0) {
		err = nl_fail(nl, err, "delete link");
		if (err == -ENODEV)
			return 0;
	}
	return err;
}

static int link_set_mac(struct rtnl_link *link, const uint8_t *mac)
{
	struct nl_addr *a;

	if (!mac)
		return 0;
	a = mac_new(mac);
	if (!a)
		return -ENOMEM;
	rtnl_link_set_addr(link, a);
	nl_addr_put(a);
	return 0;
}

int tartan_nl_veth_create(struct tartan_nl *nl, const struct tartan_nl_veth *v)
{
	struct rtnl_link *link, *peer;
	int err;

	if (strlen(v->host_name) >= IF_NAMESIZE || strlen(v->peer_name) >= IF_NAMESIZE)
		return nl_fail_errno(nl, EINVAL, v->host_name, "name too long");
	link = rtnl_link_veth_alloc();
	if (!link)
		return -ENOMEM;
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, v->host_name);
	rtnl_link_set_name(peer, v->peer_name);
	if (v->mtu) {
		rtnl_link_set_mtu(link, v->mtu);
		rtnl_link_set_mtu(peer, v->mtu);
	}
	err = link_set_mac(link, v->host_mac);
	if (err >= 0)
		err = link_set_mac(peer, v->peer_mac);
	if (err < 0)
		goto out;
	/* The peer is born in its namespace: no window where it sits here under its name. */
	if (v->peer_netns_fd >= 0)
		rtnl_link_set_ns_fd(peer, v->peer_netns_fd);
	/* The kernel applies the ifinfomsg's flags when it registers the device, and
	 * IFLA_MASTER right after (rtnl_newlink_create): one round trip instead of three. */
	if (v->master_index)
		rtnl_link_set_master(link, v->master_index);
	if (v->host_up)
		rtnl_link_set_flags(link, IFF_UP);
	nl_begin(nl);
	err = rtnl_link_add(nl->sk, link, NLM_F_CREATE | NLM_F_EXCL);
	if (err < 0)
		err = nl_fail(nl, err, "add veth");
out:
	rtnl_link_put(peer);
	rtnl_link_put(link);
	return err < 0 ? err : 0;
}

int tartan_nl_mac_random(uint8_t ret_mac[static TARTAN_NL_MAC_LEN])
{
	ssize_t n = getrandom(ret_mac, TARTAN_NL_MAC_LEN, 0);

	if (n < 0)
		return -errno;
	if (n != TARTAN_NL_MAC_LEN)
		return -EIO;
	ret_mac[0] = (ret_mac[0] & 0xfe) | 0x02; /* unicast, locally administered */
	return 0;
}

/* master (0: left alone) and IFF_UP in one RTM_NEWLINK */
static int link_set(struct tartan_nl *nl, int index, int master_index, const char *what)
{
	struct rtnl_link *changes = rtnl_link_alloc();
	int err;

	if (!changes)
		return -ENOMEM;
	if (master_index)
		rtnl_link_set_master(changes, master_index);
	rtnl_link_set_flags(changes, IFF_UP);
	err = link_change(nl, index, changes, what);
	rtnl_link_put(changes);
	return err;
}

int tartan_nl_link_attach(struct tartan_nl *nl, int index, int master_index)
{
	return link_set(nl, index, master_index, "attach to bridge");
}

int tartan_nl_link_set_up(struct tartan_nl *nl, int index)
{
	return link_set(nl, index, 0, "set up");
}

int tartan_nl_port_set_hairpin(struct tartan_nl *nl, int index, bool on)
{
	/* `bridge link set dev X hairpin on`: the port's attributes, nested, under the bridge
	 * family (the flag NLA_F_NESTED tells the kernel it is not the old one-byte state) */
	struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = index };
	struct nlattr *protinfo;
	struct nl_msg *msg;
	int err;

	msg = nlmsg_alloc_simple(RTM_SETLINK, 0);
	if (!msg)
		return nl_fail_errno(nl, ENOMEM, "set hairpin", NULL);
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    !(protinfo = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED)) ||
	    nla_put_u8(msg, IFLA_BRPORT_MODE, on ? 1 : 0) < 0) {
		nlmsg_free(msg);
		return nl_fail_errno(nl, ENOMEM, "set hairpin", NULL);
	}
	nla_nest_end(msg, protinfo);
	nl_begin(nl);
	err = nl_send_sync(nl->sk, msg); /* frees msg */
	if (err < 0)
		return nl_fail(nl, err, "set hairpin");
	return 0;
}

/* ---- addresses ---- */

static int addr_build(int ifindex, uint32_t addr, unsigned prefixlen, struct rtnl_addr **ret)
{
	struct rtnl_addr *a;
	struct nl_addr *local;
	int err;

	if (prefixlen > 32)
		return -EINVAL;
	a = rtnl_addr_alloc();
	if (!a)
		return -ENOMEM;
	local = addr4_new(addr, (int)prefixlen);
	if (!local) {
		rtnl_addr_put(a);
		return -ENOMEM;
	}
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, AF_INET);
	err = rtnl_addr_set_local(a, local);
	nl_addr_put(local);
	if (err < 0) {
		rtnl_addr_put(a);
		return -nle_to_errno(err);
	}
	rtnl_addr_set_prefixlen(a, (int)prefixlen);
	*ret = a;
	return 0;
}

/* Add (EEXIST: there already) or delete (EADDRNOTAVAIL, ENOENT: not there) an address. */
static int addr_op(struct tartan_nl *nl, int ifindex, uint32_t addr, unsigned prefixlen, bool del)
{
	const char *what = del ? "delete address" : "add address";
	struct rtnl_addr *a;
	int err;

	err = addr_build(ifindex, addr, prefixlen, &a);
	if (err < 0)
		return nl_fail_errno(nl, -err, what, NULL);
	nl_begin(nl);
	err = del ? rtnl_addr_delete(nl->sk, a, 0) : rtnl_addr_add(nl->sk, a, 0);
	rtnl_addr_put(a);
	if (err < 0) {
		err = nl_fail(nl, err, what);
		if (del ? err == -EADDRNOTAVAIL || err == -ENOENT : err == -EEXIST)
			return 0;
	}
	return err;
}

int tartan_nl_addr_add(struct tartan_nl *nl, int ifindex, uint32_t addr, unsigned prefixlen)
{
	return addr_op(nl, ifindex, addr, prefixlen, false);
}

int tartan_nl_addr_del(struct tartan_nl *nl, int ifindex, uint32_t addr, unsigned prefixlen)
{
	return addr_op(nl, ifindex, addr, prefixlen, true);
}

/* ---- routes ---- */

static int route_build(const struct tartan_nl_route *r, bool del, struct rtnl_route **ret)
{
	struct nl_addr *dst = NULL, *gw = NULL;
	struct rtnl_nexthop *nh = NULL;
	struct rtnl_route *route;
	int err = -ENOMEM;

	if (r->dst.len > 32)
		return -EINVAL;
	route = rtnl_route_alloc();
	if (!route)
		return -ENOMEM;
	dst = addr4_new(r->dst.addr, r->dst.len);
	if (!dst)
		goto out;
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, r->protocol ? r->protocol : TARTAN_NL_RTPROT);
	rtnl_route_set_type(route, RTN_UNICAST);
	/* Like `ip route`: a gateway makes it universe scope, none a link route; a delete
	 * matches any scope (RT_SCOPE_NOWHERE is the kernel's wildcard there). */
	rtnl_route_set_scope(route, del	       ? RT_SCOPE_NOWHERE :
				    r->gateway ? RT_SCOPE_UNIVERSE :
						 RT_SCOPE_LINK);
	err = rtnl_route_set_dst(route, dst);
	if (err < 0) {
		err = -nle_to_errno(err);
		goto out;
	}
	if (r->gateway || r->ifindex) {
		err = -ENOMEM;
		nh = rtnl_route_nh_alloc();
		if (!nh)
			goto out;
		if (r->ifindex)
			rtnl_route_nh_set_ifindex(nh, r->ifindex);
		if (r->gateway) {
			gw = addr4_new(r->gateway, -1);
			if (!gw)
				goto out;
			rtnl_route_nh_set_gateway(nh, gw);
		}
		if (r->onlink)
			rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
		rtnl_route_add_nexthop(route, nh); /* the route owns it now */
		nh = NULL;
	}
	*ret = route;
	route = NULL;
	err = 0;
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(gw);
	nl_addr_put(dst);
	if (route)
		rtnl_route_put(route);
	return err;
}

/* Replace (create or overwrite) or delete (ESRCH, ENOENT: not there) a route. */
static int route_op(struct tartan_nl *nl, const struct tartan_nl_route *r, bool del)
{
	const char *what = del ? "delete route" : "replace route";
	struct rtnl_route *route;
	int err;

	err = route_build(r, del, &route);
	if (err < 0)
		return nl_fail_errno(nl, -err, what, NULL);
	nl_begin(nl);
	err = del ? rtnl_route_delete(nl->sk, route, 0) :
		    rtnl_route_add(nl->sk, route, NLM_F_REPLACE);
	rtnl_route_put(route);
	if (err < 0) {
		err = nl_fail(nl, err, what);
		if (del && (err == -ESRCH || err == -ENOENT))
			return 0;
	}
	return err;
}

int tartan_nl_route_replace(struct tartan_nl *nl, const struct tartan_nl_route *r)
{
	return route_op(nl, r, false);
}

int tartan_nl_route_del(struct tartan_nl *nl, const struct tartan_nl_route *r)
{
	return route_op(nl, r, true);
}

/* ---- dumps ---- */

/*
 * A dump read message by message with a parser of the raw attributes instead of a libnl
 * cache: the cache would hold an object per entry (5,000 peers make 15,000 entries on a
 * vxlan node) only to be walked once, and that memory would count in the daemon's peak.
 */
typedef int (*dump_fn)(const struct nlmsghdr *h, void *arg);

struct dump {
	dump_fn fn;
	void *arg;
	int err;
};

static int dump_valid(struct nl_msg *msg, void *arg)
{
	struct dump *d = arg;
	int err;

	if (d->err < 0)
		return NL_SKIP; /* read the rest of the dump, keep the first error */
	err = d->fn(nlmsg_hdr(msg), d->arg);
	if (err < 0)
		d->err = err;
	return NL_OK;
}

/* Sends `type` with NLM_F_DUMP and the family header hdr (len bytes), calls fn per answer. */
static int dump_run(struct tartan_nl *nl, int type, const void *hdr, size_t len, dump_fn fn,
		    void *arg, const char *what)
{
	struct dump d = { .fn = fn, .arg = arg };
	struct nl_cb *cb0, *cb;
	struct nl_msg *msg;
	int err;

	msg = nlmsg_alloc_simple(type, NLM_F_DUMP);
	if (!msg)
		return nl_fail_errno(nl, ENOMEM, what, NULL);
	if (nlmsg_append(msg, (void *)hdr, len, NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return nl_fail_errno(nl, ENOMEM, what, NULL);
	}
	cb0 = nl_socket_get_cb(nl->sk);
	cb = nl_cb_clone(cb0);
	nl_cb_put(cb0);
	if (!cb) {
		nlmsg_free(msg);
		return nl_fail_errno(nl, ENOMEM, what, NULL);
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, dump_valid, &d);
	nl_begin(nl);
	err = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (err >= 0)
		err = nl_recvmsgs(nl->sk, cb);
	nl_cb_put(cb);
	if (err < 0)
		return nl_fail(nl, err, what);
	if (d.err < 0)
		return nl_fail_errno(nl, -d.err, what, NULL);
	return 0;
}

/* A growing array of n items of size each: room for one more, or -ENOMEM. */
static int list_grow(void **list, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 64;
	p = reallocarray(*list, c, size);
	if (!p)
		return -ENOMEM;
	*list = p;
	*cap = c;
	return 0;
}

static bool attr_addr4(const struct nlattr *a, uint32_t *ret)
{
	uint32_t be;

	if (!a || nla_len(a) != sizeof(be))
		return false;
	memcpy(&be, nla_data(a), sizeof(be));
	*ret = ntohl(be);
	return true;
}

struct route_list {
	uint8_t protocol;
	struct tartan_nl_route *items;
	size_t n, cap;
};

static int route_parse(const struct nlmsghdr *h, void *arg)
{
	struct route_list *l = arg;
	struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm;
	struct tartan_nl_route r = { .protocol = l->protocol };
	uint32_t table;
	int err;

	if (h->nlmsg_type != RTM_NEWROUTE ||
	    nlmsg_parse((struct nlmsghdr *)h, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return 0;
	rtm = nlmsg_data(h);
	table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (rtm->rtm_family != AF_INET || table != RT_TABLE_MAIN ||
	    rtm->rtm_protocol != l->protocol || rtm->rtm_type != RTN_UNICAST ||
	    rtm->rtm_dst_len > 32)
		return 0;
	/* the default route has no RTA_DST */
	if (!attr_addr4(tb[RTA_DST], &r.dst.addr))
		r.dst.addr = 0;
	r.dst.len = rtm->rtm_dst_len;
	if (tb[RTA_MULTIPATH]) {
		/* the first nexthop only, as documented */
		const struct rtnexthop *nh = nla_data(tb[RTA_MULTIPATH]);

		if (nla_len(tb[RTA_MULTIPATH]) >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) &&
		    nh->rtnh_len <= nla_len(tb[RTA_MULTIPATH])) {
			struct nlattr *nt[RTA_MAX + 1];

			r.ifindex = nh->rtnh_ifindex;
			r.onlink = nh->rtnh_flags & RTNH_F_ONLINK;
			if (nla_parse(nt, RTA_MAX, (struct nlattr *)RTNH_DATA(nh),
				      nh->rtnh_len - (int)sizeof(*nh), NULL) >= 0)
				(void)attr_addr4(nt[RTA_GATEWAY], &r.gateway);
		}
	} else {
		if (tb[RTA_OIF])
			r.ifindex = (int)nla_get_u32(tb[RTA_OIF]);
		(void)attr_addr4(tb[RTA_GATEWAY], &r.gateway);
		r.onlink = rtm->rtm_flags & RTNH_F_ONLINK;
	}
	err = list_grow((void **)&l->items, &l->cap, l->n, sizeof(*l->items));
	if (err < 0)
		return err;
	l->items[l->n++] = r;
	return 0;
}

int tartan_nl_route_dump(struct tartan_nl *nl, uint8_t protocol, struct tartan_nl_route **ret,
			 size_t *ret_n)
{
	struct route_list l = { .protocol = protocol ? protocol : TARTAN_NL_RTPROT };
	struct rtmsg rtm = { .rtm_family = AF_INET };
	int err;

	err = dump_run(nl, RTM_GETROUTE, &rtm, sizeof(rtm), route_parse, &l, "dump routes");
	if (err < 0) {
		free(l.items);
		return err;
	}
	*ret = l.items;
	*ret_n = l.n;
	return 0;
}

struct neigh_list {
	int family, ifindex;
	struct tartan_nl_neigh *items;
	size_t n, cap;
};

static int neigh_parse(const struct nlmsghdr *h, void *arg)
{
	struct neigh_list *l = arg;
	struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm;
	struct tartan_nl_neigh e = { 0 };
	int err;

	if (h->nlmsg_type != RTM_NEWNEIGH ||
	    nlmsg_parse((struct nlmsghdr *)h, sizeof(*ndm), tb, NDA_MAX, NULL) < 0)
		return 0;
	ndm = nlmsg_data(h);
	if (ndm->ndm_family != l->family || ndm->ndm_ifindex != l->ifindex ||
	    !(ndm->ndm_state & NUD_PERMANENT) || !tb[NDA_LLADDR] ||
	    nla_len(tb[NDA_LLADDR]) != TARTAN_NL_MAC_LEN || !attr_addr4(tb[NDA_DST], &e.ip))
		return 0;
	/* an FDB entry of the device itself (NTF_SELF), not of a bridge it is a port of */
	if (l->family == AF_BRIDGE && !(ndm->ndm_flags & NTF_SELF))
		return 0;
	memcpy(e.mac, nla_data(tb[NDA_LLADDR]), TARTAN_NL_MAC_LEN);
	err = list_grow((void **)&l->items, &l->cap, l->n, sizeof(*l->items));
	if (err < 0)
		return err;
	l->items[l->n++] = e;
	return 0;
}

static int neigh_dump(struct tartan_nl *nl, int family, int ifindex, struct tartan_nl_neigh **ret,
		      size_t *ret_n, const char *what)
{
	struct neigh_list l = { .family = family, .ifindex = ifindex };
	/* exactly an ndmsg: the kernel's legacy FDB dump parser reads other lengths as an
	 * ifinfomsg and refuses a 4-byte rtgenmsg */
	struct ndmsg ndm = { .ndm_family = (uint8_t)family };
	int err;

	err = dump_run(nl, RTM_GETNEIGH, &ndm, sizeof(ndm), neigh_parse, &l, what);
	if (err < 0) {
		free(l.items);
		return err;
	}
	*ret = l.items;
	*ret_n = l.n;
	return 0;
}

int tartan_nl_neigh_dump(struct tartan_nl *nl, int ifindex, struct tartan_nl_neigh **ret,
			 size_t *ret_n)
{
	return neigh_dump(nl, AF_INET, ifindex, ret, ret_n, "dump neighbours");
}

int tartan_nl_fdb_dump(struct tartan_nl *nl, int ifindex, struct tartan_nl_neigh **ret,
		       size_t *ret_n)
{
	return neigh_dump(nl, AF_BRIDGE, ifindex, ret, ret_n, "dump fdb");
}

struct addr_list {
	int ifindex;
	struct tartan_ip4_net *items;
	size_t n, cap;
};

static int addr_parse(const struct nlmsghdr *h, void *arg)
{
	struct addr_list *l = arg;
	struct nlattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa;
	struct tartan_ip4_net a = { 0 };
	int err;

	if (h->nlmsg_type != RTM_NEWADDR ||
	    nlmsg_parse((struct nlmsghdr *)h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return 0;
	ifa = nlmsg_data(h);
	/* IFA_LOCAL is the address itself; IFA_ADDRESS the peer's on point-to-point links */
	if (ifa->ifa_family != AF_INET || (int)ifa->ifa_index != l->ifindex ||
	    ifa->ifa_prefixlen > 32 ||
	    (!attr_addr4(tb[IFA_LOCAL], &a.addr) && !attr_addr4(tb[IFA_ADDRESS], &a.addr)))
		return 0;
	a.len = ifa->ifa_prefixlen;
	err = list_grow((void **)&l->items, &l->cap, l->n, sizeof(*l->items));
	if (err < 0)
		return err;
	l->items[l->n++] = a;
	return 0;
}

int tartan_nl_addr_list(struct tartan_nl *nl, int ifindex, struct tartan_ip4_net **ret,
			size_t *ret_n)
{
	struct addr_list l = { .ifindex = ifindex };
	struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_index = (uint32_t)ifindex };
	int err;

	err = dump_run(nl, RTM_GETADDR, &ifa, sizeof(ifa), addr_parse, &l, "dump addresses");
	if (err < 0) {
		free(l.items);
		return err;
	}
	*ret = l.items;
	*ret_n = l.n;
	return 0;
}

uint32_t tartan_nl_port(const struct tartan_nl *nl)
{
	return nl_socket_get_local_port(nl->sk);
}

/* ---- batches ---- */

struct batch {
	struct tartan_nl *nl;
	int *results;
	size_t base;			      /* index of the window's first item */
	size_t window;			      /* items in this window */
	uint32_t seq[TARTAN_NL_BATCH_WINDOW]; /* per slot; 0: not sent */
	size_t sent, answered;
	int first_err;
};

static void batch_result(struct batch *b, uint32_t seq, int err)
{
	size_t slot;

	for (slot = 0; slot < b->window; slot++)
		if (b->seq[slot] && b->seq[slot] == seq)
			break;
	if (slot == b->window)
		return;	  /* not a request of this window: cannot happen on a request socket */
	b->seq[slot] = 0; /* answered once */
	b->answered++;
	if (err == -EEXIST)
		err = 0;
	if (b->results)
		b->results[b->base + slot] = err;
	if (err < 0 && !b->first_err)
		b->first_err = err;
}

static int batch_on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct batch *b = arg;
	int err = e->error < 0 ? e->error : -e->error;

	if (err != -EEXIST && !b->first_err) {
		/* the first failure's text is what the log gets */
		b->nl->kerr = -err;
		save_ext_ack(b->nl, e);
		(void)nl_fail(b->nl, 0, "batch");
	}
	batch_result(b, e->msg.nlmsg_seq, err);
	return NL_SKIP; /* keep reading the other answers */
}

static int batch_on_ack(struct nl_msg *msg, void *arg)
{
	batch_result(arg, nlmsg_hdr(msg)->nlmsg_seq, 0);
	return NL_OK;
}

/* batch_result matches answers to requests itself; libnl's own check wants strictly one
 * request, then its answer. */
static int batch_seq_ok(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

typedef int (*batch_build_fn)(const void *items, size_t i, struct nl_msg **ret);

static int route_build_msg(const void *items, size_t i, struct nl_msg **ret)
{
	const struct tartan_nl_route *r = (const struct tartan_nl_route *)items + i;
	struct rtnl_route *route;
	int err;

	err = route_build(r, false, &route);
	if (err < 0)
		return err;
	err = rtnl_route_build_add_request(route, NLM_F_REPLACE, ret);
	rtnl_route_put(route);
	return err < 0 ? -nle_to_errno(err) : 0;
}

/* After a broken batch, answers may still be queued: start over on a fresh socket so the
 * next synchronous request does not read them (and libnl's sequence numbers agree again). */
static int sock_reopen(struct tartan_nl *nl)
{
	struct nl_sock *sk;
	int err;

	err = sock_open(nl, &sk);
	if (err < 0)
		return err;
	nl_socket_free(nl->sk);
	nl->sk = sk;
	return 0;
}

static int batch_run(struct tartan_nl *nl, const void *items, size_t n, batch_build_fn build,
		     int *results)
{
	struct batch b = { .nl = nl, .results = results };
	struct nl_cb *cb0, *cb;
	int err = 0;

	/* 1 marks "no answer yet", so a broken batch can tell what was not acked */
	if (results)
		for (size_t i = 0; i < n; i++)
			results[i] = 1;
	cb0 = nl_socket_get_cb(nl->sk); /* a reference of our own */
	cb = nl_cb_clone(cb0);
	nl_cb_put(cb0);
	if (!cb)
		return -ENOMEM;
	nl_cb_err(cb, NL_CB_CUSTOM, batch_on_error, &b);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, batch_on_ack, &b);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, batch_seq_ok, &b);
	nl_begin(nl);
	for (size_t start = 0; start < n; start += TARTAN_NL_BATCH_WINDOW) {
		b.base = start;
		b.window = n - start > TARTAN_NL_BATCH_WINDOW ? TARTAN_NL_BATCH_WINDOW : n - start;
		b.sent = b.answered = 0;
		memset(b.seq, 0, sizeof(b.seq));
		for (size_t slot = 0; slot < b.window; slot++) {
			struct nl_msg *msg;
			int e;

			e = build(items, start + slot, &msg);
			if (e < 0) {
				if (results)
					results[start + slot] = e;
				if (!b.first_err)
					b.first_err = nl_fail_errno(nl, -e, "batch", NULL);
				continue;
			}
			e = nl_send_auto(nl->sk, msg);
			if (e >= 0)
				b.seq[slot] = nlmsg_hdr(msg)->nlmsg_seq;
			nlmsg_free(msg);
			if (e < 0) {
				err = nl_fail(nl, e, "batch send");
				goto broken;
			}
			b.sent++;
		}
		while (b.answered < b.sent) {
			int e = nl_recvmsgs(nl->sk, cb);

			if (e < 0) {
				err = nl_fail(nl, e, "batch receive");
				goto broken;
			}
		}
	}
	err = b.first_err;
	goto out;
broken:
	if (results)
		for (size_t i = b.base; i < n; i++)
			if (results[i] == 1)
				results[i] = err;
	(void)sock_reopen(nl);
out:
	nl_cb_put(cb);
	return err;
}

int tartan_nl_route_replace_many(struct tartan_nl *nl, const struct tartan_nl_route *routes,
				 size_t n, int *results)
{
	return batch_run(nl, routes, n, route_build_msg, results);
}

/* ---- neighbours and FDB ---- */

static int neigh_build(int family, int ifindex, uint32_t ip, const uint8_t *mac,
		       struct rtnl_neigh **ret)
{
	struct nl_addr *dst = NULL, *ll = NULL;
	struct rtnl_neigh *n;
	int err = -ENOMEM;

	n = rtnl_neigh_alloc();
	if (!n)
		return -ENOMEM;
	rtnl_neigh_set_ifindex(n, ifindex);
	if (ip || family == AF_INET) {
		dst = addr4_new(ip, -1);
		if (!dst)
			goto out;
		/* sets the family to AF_INET; an FDB entry overrides it below */
		err = rtnl_neigh_set_dst(n, dst);
		if (err < 0) {
			err = -nle_to_errno(err);
			goto out;
		}
	}
	if (mac) {
		ll = mac_new(mac);
		if (!ll) {
			err = -ENOMEM;
			goto out;
		}
		rtnl_neigh_set_lladdr(n, ll);
	}
	rtnl_neigh_set_family(n, family);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	/* No rtnl_neigh_set_type(RTN_UNICAST) as flannel's NeighSet has: libnl 3.7 never sends
	 * ndm_type, the kernel ignores it on RTM_NEWNEIGH, and the setter there overwrites the
	 * object's attribute mask (dropping dst). */
	if (family == AF_BRIDGE)
		rtnl_neigh_set_flags(n, NTF_SELF);
	*ret = n;
	n = NULL;
	err = 0;
out:
	nl_addr_put(ll);
	nl_addr_put(dst);
	if (n)
		rtnl_neigh_put(n);
	return err;
}

static int neigh_op(struct tartan_nl *nl, int family, int ifindex, uint32_t ip, const uint8_t *mac,
		    bool del, const char *what)
{
	struct rtnl_neigh *n;
	int err;

	err = neigh_build(family, ifindex, ip, mac, &n);
	if (err < 0)
		return nl_fail_errno(nl, -err, what, NULL);
	nl_begin(nl);
	if (del)
		err = rtnl_neigh_delete(nl->sk, n, 0);
	else
		err = rtnl_neigh_add(nl->sk, n, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_neigh_put(n);
	if (err < 0) {
		err = nl_fail(nl, err, what);
		if (del && (err == -ENOENT || err == -ESRCH))
			return 0;
	}
	return err;
}

int tartan_nl_neigh_replace(struct tartan_nl *nl, int ifindex, uint32_t ip,
			    const uint8_t mac[static TARTAN_NL_MAC_LEN])
{
	return neigh_op(nl, AF_INET, ifindex, ip, mac, false, "replace neighbour");
}

int tartan_nl_neigh_del(struct tartan_nl *nl, int ifindex, uint32_t ip)
{
	return neigh_op(nl, AF_INET, ifindex, ip, NULL, true, "delete neighbour");
}

int tartan_nl_fdb_replace(struct tartan_nl *nl, int ifindex,
			  const uint8_t mac[static TARTAN_NL_MAC_LEN], uint32_t dst_ip)
{
	return neigh_op(nl, AF_BRIDGE, ifindex, dst_ip, mac, false, "replace fdb entry");
}

int tartan_nl_fdb_del(struct tartan_nl *nl, int ifindex,
		      const uint8_t mac[static TARTAN_NL_MAC_LEN], uint32_t dst_ip)
{
	return neigh_op(nl, AF_BRIDGE, ifindex, dst_ip, mac, true, "delete fdb entry");
}

struct neigh_batch {
	const struct tartan_nl_neigh *items;
	int family, ifindex;
};

static int neigh_build_msg(const void *items, size_t i, struct nl_msg **ret)
{
	const struct neigh_batch *b = items;
	struct rtnl_neigh *n;
	int err;

	err = neigh_build(b->family, b->ifindex, b->items[i].ip, b->items[i].mac, &n);
	if (err < 0)
		return err;
	err = rtnl_neigh_build_add_request(n, NLM_F_CREATE | NLM_F_REPLACE, ret);
	rtnl_neigh_put(n);
	return err < 0 ? -nle_to_errno(err) : 0;
}

static int neigh_replace_many(struct tartan_nl *nl, int family, int ifindex,
			      const struct tartan_nl_neigh *items, size_t n, int *results)
{
	struct neigh_batch b = { .items = items, .family = family, .ifindex = ifindex };

	return batch_run(nl, &b, n, neigh_build_msg, results);
}

int tartan_nl_neigh_replace_many(struct tartan_nl *nl, int ifindex,
				 const struct tartan_nl_neigh *items, size_t n, int *results)
{
	return neigh_replace_many(nl, AF_INET, ifindex, items, n, results);
}

int tartan_nl_fdb_replace_many(struct tartan_nl *nl, int ifindex,
			       const struct tartan_nl_neigh *items, size_t n, int *results)
{
	return neigh_replace_many(nl, AF_BRIDGE, ifindex, items, n, results);
}
