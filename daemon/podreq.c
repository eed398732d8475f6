/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cni/result.h"
#include "daemon/podreq.h"
#include "flannel/lease.h"
#include "netcfg/ip4.h"

/* how much of an offending value a message quotes */
#define QUOTE_MAX 64

static int fail(struct tartan_podreq_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct tartan_podreq_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* s[0..len) with control bytes and quotes as '?', cut at QUOTE_MAX: safe in a message */
static const char *quote(const char *s, size_t len, char buf[static QUOTE_MAX + 1])
{
	size_t n = len < QUOTE_MAX ? len : QUOTE_MAX;

	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f || s[i] == '"' ? '?' : s[i];
	buf[n] = '\0';
	return buf;
}

static bool key_is(const char *k, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(k, name, len) == 0;
}

/* an IPv4 address, with "/len" when len_ok: one the node could hand out as one pod's */
static int parse_addr(const char *s, size_t len, bool len_ok, uint32_t *ret_addr, unsigned *ret_len)
{
	const char *slash = memchr(s, '/', len);
	unsigned plen = 0;

	if (memchr(s, ':', len))
		return -EAFNOSUPPORT;
	if (slash) {
		size_t i = (size_t)(slash - s) + 1;

		if (!len_ok || i == len || len - i > 2)
			return -EINVAL;
		for (; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -EINVAL;
			plen = plen * 10 + (unsigned)(s[i] - '0');
		}
		if (plen == 0 || plen > 32)
			return -EINVAL;
		len = (size_t)(slash - s);
	}
	if (tartan_ip4_addr_parse(s, len, ret_addr) < 0)
		return -EINVAL;
	*ret_len = plen;
	return 0;
}

static int parse_mac(const char *s, size_t len, uint8_t ret[6])
{
	static const uint8_t zero[6];

	if (tartan_flannel_mac_parse(s, len, ret) < 0)
		return -EINVAL;
	/* the kernel's is_valid_ether_addr(): not multicast (nor broadcast), not zero */
	if ((ret[0] & 1) || memcmp(ret, zero, 6) == 0)
		return -EDOM;
	return 0;
}

static int mac_error(struct tartan_podreq_error *e, int code, const char *where, int err,
		     const char *s, size_t len)
{
	char q[QUOTE_MAX + 1];

	return fail(e, code, "%s: '%s' is %s", where, quote(s, len, q),
		    err == -EDOM ? "not a unicast MAC address (multicast or all zeros)" :
				   "not a MAC address (aa:bb:cc:dd:ee:ff)");
}

static int addr_error(struct tartan_podreq_error *e, int code, const char *where, int err,
		      const char *s, size_t len)
{
	char q[QUOTE_MAX + 1];

	return fail(e, code, "%s: '%s' is %s", where, quote(s, len, q),
		    err == -EAFNOSUPPORT ? "an IPv6 address; this network hands out IPv4 only" :
					   "not an IPv4 address");
}

/* One "KEY=VALUE" pair of CNI_ARGS into req; *unknown counts the keys tartan does not know. */
static int args_pair(const char *p, size_t len, struct tartan_podreq *req, bool *ignore_unknown,
		     size_t *unknown, const char **first_unknown, size_t *first_len,
		     struct tartan_podreq_error *e)
{
	const char *eq = memchr(p, '=', len), *v;
	size_t klen, vlen;
	char q[QUOTE_MAX + 1];
	int err;

	if (!eq || memchr(eq + 1, '=', len - (size_t)(eq - p) - 1))
		return fail(e, TARTAN_CNI_ERR_INVALID_ENV, "CNI_ARGS: invalid pair '%s'",
			    quote(p, len, q));
	klen = (size_t)(eq - p);
	v = eq + 1;
	vlen = len - klen - 1;
	if (key_is(p, klen, "IgnoreUnknown")) {
		if ((vlen == 1 && (*v == '1' || *v == '0')) ||
		    (vlen == 4 && strncasecmp(v, "true", 4) == 0) ||
		    (vlen == 5 && strncasecmp(v, "false", 5) == 0))
			*ignore_unknown = *v == '1' || *v == 't' || *v == 'T';
		else
			return fail(e, TARTAN_CNI_ERR_INVALID_ENV,
				    "CNI_ARGS: IgnoreUnknown='%s' is not 1, 0, true or false",
				    quote(v, vlen, q));
	} else if (key_is(p, klen, "IP")) {
		req->has_addr = vlen > 0;
		err = vlen ? parse_addr(v, vlen, false, &req->addr, &req->addr_len) : 0;
		if (err < 0)
			return addr_error(e, TARTAN_CNI_ERR_INVALID_ENV, "CNI_ARGS IP", err, v,
					  vlen);
	} else if (key_is(p, klen, "MAC")) {
		req->has_mac = vlen > 0;
		err = vlen ? parse_mac(v, vlen, req->mac) : 0;
		if (err < 0)
			return mac_error(e, TARTAN_CNI_ERR_INVALID_ENV, "CNI_ARGS MAC", err, v,
					 vlen);
	} else if (!key_is(p, klen, "K8S_POD_NAMESPACE") && !key_is(p, klen, "K8S_POD_NAME")) {
		if (!(*unknown)++) {
			*first_unknown = p;
			*first_len = len;
		}
	}
	return 0;
}

static int parse_args(const char *args, struct tartan_podreq *req, struct tartan_podreq_error *e)
{
	const char *p = args, *first_unknown = NULL;
	size_t unknown = 0, first_len = 0;
	bool ignore_unknown = false;
	char q[QUOTE_MAX + 1];
	int err;

	/* LoadArgs: an empty CNI_ARGS is none; else every ';'-separated part is a pair */
	if (!args || !*args)
		return 0;
	for (;;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		err = args_pair(p, len, req, &ignore_unknown, &unknown, &first_unknown, &first_len,
				e);
		if (err < 0)
			return err;
		if (!end)
			break;
		p = end + 1;
	}
	if (unknown && !ignore_unknown)
		return fail(e, TARTAN_CNI_ERR_INVALID_ENV,
			    "CNI_ARGS: unknown args ('%s'%s) without IgnoreUnknown=1",
			    quote(first_unknown, first_len, q), unknown > 1 ? " and more" : "");
	req->addr_code = TARTAN_CNI_ERR_INVALID_ENV;
	req->mac_code = TARTAN_CNI_ERR_INVALID_ENV;
	return 0;
}

/* runtimeConfig.ips: at most one IPv4 address */
/* runtimeConfig.ips: one IPv4 address, possibly listed more than once (podman 4.3's network
 * reload sends a container's --ip twice) */
static int parse_ips(const json_t *ips, struct tartan_podreq *req, struct tartan_podreq_error *e)
{
	uint32_t addr = 0, first = 0;
	unsigned len = 0, first_len = 0;
	const json_t *v;
	size_t i;
	int err;

	if (!json_is_array(ips))
		return fail(e, TARTAN_CNI_ERR_INVALID_CONFIG, "runtimeConfig.ips is not a list");
	if (json_array_size(ips) == 0)
		return 0;
	json_array_foreach(ips, i, v) {
		char what[48];

		snprintf(what, sizeof(what), "runtimeConfig.ips[%zu]", i);
		if (!json_is_string(v))
			return fail(e, TARTAN_CNI_ERR_INVALID_CONFIG, "%s is not a string", what);
		err = parse_addr(json_string_value(v), json_string_length(v), true, &addr, &len);
		if (err < 0)
			return addr_error(e, TARTAN_CNI_ERR_INVALID_CONFIG, what, err,
					  json_string_value(v), json_string_length(v));
		if (i == 0) {
			first = addr;
			first_len = len;
		} else if (addr != first || (len && first_len && len != first_len)) {
			return fail(
				e, TARTAN_CNI_ERR_INVALID_CONFIG,
				"runtimeConfig.ips asks for more than one address (%s differs from "
				"[0]); an attachment gets one IPv4 address",
				what);
		} else if (!first_len) {
			first_len = len;
		}
	}
	if (req->has_addr && req->addr != first)
		return fail(e, TARTAN_CNI_ERR_INVALID_CONFIG,
			    "runtimeConfig.ips[0] and CNI_ARGS IP ask for different addresses");
	req->has_addr = true;
	req->addr = first;
	req->addr_len = first_len;
	req->addr_code = TARTAN_CNI_ERR_INVALID_CONFIG;
	return 0;
}

static int parse_runtime_mac(const json_t *mac, struct tartan_podreq *req,
			     struct tartan_podreq_error *e)
{
	uint8_t m[6];
	int err;

	if (!json_is_string(mac))
		return fail(e, TARTAN_CNI_ERR_INVALID_CONFIG, "runtimeConfig.mac is not a string");
	err = parse_mac(json_string_value(mac), json_string_length(mac), m);
	if (err < 0)
		return mac_error(e, TARTAN_CNI_ERR_INVALID_CONFIG, "runtimeConfig.mac", err,
				 json_string_value(mac), json_string_length(mac));
	if (req->has_mac && memcmp(req->mac, m, 6) != 0)
		return fail(e, TARTAN_CNI_ERR_INVALID_CONFIG,
			    "runtimeConfig.mac and CNI_ARGS MAC ask for different addresses");
	req->has_mac = true;
	memcpy(req->mac, m, 6);
	req->mac_code = TARTAN_CNI_ERR_INVALID_CONFIG;
	return 0;
}

int tartan_podreq_parse(const char *args, const json_t *config, struct tartan_podreq *ret,
			struct tartan_podreq_error *ret_error)
{
	struct tartan_podreq req = { 0 };
	const json_t *rc = json_object_get(config, "runtimeConfig"), *v;
	int err;

	err = parse_args(args, &req, ret_error);
	if (err < 0)
		return err;
	if (rc && !json_is_object(rc))
		return fail(ret_error, TARTAN_CNI_ERR_INVALID_CONFIG,
			    "runtimeConfig is not an object");
	v = json_object_get(rc, "ips");
	if (v) {
		err = parse_ips(v, &req, ret_error);
		if (err < 0)
			return err;
	}
	v = json_object_get(rc, "mac");
	if (v) {
		err = parse_runtime_mac(v, &req, ret_error);
		if (err < 0)
			return err;
	}
	*ret = req;
	return 0;
}
