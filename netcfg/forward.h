/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPv4 forwarding of this network namespace (net.ipv4.ip_forward): pods reach
 * other nodes and the world only through a node that forwards. flanneld leaves
 * it to the operator and pods then fail without a word; tartand turns it on
 * where its mode routes pod traffic, and says so.
 */
#pragma once

#include <stdbool.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

#define TARTAN_IP_FORWARD_PATH "/proc/sys/net/ipv4/ip_forward"

/*
 * Forwarding on: *ret_changed says whether it was off and was turned on. -errno when
 * it cannot be read or set (a read-only /proc/sys in a container: -EROFS; without
 * CAP_NET_ADMIN: -EACCES or -EPERM), with forwarding as it was.
 */
_tartan_wur_ int tartan_ip_forward_enable(bool *ret_changed);
