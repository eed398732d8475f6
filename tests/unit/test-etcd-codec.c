/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for etcd/codec.c. The JSON answers are the verified transcripts
 * of shared/docs/cni-etcd-api.md part 2 (etcd 3.4.23), with the elided
 * headers ("{...}") written out in full.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "etcd/codec.h"

#define CLUSTER_ID 14841639068965178418ULL
#define MEMBER_ID 10276657743932975437ULL
/* a full response header at revision rev, as etcd sends it */
#define HDR(rev)                                                                                   \
	"{\"cluster_id\":\"14841639068965178418\",\"member_id\":\"10276657743932975437\","         \
	"\"revision\":\"" rev "\",\"raft_term\":\"2\"}"
#define HDR_2 HDR("2")
#define HDR_3 HDR("3")
#define HDR_5 HDR("5")
#define HDR_6 HDR("6")
#define HDR_7 HDR("7")
#define HDR_8 HDR("8")
#define HDR_9 HDR("9")
#define HDR_11 HDR("11")
#define HDR_12 HDR("12")
#define HDR_13 HDR("13")
#define HDR_14 HDR("14")
#define HDR_15 HDR("15")
#define HDR_16 HDR("16")
#define HDR_20 HDR("20")
#define HDR_99999 HDR("99999")

/* ------------------------------------------------------------- helpers */

static struct tartan_etcd_result *decode_ok(enum tartan_etcd_result_kind kind, const char *json)
{
	struct tartan_etcd_result *res = NULL;
	int r;

	r = tartan_etcd_decode_result(kind, json, strlen(json), &res);
	if (r != 0)
		print_error("decode_result(kind %d) of %s: expected 0, got %d (%s)\n", kind, json,
			    r, strerror(-r));
	assert_int_equal(r, 0);
	assert_non_null(res);
	return res;
}

static void expect_bad_result_n(enum tartan_etcd_result_kind kind, const char *buf, size_t len)
{
	struct tartan_etcd_result *res = NULL;
	int r;

	r = tartan_etcd_decode_result(kind, buf, len, &res);
	if (r != -EBADMSG)
		print_error("decode_result(kind %d) of '%.*s': expected -EBADMSG (%d), got %d\n",
			    kind, (int)len, buf, -EBADMSG, r);
	tartan_etcd_result_free(res);
	assert_int_equal(r, -EBADMSG);
	assert_null(res);
}

static void expect_bad_result(enum tartan_etcd_result_kind kind, const char *json)
{
	expect_bad_result_n(kind, json, strlen(json));
}

static struct tartan_etcd_watch_msg *watch_ok(const char *line)
{
	struct tartan_etcd_watch_msg *m = NULL;
	int r;

	r = tartan_etcd_decode_watch_msg(line, strlen(line), &m);
	if (r != 0)
		print_error("decode_watch_msg of %s: expected 0, got %d (%s)\n", line, r,
			    strerror(-r));
	assert_int_equal(r, 0);
	assert_non_null(m);
	assert_non_null(m->cancel_reason);
	assert_non_null(m->error_message);
	return m;
}

static void expect_bad_watch(const char *line)
{
	struct tartan_etcd_watch_msg *m = NULL;
	int r;

	r = tartan_etcd_decode_watch_msg(line, strlen(line), &m);
	if (r != -EBADMSG)
		print_error("decode_watch_msg of '%s': expected -EBADMSG, got %d\n", line, r);
	tartan_etcd_watch_msg_free(m);
	assert_int_equal(r, -EBADMSG);
	assert_null(m);
}

/* a bytes field equals the text s, is NUL-terminated and never NULL */
static void assert_bytes_n(const struct tartan_etcd_bytes *b, const char *s, size_t n)
{
	assert_non_null(b->data);
	if (b->len != n || memcmp(b->data, s, n) != 0)
		print_error("bytes: expected '%.*s' (%zu), saw '%.*s' (%zu)\n", (int)n, s, n,
			    (int)b->len, b->data, b->len);
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, s, n);
	assert_int_equal(b->data[b->len], '\0');
}

static void assert_bytes(const struct tartan_etcd_bytes *b, const char *s)
{
	assert_bytes_n(b, s, strlen(s));
}

static void assert_full_header(const struct tartan_etcd_header *h, int64_t revision)
{
	assert_int_equal(h->cluster_id, CLUSTER_ID);
	assert_int_equal(h->member_id, MEMBER_ID);
	assert_int_equal(h->revision, revision);
	assert_int_equal(h->raft_term, 2);
}

static void assert_kv(const struct tartan_etcd_kv *kv, const char *key, const char *value,
		      int64_t create, int64_t mod, int64_t version, int64_t lease)
{
	assert_bytes(&kv->key, key);
	assert_bytes(&kv->value, value);
	assert_int_equal(kv->create_revision, create);
	assert_int_equal(kv->mod_revision, mod);
	assert_int_equal(kv->version, version);
	assert_int_equal(kv->lease, lease);
}

/* json is read after the encoder ran: it is passed by address */
static void assert_json(int r, char **json, const char *expected)
{
	if (r != 0)
		print_error("encode: expected 0, got %d (%s)\n", r, strerror(-r));
	assert_int_equal(r, 0);
	assert_non_null(*json);
	assert_string_equal(*json, expected);
	free(*json);
	*json = NULL;
}

/* -------------------------------------------------------------- base64 */

static const struct {
	const char *plain, *encoded;
} b64_vectors[] = {
	/* RFC 4648 section 10 */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	/* the keys and values of the etcd transcripts */
	{ "/nld/a", "L25sZC9h" },
	{ "/nld/", "L25sZC8=" },
	{ "/nld0", "L25sZDA=" },
	{ "v1", "djE=" },
	{ "owner-1", "b3duZXItMQ==" },
	/* both characters outside A-Za-z0-9 */
	{ "\xfb\xff\xbf", "+/+/" },
};

static void test_base64_encode_matches_rfc4648_and_etcd_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		char *s = tartan_etcd_base64_encode(b64_vectors[i].plain,
						    strlen(b64_vectors[i].plain));

		assert_non_null(s);
		assert_string_equal(s, b64_vectors[i].encoded);
		free(s);
	}
}

static void test_base64_decode_matches_rfc4648_and_etcd_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		struct tartan_etcd_bytes b = { 0 };
		const char *e = b64_vectors[i].encoded;

		assert_int_equal(tartan_etcd_base64_decode(e, strlen(e), &b), 0);
		assert_bytes(&b, b64_vectors[i].plain);
		free(b.data);
	}
}

static void test_base64_decode_empty_gives_allocated_empty_string(void **state)
{
	struct tartan_etcd_bytes b = { 0 };

	assert_int_equal(tartan_etcd_base64_decode("", 0, &b), 0);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.data[0], '\0');
	free(b.data);
}

static void test_base64_round_trips_every_length_and_byte_value(void **state)
{
	uint8_t in[600];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + (i >> 8));
	for (size_t len = 0; len <= sizeof(in); len++) {
		struct tartan_etcd_bytes b = { 0 };
		char *s = tartan_etcd_base64_encode(in, len);

		assert_non_null(s);
		assert_int_equal(strlen(s), (len + 2) / 3 * 4);
		assert_int_equal(tartan_etcd_base64_decode(s, strlen(s), &b), 0);
		assert_int_equal(b.len, len);
		assert_memory_equal(b.data, in, len);
		assert_int_equal(b.data[len], '\0');
		free(b.data);
		free(s);
	}
}

static void test_base64_decode_keeps_embedded_nul_bytes(void **state)
{
	struct tartan_etcd_bytes b = { 0 };

	assert_int_equal(tartan_etcd_base64_decode("AAEA", 4, &b), 0);
	assert_bytes_n(&b, "\0\1\0", 3);
	free(b.data);
}

