/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lease registry: config watch, lease acquisition and renewal, peer cache.
 *
 * Every etcd exchange is one step of a small chain (list, grant, txn, ...);
 * at most one chain for our own lease runs at a time (reg->req), and the
 * peer list/watch runs beside it. A failed step is retried from the start
 * of its chain after a backoff: nothing here gives up or exits.
 */
#include <errno.h>
#include <ev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flannel/alloc.h"
#include "flannel/registry.h"

#define BACKOFF_FIRST_S 0.1
#define BACKOFF_MAX_S 10.0

enum reg_state {
	STATE_WAIT_CONFIG,
	STATE_ACQUIRING,
	STATE_RUNNING,
};

struct tartan_flannel_registry {
	struct ev_loop *loop;
	struct tartan_etcd_client *etcd;
	const struct tartan_flannel_registry_ops *ops;
	void *userdata;
	char *prefix;
	char *config_key;
	char *lease_dir;
	uint32_t public_ip;
	struct tartan_ip4_net previous_subnet;
	unsigned ttl_s, margin_s;
	enum reg_state state;

	/* config */
	struct tartan_flannel_config *config;
	struct tartan_etcd_request *config_req;
	struct tartan_etcd_watch *config_watch;
	bool config_missing_logged;
	ev_timer config_timer;

	/* our lease */
	bool want_lease;
	char *value; /* our lease value, flannel's JSON */
	/* what value says; before acquire() only public_ip: what a peer must not claim */
	struct tartan_flannel_lease_attrs attrs;
	bool have_lease;
	struct tartan_ip4_net subnet;
	char *key;
	int64_t etcd_lease; /* 0: a reservation */
	int64_t expiry_unix;
	struct tartan_etcd_request *req;
	ev_timer retry_timer;
	void (*retry_fn)(struct tartan_flannel_registry *reg);
	double backoff_s;
	ev_timer renew_timer;

	/* the step in flight */
	struct tartan_ip4_net candidate;
	char *candidate_key;
	int64_t candidate_mod_revision; /* reuse: the kv we replace */
	int64_t candidate_old_lease;
	int64_t candidate_create_revision; /* reuse: of the kv we replace */
	bool candidate_reuse, candidate_reservation;
	int64_t new_lease;

	/* our key against other writers (own_key_observe()) */
	int64_t key_create_revision; /* a put over our key keeps it, a new key has another */
	int64_t own_mod_revision;    /* our last write of the key */
	int64_t rival_mod_revision;  /* another writer's last put seen on it */
	bool own_recheck;	     /* our key changed while a chain was at work: read it after */
	bool renew_due;		     /* a renewal lost to an overwrite: renew once written back */
	bool writeback_grant;	     /* etcd lost our lease: a write-back puts on a new one */
	struct tartan_flannel_rival rival;
	ev_timer rival_timer;	    /* the next write-back, while fighting */
	ev_timer rival_clear_timer; /* the rival forgotten */

	/* the list the lease was chosen from: it seeds the peer cache, and the
	 * watch starts after it, so a start-up reads the leases once */
	struct tartan_etcd_result *listing;

	/* peers, sorted by subnet */
	struct tartan_flannel_peer *peers;
	size_t n_peers;
	struct tartan_etcd_request *peers_req;
	struct tartan_etcd_watch *peers_watch;
	/* a lease was refused because another held its VtepMAC: it is not cached, so when a
	 * holder goes only a new list can find it (peers_watch_cb() lists again then) */
	bool mac_refused, relist_wanted;
	/* the peer watch was dropped for a list by choice (a VtepMAC freed, a compaction), not
	 * lost: etcd is as reachable as before until that list or the watch after it fails
	 * (peers_relist_later() for any other reason clears it) */
	bool relist_by_choice;
	/* every unusable kv up to this etcd revision has had its log line (the last list's
	 * revision, then each peer event's): a list again names only keys changed since, or
	 * 50,000 junk keys would log 50,000 lines at every VtepMAC freed or compaction. 0
	 * when our subnet moves, which changes what is usable (a lease over it). */
	int64_t peers_logged_through;
	/* set for a listed kv that had its line: peer_key_parse() and peer_from_kv() count
	 * their skip in n_skips_quiet instead of logging it again */
	bool skip_quiet;
	size_t n_skips_quiet;
	ev_timer peers_timer;
};

static void logf_(struct tartan_flannel_registry *reg, enum tartan_flannel_log_level level,
		  const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void vlogf_(struct tartan_flannel_registry *reg, enum tartan_flannel_log_level level,
		   const char *key, const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void vlogf_(struct tartan_flannel_registry *reg, enum tartan_flannel_log_level level,
		   const char *key, const char *fmt, va_list ap)
{
	char msg[768];

	if (!reg->ops->log)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	reg->ops->log(level, key, msg, reg->userdata);
}

static void logf_(struct tartan_flannel_registry *reg, enum tartan_flannel_log_level level,
		  const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlogf_(reg, level, key, fmt, ap);
	va_end(ap);
}

static void log_skip(struct tartan_flannel_registry *reg, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The warning for a kv that is not used as a peer, unless it had its line already */
static void log_skip(struct tartan_flannel_registry *reg, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (reg->skip_quiet) {
		reg->n_skips_quiet++;
		return;
	}
	va_start(ap, fmt);
	vlogf_(reg, TARTAN_FLANNEL_LOG_WARNING, key, fmt, ap);
	va_end(ap);
}

/* --- small helpers ------------------------------------------------------------ */

static void retry_later(struct tartan_flannel_registry *reg,
			void (*fn)(struct tartan_flannel_registry *reg))
{
	reg->retry_fn = fn;
	ev_timer_stop(reg->loop, &reg->retry_timer);
	ev_timer_set(&reg->retry_timer, reg->backoff_s, 0.);
	ev_timer_start(reg->loop, &reg->retry_timer);
	reg->backoff_s *= 2;
	if (reg->backoff_s > BACKOFF_MAX_S)
		reg->backoff_s = BACKOFF_MAX_S;
}

static void retry_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tartan_flannel_registry *reg = w->data;

	reg->retry_fn(reg);
}

static void revoke_done(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;

	/* a lease that is gone already is what we wanted */
	if (error && error != -ENOENT)
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-revoke",
		      "could not revoke an unused etcd lease (%s), it expires by itself, ignoring",
		      errmsg);
}

/* Fire and forget: a lease we no longer use. The request is not tracked, so it
 * must not outlive the registry: tartan_etcd_client_free() cancels it. */
static void revoke_unused(struct tartan_flannel_registry *reg, int64_t id)
{
	if (id == 0)
		return;
	if (tartan_etcd_lease_revoke(reg->etcd, id, revoke_done, reg, NULL, NULL) < 0)
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-revoke",
		      "could not revoke etcd lease %lld, it expires by itself, ignoring",
		      (long long)id);
}

static bool subnet_key_parse(const struct tartan_etcd_kv *kv, struct tartan_ip4_net *ret)
{
	return tartan_flannel_lease_key_parse(kv->key.data, kv->key.len, ret, NULL) == 0;
}

/* The subnet of a key that can be a lease of its own: the key flanneld writes for it.
 * Another key naming the same subnet would replace the peer, or remove it when its value
 * is bad or it is deleted. */
static bool lease_key_parse(const struct tartan_flannel_registry *reg,
			    const struct tartan_etcd_kv *kv, struct tartan_ip4_net *ret)
{
	return tartan_flannel_lease_key_is_canonical(reg->lease_dir, kv->key.data, kv->key.len) &&
	       subnet_key_parse(kv, ret);
}

/* lease_key_parse(), with a log line naming the key when it is not one */
static bool peer_key_parse(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv,
			   struct tartan_ip4_net *ret)
{
	char buf[TARTAN_IP4_NET_STRLEN];

	if (!subnet_key_parse(kv, ret)) {
		log_skip(reg, kv->key.data, "skipping %.200s: not a subnet key", kv->key.data);
		return false;
	}
	if (!lease_key_parse(reg, kv, ret)) {
		log_skip(reg, kv->key.data,
			 "skipping %.200s: it names %s but is not the key flanneld writes for it, "
			 "so it cannot stand for a lease of its own",
			 kv->key.data, tartan_ip4_net_format(ret, buf));
		return false;
	}
	return true;
}

