/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dataplane.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/pods.h"
#include "etcd/client.h"
#include "flannel/registry.h"

/* scrapers and probes are few: anything beyond this is refused by MHD */
#define HTTP_CONNECTIONS_MAX 32
/* seconds a connection may sit idle (slow clients cannot pin a slot) */
#define HTTP_IDLE_TIMEOUT 10

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct tartan_http {
	struct ev_loop *loop;
	struct MHD_Daemon *mhd;
	struct tartan_http_sources src;
	ev_io io;	/* MHD's epoll fd */
	ev_timer timer; /* MHD_get_timeout() */
};

/* ---- /metrics ---- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void cni_metrics(FILE *f, const struct tartan_pods_stats *st)
{
	static const char *const results[2] = { "success", "error" };
	const char *name = "tartan_cni_request_duration_seconds";

	family(f, "tartan_cni_requests_total", "counter",
	       "CNI requests answered, by command and result (error: a CNI error answer).");
	for (size_t c = 0; c < TARTAN_PODS_N_CMDS; c++)
		for (size_t r = 0; r < 2; r++)
			fprintf(f,
				"tartan_cni_requests_total{command=\"%s\",result=\"%s\"} %" PRIu64
				"\n",
				tartan_pods_command_names[c], results[r], st->requests[c][r]);

	family(f, name, "histogram", "Time tartand took to answer a CNI request, by command.");
	for (size_t c = 0; c < TARTAN_PODS_N_CMDS; c++) {
		const char *cmd = tartan_pods_command_names[c];
		uint64_t cum = 0;

		for (size_t b = 0; b < TARTAN_PODS_N_BUCKETS; b++) {
			cum += st->latency_buckets[c][b];
			fprintf(f, "%s_bucket{command=\"%s\",le=\"%g\"} %" PRIu64 "\n", name, cmd,
				tartan_pods_latency_bounds[b], cum);
		}
		cum += st->latency_buckets[c][TARTAN_PODS_N_BUCKETS];
		fprintf(f, "%s_bucket{command=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name, cmd, cum);
		fprintf(f, "%s_sum{command=\"%s\"} %.9f\n", name, cmd, st->latency_sum[c]);
		fprintf(f, "%s_count{command=\"%s\"} %" PRIu64 "\n", name, cmd,
			st->latency_count[c]);
	}
}

/* every kind (and cause) always, so rates work from the first scrape */
static void etcd_metrics(FILE *f, const struct tartan_etcd_stats *es)
{
	family(f, "tartan_etcd_requests_total", "counter",
	       "HTTP requests sent to etcd (attempts; watch: streams opened), by kind.");
	for (int k = 0; k < TARTAN_ETCD_REQ_MAX; k++)
		fprintf(f, "tartan_etcd_requests_total{kind=\"%s\"} %" PRIu64 "\n",
			tartan_etcd_req_kind_name(k), es->requests_by_kind[k]);

	family(f, "tartan_etcd_errors_total", "counter",
	       "Requests to etcd that failed, by kind and cause (transport: no answer; "
	       "timeout; refused: etcd or a proxy said no; malformed: unreadable answer).");
	for (int k = 0; k < TARTAN_ETCD_REQ_MAX; k++)
		for (int c = 0; c < TARTAN_ETCD_CAUSE_MAX; c++)
			fprintf(f,
				"tartan_etcd_errors_total{kind=\"%s\",cause=\"%s\"} %" PRIu64 "\n",
				tartan_etcd_req_kind_name(k), tartan_etcd_cause_name(c),
				es->errors_by_kind[k][c]);
}

