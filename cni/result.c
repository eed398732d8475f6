/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cni/result.h"

const char *const tartan_cni_versions[TARTAN_CNI_VERSIONS_N] = {
	"0.3.1",
	"0.4.0",
	"1.0.0",
	"1.1.0",
};

const char *tartan_cni_version_find(const char *v)
{
	if (!v)
		return NULL;
	for (size_t i = 0; i < TARTAN_CNI_VERSIONS_N; i++)
		if (strcmp(v, tartan_cni_versions[i]) == 0)
			return tartan_cni_versions[i];
	return NULL;
}

/* the length of the UTF-8 sequence at s (left bytes there), 0 if it is not
 * one JSON may carry: the rules of RFC 3629 section 4, as jansson checks them */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c < 0xc2) /* a continuation byte, or an overlong 2-byte form */
		return 0;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
	if (n == 0 || left < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) ||  /* overlong 3-byte */
	    (c == 0xed && s[1] >= 0xa0) || /* UTF-16 surrogates */
	    (c == 0xf0 && s[1] < 0x90) ||  /* overlong 4-byte */
	    (c == 0xf4 && s[1] >= 0x90))   /* above U+10FFFF */
		return 0;
	return n;
}

bool tartan_cni_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	while (len > 0) {
		size_t n = utf8_seq(p, len);

		if (n == 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* s as valid UTF-8 (U+FFFD for each bad byte), cut at a character after
 * TARTAN_CNI_ERROR_TEXT_MAX bytes with "..." */
static char *text_clean(const char *s)
{
	static const char repl[] = "\xef\xbf\xbd", more[] = "...";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t left = strlen((const char *)p), len = 0;
	char *out = malloc(TARTAN_CNI_ERROR_TEXT_MAX + sizeof(more));

	if (!out)
		return NULL;
	while (left > 0) {
		size_t n = utf8_seq(p, left);
		const void *src = n ? (const void *)p : repl;
		size_t out_n = n ? n : 3;

		if (len + out_n > TARTAN_CNI_ERROR_TEXT_MAX) {
			memcpy(out + len, more, sizeof(more) - 1);
			len += sizeof(more) - 1;
			break;
		}
		memcpy(out + len, src, out_n);
		len += out_n;
		p += n ? n : 1;
		left -= n ? n : 1;
	}
	out[len] = '\0';
	return out;
}

void tartan_cni_error_free(struct tartan_cni_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e->details);
	free(e);
}

int tartan_cni_error_new(unsigned int code, const char *details, struct tartan_cni_error **ret,
			 const char *fmt, ...)
{
	struct tartan_cni_error *e;
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(msg);
		return -ENOMEM;
	}
	e->code = code;
	e->msg = text_clean(msg);
	e->details = text_clean(details);
	free(msg);
	if (!e->msg || !e->details) {
		tartan_cni_error_free(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

/* json_dumps plus '\n'; -ENOMEM */
static int dump_line(json_t *v, char **ret_text)
{
	char *s, *line;
	size_t len;

	if (!v)
		return -ENOMEM;
	s = json_dumps(v, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	len = strlen(s);
	line = realloc(s, len + 2);
	if (!line) {
		free(s);
		return -ENOMEM;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	*ret_text = line;
	return 0;
}

/* ---- results ---------------------------------------------------------------------------- */

enum field_type {
	F_STRING,
	F_UINT, /* an integer >= 0 */
	F_INT,
	F_STRINGS, /* a list of strings */
};

struct field {
	const char *key;
	enum field_type type;
	bool required;
	bool since_1_1; /* only in results of 1.1.0 */
};

static bool field_type_ok(json_t *v, enum field_type t)
{
	size_t i;
	json_t *s;

	switch (t) {
	case F_STRING:
		return json_is_string(v);
	case F_UINT:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case F_INT:
		return json_is_integer(v);
	case F_STRINGS:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, s)
			if (!json_is_string(s))
				return false;
		return true;
	}
	return false;
}

/* copies the fields of table from -> to (both objects) that the version has;
 * every field present must be of its type, even one the version drops */
static int copy_fields(json_t *to, json_t *from, const struct field *table, size_t n, bool v1_1)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(from, table[i].key);

		if (!v) {
			if (table[i].required)
				return -EBADMSG;
			continue;
		}
		if (!field_type_ok(v, table[i].type))
			return -EBADMSG;
		if (table[i].since_1_1 && !v1_1)
			continue;
		if (json_object_set(to, table[i].key, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

#define N_FIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* clang-format off */
static const struct field interface_fields[] = {
	{ .key = "name",       .type = F_STRING, .required = true },
	{ .key = "mac",        .type = F_STRING },
	{ .key = "mtu",        .type = F_UINT,   .since_1_1 = true },
	{ .key = "sandbox",    .type = F_STRING },
	{ .key = "socketPath", .type = F_STRING, .since_1_1 = true },
	{ .key = "pciID",      .type = F_STRING, .since_1_1 = true },
};
static const struct field ip_fields[] = {
	{ .key = "address",   .type = F_STRING, .required = true },
	{ .key = "gateway",   .type = F_STRING },
	{ .key = "interface", .type = F_UINT },
};
static const struct field route_fields[] = {
	{ .key = "dst",      .type = F_STRING, .required = true },
	{ .key = "gw",       .type = F_STRING },
	{ .key = "mtu",      .type = F_UINT, .since_1_1 = true },
	{ .key = "advmss",   .type = F_UINT, .since_1_1 = true },
	{ .key = "priority", .type = F_UINT, .since_1_1 = true },
	{ .key = "table",    .type = F_INT,  .since_1_1 = true },
	{ .key = "scope",    .type = F_INT,  .since_1_1 = true },
};
static const struct field dns_fields[] = {
	{ .key = "nameservers", .type = F_STRINGS },
	{ .key = "domain",      .type = F_STRING },
	{ .key = "search",      .type = F_STRINGS },
	{ .key = "options",     .type = F_STRINGS },
};
/* clang-format on */

/* neutral[key], a list of objects, each copied with table into out[key]; ip_version adds
 * the "version" of results before 1.0.0 */
static int copy_list(json_t *out, json_t *neutral, const char *key, const struct field *table,
		     size_t n, bool v1_1, bool ip_version)
{
	json_t *list = json_object_get(neutral, key), *item;
	json_auto_t *copy = NULL;
	size_t i;
	int r;

	if (!list)
		return 0;
	if (!json_is_array(list))
		return -EBADMSG;
	copy = json_array();
	if (!copy)
		return -ENOMEM;
	json_array_foreach(list, i, item) {
		json_auto_t *o = NULL;

		if (!json_is_object(item))
			return -EBADMSG;
		o = json_object();
		if (!o)
			return -ENOMEM;
		/* 0.3.x and 0.4.0: "version" first, as their Go encoder puts it */
		if (ip_version) {
			json_t *addr = json_object_get(item, "address");
			const char *a = json_is_string(addr) ? json_string_value(addr) : "";

			if (json_object_set_new(o, "version",
						json_string(strchr(a, ':') ? "6" : "4")) < 0)
				return -ENOMEM;
		}
		r = copy_fields(o, item, table, n, v1_1);
		if (r < 0)
			return r;
		if (json_array_append(copy, o) < 0)
			return -ENOMEM;
	}
	if (json_object_set(out, key, copy) < 0)
		return -ENOMEM;
	return 0;
}

int tartan_cni_result_render(json_t *neutral, const char *cni_version, char **ret_text)
{
	json_auto_t *out = NULL, *dns_out = NULL;
	const char *v = tartan_cni_version_find(cni_version);
	json_t *ifaces, *ips, *ip, *dns;
	bool v1_1, pre_1;
	size_t i, n_ifaces;
	int r;

	if (!v || !ret_text)
		return -EINVAL;
	if (!json_is_object(neutral))
		return -EBADMSG;
	v1_1 = strcmp(v, "1.1.0") == 0;
	pre_1 = v[0] == '0';

	out = json_pack("{s:s}", "cniVersion", v);
	if (!out)
		return -ENOMEM;
	r = copy_list(out, neutral, "interfaces", interface_fields, N_FIELDS(interface_fields),
		      v1_1, false);
	if (r < 0)
		return r;
	r = copy_list(out, neutral, "ips", ip_fields, N_FIELDS(ip_fields), v1_1, pre_1);
	if (r < 0)
		return r;
	r = copy_list(out, neutral, "routes", route_fields, N_FIELDS(route_fields), v1_1, false);
	if (r < 0)
		return r;

	/* an ip names its interface by index into interfaces[] */
	ifaces = json_object_get(out, "interfaces");
	n_ifaces = json_array_size(ifaces);
	ips = json_object_get(out, "ips");
	json_array_foreach(ips, i, ip) {
		json_t *idx = json_object_get(ip, "interface");

		if (idx && (json_int_t)n_ifaces <= json_integer_value(idx))
			return -EBADMSG;
	}

	dns = json_object_get(neutral, "dns");
	if (dns && !json_is_object(dns))
		return -EBADMSG;
	dns_out = json_object();
	if (!dns_out)
		return -ENOMEM;
	if (dns) {
		r = copy_fields(dns_out, dns, dns_fields, N_FIELDS(dns_fields), v1_1);
		if (r < 0)
			return r;
	}
	if (json_object_set(out, "dns", dns_out) < 0)
		return -ENOMEM;
	return dump_line(out, ret_text);
}

int tartan_cni_error_render(const struct tartan_cni_error *e, const char *cni_version,
			    char **ret_text)
{
	json_auto_t *out = NULL;
	const char *v = cni_version    ? cni_version :
			e->cni_version ? e->cni_version :
					 TARTAN_CNI_VERSION_LATEST;

	/* msg and details are valid UTF-8 by construction (error_new, answer_parse) */
	out = json_pack("{s:s,s:I,s:s,s:s}", "cniVersion", v, "code", (json_int_t)e->code, "msg",
			e->msg, "details", e->details);
	return dump_line(out, ret_text);
}

/* "1.0.0": three numbers of at most 4 digits each */
static bool version_like(const char *s)
{
	for (int part = 0; part < 3; part++) {
		int digits = 0;

		while (*s >= '0' && *s <= '9' && digits <= 4) {
			s++;
			digits++;
		}
		if (digits == 0 || digits > 4)
			return false;
		if (part < 2 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

int tartan_cni_version_render(const char *asked, char **ret_text)
{
	json_auto_t *out = NULL, *list = NULL;

	list = json_array();
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < TARTAN_CNI_VERSIONS_N; i++)
		if (json_array_append_new(list, json_string(tartan_cni_versions[i])) < 0)
			return -ENOMEM;
	out = json_pack("{s:s,s:O}", "cniVersion",
			asked && version_like(asked) ? asked : TARTAN_CNI_VERSION_LATEST,
			"supportedVersions", list);
	return dump_line(out, ret_text);
}

/* ---- tartand's answer ------------------------------------------------------------------ */

/* the daemon's CNI error object -> a CNI error */
static int answer_error(json_t *err, struct tartan_cni_error **ret_error)
{
	json_t *code = json_object_get(err, "code"), *msg = json_object_get(err, "msg"),
	       *details = json_object_get(err, "details");

	if (!json_is_object(err) || !json_is_integer(code) || json_integer_value(code) < 0 ||
	    json_integer_value(code) > (json_int_t)UINT32_MAX || (msg && !json_is_string(msg)) ||
	    (details && !json_is_string(details)))
		return -EBADMSG;
	return tartan_cni_error_new((unsigned int)json_integer_value(code),
				    details ? json_string_value(details) : NULL, ret_error, "%s",
				    msg ? json_string_value(msg) : "");
}

int tartan_cni_answer_parse(const char *line, size_t len, json_t **ret_result,
			    struct tartan_cni_error **ret_error)
{
	json_auto_t *answer = NULL;
	json_t *ok, *result, *res, *err;
	json_error_t jerr;

	if ((!line && len > 0) || !ret_result || !ret_error)
		return -EINVAL;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > TARTAN_CNI_ANSWER_MAX)
		return -EBADMSG;
	answer = json_loadb(line ? line : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!answer)
		return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EBADMSG;
	ok = json_object_get(answer, "ok");
	if (!json_is_boolean(ok))
		return -EBADMSG;

	if (!json_is_true(ok)) {
		json_t *text = json_object_get(answer, "error");

		if (text && !json_is_string(text))
			return -EBADMSG;
		return tartan_cni_error_new(TARTAN_CNI_ERR_TRY_AGAIN_LATER,
					    text ? json_string_value(text) : "no message",
					    ret_error, "tartand could not take the request");
	}

	result = json_object_get(answer, "result");
	if (!json_is_object(result))
		return -EBADMSG;
	res = json_object_get(result, "result");
	err = json_object_get(result, "error");
	if (!res == !err)
		return -EBADMSG;
	if (err)
		return answer_error(err, ret_error);
	if (!json_is_object(res))
		return -EBADMSG;
	*ret_result = json_incref(res);
	return 0;
}
