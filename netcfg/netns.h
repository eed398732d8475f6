/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network namespace entry by path or fd, for the pod side of CNI requests: a
 * runtime names the pod's namespace by a path (/var/run/netns/NAME,
 * /proc/PID/ns/net), which the tartan plugin opens in the runtime's mount
 * namespace and passes to tartand as an fd; tartand checks that it is a network
 * namespace and opens a netlink request socket inside it. A netlink socket stays bound
 * to the namespace it was created in, so the thread only steps in for the
 * socket() call and steps back at once.
 */
#pragma once

#include "netcfg/nl.h"

/*
 * Opens path (O_RDONLY|O_CLOEXEC) and checks it is a network namespace
 * (NS_GET_NSTYPE). -ENOENT when it does not exist, -EINVAL when it is
 * something else (a file, another kind of namespace), other -errno as open.
 */
_tartan_wur_ int tartan_netns_open(const char *path, int *ret_fd);

/* 0 when fd refers to a network namespace (NS_GET_NSTYPE), else -EINVAL. */
_tartan_wur_ int tartan_netns_check(int fd);

/* A tartan_nl whose socket acts inside the namespace netns_fd refers to. */
_tartan_wur_ int tartan_nl_new_in_netns(int netns_fd, struct tartan_nl **ret);
