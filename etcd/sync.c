/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/sync.h"

struct tartan_etcd_sync {
	struct ev_loop *loop;
	struct tartan_etcd_client *client;
	char *error;
};

struct sync_call {
	bool done;
	int error;
	struct tartan_etcd_result *res;
	char *errmsg;
};

int tartan_etcd_sync_new(const struct tartan_etcd_options *opts, struct tartan_etcd_sync **ret)
{
	struct tartan_etcd_sync *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = ev_loop_new(EVFLAG_AUTO);
	if (!s->loop) {
		free(s);
		return -ENOMEM;
	}
	err = tartan_etcd_client_new(s->loop, opts, &s->client);
	if (err < 0) {
		tartan_etcd_sync_free(s);
		return err;
	}
	*ret = s;
	return 0;
}

void tartan_etcd_sync_free(struct tartan_etcd_sync *s)
{
	if (!s)
		return;
	tartan_etcd_client_free(s->client);
	if (s->loop)
		ev_loop_destroy(s->loop);
	free(s->error);
	free(s);
}

struct tartan_etcd_client *tartan_etcd_sync_client(struct tartan_etcd_sync *s)
{
	return s->client;
}

struct ev_loop *tartan_etcd_sync_loop(struct tartan_etcd_sync *s)
{
	return s->loop;
}

const char *tartan_etcd_sync_error(const struct tartan_etcd_sync *s)
{
	return s->error ? s->error : "no error";
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	*(bool *)w->data = true;
}

int tartan_etcd_sync_run(struct tartan_etcd_sync *s, const bool *done, unsigned timeout_ms)
{
	bool expired = false;
	ev_timer deadline;

	ev_timer_init(&deadline, deadline_cb, timeout_ms / 1000.0, 0.);
	deadline.data = &expired;
	/* the loop's cached time may be old: the caller worked since it last ran */
	ev_now_update(s->loop);
	if (timeout_ms)
		ev_timer_start(s->loop, &deadline);
	while (!*done && !expired)
		ev_run(s->loop, EVRUN_ONCE);
	ev_timer_stop(s->loop, &deadline);
	return *done ? 0 : -ETIMEDOUT;
}

static void sync_cb(int error, const char *errmsg, struct tartan_etcd_result *res, void *userdata)
{
	struct sync_call *call = userdata;

	call->done = true;
	call->error = error;
	if (error) {
		call->errmsg = strdup(errmsg ? errmsg : "unknown error");
		return;
	}
	/* move the fields out: the client frees the emptied struct after we return */
	call->res = malloc(sizeof(*call->res));
	if (!call->res) {
		call->error = -ENOMEM;
		return;
	}
	*call->res = *res;
	memset(res, 0, sizeof(*res));
}

/* Waits for the call started with err == 0 and hands its result over. */
static int sync_finish(struct tartan_etcd_sync *s, int err, struct sync_call *call,
		       struct tartan_etcd_result **ret)
{
	free(s->error);
	s->error = NULL;
	if (err < 0) {
		s->error = strdup(strerror(-err));
		return err;
	}
	/* every request has its own timeouts: the loop always gets an answer */
	while (!call->done)
		ev_run(s->loop, EVRUN_ONCE);
	if (call->error) {
		s->error = call->errmsg;
		tartan_etcd_result_free(call->res);
		return call->error;
	}
	*ret = call->res;
	return 0;
}

#define SYNC_CALL(s, ret, start)                                                                   \
	({                                                                                         \
		struct sync_call _call = { 0 };                                                    \
		int _err = (start);                                                                \
		sync_finish((s), _err, &_call, (ret));                                             \
	})

int tartan_etcd_sync_range(struct tartan_etcd_sync *s, const struct tartan_etcd_range_req *req,
			   struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret, tartan_etcd_range(s->client, req, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_put(struct tartan_etcd_sync *s, const struct tartan_etcd_put_req *req,
			 struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret, tartan_etcd_put(s->client, req, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_delete(struct tartan_etcd_sync *s, const struct tartan_etcd_delete_req *req,
			    struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret, tartan_etcd_delete(s->client, req, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_txn(struct tartan_etcd_sync *s, const struct tartan_etcd_txn_req *req,
			 struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret, tartan_etcd_txn(s->client, req, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_lease_grant(struct tartan_etcd_sync *s, int64_t ttl, int64_t id,
				 struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret,
			 tartan_etcd_lease_grant(s->client, ttl, id, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_lease_revoke(struct tartan_etcd_sync *s, int64_t id,
				  struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret,
			 tartan_etcd_lease_revoke(s->client, id, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_lease_keepalive(struct tartan_etcd_sync *s, int64_t id,
				     struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret,
			 tartan_etcd_lease_keepalive(s->client, id, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_lease_timetolive(struct tartan_etcd_sync *s, int64_t id,
				      struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret,
			 tartan_etcd_lease_timetolive(s->client, id, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_compact(struct tartan_etcd_sync *s, int64_t revision,
			     struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret,
			 tartan_etcd_compact(s->client, revision, sync_cb, &_call, NULL, NULL));
}

int tartan_etcd_sync_status(struct tartan_etcd_sync *s, struct tartan_etcd_result **ret)
{
	return SYNC_CALL(s, ret, tartan_etcd_status(s->client, sync_cb, &_call, NULL, NULL));
}