static void test_base64_decode_rejects_bad_input_without_writing_result(void **state)
{
	static const struct {
		const char *text;
		size_t len;
		const char *why;
	} bad[] = {
		{ "L25sZC8", 7, "unpadded (etcd rejects it too)" },
		{ "Zg", 2, "unpadded, 2 chars" },
		{ "Zg=", 3, "one '=' short" },
		{ "Z", 1, "one char" },
		{ "Zm9vY", 5, "length 5" },
		{ "Zm9v!A==", 8, "'!' outside the alphabet" },
		{ "Zm-_", 4, "URL-safe alphabet" },
		{ "Zm9 v", 5, "blank" },
		{ "Zm9v\nZm9v", 9, "newline" },
		{ "Zm9 ", 4, "blank in the last quantum" },
		{ "Zm\0v", 4, "NUL byte" },
		{ "Zm\xffv", 4, "byte 0xff" },
		{ "Zm\xc3\xa9", 4, "UTF-8 letter" },
		{ "=Zm9", 4, "'=' first" },
		{ "Zm=v", 4, "'=' inside the last quantum" },
		{ "Zg==Zm9v", 8, "padding before the end" },
		{ "Z===", 4, "three '='" },
		{ "====", 4, "only padding" },
		{ "Zh==", 4, "non-zero trailing bits, 1 byte" },
		{ "Zm9=", 4, "non-zero trailing bits, 2 bytes" },
		{ "Zm9vZ===", 8, "three '=' after a full quantum" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tartan_etcd_bytes b = { .data = (char *)"untouched", .len = 42 };
		int r = tartan_etcd_base64_decode(bad[i].text, bad[i].len, &b);

		if (r != -EINVAL)
			print_error("base64 '%.*s' (%s): expected -EINVAL, got %d\n",
				    (int)bad[i].len, bad[i].text, bad[i].why, r);
		assert_int_equal(r, -EINVAL);
		assert_string_equal(b.data, "untouched");
		assert_int_equal(b.len, 42);
	}
}

static void test_base64_decode_rejects_null_text_with_length(void **state)
{
	struct tartan_etcd_bytes b = { 0 };

	assert_int_equal(tartan_etcd_base64_decode(NULL, 4, &b), -EINVAL);
	assert_null(b.data);
}

/* ---------------------------------------------------------- prefix_end */

static void check_prefix_end(const char *prefix, size_t len, const char *end, size_t end_len)
{
	struct tartan_etcd_bytes b = { 0 };

	assert_int_equal(tartan_etcd_prefix_end(prefix, len, &b), 0);
	assert_bytes_n(&b, end, end_len);
	free(b.data);
}

static void test_prefix_end_increments_last_byte(void **state)
{
	check_prefix_end("/nld/", 5, "/nld0", 5);
	check_prefix_end("a", 1, "b", 1);
	check_prefix_end("a\xfe", 2, "a\xff", 2);
	check_prefix_end("a\0", 2, "a\1", 2);
}

static void test_prefix_end_drops_trailing_0xff_and_carries(void **state)
{
	check_prefix_end("a\xff", 2, "b", 1);
	check_prefix_end("/x\xff\xff\xff", 5, "/y", 2);
	check_prefix_end("\x01\xff", 2, "\x02", 1);
}

static void test_prefix_end_of_all_0xff_or_empty_is_nul(void **state)
{
	check_prefix_end("\xff", 1, "\0", 1);
	check_prefix_end("\xff\xff\xff", 3, "\0", 1);
	check_prefix_end("", 0, "\0", 1);
}

/* ---------------------------------------------------------------- range */

static void test_range_single_key_decodes_kv_count_and_uint64_header(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_RANGE,
		"{\"header\":" HDR_5 ",\"kvs\":[{\"key\":\"L25sZC9h\",\"create_revision\":\"2\","
		"\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"djI=\"}],\"count\":\"1\"}");

	assert_full_header(&res->header, 5);
	assert_int_equal(res->op, TARTAN_ETCD_OP_RANGE);
	assert_int_equal(res->n_kvs, 1);
	assert_kv(&res->kvs[0], "/nld/a", "v2", 2, 3, 2, 0);
	assert_int_equal(res->count, 1);
	assert_false(res->more);
	assert_string_equal(res->token, "");
	tartan_etcd_result_free(res);
}

static void test_range_prefix_absent_value_is_allocated_empty(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_RANGE,
		"{\"header\":" HDR_5 ",\"kvs\":[{\"key\":\"L25sZC9h\",\"create_revision\":\"2\","
		"\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"djI=\"},{\"key\":\"L25sZC9i\","
		"\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\",\"value\":\"djE=\"},"
		"{\"key\":\"L25sZC9j\",\"create_revision\":\"5\",\"mod_revision\":\"5\","
		"\"version\":\"1\"}],\"count\":\"3\"}");

	assert_int_equal(res->n_kvs, 3);
	assert_kv(&res->kvs[0], "/nld/a", "v2", 2, 3, 2, 0);
	assert_kv(&res->kvs[1], "/nld/b", "v1", 4, 4, 1, 0);
	assert_kv(&res->kvs[2], "/nld/c", "", 5, 5, 1, 0);
	assert_int_equal(res->count, 3);
	tartan_etcd_result_free(res);
}

static void test_range_limit_sets_more_and_count_is_total(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_RANGE,
		"{\"header\":" HDR_5 ",\"kvs\":[{\"key\":\"L25sZC9h\",\"create_revision\":\"2\","
		"\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"djI=\"}],\"more\":true,"
		"\"count\":\"3\"}");

	assert_int_equal(res->n_kvs, 1);
	assert_true(res->more);
	assert_int_equal(res->count, 3);
	tartan_etcd_result_free(res);
}

static void test_range_keys_only_gives_empty_values(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_RANGE,
		"{\"header\":" HDR_5 ",\"kvs\":[{\"key\":\"L25sZC9h\",\"create_revision\":\"2\","
		"\"mod_revision\":\"3\",\"version\":\"2\"}],\"count\":\"3\"}");

	assert_int_equal(res->n_kvs, 1);
	assert_kv(&res->kvs[0], "/nld/a", "", 2, 3, 2, 0);
	tartan_etcd_result_free(res);
}

static void test_range_count_only_has_count_and_no_kvs(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_RANGE, "{\"header\":" HDR_5 ",\"count\":\"3\"}");

	assert_int_equal(res->n_kvs, 0);
	assert_null(res->kvs);
	assert_int_equal(res->count, 3);
	tartan_etcd_result_free(res);
}

static void test_range_missing_key_gives_no_kvs_and_zero_count(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_RANGE,
			  "{\"header\":{\"cluster_id\":\"14841639068965178418\",\"member_id\":"
			  "\"10276657743932975437\",\"revision\":\"5\",\"raft_term\":\"2\"}}\n");

	assert_full_header(&res->header, 5);
	assert_int_equal(res->n_kvs, 0);
	assert_int_equal(res->count, 0);
	assert_false(res->more);
	tartan_etcd_result_free(res);
}

static void test_range_kv_with_lease_decodes_lease_id(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_RANGE,
		"{\"header\":" HDR_12 ",\"kvs\":[{\"key\":\"L25sZC9sZWFzZWQ=\",\"create_revision\":"
		"\"12\",\"mod_revision\":\"12\",\"version\":\"1\",\"value\":\"YWxpdmU=\",\"lease\":"
		"\"7587899197362412327\"}],\"count\":\"1\"}");

	assert_kv(&res->kvs[0], "/nld/leased", "alive", 12, 12, 1, 7587899197362412327LL);
	tartan_etcd_result_free(res);
}

static void test_range_accepts_json_integers_and_nulls(void **state)
{
	/* etcd writes strings, but proto3 JSON also allows numbers and null */
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_RANGE,
		"{\"header\":{\"cluster_id\":1,\"revision\":7,\"raft_term\":null},\"kvs\":[{\"key\":"
		"\"L25sZC9h\",\"value\":null,\"version\":-3}],\"count\":2,\"more\":null}");

	assert_true(res->header.cluster_id == 1);
	assert_int_equal(res->header.revision, 7);
	assert_int_equal(res->header.raft_term, 0);
	assert_kv(&res->kvs[0], "/nld/a", "", 0, 0, -3, 0);
	assert_int_equal(res->count, 2);
	assert_false(res->more);
	tartan_etcd_result_free(res);
}

static void test_range_int64_limits_parse_exactly(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_RANGE,
		"{\"header\":{\"cluster_id\":\"18446744073709551615\",\"member_id\":\"0\","
		"\"revision\":\"9223372036854775807\"},\"kvs\":[{\"key\":\"\",\"lease\":"
		"\"-9223372036854775808\",\"version\":\"-0\",\"create_revision\":\"007\"}]}");

	assert_true(res->header.cluster_id == UINT64_MAX);
	assert_true(res->header.member_id == 0);
	assert_true(res->header.revision == INT64_MAX);
	assert_true(res->kvs[0].lease == INT64_MIN);
	assert_int_equal(res->kvs[0].version, 0);
	assert_int_equal(res->kvs[0].create_revision, 7);
	assert_bytes(&res->kvs[0].key, "");
	tartan_etcd_result_free(res);
}

/* ------------------------------------------------------ put and delete */

static void test_put_without_prev_kv_has_header_only(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_PUT, "{\"header\":" HDR_2 "}");

	assert_full_header(&res->header, 2);
	assert_int_equal(res->op, TARTAN_ETCD_OP_PUT);
	assert_int_equal(res->n_kvs, 0);
	tartan_etcd_result_free(res);
}

static void test_put_prev_kv_lands_in_kvs0(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_PUT,
		"{\"header\":" HDR_3 ",\"prev_kv\":{\"key\":\"L25sZC9h\",\"create_revision\":\"2\","
		"\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"djE=\"}}");

	assert_full_header(&res->header, 3);
	assert_int_equal(res->n_kvs, 1);
	assert_kv(&res->kvs[0], "/nld/a", "v1", 2, 2, 1, 0);
	tartan_etcd_result_free(res);
}

static void test_delete_prev_kvs_and_deleted_count(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_DELETE,
		"{\"header\":" HDR_6 ",\"deleted\":\"1\",\"prev_kvs\":[{\"key\":\"L25sZC9j\","
		"\"create_revision\":\"5\",\"mod_revision\":\"5\",\"version\":\"1\"}]}");

	assert_full_header(&res->header, 6);
	assert_int_equal(res->op, TARTAN_ETCD_OP_DELETE);
	assert_int_equal(res->deleted, 1);
	assert_int_equal(res->n_kvs, 1);
	assert_kv(&res->kvs[0], "/nld/c", "", 5, 5, 1, 0);
	tartan_etcd_result_free(res);
}

