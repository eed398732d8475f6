/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "flannel/config.h"
#include "flannel/gojson.h"
#include "flannel/lease.h"

/* Go decodes the config into this struct; its name appears in Go's errors */
#define GO_CONFIG "Config"
#define GO_VXLAN "VXLANConfig"

/* Put prefix before the reason set by tartan_flannel_fail(); keeps -EINVAL unless out of memory. */
static int prefix_error(char **ret_error, const char *prefix)
{
	char *s;

	if (asprintf(&s, "%s%s", prefix, *ret_error) < 0) {
		free(*ret_error);
		*ret_error = NULL;
		return -ENOMEM;
	}
	free(*ret_error);
	*ret_error = s;
	return -EINVAL;
}

static int type_error(char **ret_error, const json_t *v, const char *go_struct, const char *field,
		      const char *go_type)
{
	char *text = NULL;
	int r;

	if (json_is_number(v)) {
		text = json_dumps(v, JSON_ENCODE_ANY);
		if (!text)
			return -ENOMEM;
	}
	r = tartan_flannel_fail(
		ret_error, "json: cannot unmarshal %s%s%s into Go struct field %s.%s of type %s",
		tartan_flannel_json_kind(v), text ? " " : "", text ? text : "", go_struct, field,
		go_type);
	free(text);
	return r;
}

/* absent or null: Go leaves the field as it was; *ret untouched */
static int get_bool(json_t *obj, const char *field, const char *go_struct, bool *ret,
		    char **ret_error)
{
	void *it = NULL;
	json_t *v;

	while ((v = tartan_flannel_json_next(obj, field, &it))) {
		if (json_is_null(v))
			continue;
		if (!json_is_boolean(v))
			return type_error(ret_error, v, go_struct, field, "bool");
		*ret = json_is_true(v);
	}
	return 0;
}

/* an integer within [min, max]; a number outside it is Go's "number N" error */
static int get_int(json_t *obj, const char *field, const char *go_struct, const char *go_type,
		   json_int_t min, json_int_t max, json_int_t *ret, bool *ret_present,
		   char **ret_error)
{
	void *it = NULL;
	json_t *v;

	while ((v = tartan_flannel_json_next(obj, field, &it))) {
		if (json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < min ||
		    json_integer_value(v) > max)
			return type_error(ret_error, v, go_struct, field, go_type);
		*ret = json_integer_value(v);
		if (ret_present)
			*ret_present = true;
	}
	return 0;
}

/*
 * flannel's IP and CIDR types trim the quotes off the raw JSON and parse the
 * rest, so anything but a string fails. The string, or NULL.
 */
static const char *string_of(const json_t *v, size_t *ret_len)
{
	*ret_len = json_is_string(v) ? json_string_length(v) : 0;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * A value as a reason shows it (malloc'd): a string as it is, unless it has
 * control characters (a NUL, a newline that would forge a log line), and
 * anything else as JSON text, as Go's errors show the raw text.
 */
static char *shown(const json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v), i;

		for (i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				break;
		if (i == n)
			return strdup(s);
	}
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* tartan_flannel_fail() with the value shown after the reason */
static int fail_value(char **ret_error, const json_t *v, const char *what)
{
	char *text = shown(v);
	int r;

	if (!text)
		return -ENOMEM;
	r = tartan_flannel_fail(ret_error, "%s: %s", what, text);
	free(text);
	return r;
}

/* Go's net.ParseIP for IPv6 text (which also takes IPv4) */
static bool ip_any_valid(const char *s, size_t len)
{
	unsigned char buf[16];
	uint32_t a4;

	if (tartan_ip4_addr_parse(s, len, &a4) == 0)
		return true;
	/* inet_pton wants a C string: refuse embedded NULs */
	return strlen(s) == len && inet_pton(AF_INET6, s, buf) == 1;
}

/* Go's net.ParseCIDR, any family */
static bool cidr_any_valid(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);
	struct tartan_ip4_net n4;
	unsigned char buf[16];
	char addr[64];
	size_t alen, i;
	unsigned plen = 0;

	if (tartan_ip4_net_parse(s, len, &n4) == 0)
		return true;
	if (!slash || strlen(s) != len)
		return false;
	alen = (size_t)(slash - s);
	if (alen >= sizeof(addr))
		return false;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET6, addr, buf) != 1)
		return false;
	i = alen + 1;
	if (i == len)
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		plen = plen * 10 + (unsigned)(s[i] - '0');
		if (plen > 128)
			return false;
	}
	return true;
}

