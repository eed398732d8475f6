/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The books on other writers of our own lease key: which overwrites count,
 * when they make a fight, how far apart our write-backs go, when it is over.
 * The registry writes our value back after each overwrite; this module only
 * decides when.
 *
 * Rules: an overwrite is counted once, by its etcd mod_revision (a watch event
 * and a read of the same put are one). TARTAN_FLANNEL_RIVAL_FIGHT_N of them
 * within TARTAN_FLANNEL_RIVAL_FIGHT_WINDOW_S make a fight: from then on our
 * write-backs keep at least 1 s apart, the gap doubling up to 30 s. The rival
 * is forgotten, and a fight ends, clear_s after the last overwrite.
 *
 * Pure: no I/O; the caller passes the time (seconds, a monotonic clock).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flannel/lease.h"

#define TARTAN_FLANNEL_RIVAL_FIGHT_N 3
#define TARTAN_FLANNEL_RIVAL_FIGHT_WINDOW_S 60.
#define TARTAN_FLANNEL_RIVAL_BACKOFF_FIRST_S 1.
#define TARTAN_FLANNEL_RIVAL_BACKOFF_MAX_S 30.
#define TARTAN_FLANNEL_RIVAL_CLEAR_S 120.

struct tartan_flannel_rival {
	/* read by the caller */
	bool active;   /* an overwrite less than clear_s ago */
	bool fighting; /* FIGHT_N within the window since active: degraded */
	bool parsed;   /* the last overwrite's value is a lease: attrs say what */
	struct tartan_flannel_lease_attrs attrs;
	uint64_t overwrites; /* since active */
	uint64_t total;	     /* since init */

	/* the books */
	double clear_s;
	int64_t counted_through; /* mod_revision of the last overwrite counted */
	double last_at;
	double recent[TARTAN_FLANNEL_RIVAL_FIGHT_N]; /* times of the last overwrites, a ring */
	size_t n_recent;
	double backoff_s;	/* the gap after the next write-back, while fighting */
	double writeback_ok_at; /* no write-back before, while fighting */
};

enum tartan_flannel_rival_event {
	TARTAN_FLANNEL_RIVAL_SEEN,  /* counted before (same or older mod_revision) */
	TARTAN_FLANNEL_RIVAL_NEW,   /* a new overwrite */
	TARTAN_FLANNEL_RIVAL_FIGHT, /* a new overwrite that starts a fight */
};

/* clear_s <= 0: TARTAN_FLANNEL_RIVAL_CLEAR_S */
void tartan_flannel_rival_init(struct tartan_flannel_rival *r, double clear_s);

/* Another writer put value (len bytes, outside input: parsed as a lease, never trusted)
 * on our key at mod_revision. */
enum tartan_flannel_rival_event tartan_flannel_rival_overwrite(struct tartan_flannel_rival *r,
							       double now, int64_t mod_revision,
							       const char *value, size_t len);

/* Seconds to wait before the next write-back: 0 unless fighting. */
double tartan_flannel_rival_writeback_delay(const struct tartan_flannel_rival *r, double now);
/* A write-back was sent at now: while fighting, the next one waits the backoff, which
 * doubles. */
void tartan_flannel_rival_wrote_back(struct tartan_flannel_rival *r, double now);

/* Seconds until the rival is forgotten (0 when due, or not active). */
double tartan_flannel_rival_clear_delay(const struct tartan_flannel_rival *r, double now);
/* Forgets the rival when clear_s went by since its last overwrite: true if it did now. */
bool tartan_flannel_rival_expire(struct tartan_flannel_rival *r, double now);
