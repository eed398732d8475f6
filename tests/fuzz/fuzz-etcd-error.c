/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz tartan_etcd_decode_error() with the body of a non-200 answer. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *message = NULL;
	int code = 0, r;

	r = tartan_etcd_decode_error((const char *)data, size, &code, &message);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	FUZZ_CHECK((r == 0) == (message != NULL));
	if (r == 0) {
		FUZZ_CHECK(strlen(message) <= size);
		FUZZ_CHECK(tartan_etcd_errno_from_grpc(code) < 0);
	}
	free(message);
	return 0;
}