/* --- peers ------------------------------------------------------------------------ */

static int peer_cmp(const void *a, const void *b)
{
	return tartan_ip4_net_cmp(&((const struct tartan_flannel_peer *)a)->subnet,
				  &((const struct tartan_flannel_peer *)b)->subnet);
}

static struct tartan_flannel_peer *peer_find(struct tartan_flannel_registry *reg,
					     const struct tartan_ip4_net *subnet)
{
	struct tartan_flannel_peer key = { .subnet = *subnet };

	if (reg->n_peers == 0)
		return NULL; /* bsearch() takes no NULL array */
	return bsearch(&key, reg->peers, reg->n_peers, sizeof(key), peer_cmp);
}

/* Same for consumers: a renewal moves a peer's key to a new etcd lease and
 * changes nothing that is programmed, so only the lease value counts. */
static bool peer_same(const struct tartan_flannel_peer *a, const struct tartan_flannel_peer *b)
{
	const struct tartan_flannel_lease_attrs *x = &a->attrs, *y = &b->attrs;

	/* field by field: struct padding is not guaranteed to be zero */
	return x->public_ip == y->public_ip && strcmp(x->backend_type, y->backend_type) == 0 &&
	       x->has_vni == y->has_vni && x->vni == y->vni && x->has_vtep_mac == y->has_vtep_mac &&
	       memcmp(x->vtep_mac, y->vtep_mac, sizeof(x->vtep_mac)) == 0;
}

/*
 * Reads one kv as a peer: false (with a log line naming the key) when it is
 * not usable. Our own subnet is never a peer.
 */
static bool peer_from_kv(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv,
			 struct tartan_flannel_peer *ret)
{
	struct tartan_flannel_peer p = { .etcd_lease = kv->lease,
					 .mod_revision = kv->mod_revision,
					 .create_revision = kv->create_revision };
	char *reason = NULL;

	if (!peer_key_parse(reg, kv, &p.subnet))
		return false;
	if (reg->have_lease && tartan_ip4_net_overlaps(&p.subnet, &reg->subnet)) {
		/* our own key is no peer; anything else over our subnet is a bad lease */
		if (!reg->key || strcmp(kv->key.data, reg->key) != 0)
			log_skip(reg, kv->key.data, "skipping lease %.200s: it overlaps our subnet",
				 kv->key.data);
		return false;
	}
	if (tartan_flannel_lease_value_parse(kv->value.data, kv->value.len, &p.attrs, &reason) <
		    0 ||
	    tartan_flannel_lease_check(reg->config, &p.subnet, &p.attrs, &reason) < 0 ||
	    tartan_flannel_lease_check_not_ours(&reg->attrs, &p.attrs, &reason) < 0) {
		log_skip(reg, kv->key.data, "skipping lease %.200s: %s", kv->key.data,
			 reason ? reason : "out of memory");
		free(reason);
		return false;
	}
	*ret = p;
	return true;
}

/*
 * Whether two peers' leases (of different subnets) have one VtepMAC: the FDB
 * holds one entry per MAC, so programming the second would send the first's
 * traffic to the second's PublicIP. Whoever writes a lease could take any
 * node's traffic that way; two VMs cloned with one MAC file collide too.
 */
static bool vtep_mac_clash(const struct tartan_flannel_peer *a, const struct tartan_flannel_peer *b)
{
	return a->attrs.has_vtep_mac && b->attrs.has_vtep_mac &&
	       strcmp(a->attrs.backend_type, b->attrs.backend_type) == 0 &&
	       memcmp(a->attrs.vtep_mac, b->attrs.vtep_mac, sizeof(a->attrs.vtep_mac)) == 0 &&
	       !tartan_ip4_net_equal(&a->subnet, &b->subnet);
}

/* The cached peer whose VtepMAC p's lease would take, or NULL */
static const struct tartan_flannel_peer *peer_mac_holder(const struct tartan_flannel_registry *reg,
							 const struct tartan_flannel_peer *p)
{
	for (size_t i = 0; i < reg->n_peers; i++)
		if (vtep_mac_clash(&reg->peers[i], p))
			return &reg->peers[i];
	return NULL;
}

static void log_mac_clash(struct tartan_flannel_registry *reg, const char *key,
			  const struct tartan_flannel_peer *p,
			  const struct tartan_flannel_peer *holder)
{
	char mac[TARTAN_FLANNEL_MAC_STRLEN], net[TARTAN_IP4_NET_STRLEN];

	logf_(reg, TARTAN_FLANNEL_LOG_WARNING, key,
	      "skipping lease %.200s: its VtepMAC %s is the one of the lease of %s, which had "
	      "it first",
	      key, tartan_flannel_mac_format(p->attrs.vtep_mac, mac),
	      tartan_ip4_net_format(&holder->subnet, net));
}

/* by_mac order: VtepMAC (with BackendType), then the oldest key first */
static int by_mac_cmp(const void *a, const void *b)
{
	const struct tartan_flannel_peer *x = *(const struct tartan_flannel_peer *const *)a;
	const struct tartan_flannel_peer *y = *(const struct tartan_flannel_peer *const *)b;
	int r = strcmp(x->attrs.backend_type, y->attrs.backend_type);

	if (r == 0)
		r = memcmp(x->attrs.vtep_mac, y->attrs.vtep_mac, sizeof(x->attrs.vtep_mac));
	if (r == 0 && x->create_revision != y->create_revision)
		r = x->create_revision < y->create_revision ? -1 : 1;
	if (r == 0)
		r = peer_cmp(x, y);
	return r;
}

/*
 * Drops from a fresh list (n peers, keys in kvs order) every lease whose
 * VtepMAC an older lease of another subnet has (see vtep_mac_clash()), with
 * a log line each; the others keep their order. Sorting pointers by MAC keeps
 * it O(n log n) for lists of thousands. 0 or -ENOMEM (nothing dropped).
 */
static int peers_drop_mac_clashes(struct tartan_flannel_registry *reg,
				  struct tartan_flannel_peer *peers, size_t *n, char **keys)
{
	const struct tartan_flannel_peer **by_mac = NULL;
	size_t m = 0, i, w;
	bool *drop = NULL;
	int r = -ENOMEM;

	for (i = 0; i < *n; i++)
		m += peers[i].attrs.has_vtep_mac;
	if (m < 2)
		return 0;
	by_mac = malloc(m * sizeof(*by_mac));
	drop = calloc(*n, sizeof(*drop));
	if (!by_mac || !drop)
		goto out;
	for (i = 0, m = 0; i < *n; i++)
		if (peers[i].attrs.has_vtep_mac)
			by_mac[m++] = &peers[i];
	qsort(by_mac, m, sizeof(*by_mac), by_mac_cmp);
	/* the first of a run of one MAC is its oldest lease; runs of one subnet cannot be
	 * (a list has one key per subnet that counts) */
	for (i = 1, w = 0; i < m; i++) {
		if (!vtep_mac_clash(by_mac[w], by_mac[i])) {
			w = i;
			continue;
		}
		drop[by_mac[i] - peers] = true;
		reg->mac_refused = true;
		log_mac_clash(reg, keys[by_mac[i] - peers], by_mac[i], by_mac[w]);
	}
	for (i = 0, w = 0; i < *n; i++)
		if (!drop[i])
			peers[w++] = peers[i];
	*n = w;
	r = 0;
out:
	free(by_mac);
	free(drop);
	return r;
}

