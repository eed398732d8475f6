/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "flannel/rival.h"

void tartan_flannel_rival_init(struct tartan_flannel_rival *r, double clear_s)
{
	*r = (struct tartan_flannel_rival){
		.clear_s = clear_s > 0 ? clear_s : TARTAN_FLANNEL_RIVAL_CLEAR_S,
		.backoff_s = TARTAN_FLANNEL_RIVAL_BACKOFF_FIRST_S,
	};
}

/* The episode ends: the next overwrite starts a new one, first write-back at once. */
static void rival_reset(struct tartan_flannel_rival *r)
{
	r->active = false;
	r->fighting = false;
	r->overwrites = 0;
	r->n_recent = 0;
	r->backoff_s = TARTAN_FLANNEL_RIVAL_BACKOFF_FIRST_S;
	r->writeback_ok_at = 0;
}

enum tartan_flannel_rival_event tartan_flannel_rival_overwrite(struct tartan_flannel_rival *r,
							       double now, int64_t mod_revision,
							       const char *value, size_t len)
{
	struct tartan_flannel_lease_attrs attrs;
	double oldest;

	if (mod_revision <= r->counted_through)
		return TARTAN_FLANNEL_RIVAL_SEEN;
	r->counted_through = mod_revision;
	if (r->active && now - r->last_at >= r->clear_s)
		rival_reset(r);
	r->active = true;
	r->last_at = now;
	r->overwrites++;
	r->total++;
	/* the reason a value is no lease is not kept: the caller logs the value itself */
	r->parsed = value && tartan_flannel_lease_value_parse(value, len, &attrs, NULL) == 0;
	if (r->parsed)
		r->attrs = attrs;
	else
		memset(&r->attrs, 0, sizeof(r->attrs));

	r->recent[r->n_recent % TARTAN_FLANNEL_RIVAL_FIGHT_N] = now;
	r->n_recent++;
	if (r->fighting || r->n_recent < TARTAN_FLANNEL_RIVAL_FIGHT_N)
		return TARTAN_FLANNEL_RIVAL_NEW;
	/* the slot written next holds the oldest of the last FIGHT_N */
	oldest = r->recent[r->n_recent % TARTAN_FLANNEL_RIVAL_FIGHT_N];
	if (now - oldest > TARTAN_FLANNEL_RIVAL_FIGHT_WINDOW_S)
		return TARTAN_FLANNEL_RIVAL_NEW;
	r->fighting = true;
	r->backoff_s = TARTAN_FLANNEL_RIVAL_BACKOFF_FIRST_S;
	return TARTAN_FLANNEL_RIVAL_FIGHT;
}

double tartan_flannel_rival_writeback_delay(const struct tartan_flannel_rival *r, double now)
{
	if (!r->fighting || now >= r->writeback_ok_at)
		return 0.;
	return r->writeback_ok_at - now;
}

void tartan_flannel_rival_wrote_back(struct tartan_flannel_rival *r, double now)
{
	if (!r->fighting)
		return;
	r->writeback_ok_at = now + r->backoff_s;
	r->backoff_s *= 2;
	if (r->backoff_s > TARTAN_FLANNEL_RIVAL_BACKOFF_MAX_S)
		r->backoff_s = TARTAN_FLANNEL_RIVAL_BACKOFF_MAX_S;
}

double tartan_flannel_rival_clear_delay(const struct tartan_flannel_rival *r, double now)
{
	double left = r->last_at + r->clear_s - now;

	return r->active && left > 0 ? left : 0.;
}

bool tartan_flannel_rival_expire(struct tartan_flannel_rival *r, double now)
{
	if (!r->active || now - r->last_at < r->clear_s)
		return false;
	rival_reset(r);
	return true;
}
