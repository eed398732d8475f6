/* SPDX-License-Identifier: Apache-2.0 */
#include <net/if.h>

#include "daemon/kubenet.h"

unsigned tartan_kubenet_mtu(const struct tartan_nl_link *links, size_t n, int bridge_index,
			    const struct tartan_nl_link **ret_from)
{
	const struct tartan_nl_link *best = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct tartan_nl_link *l = &links[i];

		if (!(l->flags & IFF_UP) || (l->flags & (IFF_LOOPBACK | IFF_POINTOPOINT)))
			continue;
		if (l->mtu < TARTAN_KUBENET_MIN_MTU)
			continue;
		if (bridge_index > 0 && (l->index == bridge_index || l->master == bridge_index))
			continue;
		if (!best || l->mtu < best->mtu)
			best = l;
	}
	if (ret_from)
		*ret_from = best;
	return best ? best->mtu : TARTAN_KUBENET_DEFAULT_MTU;
}
