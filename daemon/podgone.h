/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attachments whose pod network is gone without a DEL: the marks (which attachment, since
 * when) and the sweep that releases them after the grace, by the rule of
 * tartan_pods_sweep_gone() (daemon/pods.h). The marks live in memory only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "daemon/ipam.h"
#include "daemon/podrecords.h"
#include "netcfg/nl.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

struct tartan_podgone;

/* No marks; released after grace_s seconds gone (see tartan_pods_sweep_gone()). */
_tartan_wur_ int tartan_podgone_new(unsigned grace_s, struct tartan_podgone **ret);
void tartan_podgone_set_grace(struct tartan_podgone *g, unsigned grace_s);
void tartan_podgone_free(struct tartan_podgone *g);

/* One sweep over the pod records in rec: the links from nl, the addresses in ipam. */
void tartan_podgone_sweep(struct tartan_podgone *g, struct tartan_nl *nl, struct tartan_ipam *ipam,
			  struct tartan_podrecords *rec);

/* Whether a link of that name is in links: a host end that is missing means gone. */
bool tartan_podgone_link_listed(const struct tartan_nl_link *links, size_t n, const char *name);
