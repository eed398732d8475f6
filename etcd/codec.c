/* SPDX-License-Identifier: Apache-2.0 */
/*
 * etcd v3 JSON gateway codec (see codec.h). Facts: shared/docs/cni-etcd-api.md
 * part 2.
 *
 * Decoding rules, beyond the header:
 * - proto3 JSON leaves default fields out and allows null for any of them, so
 *   an absent or null field decodes as 0, false or empty.
 * - Integers are accepted as JSON strings (what etcd sends) or JSON integers;
 *   a string must be plain decimal ("-" allowed for signed fields only, no
 *   "+", no blanks, no junk) and fit the field, else -EBADMSG.
 * - Every bytes field of a decoded struct (kv key and value, also those of an
 *   absent prev_kv) points to its own malloc()ed buffer, "" when empty, and
 *   every string (token, cancel_reason, error_message) is malloc()ed and ""
 *   when absent: callers never check for NULL and may take ownership of a
 *   buffer by moving it out and zeroing the field.
 * - Only the fields of the requested kind are read; others are ignored, as
 *   etcd ignores unknown fields.
 * - A nested "response_txn" inside a txn answer is rejected with -EBADMSG:
 *   tartan never sends nested txns and enum tartan_etcd_op_type has no value
 *   for one.
 * - has_ttl is set by every lease kind (grant, keepalive, timetolive): true
 *   when TTL is present and > 0, i.e. the lease is alive.
 * - decode_error needs "code": an object without it is not etcd's error body.
 * - A failed allocation is -ENOMEM, except inside jansson's parser, which
 *   does not always say why it failed: that case comes out as -EBADMSG.
 *   Nothing leaks either way.
 *
 * Encoding: compact JSON, fields in proto order, int64 as strings. False
 * booleans, zero limit/revision/lease and empty lists are left out, but put
 * always writes "value" and a compare always writes its operand (0 too).
 * -EINVAL for prefix together with a range_end, a negative revision, limit,
 * TTL or start_revision, bytes NULL with a length, an unknown enum, and
 * credentials that are not UTF-8.
 */
#include "etcd/codec.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- base64 */

static const char b64_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character -> 6-bit value; 0x80 marks a character outside the alphabet,
 * including '=' (padding is handled apart, only at the end). */
/* clang-format off */
static const uint8_t b64_value[256] = {
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x00 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x08 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x10 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x18 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x20 */
	0x80, 0x80, 0x80, 0x3e, 0x80, 0x80, 0x80, 0x3f, /* 0x28 */
	0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, /* 0x30 */
	0x3c, 0x3d, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x38 */
	0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, /* 0x40 */
	0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, /* 0x48 */
	0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, /* 0x50 */
	0x17, 0x18, 0x19, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x58 */
	0x80, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, /* 0x60 */
	0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, /* 0x68 */
	0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, /* 0x70 */
	0x31, 0x32, 0x33, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x78 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x80 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x88 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x90 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x98 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xa0 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xa8 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xb0 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xb8 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xc0 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xc8 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xd0 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xd8 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xe0 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xe8 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xf0 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0xf8 */
};
/* clang-format on */