static int peer_insert(struct tartan_flannel_registry *reg, const struct tartan_flannel_peer *p)
{
	struct tartan_flannel_peer *peers;
	size_t i;

	peers = realloc(reg->peers, (reg->n_peers + 1) * sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	reg->peers = peers;
	for (i = reg->n_peers; i > 0 && peer_cmp(&peers[i - 1], p) > 0; i--)
		;
	memmove(&peers[i + 1], &peers[i], (reg->n_peers - i) * sizeof(*peers));
	peers[i] = *p;
	reg->n_peers++;
	return 0;
}

static void peer_remove(struct tartan_flannel_registry *reg, struct tartan_flannel_peer *p)
{
	struct tartan_flannel_peer gone = *p;
	size_t i = (size_t)(p - reg->peers);

	memmove(&reg->peers[i], &reg->peers[i + 1], (reg->n_peers - i - 1) * sizeof(*p));
	reg->n_peers--;
	if (reg->ops->peer_removed)
		reg->ops->peer_removed(reg, &gone, reg->userdata);
}

/* peer_remove() for an etcd event: a VtepMAC it held may free a refused lease */
static void peer_remove_by_event(struct tartan_flannel_registry *reg, struct tartan_flannel_peer *p)
{
	if (p->attrs.has_vtep_mac && reg->mac_refused)
		reg->relist_wanted = true;
	peer_remove(reg, p);
}

static void peer_put(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv)
{
	const struct tartan_flannel_peer *holder;
	struct tartan_flannel_peer p, *old;
	struct tartan_ip4_net subnet;

	/* before the cache is looked at: only the subnet's own key may change its peer */
	if (!peer_key_parse(reg, kv, &subnet))
		return;
	old = peer_find(reg, &subnet);
	if (!peer_from_kv(reg, kv, &p)) {
		/* a peer that turned bad is no longer programmed */
		if (old)
			peer_remove_by_event(reg, old);
		return;
	}
	holder = peer_mac_holder(reg, &p);
	if (holder) {
		log_mac_clash(reg, kv->key.data, &p, holder);
		reg->mac_refused = true;
		if (old)
			peer_remove_by_event(reg, old);
		return;
	}
	if (old) {
		bool same = peer_same(old, &p);

		*old = p;
		if (same)
			return;
	} else if (peer_insert(reg, &p) < 0) {
		logf_(reg, TARTAN_FLANNEL_LOG_ERROR, "peers-oom",
		      "out of memory caching peer %.200s", kv->key.data);
		return;
	}
	if (reg->ops->peer_added)
		reg->ops->peer_added(reg, &p, reg->userdata);
}

static void peers_list(struct tartan_flannel_registry *reg);

static void peers_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	peers_list(w->data);
}

static void peers_relist_later(struct tartan_flannel_registry *reg, double after_s)
{
	reg->relist_by_choice = false;
	tartan_etcd_watch_free(reg->peers_watch);
	reg->peers_watch = NULL;
	ev_timer_stop(reg->loop, &reg->peers_timer);
	ev_timer_set(&reg->peers_timer, after_s, 0.);
	ev_timer_start(reg->loop, &reg->peers_timer);
}

static void own_key_event(struct tartan_flannel_registry *reg, const struct tartan_etcd_event *ev);
static void own_key_listed(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv);

static void peers_watch_cb(struct tartan_etcd_watch *w, const struct tartan_etcd_watch_update *u,
			   void *userdata)
{
	struct tartan_flannel_registry *reg = userdata;
	size_t i;

	switch (u->status) {
	case TARTAN_ETCD_WATCH_EVENTS:
		for (i = 0; i < u->n_events; i++) {
			const struct tartan_etcd_event *ev = &u->events[i];
			struct tartan_ip4_net subnet;
			struct tartan_flannel_peer *old;

			if (reg->key && strcmp(ev->kv.key.data, reg->key) == 0) {
				own_key_event(reg, ev);
				continue;
			}
			if (ev->type == TARTAN_ETCD_EVENT_PUT) {
				peer_put(reg, &ev->kv);
				if (ev->kv.mod_revision > reg->peers_logged_through)
					reg->peers_logged_through = ev->kv.mod_revision;
				continue;
			}
			if (lease_key_parse(reg, &ev->kv, &subnet) &&
			    (old = peer_find(reg, &subnet)))
				peer_remove_by_event(reg, old);
		}
		/* after the events: the list frees the watch, and with it u */
		if (reg->relist_wanted) {
			reg->relist_wanted = false;
			logf_(reg, TARTAN_FLANNEL_LOG_INFO, "peers-mac",
			      "a lease whose VtepMAC another held may be usable now; listing the "
			      "leases again");
			peers_relist_later(reg, 1.);
			reg->relist_by_choice = true;
		}
		break;
	case TARTAN_ETCD_WATCH_PROGRESS:
		break;
	case TARTAN_ETCD_WATCH_COMPACTED:
		/* events were lost to compaction: list again and diff against the cache */
		logf_(reg, TARTAN_FLANNEL_LOG_INFO, "peers-compacted",
		      "peer watch: %s; listing the leases again", u->errmsg);
		peers_relist_later(reg, 0.);
		reg->relist_by_choice = true;
		break;
	case TARTAN_ETCD_WATCH_FAILED:
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "peers-watch", "peer watch: %s; retrying",
		      u->errmsg);
		peers_relist_later(reg, 1.);
		break;
	}
}

/* A full list: diff against the cache, then watch from the list's revision. */
static void peers_listed(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;
	struct tartan_flannel_peer *fresh = NULL;
	const struct tartan_etcd_kv *own = NULL;
	struct tartan_etcd_watch_req wreq;
	char **keys = NULL;
	size_t n = 0, i, j;
	int err;

	reg->peers_req = NULL;
	if (error) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "peers-list", "listing leases: %s; retrying",
		      errmsg);
		peers_relist_later(reg, 1.);
		return;
	}
	if (res->n_kvs) {
		fresh = calloc(res->n_kvs, sizeof(*fresh));
		keys = calloc(res->n_kvs, sizeof(*keys));
		if (!fresh || !keys) {
			free(fresh);
			free(keys);
			peers_relist_later(reg, 1.);
			return;
		}
	}
	reg->n_skips_quiet = 0;
	for (i = 0; i < res->n_kvs; i++) {
		reg->skip_quiet = res->kvs[i].mod_revision <= reg->peers_logged_through;
		if (reg->key && strcmp(res->kvs[i].key.data, reg->key) == 0)
			own = &res->kvs[i];
		else if (peer_from_kv(reg, &res->kvs[i], &fresh[n]))
			keys[n++] = res->kvs[i].key.data;
	}
	reg->skip_quiet = false;
	if (reg->n_skips_quiet)
		logf_(reg, TARTAN_FLANNEL_LOG_INFO, "relist-unchanged",
		      "listing leases: skipped %zu unusable keys unchanged since their log line",
		      reg->n_skips_quiet);
	if (res->header.revision > reg->peers_logged_through)
		reg->peers_logged_through = res->header.revision;
	reg->mac_refused = false;
	err = peers_drop_mac_clashes(reg, fresh, &n, keys);
	free(keys);
	if (err < 0) {
		free(fresh);
		peers_relist_later(reg, 1.);
		return;
	}
	if (n > 1)
		qsort(fresh, n, sizeof(*fresh), peer_cmp);

	/* removals first, then additions and changes: a merge walk of two sorted lists */
	for (i = 0, j = 0; i < reg->n_peers;) {
		int cmp = j < n ? peer_cmp(&reg->peers[i], &fresh[j]) : -1;

		if (cmp < 0) {
			peer_remove(reg, &reg->peers[i]);
			continue;
		}
		if (cmp == 0)
			i++;
		j++;
	}
	if (reg->n_peers == 0) {
		/* the first list (or all peers gone): the sorted list is the cache, whole, with
		 * no insert per peer (5,000 reallocs, and their copies, at the daemon's peak) */
		struct tartan_flannel_peer *fit = n ? realloc(fresh, n * sizeof(*fresh)) : NULL;

		free(reg->peers);
		reg->peers = n ? (fit ? fit : fresh) : NULL;
		reg->n_peers = n;
		if (!n)
			free(fresh);
		fresh = NULL;
		for (j = 0; j < n; j++)
			if (reg->ops->peer_added)
				reg->ops->peer_added(reg, &reg->peers[j], reg->userdata);
	}
	for (j = 0; fresh && j < n; j++) {
		struct tartan_flannel_peer *old = peer_find(reg, &fresh[j].subnet);

		if (old && peer_same(old, &fresh[j])) {
			*old = fresh[j];
			continue;
		}
		if (old)
			*old = fresh[j];
		else if (peer_insert(reg, &fresh[j]) < 0)
			continue;
		if (reg->ops->peer_added)
			reg->ops->peer_added(reg, &fresh[j], reg->userdata);
	}
	free(fresh);

	wreq = (struct tartan_etcd_watch_req){
		.keys = { reg->lease_dir, strlen(reg->lease_dir), .prefix = true },
		.start_revision = res->header.revision + 1,
	};
	err = tartan_etcd_watch_new(reg->etcd, &wreq, peers_watch_cb, reg, NULL, &reg->peers_watch);
	if (err < 0) {
		logf_(reg, TARTAN_FLANNEL_LOG_ERROR, "peers-watch", "cannot watch leases: %s",
		      strerror(-err));
		peers_relist_later(reg, 1.);
	}
	/* not the list our lease was chosen from, which is older than our write */
	if (reg->have_lease && reg->own_mod_revision &&
	    res->header.revision >= reg->own_mod_revision)
		own_key_listed(reg, own);
}

