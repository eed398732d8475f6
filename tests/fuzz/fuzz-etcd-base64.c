/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the strict base64 codec both ways: text that decodes must re-encode
 * to exactly the same text (strictness means one text per byte string), and
 * any bytes must survive encode + decode.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tartan_etcd_bytes b = { 0 };
	char *text;
	int r;

	r = tartan_etcd_base64_decode((const char *)data, size, &b);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == 0) {
		fuzz_check_bytes(&b);
		FUZZ_CHECK(b.len <= size / 4 * 3 && b.len + 2 >= size / 4 * 3);
		text = tartan_etcd_base64_encode(b.data, b.len);
		FUZZ_CHECK(text != NULL);
		FUZZ_CHECK(strlen(text) == size);
		FUZZ_CHECK(memcmp(text, data, size) == 0);
		free(text);
		free(b.data);
	}

	text = tartan_etcd_base64_encode(data, size);
	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(strlen(text) == (size + 2) / 3 * 4);
	r = tartan_etcd_base64_decode(text, strlen(text), &b);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(b.len == size);
	FUZZ_CHECK(size == 0 || memcmp(b.data, data, size) == 0);
	FUZZ_CHECK(b.data[b.len] == '\0');
	free(b.data);
	free(text);
	return 0;
}