static char *b64_encode(const uint8_t *p, size_t len, size_t *ret_len)
{
	size_t out_len;
	char *out, *o;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	out_len = (len + 2) / 3 * 4;
	out = malloc(out_len + 1);
	if (!out)
		return NULL;

	o = out;
	for (; len >= 3; len -= 3, p += 3, o += 4) {
		uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[(v >> 12) & 63];
		o[2] = b64_alphabet[(v >> 6) & 63];
		o[3] = b64_alphabet[v & 63];
	}
	if (len > 0) {
		uint32_t v = (uint32_t)p[0] << 16 | (len > 1 ? (uint32_t)p[1] << 8 : 0);

		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[(v >> 12) & 63];
		o[2] = len > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	*o = '\0';
	*ret_len = out_len;
	return out;
}

char *tartan_etcd_base64_encode(const void *data, size_t len)
{
	size_t out_len;

	if (!data && len > 0)
		return NULL;
	return b64_encode(data, len, &out_len);
}

int tartan_etcd_base64_decode(const char *text, size_t text_len, struct tartan_etcd_bytes *ret)
{
	const uint8_t *s = (const uint8_t *)text;
	size_t quads, pad = 0, out_len;
	uint32_t bad = 0;
	uint8_t *out, *o;

	if (!ret || (!text && text_len > 0))
		return -EINVAL;
	if (text_len % 4 != 0)
		return -EINVAL;
	if (text_len > 0 && text[text_len - 1] == '=')
		pad = text[text_len - 2] == '=' ? 2 : 1;
	quads = text_len / 4 - (pad > 0);
	out_len = text_len / 4 * 3 - pad;

	out = malloc(out_len + 1);
	if (!out)
		return -ENOMEM;

	/* Errors are OR-ed together and checked once: the loop has no branch
	 * per character, only table lookups. */
	o = out;
	for (size_t i = 0; i < quads; i++, s += 4, o += 3) {
		uint32_t a = b64_value[s[0]], b = b64_value[s[1]], c = b64_value[s[2]],
			 d = b64_value[s[3]];
		uint32_t v = a << 18 | b << 12 | c << 6 | d;

		bad |= a | b | c | d;
		o[0] = (uint8_t)(v >> 16);
		o[1] = (uint8_t)(v >> 8);
		o[2] = (uint8_t)v;
	}
	if (pad == 1) {
		/* "xyz=": 18 bits, the last 2 must be zero (strict, as Go's
		 * base64.StdEncoding.Strict) */
		uint32_t a = b64_value[s[0]], b = b64_value[s[1]], c = b64_value[s[2]];
		uint32_t v = a << 18 | b << 12 | c << 6;

		bad |= a | b | c | (c & 0x03 ? 0x80 : 0);
		o[0] = (uint8_t)(v >> 16);
		o[1] = (uint8_t)(v >> 8);
	} else if (pad == 2) {
		/* "xy==": 12 bits, the last 4 must be zero */
		uint32_t a = b64_value[s[0]], b = b64_value[s[1]];
		uint32_t v = a << 18 | b << 12;

		bad |= a | b | (b & 0x0f ? 0x80 : 0);
		o[0] = (uint8_t)(v >> 16);
	}
	if (bad & 0x80) {
		free(out);
		return -EINVAL;
	}
	out[out_len] = '\0';
	ret->data = (char *)out;
	ret->len = out_len;
	return 0;
}

int tartan_etcd_prefix_end(const void *prefix, size_t len, struct tartan_etcd_bytes *ret)
{
	const uint8_t *p = prefix;
	char *end;

	if (!ret || (!prefix && len > 0))
		return -EINVAL;
	/* bytes 0xff cannot be incremented: drop them and carry into the one
	 * before, as etcd's clientv3.GetPrefixRangeEnd does */
	while (len > 0 && p[len - 1] == 0xff)
		len--;
	if (len == 0) {
		/* no upper bound: "\0" means "every key >= key" to etcd */
		end = calloc(2, 1);
		if (!end)
			return -ENOMEM;
		ret->data = end;
		ret->len = 1;
		return 0;
	}
	end = malloc(len + 1);
	if (!end)
		return -ENOMEM;
	memcpy(end, p, len);
	end[len - 1] = (char)(p[len - 1] + 1);
	end[len] = '\0';
	ret->data = end;
	ret->len = len;
	return 0;
}

/* -------------------------------------------------------------- encoders */

static int set_new(json_t *o, const char *name, json_t *v)
{
	/* jansson drops v on failure, also when v is NULL (allocation failed) */
	return json_object_set_new_nocheck(o, name, v) < 0 ? -ENOMEM : 0;
}

static int set_name(json_t *o, const char *name, const char *value)
{
	return set_new(o, name, json_string_nocheck(value));
}

static int set_bytes(json_t *o, const char *name, const void *data, size_t len)
{
	size_t text_len;
	char *text;
	json_t *v;

	if (!data && len > 0)
		return -EINVAL;
	text = b64_encode(data, len, &text_len);
	if (!text)
		return -ENOMEM;
	v = json_stringn_nocheck(text, text_len);
	free(text);
	return set_new(o, name, v);
}

/* int64 goes out as a JSON string, as etcd itself writes them */
static int set_int(json_t *o, const char *name, int64_t value)
{
	char buf[24];
	int n;

	n = snprintf(buf, sizeof(buf), "%" PRId64, value);
	return set_new(o, name, json_stringn_nocheck(buf, (size_t)n));
}

/* proto3 style: false is the default and is left out */
static int set_true(json_t *o, const char *name, bool value)
{
	return value ? set_new(o, name, json_true()) : 0;
}

static int fill_key_range(json_t *o, const struct tartan_etcd_key_range *k)
{
	struct tartan_etcd_bytes end;
	int r;

	if (!k->key && k->key_len > 0)
		return -EINVAL;
	if (!k->range_end && k->range_end_len > 0)
		return -EINVAL;
	/* an explicit range_end and prefix contradict each other */
	if (k->prefix && k->range_end_len > 0)
		return -EINVAL;

	r = set_bytes(o, "key", k->key, k->key_len);
	if (r < 0)
		return r;
	if (k->prefix) {
		r = tartan_etcd_prefix_end(k->key, k->key_len, &end);
		if (r < 0)
			return r;
		r = set_bytes(o, "range_end", end.data, end.len);
		free(end.data);
		return r;
	}
	/* an empty range_end is the proto3 default: the single key */
	if (k->range_end_len > 0)
		return set_bytes(o, "range_end", k->range_end, k->range_end_len);
	return 0;
}

/* Field order follows the proto (RangeRequest: key, range_end, limit,
 * revision, serializable, keys_only, count_only). */
static int fill_range(json_t *o, const struct tartan_etcd_range_req *req)
{
	int r;

	if (req->revision < 0 || req->limit < 0)
		return -EINVAL;
	r = fill_key_range(o, &req->keys);
	if (r < 0)
		return r;
	if (req->limit > 0) {
		r = set_int(o, "limit", req->limit);
		if (r < 0)
			return r;
	}
	if (req->revision > 0) {
		r = set_int(o, "revision", req->revision);
		if (r < 0)
			return r;
	}
	r = set_true(o, "serializable", req->serializable);
	if (r < 0)
		return r;
	r = set_true(o, "keys_only", req->keys_only);
	if (r < 0)
		return r;
	return set_true(o, "count_only", req->count_only);
}

static int fill_put(json_t *o, const struct tartan_etcd_put_req *req)
{
	int r;

	if (!req->key && req->key_len > 0)
		return -EINVAL;
	r = set_bytes(o, "key", req->key, req->key_len);
	if (r < 0)
		return r;
	/* always written, also when empty: the request then says what it does */
	r = set_bytes(o, "value", req->value, req->value_len);
	if (r < 0)
		return r;
	if (req->lease != 0) {
		r = set_int(o, "lease", req->lease);
		if (r < 0)
			return r;
	}
	return set_true(o, "prev_kv", req->prev_kv);
}

static int fill_delete(json_t *o, const struct tartan_etcd_delete_req *req)
{
	int r;

	r = fill_key_range(o, &req->keys);
	if (r < 0)
		return r;
	return set_true(o, "prev_kv", req->prev_kv);
}

/* json_dumps the object and drop it; r is the result of filling it */
static int finish(json_t *root, int r, char **ret_json)
{
	char *text;

	if (r >= 0) {
		text = json_dumps(root, JSON_COMPACT);
		if (text)
			*ret_json = text;
		else
			r = -ENOMEM;
	}
	json_decref(root);
	return r < 0 ? r : 0;
}

int tartan_etcd_encode_range(const struct tartan_etcd_range_req *req, char **ret_json)
{
	json_t *o;

	if (!req || !ret_json)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	return finish(o, fill_range(o, req), ret_json);
}

int tartan_etcd_encode_put(const struct tartan_etcd_put_req *req, char **ret_json)
{
	json_t *o;

	if (!req || !ret_json)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	return finish(o, fill_put(o, req), ret_json);
}

int tartan_etcd_encode_delete(const struct tartan_etcd_delete_req *req, char **ret_json)
{
	json_t *o;

	if (!req || !ret_json)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	return finish(o, fill_delete(o, req), ret_json);
}

static const char *const cmp_target_names[] = {
	[TARTAN_ETCD_CMP_VERSION] = "VERSION", [TARTAN_ETCD_CMP_CREATE] = "CREATE",
	[TARTAN_ETCD_CMP_MOD] = "MOD",	       [TARTAN_ETCD_CMP_VALUE] = "VALUE",
	[TARTAN_ETCD_CMP_LEASE] = "LEASE",
};

/* the Compare oneof member that goes with each target */
static const char *const cmp_target_fields[] = {
	[TARTAN_ETCD_CMP_VERSION] = "version",	[TARTAN_ETCD_CMP_CREATE] = "create_revision",
	[TARTAN_ETCD_CMP_MOD] = "mod_revision", [TARTAN_ETCD_CMP_VALUE] = "value",
	[TARTAN_ETCD_CMP_LEASE] = "lease",
};

static const char *const cmp_result_names[] = {
	[TARTAN_ETCD_CMP_EQUAL] = "EQUAL",
	[TARTAN_ETCD_CMP_GREATER] = "GREATER",
	[TARTAN_ETCD_CMP_LESS] = "LESS",
	[TARTAN_ETCD_CMP_NOT_EQUAL] = "NOT_EQUAL",
};

static int fill_compare(json_t *o, const struct tartan_etcd_compare *c)
{
	unsigned target = (unsigned)c->target, result = (unsigned)c->result;
	int r;

	if (target > TARTAN_ETCD_CMP_LEASE || result > TARTAN_ETCD_CMP_NOT_EQUAL)
		return -EINVAL;
	if (!c->key && c->key_len > 0)
		return -EINVAL;
	r = set_bytes(o, "key", c->key, c->key_len);
	if (r < 0)
		return r;
	r = set_name(o, "target", cmp_target_names[target]);
	if (r < 0)
		return r;
	r = set_name(o, "result", cmp_result_names[result]);
	if (r < 0)
		return r;
	/* written also when zero: create_revision 0 is "the key is absent" */
	if (target == TARTAN_ETCD_CMP_VALUE)
		return set_bytes(o, cmp_target_fields[target], c->value, c->value_len);
	return set_int(o, cmp_target_fields[target], c->number);
}

static int append_op(json_t *arr, const struct tartan_etcd_op *op)
{
	const char *name;
	json_t *inner, *wrap;
	int r;

	inner = json_object();
	if (!inner)
		return -ENOMEM;
	switch (op->type) {
	case TARTAN_ETCD_OP_RANGE:
		name = "request_range";
		r = fill_range(inner, &op->range);
		break;
	case TARTAN_ETCD_OP_PUT:
		name = "request_put";
		r = fill_put(inner, &op->put);
		break;
	case TARTAN_ETCD_OP_DELETE:
		name = "request_delete_range";
		r = fill_delete(inner, &op->del);
		break;
	default:
		name = NULL;
		r = -EINVAL;
		break;
	}
	if (r < 0) {
		json_decref(inner);
		return r;
	}
	wrap = json_object();
	if (!wrap) {
		json_decref(inner);
		return -ENOMEM;
	}
	r = set_new(wrap, name, inner);
	if (r < 0) {
		json_decref(wrap);
		return r;
	}
	return json_array_append_new(arr, wrap) < 0 ? -ENOMEM : 0;
}

static int set_ops(json_t *o, const char *name, const struct tartan_etcd_op *ops, size_t n)
{
	json_t *arr;
	int r;

	if (n == 0)
		return 0;
	if (!ops)
		return -EINVAL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = append_op(arr, &ops[i]);
		if (r < 0) {
			json_decref(arr);
			return r;
		}
	}
	return set_new(o, name, arr);
}