static void peers_list(struct tartan_flannel_registry *reg)
{
	struct tartan_etcd_range_req req = {
		.keys = { reg->lease_dir, strlen(reg->lease_dir), .prefix = true },
	};

	tartan_etcd_watch_free(reg->peers_watch);
	reg->peers_watch = NULL;
	tartan_etcd_request_cancel(reg->peers_req);
	reg->peers_req = NULL;
	if (tartan_etcd_range(reg->etcd, &req, peers_listed, reg, NULL, &reg->peers_req) < 0)
		peers_relist_later(reg, 1.);
}

/* --- our lease ------------------------------------------------------------------------ */

static void acquire_start(struct tartan_flannel_registry *reg);
static void renew_start(struct tartan_flannel_registry *reg);
static void own_key_next(struct tartan_flannel_registry *reg);
static void own_key_observe(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv);

static void lease_held(struct tartan_flannel_registry *reg, int64_t expiry_unix)
{
	char buf[TARTAN_IP4_NET_STRLEN];
	bool first = !reg->have_lease || !tartan_ip4_net_equal(&reg->subnet, &reg->candidate);
	bool moved = reg->have_lease && first;

	reg->have_lease = true;
	reg->subnet = reg->candidate;
	if (reg->candidate_key) {
		free(reg->key);
		reg->key = reg->candidate_key;
		reg->candidate_key = NULL;
	}
	reg->etcd_lease = reg->candidate_reservation ? 0 : reg->new_lease;
	reg->new_lease = 0;
	reg->expiry_unix = expiry_unix;
	reg->state = STATE_RUNNING;
	reg->backoff_s = BACKOFF_FIRST_S;
	reg->renew_due = false;
	reg->writeback_grant = false;

	ev_timer_stop(reg->loop, &reg->renew_timer);
	if (reg->etcd_lease) {
		double in = (double)(expiry_unix - time(NULL)) - reg->margin_s;

		ev_timer_set(&reg->renew_timer, in < 1. ? 1. : in, 0.);
		ev_timer_start(reg->loop, &reg->renew_timer);
	}
	if (first)
		logf_(reg, TARTAN_FLANNEL_LOG_INFO, "lease", "holding subnet %s%s",
		      tartan_ip4_net_format(&reg->subnet, buf),
		      reg->etcd_lease ? "" : " (a reservation, no TTL)");
	if (reg->ops->lease_acquired)
		reg->ops->lease_acquired(reg, &reg->subnet, reg->userdata);
	if (moved) {
		/* a lease over the new subnet is unusable now, one over the old usable */
		reg->peers_logged_through = 0;
		/* the node now holding our old subnet is in no peer event to come: its put
		 * went to own_key_event while the key was ours. Read the peers again from
		 * the list the new subnet was chosen from, and watch on from there. */
		tartan_etcd_watch_free(reg->peers_watch);
		reg->peers_watch = NULL;
		tartan_etcd_request_cancel(reg->peers_req);
		reg->peers_req = NULL;
		ev_timer_stop(reg->loop, &reg->peers_timer);
	}
	if (!reg->peers_watch && !reg->peers_req && !ev_is_active(&reg->peers_timer)) {
		if (reg->listing)
			peers_listed(0, NULL, reg->listing, reg);
		else
			peers_list(reg);
	}
	tartan_etcd_result_free(reg->listing);
	reg->listing = NULL;
	own_key_next(reg);
}

static void write_done(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;
	char buf[TARTAN_IP4_NET_STRLEN];

	reg->req = NULL;
	if (error || !res->succeeded) {
		if (error)
			logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-write",
			      "writing lease %s: %s", reg->candidate_key, errmsg);
		else
			logf_(reg, TARTAN_FLANNEL_LOG_INFO, "lease-race",
			      "subnet %s was taken meanwhile; listing again",
			      tartan_ip4_net_format(&reg->candidate, buf));
		revoke_unused(reg, reg->new_lease);
		reg->new_lease = 0;
		retry_later(reg, acquire_start);
		return;
	}
	reg->own_mod_revision = res->header.revision;
	/* a put over a kv keeps its create_revision; a create's is the txn's revision */
	reg->key_create_revision =
		reg->candidate_reuse ? reg->candidate_create_revision : res->header.revision;
	if (reg->candidate_reuse && reg->candidate_old_lease != reg->new_lease)
		revoke_unused(reg, reg->candidate_old_lease);
	/* a re-created key after a loss: the lease it had is of no use any more */
	if (!reg->candidate_reuse && reg->etcd_lease && reg->etcd_lease != reg->new_lease)
		revoke_unused(reg, reg->etcd_lease);
	lease_held(reg, reg->candidate_reservation ? 0 : time(NULL) + reg->ttl_s);
}

/* The txn that writes the candidate: create-if-absent, or replace-if-unchanged. */
static void write_candidate(struct tartan_flannel_registry *reg)
{
	struct tartan_etcd_compare cmp = {
		.key = reg->candidate_key,
		.key_len = strlen(reg->candidate_key),
		.target = reg->candidate_reuse ? TARTAN_ETCD_CMP_MOD : TARTAN_ETCD_CMP_CREATE,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.number = reg->candidate_reuse ? reg->candidate_mod_revision : 0,
	};
	struct tartan_etcd_op put = {
		.type = TARTAN_ETCD_OP_PUT,
		.put = {
			.key = reg->candidate_key,
			.key_len = strlen(reg->candidate_key),
			.value = reg->value,
			.value_len = strlen(reg->value),
			.lease = reg->candidate_reservation ? 0 : reg->new_lease,
		},
	};
	struct tartan_etcd_txn_req txn = { &cmp, 1, &put, 1, NULL, 0 };

	if (tartan_etcd_txn(reg->etcd, &txn, write_done, reg, NULL, &reg->req) < 0) {
		revoke_unused(reg, reg->new_lease);
		reg->new_lease = 0;
		retry_later(reg, acquire_start);
	}
}

static void grant_done(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;

	reg->req = NULL;
	if (error) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-grant",
		      "granting an etcd lease: %s; retrying", errmsg);
		retry_later(reg, acquire_start);
		return;
	}
	reg->new_lease = res->lease_id;
	write_candidate(reg);
}

static void candidate_write(struct tartan_flannel_registry *reg)
{
	char *key = NULL;

	if (tartan_flannel_lease_key_format(reg->prefix, &reg->candidate, &key) < 0) {
		retry_later(reg, acquire_start);
		return;
	}
	free(reg->candidate_key);
	reg->candidate_key = key;
	if (reg->candidate_reservation) {
		write_candidate(reg);
		return;
	}
	if (tartan_etcd_lease_grant(reg->etcd, reg->ttl_s, 0, grant_done, reg, NULL, &reg->req) < 0)
		retry_later(reg, acquire_start);
}

static void stale_deleted(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;

	reg->req = NULL;
	if (error)
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-delete", "deleting %s: %s",
		      reg->candidate_key, errmsg);
	acquire_start(reg);
}