static void test_delete_already_gone_has_zero_deleted(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_DELETE, "{\"header\":" HDR_6 "}");

	assert_full_header(&res->header, 6);
	assert_int_equal(res->deleted, 0);
	assert_int_equal(res->n_kvs, 0);
	tartan_etcd_result_free(res);
}

/* ------------------------------------------------------------------ txn */

static void test_txn_success_branch_put_response(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_TXN, "{\"header\":" HDR_7 ",\"succeeded\":true,\"responses\":"
					"[{\"response_put\":{\"header\":{\"revision\":\"7\"}}}]}");

	assert_full_header(&res->header, 7);
	assert_true(res->succeeded);
	assert_int_equal(res->n_responses, 1);
	assert_int_equal(res->responses[0].op, TARTAN_ETCD_OP_PUT);
	assert_int_equal(res->responses[0].header.revision, 7);
	assert_true(res->responses[0].header.cluster_id == 0);
	assert_int_equal(res->responses[0].n_kvs, 0);
	assert_non_null(res->responses[0].token);
	tartan_etcd_result_free(res);
}

static void test_txn_missing_succeeded_means_failure_branch_ran(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_TXN,
		"{\"header\":" HDR_7
		",\"responses\":[{\"response_range\":{\"header\":{\"revision\":"
		"\"7\"},\"kvs\":[{\"key\":\"L25sZC9sb2Nr\",\"create_revision\":\"7\",\"mod_revision\":"
		"\"7\",\"version\":\"1\",\"value\":\"b3duZXItMQ==\"}],\"count\":\"1\"}}]}");

	assert_false(res->succeeded);
	assert_int_equal(res->n_responses, 1);
	assert_int_equal(res->responses[0].op, TARTAN_ETCD_OP_RANGE);
	assert_int_equal(res->responses[0].n_kvs, 1);
	assert_kv(&res->responses[0].kvs[0], "/nld/lock", "owner-1", 7, 7, 1, 0);
	assert_int_equal(res->responses[0].count, 1);
	tartan_etcd_result_free(res);
}

static void test_txn_cas_put_returns_prev_kv(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_TXN,
		"{\"header\":" HDR_8 ",\"succeeded\":true,\"responses\":[{\"response_put\":{"
		"\"header\":{\"revision\":\"8\"},\"prev_kv\":{\"key\":\"L25sZC9sb2Nr\","
		"\"create_revision\":\"7\",\"mod_revision\":\"7\",\"version\":\"1\",\"value\":"
		"\"b3duZXItMQ==\"}}}]}");

	assert_true(res->succeeded);
	assert_int_equal(res->responses[0].op, TARTAN_ETCD_OP_PUT);
	assert_int_equal(res->responses[0].n_kvs, 1);
	assert_kv(&res->responses[0].kvs[0], "/nld/lock", "owner-1", 7, 7, 1, 0);
	tartan_etcd_result_free(res);
}

static void test_txn_delete_response_and_multi_op(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_TXN,
		"{\"header\":" HDR_9
		",\"succeeded\":true,\"responses\":[{\"response_delete_range\":"
		"{\"header\":{\"revision\":\"9\"},\"deleted\":\"1\",\"prev_kvs\":[{\"key\":"
		"\"L25sZC9sb2Nr\",\"create_revision\":\"7\",\"mod_revision\":\"8\",\"version\":\"2\","
		"\"value\":\"b3duZXItMg==\"}]}},{\"response_put\":{\"header\":{\"revision\":\"9\"}}}]}");

	assert_int_equal(res->n_responses, 2);
	assert_int_equal(res->responses[0].op, TARTAN_ETCD_OP_DELETE);
	assert_int_equal(res->responses[0].deleted, 1);
	assert_kv(&res->responses[0].kvs[0], "/nld/lock", "owner-2", 7, 8, 2, 0);
	assert_int_equal(res->responses[1].op, TARTAN_ETCD_OP_PUT);
	assert_int_equal(res->responses[1].header.revision, 9);
	tartan_etcd_result_free(res);
}

static void test_txn_rejects_nested_txn_and_malformed_response_ops(void **state)
{
	/* nested txns are rejected by design (see codec.c) */
	expect_bad_result(TARTAN_ETCD_RESULT_TXN,
			  "{\"responses\":[{\"response_txn\":{\"succeeded\":true}}]}");
	expect_bad_result(TARTAN_ETCD_RESULT_TXN, "{\"responses\":[{}]}");
	expect_bad_result(TARTAN_ETCD_RESULT_TXN,
			  "{\"responses\":[{\"response_put\":{},\"response_range\":{}}]}");
	expect_bad_result(TARTAN_ETCD_RESULT_TXN, "{\"responses\":[{\"response_put\":[]}]}");
	expect_bad_result(TARTAN_ETCD_RESULT_TXN, "{\"responses\":[\"response_put\"]}");
	expect_bad_result(TARTAN_ETCD_RESULT_TXN, "{\"responses\":{\"response_put\":{}}}");
	expect_bad_result(TARTAN_ETCD_RESULT_TXN, "{\"succeeded\":\"true\"}");
	/* a bad kv deep inside the second response frees the first one */
	expect_bad_result(
		TARTAN_ETCD_RESULT_TXN,
		"{\"responses\":[{\"response_put\":{\"prev_kv\":{\"key\":\"djE=\"}}},"
		"{\"response_range\":{\"kvs\":[{\"key\":\"djE=\"},{\"key\":\"djE\"}]}}]}");
}

/* --------------------------------------------------------------- leases */

static void test_lease_grant_decodes_id_and_ttl(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_LEASE_GRANT,
			  "{\"header\":" HDR_11 ",\"ID\":\"7587899197362412322\",\"TTL\":\"30\"}");

	assert_full_header(&res->header, 11);
	assert_true(res->lease_id == 7587899197362412322LL);
	assert_int_equal(res->ttl, 30);
	assert_true(res->has_ttl);
	tartan_etcd_result_free(res);

	res = decode_ok(TARTAN_ETCD_RESULT_LEASE_GRANT,
			"{\"header\":" HDR_11 ",\"ID\":\"12345\",\"TTL\":\"20\"}");
	assert_int_equal(res->lease_id, 12345);
	assert_int_equal(res->ttl, 20);
	tartan_etcd_result_free(res);
}

static void test_lease_timetolive_decodes_granted_ttl_and_ignores_keys(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_LEASE_TTL,
			  "{\"header\":" HDR_12 ",\"ID\":\"7587899197362412327\",\"TTL\":\"59\","
			  "\"grantedTTL\":\"60\",\"keys\":[\"L25sZC9sZWFzZWQ=\"]}");

	assert_true(res->lease_id == 7587899197362412327LL);
	assert_int_equal(res->ttl, 59);
	assert_int_equal(res->granted_ttl, 60);
	assert_true(res->has_ttl);
	tartan_etcd_result_free(res);
}

static void test_lease_timetolive_minus_one_means_gone(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_LEASE_TTL,
			  "{\"header\":" HDR_12 ",\"ID\":\"999\",\"TTL\":\"-1\"}");

	assert_int_equal(res->lease_id, 999);
	assert_int_equal(res->ttl, -1);
	assert_false(res->has_ttl);
	tartan_etcd_result_free(res);
}

static void test_lease_keepalive_envelope_with_ttl(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_LEASE_KEEPALIVE,
			  "{\"result\":{\"header\":" HDR_12 ",\"ID\":\"7587899197362412327\","
			  "\"TTL\":\"60\"}}\n");

	assert_full_header(&res->header, 12);
	assert_true(res->lease_id == 7587899197362412327LL);
	assert_int_equal(res->ttl, 60);
	assert_true(res->has_ttl);
	tartan_etcd_result_free(res);
}

static void test_lease_keepalive_without_ttl_means_gone(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_LEASE_KEEPALIVE,
			  "{\"result\":{\"header\":" HDR_12 ",\"ID\":\"999\"}}");

	assert_int_equal(res->lease_id, 999);
	assert_int_equal(res->ttl, 0);
	assert_false(res->has_ttl);
	tartan_etcd_result_free(res);

	res = decode_ok(TARTAN_ETCD_RESULT_LEASE_KEEPALIVE,
			"{\"result\":{\"ID\":\"999\",\"TTL\":\"0\"}}");
	assert_false(res->has_ttl);
	tartan_etcd_result_free(res);
}

static void test_lease_keepalive_needs_result_envelope(void **state)
{
	expect_bad_result(TARTAN_ETCD_RESULT_LEASE_KEEPALIVE,
			  "{\"header\":" HDR_12 ",\"ID\":\"999\",\"TTL\":\"60\"}");
	expect_bad_result(TARTAN_ETCD_RESULT_LEASE_KEEPALIVE, "{\"result\":[]}");
	expect_bad_result(TARTAN_ETCD_RESULT_LEASE_KEEPALIVE,
			  "{\"error\":{\"grpc_code\":1,\"http_code\":408,\"message\":\"x\"}}");
}

