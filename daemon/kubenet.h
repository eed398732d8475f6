/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubenet mode (--pod-cidr): what kubelet's kubenet plugin decided for a node,
 * decided here the same way. Pure functions.
 */
#pragma once

#include <stddef.h>

#include "netcfg/nl.h"

/* kubenet's fallback when no interface qualifies, GCE's MTU */
#define TARTAN_KUBENET_DEFAULT_MTU 1460u
/* kubenet ignores interfaces below IPv4's minimum reassembly size */
#define TARTAN_KUBENET_MIN_MTU 576u

/*
 * The pods' MTU as kubenet picks it: the smallest MTU of the links that are up and
 * neither loopback nor point-to-point, TARTAN_KUBENET_DEFAULT_MTU if none. Unlike
 * kubenet, the pod bridge (bridge_index; 0: none yet) and its ports are left out: they
 * carry the MTU tartand gave them, and counting them would keep an old choice forever.
 * *ret_from: the link that decided (NULL for the default).
 */
unsigned tartan_kubenet_mtu(const struct tartan_nl_link *links, size_t n, int bridge_index,
			    const struct tartan_nl_link **ret_from);
