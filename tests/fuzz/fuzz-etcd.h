/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks shared by the etcd codec fuzz targets: beyond "no crash, no leak",
 * every decoded struct must keep the promises of etcd/codec.h (bytes and
 * strings never NULL, bytes NUL-terminated). A broken promise aborts, which
 * both libFuzzer and the standalone driver report as a crash.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "etcd/codec.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static inline void fuzz_check_bytes(const struct tartan_etcd_bytes *b)
{
	FUZZ_CHECK(b->data != NULL);
	FUZZ_CHECK(b->data[b->len] == '\0');
}

static inline void fuzz_check_kv(const struct tartan_etcd_kv *kv)
{
	fuzz_check_bytes(&kv->key);
	fuzz_check_bytes(&kv->value);
}

static inline void fuzz_check_result(const struct tartan_etcd_result *r, int depth)
{
	FUZZ_CHECK(r->token != NULL);
	FUZZ_CHECK((r->n_kvs == 0) == (r->kvs == NULL));
	FUZZ_CHECK((r->n_responses == 0) == (r->responses == NULL));
	FUZZ_CHECK(!r->has_ttl || r->ttl > 0);
	for (size_t i = 0; i < r->n_kvs; i++)
		fuzz_check_kv(&r->kvs[i]);
	/* txn sub-responses are never txns themselves */
	FUZZ_CHECK(depth == 0 || r->n_responses == 0);
	for (size_t i = 0; i < r->n_responses; i++) {
		FUZZ_CHECK(r->responses[i].op <= TARTAN_ETCD_OP_DELETE);
		fuzz_check_result(&r->responses[i], depth + 1);
	}
}

static inline void fuzz_check_watch_msg(const struct tartan_etcd_watch_msg *m)
{
	FUZZ_CHECK(m->cancel_reason != NULL);
	FUZZ_CHECK(m->error_message != NULL);
	FUZZ_CHECK((m->n_events == 0) == (m->events == NULL));
	for (size_t i = 0; i < m->n_events; i++) {
		FUZZ_CHECK(m->events[i].type == TARTAN_ETCD_EVENT_PUT ||
			   m->events[i].type == TARTAN_ETCD_EVENT_DELETE);
		fuzz_check_kv(&m->events[i].kv);
		fuzz_check_kv(&m->events[i].prev_kv);
	}
}
