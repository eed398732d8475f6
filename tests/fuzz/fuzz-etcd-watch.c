/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz tartan_etcd_decode_watch_msg() with one line of a watch stream. */
#include <errno.h>
#include <stdint.h>

#include "fuzz-etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tartan_etcd_watch_msg *m = NULL;
	int r;

	r = tartan_etcd_decode_watch_msg((const char *)data, size, &m);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	FUZZ_CHECK((r == 0) == (m != NULL));
	if (r == 0)
		fuzz_check_watch_msg(m);
	tartan_etcd_watch_msg_free(m);
	return 0;
}
