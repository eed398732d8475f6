/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the subnet.env reader (godotenv's rules): beyond "no crash, no leak",
 * what it reports must be valid networks, and a file written from them must
 * read back the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flannel/subnet-env.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tartan_subnet_env env, back;
	char buf[TARTAN_SUBNET_ENV_MAX];
	char *error = NULL;
	size_t len;
	int r;

	r = tartan_subnet_env_parse((const char *)data, size, &env, &error);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r != 0) {
		FUZZ_CHECK(r != -EINVAL || (error != NULL && error[0] != '\0'));
		free(error);
		return 0;
	}
	FUZZ_CHECK(error == NULL);
	FUZZ_CHECK(!env.has_network || tartan_ip4_net_is_valid(&env.network));
	FUZZ_CHECK(!env.has_subnet || tartan_ip4_net_is_valid(&env.subnet));

	if (!env.has_network || !env.has_subnet)
		return 0;
	r = tartan_subnet_env_format(&env.network, &env.subnet, env.has_mtu ? env.mtu : 1500,
				     env.has_ip_masq && env.ip_masq, buf, sizeof(buf), &len);
	if (env.subnet.len > 30) {
		FUZZ_CHECK(r == -EINVAL);
		return 0;
	}
	FUZZ_CHECK(r == 0);
	r = tartan_subnet_env_parse(buf, len, &back, NULL);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(back.has_network && tartan_ip4_net_equal(&back.network, &env.network));
		FUZZ_CHECK(back.has_subnet && tartan_ip4_net_equal(&back.subnet, &env.subnet));
		FUZZ_CHECK(back.has_mtu && back.mtu == (env.has_mtu ? env.mtu : 1500));
		FUZZ_CHECK(back.has_ip_masq && back.ip_masq == (env.has_ip_masq && env.ip_masq));
	}
	return 0;
}
