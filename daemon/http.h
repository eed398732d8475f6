/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartand's HTTP endpoints, on --healthz-ip:--healthz-port (flanneld's flags;
 * port 0, the default, means none), served by libmicrohttpd on the daemon's
 * libev loop: MHD runs without threads of its own (MHD_USE_EPOLL, external
 * polling); an ev_io watches MHD's epoll fd and an ev_timer follows
 * MHD_get_timeout(), and MHD_run() is called from both.
 *
 *   GET /healthz  200 "ok" while the loop runs (flanneld's /healthz)
 *   GET /readyz   200 "ready" once the lease is held and subnet.env and the
 *                 CNI confs are written; else 503 and a one-line reason
 *   GET /metrics  Prometheus text exposition format 0.0.4
 *
 * Anything else is 404; methods other than GET and HEAD get 405.
 */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

struct ev_loop;
struct tartan_http;
struct tartan_flannel_registry;
struct tartan_dataplane;
struct tartan_etcd_client;
struct tartan_pods;

/* Where the answers come from; every pointer lives as long as the server. */
struct tartan_http_sources {
	const struct tartan_flannel_registry *registry;
	const struct tartan_dataplane *dataplane;
	const struct tartan_etcd_client *etcd;
	struct tartan_pods *pods;
	/* NULL when ready, else why not (one line, no newline) */
	const char *(*not_ready)(void *userdata);
	void *userdata;
};

/* Listens on ip:port (network byte order ip, host byte order port). -errno: the
 * address cannot be bound (-EADDRINUSE, ...) or MHD cannot start. */
_tartan_wur_ int tartan_http_new(struct ev_loop *loop, struct in_addr ip, uint16_t port,
				 const struct tartan_http_sources *sources,
				 struct tartan_http **ret);
/* Closes the listener and every connection. NULL is fine. */
void tartan_http_free(struct tartan_http *h);

/* The /metrics text, malloc'd, in *ret and its length in *ret_len; -ENOMEM only. */
_tartan_wur_ int tartan_http_metrics(const struct tartan_http_sources *sources, char **ret,
				     size_t *ret_len);
