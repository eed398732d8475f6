/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the network config parser and what is built on a parsed config:
 * beyond "no crash, no leak", a config that parses must be one flannel's
 * CheckNetworkConfig would pass (with tartan's extra refusals), its backend
 * must parse to a sane result or a reason, and the allocator, subnet.env and
 * lease key of a subnet picked from it must be consistent with each other.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flannel/alloc.h"
#include "flannel/config.h"
#include "flannel/lease.h"
#include "flannel/subnet-env.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_backend(const struct tartan_flannel_config *c)
{
	struct tartan_flannel_backend b;
	char *error = NULL;
	int r;

	r = tartan_flannel_backend_parse(c, &b, &error);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		FUZZ_CHECK(error != NULL && error[0] != '\0');
	free(error);
	if (r != 0)
		return;
	FUZZ_CHECK(strcmp(b.type, c->backend_type) == 0);
	switch (b.kind) {
	case TARTAN_FLANNEL_BACKEND_ALLOC:
		FUZZ_CHECK(strcmp(b.lease_backend_type, "") == 0);
		break;
	case TARTAN_FLANNEL_BACKEND_HOST_GW:
		FUZZ_CHECK(strcmp(b.lease_backend_type, "host-gw") == 0);
		break;
	case TARTAN_FLANNEL_BACKEND_VXLAN:
		FUZZ_CHECK(strcmp(b.lease_backend_type, "vxlan") == 0);
		FUZZ_CHECK(b.vxlan.vni <= 0xffffff);
		FUZZ_CHECK(b.vxlan.port != 0);
		FUZZ_CHECK(b.vxlan.mtu == 0 || (b.vxlan.mtu >= 118 && b.vxlan.mtu <= 65535));
		break;
	default:
		FUZZ_CHECK(!"unknown backend kind");
	}
}

static void check_subnet(const struct tartan_flannel_config *c, const struct tartan_ip4_net *sn)
{
	char buf[TARTAN_SUBNET_ENV_MAX], *key = NULL;
	struct tartan_subnet_env env;
	struct tartan_ip4_net back;
	size_t len;
	int r;

	FUZZ_CHECK(tartan_flannel_subnet_fits(c, sn));
	FUZZ_CHECK(tartan_ip4_net_contains_net(&c->network, sn));

	r = tartan_subnet_env_format(&c->network, sn, 1450, true, buf, sizeof(buf), &len);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(len == strlen(buf));
	r = tartan_subnet_env_parse(buf, len, &env, NULL);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(env.has_network && tartan_ip4_net_equal(&env.network, &c->network));
		FUZZ_CHECK(env.has_subnet && tartan_ip4_net_equal(&env.subnet, sn));
		FUZZ_CHECK(env.has_mtu && env.mtu == 1450);
		FUZZ_CHECK(env.has_ip_masq && env.ip_masq);
	}

	r = tartan_flannel_lease_key_format("/coreos.com/network", sn, &key);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		r = tartan_flannel_lease_key_parse(key, strlen(key), &back, NULL);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(tartan_ip4_net_equal(&back, sn));
		free(key);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tartan_flannel_config *c = NULL;
	struct tartan_ip4_net sn, again;
	char *error = NULL;
	uint32_t mask;
	int r;

	r = tartan_flannel_config_parse((const char *)data, size, &c, &error);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r != 0) {
		FUZZ_CHECK(c == NULL);
		FUZZ_CHECK(r != -EINVAL || (error != NULL && error[0] != '\0'));
		free(error);
		return 0;
	}
	FUZZ_CHECK(error == NULL);

	/* what CheckNetworkConfig guarantees, and tartan's min <= max */
	FUZZ_CHECK(tartan_ip4_net_is_valid(&c->network));
	FUZZ_CHECK(c->network.addr != 0 || c->network.len != 0);
	FUZZ_CHECK(c->subnet_len <= 30 && c->subnet_len >= c->network.len + 2);
	mask = tartan_ip4_mask(c->subnet_len);
	FUZZ_CHECK((c->subnet_min & ~mask) == 0 && (c->subnet_max & ~mask) == 0);
	FUZZ_CHECK(tartan_ip4_net_contains(&c->network, c->subnet_min));
	FUZZ_CHECK(tartan_ip4_net_contains(&c->network, c->subnet_max));
	FUZZ_CHECK(c->subnet_min <= c->subnet_max);
	FUZZ_CHECK(c->backend_type != NULL && c->backend_type[0] != '\0');
	for (const char *p = c->backend_type; *p; p++)
		FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
	/* only an absent Backend has no JSON, and it means udp */
	FUZZ_CHECK(c->backend_json != NULL || strcmp(c->backend_type, "udp") == 0);

	check_backend(c);

	/* nothing taken: there is always a subnet, and it fits */
	r = tartan_flannel_alloc_subnet(c, NULL, 0, (uint32_t)size * 2654435761u, &sn);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		check_subnet(c, &sn);
		/* with it taken, the next pick is another subnet, or there is none */
		r = tartan_flannel_alloc_subnet(c, &sn, 1, 0, &again);
		FUZZ_CHECK(r == 0 || r == -ENOSPC || r == -ENOMEM);
		if (r == 0) {
			FUZZ_CHECK(!tartan_ip4_net_overlaps(&again, &sn));
			check_subnet(c, &again);
		} else if (r == -ENOSPC) {
			FUZZ_CHECK(c->subnet_min == c->subnet_max);
		}
	}

	tartan_flannel_config_free(c);
	return 0;
}