/* one IPv4 address value */
static int parse_ip4(json_t *v, const char *field, uint32_t *ret, char **ret_error)
{
	char what[64];
	size_t len;
	const char *text = string_of(v, &len);

	if (text && tartan_ip4_addr_parse(text, len, ret) == 0)
		return 0;
	if (text && memchr(text, ':', len) && ip_any_valid(text, len))
		snprintf(what, sizeof(what), "%s: invalid IPv4 address format", field);
	else
		snprintf(what, sizeof(what), "%s: invalid IP address format", field);
	return fail_value(ret_error, v, what);
}

/* an IPv4 address in field; "0.0.0.0" and absence both mean "not set", as in flannel */
static int get_ip4(json_t *obj, const char *field, uint32_t *ret, char **ret_error)
{
	void *it = NULL;
	json_t *v;
	int r;

	while ((v = tartan_flannel_json_next(obj, field, &it))) {
		r = parse_ip4(v, field, ret, ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_network(json_t *v, struct tartan_ip4_net *ret, char **ret_error)
{
	size_t len;
	const char *text = string_of(v, &len);

	if (text && tartan_ip4_net_parse(text, len, ret) == 0)
		return 0;
	if (text && cidr_any_valid(text, len))
		return fail_value(ret_error, v, "Network: invalid IPv4 CIDR format");
	return fail_value(ret_error, v, "Network: invalid CIDR address");
}

static int get_network(json_t *obj, struct tartan_ip4_net *ret, char **ret_error)
{
	void *it = NULL;
	json_t *v;
	int r;

	while ((v = tartan_flannel_json_next(obj, "Network", &it))) {
		r = parse_network(v, ret, ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The IPv6 fields are decoded by flanneld even when EnableIPv6 is false, so
 * garbage there makes it refuse the config; tartan refuses the same configs.
 */
static int check_ipv6_fields(json_t *obj, char **ret_error)
{
	static const char *const addr_fields[] = { "IPv6SubnetMin", "IPv6SubnetMax" };
	char what[64];
	const char *text;
	void *it = NULL;
	json_int_t len;
	size_t tlen;
	json_t *v;

	while ((v = tartan_flannel_json_next(obj, "IPv6Network", &it))) {
		text = string_of(v, &tlen);
		if (!text || !cidr_any_valid(text, tlen))
			return fail_value(ret_error, v, "IPv6Network: invalid CIDR address");
	}

	for (size_t i = 0; i < sizeof(addr_fields) / sizeof(addr_fields[0]); i++) {
		it = NULL;
		while ((v = tartan_flannel_json_next(obj, addr_fields[i], &it))) {
			/* *ip.IP6: null sets the pointer to nil */
			if (json_is_null(v))
				continue;
			text = string_of(v, &tlen);
			if (!text || !ip_any_valid(text, tlen)) {
				snprintf(what, sizeof(what), "%s: invalid IP address format",
					 addr_fields[i]);
				return fail_value(ret_error, v, what);
			}
		}
	}

	return get_int(obj, "IPv6SubnetLen", GO_CONFIG, "uint", 0, LLONG_MAX, &len, NULL,
		       ret_error);
}

/* flannel's parseBackendType: absent -> "udp"; present -> its Type, maybe "" */
static int get_backend_type(json_t *backend, char **ret_type, char **ret_error)
{
	const json_t *found = NULL;
	void *it = NULL;
	char *type;
	json_t *t;

	if (!backend) {
		type = strdup("udp");
		goto out;
	}
	if (json_is_null(backend)) {
		type = strdup("");
		goto out;
	}
	if (!json_is_object(backend))
		return tartan_flannel_fail(
			ret_error,
			"error decoding Backend property of config: json: cannot unmarshal %s "
			"into Go value of type struct { Type string }",
			tartan_flannel_json_kind(backend));

	/* every "type" key is decoded; null ones leave the one before */
	while ((t = tartan_flannel_json_next(backend, "Type", &it))) {
		if (json_is_null(t))
			continue;
		if (!json_is_string(t))
			return tartan_flannel_fail(
				ret_error,
				"error decoding Backend property of config: json: cannot "
				"unmarshal %s into Go struct field .Type of type string",
				tartan_flannel_json_kind(t));
		found = t;
	}
	/* a NUL makes a name that no backend has; don't let it cut the name short */
	if (found && strlen(json_string_value(found)) != json_string_length(found))
		return tartan_flannel_fail(ret_error,
					   "unknown backend type: the Backend Type has a NUL byte");
	type = strdup(found ? json_string_value(found) : "");
out:
	if (!type)
		return -ENOMEM;
	/* the backend manager lower-cases the type before looking it up */
	for (char *p = type; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	*ret_type = type;
	return 0;
}

/* CheckNetworkConfig's IPv4 half, in flannel's order and wording */
static int check_ipv4(struct tartan_flannel_config *c, json_int_t subnet_len, char **ret_error)
{
	char a[TARTAN_IP4_ADDR_STRLEN], b[TARTAN_IP4_ADDR_STRLEN], n[TARTAN_IP4_NET_STRLEN];
	unsigned plen = c->network.len;
	uint32_t size, mask;

	/* IP4Net.Empty(): zero address and zero length, e.g. absent or 0.0.0.0/0 */
	if (c->network.addr == 0 && plen == 0)
		return tartan_flannel_fail(
			ret_error,
			"please define a correct Network parameter in the flannel config");

	tartan_ip4_net_format(&c->network, n);
	if (subnet_len > 0) {
		/* room for the tunnel and the bridge address on each host */
		if (subnet_len > 30)
			return tartan_flannel_fail(
				ret_error, "SubnetLen must be less than /31 (SubnetLen %lld)",
				(long long)subnet_len);
		/* the first subnet is never used, so two would leave one */
		if (subnet_len < (json_int_t)plen + 2)
			return tartan_flannel_fail(
				ret_error,
				"network must be able to accommodate at least four subnets "
				"(Network %s, SubnetLen %lld)",
				n, (long long)subnet_len);
	} else if (plen > 28) {
		return tartan_flannel_fail(
			ret_error,
			"network is too small. Minimum useful network prefix is /28 (Network %s)",
			n);
	} else if (plen <= 22) {
		subnet_len = 24;
	} else {
		subnet_len = plen + 2;
	}
	c->subnet_len = (uint8_t)subnet_len;

	size = UINT32_C(1) << (32 - c->subnet_len);
	if (c->subnet_min == 0)
		/* skip the first subnet: its address is the network's own */
		c->subnet_min = c->network.addr + size;
	else if (!tartan_ip4_net_contains(&c->network, c->subnet_min))
		return tartan_flannel_fail(
			ret_error,
			"SubnetMin is not in the range of the Network (SubnetMin %s, "
			"Network %s)",
			tartan_ip4_addr_format(c->subnet_min, a), n);

	if (c->subnet_max == 0)
		/* wraps to the right value for a network at the top of the space */
		c->subnet_max = tartan_ip4_net_last(&c->network) + 1 - size;
	else if (!tartan_ip4_net_contains(&c->network, c->subnet_max))
		return tartan_flannel_fail(
			ret_error,
			"SubnetMax is not in the range of the Network (SubnetMax %s, "
			"Network %s)",
			tartan_ip4_addr_format(c->subnet_max, a), n);

	mask = tartan_ip4_mask(c->subnet_len);
	if (c->subnet_min & ~mask)
		return tartan_flannel_fail(
			ret_error, "SubnetMin is not on a SubnetLen boundary: %s (SubnetLen %u)",
			tartan_ip4_addr_format(c->subnet_min, a), (unsigned)c->subnet_len);
	if (c->subnet_max & ~mask)
		return tartan_flannel_fail(
			ret_error, "SubnetMax is not on a SubnetLen boundary: %s (SubnetLen %u)",
			tartan_ip4_addr_format(c->subnet_max, a), (unsigned)c->subnet_len);

	/* flanneld takes this and then finds no subnet to lease; say so now */
	if (c->subnet_min > c->subnet_max)
		return tartan_flannel_fail(
			ret_error, "SubnetMin %s is above SubnetMax %s: no subnet can be leased",
			tartan_ip4_addr_format(c->subnet_min, a),
			tartan_ip4_addr_format(c->subnet_max, b));
	return 0;
}

void tartan_flannel_config_free(struct tartan_flannel_config *config)
{
	if (!config)
		return;
	free(config->backend_type);
	free(config->backend_json);
	free(config);
}

int tartan_flannel_config_parse(const char *buf, size_t len,
				struct tartan_flannel_config **ret_config, char **ret_error)
{
	struct tartan_flannel_config *c = NULL;
	bool enable_ipv4 = true, enable_ipv6 = false;
	json_int_t subnet_len = 0;
	json_t *root, *obj, *backend;
	json_error_t jerr;
	int r;

	/* Go takes NULs inside strings and any top-level value, then decides */
	root = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		return tartan_flannel_fail(
			ret_error, "invalid JSON in network config: %s (line %d, column %d)",
			jerr.text, jerr.line, jerr.column);
	}

	/* Go's decoder leaves the struct alone for null: an empty config */
	if (json_is_null(root)) {
		json_decref(root);
		root = json_object();
		if (!root)
			return -ENOMEM;
	}
	if (!json_is_object(root)) {
		r = tartan_flannel_fail(
			ret_error, "json: cannot unmarshal %s into Go value of type subnet.Config",
			tartan_flannel_json_kind(root));
		goto out;
	}
	obj = root;

	c = calloc(1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto out;
	}

	r = get_bool(obj, "EnableIPv4", GO_CONFIG, &enable_ipv4, ret_error);
	if (r < 0)
		goto out;
	r = get_bool(obj, "EnableIPv6", GO_CONFIG, &enable_ipv6, ret_error);
	if (r < 0)
		goto out;
	r = get_bool(obj, "EnableNFTables", GO_CONFIG, &c->enable_nftables, ret_error);
	if (r < 0)
		goto out;
	r = get_network(obj, &c->network, ret_error);
	if (r < 0)
		goto out;
	r = get_ip4(obj, "SubnetMin", &c->subnet_min, ret_error);
	if (r < 0)
		goto out;
	r = get_ip4(obj, "SubnetMax", &c->subnet_max, ret_error);
	if (r < 0)
		goto out;
	r = get_int(obj, "SubnetLen", GO_CONFIG, "uint", 0, LLONG_MAX, &subnet_len, NULL,
		    ret_error);
	if (r < 0)
		goto out;
	r = check_ipv6_fields(obj, ret_error);
	if (r < 0)
		goto out;

	backend = tartan_flannel_json_field(obj, "Backend");
	r = get_backend_type(backend, &c->backend_type, ret_error);
	if (r < 0)
		goto out;
	if (backend) {
		c->backend_json = json_dumps(backend, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!c->backend_json) {
			r = -ENOMEM;
			goto out;
		}
	}

	/* flanneld with EnableIPv4 false skips the IPv4 checks; tartan has nothing else */
	if (!enable_ipv4) {
		r = tartan_flannel_fail(ret_error,
					"EnableIPv4 is false: tartan needs an IPv4 Network "
					"(IPv6-only networks are not supported)");
		goto out;
	}
	r = check_ipv4(c, subnet_len, ret_error);
	if (r < 0)
		goto out;
	if (enable_ipv6) {
		r = tartan_flannel_fail(
			ret_error, "EnableIPv6 is true: tartan is IPv4-only for now and can't join "
				   "a dual-stack flannel network");
		goto out;
	}
	/* flanneld fails here only when it looks the backend up */
	if (c->backend_type[0] == '\0') {
		r = tartan_flannel_fail(ret_error,
					"unknown backend type: \"\" (the Backend has no Type)");
		goto out;
	}

	*ret_config = c;
	c = NULL;
	r = 0;
out:
	tartan_flannel_config_free(c);
	json_decref(root);
	return r;
}

int tartan_flannel_config_key(const char *prefix, char **ret_key)
{
	return tartan_flannel_key_join(prefix, "config", ret_key);
}

/* flannel's other backends: known, but tartan can't talk to their peers */
static const char *const unsupported_types[] = {
	"extension", "ipip", "ipsec", "tencent-vpc", "wireguard",
};

static int parse_vxlan(const struct tartan_flannel_config *config,
		       struct tartan_flannel_vxlan_options *ret, char **ret_error)
{
	struct tartan_flannel_vxlan_options o = {
		.vni = TARTAN_FLANNEL_VXLAN_DEFAULT_VNI,
		.port = TARTAN_FLANNEL_VXLAN_DEFAULT_PORT,
	};
	json_int_t vni = -1, port = -1, mtu = -1;
	bool has_vni = false, has_port = false, has_mtu = false;
	json_error_t jerr;
	json_t *obj;
	int r;

	/* no Backend means udp, so vxlan always has one; it is an object (checked in parse) */
	obj = json_loads(config->backend_json ? config->backend_json : "{}",
			 JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!obj) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		return tartan_flannel_fail(ret_error, "%s", jerr.text);
	}
	if (!json_is_object(obj)) {
		r = tartan_flannel_fail(
			ret_error,
			"json: cannot unmarshal %s into Go value of type vxlan.VXLANConfig",
			tartan_flannel_json_kind(obj));
		goto out;
	}

	/* Go's int is 64 bits: any integer decodes; tartan then checks the range */
	r = get_int(obj, "vni", GO_VXLAN, "int", LLONG_MIN, LLONG_MAX, &vni, &has_vni, ret_error);
	if (r < 0)
		goto out;
	r = get_int(obj, "port", GO_VXLAN, "int", LLONG_MIN, LLONG_MAX, &port, &has_port,
		    ret_error);
	if (r < 0)
		goto out;
	r = get_int(obj, "mtu", GO_VXLAN, "int", LLONG_MIN, LLONG_MAX, &mtu, &has_mtu, ret_error);
	if (r < 0)
		goto out;
	r = get_bool(obj, "gbp", GO_VXLAN, &o.gbp, ret_error);
	if (r < 0)
		goto out;
	r = get_bool(obj, "learning", GO_VXLAN, &o.learning, ret_error);
	if (r < 0)
		goto out;
	r = get_bool(obj, "directRouting", GO_VXLAN, &o.direct_routing, ret_error);
	if (r < 0)
		goto out;

	/* flanneld passes these to the kernel unchecked and fails there; check them here */
	if (has_vni) {
		if (vni < 0 || vni > 0xffffff) {
			r = tartan_flannel_fail(ret_error,
						"VNI %lld is out of "
						"range (0..16777215)",
						(long long)vni);
			goto out;
		}
		o.vni = (uint32_t)vni;
	}
	if (has_port) {
		if (port < 0 || port > 65535) {
			r = tartan_flannel_fail(ret_error,
						"Port %lld is out of "
						"range (0..65535)",
						(long long)port);
			goto out;
		}
		if (port > 0)
			o.port = (uint16_t)port;
	}
	if (has_mtu && mtu != 0) {
		/* the device gets MTU - 50, and IPv4 needs at least 68 */
		if (mtu < 68 + TARTAN_FLANNEL_VXLAN_OVERHEAD || mtu > 65535) {
			r = tartan_flannel_fail(ret_error,
						"MTU %lld is out of "
						"range (118..65535)",
						(long long)mtu);
			goto out;
		}
		o.mtu = (uint32_t)mtu;
	}

	*ret = o;
	r = 0;
out:
	json_decref(obj);
	return r;
}

int tartan_flannel_backend_parse(const struct tartan_flannel_config *config,
				 struct tartan_flannel_backend *ret_backend, char **ret_error)
{
	const char *type = config->backend_type;
	struct tartan_flannel_backend b = { 0 };
	int r;

	if (strcmp(type, "udp") == 0) {
		if (!config->backend_json)
			return tartan_flannel_fail(
				ret_error, "backend type udp is not supported by tartan (flannel's "
					   "default when Backend is absent); use host-gw or vxlan");
		return tartan_flannel_fail(
			ret_error, "backend type udp is not supported by tartan; use host-gw or "
				   "vxlan");
	}
	for (size_t i = 0; i < sizeof(unsupported_types) / sizeof(unsupported_types[0]); i++)
		if (strcmp(type, unsupported_types[i]) == 0)
			return tartan_flannel_fail(
				ret_error,
				"backend type %s is not supported by tartan; use "
				"host-gw or vxlan",
				type);

	if (strcmp(type, "alloc") == 0) {
		b.kind = TARTAN_FLANNEL_BACKEND_ALLOC;
		b.type = "alloc";
		/* alloc leases carry no BackendType, so routing backends ignore them */
		b.lease_backend_type = "";
	} else if (strcmp(type, "host-gw") == 0) {
		b.kind = TARTAN_FLANNEL_BACKEND_HOST_GW;
		b.type = b.lease_backend_type = "host-gw";
	} else if (strcmp(type, "vxlan") == 0) {
		b.kind = TARTAN_FLANNEL_BACKEND_VXLAN;
		b.type = b.lease_backend_type = "vxlan";
		r = parse_vxlan(config, &b.vxlan, ret_error);
		if (r == -EINVAL && ret_error)
			r = prefix_error(ret_error, "error decoding VXLAN backend config: ");
		if (r < 0)
			return r;
	} else {
		return tartan_flannel_fail(
			ret_error,
			"unknown backend type: %s (tartan supports host-gw, vxlan and alloc)",
			type);
	}

	*ret_backend = b;
	return 0;
}