/* The list of all leases is in: choose a subnet as flanneld does. */
static void acquire_listed(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;
	struct tartan_ip4_net *taken = NULL;
	const struct tartan_etcd_kv *mine = NULL;
	struct tartan_ip4_net mine_subnet = { 0 };
	char buf[TARTAN_IP4_NET_STRLEN];
	size_t n = 0, i;
	int err;

	char ip[TARTAN_IP4_ADDR_STRLEN];
	size_t ip_len = strlen(tartan_ip4_addr_format(reg->public_ip, ip));

	reg->req = NULL;
	if (error) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-list", "listing leases: %s; retrying",
		      errmsg);
		retry_later(reg, acquire_start);
		return;
	}
	taken = calloc(res->n_kvs + 1, sizeof(*taken));
	if (!taken) {
		retry_later(reg, acquire_start);
		return;
	}
	for (i = 0; i < res->n_kvs; i++) {
		struct tartan_flannel_lease_attrs attrs;
		struct tartan_ip4_net subnet;

		if (!subnet_key_parse(&res->kvs[i], &subnet))
			continue;
		taken[n++] = subnet;
		/* reuse the lease that holds our public IP (flanneld's first choice); only
		 * values that mention the address are worth a JSON parse. Not from a key
		 * the peers do not take as a lease (lease_key_parse): nobody would route
		 * to us. It still counts as taken, as in flanneld. */
		if (!mine && lease_key_parse(reg, &res->kvs[i], &subnet) &&
		    memmem(res->kvs[i].value.data, res->kvs[i].value.len, ip, ip_len) &&
		    tartan_flannel_lease_value_parse(res->kvs[i].value.data, res->kvs[i].value.len,
						     &attrs, NULL) == 0 &&
		    attrs.public_ip == reg->public_ip) {
			mine = &res->kvs[i];
			mine_subnet = subnet;
		}
	}

	/* keep the list for the peer cache (moved out: the client frees the emptied struct) */
	tartan_etcd_result_free(reg->listing);
	reg->listing = malloc(sizeof(*reg->listing));
	if (reg->listing) {
		*reg->listing = *res;
		memset(res, 0, sizeof(*res));
		res = reg->listing;
	}

	reg->candidate_reuse = false;
	reg->candidate_reservation = false;
	if (mine && tartan_flannel_subnet_fits(reg->config, &mine_subnet)) {
		reg->candidate = mine_subnet;
		reg->candidate_reuse = true;
		reg->candidate_mod_revision = mine->mod_revision;
		reg->candidate_old_lease = mine->lease;
		reg->candidate_create_revision = mine->create_revision;
		reg->candidate_reservation = mine->lease == 0;
		free(taken);
		candidate_write(reg);
		return;
	}
	if (mine) {
		/* ours, but the config no longer allows it: flanneld deletes it too */
		struct tartan_etcd_delete_req del = {
			.keys = { .key = mine->key.data, .key_len = mine->key.len },
		};

		logf_(reg, TARTAN_FLANNEL_LOG_INFO, "lease-stale",
		      "our old lease %s does not fit the config; deleting it",
		      tartan_ip4_net_format(&mine_subnet, buf));
		free(taken);
		free(reg->candidate_key);
		reg->candidate_key = strdup(mine->key.data);
		if (tartan_etcd_delete(reg->etcd, &del, stale_deleted, reg, NULL, &reg->req) < 0)
			retry_later(reg, acquire_start);
		return;
	}

	err = -ENOENT;
	if (reg->previous_subnet.len &&
	    tartan_flannel_subnet_fits(reg->config, &reg->previous_subnet)) {
		bool busy = false;

		for (i = 0; i < n && !busy; i++)
			busy = tartan_ip4_net_overlaps(&taken[i], &reg->previous_subnet);
		if (!busy) {
			reg->candidate = reg->previous_subnet;
			err = 0;
		}
	}
	if (err < 0)
		err = tartan_flannel_alloc_subnet(reg->config, taken, n, arc4random(),
						  &reg->candidate);
	free(taken);
	if (err < 0) {
		logf_(reg, TARTAN_FLANNEL_LOG_ERROR, "lease-full",
		      "out of subnets: every subnet of the network is leased; retrying");
		retry_later(reg, acquire_start);
		return;
	}
	candidate_write(reg);
}

static void acquire_start(struct tartan_flannel_registry *reg)
{
	struct tartan_etcd_range_req req = {
		.keys = { reg->lease_dir, strlen(reg->lease_dir), .prefix = true },
	};

	if (reg->state != STATE_RUNNING)
		reg->state = STATE_ACQUIRING;
	tartan_etcd_request_cancel(reg->req);
	reg->req = NULL;
	if (tartan_etcd_range(reg->etcd, &req, acquire_listed, reg, NULL, &reg->req) < 0)
		retry_later(reg, acquire_start);
}

/* Our key is gone: take the same subnet again if nobody holds it. */
static void recreate_same(struct tartan_flannel_registry *reg)
{
	reg->candidate = reg->subnet;
	reg->candidate_reuse = false;
	reg->candidate_reservation = false;
	tartan_etcd_request_cancel(reg->req);
	reg->req = NULL;
	candidate_write(reg);
}

/* Our key holds our value on the etcd lease just granted (reg->new_lease). */
static void held_on_new_lease(struct tartan_flannel_registry *reg)
{
	int64_t old = reg->etcd_lease;

	reg->candidate = reg->subnet;
	/* the same key: lease_held() keeps reg->key when there is no candidate key */
	free(reg->candidate_key);
	reg->candidate_key = NULL;
	reg->candidate_reservation = false;
	lease_held(reg, time(NULL) + reg->ttl_s);
	/* flanneld leaks the previous lease on every renewal; we don't */
	revoke_unused(reg, old);
}

static void renew_done(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;
	const struct tartan_etcd_result *fail;
	char buf[TARTAN_IP4_NET_STRLEN];

	reg->req = NULL;
	if (error) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-renew", "renewing %s: %s; retrying",
		      reg->key, errmsg);
		revoke_unused(reg, reg->new_lease);
		reg->new_lease = 0;
		retry_later(reg, renew_start);
		return;
	}
	if (res->succeeded) {
		reg->own_mod_revision = res->header.revision;
		held_on_new_lease(reg);
		return;
	}
	revoke_unused(reg, reg->new_lease);
	reg->new_lease = 0;
	fail = res->n_responses ? &res->responses[0] : NULL;
	if (fail && fail->n_kvs && fail->kvs[0].create_revision == reg->key_create_revision) {
		/* a put over the key we hold, not a new key: another writer's, undone first */
		reg->renew_due = true;
		own_key_observe(reg, &fail->kvs[0]);
		return;
	}
	/* a loss is a one-off event, not a retry: logged under our key, which names
	 * itself, so that the caller's rate limit by kind ("lease-...") never hides one */
	if (!fail || fail->n_kvs == 0) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, reg->key,
		      "our lease %s is gone from etcd; taking the same subnet again",
		      tartan_ip4_net_format(&reg->subnet, buf));
		recreate_same(reg);
		return;
	}
	logf_(reg, TARTAN_FLANNEL_LOG_WARNING, reg->key,
	      "subnet %s is now held by another node; acquiring a new subnet",
	      tartan_ip4_net_format(&reg->subnet, buf));
	acquire_start(reg);
}