static int fill_txn(json_t *o, const struct tartan_etcd_txn_req *req)
{
	json_t *arr, *c;
	int r;

	if (req->n_compare > 0) {
		if (!req->compare)
			return -EINVAL;
		arr = json_array();
		if (!arr)
			return -ENOMEM;
		r = set_new(o, "compare", arr);
		if (r < 0)
			return r;
		/* arr is owned by o now; filling it in place is safe */
		for (size_t i = 0; i < req->n_compare; i++) {
			c = json_object();
			if (!c)
				return -ENOMEM;
			if (json_array_append_new(arr, c) < 0)
				return -ENOMEM;
			r = fill_compare(c, &req->compare[i]);
			if (r < 0)
				return r;
		}
	}
	r = set_ops(o, "success", req->success, req->n_success);
	if (r < 0)
		return r;
	return set_ops(o, "failure", req->failure, req->n_failure);
}

int tartan_etcd_encode_txn(const struct tartan_etcd_txn_req *req, char **ret_json)
{
	json_t *o;

	if (!req || !ret_json)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	return finish(o, fill_txn(o, req), ret_json);
}

static int fill_watch_create(json_t *o, const struct tartan_etcd_watch_req *req)
{
	json_t *c;
	int r;

	if (req->start_revision < 0)
		return -EINVAL;
	c = json_object();
	if (!c)
		return -ENOMEM;
	r = set_new(o, "create_request", c);
	if (r < 0)
		return r;
	r = fill_key_range(c, &req->keys);
	if (r < 0)
		return r;
	if (req->start_revision > 0) {
		r = set_int(c, "start_revision", req->start_revision);
		if (r < 0)
			return r;
	}
	r = set_true(c, "progress_notify", req->progress_notify);
	if (r < 0)
		return r;
	return set_true(c, "prev_kv", req->prev_kv);
}

