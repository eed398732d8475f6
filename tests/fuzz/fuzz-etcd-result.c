/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz tartan_etcd_decode_result(): the first byte picks the result kind
 * (modulo the number of kinds: 0 range, 1 put, 2 delete, 3 txn, 4 lease
 * grant, 5 revoke, 6 keepalive, 7 timetolive, 8 authenticate, 9 compact,
 * 10 status), the rest is the HTTP body etcd would send.
 */
#include <errno.h>
#include <stdint.h>

#include "fuzz-etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tartan_etcd_result *res = NULL;
	enum tartan_etcd_result_kind kind;
	int r;

	if (size < 1)
		return 0;
	kind = (enum tartan_etcd_result_kind)(data[0] % (TARTAN_ETCD_RESULT_STATUS + 1));
	r = tartan_etcd_decode_result(kind, (const char *)data + 1, size - 1, &res);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	FUZZ_CHECK((r == 0) == (res != NULL));
	if (r == 0) {
		fuzz_check_result(res, 0);
		if (kind == TARTAN_ETCD_RESULT_PUT)
			FUZZ_CHECK(res->n_kvs <= 1);
	}
	tartan_etcd_result_free(res);
	return 0;
}