static void renew_granted(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;
	struct tartan_etcd_compare cmp;
	struct tartan_etcd_op put, get;
	struct tartan_etcd_txn_req txn;

	reg->req = NULL;
	if (error) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-renew",
		      "granting an etcd lease to renew %s: %s; retrying", reg->key, errmsg);
		retry_later(reg, renew_start);
		return;
	}
	reg->new_lease = res->lease_id;
	/* only while the key still holds our value: never overwrite another node's lease */
	cmp = (struct tartan_etcd_compare){
		.key = reg->key,
		.key_len = strlen(reg->key),
		.target = TARTAN_ETCD_CMP_VALUE,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.value = reg->value,
		.value_len = strlen(reg->value),
	};
	put = (struct tartan_etcd_op){
		.type = TARTAN_ETCD_OP_PUT,
		.put = {
			.key = reg->key,
			.key_len = strlen(reg->key),
			.value = reg->value,
			.value_len = strlen(reg->value),
			.lease = reg->new_lease,
		},
	};
	get = (struct tartan_etcd_op){
		.type = TARTAN_ETCD_OP_RANGE,
		.range = { .keys = { .key = reg->key, .key_len = strlen(reg->key) } },
	};
	txn = (struct tartan_etcd_txn_req){ &cmp, 1, &put, 1, &get, 1 };
	if (tartan_etcd_txn(reg->etcd, &txn, renew_done, reg, NULL, &reg->req) < 0) {
		revoke_unused(reg, reg->new_lease);
		reg->new_lease = 0;
		retry_later(reg, renew_start);
	}
}

static void renew_start(struct tartan_flannel_registry *reg)
{
	tartan_etcd_request_cancel(reg->req);
	reg->req = NULL;
	if (tartan_etcd_lease_grant(reg->etcd, reg->ttl_s, 0, renew_granted, reg, NULL, &reg->req) <
	    0)
		retry_later(reg, renew_start);
}

static void renew_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tartan_flannel_registry *reg = w->data;

	reg->backoff_s = BACKOFF_FIRST_S;
	/* a chain on our key at work (a write-back, a re-read): cancelling it could orphan its
	 * lease grant or miss a txn that committed; own_key_next() renews once it is done */
	if (reg->req) {
		reg->renew_due = true;
		return;
	}
	renew_start(reg);
}

/* --- our key against other writers --------------------------------------------------- */

static bool is_our_value(const struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv)
{
	return kv->value.len == strlen(reg->value) &&
	       memcmp(kv->value.data, reg->value, kv->value.len) == 0;
}

/* "PublicIP 192.0.2.9, BackendType host-gw": the value is outside input (the logger
 * escapes what it prints), cut to a length */
static const char *rival_describe(const struct tartan_flannel_registry *reg,
				  const struct tartan_etcd_kv *kv, char *buf, size_t size)
{
	char ip[TARTAN_IP4_ADDR_STRLEN];

	if (reg->rival.parsed)
		snprintf(buf, size, "PublicIP %s, BackendType %.31s",
			 tartan_ip4_addr_format(reg->rival.attrs.public_ip, ip),
			 reg->rival.attrs.backend_type[0] ? reg->rival.attrs.backend_type : "none");
	else
		snprintf(buf, size, "a value that is no lease: '%.64s'%s", kv->value.data,
			 kv->value.len > 64 ? "..." : "");
	return buf;
}

static void writeback_txn(struct tartan_flannel_registry *reg, int64_t lease);

static void writeback_done(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;
	const struct tartan_etcd_result *fail;

	reg->req = NULL;
	if (!error && res->succeeded) {
		reg->own_mod_revision = res->header.revision;
		logf_(reg, TARTAN_FLANNEL_LOG_INFO, "lease-rival-undone",
		      "wrote our value back to our lease key %s", reg->key);
		if (reg->new_lease) {
			held_on_new_lease(reg);
			return;
		}
		own_key_next(reg);
		return;
	}
	revoke_unused(reg, reg->new_lease);
	reg->new_lease = 0;
	if (!error) {
		/* written again meanwhile: what it holds now, under the same rule */
		fail = res->n_responses ? &res->responses[0] : NULL;
		own_key_observe(reg, fail && fail->n_kvs ? &fail->kvs[0] : NULL);
		return;
	}
	if (error == -ENOENT && reg->etcd_lease && !reg->writeback_grant) {
		/* etcd refuses a put on a lease it no longer has: put on a new one */
		reg->writeback_grant = true;
		writeback_txn(reg, -1);
		return;
	}
	logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-writeback",
	      "writing our value back to %s: %s; retrying", reg->key, errmsg);
	retry_later(reg, own_key_next);
}

static void writeback_granted(int error, const char *errmsg, struct tartan_etcd_result *res,
			      void *ud)
{
	struct tartan_flannel_registry *reg = ud;

	reg->req = NULL;
	if (error) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-writeback",
		      "granting an etcd lease to write %s back: %s; retrying", reg->key, errmsg);
		retry_later(reg, own_key_next);
		return;
	}
	reg->new_lease = res->lease_id;
	writeback_txn(reg, reg->new_lease);
}

/* Our value back on our key, only if it still holds the put we saw (else read it):
 * lease -1 grants a new etcd lease first */
static void writeback_txn(struct tartan_flannel_registry *reg, int64_t lease)
{
	struct tartan_etcd_compare cmp = {
		.key = reg->key,
		.key_len = strlen(reg->key),
		.target = TARTAN_ETCD_CMP_MOD,
		.result = TARTAN_ETCD_CMP_EQUAL,
		.number = reg->rival_mod_revision,
	};
	struct tartan_etcd_op put = {
		.type = TARTAN_ETCD_OP_PUT,
		.put = { .key = reg->key,
			 .key_len = strlen(reg->key),
			 .value = reg->value,
			 .value_len = strlen(reg->value),
			 .lease = lease },
	};
	struct tartan_etcd_op get = {
		.type = TARTAN_ETCD_OP_RANGE,
		.range = { .keys = { .key = reg->key, .key_len = strlen(reg->key) } },
	};
	struct tartan_etcd_txn_req txn = { &cmp, 1, &put, 1, &get, 1 };
	int err;

	if (lease < 0)
		err = tartan_etcd_lease_grant(reg->etcd, reg->ttl_s, 0, writeback_granted, reg,
					      NULL, &reg->req);
	else
		err = tartan_etcd_txn(reg->etcd, &txn, writeback_done, reg, NULL, &reg->req);
	if (err < 0) {
		revoke_unused(reg, reg->new_lease);
		reg->new_lease = 0;
		retry_later(reg, own_key_next);
	}
}

static void check_done(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;

	reg->req = NULL;
	if (error) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "lease-check", "reading %s: %s; retrying",
		      reg->key, errmsg);
		reg->own_recheck = true;
		retry_later(reg, own_key_next);
		return;
	}
	own_key_observe(reg, res->n_kvs ? &res->kvs[0] : NULL);
}

/*
 * What comes next for our key, once no chain of ours is at work on it: a read when it
 * changed meanwhile, our value written back when another writer's put is newer than our
 * last write (at once, or after the backoff of a fight), a renewal an overwrite held up.
 */
static void own_key_next(struct tartan_flannel_registry *reg)
{
	struct tartan_etcd_range_req req;
	double delay;

	if (reg->state != STATE_RUNNING || !reg->key || reg->req ||
	    ev_is_active(&reg->retry_timer) || ev_is_active(&reg->rival_timer))
		return;
	if (reg->own_recheck) {
		reg->own_recheck = false;
		req = (struct tartan_etcd_range_req){
			.keys = { .key = reg->key, .key_len = strlen(reg->key) },
		};
		if (tartan_etcd_range(reg->etcd, &req, check_done, reg, NULL, &reg->req) < 0) {
			reg->own_recheck = true;
			retry_later(reg, own_key_next);
		}
		return;
	}
	if (reg->rival_mod_revision > reg->own_mod_revision) {
		delay = tartan_flannel_rival_writeback_delay(&reg->rival, ev_now(reg->loop));
		if (delay > 0) {
			ev_timer_set(&reg->rival_timer, delay, 0.);
			ev_timer_start(reg->loop, &reg->rival_timer);
			return;
		}
		tartan_flannel_rival_wrote_back(&reg->rival, ev_now(reg->loop));
		writeback_txn(reg, reg->writeback_grant ? -1 : reg->etcd_lease);
		return;
	}
	if (reg->renew_due) {
		reg->renew_due = false;
		renew_start(reg);
	}
}

static void rival_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	own_key_next(w->data);
}

