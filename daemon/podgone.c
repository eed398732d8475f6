/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/log.h"
#include "daemon/podgone.h"
#include "daemon/pods.h"

struct gone_mark {
	char *id, *ifname;
	double since; /* CLOCK_MONOTONIC seconds, when first seen gone */
};

struct tartan_podgone {
	/* attachments whose host end was missing at the last sweep */
	struct gone_mark *marks;
	size_t n;
	unsigned grace_s;
};

/* One sweep: what it needs, and the marks it makes (they replace the old ones at its end). */
struct sweep {
	struct tartan_podgone *g;
	struct tartan_ipam *ipam;
	struct tartan_podrecords *rec;
	const struct tartan_nl_link *links;
	size_t n_links;
	double now;
	struct gone_mark *marks;
	size_t n_marks;
};

static void gone_marks_free(struct gone_mark *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].id);
		free(m[i].ifname);
	}
	free(m);
}

int tartan_podgone_new(unsigned grace_s, struct tartan_podgone **ret)
{
	struct tartan_podgone *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->grace_s = grace_s;
	*ret = g;
	return 0;
}

void tartan_podgone_set_grace(struct tartan_podgone *g, unsigned grace_s)
{
	g->grace_s = grace_s;
}

void tartan_podgone_free(struct tartan_podgone *g)
{
	if (!g)
		return;
	gone_marks_free(g->marks, g->n);
	free(g);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool tartan_podgone_link_listed(const struct tartan_nl_link *links, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(links[i].name, name) == 0)
			return true;
	return false;
}

static const struct gone_mark *gone_find(const struct tartan_podgone *g, const char *id,
					 const char *ifname)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->marks[i].id, id) == 0 && strcmp(g->marks[i].ifname, ifname) == 0)
			return &g->marks[i];
	return NULL;
}

/* Releases a gone attachment's address and record; false when the store refused. */
static bool gone_release(struct sweep *s, const char *id, const char *ifname, const char *host,
			 double for_s)
{
	char ip[TARTAN_IP4_ADDR_STRLEN] = "-";
	uint32_t addr;
	int err;

	if (tartan_ipam_find(s->ipam, id, ifname, &addr) >= 0)
		tartan_ip4_addr_format(addr, ip);
	err = tartan_ipam_release(s->ipam, id, ifname, NULL, NULL);
	if (err < 0) {
		tartan_log_errno(TARTAN_LOG_WARNING, -err,
				 "container %s (%s): its pod network is gone, but its address "
				 "cannot be released now: %m; retrying at the next resync",
				 id, ifname);
		return false;
	}
	tartan_podrecords_remove(s->rec, id, ifname);
	tartan_log_warning("released %s of container %s (%s): its pod network is gone without "
			   "a DEL (host end %s missing for %.0f s)",
			   ip, id, ifname, host, for_s);
	return true;
}

/* One pod record in the sweep: gone (marked into s->marks) or released, or attached. */
static int sweep_one(const char *id, const char *ifname, void *userdata)
{
	struct sweep *s = userdata;
	const struct gone_mark *old;
	char host[IF_NAMESIZE];
	struct gone_mark *m;
	char *mid, *mifname;

	tartan_podrecords_host_ifname(id, ifname, host);
	old = gone_find(s->g, id, ifname);
	if (tartan_podgone_link_listed(s->links, s->n_links, host) ||
	    (old && s->now - old->since >= s->g->grace_s &&
	     gone_release(s, id, ifname, host, s->now - old->since)))
		return 0;
	m = realloc(s->marks, (s->n_marks + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	s->marks = m;
	mid = strdup(id);
	mifname = strdup(ifname);
	if (!mid || !mifname) {
		free(mid);
		free(mifname);
		return -ENOMEM;
	}
	m[s->n_marks] = (struct gone_mark){
		.id = mid,
		.ifname = mifname,
		.since = old ? old->since : s->now,
	};
	if (!old)
		tartan_log_info("container %s (%s): host end %s is missing: its pod network is "
				"gone; its address goes in %u s unless it comes back",
				id, ifname, host, s->g->grace_s);
	s->n_marks++;
	return 0;
}

void tartan_podgone_sweep(struct tartan_podgone *g, struct tartan_nl *nl, struct tartan_ipam *ipam,
			  struct tartan_podrecords *rec)
{
	struct tartan_nl_link *links = NULL;
	struct sweep s = {
		.g = g,
		.ipam = ipam,
		.rec = rec,
		.now = now_s(),
	};
	size_t n_links = 0;
	int err;

	/* requests are served on this loop too: no ADD is half done while this runs */
	err = tartan_nl_link_list(nl, &links, &n_links);
	if (err < 0) {
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "listing links for gone pods: %m");
		return;
	}
	s.links = links;
	s.n_links = n_links;
	err = tartan_podrecords_foreach(rec, sweep_one, &s);
	free(links);
	if (err < 0) {
		/* the marks so far are kept: a grace never starts again for want of memory */
		gone_marks_free(s.marks, s.n_marks);
		return;
	}
	gone_marks_free(g->marks, g->n);
	g->marks = s.marks;
	g->n = s.n_marks;
}
