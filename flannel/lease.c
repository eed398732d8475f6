/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "flannel/gojson.h"
#include "flannel/lease.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ------------------------------------------------------------------ keys */

/* Go's path.Clean, on a string of n bytes; returns a malloc'd string or NULL */
static char *path_clean(const char *path, size_t n)
{
	size_t w = 0, r = 0, dotdot = 0;
	bool rooted;
	char *out;

	/* the output is never longer than the input, plus "." for an empty one */
	out = malloc(n + 2);
	if (!out)
		return NULL;
	rooted = n > 0 && path[0] == '/';
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++; /* empty element */
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++; /* "." */
		} else if (path[r] == '.' && r + 1 < n && path[r + 1] == '.' &&
			   (r + 2 == n || path[r + 2] == '/')) {
			/* "..": drop the last element, or keep ".." where there is none */
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && path[r] != '/'; r++)
				out[w++] = path[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

int tartan_flannel_key_join(const char *prefix, const char *name, char **ret_key)
{
	char *joined, *key;
	int r;

	/* Join skips empty elements and returns "" when all are empty */
	if (!*prefix && !*name) {
		key = strdup("");
		goto out;
	}
	if (!*prefix || !*name)
		r = asprintf(&joined, "%s", *prefix ? prefix : name);
	else
		r = asprintf(&joined, "%s/%s", prefix, name);
	if (r < 0)
		return -ENOMEM;
	key = path_clean(joined, strlen(joined));
	free(joined);
out:
	if (!key)
		return -ENOMEM;
	*ret_key = key;
	return 0;
}

int tartan_flannel_lease_dir(const char *prefix, char **ret_dir)
{
	char *dir, *key;
	int r;

	r = tartan_flannel_key_join(prefix, "subnets", &key);
	if (r < 0)
		return r;
	r = asprintf(&dir, "%s/", key);
	free(key);
	if (r < 0)
		return -ENOMEM;
	*ret_dir = dir;
	return 0;
}

int tartan_flannel_lease_key_format(const char *prefix, const struct tartan_ip4_net *subnet,
				    char **ret_key)
{
	char a[TARTAN_IP4_ADDR_STRLEN], name[64];

	if (!tartan_ip4_net_is_valid(subnet))
		return -EINVAL;
	/* MakeSubnetKey: the network written with "-" before the length */
	snprintf(name, sizeof(name), "subnets/%s-%u", tartan_ip4_addr_format(subnet->addr, a),
		 (unsigned)subnet->len);
	return tartan_flannel_key_join(prefix, name, ret_key);
}

/* start of the run of bytes accepted by in_run that ends at end (exclusive) */
static size_t run_start(const char *s, size_t end, bool (*in_run)(char))
{
	while (end > 0 && in_run(s[end - 1]))
		end--;
	return end;
}

static bool is_v6_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || c == ':';
}

/* strconv.ParseUint(s, 10, bits): digits only, any leading zeros, < 2^bits */
static bool parse_small_uint(const char *s, size_t len, unsigned bits, unsigned *ret)
{
	unsigned v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v >= 1u << bits)
			return false;
	}
	*ret = v;
	return true;
}

/*
 * The dotted quad that flannel's regex takes as its first group when that
 * group ends at end: Go's leftmost match can't start before the quad, as
 * the pattern has room for three non-digits only, and it starts where the
 * first field's digits start. So walk back over digit runs and dots; the
 * first field's run is taken whole ("1.1.1.1" in "91.1.1.1-24" is 91.1.1.1).
 */
static bool quad_ending_at(const char *s, size_t end, uint32_t *ret_addr)
{
	size_t start = end;

	for (int field = 0; field < 4; field++) {
		size_t fstart = run_start(s, start, is_digit);

		if (fstart == start)
			return false;
		start = fstart;
		if (field < 3) {
			if (start == 0 || s[start - 1] != '.')
				return false;
			start--;
		}
	}
	return tartan_ip4_addr_parse(s + start, end - start, ret_addr) == 0;
}

