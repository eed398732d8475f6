/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for etcd/grpc.c: the gRPC frame and protobuf of Range. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd/grpc.h"

/* RangeResponse{header{cluster_id, member_id, revision 5, raft_term 2},
 * kvs[{/nld/a, create 2, mod 3, version 2, value v2},
 *     {/nld/c, create 5, mod 5, version 1, no value, lease 7587899197362412327}],
 * more true, count 3}, framed */
static const uint8_t range_two_kvs[] = {
	0x00, 0x00, 0x00, 0x00, 0x4e, 0x0a, 0x1a, 0x08, 0xb2, 0x98, 0xea, 0xf1, 0x94, 0x83,
	0x86, 0xfc, 0xcd, 0x01, 0x10, 0xcd, 0xd2, 0x91, 0x8b, 0xd2, 0xb8, 0x81, 0xcf, 0x8e,
	0x01, 0x18, 0x05, 0x20, 0x02, 0x12, 0x12, 0x0a, 0x06, 0x2f, 0x6e, 0x6c, 0x64, 0x2f,
	0x61, 0x10, 0x02, 0x18, 0x03, 0x20, 0x02, 0x2a, 0x02, 0x76, 0x32, 0x12, 0x18, 0x0a,
	0x06, 0x2f, 0x6e, 0x6c, 0x64, 0x2f, 0x63, 0x10, 0x05, 0x18, 0x05, 0x20, 0x01, 0x30,
	0xa7, 0xb6, 0x88, 0xd2, 0xe1, 0xc3, 0xe8, 0xa6, 0x69, 0x18, 0x01, 0x20, 0x03,
};

static void range_response_decodes_every_field(void **state)
{
	struct tartan_etcd_result *res = NULL;

	assert_int_equal(tartan_etcd_grpc_decode_range((const char *)range_two_kvs,
						       sizeof(range_two_kvs), &res),
			 0);
	assert_true(res->header.cluster_id == 14841639068965178418ull);
	assert_true(res->header.member_id == 10276657743932975437ull);
	assert_int_equal(res->header.revision, 5);
	assert_int_equal(res->header.raft_term, 2);
	assert_int_equal(res->n_kvs, 2);
	assert_int_equal(res->count, 3);
	assert_true(res->more);
	assert_string_equal(res->kvs[0].key.data, "/nld/a");
	assert_int_equal(res->kvs[0].key.len, 6);
	assert_string_equal(res->kvs[0].value.data, "v2");
	assert_int_equal(res->kvs[0].create_revision, 2);
	assert_int_equal(res->kvs[0].mod_revision, 3);
	assert_int_equal(res->kvs[0].version, 2);
	assert_int_equal(res->kvs[0].lease, 0);
	/* an absent value is "" like the JSON decoder's, never NULL */
	assert_non_null(res->kvs[1].value.data);
	assert_int_equal(res->kvs[1].value.len, 0);
	assert_true(res->kvs[1].lease == 7587899197362412327ll);
	tartan_etcd_result_free(res);
}

static void every_truncation_is_rejected(void **state)
{
	size_t len;

	for (len = 0; len < sizeof(range_two_kvs); len++) {
		struct tartan_etcd_result *res = NULL;

		assert_int_equal(
			tartan_etcd_grpc_decode_range((const char *)range_two_kvs, len, &res),
			-EBADMSG);
		assert_null(res);
	}
}

static void compressed_and_bad_frames_are_rejected(void **state)
{
	uint8_t buf[sizeof(range_two_kvs)];
	struct tartan_etcd_result *res = NULL;

	memcpy(buf, range_two_kvs, sizeof(buf));
	buf[0] = 1; /* compressed: tartan never asks for it */
	assert_int_equal(tartan_etcd_grpc_decode_range((const char *)buf, sizeof(buf), &res),
			 -EBADMSG);
	memcpy(buf, range_two_kvs, sizeof(buf));
	buf[4] = 0x10; /* length says less than there is */
	assert_int_equal(tartan_etcd_grpc_decode_range((const char *)buf, sizeof(buf), &res),
			 -EBADMSG);
	memcpy(buf, range_two_kvs, sizeof(buf));
	buf[5] = 0x0b; /* header field with wire type 3 (group) */
	assert_int_equal(tartan_etcd_grpc_decode_range((const char *)buf, sizeof(buf), &res),
			 -EBADMSG);
	assert_null(res);
}

static void unknown_fields_are_skipped(void **state)
{
	/* RangeResponse{99: varint 7, 98: fixed64, 97: bytes "x", 96: fixed32, 4: count 1} */
	static const uint8_t msg[] = {
		0x00, 0x00, 0x00, 0x00, 0x19, 0x98, 0x06, 0x07, 0x91, 0x06, 1, 2, 3, 4,	   5,
		6,    7,    8,	  0x8a, 0x06, 0x01, 'x',  0x85, 0x06, 1,    2, 3, 4, 0x20, 0x01,
	};
	struct tartan_etcd_result *res = NULL;

	assert_int_equal(tartan_etcd_grpc_decode_range((const char *)msg, sizeof(msg), &res), 0);
	assert_int_equal(res->count, 1);
	assert_int_equal(res->n_kvs, 0);
	assert_null(res->kvs);
	tartan_etcd_result_free(res);
}

static void range_request_encodes_prefix_limit_and_flags(void **state)
{
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x00, 0x15, 0x0a, 0x05, '/',	'n',  'l',  'd',  '/',	0x12,
		0x05, '/',  'n',  'l',	'd',  '0',  0x18, 0x01, 0x20, 0x96, 0x01, 0x40, 0x01,
	};
	struct tartan_etcd_range_req req = {
		.keys = { .key = "/nld/", .key_len = 5, .prefix = true },
		.limit = 1,
		.revision = 150,
		.keys_only = true,
	};
	size_t len = 0;
	char *buf = NULL;

	assert_int_equal(tartan_etcd_grpc_encode_range(&req, &buf, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	free(buf);
}

static void range_request_without_key_is_refused(void **state)
{
	struct tartan_etcd_range_req req = { 0 };
	size_t len = 0;
	char *buf = NULL;

	assert_int_equal(tartan_etcd_grpc_encode_range(&req, &buf, &len), -EINVAL);
	assert_null(buf);
}

static void grpc_message_is_percent_decoded_and_printable(void **state)
{
	char *m = tartan_etcd_grpc_message_decode("etcdserver%3A user%20name%0Ais empty%", 37);

	assert_string_equal(m, "etcdserver: user name?is empty%");
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(range_response_decodes_every_field),
		cmocka_unit_test(every_truncation_is_rejected),
		cmocka_unit_test(compressed_and_bad_frames_are_rejected),
		cmocka_unit_test(unknown_fields_are_skipped),
		cmocka_unit_test(range_request_encodes_prefix_limit_and_flags),
		cmocka_unit_test(range_request_without_key_is_refused),
		cmocka_unit_test(grpc_message_is_percent_decoded_and_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