static void test_lease_revoke_compact_status_decode_header(void **state)
{
	static const struct {
		enum tartan_etcd_result_kind kind;
		const char *json;
		int64_t revision;
	} cases[] = {
		{ TARTAN_ETCD_RESULT_LEASE_REVOKE, "{\"header\":" HDR_16 "}", 16 },
		{ TARTAN_ETCD_RESULT_COMPACT, "{\"header\":" HDR_16 "}", 16 },
		{ TARTAN_ETCD_RESULT_STATUS,
		  "{\"header\":" HDR_20 ",\"version\":\"3.4.23\",\"dbSize\":\"20480\",\"leader\":"
		  "\"10276657743932975437\",\"raftIndex\":\"47\",\"raftTerm\":\"5\","
		  "\"raftAppliedIndex\":\"47\",\"dbSizeInUse\":\"16384\"}",
		  20 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tartan_etcd_result *res = decode_ok(cases[i].kind, cases[i].json);

		assert_full_header(&res->header, cases[i].revision);
		tartan_etcd_result_free(res);
	}
}

static void test_status_header_without_revision_and_empty_object(void **state)
{
	struct tartan_etcd_result *res = decode_ok(
		TARTAN_ETCD_RESULT_STATUS,
		"{\"header\":{\"cluster_id\":\"14841639068965178418\",\"member_id\":"
		"\"10276657743932975437\",\"raft_term\":\"5\"},\"members\":[{\"ID\":"
		"\"10276657743932975437\",\"name\":\"default\",\"peerURLs\":[\"http://localhost:2380\"]}]}");

	assert_true(res->header.cluster_id == CLUSTER_ID);
	assert_int_equal(res->header.revision, 0);
	assert_int_equal(res->header.raft_term, 5);
	tartan_etcd_result_free(res);

	/* alarm list with no alarms: {} with no header */
	res = decode_ok(TARTAN_ETCD_RESULT_STATUS, "{}");
	assert_true(res->header.cluster_id == 0);
	assert_int_equal(res->header.revision, 0);
	tartan_etcd_result_free(res);
}

static void test_authenticate_decodes_token(void **state)
{
	struct tartan_etcd_result *res =
		decode_ok(TARTAN_ETCD_RESULT_AUTHENTICATE,
			  "{\"header\":" HDR_20 ",\"token\":\"ElIGDLbwFwrNKkTr.59\"}");

	assert_string_equal(res->token, "ElIGDLbwFwrNKkTr.59");
	tartan_etcd_result_free(res);

	expect_bad_result(TARTAN_ETCD_RESULT_AUTHENTICATE, "{\"token\":59}");
}

static void test_decode_result_rejects_unknown_kind_and_null_out(void **state)
{
	struct tartan_etcd_result *res = NULL;

	assert_int_equal(tartan_etcd_decode_result((enum tartan_etcd_result_kind)99, "{}", 2, &res),
			 -EINVAL);
	assert_null(res);
	assert_int_equal(tartan_etcd_decode_result(TARTAN_ETCD_RESULT_RANGE, "{}", 2, NULL),
			 -EINVAL);
}

/* ------------------------------------------------------------ malformed */

static void test_malformed_answers_are_ebadmsg(void **state)
{
	static const struct {
		enum tartan_etcd_result_kind kind;
		const char *json;
	} bad[] = {
		{ TARTAN_ETCD_RESULT_RANGE, "" },
		{ TARTAN_ETCD_RESULT_RANGE, "   " },
		{ TARTAN_ETCD_RESULT_RANGE, "404 page not found\n" },
		{ TARTAN_ETCD_RESULT_RANGE, "[]" },
		{ TARTAN_ETCD_RESULT_RANGE, "\"header\"" },
		{ TARTAN_ETCD_RESULT_RANGE, "{}x" },
		{ TARTAN_ETCD_RESULT_RANGE, "{} {}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"header\":[]}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"header\":\"x\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":{}}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":\"L25sZC9h\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":[\"L25sZC9h\"]}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":[null]}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":[{\"key\":5}]}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":[{\"key\":[\"L25sZC9h\"]}]}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":[{\"key\":\"L25sZC9h\",\"value\":true}]}" },
		/* bad base64 */
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":[{\"key\":\"L25sZC8\"}]}" },
		{ TARTAN_ETCD_RESULT_RANGE,
		  "{\"kvs\":[{\"key\":\"L25sZC9h\",\"value\":\"djE\"}]}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":[{\"key\":\"L25s ZC9h\"}]}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"kvs\":[{\"key\":\"Zh==\"}]}" },
		/* numbers that do not parse */
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"12a\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\" 12\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"12 \"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"+1\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"-\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"0x10\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"1e3\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":1.5}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":1e3}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":true}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":{}}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"9223372036854775808\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"-9223372036854775809\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":99999999999999999999}" },
		{ TARTAN_ETCD_RESULT_RANGE,
		  "{\"header\":{\"cluster_id\":\"18446744073709551616\"}}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"header\":{\"cluster_id\":\"-1\"}}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"header\":{\"member_id\":-1}}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"header\":{\"revision\":\"12\\u0000\"}}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"more\":\"true\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"more\":1}" },
		{ TARTAN_ETCD_RESULT_PUT, "{\"prev_kv\":[]}" },
		{ TARTAN_ETCD_RESULT_PUT, "{\"prev_kv\":\"L25sZC9h\"}" },
		{ TARTAN_ETCD_RESULT_DELETE, "{\"prev_kvs\":{\"key\":\"L25sZC9h\"}}" },
		{ TARTAN_ETCD_RESULT_DELETE, "{\"deleted\":\"one\"}" },
		{ TARTAN_ETCD_RESULT_LEASE_GRANT, "{\"TTL\":{}}" },
		{ TARTAN_ETCD_RESULT_LEASE_GRANT, "{\"ID\":\"7587899197362412322x\"}" },
		{ TARTAN_ETCD_RESULT_LEASE_TTL, "{\"grantedTTL\":[60]}" },
		{ TARTAN_ETCD_RESULT_COMPACT, "{\"header\":{\"raft_term\":\"2.0\"}}" },
		/* invalid UTF-8 and bad JSON tokens */
		{ TARTAN_ETCD_RESULT_AUTHENTICATE, "{\"token\":\"\xff\xfe\"}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":\"1\",}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{'count':'1'}" },
		{ TARTAN_ETCD_RESULT_RANGE, "{\"count\":NaN}" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_result(bad[i].kind, bad[i].json);
}

static void test_every_truncation_of_an_answer_is_ebadmsg(void **state)
{
	static const char txn[] =
		"{\"header\":" HDR_8 ",\"succeeded\":true,\"responses\":[{\"response_put\":{"
		"\"header\":{\"revision\":\"8\"},\"prev_kv\":{\"key\":\"L25sZC9sb2Nr\","
		"\"create_revision\":\"7\",\"mod_revision\":\"7\",\"version\":\"1\",\"value\":"
		"\"b3duZXItMQ==\"}}}]}";
	struct tartan_etcd_result *res = NULL;

	/* as if the connection broke after len bytes */
	for (size_t len = 0; len < sizeof(txn) - 1; len++)
		expect_bad_result_n(TARTAN_ETCD_RESULT_TXN, txn, len);
	assert_int_equal(
		tartan_etcd_decode_result(TARTAN_ETCD_RESULT_TXN, txn, sizeof(txn) - 1, &res), 0);
	tartan_etcd_result_free(res);
}

static char *repeat(const char *a, size_t n, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(n * (la + lb) + 1), *p = s;

	assert_non_null(s);
	for (size_t i = 0; i < n; i++, p += la)
		memcpy(p, a, la);
	for (size_t i = 0; i < n; i++, p += lb)
		memcpy(p, b, lb);
	*p = '\0';
	return s;
}

static void test_huge_nesting_is_ebadmsg_without_crash(void **state)
{
	char *arrays = repeat("[", 100000, "]");
	char *objects = repeat("{\"kvs\":", 100000, "}");
	char *open_only = repeat("[", 100000, "");
	char *txn = repeat("{\"responses\":[{\"response_txn\":", 3000, "}]}");

	expect_bad_result(TARTAN_ETCD_RESULT_RANGE, arrays);
	expect_bad_result(TARTAN_ETCD_RESULT_RANGE, objects);
	expect_bad_result(TARTAN_ETCD_RESULT_RANGE, open_only);
	expect_bad_result(TARTAN_ETCD_RESULT_TXN, txn);
	free(arrays);
	free(objects);
	free(open_only);
	free(txn);
}

/* ---------------------------------------------------------- error bodies */

static void check_error(const char *body, int code, const char *message)
{
	char *msg = NULL;
	int c = -1, r;

	r = tartan_etcd_decode_error(body, strlen(body), &c, &msg);
	if (r != 0)
		print_error("decode_error of %s: expected 0, got %d\n", body, r);
	assert_int_equal(r, 0);
	assert_int_equal(c, code);
	assert_string_equal(msg, message);
	free(msg);
}

static void test_error_bodies_give_code_and_message(void **state)
{
	check_error(
		"{\"error\":\"etcdserver: mvcc: required revision has been compacted\",\"message\":"
		"\"etcdserver: mvcc: required revision has been compacted\",\"code\":11}",
		TARTAN_ETCD_GRPC_OUT_OF_RANGE,
		"etcdserver: mvcc: required revision has been compacted");
	check_error(
		"{\"error\":\"illegal base64 data at input byte 12\",\"message\":\"illegal base64 "
		"data at input byte 12\",\"code\":3}",
		TARTAN_ETCD_GRPC_INVALID_ARGUMENT, "illegal base64 data at input byte 12");
	check_error(
		"{\"error\":\"etcdserver: requested lease not found\",\"message\":\"etcdserver: "
		"requested lease not found\",\"code\":5}",
		TARTAN_ETCD_GRPC_NOT_FOUND, "etcdserver: requested lease not found");
	check_error("{\"error\":\"etcdserver: permission denied\",\"message\":\"etcdserver: "
		    "permission denied\",\"code\":7}",
		    TARTAN_ETCD_GRPC_PERMISSION_DENIED, "etcdserver: permission denied");
	check_error(
		"{\"error\":\"etcdserver: invalid auth token\",\"message\":\"etcdserver: invalid "
		"auth token\",\"code\":16}\n",
		TARTAN_ETCD_GRPC_UNAUTHENTICATED, "etcdserver: invalid auth token");
}

static void test_error_message_prefers_message_then_error(void **state)
{
	check_error("{\"error\":\"from error\",\"message\":\"from message\",\"code\":3}", 3,
		    "from message");
	check_error("{\"error\":\"from error\",\"code\":3}", 3, "from error");
	check_error("{\"error\":\"from error\",\"message\":\"\",\"code\":3}", 3, "from error");
	check_error("{\"code\":\"14\"}", 14, "");
}

static void test_error_body_that_is_not_etcd_json_is_ebadmsg(void **state)
{
	static const char *const bad[] = {
		"404 page not found\n",
		"404 Not Found",
		"Method Not Allowed\n",
		"",
		"{\"health\":\"true\"}",
		"{\"error\":\"no code here\",\"message\":\"no code here\"}",
		"{\"error\":\"x\",\"message\":\"x\",\"code\":\"three\"}",
		"{\"error\":\"x\",\"message\":\"x\",\"code\":4294967296}",
		"{\"error\":\"x\",\"message\":5,\"code\":3}",
		"{\"error\":{\"grpc_code\":1},\"code\":3}",
		"{\"error\":{\"grpc_code\":1,\"http_code\":408,\"message\":\"x\"}}",
		"{\"error\":\"x\",\"code\":3",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *msg = (char *)"untouched";
		int code = 12345, r;

		r = tartan_etcd_decode_error(bad[i], strlen(bad[i]), &code, &msg);
		if (r != -EBADMSG)
			print_error("decode_error of '%s': expected -EBADMSG, got %d\n", bad[i], r);
		assert_int_equal(r, -EBADMSG);
		assert_int_equal(code, 12345);
		assert_string_equal(msg, "untouched");
	}
}

static void test_errno_from_grpc_maps_each_code(void **state)
{
	assert_int_equal(tartan_etcd_errno_from_grpc(3), -EINVAL);
	assert_int_equal(tartan_etcd_errno_from_grpc(4), -ETIMEDOUT);
	assert_int_equal(tartan_etcd_errno_from_grpc(5), -ENOENT);
	assert_int_equal(tartan_etcd_errno_from_grpc(7), -EACCES);
	assert_int_equal(tartan_etcd_errno_from_grpc(9), -EBUSY);
	assert_int_equal(tartan_etcd_errno_from_grpc(11), -ERANGE);
	assert_int_equal(tartan_etcd_errno_from_grpc(14), -EAGAIN);
	assert_int_equal(tartan_etcd_errno_from_grpc(16), -EKEYEXPIRED);
	/* everything else, 0 included: only failed calls ask */
	assert_int_equal(tartan_etcd_errno_from_grpc(0), -EIO);
	assert_int_equal(tartan_etcd_errno_from_grpc(1), -EIO);
	assert_int_equal(tartan_etcd_errno_from_grpc(2), -EIO);
	assert_int_equal(tartan_etcd_errno_from_grpc(13), -EIO);
	assert_int_equal(tartan_etcd_errno_from_grpc(-1), -EIO);
}

/* ---------------------------------------------------------------- watch */

static void test_watch_created_line(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"result\":{\"header\":{\"cluster_id\":\"14841639068965178418\",\"member_id\":"
		"\"10276657743932975437\",\"revision\":\"12\",\"raft_term\":\"2\"},\"created\":true}}\n");

	assert_full_header(&m->header, 12);
	assert_true(m->created);
	assert_false(m->canceled);
	assert_int_equal(m->watch_id, 0);
	assert_int_equal(m->n_events, 0);
	assert_null(m->events);
	assert_false(m->stream_error);
	assert_string_equal(m->cancel_reason, "");
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_put_event_without_type_is_put_with_prev_kv(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"result\":{\"header\":" HDR_13 ",\"events\":[{\"kv\":{\"key\":\"L25sZC9h\","
		"\"create_revision\":\"2\",\"mod_revision\":\"13\",\"version\":\"3\",\"value\":"
		"\"djM=\"},\"prev_kv\":{\"key\":\"L25sZC9h\",\"create_revision\":\"2\","
		"\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"djI=\"}}]}}\n");

	assert_full_header(&m->header, 13);
	assert_false(m->created);
	assert_int_equal(m->n_events, 1);
	assert_int_equal(m->events[0].type, TARTAN_ETCD_EVENT_PUT);
	assert_kv(&m->events[0].kv, "/nld/a", "v3", 2, 13, 3, 0);
	assert_true(m->events[0].has_prev_kv);
	assert_kv(&m->events[0].prev_kv, "/nld/a", "v2", 2, 3, 2, 0);
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_delete_event_carries_key_and_mod_revision_only(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"result\":{\"header\":" HDR_14
		",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":"
		"\"L25sZC9i\",\"mod_revision\":\"14\"},\"prev_kv\":{\"key\":\"L25sZC9i\","
		"\"create_revision\":\"4\",\"mod_revision\":\"4\",\"version\":\"1\",\"value\":"
		"\"djE=\"}}]}}\n");

	assert_int_equal(m->n_events, 1);
	assert_int_equal(m->events[0].type, TARTAN_ETCD_EVENT_DELETE);
	assert_kv(&m->events[0].kv, "/nld/b", "", 0, 14, 0, 0);
	assert_true(m->events[0].has_prev_kv);
	assert_kv(&m->events[0].prev_kv, "/nld/b", "v1", 4, 4, 1, 0);
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_multi_event_message_and_absent_prev_kv(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"result\":{\"header\":" HDR_15 ",\"events\":[{\"kv\":{\"key\":\"L25sZC90MQ==\","
		"\"create_revision\":\"15\",\"mod_revision\":\"15\",\"version\":\"1\",\"value\":"
		"\"MQ==\"}},{\"kv\":{\"key\":\"L25sZC90Mg==\",\"create_revision\":\"15\","
		"\"mod_revision\":\"15\",\"version\":\"1\",\"value\":\"Mg==\"}}]}}\n");

	assert_int_equal(m->n_events, 2);
	assert_kv(&m->events[0].kv, "/nld/t1", "1", 15, 15, 1, 0);
	assert_kv(&m->events[1].kv, "/nld/t2", "2", 15, 15, 1, 0);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(m->events[i].type, TARTAN_ETCD_EVENT_PUT);
		assert_false(m->events[i].has_prev_kv);
		/* absent prev_kv still has non-NULL empty bytes */
		assert_bytes(&m->events[i].prev_kv.key, "");
		assert_bytes(&m->events[i].prev_kv.value, "");
	}
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_lease_revoke_delete_has_prev_lease(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"result\":{\"header\":" HDR_16
		",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":"
		"\"L25sZC9sZWFzZWQ=\",\"mod_revision\":\"16\"},\"prev_kv\":{\"key\":"
		"\"L25sZC9sZWFzZWQ=\",\"create_revision\":\"12\",\"mod_revision\":\"12\",\"version\":"
		"\"1\",\"value\":\"YWxpdmU=\",\"lease\":\"7587899197362412327\"}}]}}");

	assert_int_equal(m->events[0].type, TARTAN_ETCD_EVENT_DELETE);
	assert_kv(&m->events[0].prev_kv, "/nld/leased", "alive", 12, 12, 1, 7587899197362412327LL);
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_progress_notify_has_header_only(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok("{\"result\":{\"header\":" HDR_20 "}}\n");

	assert_full_header(&m->header, 20);
	assert_false(m->created);
	assert_false(m->canceled);
	assert_int_equal(m->n_events, 0);
	tartan_etcd_watch_msg_free(m);

	/* answer to a manual progress_request */
	m = watch_ok("{\"result\":{\"header\":" HDR_20 ",\"watch_id\":\"-1\"}}\n");
	assert_int_equal(m->watch_id, -1);
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_cancel_with_watch_id(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok("{\"result\":{\"header\":" HDR_20
						   ",\"watch_id\":\"1\",\"canceled\":true}}\n");

	assert_int_equal(m->watch_id, 1);
	assert_true(m->canceled);
	assert_int_equal(m->compact_revision, 0);
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_compacted_cancel_has_no_header_revision(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"result\":{\"header\":{\"cluster_id\":\"14841639068965178418\",\"member_id\":"
		"\"10276657743932975437\",\"raft_term\":\"2\"},\"canceled\":true,"
		"\"compact_revision\":\"10\"}}\n");

	assert_true(m->header.cluster_id == CLUSTER_ID);
	assert_int_equal(m->header.revision, 0);
	assert_true(m->canceled);
	assert_int_equal(m->compact_revision, 10);
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_permission_denied_cancel_reason(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"result\":{\"header\":" HDR_20 ",\"watch_id\":\"-1\",\"created\":true,"
		"\"canceled\":true,\"cancel_reason\":\"rpc error: code = PermissionDenied desc = "
		"etcdserver: permission denied\"}}\n");

	assert_int_equal(m->watch_id, -1);
	assert_true(m->created);
	assert_true(m->canceled);
	assert_string_equal(
		m->cancel_reason,
		"rpc error: code = PermissionDenied desc = etcdserver: permission denied");
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_stream_error_line_408(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"error\":{\"grpc_code\":1,\"http_code\":408,\"message\":\"grpc: the client "
		"connection is closing\",\"http_status\":\"Request Timeout\"}}\n");

	assert_true(m->stream_error);
	assert_int_equal(m->grpc_code, TARTAN_ETCD_GRPC_CANCELLED);
	assert_string_equal(m->error_message, "grpc: the client connection is closing");
	assert_int_equal(m->n_events, 0);
	assert_false(m->canceled);
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_event_type_accepts_names_and_integers(void **state)
{
	struct tartan_etcd_watch_msg *m = watch_ok(
		"{\"result\":{\"events\":[{\"type\":1,\"kv\":{\"key\":\"YQ==\"}},{\"type\":0},"
		"{\"type\":\"PUT\"},{\"type\":\"DELETE\"},{\"type\":null}]}}");

	assert_int_equal(m->n_events, 5);
	assert_int_equal(m->events[0].type, TARTAN_ETCD_EVENT_DELETE);
	assert_bytes(&m->events[0].kv.key, "a");
	assert_int_equal(m->events[1].type, TARTAN_ETCD_EVENT_PUT);
	assert_bytes(&m->events[1].kv.key, "");
	assert_int_equal(m->events[2].type, TARTAN_ETCD_EVENT_PUT);
	assert_int_equal(m->events[3].type, TARTAN_ETCD_EVENT_DELETE);
	assert_int_equal(m->events[4].type, TARTAN_ETCD_EVENT_PUT);
	tartan_etcd_watch_msg_free(m);
}

static void test_watch_malformed_lines_are_ebadmsg(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"{}",
		"{\"header\":{}}",
		"{\"result\":[]}",
		"{\"result\":\"x\"}",
		"{\"error\":\"closing\"}",
		"{\"error\":{\"grpc_code\":\"one\"}}",
		"{\"error\":{\"grpc_code\":4294967297}}",
		"{\"error\":{\"grpc_code\":1,\"message\":[]}}",
		"{\"result\":{\"events\":{}}}",
		"{\"result\":{\"events\":[1]}}",
		"{\"result\":{\"events\":[{\"type\":\"delete\"}]}}",
		"{\"result\":{\"events\":[{\"type\":2}]}}",
		"{\"result\":{\"events\":[{\"type\":true}]}}",
		"{\"result\":{\"events\":[{\"kv\":[]}]}}",
		"{\"result\":{\"events\":[{\"kv\":{\"key\":\"L25sZC9\"}}]}}",
		"{\"result\":{\"events\":[{\"kv\":{}},{\"prev_kv\":{\"value\":\"djE\"}}]}}",
		"{\"result\":{\"created\":\"true\"}}",
		"{\"result\":{\"watch_id\":\"1x\"}}",
		"{\"result\":{\"compact_revision\":\"ten\"}}",
		"{\"result\":{\"cancel_reason\":7}}",
		"{\"result\":{\"header\":{\"revision\":\"13\"}}",
		"{\"result\":{}}\n{\"result\":{}}\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_watch(bad[i]);
}

/* ------------------------------------------------------------- encoders */

static void test_encode_range_single_key(void **state)
{
	struct tartan_etcd_range_req req = { .keys = { .key = "/nld/a", .key_len = 6 } };
	char *json = NULL;

	assert_json(tartan_etcd_encode_range(&req, &json), &json, "{\"key\":\"L25sZC9h\"}");
}

static void test_encode_range_prefix_with_every_option(void **state)
{
	struct tartan_etcd_range_req req = {
		.keys = { .key = "/nld/", .key_len = 5, .prefix = true },
		.revision = 2,
		.limit = 1,
		.keys_only = true,
		.count_only = true,
		.serializable = true,
	};
	char *json = NULL;

	assert_json(
		tartan_etcd_encode_range(&req, &json), &json,
		"{\"key\":\"L25sZC8=\",\"range_end\":\"L25sZDA=\",\"limit\":\"1\",\"revision\":\"2\","
		"\"serializable\":true,\"keys_only\":true,\"count_only\":true}");
}

static void test_encode_range_explicit_range_end_and_all_0xff_prefix(void **state)
{
	struct tartan_etcd_range_req all = {
		.keys = { .key = "\0", .key_len = 1, .range_end = "\0", .range_end_len = 1 },
	};
	struct tartan_etcd_range_req ff = { .keys = {
						    .key = "\xff", .key_len = 1, .prefix = true } };
	char *json = NULL;

	assert_json(tartan_etcd_encode_range(&all, &json), &json,
		    "{\"key\":\"AA==\",\"range_end\":\"AA==\"}");
	assert_json(tartan_etcd_encode_range(&ff, &json), &json,
		    "{\"key\":\"/w==\",\"range_end\":\"AA==\"}");
}

static void test_encode_range_rejects_contradictions_and_negatives(void **state)
{
	const struct tartan_etcd_range_req bad[] = {
		{ .keys = { .key = "a",
			    .key_len = 1,
			    .prefix = true,
			    .range_end = "b",
			    .range_end_len = 1 } },
		{ .keys = { .key = NULL, .key_len = 3 } },
		{ .keys = { .key = "a", .key_len = 1, .range_end = NULL, .range_end_len = 1 } },
		{ .keys = { .key = "a", .key_len = 1 }, .limit = -1 },
		{ .keys = { .key = "a", .key_len = 1 }, .revision = -5 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *json = (char *)"untouched";

		assert_int_equal(tartan_etcd_encode_range(&bad[i], &json), -EINVAL);
		assert_string_equal(json, "untouched");
	}
	assert_int_equal(tartan_etcd_encode_range(NULL, &(char *){ NULL }), -EINVAL);
}

static void test_encode_put_plain_and_with_lease_and_prev_kv(void **state)
{
	struct tartan_etcd_put_req plain = {
		.key = "/nld/a", .key_len = 6, .value = "v1", .value_len = 2
	};
	struct tartan_etcd_put_req leased = {
		.key = "/nld/leased",
		.key_len = 11,
		.value = "alive",
		.value_len = 5,
		.lease = 7587899197362412327LL,
		.prev_kv = true,
	};
	struct tartan_etcd_put_req empty = { .key = "/nld/c", .key_len = 6 };
	char *json = NULL;

	assert_json(tartan_etcd_encode_put(&plain, &json), &json,
		    "{\"key\":\"L25sZC9h\",\"value\":\"djE=\"}");
	assert_json(tartan_etcd_encode_put(&leased, &json), &json,
		    "{\"key\":\"L25sZC9sZWFzZWQ=\",\"value\":\"YWxpdmU=\",\"lease\":"
		    "\"7587899197362412327\",\"prev_kv\":true}");
	assert_json(tartan_etcd_encode_put(&empty, &json), &json,
		    "{\"key\":\"L25sZC9j\",\"value\":\"\"}");
}

static void test_encode_delete_single_and_prefix(void **state)
{
	struct tartan_etcd_delete_req one = { .keys = { .key = "/nld/c", .key_len = 6 },
					      .prev_kv = true };
	struct tartan_etcd_delete_req all = {
		.keys = { .key = "/nld/", .key_len = 5, .prefix = true }
	};
	char *json = NULL;

	assert_json(tartan_etcd_encode_delete(&one, &json), &json,
		    "{\"key\":\"L25sZC9j\",\"prev_kv\":true}");
	assert_json(tartan_etcd_encode_delete(&all, &json), &json,
		    "{\"key\":\"L25sZC8=\",\"range_end\":\"L25sZDA=\"}");
}

static void test_encode_txn_create_if_absent_matches_doc(void **state)
{
	const struct tartan_etcd_compare cmp = {
		.key = "/nld/lock",
		.key_len = 9,
		.target = TARTAN_ETCD_CMP_CREATE,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.number = 0,
	};
	const struct tartan_etcd_op success = {
		.type = TARTAN_ETCD_OP_PUT,
		.put = { .key = "/nld/lock", .key_len = 9, .value = "owner-1", .value_len = 7 },
	};
	const struct tartan_etcd_op failure = {
		.type = TARTAN_ETCD_OP_RANGE,
		.range = { .keys = { .key = "/nld/lock", .key_len = 9 } },
	};
	const struct tartan_etcd_txn_req req = {
		.compare = &cmp,
		.n_compare = 1,
		.success = &success,
		.n_success = 1,
		.failure = &failure,
		.n_failure = 1,
	};
	char *json = NULL;

	assert_json(
		tartan_etcd_encode_txn(&req, &json), &json,
		"{\"compare\":[{\"key\":\"L25sZC9sb2Nr\",\"target\":\"CREATE\",\"result\":\"EQUAL\","
		"\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":"
		"\"L25sZC9sb2Nr\",\"value\":\"b3duZXItMQ==\"}}],\"failure\":[{\"request_range\":"
		"{\"key\":\"L25sZC9sb2Nr\"}}]}");
}

static void test_encode_txn_uses_field_per_target_and_result_names(void **state)
{
	const struct tartan_etcd_compare cmp[] = {
		{ .key = "k",
		  .key_len = 1,
		  .target = TARTAN_ETCD_CMP_VERSION,
		  .result = TARTAN_ETCD_CMP_GREATER,
		  .number = 1 },
		{ .key = "k",
		  .key_len = 1,
		  .target = TARTAN_ETCD_CMP_MOD,
		  .result = TARTAN_ETCD_CMP_LESS,
		  .number = 100 },
		{ .key = "k",
		  .key_len = 1,
		  .target = TARTAN_ETCD_CMP_VALUE,
		  .result = TARTAN_ETCD_CMP_NOT_EQUAL,
		  .value = "owner-2",
		  .value_len = 7 },
		{ .key = "k",
		  .key_len = 1,
		  .target = TARTAN_ETCD_CMP_LEASE,
		  .result = TARTAN_ETCD_CMP_EQUAL,
		  .number = 12345 },
	};
	const struct tartan_etcd_op ops[] = {
		{ .type = TARTAN_ETCD_OP_DELETE,
		  .del = { .keys = { .key = "k", .key_len = 1 }, .prev_kv = true } },
		{ .type = TARTAN_ETCD_OP_PUT,
		  .put = { .key = "x", .key_len = 1, .value = "1", .value_len = 1 } },
	};
	const struct tartan_etcd_txn_req req = {
		.compare = cmp,
		.n_compare = 4,
		.success = ops,
		.n_success = 2,
	};
	char *json = NULL;

	assert_json(
		tartan_etcd_encode_txn(&req, &json), &json,
		"{\"compare\":[{\"key\":\"aw==\",\"target\":\"VERSION\",\"result\":\"GREATER\","
		"\"version\":\"1\"},{\"key\":\"aw==\",\"target\":\"MOD\",\"result\":\"LESS\","
		"\"mod_revision\":\"100\"},{\"key\":\"aw==\",\"target\":\"VALUE\",\"result\":"
		"\"NOT_EQUAL\",\"value\":\"b3duZXItMg==\"},{\"key\":\"aw==\",\"target\":\"LEASE\","
		"\"result\":\"EQUAL\",\"lease\":\"12345\"}],\"success\":[{\"request_delete_range\":"
		"{\"key\":\"aw==\",\"prev_kv\":true}},{\"request_put\":{\"key\":\"eA==\",\"value\":"
		"\"MQ==\"}}]}");
}

static void test_encode_txn_empty_and_invalid(void **state)
{
	const struct tartan_etcd_txn_req empty = { 0 };
	const struct tartan_etcd_compare bad_target = { .key = "k", .key_len = 1, .target = 5 };
	const struct tartan_etcd_compare bad_result = { .key = "k", .key_len = 1, .result = 4 };
	const struct tartan_etcd_op bad_op = { .type = (enum tartan_etcd_op_type)3 };
	const struct tartan_etcd_txn_req bad[] = {
		{ .compare = &bad_target, .n_compare = 1 },
		{ .compare = &bad_result, .n_compare = 1 },
		{ .compare = NULL, .n_compare = 1 },
		{ .success = &bad_op, .n_success = 1 },
		{ .failure = NULL, .n_failure = 2 },
	};
	char *json = NULL;

	assert_json(tartan_etcd_encode_txn(&empty, &json), &json, "{}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json = (char *)"untouched";
		assert_int_equal(tartan_etcd_encode_txn(&bad[i], &json), -EINVAL);
		assert_string_equal(json, "untouched");
	}
}

static void test_encode_watch_create(void **state)
{
	struct tartan_etcd_watch_req full = {
		.keys = { .key = "/nld/", .key_len = 5, .prefix = true },
		.start_revision = 13,
		.progress_notify = true,
		.prev_kv = true,
	};
	struct tartan_etcd_watch_req one = { .keys = { .key = "/nld/a", .key_len = 6 } };
	char *json = NULL;

	assert_json(tartan_etcd_encode_watch_create(&full, &json), &json,
		    "{\"create_request\":{\"key\":\"L25sZC8=\",\"range_end\":\"L25sZDA=\","
		    "\"start_revision\":\"13\",\"progress_notify\":true,\"prev_kv\":true}}");
	assert_json(tartan_etcd_encode_watch_create(&one, &json), &json,
		    "{\"create_request\":{\"key\":\"L25sZC9h\"}}");
	full.start_revision = -1;
	assert_int_equal(tartan_etcd_encode_watch_create(&full, &json), -EINVAL);
}

static void test_encode_lease_requests(void **state)
{
	char *json = NULL;

	assert_json(tartan_etcd_encode_lease_grant(30, 0, &json), &json, "{\"TTL\":\"30\"}");
	assert_json(tartan_etcd_encode_lease_grant(20, 12345, &json), &json,
		    "{\"TTL\":\"20\",\"ID\":\"12345\"}");
	assert_int_equal(tartan_etcd_encode_lease_grant(-1, 0, &json), -EINVAL);
	assert_json(tartan_etcd_encode_lease_id(7587899197362412327LL, false, &json), &json,
		    "{\"ID\":\"7587899197362412327\"}");
	assert_json(tartan_etcd_encode_lease_id(7587899197362412327LL, true, &json), &json,
		    "{\"ID\":\"7587899197362412327\",\"keys\":true}");
}

static void test_encode_authenticate_escapes_and_rejects_non_utf8(void **state)
{
	/* not UTF-8: a stray byte, a cut sequence, an overlong '/', a
	 * surrogate, a code point above U+10FFFF */
	static const char *const bad[] = { "\xff",     "a\xc3",	       "\xe2\x82",
					   "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80" };
	char *json = NULL;

	assert_json(tartan_etcd_encode_authenticate("nld", "nldpw", &json), &json,
		    "{\"name\":\"nld\",\"password\":\"nldpw\"}");
	assert_json(tartan_etcd_encode_authenticate("a\"b", "c\\d\n", &json), &json,
		    "{\"name\":\"a\\\"b\",\"password\":\"c\\\\d\\n\"}");
	assert_json(
		tartan_etcd_encode_authenticate("n\xc3\xa9", "\xe2\x82\xac\xf0\x9f\x94\x91", &json),
		&json, "{\"name\":\"n\xc3\xa9\",\"password\":\"\xe2\x82\xac\xf0\x9f\x94\x91\"}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tartan_etcd_encode_authenticate("nld", bad[i], &json), -EINVAL);
		assert_int_equal(tartan_etcd_encode_authenticate(bad[i], "pw", &json), -EINVAL);
	}
	assert_null(json);
	assert_int_equal(tartan_etcd_encode_authenticate(NULL, "x", &json), -EINVAL);
}

static void test_encode_compact(void **state)
{
	char *json = NULL;

	assert_json(tartan_etcd_encode_compact(10, true, &json), &json,
		    "{\"revision\":\"10\",\"physical\":true}");
	assert_json(tartan_etcd_encode_compact(10, false, &json), &json, "{\"revision\":\"10\"}");
	assert_json(tartan_etcd_encode_compact(INT64_MAX, false, &json), &json,
		    "{\"revision\":\"9223372036854775807\"}");
	assert_int_equal(tartan_etcd_encode_compact(-1, false, &json), -EINVAL);
}

/* ---------------------------------------------------------- performance */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *build_big_range(int n, size_t *ret_len)
{
	size_t cap = 3 * 1024 * 1024, len = 0;
	char *buf = malloc(cap), value[151];

	assert_non_null(buf);
	len += (size_t)snprintf(buf + len, cap - len, "{\"header\":" HDR_99999 ",\"kvs\":[");
	for (int i = 0; i < n; i++) {
		char key[64], *k64, *v64;
		int vlen;

		snprintf(key, sizeof(key), "/coreos.com/network/subnets/10.%d.%d.0-24", i / 256,
			 i % 256);
		/* a flannel lease, padded with blanks to 150 bytes */
		memset(value, ' ', 150);
		vlen = snprintf(value, sizeof(value),
				"{\"PublicIP\":\"192.168.%d.%d\",\"BackendType\":\"vxlan\","
				"\"BackendData\":{\"VtepMAC\":\"0a:58:0a:f4:%02x:%02x\"}}",
				i / 256, i % 256, i / 256, i % 256);
		assert_true(vlen > 0 && vlen < 150);
		value[vlen] = ' ';
		value[150] = '\0';
		k64 = tartan_etcd_base64_encode(key, strlen(key));
		v64 = tartan_etcd_base64_encode(value, 150);
		assert_non_null(k64);
		assert_non_null(v64);
		len += (size_t)snprintf(
			buf + len, cap - len,
			"%s{\"key\":\"%s\",\"create_revision\":\"%d\",\"mod_revision\":"
			"\"%d\",\"version\":\"1\",\"value\":\"%s\",\"lease\":\"%d\"}",
			i ? "," : "", k64, i + 2, i + 2, v64, 1000 + i);
		free(k64);
		free(v64);
		assert_true(len < cap - 1024);
	}
	len += (size_t)snprintf(buf + len, cap - len, "],\"count\":\"%d\"}", n);
	*ret_len = len;
	return buf;
}

/*
 * A flannel-sized re-list: 5,000 subnet leases with 150-byte values. jansson's
 * own parse is the floor (about 20 ns a byte); the codec's work on top of it
 * (walking the tree, base64, copies) must stay small and linear. A quadratic
 * step would cost seconds here.
 */
static void test_range_of_5000_kvs_decodes_in_linear_time(void **state)
{
	enum {
		N = 5000
	};
	struct tartan_etcd_result *res = NULL;
	double best_parse = 1e9, best_decode = 1e9;
	size_t len;
	char *buf = build_big_range(N, &len);

	for (int round = 0; round < 3; round++) {
		json_error_t error;
		double t0 = now_ms(), t1;
		json_t *root = json_loadb(buf, len, 0, &error);

		assert_non_null(root);
		json_decref(root);
		t1 = now_ms() - t0;
		if (t1 < best_parse)
			best_parse = t1;

		t0 = now_ms();
		assert_int_equal(
			tartan_etcd_decode_result(TARTAN_ETCD_RESULT_RANGE, buf, len, &res), 0);
		t1 = now_ms() - t0;
		if (t1 < best_decode)
			best_decode = t1;

		assert_int_equal(res->n_kvs, N);
		assert_int_equal(res->count, N);
		for (int i = 0; i < N; i++) {
			char key[64];

			snprintf(key, sizeof(key), "/coreos.com/network/subnets/10.%d.%d.0-24",
				 i / 256, i % 256);
			assert_bytes(&res->kvs[i].key, key);
			assert_int_equal(res->kvs[i].value.len, 150);
			assert_memory_equal(res->kvs[i].value.data, "{\"PublicIP\":\"192.168.", 21);
			assert_int_equal(res->kvs[i].mod_revision, i + 2);
			assert_int_equal(res->kvs[i].lease, 1000 + i);
		}
		tartan_etcd_result_free(res);
		res = NULL;
	}
	print_message("# %zu bytes, %d kvs: decode %.2f ms, of which jansson parse+free %.2f ms "
		      "(best of 3)\n",
		      len, N, best_decode, best_parse);
	/* the codec's share may at most double jansson's time, plus slack
	 * for sanitizers */
	if (best_decode - best_parse >= best_parse + 50.0)
		print_error("expected the codec's own work < %.1f ms, saw %.1f ms\n",
			    best_parse + 50.0, best_decode - best_parse);
	assert_true(best_decode - best_parse < best_parse + 50.0);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_encode_matches_rfc4648_and_etcd_vectors),
		cmocka_unit_test(test_base64_decode_matches_rfc4648_and_etcd_vectors),
		cmocka_unit_test(test_base64_decode_empty_gives_allocated_empty_string),
		cmocka_unit_test(test_base64_round_trips_every_length_and_byte_value),
		cmocka_unit_test(test_base64_decode_keeps_embedded_nul_bytes),
		cmocka_unit_test(test_base64_decode_rejects_bad_input_without_writing_result),
		cmocka_unit_test(test_base64_decode_rejects_null_text_with_length),
		cmocka_unit_test(test_prefix_end_increments_last_byte),
		cmocka_unit_test(test_prefix_end_drops_trailing_0xff_and_carries),
		cmocka_unit_test(test_prefix_end_of_all_0xff_or_empty_is_nul),
		cmocka_unit_test(test_range_single_key_decodes_kv_count_and_uint64_header),
		cmocka_unit_test(test_range_prefix_absent_value_is_allocated_empty),
		cmocka_unit_test(test_range_limit_sets_more_and_count_is_total),
		cmocka_unit_test(test_range_keys_only_gives_empty_values),
		cmocka_unit_test(test_range_count_only_has_count_and_no_kvs),
		cmocka_unit_test(test_range_missing_key_gives_no_kvs_and_zero_count),
		cmocka_unit_test(test_range_kv_with_lease_decodes_lease_id),
		cmocka_unit_test(test_range_accepts_json_integers_and_nulls),
		cmocka_unit_test(test_range_int64_limits_parse_exactly),
		cmocka_unit_test(test_put_without_prev_kv_has_header_only),
		cmocka_unit_test(test_put_prev_kv_lands_in_kvs0),
		cmocka_unit_test(test_delete_prev_kvs_and_deleted_count),
		cmocka_unit_test(test_delete_already_gone_has_zero_deleted),
		cmocka_unit_test(test_txn_success_branch_put_response),
		cmocka_unit_test(test_txn_missing_succeeded_means_failure_branch_ran),
		cmocka_unit_test(test_txn_cas_put_returns_prev_kv),
		cmocka_unit_test(test_txn_delete_response_and_multi_op),
		cmocka_unit_test(test_txn_rejects_nested_txn_and_malformed_response_ops),
		cmocka_unit_test(test_lease_grant_decodes_id_and_ttl),
		cmocka_unit_test(test_lease_timetolive_decodes_granted_ttl_and_ignores_keys),
		cmocka_unit_test(test_lease_timetolive_minus_one_means_gone),
		cmocka_unit_test(test_lease_keepalive_envelope_with_ttl),
		cmocka_unit_test(test_lease_keepalive_without_ttl_means_gone),
		cmocka_unit_test(test_lease_keepalive_needs_result_envelope),
		cmocka_unit_test(test_lease_revoke_compact_status_decode_header),
		cmocka_unit_test(test_status_header_without_revision_and_empty_object),
		cmocka_unit_test(test_authenticate_decodes_token),
		cmocka_unit_test(test_decode_result_rejects_unknown_kind_and_null_out),
		cmocka_unit_test(test_malformed_answers_are_ebadmsg),
		cmocka_unit_test(test_every_truncation_of_an_answer_is_ebadmsg),
		cmocka_unit_test(test_huge_nesting_is_ebadmsg_without_crash),
		cmocka_unit_test(test_error_bodies_give_code_and_message),
		cmocka_unit_test(test_error_message_prefers_message_then_error),
		cmocka_unit_test(test_error_body_that_is_not_etcd_json_is_ebadmsg),
		cmocka_unit_test(test_errno_from_grpc_maps_each_code),
		cmocka_unit_test(test_watch_created_line),
		cmocka_unit_test(test_watch_put_event_without_type_is_put_with_prev_kv),
		cmocka_unit_test(test_watch_delete_event_carries_key_and_mod_revision_only),
		cmocka_unit_test(test_watch_multi_event_message_and_absent_prev_kv),
		cmocka_unit_test(test_watch_lease_revoke_delete_has_prev_lease),
		cmocka_unit_test(test_watch_progress_notify_has_header_only),
		cmocka_unit_test(test_watch_cancel_with_watch_id),
		cmocka_unit_test(test_watch_compacted_cancel_has_no_header_revision),
		cmocka_unit_test(test_watch_permission_denied_cancel_reason),
		cmocka_unit_test(test_watch_stream_error_line_408),
		cmocka_unit_test(test_watch_event_type_accepts_names_and_integers),
		cmocka_unit_test(test_watch_malformed_lines_are_ebadmsg),
		cmocka_unit_test(test_encode_range_single_key),
		cmocka_unit_test(test_encode_range_prefix_with_every_option),
		cmocka_unit_test(test_encode_range_explicit_range_end_and_all_0xff_prefix),
		cmocka_unit_test(test_encode_range_rejects_contradictions_and_negatives),
		cmocka_unit_test(test_encode_put_plain_and_with_lease_and_prev_kv),
		cmocka_unit_test(test_encode_delete_single_and_prefix),
		cmocka_unit_test(test_encode_txn_create_if_absent_matches_doc),
		cmocka_unit_test(test_encode_txn_uses_field_per_target_and_result_names),
		cmocka_unit_test(test_encode_txn_empty_and_invalid),
		cmocka_unit_test(test_encode_watch_create),
		cmocka_unit_test(test_encode_lease_requests),
		cmocka_unit_test(test_encode_authenticate_escapes_and_rejects_non_utf8),
		cmocka_unit_test(test_encode_compact),
		cmocka_unit_test(test_range_of_5000_kvs_decodes_in_linear_time),
	};

	return cmocka_run_group_tests_name("etcd-codec", tests, NULL, NULL);
}