int tartan_flannel_lease_key_parse(const char *key, size_t len, struct tartan_ip4_net *ret_subnet,
				   bool *ret_has_ipv6)
{
	size_t t, c, d, end, len_start;
	bool has_ipv6 = false;
	unsigned plen, plen6;
	uint32_t addr;

	/* every match ends in "-<digits>" */
	t = run_start(key, len, is_digit);
	if (t == len || t == 0 || key[t - 1] != '-')
		return -EINVAL;

	/* "A.B.C.D-LEN&<v6>-LEN6": the optional group is greedy, so try it first */
	c = run_start(key, t - 1, is_v6_char);
	d = c >= 1 ? run_start(key, c - 1, is_digit) : 0;
	if (c < t - 1 && c >= 1 && key[c - 1] == '&' && d < c - 1 && d >= 1 && key[d - 1] == '-') {
		char v6[64];
		unsigned char buf[16];
		size_t v6len = t - 1 - c;

		/* net.ParseIP and a 7-bit length, else flannel drops the key */
		if (v6len >= sizeof(v6) || !parse_small_uint(key + t, len - t, 7, &plen6))
			return -EINVAL;
		memcpy(v6, key + c, v6len);
		v6[v6len] = '\0';
		if (inet_pton(AF_INET6, v6, buf) != 1)
			return -EINVAL;
		has_ipv6 = true;
		end = d - 1;
		len_start = d;
		if (!parse_small_uint(key + len_start, c - 1 - len_start, 5, &plen))
			return -EINVAL;
	} else {
		end = t - 1;
		len_start = t;
		if (!parse_small_uint(key + len_start, len - len_start, 5, &plen))
			return -EINVAL;
	}

	if (!quad_ending_at(key, end, &addr))
		return -EINVAL;
	/* flannel keeps "10.5.1.7-24" as is; no route can be made from it */
	if (addr & ~tartan_ip4_mask(plen))
		return -EINVAL;

	*ret_subnet = (struct tartan_ip4_net){ .addr = addr, .len = (uint8_t)plen };
	if (ret_has_ipv6)
		*ret_has_ipv6 = has_ipv6;
	return 0;
}

bool tartan_flannel_lease_key_is_canonical(const char *dir, const char *key, size_t len)
{
	char a[TARTAN_IP4_ADDR_STRLEN], name[32];
	struct tartan_ip4_net subnet;
	size_t dlen = strlen(dir), nlen, i, j;
	const char *rest;

	if (tartan_flannel_lease_key_parse(key, len, &subnet, NULL) < 0)
		return false;
	nlen = (size_t)snprintf(name, sizeof(name), "%s-%u", tartan_ip4_addr_format(subnet.addr, a),
				(unsigned)subnet.len);
	if (len < dlen + nlen || memcmp(key, dir, dlen) != 0 || memcmp(key + dlen, name, nlen) != 0)
		return false;
	if (len == dlen + nlen)
		return true;
	/* "&<v6>-<len6>" to the end, which the parse above checked as an address and length;
	 * "10.5.1.0-24&10.5.1.0-24&fc00::-64" names its subnet with its second quad */
	rest = key + dlen + nlen;
	len -= dlen + nlen;
	if (rest[0] != '&')
		return false;
	for (i = 1; i < len && is_v6_char(rest[i]); i++)
		;
	if (i == 1 || i == len || rest[i] != '-')
		return false;
	for (j = i + 1; j < len && is_digit(rest[j]); j++)
		;
	return j == len && j > i + 1;
}

/* ------------------------------------------------------------------ MACs */

int tartan_flannel_mac_parse(const char *s, size_t len, uint8_t ret_mac[6])
{
	uint8_t mac[6];

	if (len == 17 && (s[2] == ':' || s[2] == '-')) {
		/* six pairs, all with the same separator */
		for (size_t i = 0; i < 6; i++) {
			int hi = hex_value(s[3 * i]), lo = hex_value(s[3 * i + 1]);

			if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != s[2]))
				return -EINVAL;
			mac[i] = (uint8_t)(hi << 4 | lo);
		}
	} else if (len == 14 && s[4] == '.') {
		/* Cisco style: three groups of four */
		for (size_t i = 0; i < 3; i++) {
			for (size_t j = 0; j < 2; j++) {
				int hi = hex_value(s[5 * i + 2 * j]);
				int lo = hex_value(s[5 * i + 2 * j + 1]);

				if (hi < 0 || lo < 0)
					return -EINVAL;
				mac[2 * i + j] = (uint8_t)(hi << 4 | lo);
			}
			if (i < 2 && s[5 * i + 4] != '.')
				return -EINVAL;
		}
	} else {
		return -EINVAL;
	}

	memcpy(ret_mac, mac, sizeof(mac));
	return 0;
}