int tartan_etcd_encode_watch_create(const struct tartan_etcd_watch_req *req, char **ret_json)
{
	json_t *o;

	if (!req || !ret_json)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	return finish(o, fill_watch_create(o, req), ret_json);
}

int tartan_etcd_encode_lease_grant(int64_t ttl, int64_t id, char **ret_json)
{
	json_t *o;
	int r;

	if (ttl < 0 || !ret_json)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	r = set_int(o, "TTL", ttl);
	/* ID 0 asks the server to choose one */
	if (r >= 0 && id != 0)
		r = set_int(o, "ID", id);
	return finish(o, r, ret_json);
}

int tartan_etcd_encode_lease_id(int64_t id, bool keys, char **ret_json)
{
	json_t *o;
	int r;

	if (!ret_json)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	r = set_int(o, "ID", id);
	if (r >= 0)
		r = set_true(o, "keys", keys);
	return finish(o, r, ret_json);
}

/* Whether s is UTF-8 without overlong forms, surrogates or code points above
 * U+10FFFF: what jansson demands of every JSON string. Checked here so that
 * a bad name is -EINVAL and a failed allocation stays -ENOMEM. */
static bool utf8_valid(const char *str)
{
	const uint8_t *s = (const uint8_t *)str;

	while (*s) {
		uint32_t c = *s;
		size_t n;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			c &= 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			c &= 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			c &= 0x07;
		} else {
			return false;
		}
		/* the NUL terminator fails the continuation test: no overrun */
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10ffff)) ||
		    (c >= 0xd800 && c <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

int tartan_etcd_encode_authenticate(const char *name, const char *password, char **ret_json)
{
	json_t *o;
	int r;

	if (!name || !password || !ret_json)
		return -EINVAL;
	if (!utf8_valid(name) || !utf8_valid(password))
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	r = set_new(o, "name", json_string_nocheck(name));
	if (r >= 0)
		r = set_new(o, "password", json_string_nocheck(password));
	return finish(o, r, ret_json);
}

int tartan_etcd_encode_compact(int64_t revision, bool physical, char **ret_json)
{
	json_t *o;
	int r;

	if (revision < 0 || !ret_json)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	r = set_int(o, "revision", revision);
	if (r >= 0)
		r = set_true(o, "physical", physical);
	return finish(o, r, ret_json);
}

/* -------------------------------------------------------------- decoders */

static int load_object(const char *buf, size_t len, json_t **ret)
{
	json_error_t error;
	json_t *root;

	if (!buf && len > 0)
		return -EINVAL;
	/* flags 0: integers stay integers (JSON_DECODE_INT_AS_REAL off), the
	 * top level must be an object or array, and nothing but blanks may
	 * follow it (a watch line ends in "\n"). Nesting deeper than
	 * JSON_PARSER_MAX_DEPTH is refused by jansson. */
	root = json_loadb(buf ? buf : "", len, 0, &error);
	if (!root)
		return json_error_code(&error) == json_error_out_of_memory ? -ENOMEM : -EBADMSG;
	if (!json_is_object(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	*ret = root;
	return 0;
}

/* proto3 JSON allows null for any field; it means the default */
static json_t *field(const json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_null(v) ? NULL : v;
}

static int parse_u64(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	if (n == 0)
		return -EBADMSG;
	/* the overflow check bounds the length; leading zeros are fine */
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static int parse_i64(const char *s, size_t n, int64_t *ret)
{
	uint64_t mag;
	int r;

	if (n > 0 && s[0] == '-') {
		r = parse_u64(s + 1, n - 1, &mag);
		if (r < 0)
			return r;
		if (mag > (uint64_t)INT64_MAX + 1)
			return -EBADMSG;
		*ret = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
		return 0;
	}
	r = parse_u64(s, n, &mag);
	if (r < 0)
		return r;
	if (mag > INT64_MAX)
		return -EBADMSG;
	*ret = (int64_t)mag;
	return 0;
}

static int get_i64(const json_t *o, const char *name, int64_t *ret)
{
	json_t *v = field(o, name);

	if (!v) {
		*ret = 0;
		return 0;
	}
	if (json_is_string(v))
		return parse_i64(json_string_value(v), json_string_length(v), ret);
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return 0;
	}
	return -EBADMSG;
}

static int get_u64(const json_t *o, const char *name, uint64_t *ret)
{
	json_t *v = field(o, name);

	if (!v) {
		*ret = 0;
		return 0;
	}
	if (json_is_string(v))
		return parse_u64(json_string_value(v), json_string_length(v), ret);
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*ret = (uint64_t)json_integer_value(v);
		return 0;
	}
	return -EBADMSG;
}

static int get_int(const json_t *o, const char *name, int *ret)
{
	int64_t v;
	int r;

	r = get_i64(o, name, &v);
	if (r < 0)
		return r;
	if (v < INT32_MIN || v > INT32_MAX)
		return -EBADMSG;
	*ret = (int)v;
	return 0;
}

static int get_bool(const json_t *o, const char *name, bool *ret)
{
	json_t *v = field(o, name);

	if (!v) {
		*ret = false;
		return 0;
	}
	if (!json_is_boolean(v))
		return -EBADMSG;
	*ret = json_is_true(v);
	return 0;
}

static int bytes_empty(struct tartan_etcd_bytes *ret)
{
	ret->data = calloc(1, 1);
	if (!ret->data)
		return -ENOMEM;
	ret->len = 0;
	return 0;
}

static int get_bytes(const json_t *o, const char *name, struct tartan_etcd_bytes *ret)
{
	json_t *v = field(o, name);
	int r;

	if (!v)
		return bytes_empty(ret);
	if (!json_is_string(v))
		return -EBADMSG;
	r = tartan_etcd_base64_decode(json_string_value(v), json_string_length(v), ret);
	return r == -EINVAL ? -EBADMSG : r;
}

static int string_empty(char **ret)
{
	*ret = calloc(1, 1);
	return *ret ? 0 : -ENOMEM;
}

static int get_string(const json_t *o, const char *name, char **ret)
{
	json_t *v = field(o, name);
	const char *s = "";
	size_t n = 0;
	char *copy;

	if (v) {
		if (!json_is_string(v))
			return -EBADMSG;
		s = json_string_value(v);
		n = json_string_length(v);
	}
	copy = malloc(n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, n);
	copy[n] = '\0';
	*ret = copy;
	return 0;
}

/* absent: zeros; else it must be an object */
static int get_object(const json_t *o, const char *name, json_t **ret)
{
	json_t *v = field(o, name);

	if (v && !json_is_object(v))
		return -EBADMSG;
	*ret = v;
	return 0;
}

static int decode_header(const json_t *o, struct tartan_etcd_header *h)
{
	json_t *j;
	int r;

	r = get_object(o, "header", &j);
	if (r < 0)
		return r;
	/* json_object_get(NULL, ...) is NULL: an absent header gives zeros */
	r = get_u64(j, "cluster_id", &h->cluster_id);
	if (r < 0)
		return r;
	r = get_u64(j, "member_id", &h->member_id);
	if (r < 0)
		return r;
	r = get_i64(j, "revision", &h->revision);
	if (r < 0)
		return r;
	return get_u64(j, "raft_term", &h->raft_term);
}

static void kv_clear(struct tartan_etcd_kv *kv)
{
	free(kv->key.data);
	free(kv->value.data);
	kv->key.data = kv->value.data = NULL;
}

/* j NULL: an absent kv, all empty. On failure kv holds what was decoded so
 * far; kv_clear() frees it. */
static int decode_kv(const json_t *j, struct tartan_etcd_kv *kv)
{
	int r;

	if (j && !json_is_object(j))
		return -EBADMSG;
	r = get_bytes(j, "key", &kv->key);
	if (r < 0)
		return r;
	r = get_bytes(j, "value", &kv->value);
	if (r < 0)
		return r;
	r = get_i64(j, "create_revision", &kv->create_revision);
	if (r < 0)
		return r;
	r = get_i64(j, "mod_revision", &kv->mod_revision);
	if (r < 0)
		return r;
	r = get_i64(j, "version", &kv->version);
	if (r < 0)
		return r;
	return get_i64(j, "lease", &kv->lease);
}

/* Fills *kvs and *n as soon as the zeroed array exists, so that the owner's
 * clear function frees a half-decoded array. */
static int decode_kv_array(const json_t *o, const char *name, struct tartan_etcd_kv **kvs,
			   size_t *n)
{
	json_t *arr = field(o, name);
	size_t count;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return -EBADMSG;
	count = json_array_size(arr);
	if (count == 0)
		return 0;
	*kvs = calloc(count, sizeof(**kvs));
	if (!*kvs)
		return -ENOMEM;
	*n = count;
	for (size_t i = 0; i < count; i++) {
		json_t *e = json_array_get(arr, i);
		int r;

		if (!json_is_object(e))
			return -EBADMSG;
		r = decode_kv(e, &(*kvs)[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static void result_clear(struct tartan_etcd_result *r)
{
	for (size_t i = 0; i < r->n_kvs && !r->backing; i++)
		kv_clear(&r->kvs[i]);
	free(r->backing);
	free(r->kvs);
	for (size_t i = 0; i < r->n_responses; i++)
		result_clear(&r->responses[i]);
	free(r->responses);
	free(r->token);
}

void tartan_etcd_result_free(struct tartan_etcd_result *r)
{
	if (!r)
		return;
	result_clear(r);
	free(r);
}

static int decode_result_body(const json_t *o, enum tartan_etcd_result_kind kind,
			      struct tartan_etcd_result *res);

static const struct {
	const char *name;
	enum tartan_etcd_result_kind kind;
	enum tartan_etcd_op_type op;
} response_ops[] = {
	{ "response_range", TARTAN_ETCD_RESULT_RANGE, TARTAN_ETCD_OP_RANGE },
	{ "response_put", TARTAN_ETCD_RESULT_PUT, TARTAN_ETCD_OP_PUT },
	{ "response_delete_range", TARTAN_ETCD_RESULT_DELETE, TARTAN_ETCD_OP_DELETE },
};

/* One ResponseOp: exactly one of the oneof members. */
static int decode_response_op(const json_t *e, struct tartan_etcd_result *res)
{
	json_t *sub = NULL;
	size_t which = 0, found = 0;

	if (!json_is_object(e))
		return -EBADMSG;
	/* tartan sends no nested txn, and the result has no op type for one */
	if (field(e, "response_txn"))
		return -EBADMSG;
	for (size_t i = 0; i < sizeof(response_ops) / sizeof(response_ops[0]); i++) {
		json_t *v = field(e, response_ops[i].name);

		if (v) {
			sub = v;
			which = i;
			found++;
		}
	}
	if (found != 1 || !json_is_object(sub))
		return -EBADMSG;
	return decode_result_body(sub, response_ops[which].kind, res);
}

static int decode_responses(const json_t *o, struct tartan_etcd_result *res)
{
	json_t *arr = field(o, "responses");
	size_t count;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return -EBADMSG;
	count = json_array_size(arr);
	if (count == 0)
		return 0;
	res->responses = calloc(count, sizeof(*res->responses));
	if (!res->responses)
		return -ENOMEM;
	res->n_responses = count;
	for (size_t i = 0; i < count; i++) {
		int r = decode_response_op(json_array_get(arr, i), &res->responses[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

static int decode_lease(const json_t *o, struct tartan_etcd_result *res)
{
	json_t *ttl;
	int r;

	r = get_i64(o, "ID", &res->lease_id);
	if (r < 0)
		return r;
	r = get_i64(o, "TTL", &res->ttl);
	if (r < 0)
		return r;
	r = get_i64(o, "grantedTTL", &res->granted_ttl);
	if (r < 0)
		return r;
	/* keepalive on a gone lease answers without TTL, timetolive with
	 * "-1": either way the lease is not alive */
	ttl = field(o, "TTL");
	res->has_ttl = ttl && res->ttl > 0;
	return 0;
}

/* o is an object. On failure res holds what was decoded so far. */
static int decode_result_body(const json_t *o, enum tartan_etcd_result_kind kind,
			      struct tartan_etcd_result *res)
{
	json_t *prev;
	int r;

	r = decode_header(o, &res->header);
	if (r < 0)
		return r;
	if (kind == TARTAN_ETCD_RESULT_AUTHENTICATE)
		r = get_string(o, "token", &res->token);
	else
		r = string_empty(&res->token);
	if (r < 0)
		return r;

	switch (kind) {
	case TARTAN_ETCD_RESULT_RANGE:
		res->op = TARTAN_ETCD_OP_RANGE;
		r = decode_kv_array(o, "kvs", &res->kvs, &res->n_kvs);
		if (r < 0)
			return r;
		r = get_i64(o, "count", &res->count);
		if (r < 0)
			return r;
		return get_bool(o, "more", &res->more);
	case TARTAN_ETCD_RESULT_PUT:
		res->op = TARTAN_ETCD_OP_PUT;
		r = get_object(o, "prev_kv", &prev);
		if (r < 0 || !prev)
			return r;
		res->kvs = calloc(1, sizeof(*res->kvs));
		if (!res->kvs)
			return -ENOMEM;
		res->n_kvs = 1;
		return decode_kv(prev, &res->kvs[0]);
	case TARTAN_ETCD_RESULT_DELETE:
		res->op = TARTAN_ETCD_OP_DELETE;
		r = get_i64(o, "deleted", &res->deleted);
		if (r < 0)
			return r;
		return decode_kv_array(o, "prev_kvs", &res->kvs, &res->n_kvs);
	case TARTAN_ETCD_RESULT_TXN:
		r = get_bool(o, "succeeded", &res->succeeded);
		if (r < 0)
			return r;
		return decode_responses(o, res);
	case TARTAN_ETCD_RESULT_LEASE_GRANT:
	case TARTAN_ETCD_RESULT_LEASE_KEEPALIVE:
	case TARTAN_ETCD_RESULT_LEASE_TTL:
		return decode_lease(o, res);
	case TARTAN_ETCD_RESULT_LEASE_REVOKE:
	case TARTAN_ETCD_RESULT_AUTHENTICATE:
	case TARTAN_ETCD_RESULT_COMPACT:
	case TARTAN_ETCD_RESULT_STATUS:
		return 0;
	}
	return -EINVAL;
}

int tartan_etcd_decode_result(enum tartan_etcd_result_kind kind, const char *buf, size_t len,
			      struct tartan_etcd_result **ret)
{
	struct tartan_etcd_result *res = NULL;
	json_t *root = NULL, *body;
	int r;

	if (!ret || (unsigned)kind > TARTAN_ETCD_RESULT_STATUS)
		return -EINVAL;
	r = load_object(buf, len, &root);
	if (r < 0)
		return r;
	res = calloc(1, sizeof(*res));
	if (!res) {
		r = -ENOMEM;
		goto out;
	}
	body = root;
	if (kind == TARTAN_ETCD_RESULT_LEASE_KEEPALIVE) {
		/* keepalive is a stream call: its answer comes in {"result":...} */
		body = field(root, "result");
		if (!json_is_object(body)) {
			r = -EBADMSG;
			goto out;
		}
	}
	r = decode_result_body(body, kind, res);
	if (r < 0)
		goto out;
	*ret = res;
	res = NULL;
out:
	tartan_etcd_result_free(res);
	json_decref(root);
	return r;
}

static int decode_event_type(const json_t *e, enum tartan_etcd_event_type *ret)
{
	json_t *v = field(e, "type");

	/* PUT is enum 0, which proto3 leaves out */
	if (!v) {
		*ret = TARTAN_ETCD_EVENT_PUT;
		return 0;
	}
	if (json_is_string(v)) {
		if (strcmp(json_string_value(v), "PUT") == 0) {
			*ret = TARTAN_ETCD_EVENT_PUT;
			return 0;
		}
		if (strcmp(json_string_value(v), "DELETE") == 0) {
			*ret = TARTAN_ETCD_EVENT_DELETE;
			return 0;
		}
		return -EBADMSG;
	}
	if (json_is_integer(v) && (json_integer_value(v) == TARTAN_ETCD_EVENT_PUT ||
				   json_integer_value(v) == TARTAN_ETCD_EVENT_DELETE)) {
		*ret = (enum tartan_etcd_event_type)json_integer_value(v);
		return 0;
	}
	return -EBADMSG;
}

static int decode_event(const json_t *e, struct tartan_etcd_event *ev)
{
	json_t *kv, *prev;
	int r;

	if (!json_is_object(e))
		return -EBADMSG;
	r = decode_event_type(e, &ev->type);
	if (r < 0)
		return r;
	r = get_object(e, "kv", &kv);
	if (r < 0)
		return r;
	r = decode_kv(kv, &ev->kv);
	if (r < 0)
		return r;
	r = get_object(e, "prev_kv", &prev);
	if (r < 0)
		return r;
	ev->has_prev_kv = prev != NULL;
	/* also when absent, so that its key and value are never NULL */
	return decode_kv(prev, &ev->prev_kv);
}

void tartan_etcd_watch_msg_free(struct tartan_etcd_watch_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_events; i++) {
		kv_clear(&m->events[i].kv);
		kv_clear(&m->events[i].prev_kv);
	}
	free(m->events);
	free(m->cancel_reason);
	free(m->error_message);
	free(m);
}

static int decode_watch_result(const json_t *o, struct tartan_etcd_watch_msg *m)
{
	json_t *arr;
	size_t count;
	int r;

	r = decode_header(o, &m->header);
	if (r < 0)
		return r;
	r = get_i64(o, "watch_id", &m->watch_id);
	if (r < 0)
		return r;
	r = get_bool(o, "created", &m->created);
	if (r < 0)
		return r;
	r = get_bool(o, "canceled", &m->canceled);
	if (r < 0)
		return r;
	r = get_i64(o, "compact_revision", &m->compact_revision);
	if (r < 0)
		return r;
	r = get_string(o, "cancel_reason", &m->cancel_reason);
	if (r < 0)
		return r;
	r = string_empty(&m->error_message);
	if (r < 0)
		return r;

	arr = field(o, "events");
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return -EBADMSG;
	count = json_array_size(arr);
	if (count == 0)
		return 0;
	m->events = calloc(count, sizeof(*m->events));
	if (!m->events)
		return -ENOMEM;
	m->n_events = count;
	for (size_t i = 0; i < count; i++) {
		r = decode_event(json_array_get(arr, i), &m->events[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* {"error":{"grpc_code":1,"http_code":408,"message":"...","http_status":"..."}} */
static int decode_stream_error(const json_t *o, struct tartan_etcd_watch_msg *m)
{
	int r;

	m->stream_error = true;
	r = get_int(o, "grpc_code", &m->grpc_code);
	if (r < 0)
		return r;
	r = string_empty(&m->cancel_reason);
	if (r < 0)
		return r;
	return get_string(o, "message", &m->error_message);
}

int tartan_etcd_decode_watch_msg(const char *buf, size_t len, struct tartan_etcd_watch_msg **ret)
{
	struct tartan_etcd_watch_msg *m = NULL;
	json_t *root = NULL, *body;
	int r;

	if (!ret)
		return -EINVAL;
	r = load_object(buf, len, &root);
	if (r < 0)
		return r;
	m = calloc(1, sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	body = field(root, "result");
	if (body) {
		r = json_is_object(body) ? decode_watch_result(body, m) : -EBADMSG;
		goto done;
	}
	body = field(root, "error");
	if (body) {
		r = json_is_object(body) ? decode_stream_error(body, m) : -EBADMSG;
		goto done;
	}
	/* every line of the stream is one of the two */
	r = -EBADMSG;
done:
	if (r < 0)
		goto out;
	*ret = m;
	m = NULL;
out:
	tartan_etcd_watch_msg_free(m);
	json_decref(root);
	return r;
}

int tartan_etcd_decode_error(const char *buf, size_t len, int *ret_code, char **ret_message)
{
	json_t *root = NULL, *msg, *err;
	const char *name;
	char *message;
	int code, r;

	if (!ret_code || !ret_message)
		return -EINVAL;
	r = load_object(buf, len, &root);
	if (r < 0)
		return r;
	/* an object without "code" is some other JSON, not etcd's error */
	if (!field(root, "code")) {
		r = -EBADMSG;
		goto out;
	}
	r = get_int(root, "code", &code);
	if (r < 0)
		goto out;
	msg = field(root, "message");
	err = field(root, "error");
	if ((msg && !json_is_string(msg)) || (err && !json_is_string(err))) {
		r = -EBADMSG;
		goto out;
	}
	/* grpc-gateway writes the same text in both; prefer "message" */
	name = msg && json_string_length(msg) > 0 ? "message" : "error";
	r = get_string(root, name, &message);
	if (r < 0)
		goto out;
	*ret_code = code;
	*ret_message = message;
out:
	json_decref(root);
	return r;
}

int tartan_etcd_errno_from_grpc(int code)
{
	switch (code) {
	case TARTAN_ETCD_GRPC_INVALID_ARGUMENT:
		return -EINVAL;
	case TARTAN_ETCD_GRPC_DEADLINE_EXCEEDED:
		return -ETIMEDOUT;
	case TARTAN_ETCD_GRPC_NOT_FOUND:
		return -ENOENT;
	case TARTAN_ETCD_GRPC_PERMISSION_DENIED:
		return -EACCES;
	case TARTAN_ETCD_GRPC_FAILED_PRECONDITION:
		return -EBUSY;
	case TARTAN_ETCD_GRPC_OUT_OF_RANGE:
		return -ERANGE;
	case TARTAN_ETCD_GRPC_UNAVAILABLE:
		return -EAGAIN;
	case TARTAN_ETCD_GRPC_UNAUTHENTICATED:
		return -EKEYEXPIRED;
	default:
		/* also 0: this is only asked about failed calls */
		return -EIO;
	}
}