static void rival_clear_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tartan_flannel_registry *reg = w->data;
	const struct tartan_flannel_rival *r = &reg->rival;
	double left = tartan_flannel_rival_clear_delay(r, ev_now(loop));
	uint64_t n = r->overwrites;

	if (left > 0) {
		ev_timer_set(w, left, 0.);
		ev_timer_start(loop, w);
		return;
	}
	if (!tartan_flannel_rival_expire(&reg->rival, ev_now(loop)))
		return;
	logf_(reg, TARTAN_FLANNEL_LOG_INFO, reg->key ? reg->key : "lease-rival",
	      "no overwrite of our lease key %s for %.0f s, after %llu: the other writer is "
	      "forgotten",
	      reg->key ? reg->key : "-", r->clear_s, (unsigned long long)n);
	/* a write-back waiting out the fight's backoff goes now */
	ev_timer_stop(loop, &reg->rival_timer);
	own_key_next(reg);
}

/* Another writer's put over the key we hold (kv): count it, say whose, undo it. */
static void rival_seen(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv)
{
	struct tartan_flannel_rival before = reg->rival;
	enum tartan_flannel_rival_event e;
	char what[160], lease[40] = "no etcd lease";
	bool same;

	if (kv->mod_revision > reg->rival_mod_revision)
		reg->rival_mod_revision = kv->mod_revision;
	e = tartan_flannel_rival_overwrite(&reg->rival, ev_now(reg->loop), kv->mod_revision,
					   kv->value.data, kv->value.len);
	if (e != TARTAN_FLANNEL_RIVAL_SEEN) {
		same = before.active && reg->rival.overwrites > 1 &&
		       before.parsed == reg->rival.parsed &&
		       before.attrs.public_ip == reg->rival.attrs.public_ip &&
		       strcmp(before.attrs.backend_type, reg->rival.attrs.backend_type) == 0;
		if (kv->lease)
			snprintf(lease, sizeof(lease), "etcd lease %lld", (long long)kv->lease);
		/* a new rival always has its line (under our key); the same one once a minute */
		/* a put older than our last write needs no write-back */
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, same ? "lease-rival" : reg->key,
		      "our lease key %s was overwritten by another writer (%s; %s)%s (overwrite "
		      "%llu)",
		      reg->key, rival_describe(reg, kv, what, sizeof(what)), lease,
		      kv->mod_revision > reg->own_mod_revision ? "; writing our value back" :
								 "; our value is back already",
		      (unsigned long long)reg->rival.overwrites);
		if (e == TARTAN_FLANNEL_RIVAL_FIGHT)
			logf_(reg, TARTAN_FLANNEL_LOG_WARNING, reg->key,
			      "our lease key %s was overwritten %d times within %.0f s (last: %s): "
			      "holding it with write-backs %.0f s to %.0f s apart; degraded until "
			      "%.0f s without an overwrite",
			      reg->key, TARTAN_FLANNEL_RIVAL_FIGHT_N,
			      TARTAN_FLANNEL_RIVAL_FIGHT_WINDOW_S, what,
			      TARTAN_FLANNEL_RIVAL_BACKOFF_FIRST_S,
			      TARTAN_FLANNEL_RIVAL_BACKOFF_MAX_S, reg->rival.clear_s);
		if (!ev_is_active(&reg->rival_clear_timer)) {
			ev_timer_set(&reg->rival_clear_timer, reg->rival.clear_s, 0.);
			ev_timer_start(reg->loop, &reg->rival_clear_timer);
		}
	}
	own_key_next(reg);
}

/* What our key holds now (kv; NULL: no key), read or seen with no chain of ours at work. */
static void own_key_observe(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv)
{
	char buf[TARTAN_IP4_NET_STRLEN];

	if (!kv) {
		/* one-off events, logged under our key as in renew_done() */
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, reg->key,
		      "our lease key %s was deleted (expired or by hand); taking %s again",
		      reg->key, tartan_ip4_net_format(&reg->subnet, buf));
		reg->backoff_s = BACKOFF_FIRST_S;
		recreate_same(reg);
		return;
	}
	if (is_our_value(reg, kv)) {
		own_key_next(reg);
		return;
	}
	/* a put over our key: counted even when older than our last write (events and
	 * answers travel apart), written over only when newer (own_key_next()) */
	if (kv->create_revision == reg->key_create_revision) {
		rival_seen(reg, kv);
		return;
	}
	/* an older key's history */
	if (kv->mod_revision < reg->own_mod_revision) {
		own_key_next(reg);
		return;
	}
	/* not a put over our key: it went, and someone made it anew, as a node does with a
	 * subnet it found free */
	logf_(reg, TARTAN_FLANNEL_LOG_WARNING, reg->key,
	      "subnet %s is now held by another node; acquiring a new subnet",
	      tartan_ip4_net_format(&reg->subnet, buf));
	acquire_start(reg);
}

static void own_key_event(struct tartan_flannel_registry *reg, const struct tartan_etcd_event *ev)
{
	/* our own puts come back as events (renewals, write-backs): nothing to do; nor for
	 * a deletion older than our last write (a read found it first, and we wrote since) */
	if (ev->type == TARTAN_ETCD_EVENT_PUT ?
		    is_our_value(reg, &ev->kv) :
		    ev->kv.mod_revision && ev->kv.mod_revision < reg->own_mod_revision)
		return;
	if (!reg->req && !ev_is_active(&reg->retry_timer)) {
		own_key_observe(reg, ev->type == TARTAN_ETCD_EVENT_DELETE ? NULL : &ev->kv);
		return;
	}
	/* a chain of ours is at work on the key: a put over it is counted now and undone
	 * after the chain (own_key_next()); anything else has the key read then */
	if (ev->type == TARTAN_ETCD_EVENT_PUT && ev->kv.create_revision == reg->key_create_revision)
		rival_seen(reg, &ev->kv);
	else
		reg->own_recheck = true;
}

/* A fresh list, newer than our last write: our key in it (NULL: absent) is the truth the
 * watch may have missed while it was down */
static void own_key_listed(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv)
{
	if (kv && is_our_value(reg, kv))
		return;
	if (reg->req || ev_is_active(&reg->retry_timer)) {
		reg->own_recheck = true;
		return;
	}
	own_key_observe(reg, kv);
}

/* --- config ------------------------------------------------------------------------------ */

static void config_list(struct tartan_flannel_registry *reg);

static void config_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	config_list(w->data);
}

static void config_retry(struct tartan_flannel_registry *reg, double after_s)
{
	tartan_etcd_watch_free(reg->config_watch);
	reg->config_watch = NULL;
	ev_timer_stop(reg->loop, &reg->config_timer);
	ev_timer_set(&reg->config_timer, after_s, 0.);
	ev_timer_start(reg->loop, &reg->config_timer);
}

static void config_value(struct tartan_flannel_registry *reg, const struct tartan_etcd_kv *kv)
{
	struct tartan_flannel_config *config = NULL;
	char *reason = NULL;

	if (tartan_flannel_config_parse(kv->value.data, kv->value.len, &config, &reason) < 0) {
		logf_(reg, TARTAN_FLANNEL_LOG_ERROR, "config-invalid",
		      "network config %s is invalid: %s; waiting for a valid one", reg->config_key,
		      reason ? reason : "out of memory");
		free(reason);
		return;
	}
	if (reg->config) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "config-changed",
		      "network config %s changed; restart tartand to apply it (as flanneld)",
		      reg->config_key);
		tartan_flannel_config_free(config);
		return;
	}
	reg->config = config;
	if (reg->ops->config_ready && !reg->ops->config_ready(reg, config, reg->userdata)) {
		reg->config = NULL;
		tartan_flannel_config_free(config);
		return;
	}
	if (reg->want_lease && reg->state == STATE_WAIT_CONFIG)
		acquire_start(reg);
}

static void config_watch_cb(struct tartan_etcd_watch *w, const struct tartan_etcd_watch_update *u,
			    void *userdata)
{
	struct tartan_flannel_registry *reg = userdata;
	size_t i;

	switch (u->status) {
	case TARTAN_ETCD_WATCH_EVENTS:
		for (i = 0; i < u->n_events; i++)
			if (u->events[i].type == TARTAN_ETCD_EVENT_PUT)
				config_value(reg, &u->events[i].kv);
			else if (!reg->config)
				logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "config-missing",
				      "network config %s was deleted; waiting for it",
				      reg->config_key);
		break;
	case TARTAN_ETCD_WATCH_PROGRESS:
		break;
	case TARTAN_ETCD_WATCH_COMPACTED:
		config_retry(reg, 0.);
		break;
	case TARTAN_ETCD_WATCH_FAILED:
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "config-watch", "config watch: %s; retrying",
		      u->errmsg);
		config_retry(reg, 1.);
		break;
	}
}