const char *tartan_flannel_mac_format(const uint8_t mac[6],
				      char buf[static TARTAN_FLANNEL_MAC_STRLEN])
{
	snprintf(buf, TARTAN_FLANNEL_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

/* ---------------------------------------------------------------- values */

/*
 * A value as a reason shows it (malloc'd): a string as it is, unless it has
 * control characters (a NUL, a newline that would forge a log line), and
 * anything else as JSON text.
 */
static char *json_text(const json_t *v)
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

/* a string without NULs, else NULL */
static const char *plain_string(const json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static int parse_public_ip(json_t *v, uint32_t *ret, char **ret_error)
{
	const char *s = plain_string(v);
	unsigned char buf[16];
	char *text;
	int r;

	/* ip.IP4 parses the raw text, so null is an error too */
	if (s && tartan_ip4_addr_parse(s, strlen(s), ret) == 0)
		return 0;
	text = json_text(v);
	if (!text)
		return -ENOMEM;
	if (s && inet_pton(AF_INET6, s, buf) == 1)
		r = tartan_flannel_fail(ret_error, "PublicIP: invalid IPv4 address format: %s",
					text);
	else
		r = tartan_flannel_fail(ret_error, "PublicIP: invalid IP address format: %s", text);
	free(text);
	return r;
}

static int parse_public_ipv6(json_t *v, bool *ret_has, char **ret_error)
{
	const char *s = plain_string(v);
	unsigned char buf[16];
	uint32_t a4;
	char *text;
	int r;

	/* a pointer in Go: null sets it to nil; else net.ParseIP, either family */
	if (json_is_null(v)) {
		*ret_has = false;
		return 0;
	}
	if (s &&
	    (inet_pton(AF_INET6, s, buf) == 1 || tartan_ip4_addr_parse(s, strlen(s), &a4) == 0)) {
		*ret_has = true;
		return 0;
	}
	text = json_text(v);
	if (!text)
		return -ENOMEM;
	r = tartan_flannel_fail(ret_error, "PublicIPv6: invalid IP address format: %s", text);
	free(text);
	return r;
}

static int parse_vxlan_data(json_t *data, struct tartan_flannel_lease_attrs *a, char **ret_error)
{
	json_t *vni, *mac;
	void *it = NULL;
	char *text;
	int r;

	while ((vni = tartan_flannel_json_next(data, "VNI", &it))) {
		if (json_is_null(vni))
			continue;
		if (!json_is_integer(vni) || json_integer_value(vni) < 0 ||
		    json_integer_value(vni) > UINT32_MAX) {
			text = json_text(vni);
			if (!text)
				return -ENOMEM;
			r = tartan_flannel_fail(
				ret_error,
				"BackendData: json: cannot unmarshal %s%s%s into Go struct "
				"field vxlanLeaseAttrs.VNI of type uint32",
				tartan_flannel_json_kind(vni), json_is_number(vni) ? " " : "",
				json_is_number(vni) ? text : "");
			free(text);
			return r;
		}
		a->has_vni = true;
		a->vni = (uint32_t)json_integer_value(vni);
	}

	/* hardwareAddr wants a quoted string, so null is an error, as in flannel */
	it = NULL;
	while ((mac = tartan_flannel_json_next(data, "VtepMAC", &it))) {
		const char *s = plain_string(mac);

		if (!s || tartan_flannel_mac_parse(s, strlen(s), a->vtep_mac) < 0) {
			text = json_text(mac);
			if (!text)
				return -ENOMEM;
			r = tartan_flannel_fail(
				ret_error, "BackendData: VtepMAC is not a 48-bit MAC address: %s",
				text);
			free(text);
			return r;
		}
		a->has_vtep_mac = true;
	}
	return 0;
}

int tartan_flannel_lease_value_parse(const char *buf, size_t len,
				     struct tartan_flannel_lease_attrs *ret_attrs, char **ret_error)
{
	struct tartan_flannel_lease_attrs a = { 0 };
	json_t *root, *v, *data;
	json_error_t jerr;
	void *it;
	int r;

	if (len > TARTAN_FLANNEL_LEASE_VALUE_MAX)
		return tartan_flannel_fail(ret_error,
					   "lease value of %zu bytes, longer than the %d a lease "
					   "can be",
					   len, TARTAN_FLANNEL_LEASE_VALUE_MAX);
	root = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		return tartan_flannel_fail(ret_error, "invalid JSON: %s (line %d, column %d)",
					   jerr.text, jerr.line, jerr.column);
	}
	/* Go would decode null as a lease of 0.0.0.0; nobody writes that on purpose */
	if (!json_is_object(root)) {
		r = tartan_flannel_fail(ret_error, "lease value is a JSON %s, not an object",
					tartan_flannel_json_kind(root));
		goto out;
	}

	it = NULL;
	while ((v = tartan_flannel_json_next(root, "PublicIP", &it))) {
		r = parse_public_ip(v, &a.public_ip, ret_error);
		if (r < 0)
			goto out;
	}

	it = NULL;
	while ((v = tartan_flannel_json_next(root, "PublicIPv6", &it))) {
		r = parse_public_ipv6(v, &a.has_public_ipv6, ret_error);
		if (r < 0)
			goto out;
	}

	it = NULL;
	while ((v = tartan_flannel_json_next(root, "BackendType", &it))) {
		const char *s = plain_string(v);

		if (json_is_null(v))
			continue;

		if (!json_is_string(v)) {
			r = tartan_flannel_fail(ret_error,
						"json: cannot unmarshal %s into Go struct field "
						"LeaseAttrs.BackendType of type string",
						tartan_flannel_json_kind(v));
			goto out;
		}
		if (!s || strlen(s) > TARTAN_FLANNEL_BACKEND_TYPE_MAX) {
			r = tartan_flannel_fail(
				ret_error,
				"BackendType is not a backend name (NUL byte or longer "
				"than %d bytes)",
				TARTAN_FLANNEL_BACKEND_TYPE_MAX);
			goto out;
		}
		strcpy(a.backend_type, s);
	}

	/* flannel keeps these raw; every backend that reads them wants an object */
	data = tartan_flannel_json_field(root, "BackendData");
	if (data && !json_is_null(data) && !json_is_object(data)) {
		r = tartan_flannel_fail(ret_error, "BackendData is a JSON %s, not an object",
					tartan_flannel_json_kind(data));
		goto out;
	}
	v = tartan_flannel_json_field(root, "BackendV6Data");
	if (v && !json_is_null(v) && !json_is_object(v)) {
		r = tartan_flannel_fail(ret_error, "BackendV6Data is a JSON %s, not an object",
					tartan_flannel_json_kind(v));
		goto out;
	}

	/* only the vxlan backend reads BackendData, and only from "vxlan" leases */
	if (json_is_object(data) && strcmp(a.backend_type, "vxlan") == 0) {
		r = parse_vxlan_data(data, &a, ret_error);
		if (r < 0)
			goto out;
	}

	*ret_attrs = a;
	r = 0;
out:
	json_decref(root);
	return r;
}

static bool is_plain_name(const char *s)
{
	for (; *s; s++)
		if (!(is_digit(*s) || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      *s == '-' || *s == '.' || *s == '_'))
			return false;
	return true;
}

int tartan_flannel_lease_value_format(const struct tartan_flannel_lease_attrs *attrs,
				      char **ret_value)
{
	char ip[TARTAN_IP4_ADDR_STRLEN], mac[TARTAN_FLANNEL_MAC_STRLEN];
	char type[TARTAN_FLANNEL_BACKEND_TYPE_MAX + 32] = "";
	char data[96] = "";
	char *value;

	if (strnlen(attrs->backend_type, sizeof(attrs->backend_type)) ==
		    sizeof(attrs->backend_type) ||
	    !is_plain_name(attrs->backend_type))
		return -EINVAL;

	/* the field order of flannel's LeaseAttrs; omitempty on the last two */
	if (attrs->backend_type[0])
		snprintf(type, sizeof(type), ",\"BackendType\":\"%s\"", attrs->backend_type);
	if (attrs->has_vtep_mac)
		snprintf(data, sizeof(data), ",\"BackendData\":{\"VNI\":%u,\"VtepMAC\":\"%s\"}",
			 attrs->vni, tartan_flannel_mac_format(attrs->vtep_mac, mac));
	if (asprintf(&value, "{\"PublicIP\":\"%s\",\"PublicIPv6\":null%s%s}",
		     tartan_ip4_addr_format(attrs->public_ip, ip), type, data) < 0)
		return -ENOMEM;
	*ret_value = value;
	return 0;
}

/* ---------------------------------------------------------------- checks */

int tartan_flannel_lease_check_not_ours(const struct tartan_flannel_lease_attrs *ours,
					const struct tartan_flannel_lease_attrs *attrs,
					char **ret_reason)
{
	char buf[TARTAN_FLANNEL_MAC_STRLEN];

	if (ours->public_ip && attrs->public_ip == ours->public_ip)
		return tartan_flannel_fail(ret_reason, "it names our own public IP");
	if (ours->has_vtep_mac && attrs->has_vtep_mac &&
	    strcmp(attrs->backend_type, ours->backend_type) == 0 &&
	    memcmp(attrs->vtep_mac, ours->vtep_mac, sizeof(ours->vtep_mac)) == 0)
		return tartan_flannel_fail(ret_reason, "it names our own VtepMAC %s",
					   tartan_flannel_mac_format(ours->vtep_mac, buf));
	return 0;
}

int tartan_flannel_lease_check(const struct tartan_flannel_config *config,
			       const struct tartan_ip4_net *subnet,
			       const struct tartan_flannel_lease_attrs *attrs, char **ret_reason)
{
	char s[TARTAN_IP4_NET_STRLEN], n[TARTAN_IP4_NET_STRLEN], ip[TARTAN_IP4_ADDR_STRLEN];
	char mac[TARTAN_FLANNEL_MAC_STRLEN];
	const char *why;

	tartan_ip4_net_format(subnet, s);
	tartan_ip4_net_format(&config->network, n);
	if (!tartan_ip4_net_is_valid(subnet))
		return tartan_flannel_fail(ret_reason, "subnet %s has host bits set", s);
	if (!tartan_ip4_net_contains_net(&config->network, subnet))
		return tartan_flannel_fail(ret_reason, "subnet %s is outside the network %s", s, n);
	if (subnet->len != config->subnet_len)
		return tartan_flannel_fail(ret_reason,
					   "subnet %s is not a /%u, the network's SubnetLen", s,
					   (unsigned)config->subnet_len);

	why = tartan_ip4_addr_unusable_reason(attrs->public_ip);
	if (why)
		return tartan_flannel_fail(ret_reason, "PublicIP %s %s",
					   tartan_ip4_addr_format(attrs->public_ip, ip), why);

	if (strcmp(attrs->backend_type, "vxlan") == 0) {
		static const uint8_t zero[6];

		if (!attrs->has_vtep_mac)
			return tartan_flannel_fail(ret_reason, "vxlan lease without a VtepMAC");
		tartan_flannel_mac_format(attrs->vtep_mac, mac);
		if (memcmp(attrs->vtep_mac, zero, sizeof(zero)) == 0)
			return tartan_flannel_fail(ret_reason, "VtepMAC %s is zero", mac);
		/* the I/G bit; the broadcast address has it too */
		if (attrs->vtep_mac[0] & 1)
			return tartan_flannel_fail(
				ret_reason, "VtepMAC %s is a multicast or broadcast address", mac);
	}
	return 0;
}
