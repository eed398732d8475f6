/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flannel/alloc.h"

/* a taken subnet as the closed address range it covers */
struct range {
	uint64_t first;
	uint64_t last;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return 0;
}

bool tartan_flannel_subnet_fits(const struct tartan_flannel_config *config,
				const struct tartan_ip4_net *subnet)
{
	return subnet->len == config->subnet_len && tartan_ip4_net_is_valid(subnet) &&
	       subnet->addr >= config->subnet_min && subnet->addr <= config->subnet_max;
}

int tartan_flannel_alloc_subnet(const struct tartan_flannel_config *config,
				const struct tartan_ip4_net *taken, size_t n_taken, uint32_t random,
				struct tartan_ip4_net *ret_subnet)
{
	uint32_t found[TARTAN_FLANNEL_ALLOC_CANDIDATES];
	struct range *ranges = NULL;
	uint64_t size, cand, max, reach = 0;
	size_t n_found = 0, j = 0;
	bool any = false;
	int r;

	if (config->subnet_len > 32 ||
	    (config->subnet_min & ~tartan_ip4_mask(config->subnet_len)) ||
	    (config->subnet_max & ~tartan_ip4_mask(config->subnet_len)))
		return -EINVAL;
	size = UINT64_C(1) << (32 - config->subnet_len);

	if (n_taken > 0) {
		ranges = calloc(n_taken, sizeof(*ranges));
		if (!ranges)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n_taken; i++) {
		uint8_t len = taken[i].len > 32 ? 32 : taken[i].len;
		struct tartan_ip4_net t = { .addr = taken[i].addr, .len = len };

		ranges[i].first = t.addr & tartan_ip4_mask(len);
		ranges[i].last = tartan_ip4_net_last(&t);
	}
	if (n_taken > 1)
		qsort(ranges, n_taken, sizeof(*ranges), range_cmp);

	/*
	 * 64-bit candidates: flannel's uint32 wraps after 255.255.255.0. reach
	 * is the highest address covered by the taken ranges that start at or
	 * before the candidate's end; the candidate is free iff reach is below it.
	 */
	max = config->subnet_max;
	for (cand = config->subnet_min; cand <= max && n_found < TARTAN_FLANNEL_ALLOC_CANDIDATES;) {
		uint64_t end = cand + size - 1;

		while (j < n_taken && ranges[j].first <= end) {
			if (!any || ranges[j].last > reach)
				reach = ranges[j].last;
			any = true;
			j++;
		}
		if (any && reach >= cand) {
			/* jump to the first aligned candidate past everything taken so far */
			cand += ((reach - cand) / size + 1) * size;
			continue;
		}
		found[n_found++] = (uint32_t)cand;
		cand += size;
	}

	if (n_found == 0) {
		r = -ENOSPC;
		goto out;
	}
	*ret_subnet = (struct tartan_ip4_net){
		.addr = found[random % n_found],
		.len = config->subnet_len,
	};
	r = 0;
out:
	free(ranges);
	return r;
}
