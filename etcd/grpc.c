/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC framing and the protobuf wire format of etcdserverpb.RangeRequest and
 * RangeResponse (etcd api/etcdserverpb/rpc.proto, mvccpb/kv.proto):
 *
 *   RangeRequest   1 key bytes, 2 range_end bytes, 3 limit int64, 4 revision int64,
 *                  7 serializable bool, 8 keys_only bool, 9 count_only bool
 *   RangeResponse  1 header ResponseHeader, 2 kvs repeated KeyValue, 3 more bool,
 *                  4 count int64
 *   ResponseHeader 1 cluster_id uint64, 2 member_id uint64, 3 revision int64, 4 raft_term uint64
 *   KeyValue       1 key bytes, 2 create_revision, 3 mod_revision, 4 version int64,
 *                  5 value bytes, 6 lease int64
 *
 * A gRPC message is framed as 1 byte "compressed" flag + 4 bytes big-endian
 * length + the message (grpc PROTOCOL-HTTP2.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/grpc.h"

enum wire_type {
	WIRE_VARINT = 0,
	WIRE_I64 = 1,
	WIRE_LEN = 2,
	WIRE_I32 = 5,
};

struct pb_reader {
	const uint8_t *p, *end;
};

static int read_varint(struct pb_reader *r, uint64_t *ret)
{
	uint64_t v = 0;
	unsigned shift;

	for (shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (r->p >= r->end)
			return -EBADMSG;
		b = *r->p++;
		/* the tenth byte may only carry the top bit */
		if (shift == 63 && b > 1)
			return -EBADMSG;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Reads a field tag; *ret_len is set for length-delimited fields. */
static int read_tag(struct pb_reader *r, uint32_t *ret_field, enum wire_type *ret_type)
{
	uint64_t tag;
	int err = read_varint(r, &tag);

	if (err < 0)
		return err;
	if ((tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
		return -EBADMSG;
	*ret_field = (uint32_t)(tag >> 3);
	*ret_type = (enum wire_type)(tag & 7);
	return 0;
}

static int read_len(struct pb_reader *r, struct pb_reader *ret_sub)
{
	uint64_t n;
	int err = read_varint(r, &n);

	if (err < 0)
		return err;
	if (n > (uint64_t)(r->end - r->p))
		return -EBADMSG;
	ret_sub->p = r->p;
	ret_sub->end = r->p + n;
	r->p += n;
	return 0;
}

/* Skips a field we do not use: newer etcd versions add fields. */
static int skip_field(struct pb_reader *r, enum wire_type type)
{
	struct pb_reader sub;
	uint64_t v;

	switch (type) {
	case WIRE_VARINT:
		return read_varint(r, &v);
	case WIRE_I64:
		if (r->end - r->p < 8)
			return -EBADMSG;
		r->p += 8;
		return 0;
	case WIRE_I32:
		if (r->end - r->p < 4)
			return -EBADMSG;
		r->p += 4;
		return 0;
	case WIRE_LEN:
		return read_len(r, &sub);
	default:
		return -EBADMSG; /* groups (3, 4) are not in etcd's protocol */
	}
}

static int read_int_field(struct pb_reader *r, enum wire_type type, uint64_t *ret)
{
	if (type != WIRE_VARINT)
		return -EBADMSG;
	return read_varint(r, ret);
}

/* Points ret into the buffer (decoded in place: tartan_etcd_grpc_decode_range_in_place
 * terminates it once everything is read). A repeated field: the last one wins. */
static int read_bytes_field(struct pb_reader *r, enum wire_type type, struct tartan_etcd_bytes *ret)
{
	struct pb_reader sub;
	int err;

	if (type != WIRE_LEN)
		return -EBADMSG;
	err = read_len(r, &sub);
	if (err < 0)
		return err;
	ret->data = (char *)sub.p;
	ret->len = (size_t)(sub.end - sub.p);
	return 0;
}

static int decode_header(struct pb_reader r, struct tartan_etcd_header *h)
{
	while (r.p < r.end) {
		enum wire_type type;
		uint32_t field;
		uint64_t v;
		int err = read_tag(&r, &field, &type);

		if (err < 0)
			return err;
		if (field >= 1 && field <= 4) {
			err = read_int_field(&r, type, &v);
			if (err < 0)
				return err;
			if (field == 1)
				h->cluster_id = v;
			else if (field == 2)
				h->member_id = v;
			else if (field == 3)
				h->revision = (int64_t)v;
			else
				h->raft_term = v;
			continue;
		}
		err = skip_field(&r, type);
		if (err < 0)
			return err;
	}
	return 0;
}

static int decode_kv(struct pb_reader r, struct tartan_etcd_kv *kv)
{
	while (r.p < r.end) {
		enum wire_type type;
		uint32_t field;
		uint64_t v;
		int err = read_tag(&r, &field, &type);

		if (err < 0)
			return err;
		switch (field) {
		case 1:
			err = read_bytes_field(&r, type, &kv->key);
			break;
		case 5:
			err = read_bytes_field(&r, type, &kv->value);
			break;
		case 2:
		case 3:
		case 4:
		case 6:
			err = read_int_field(&r, type, &v);
			if (err < 0)
				break;
			if (field == 2)
				kv->create_revision = (int64_t)v;
			else if (field == 3)
				kv->mod_revision = (int64_t)v;
			else if (field == 4)
				kv->version = (int64_t)v;
			else
				kv->lease = (int64_t)v;
			break;
		default:
			err = skip_field(&r, type);
		}
		if (err < 0)
			return err;
	}
	return 0;
}

/* Absent bytes fields decode as "" like the JSON decoder's: callers never see NULL. A
 * present one is terminated in place, over the byte after it (a tag or length of what
 * follows, already read: see the caller). */
static void bytes_terminate(struct tartan_etcd_bytes *b)
{
	static char empty[1];

	if (b->data)
		b->data[b->len] = '\0';
	else
		b->data = empty;
}

/* Counts the kvs fields first so the array is allocated once. */
static int count_kvs(struct pb_reader r, size_t *ret)
{
	size_t n = 0;

	while (r.p < r.end) {
		enum wire_type type;
		uint32_t field;
		int err = read_tag(&r, &field, &type);

		if (err < 0)
			return err;
		if (field == 2 && type == WIRE_LEN)
			n++;
		err = skip_field(&r, type);
		if (err < 0)
			return err;
	}
	*ret = n;
	return 0;
}

int tartan_etcd_grpc_decode_range(const char *buf, size_t len, struct tartan_etcd_result **ret)
{
	char *copy;
	int err;

	if (!buf)
		return -EBADMSG;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	err = tartan_etcd_grpc_decode_range_in_place(copy, len, ret);
	if (err < 0)
		free(copy);
	return err;
}

int tartan_etcd_grpc_decode_range_in_place(char *buf, size_t len, struct tartan_etcd_result **ret)
{
	struct tartan_etcd_result *res = NULL;
	struct pb_reader r;
	size_t n_kvs = 0, msg_len, i;
	int err;

	if (!buf || len < 5 || buf[0] != 0)
		return -EBADMSG; /* tartan never asks for compression */
	msg_len = (size_t)(uint8_t)buf[1] << 24 | (size_t)(uint8_t)buf[2] << 16 |
		  (size_t)(uint8_t)buf[3] << 8 | (size_t)(uint8_t)buf[4];
	if (msg_len != len - 5)
		return -EBADMSG;
	r.p = (const uint8_t *)buf + 5;
	r.end = r.p + msg_len;

	err = count_kvs(r, &n_kvs);
	if (err < 0)
		return err;
	res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	res->op = TARTAN_ETCD_OP_RANGE;
	/* as the JSON decoder: strings are never NULL */
	res->token = calloc(1, 1);
	if (!res->token) {
		err = -ENOMEM;
		goto fail;
	}
	if (n_kvs) {
		res->kvs = calloc(n_kvs, sizeof(*res->kvs));
		if (!res->kvs) {
			err = -ENOMEM;
			goto fail;
		}
	}
	while (r.p < r.end) {
		struct pb_reader sub;
		enum wire_type type;
		uint32_t field;
		uint64_t v = 0;

		err = read_tag(&r, &field, &type);
		if (err < 0)
			goto fail;
		switch (field) {
		case 1:
			err = type == WIRE_LEN ? read_len(&r, &sub) : -EBADMSG;
			if (err >= 0)
				err = decode_header(sub, &res->header);
			break;
		case 2:
			err = type == WIRE_LEN ? read_len(&r, &sub) : -EBADMSG;
			if (err >= 0)
				err = decode_kv(sub, &res->kvs[res->n_kvs++]);
			break;
		case 3:
			err = read_int_field(&r, type, &v);
			res->more = v != 0;
			break;
		case 4:
			err = read_int_field(&r, type, &v);
			res->count = (int64_t)v;
			break;
		default:
			err = skip_field(&r, type);
		}
		if (err < 0)
			goto fail;
	}
	/* everything is read: now the NULs may go over what followed each field (the last
	 * field's NUL goes to buf[len], which the caller provides) */
	for (i = 0; i < res->n_kvs; i++) {
		bytes_terminate(&res->kvs[i].key);
		bytes_terminate(&res->kvs[i].value);
	}
	res->backing = buf;
	*ret = res;
	return 0;
fail:
	/* the kvs point into buf: nothing of theirs to free */
	free(res->kvs);
	res->kvs = NULL;
	res->n_kvs = 0;
	tartan_etcd_result_free(res);
	return err == -ENOMEM ? err : -EBADMSG;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static size_t put_bytes(uint8_t *p, uint32_t field, const void *data, size_t len)
{
	size_t n = put_varint(p, (uint64_t)field << 3 | WIRE_LEN);

	n += put_varint(p + n, len);
	if (len)
		memcpy(p + n, data, len);
	return n + len;
}

static size_t put_int(uint8_t *p, uint32_t field, uint64_t v)
{
	size_t n = put_varint(p, (uint64_t)field << 3 | WIRE_VARINT);

	return n + put_varint(p + n, v);
}

int tartan_etcd_grpc_encode_range(const struct tartan_etcd_range_req *req, char **ret,
				  size_t *ret_len)
{
	const struct tartan_etcd_key_range *k = &req->keys;
	struct tartan_etcd_bytes end = { 0 };
	const void *range_end = k->range_end;
	size_t range_end_len = k->range_end_len, n = 5;
	uint8_t *buf;
	int err;

	if (!k->key || k->key_len == 0 || req->revision < 0 || req->limit < 0)
		return -EINVAL;
	if (k->prefix) {
		err = tartan_etcd_prefix_end(k->key, k->key_len, &end);
		if (err < 0)
			return err;
		range_end = end.data;
		range_end_len = end.len;
	}
	/* each field: tag and length varints of at most 10 bytes each, then data */
	buf = malloc(5 + 20 + k->key_len + 20 + range_end_len + 7 * 11);
	if (!buf) {
		free(end.data);
		return -ENOMEM;
	}
	n += put_bytes(buf + n, 1, k->key, k->key_len);
	if (range_end)
		n += put_bytes(buf + n, 2, range_end, range_end_len);
	if (req->limit)
		n += put_int(buf + n, 3, (uint64_t)req->limit);
	if (req->revision)
		n += put_int(buf + n, 4, (uint64_t)req->revision);
	if (req->serializable)
		n += put_int(buf + n, 7, 1);
	if (req->keys_only)
		n += put_int(buf + n, 8, 1);
	if (req->count_only)
		n += put_int(buf + n, 9, 1);
	free(end.data);
	buf[0] = 0;
	buf[1] = (uint8_t)((n - 5) >> 24);
	buf[2] = (uint8_t)((n - 5) >> 16);
	buf[3] = (uint8_t)((n - 5) >> 8);
	buf[4] = (uint8_t)(n - 5);
	*ret = (char *)buf;
	*ret_len = n;
	return 0;
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

char *tartan_etcd_grpc_message_decode(const char *text, size_t len)
{
	char *out = malloc(len + 1);
	size_t i, n = 0;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		int hi, lo;

		if (text[i] == '%' && i + 2 < len && (hi = hex_value(text[i + 1])) >= 0 &&
		    (lo = hex_value(text[i + 2])) >= 0) {
			char c = (char)(hi << 4 | lo);

			/* keep the log line one line, printable */
			out[n++] = (c >= 0x20 && c != 0x7f) ? c : '?';
			i += 2;
			continue;
		}
		out[n++] = (text[i] >= 0x20 && text[i] != 0x7f) ? text[i] : '?';
	}
	out[n] = '\0';
	return out;
}
