/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the netlink monitor's parser (netcfg/monitor.c tartan_nl_monitor_parse): the input
 * is one datagram of rtnetlink notifications. Beyond "no crash, no over-read": every event
 * is one of the five kinds, a link name is NUL-terminated inside its buffer, prefix lengths
 * are at most 32 (a neighbour's is 0 or 32), there is at most one event per 16-byte
 * netlink header in the input, and a second parse of the same bytes gives the same events.
 * The seed corpus is notifications the kernel sent in a network namespace.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "netcfg/monitor.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the events of one parse, kept for the comparison with the second */
#define MAX_KEPT 512

struct collect {
	size_t n;
	struct tartan_nl_event kept[MAX_KEPT];
	/* second pass: compare instead of keep */
	bool compare;
	size_t seen;
	/* folded from every field, so each one is read (sanitizers see the reads) */
	uint64_t sum;
};

static void on_event(const struct tartan_nl_event *e, void *userdata)
{
	struct collect *c = userdata;
	size_t name_len;

	FUZZ_CHECK(e->kind == TARTAN_NL_EVENT_LINK || e->kind == TARTAN_NL_EVENT_ADDR ||
		   e->kind == TARTAN_NL_EVENT_ROUTE || e->kind == TARTAN_NL_EVENT_NEIGH ||
		   e->kind == TARTAN_NL_EVENT_FDB);
	name_len = strnlen(e->name, sizeof(e->name));
	FUZZ_CHECK(name_len < sizeof(e->name));
	if (e->kind != TARTAN_NL_EVENT_LINK)
		FUZZ_CHECK(name_len == 0);
	FUZZ_CHECK(e->dst.len <= 32);
	if (e->kind == TARTAN_NL_EVENT_NEIGH || e->kind == TARTAN_NL_EVENT_FDB)
		FUZZ_CHECK(e->dst.len == 0 || e->dst.len == 32);

	c->sum += (uint64_t)e->kind + e->deleted + e->sender + (uint64_t)(int64_t)e->ifindex +
		  e->flags + e->mtu + e->protocol + e->table + e->dst.addr + e->dst.len;
	for (size_t i = 0; i < name_len; i++)
		c->sum = c->sum * 31 + (uint8_t)e->name[i];

	if (!c->compare) {
		if (c->n < MAX_KEPT)
			c->kept[c->n] = *e;
		c->n++;
		return;
	}
	if (c->seen < MAX_KEPT && c->seen < c->n) {
		const struct tartan_nl_event *k = &c->kept[c->seen];

		FUZZ_CHECK(k->kind == e->kind && k->deleted == e->deleted &&
			   k->sender == e->sender && k->ifindex == e->ifindex &&
			   strcmp(k->name, e->name) == 0 && k->flags == e->flags &&
			   k->mtu == e->mtu && k->protocol == e->protocol && k->table == e->table &&
			   k->dst.addr == e->dst.addr && k->dst.len == e->dst.len);
	}
	c->seen++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static volatile uint64_t sink;
	struct collect *c;
	void *buf;

	/* malloc's memory is aligned as the parser needs (netlink's 4 bytes); the exact size
	 * keeps reads past the end visible to ASan */
	buf = malloc(size ? size : 1);
	c = calloc(1, sizeof(*c));
	if (!buf || !c) {
		free(buf);
		free(c);
		return 0;
	}
	if (size)
		memcpy(buf, data, size);

	tartan_nl_monitor_parse(buf, size, on_event, c);
	FUZZ_CHECK(c->n <= size / NLMSG_HDRLEN);

	c->compare = true;
	tartan_nl_monitor_parse(buf, size, on_event, c);
	FUZZ_CHECK(c->seen == c->n);

	sink = c->sum;
	(void)sink;
	free(c);
	free(buf);
	return 0;
}