int tartan_http_metrics(const struct tartan_http_sources *src, char **ret, size_t *ret_len)
{
	struct tartan_dataplane_stats dp;
	struct tartan_etcd_stats es;
	struct tartan_ip4_net subnet;
	size_t len = 0, in_use, free_addrs;
	int64_t expiry = 0;
	char *buf = NULL;
	bool leased;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;

	family(f, "tartan_build_info", "gauge", "tartand's version, as a label; always 1.");
	fprintf(f, "tartan_build_info{version=\"%s\"} 1\n", TARTAN_VERSION);
	sample_u64(f, "tartan_ready", "gauge",
		   "1 once the lease is held and subnet.env and the CNI confs are written.",
		   src->not_ready(src->userdata) == NULL);

	/* kubenet mode: no registry and no etcd, no lease and no etcd metrics */
	leased = src->registry && tartan_flannel_registry_lease(src->registry, &subnet, &expiry);
	sample_u64(f, "tartan_lease_held", "gauge", "1 while this node holds a subnet lease.",
		   leased);
	/* a lease without an etcd TTL (none known yet) has no expiry to report */
	if (leased && expiry > 0) {
		family(f, "tartan_lease_expiry_timestamp_seconds", "gauge",
		       "When this node's subnet lease expires unless renewed (Unix time).");
		fprintf(f, "tartan_lease_expiry_timestamp_seconds %" PRId64 "\n", expiry);
	}
	sample_u64(f, "tartan_peers", "gauge", "Other nodes' subnet leases known.",
		   src->registry ? tartan_flannel_registry_n_peers(src->registry) : 0);
	sample_u64(f, "tartan_etcd_connected", "gauge", "1 while both etcd watches are connected.",
		   src->registry && tartan_flannel_registry_connected(src->registry));
	sample_u64(f, "tartan_lease_overwrites_total", "counter",
		   "Puts of another writer over this node's lease key, each undone.",
		   src->registry ? tartan_flannel_registry_overwrites_total(src->registry) : 0);

	tartan_dataplane_stats(src->dataplane, &dp);
	sample_u64(f, "tartan_routes", "gauge",
		   "Routes to peers' subnets tartand holds in the kernel.", dp.routes);
	sample_u64(f, "tartan_neighbours", "gauge",
		   "Neighbour entries tartand holds in the kernel (vxlan).", dp.neighbours);
	sample_u64(f, "tartan_fdb_entries", "gauge",
		   "Forwarding database entries tartand holds in the kernel (vxlan).", dp.fdb);
	sample_u64(f, "tartan_dataplane_syncs_total", "counter",
		   "Reconciliations of the data plane with the kernel.", dp.syncs);
	sample_u64(f, "tartan_dataplane_repairs_total", "counter",
		   "Kernel entries put back after something else removed or changed them (drift).",
		   dp.repairs);
	sample_u64(f, "tartan_netlink_monitor_overflows_total", "counter",
		   "Netlink monitor overflows, each followed by a full sync.", dp.overflows);

	if (src->etcd) {
		tartan_etcd_client_stats(src->etcd, &es);
		etcd_metrics(f, &es);
		sample_u64(f, "tartan_etcd_failovers_total", "counter",
			   "Moves to another etcd endpoint.", es.failovers);
		sample_u64(f, "tartan_etcd_watch_reconnects_total", "counter",
			   "Times an etcd watch stream was opened again after it ended.",
			   es.watch_reconnects);
	}

	cni_metrics(f, tartan_pods_stats(src->pods));
	if (tartan_pods_addresses(src->pods, &in_use, &free_addrs)) {
		sample_u64(f, "tartan_ipam_addresses_in_use", "gauge",
			   "Pod addresses of this node's subnet held by an attachment.", in_use);
		sample_u64(f, "tartan_ipam_addresses_free", "gauge",
			   "Pod addresses of this node's subnet that can be handed out.",
			   free_addrs);
	}

	if (ferror(f)) {
		fclose(f);
		free(buf);
		return -ENOMEM;
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* ---- requests ---- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
			       char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *fmt,
				    ...) __attribute__((format(printf, 3, 4)));

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *fmt,
				    ...)
{
	char *body;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return respond(conn, status, "text/plain; charset=utf-8", body, (size_t)n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct tartan_http *h = cls;
	const char *reason;
	char *body;
	size_t len;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/healthz") == 0)
		return respond_text(conn, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0) {
		reason = h->src.not_ready(h->src.userdata);
		if (reason)
			return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: %s\n",
					    reason);
		return respond_text(conn, MHD_HTTP_OK, "ready\n");
	}
	if (strcmp(url, "/metrics") == 0) {
		if (tartan_http_metrics(&h->src, &body, &len) < 0)
			return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					    "out of memory\n");
		return respond(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len);
	}
	return respond_text(conn, MHD_HTTP_NOT_FOUND,
			    "not found; try /healthz, /readyz or /metrics\n");
}

/* MHD passes printf formats of its own */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	tartan_log_debug("http: %s", msg);
}

/* ---- the loop ---- */

/* After every MHD_run(): MHD says when it wants to run next without I/O (a connection's
 * timeout, data it already holds); libev's timers are in seconds (curl's bug: not ms) */
static void rearm(struct tartan_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	ev_timer_stop(h->loop, &h->timer);
	if (MHD_get_timeout(h->mhd, &ms) != MHD_YES)
		return;
	ev_timer_set(&h->timer, (double)ms / 1000.0, 0.);
	ev_timer_start(h->loop, &h->timer);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tartan_http *h = w->data;

	MHD_run(h->mhd);
	rearm(h);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tartan_http *h = w->data;

	MHD_run(h->mhd);
	rearm(h);
}

int tartan_http_new(struct ev_loop *loop, struct in_addr ip, uint16_t port,
		    const struct tartan_http_sources *sources, struct tartan_http **ret)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = ip, .sin_port = htons(port) };
	const union MHD_DaemonInfo *info;
	struct tartan_http *h;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = loop;
	h->src = *sources;
	errno = 0;
	/* no thread of MHD's own: MHD_USE_EPOLL without MHD_USE_INTERNAL_POLLING_THREAD is
	 * external polling through one epoll fd */
	h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, port, NULL, NULL, on_request,
				  h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_END);
	if (!h->mhd) {
		err = errno ? -errno : -EADDRNOTAVAIL;
		free(h);
		return err;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		MHD_stop_daemon(h->mhd);
		free(h);
		return -EIO;
	}
	ev_io_init(&h->io, io_cb, info->epoll_fd, EV_READ);
	h->io.data = h;
	ev_io_start(loop, &h->io);
	ev_init(&h->timer, timer_cb);
	h->timer.data = h;
	rearm(h);
	*ret = h;
	return 0;
}

void tartan_http_free(struct tartan_http *h)
{
	if (!h)
		return;
	ev_io_stop(h->loop, &h->io);
	ev_timer_stop(h->loop, &h->timer);
	MHD_stop_daemon(h->mhd);
	free(h);
}
