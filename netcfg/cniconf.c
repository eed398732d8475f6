/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg/cniconf.h"

/* the runtime's network names: rkt's kubelet asks for this one (flannel-compat.md 9) */
#define RKT_NETWORK "rkt.kubernetes.io"
#define RKT_VERSION "0.3.1"
/* Debian's portmap 1.1.1 answers VERSION with 0.1.0 .. 1.0.0 */
#define LIST_VERSION "1.0.0"

/* What every renderer gets: the input, checked for the fields it reads, and the texts. */
struct conf {
	const struct tartan_cniconf_input *in;
	char subnet[TARTAN_IP4_NET_STRLEN];
	char gateway[TARTAN_IP4_ADDR_STRLEN];
};

/* the kernel's dev_valid_name() */
static bool ifname_is_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
			return false;
	return true;
}

static bool path_is_absolute(const char *s)
{
	return s && s[0] == '/';
}

/* bridge, subnet (with its gateway) and mtu: what the bridge confs need */
static int check_bridge_conf(struct conf *c)
{
	const struct tartan_cniconf_input *in = c->in;

	if (!ifname_is_valid(in->bridge))
		return -EINVAL;
	/* host-local refuses /31 and /32: "too small to allocate from" */
	if (!tartan_ip4_net_is_valid(&in->subnet) || in->subnet.len > 30)
		return -EINVAL;
	if (in->mtu < 68 || in->mtu > 65535)
		return -EINVAL;
	if (in->ipam_data_dir && !path_is_absolute(in->ipam_data_dir))
		return -EINVAL;
	tartan_ip4_net_format(&in->subnet, c->subnet);
	tartan_ip4_addr_format(tartan_ip4_net_first_host(&in->subnet), c->gateway);
	return 0;
}

/* json_pack's failure as -errno: anything but memory is a string that isn't UTF-8 */
static int pack_error(const json_error_t *jerr)
{
	return json_error_code(jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
}

/* The bridge + host-local conf of rkt and kubenet: the same keys in the same order;
 * hairpin NULL leaves hairpinMode out ("o*"), as "s*" does dataDir. */
static int render_bridge(struct conf *c, const char *name, bool ip_masq, json_t *hairpin,
			 json_t **ret)
{
	const struct tartan_cniconf_input *in = c->in;
	json_error_t jerr;
	json_t *o;
	int r;

	r = check_bridge_conf(c);
	if (r < 0) {
		json_decref(hairpin);
		return r;
	}
	o = json_pack_ex(&jerr, 0,
			 "{s:s, s:s, s:s, s:s, s:i, s:b, s:b, s:o*,"
			 " s:{s:s, s:s, s:s, s:s*, s:[{s:s}]}}",
			 "cniVersion", RKT_VERSION, "name", name, "type", "bridge", "bridge",
			 in->bridge, "mtu", (int)in->mtu, "isGateway", 1, "ipMasq", (int)ip_masq,
			 "hairpinMode", hairpin, "ipam", "type", "host-local", "subnet", c->subnet,
			 "gateway", c->gateway, "dataDir", in->ipam_data_dir, "routes", "dst",
			 "0.0.0.0/0");
	if (!o)
		return pack_error(&jerr);
	*ret = o;
	return 0;
}

static int render_rkt_bridge(struct conf *c, json_t **ret)
{
	/* see cniconf.h: exactly one of the node and bridge masquerades */
	return render_bridge(c, RKT_NETWORK, !c->in->ip_masq, json_boolean(c->in->hairpin_mode),
			     ret);
}

static int render_rkt_flannel(struct conf *c, json_t **ret)
{
	const struct tartan_cniconf_input *in = c->in;
	json_t *o, *ipam = NULL;
	json_error_t jerr;

	if (!ifname_is_valid(in->bridge) || !path_is_absolute(in->subnet_file))
		return -EINVAL;
	if (in->ipam_data_dir && !path_is_absolute(in->ipam_data_dir))
		return -EINVAL;
	/* flannel's plugin takes the top-level ipam as the start of the delegate's */
	if (in->ipam_data_dir) {
		ipam = json_pack("{s:s}", "dataDir", in->ipam_data_dir);
		if (!ipam)
			return -EINVAL; /* not UTF-8: the only way a string fails */
	}
	o = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:s, s:o*, s:{s:s, s:b, s:b}}", "cniVersion",
			 RKT_VERSION, "name", RKT_NETWORK, "type", "flannel", "subnetFile",
			 in->subnet_file, "ipam", ipam, "delegate", "bridge", in->bridge,
			 "isDefaultGateway", 1, "hairpinMode", (int)in->hairpin_mode);
	if (!o)
		return pack_error(&jerr);
	*ret = o;
	return 0;
}

static int render_tartan_list(struct conf *c, json_t **ret)
{
	const struct tartan_cniconf_input *in = c->in;
	json_error_t jerr;
	json_t *o;

	if (!path_is_absolute(in->socket_path))
		return -EINVAL;
	if (in->pending_del_dir && !path_is_absolute(in->pending_del_dir))
		return -EINVAL;
	o = json_pack_ex(&jerr, 0, "{s:s, s:s, s:[{s:s, s:s, s:s*, s:{s:b, s:b}}, {s:s, s:{s:b}}]}",
			 "cniVersion", LIST_VERSION, "name", "tartan", "plugins", "type", "tartan",
			 "socket", in->socket_path, "pendingDelDir", in->pending_del_dir,
			 "capabilities", "ips", 1, "mac", 1, "type", "portmap", "capabilities",
			 "portMappings", 1);
	if (!o)
		return pack_error(&jerr);
	*ret = o;
	return 0;
}

static int render_kubenet(struct conf *c, json_t **ret)
{
	/* kubenet masquerades with its own node rule */
	return render_bridge(c, "kubenet", false, json_boolean(c->in->hairpin_mode), ret);
}

static int (*const renderers[])(struct conf *c, json_t **ret) = {
	[TARTAN_CNICONF_RKT_BRIDGE] = render_rkt_bridge,
	[TARTAN_CNICONF_RKT_FLANNEL] = render_rkt_flannel,
	[TARTAN_CNICONF_TARTAN_LIST] = render_tartan_list,
	[TARTAN_CNICONF_KUBENET] = render_kubenet,
};

int tartan_cniconf_render(enum tartan_cniconf_kind kind, const struct tartan_cniconf_input *in,
			  char **ret)
{
	/* insertion order, so the same input always gives the same bytes */
	const size_t flags = JSON_PRESERVE_ORDER | JSON_INDENT(2);
	struct conf c = { .in = in };
	json_t *o = NULL;
	size_t len;
	char *text;
	int r;

	if (!in || (unsigned)kind >= sizeof(renderers) / sizeof(renderers[0]))
		return -EINVAL;
	r = renderers[kind](&c, &o);
	if (r < 0)
		return r;

	len = json_dumpb(o, NULL, 0, flags);
	if (len == 0) {
		r = -ENOMEM;
		goto out;
	}
	text = malloc(len + 2);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	if (json_dumpb(o, text, len, flags) != len) {
		free(text);
		r = -ENOMEM;
		goto out;
	}
	text[len] = '\n';
	text[len + 1] = '\0';
	*ret = text;
	r = 0;
out:
	json_decref(o);
	return r;
}