static void config_listed(int error, const char *errmsg, struct tartan_etcd_result *res, void *ud)
{
	struct tartan_flannel_registry *reg = ud;
	struct tartan_etcd_watch_req wreq;
	int err;

	reg->config_req = NULL;
	if (error) {
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "config-read",
		      "reading network config %s: %s; retrying", reg->config_key, errmsg);
		config_retry(reg, 1.);
		return;
	}
	if (res->n_kvs)
		config_value(reg, &res->kvs[0]);
	else
		logf_(reg, TARTAN_FLANNEL_LOG_WARNING, "config-missing",
		      "network config %s not found in etcd (v3 API); waiting for it",
		      reg->config_key);
	wreq = (struct tartan_etcd_watch_req){
		.keys = { .key = reg->config_key, .key_len = strlen(reg->config_key) },
		.start_revision = res->header.revision + 1,
	};
	err = tartan_etcd_watch_new(reg->etcd, &wreq, config_watch_cb, reg, NULL,
				    &reg->config_watch);
	if (err < 0)
		config_retry(reg, 1.);
}

static void config_list(struct tartan_flannel_registry *reg)
{
	struct tartan_etcd_range_req req = {
		.keys = { .key = reg->config_key, .key_len = strlen(reg->config_key) },
	};

	tartan_etcd_request_cancel(reg->config_req);
	reg->config_req = NULL;
	if (tartan_etcd_range(reg->etcd, &req, config_listed, reg, NULL, &reg->config_req) < 0)
		config_retry(reg, 1.);
}

/* --- public ------------------------------------------------------------------------------ */

int tartan_flannel_registry_new(struct ev_loop *loop, struct tartan_etcd_client *etcd,
				const struct tartan_flannel_registry_options *opts,
				const struct tartan_flannel_registry_ops *ops, void *userdata,
				struct tartan_flannel_registry **ret)
{
	struct tartan_flannel_registry *reg;
	int err;

	if (!loop || !etcd || !opts || !ops || !opts->prefix || !ret)
		return -EINVAL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->loop = loop;
	reg->etcd = etcd;
	reg->ops = ops;
	reg->userdata = userdata;
	reg->public_ip = opts->public_ip;
	reg->attrs.public_ip = opts->public_ip;
	reg->previous_subnet = opts->previous_subnet;
	reg->ttl_s = opts->lease_ttl_s ? opts->lease_ttl_s : 86400;
	reg->margin_s = opts->renew_margin_s ? opts->renew_margin_s : 3600;
	if (reg->margin_s >= reg->ttl_s)
		reg->margin_s = reg->ttl_s / 2; /* short test TTLs still renew in time */
	reg->backoff_s = BACKOFF_FIRST_S;
	ev_init(&reg->retry_timer, retry_timer_cb);
	reg->retry_timer.data = reg;
	ev_init(&reg->renew_timer, renew_timer_cb);
	reg->renew_timer.data = reg;
	ev_init(&reg->peers_timer, peers_timer_cb);
	reg->peers_timer.data = reg;
	ev_init(&reg->config_timer, config_timer_cb);
	reg->config_timer.data = reg;
	ev_init(&reg->rival_timer, rival_timer_cb);
	reg->rival_timer.data = reg;
	ev_init(&reg->rival_clear_timer, rival_clear_cb);
	reg->rival_clear_timer.data = reg;
	tartan_flannel_rival_init(&reg->rival, opts->rival_clear_s);
	reg->prefix = strdup(opts->prefix);
	err = reg->prefix ? 0 : -ENOMEM;
	if (err >= 0)
		err = tartan_flannel_config_key(opts->prefix, &reg->config_key);
	if (err >= 0)
		err = tartan_flannel_lease_dir(opts->prefix, &reg->lease_dir);
	if (err < 0) {
		tartan_flannel_registry_free(reg);
		return err;
	}
	config_list(reg);
	*ret = reg;
	return 0;
}

void tartan_flannel_registry_free(struct tartan_flannel_registry *reg)
{
	if (!reg)
		return;
	ev_timer_stop(reg->loop, &reg->retry_timer);
	ev_timer_stop(reg->loop, &reg->renew_timer);
	ev_timer_stop(reg->loop, &reg->peers_timer);
	ev_timer_stop(reg->loop, &reg->config_timer);
	ev_timer_stop(reg->loop, &reg->rival_timer);
	ev_timer_stop(reg->loop, &reg->rival_clear_timer);
	tartan_etcd_request_cancel(reg->req);
	tartan_etcd_request_cancel(reg->config_req);
	tartan_etcd_request_cancel(reg->peers_req);
	tartan_etcd_watch_free(reg->config_watch);
	tartan_etcd_watch_free(reg->peers_watch);
	tartan_flannel_config_free(reg->config);
	free(reg->prefix);
	free(reg->config_key);
	free(reg->lease_dir);
	free(reg->value);
	free(reg->key);
	free(reg->candidate_key);
	free(reg->peers);
	tartan_etcd_result_free(reg->listing);
	free(reg);
}

int tartan_flannel_registry_acquire(struct tartan_flannel_registry *reg,
				    const struct tartan_flannel_lease_attrs *attrs)
{
	struct tartan_flannel_lease_attrs a = *attrs;
	char *value = NULL;
	int err;

	a.public_ip = reg->public_ip;
	err = tartan_flannel_lease_value_format(&a, &value);
	if (err < 0)
		return err;
	free(reg->value);
	reg->value = value;
	reg->attrs = a;
	reg->want_lease = true;
	if (reg->config && reg->state == STATE_WAIT_CONFIG)
		acquire_start(reg);
	return 0;
}

const struct tartan_flannel_config *
tartan_flannel_registry_config(const struct tartan_flannel_registry *reg)
{
	return reg->config;
}

bool tartan_flannel_registry_lease(const struct tartan_flannel_registry *reg,
				   struct tartan_ip4_net *ret_subnet, int64_t *ret_expiry_unix)
{
	if (!reg->have_lease)
		return false;
	if (ret_subnet)
		*ret_subnet = reg->subnet;
	if (ret_expiry_unix)
		*ret_expiry_unix = reg->etcd_lease ? reg->expiry_unix : 0;
	return true;
}

size_t tartan_flannel_registry_n_peers(const struct tartan_flannel_registry *reg)
{
	return reg->n_peers;
}

const struct tartan_flannel_peer *
tartan_flannel_registry_peer(const struct tartan_flannel_registry *reg, size_t i)
{
	return i < reg->n_peers ? &reg->peers[i] : NULL;
}

const char *tartan_flannel_registry_state(const struct tartan_flannel_registry *reg)
{
	switch (reg->state) {
	case STATE_WAIT_CONFIG:
		return "waiting-for-config";
	case STATE_ACQUIRING:
		return "acquiring";
	default:
		return "running";
	}
}

bool tartan_flannel_registry_connected(const struct tartan_flannel_registry *reg)
{
	/* a list by choice counts as connected until it or the watch after it fails (the
	 * watch's first answer may wait behind a list of thousands of keys to go through) */
	return tartan_etcd_watch_is_connected(reg->config_watch) &&
	       (!reg->have_lease || tartan_etcd_watch_is_connected(reg->peers_watch) ||
		(reg->relist_by_choice && !tartan_etcd_watch_last_error(reg->peers_watch)));
}

const struct tartan_flannel_rival *
tartan_flannel_registry_rival(const struct tartan_flannel_registry *reg)
{
	return reg->rival.active ? &reg->rival : NULL;
}

uint64_t tartan_flannel_registry_overwrites_total(const struct tartan_flannel_registry *reg)
{
	return reg->rival.total;
}
