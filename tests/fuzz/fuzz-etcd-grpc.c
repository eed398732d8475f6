/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz tartan_etcd_grpc_decode_range(): the input is the HTTP/2 body etcd
 * would send for /etcdserverpb.KV/Range (gRPC frame + protobuf), and the
 * grpc-message decoder on the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "etcd/grpc.h"
#include "fuzz-etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tartan_etcd_result *res = NULL;
	char *msg;
	int r;

	r = tartan_etcd_grpc_decode_range((const char *)data, size, &res);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	FUZZ_CHECK((r == 0) == (res != NULL));
	if (r == 0) {
		fuzz_check_result(res, 0);
		FUZZ_CHECK(res->n_responses == 0);
	}
	tartan_etcd_result_free(res);

	msg = tartan_etcd_grpc_message_decode((const char *)data, size);
	if (msg) {
		FUZZ_CHECK(strlen(msg) <= size);
		for (size_t i = 0; msg[i]; i++)
			FUZZ_CHECK((unsigned char)msg[i] >= 0x20 && msg[i] != 0x7f);
	}
	free(msg);
	return 0;
}
