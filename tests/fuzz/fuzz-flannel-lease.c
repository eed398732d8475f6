/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the lease codec: the whole input as a key, the whole input as a
 * value, and, when it has a newline, the part before it as the key and the
 * rest as the value of one lease checked against a fixed config. What parses
 * must format back to text that parses to the same thing. The whole input is
 * also another writer's value on our key, as flannel/rival.c reads it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flannel/config.h"
#include "flannel/lease.h"
#include "flannel/rival.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tartan_flannel_config *config;

static bool key_check(const char *key, size_t len, struct tartan_ip4_net *ret)
{
	struct tartan_ip4_net sn, back;
	bool v6 = false;
	char *text = NULL;
	int r;

	r = tartan_flannel_lease_key_parse(key, len, &sn, &v6);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r != 0)
		return false;
	FUZZ_CHECK(tartan_ip4_net_is_valid(&sn));
	FUZZ_CHECK(sn.len <= 31);

	r = tartan_flannel_lease_key_format("/coreos.com/network", &sn, &text);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		r = tartan_flannel_lease_key_parse(text, strlen(text), &back, &v6);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(tartan_ip4_net_equal(&back, &sn));
		FUZZ_CHECK(!v6);
		/* the key tartan writes is the one key of its subnet that counts */
		FUZZ_CHECK(tartan_flannel_lease_key_is_canonical("/coreos.com/network/subnets/",
								 text, strlen(text)));
		free(text);
	}
	*ret = sn;
	return true;
}

static bool value_check(const char *buf, size_t len, struct tartan_flannel_lease_attrs *ret)
{
	struct tartan_flannel_lease_attrs a, b;
	char *error = NULL, *text = NULL;
	int r;

	r = tartan_flannel_lease_value_parse(buf, len, &a, &error);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r != 0) {
		FUZZ_CHECK(r != -EINVAL || (error != NULL && error[0] != '\0'));
		free(error);
		return false;
	}
	FUZZ_CHECK(error == NULL);
	FUZZ_CHECK(strlen(a.backend_type) <= TARTAN_FLANNEL_BACKEND_TYPE_MAX);
	/* only a vxlan lease's BackendData is read */
	FUZZ_CHECK(strcmp(a.backend_type, "vxlan") == 0 || (!a.has_vni && !a.has_vtep_mac));

	/* an odd BackendType (Go would escape it) is refused by the formatter only */
	r = tartan_flannel_lease_value_format(&a, &text);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == 0) {
		r = tartan_flannel_lease_value_parse(text, strlen(text), &b, NULL);
		FUZZ_CHECK(r == 0 || r == -ENOMEM);
		if (r == 0) {
			FUZZ_CHECK(b.public_ip == a.public_ip);
			FUZZ_CHECK(!b.has_public_ipv6);
			FUZZ_CHECK(strcmp(b.backend_type, a.backend_type) == 0);
			FUZZ_CHECK(b.has_vtep_mac == a.has_vtep_mac);
			if (a.has_vtep_mac) {
				FUZZ_CHECK(memcmp(b.vtep_mac, a.vtep_mac, 6) == 0);
				/* VNI is always written with the MAC, as Go does */
				FUZZ_CHECK(b.has_vni && b.vni == a.vni);
			}
		}
		free(text);
	}
	*ret = a;
	return true;
}

static void lease_check(const struct tartan_ip4_net *sn, const struct tartan_flannel_lease_attrs *a)
{
	char *reason = NULL;
	int r;

	r = tartan_flannel_lease_check(config, sn, a, &reason);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		FUZZ_CHECK(reason != NULL && reason[0] != '\0');
	if (r == 0) {
		FUZZ_CHECK(reason == NULL);
		FUZZ_CHECK(tartan_ip4_net_contains_net(&config->network, sn));
		FUZZ_CHECK(sn->len == config->subnet_len);
		FUZZ_CHECK(tartan_ip4_addr_unusable_reason(a->public_ip) == NULL);
	}
	free(reason);
}

/* the rival's books read the value as the codec does, and keep nothing of one that fails */
static void rival_check(const char *buf, size_t len, bool parsed,
			const struct tartan_flannel_lease_attrs *a)
{
	struct tartan_flannel_rival r;

	tartan_flannel_rival_init(&r, 0);
	FUZZ_CHECK(tartan_flannel_rival_overwrite(&r, 1., 7, buf, len) == TARTAN_FLANNEL_RIVAL_NEW);
	FUZZ_CHECK(r.active && r.overwrites == 1);
	/* -ENOMEM in one of the two parses may tell them apart */
	if (r.parsed && parsed) {
		FUZZ_CHECK(r.attrs.public_ip == a->public_ip);
		FUZZ_CHECK(strcmp(r.attrs.backend_type, a->backend_type) == 0);
	} else if (!r.parsed) {
		FUZZ_CHECK(r.attrs.public_ip == 0 && r.attrs.backend_type[0] == '\0');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char json[] = "{\"Network\":\"10.0.0.0/8\",\"Backend\":{\"Type\":\"vxlan\"}}";
	const char *buf = (const char *)data;
	struct tartan_flannel_lease_attrs a;
	struct tartan_ip4_net sn;
	const char *nl;

	if (!config)
		FUZZ_CHECK(tartan_flannel_config_parse(json, strlen(json), &config, NULL) == 0);

	key_check(buf, size, &sn);
	rival_check(buf, size, value_check(buf, size, &a), &a);

	nl = memchr(buf, '\n', size);
	if (nl) {
		size_t klen = (size_t)(nl - buf);
		bool key_ok = key_check(buf, klen, &sn);
		bool value_ok = value_check(nl + 1, size - klen - 1, &a);

		if (key_ok && value_ok)
			lease_check(&sn, &a);
	}
	return 0;
}
