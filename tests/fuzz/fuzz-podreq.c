/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the parser of a pod's static address and MAC (tartan_podreq_parse, daemon/podreq.h),
 * which reads CNI_ARGS and the config's runtimeConfig as a runtime sent them. The input is
 * CNI_ARGS up to the first '\n' (a NUL ends it, as in an environment variable), then the
 * config as JSON. Beyond "no crash, no leak":
 *  - it answers 0 or -EINVAL; an error has code 4 or 7 and a message of printable bytes;
 *  - a MAC it takes is unicast and not all zeros; what it takes carries code 4 or 7;
 *  - the same input gives the same answer (it keeps no state).
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/podreq.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool code_ok(int code)
{
	return code == 4 || code == 7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t args_len = nl ? (size_t)(nl - data) : size;
	struct tartan_podreq req, again;
	struct tartan_podreq_error err = { 0 }, err2 = { 0 };
	json_t *config = NULL;
	char *args;
	int r, r2;

	args = strndup((const char *)data, args_len);
	if (!args)
		return 0;
	if (nl)
		config = json_loadb((const char *)nl + 1, size - args_len - 1,
				    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	r = tartan_podreq_parse(args, config, &req, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_CHECK(code_ok(err.code));
		FUZZ_CHECK(err.msg[0]);
		for (const char *c = err.msg; *c; c++)
			FUZZ_CHECK((unsigned char)*c >= ' ' && *c != 0x7f);
	} else {
		FUZZ_CHECK(!req.has_addr || code_ok(req.addr_code));
		FUZZ_CHECK(!req.has_addr || req.addr_len <= 32);
		FUZZ_CHECK(!req.has_mac || code_ok(req.mac_code));
		FUZZ_CHECK(!req.has_mac || !(req.mac[0] & 1));
		FUZZ_CHECK(!req.has_mac || (req.mac[0] | req.mac[1] | req.mac[2] | req.mac[3] |
					    req.mac[4] | req.mac[5]));
	}
	r2 = tartan_podreq_parse(args, config, &again, &err2);
	FUZZ_CHECK(r2 == r);
	if (r == 0)
		FUZZ_CHECK(again.has_addr == req.has_addr && again.addr == req.addr &&
			   again.has_mac == req.has_mac && memcmp(again.mac, req.mac, 6) == 0);
	else
		FUZZ_CHECK(err2.code == err.code && strcmp(err2.msg, err.msg) == 0);
	json_decref(config);
	free(args);
	return 0;
}
