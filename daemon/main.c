/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartand: one libev loop; subsystems started in the order of one static
 * table and stopped in reverse, also when start-up fails half way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/control.h"
#include "daemon/dataplane.h"
#include "daemon/files.h"
#include "daemon/http.h"
#include "daemon/kubenet.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/options.h"
#include "daemon/pods.h"
#include "etcd/client.h"
#include "flannel/backend.h"
#include "flannel/registry.h"
#include "flannel/subnet-env.h"
#include "netcfg/cniconf.h"
#include "netcfg/file.h"
#include "netcfg/forward.h"
#include "netcfg/iface.h"
#include "netcfg/masq.h"
#include "netcfg/nl.h"

#define SUBNET_FILE_MAX 4096
/* kubenet mode's conf, after the tartan list: containerd takes the first of the dir */
#define KUBENET_CONF_FILE "20-kubenet.conf"
#define KUBENET_NETWORK "kubenet"
#define FILE_NAME(f) tartan_options_file_name(TARTAN_OPTIONS_FILE_##f)

struct daemon {
	struct ev_loop *loop;
	struct tartan_options *opts;
	bool kubenet; /* --pod-cidr: no etcd, no peers; pod_cidr is the node's subnet */
	struct tartan_ip4_net pod_cidr;
	struct tartan_masq *masq;
	struct tartan_masq_rules masq_rules; /* what the node should hold now */
	bool masq_failed;		     /* the last ensure failed: say when it works again */
	ev_timer masq_check;
	struct tartan_iface iface; /* .addr: the interface's own address */
	uint32_t public_ip;	   /* --public-ip, else iface.addr */
	struct tartan_etcd_client *etcd;
	struct tartan_flannel_registry *registry;
	struct tartan_control *control;
	struct tartan_dataplane *dataplane;
	struct tartan_pods *pods;
	ev_check pods_sync;    /* after each turn of the loop: the IPAM store's fsyncs */
	ev_timer pods_pending; /* every resync: the DELs the plugin recorded */
	struct tartan_http *http;
	struct tartan_files *files; /* subnet.env and the CNI confs, kept as written */
	bool confs_written;
	bool notified_ready; /* READY=1 sent to systemd */
	struct tartan_flannel_backend backend;
	bool backend_ok;
	unsigned mtu;
	bool subnet_file_written;
	struct tartan_ratelimit log_rl[8];
	const char *log_rl_key[8];
	ev_signal sigterm, sigint, sighup;
	ev_timer etcd_check;
	bool etcd_seen, etcd_up;
	/* etcd health (etcd_health_update()): the quorum read in flight, when one was last
	 * started and last answered, since when the watches are down (0: up) */
	struct tartan_etcd_request *probe;
	ev_tstamp probe_started, quorum_ok_at, watch_down_since;
	char probe_error[200];
	bool etcd_degraded; /* the etcd part of degraded, for its log lines */
	bool degraded;
	char degraded_reason[320];
	int exit_code;
};

/* --- logging for the registry, rate-limited per kind of message ----------------- */

static struct tartan_ratelimit *ratelimit_for(struct daemon *d, const char *key)
{
	size_t i;

	for (i = 0; i < 8 && d->log_rl_key[i]; i++)
		if (strcmp(d->log_rl_key[i], key) == 0)
			return &d->log_rl[i];
	if (i == 8)
		return NULL;
	/* keys of the repeating kinds are string literals: keep the pointer */
	d->log_rl_key[i] = key;
	d->log_rl[i] = TARTAN_RATELIMIT_INIT(60ull * 1000000, 1);
	return &d->log_rl[i];
}

static void registry_log(enum tartan_flannel_log_level level, const char *key, const char *message,
			 void *userdata)
{
	static const enum tartan_log_level map[] = {
		[TARTAN_FLANNEL_LOG_ERROR] = TARTAN_LOG_ERROR,
		[TARTAN_FLANNEL_LOG_WARNING] = TARTAN_LOG_WARNING,
		[TARTAN_FLANNEL_LOG_INFO] = TARTAN_LOG_INFO,
		[TARTAN_FLANNEL_LOG_DEBUG] = TARTAN_LOG_DEBUG,
	};
	struct daemon *d = userdata;
	struct tartan_ratelimit *rl = NULL;

	/* waiting and retrying repeat while etcd or the config is missing: say so once a
	 * minute; one-off events (a bad peer key names itself) always pass */
	if (strncmp(key, "config-", 7) == 0 || strncmp(key, "lease-", 6) == 0 ||
	    strncmp(key, "peers-", 6) == 0)
		rl = ratelimit_for(d, key);
	if (rl)
		tartan_log_ratelimited(rl, (uint64_t)(ev_now(d->loop) * 1e6), map[level], "%s",
				       message);
	else
		tartan_log(map[level], "%s", message);
}

/* --- forwarding and masquerade --------------------------------------------------------- */

/* Pods reach other nodes only through a node that forwards: on, or a clear refusal. */
static int forwarding_enable(struct daemon *d)
{
	bool changed = false;
	int err = tartan_ip_forward_enable(&changed);

	if (err < 0)
		return tartan_log_errno(
			TARTAN_LOG_ERROR, -err,
			"net.ipv4.ip_forward is off and cannot be turned on (%s: %m): pods could "
			"not reach other nodes; turn it on (sysctl -w net.ipv4.ip_forward=1) or run "
			"tartand with CAP_NET_ADMIN and a writable /proc/sys; stopping",
			TARTAN_IP_FORWARD_PATH);
	if (changed)
		tartan_log_info("turned on IPv4 forwarding (net.ipv4.ip_forward was 0): pods are "
				"routed through this node");
	return 0;
}

static const char *masq_describe(const struct tartan_masq_rules *r, char *buf, size_t size)
{
	char a[TARTAN_IP4_NET_STRLEN];

	if (r->kind == TARTAN_MASQ_FLANNEL)
		snprintf(buf, size, "traffic from %s leaving it masqueraded",
			 tartan_ip4_net_format(&r->network, a));
	else if (r->kind == TARTAN_MASQ_KUBENET && r->non_masq.len)
		snprintf(buf, size, "traffic to anywhere but %s and local addresses masqueraded",
			 tartan_ip4_net_format(&r->non_masq, a));
	else
		snprintf(buf, size, "off");
	return buf;
}

/* The node holds the table masq_rules asks for (none: no table); checked again every
 * resync interval, so a table deleted or changed by hand comes back. */
static void masq_sync(struct daemon *d)
{
	char *error = NULL, what[160];
	bool changed = false;
	int err;

	if (!d->masq)
		return;
	err = tartan_masq_ensure(d->masq, &d->masq_rules, &changed, &error);
	if (err < 0) {
		if (!d->masq_failed)
			tartan_log_error("masquerade (nftables table " TARTAN_MASQ_FAMILY
					 " " TARTAN_MASQ_TABLE "): %s; retrying every %u s",
					 error ? error : strerror(-err), d->opts->resync_interval);
		d->masq_failed = true;
		free(error);
		return;
	}
	if (d->masq_failed)
		tartan_log_info("masquerade table applied again after the failure");
	d->masq_failed = false;
	if (changed)
		tartan_log_info("nftables table " TARTAN_MASQ_FAMILY " " TARTAN_MASQ_TABLE ": %s%s",
				masq_describe(&d->masq_rules, what, sizeof(what)),
				d->masq_rules.kind == TARTAN_MASQ_NONE ||
						(d->masq_rules.kind == TARTAN_MASQ_KUBENET &&
						 !d->masq_rules.non_masq.len) ?
					", table removed" :
					"");
}

static void masq_check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;

	/* with --ip-masq, nothing is known before the lease: what is there stays */
	if (d->kubenet || !d->opts->ip_masq || d->masq_rules.kind != TARTAN_MASQ_NONE)
		masq_sync(d);
}

/* --- registry events ------------------------------------------------------------------ */

static void write_subnet_file(struct daemon *d)
{
	const struct tartan_flannel_config *config =
		d->registry ? tartan_flannel_registry_config(d->registry) : NULL;
	struct tartan_ip4_net subnet;
	char buf[TARTAN_SUBNET_ENV_MAX];
	bool changed = false;
	size_t len;
	int err;

	/* kubenet mode has no flannel network: no subnet.env */
	if (!config || !tartan_flannel_registry_lease(d->registry, &subnet, NULL))
		return;
	err = tartan_subnet_env_format(&config->network, &subnet, d->mtu, d->opts->ip_masq, buf,
				       sizeof(buf), &len);
	if (err < 0) {
		tartan_log_errno(TARTAN_LOG_ERROR, -err, "writing %s: %m", d->opts->subnet_file);
		return;
	}
	/* files.c writes it, logs, keeps the file so and retries a failed write */
	if (tartan_files_set(d->files, FILE_NAME(SUBNET_ENV), buf, len, &changed) >= 0)
		d->subnet_file_written = true;
}

/* Ready (for /readyz and systemd) once the lease is held and the files the runtimes read
 * are written: NULL, else why not. */
static const char *daemon_not_ready(void *userdata)
{
	struct daemon *d = userdata;
	/* a file that cannot be written (a full disk): its write is retried, readiness waits */
	const char *files = tartan_files_error(d->files);

	if (d->kubenet)
		return d->confs_written ? files : "CNI confs not written yet";
	if (!d->registry || !tartan_flannel_registry_lease(d->registry, NULL, NULL))
		return "no subnet lease yet";
	if (!d->subnet_file_written)
		return "subnet file not written yet";
	if (!d->confs_written)
		return "CNI confs not written yet";
	if (files)
		return files;
	if (d->degraded)
		return d->degraded_reason;
	return NULL;
}

static void notify(const char *state)
{
	int err = tartan_notify(state);

	if (err < 0)
		tartan_log_errno(TARTAN_LOG_WARNING, -err,
				 "NOTIFY_SOCKET: sending %s: %m, ignoring", state);
}

/* systemd's Type=notify: READY=1 once, when readiness is first reached */
static void notify_if_ready(struct daemon *d)
{
	if (d->notified_ready || daemon_not_ready(d))
		return;
	d->notified_ready = true;
	notify("READY=1");
}

/* host-local's directory for the rkt conf, shared with the pods' IPAM store (pods.h) */
static int ipam_data_dir(const struct daemon *d, char **ret)
{
	return asprintf(ret, "%s/networks", d->opts->state_dir) < 0 ? -ENOMEM : 0;
}

/* the conf of file (enum tartan_options_file), rendered and handed to files.c, which writes
 * it atomically (the runtimes read it at any moment) and logs */
static int write_conf(struct daemon *d, enum tartan_options_file file,
		      enum tartan_cniconf_kind kind, const struct tartan_cniconf_input *in)
{
	const char *name = tartan_options_file_name(file);
	char *text = NULL;
	int err;

	err = tartan_cniconf_render(kind, in, &text);
	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "writing %s: %m",
					tartan_files_path(d->files, name));
	err = tartan_files_set(d->files, name, text, strlen(text), NULL);
	free(text);
	return err;
}

/* The node's pod subnet: the pod CIDR (kubenet mode) or the lease, if held. */
static bool node_subnet(const struct daemon *d, struct tartan_ip4_net *ret)
{
	if (d->kubenet) {
		*ret = d->pod_cidr;
		return true;
	}
	return d->registry && tartan_flannel_registry_lease(d->registry, ret, NULL);
}

/* The CNI confs follow the lease, the MTU, the bridge and --ip-masq; written only when
 * their content changes. */
static void write_cni_confs(struct daemon *d)
{
	struct tartan_cniconf_input in = {
		.bridge = d->opts->bridge,
		.mtu = d->mtu,
		/* kubenet mode: the node masquerades (kubenet's rule), not the bridge plugin */
		.ip_masq = d->opts->ip_masq || d->kubenet,
		.hairpin_mode = d->opts->hairpin_mode == TARTAN_HAIRPIN_VETH,
		.subnet_file = d->opts->subnet_file,
		.socket_path = d->opts->socket_path,
	};
	char *data_dir = NULL, *pending_del = NULL;
	int err;

	if (!node_subnet(d, &in.subnet) || ipam_data_dir(d, &data_dir) < 0)
		return;
	in.ipam_data_dir = data_dir;
	/* the plugin records there the DELs it cannot hand to tartand */
	if (asprintf(&pending_del, "%s/" TARTAN_PODS_PENDING_DIR, d->opts->state_dir) < 0) {
		tartan_log_error("writing the CNI confs: out of memory");
		free(data_dir);
		return;
	}
	in.pending_del_dir = pending_del;
	err = write_conf(d, TARTAN_OPTIONS_FILE_CONFLIST, TARTAN_CNICONF_TARTAN_LIST, &in);
	if (d->kubenet)
		err |= write_conf(d, TARTAN_OPTIONS_FILE_KUBENET_CONF, TARTAN_CNICONF_KUBENET, &in);
	if (d->opts->rkt_net_dir)
		err |= write_conf(d, TARTAN_OPTIONS_FILE_RKT_CONF,
				  d->opts->rkt_conf_flannel ? TARTAN_CNICONF_RKT_FLANNEL :
							      TARTAN_CNICONF_RKT_BRIDGE,
				  &in);
	d->confs_written = err >= 0;
	free(data_dir);
	free(pending_del);
	notify_if_ready(d);
}

static bool on_config_ready(struct tartan_flannel_registry *reg,
			    const struct tartan_flannel_config *config, void *userdata)
{
	struct daemon *d = userdata;
	struct tartan_flannel_lease_attrs attrs = { 0 };
	char net[TARTAN_IP4_NET_STRLEN];
	char *reason = NULL;
	int err;

	err = tartan_flannel_backend_parse(config, &d->backend, &reason);
	if (err >= 0) {
		d->mtu = d->opts->mtu ? d->opts->mtu :
					tartan_flannel_backend_mtu(&d->backend, d->iface.mtu);
		if (!d->mtu) {
			err = -EINVAL;
			if (asprintf(&reason, "%s: the MTU of %s (%u) leaves no room for packets",
				     d->backend.type, d->iface.name, d->iface.mtu) < 0)
				reason = NULL;
		}
	}
	/* the backend's devices exist before the lease that names them (vxlan's VtepMAC) */
	if (err >= 0)
		err = tartan_dataplane_prepare(d->dataplane, &d->backend, &d->iface, d->public_ip,
					       d->mtu, &attrs, &reason);
	if (err < 0) {
		tartan_log_error("network config: %s; waiting for a config tartand can use",
				 reason ? reason : strerror(-err));
		free(reason);
		return false;
	}
	/* alloc programs nothing and forwards nothing; every other backend routes pods */
	if (tartan_flannel_backend_programs(&d->backend) && forwarding_enable(d) < 0) {
		d->exit_code = 1;
		ev_break(d->loop, EVBREAK_ALL);
		return false;
	}
	d->backend_ok = true;
	tartan_log_info("network %s, backend %s, subnets /%u, MTU %u",
			tartan_ip4_net_format(&config->network, net), d->backend.type,
			config->subnet_len, d->mtu);
	attrs.public_ip = d->public_ip;
	snprintf(attrs.backend_type, sizeof(attrs.backend_type), "%s",
		 d->backend.lease_backend_type);
	err = tartan_flannel_registry_acquire(reg, &attrs);
	if (err < 0) {
		tartan_log_errno(TARTAN_LOG_ERROR, -err, "cannot request a lease: %m");
		return false;
	}
	return true;
}

static void on_lease_acquired(struct tartan_flannel_registry *reg,
			      const struct tartan_ip4_net *subnet, void *userdata)
{
	struct daemon *d = userdata;
	const struct tartan_flannel_config *config = tartan_flannel_registry_config(reg);

	if (d->opts->ip_masq) {
		/* a new subnet replaces the rules of the old one in the same transaction */
		d->masq_rules = (struct tartan_masq_rules){
			.kind = TARTAN_MASQ_FLANNEL,
			.network = config->network,
			.subnet = *subnet,
		};
		masq_sync(d);
	}
	write_subnet_file(d);
	tartan_dataplane_set_node(d->dataplane, &config->network, subnet);
	if (tartan_pods_set_node(d->pods, subnet, d->mtu) >= 0)
		write_cni_confs(d);
}

static void on_peer_added(struct tartan_flannel_registry *reg,
			  const struct tartan_flannel_peer *peer, void *userdata)
{
	char net[TARTAN_IP4_NET_STRLEN], ip[TARTAN_IP4_ADDR_STRLEN];
	struct daemon *d = userdata;
	const char *type = peer->attrs.backend_type[0] ? peer->attrs.backend_type : "alloc";

	tartan_log_debug("peer %s at %s (%s)", tartan_ip4_net_format(&peer->subnet, net),
			 tartan_ip4_addr_format(peer->attrs.public_ip, ip), type);
	if (d->backend_ok && strcmp(peer->attrs.backend_type, d->backend.lease_backend_type) != 0)
		tartan_log_info("peer %s uses backend %s, not ours (%s): ignored",
				tartan_ip4_net_format(&peer->subnet, net), type, d->backend.type);
	tartan_dataplane_changed(d->dataplane);
}

static void on_peer_removed(struct tartan_flannel_registry *reg,
			    const struct tartan_flannel_peer *peer, void *userdata)
{
	char net[TARTAN_IP4_NET_STRLEN];

	tartan_log_debug("peer %s left", tartan_ip4_net_format(&peer->subnet, net));
	tartan_dataplane_changed(((struct daemon *)userdata)->dataplane);
}

static const struct tartan_flannel_registry_ops registry_ops = {
	.config_ready = on_config_ready,
	.lease_acquired = on_lease_acquired,
	.peer_added = on_peer_added,
	.peer_removed = on_peer_removed,
	.log = registry_log,
};

/* --- control socket ------------------------------------------------------------------- */

static int json_set(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int json_set_net(json_t *o, const char *key, const struct tartan_ip4_net *net)
{
	char buf[TARTAN_IP4_NET_STRLEN];

	return json_set(o, key, json_string(tartan_ip4_net_format(net, buf)));
}

static int json_set_addr(json_t *o, const char *key, uint32_t addr)
{
	char buf[TARTAN_IP4_ADDR_STRLEN];

	return json_set(o, key, json_string(tartan_ip4_addr_format(addr, buf)));
}

static int control_status_masq(struct daemon *d, json_t *r)
{
	char what[160];

	return json_set(r, "masquerade",
			json_string(masq_describe(&d->masq_rules, what, sizeof(what))));
}

/* "files": each file tartand writes and its state (daemon/files.h) */
static int control_status_files(struct daemon *d, json_t *r)
{
	json_t *files = NULL;
	int err = tartan_files_json(d->files, &files);

	return err < 0 ? err : json_set(r, "files", files);
}

static int control_status_dataplane(struct daemon *d, json_t *r)
{
	struct tartan_dataplane_stats st;
	char mac[TARTAN_FLANNEL_MAC_STRLEN];
	int err = 0;

	if (!d->dataplane)
		return 0;
	tartan_dataplane_stats(d->dataplane, &st);
	err |= json_set(r, "routes", json_integer((json_int_t)st.routes));
	if (st.vxlan_device) {
		err |= json_set(r, "vxlan_device", json_string(st.vxlan_device));
		err |= json_set(r, "vtep_mac", json_string(tartan_flannel_mac_format(st.vtep_mac, mac)));
		err |= json_set(r, "neighbours", json_integer((json_int_t)st.neighbours));
		err |= json_set(r, "fdb_entries", json_integer((json_int_t)st.fdb));
	}
	err |= json_set(r, "syncs", json_integer((json_int_t)st.syncs));
	err |= json_set(r, "repairs", json_integer((json_int_t)st.repairs));
	return err;
}

/* kubenet mode: the fixed pod CIDR on the bridge, nothing of etcd */
static int control_status_kubenet(struct daemon *d, json_t *r)
{
	int err = 0;

	err |= json_set(r, "state", json_string("running"));
	err |= json_set(r, "mode", json_string("kubenet"));
	err |= json_set_net(r, "subnet", &d->pod_cidr);
	err |= json_set(r, "bridge", json_string(d->opts->bridge));
	err |= json_set(r, "mtu", json_integer(d->mtu));
	err |= control_status_masq(d, r);
	err |= control_status_dataplane(d, r);
	err |= json_set(r, "degraded", json_false());
	err |= json_set(r, "health", json_string("ok"));
	err |= control_status_files(d, r);
	return err ? -ENOMEM : 0;
}

/* "leaseRival": {"publicIP": "192.0.2.9" (or "unknown": no lease value), "overwrites": N},
 * while the registry remembers a writer that overwrote our lease key */
static int control_status_rival(struct daemon *d, json_t *r)
{
	const struct tartan_flannel_rival *rv = tartan_flannel_registry_rival(d->registry);
	char ip[TARTAN_IP4_ADDR_STRLEN];
	json_t *o;

	if (!rv)
		return 0;
	o = json_object();
	if (!o)
		return -ENOMEM;
	if (json_set(o, "publicIP",
		     json_string(rv->parsed ? tartan_ip4_addr_format(rv->attrs.public_ip, ip) :
					      "unknown")) < 0 ||
	    json_set(o, "overwrites", json_integer((json_int_t)rv->overwrites)) < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	return json_set(r, "leaseRival", o);
}

static int control_status(struct daemon *d, json_t *r)
{
	const struct tartan_flannel_config *config;
	struct tartan_etcd_stats stats;
	struct tartan_ip4_net subnet;
	int64_t expiry;
	int err = 0;

	if (d->kubenet)
		return control_status_kubenet(d, r);
	config = tartan_flannel_registry_config(d->registry);
	err |= json_set(r, "state", json_string(tartan_flannel_registry_state(d->registry)));
	err |= json_set(r, "mode", json_string("flannel"));
	if (config)
		err |= json_set_net(r, "network", &config->network);
	if (tartan_flannel_registry_lease(d->registry, &subnet, &expiry)) {
		err |= json_set_net(r, "subnet", &subnet);
		err |= json_set(r, "lease_expiry", expiry ? json_integer(expiry) : json_null());
	}
	err |= json_set_addr(r, "public_ip", d->public_ip);
	err |= json_set(r, "interface", json_string(d->iface.name));
	if (d->backend_ok) {
		err |= json_set(r, "backend", json_string(d->backend.type));
		err |= json_set(r, "mtu", json_integer(d->mtu));
	}
	err |= json_set(r, "bridge", json_string(d->opts->bridge));
	err |= control_status_masq(d, r);
	err |= control_status_dataplane(d, r);
	err |= json_set(r, "peers",
			json_integer((json_int_t)tartan_flannel_registry_n_peers(d->registry)));
	err |= json_set(r, "etcd_endpoint", json_string(tartan_etcd_client_endpoint(d->etcd)));
	tartan_etcd_client_stats(d->etcd, &stats);
	err |= json_set(r, "etcd_requests", json_integer((json_int_t)stats.requests));
	err |= json_set(r, "etcd_errors", json_integer((json_int_t)stats.errors));
	err |= json_set(r, "etcd_watch_reconnects",
			json_integer((json_int_t)stats.watch_reconnects));
	err |= json_set(r, "etcd_connected",
			json_boolean(tartan_flannel_registry_connected(d->registry)));
	err |= json_set(r, "degraded", json_boolean(d->degraded));
	if (d->degraded)
		err |= json_set(r, "degraded_reason", json_string(d->degraded_reason));
	err |= json_set(r, "health", json_string(d->degraded ? "degraded" : "ok"));
	err |= control_status_rival(d, r);
	err |= json_set(r, "subnet_file", json_string(d->opts->subnet_file));
	err |= json_set(r, "subnet_file_written", json_boolean(d->subnet_file_written));
	err |= control_status_files(d, r);
	return err ? -ENOMEM : 0;
}

/* "programmed": true, false, or null when the backend keeps nothing for it here */
static json_t *programmed_json(enum tartan_dataplane_programmed p)
{
	return p == TARTAN_DATAPLANE_NOTHING_TO_PROGRAM ?
		       json_null() :
		       json_boolean(p == TARTAN_DATAPLANE_PROGRAMMED);
}

static json_t *lease_json(const struct tartan_ip4_net *subnet, uint32_t public_ip,
			  const char *backend, json_t *expiry, bool own, const uint8_t *mac,
			  enum tartan_dataplane_programmed programmed)
{
	json_t *l = json_object();
	char macbuf[TARTAN_FLANNEL_MAC_STRLEN];
	int err = l ? 0 : -ENOMEM;

	if (!err) {
		err |= json_set_net(l, "subnet", subnet);
		err |= json_set_addr(l, "public_ip", public_ip);
		err |= json_set(l, "backend", json_string(backend[0] ? backend : "alloc"));
		if (expiry) /* left out when unknown */
			err |= json_set(l, "expiry", expiry);
		err |= json_set(l, "own", json_boolean(own));
		err |= json_set(l, "programmed", programmed_json(programmed));
		if (mac)
			err |= json_set(l, "vtep_mac",
					json_string(tartan_flannel_mac_format(mac, macbuf)));
	}
	if (err) {
		json_decref(l);
		return NULL;
	}
	return l;
}

static int control_leases(struct daemon *d, json_t *r)
{
	enum tartan_dataplane_programmed *programmed = NULL, own;
	json_t *list = json_array();
	struct tartan_ip4_net subnet;
	int64_t expiry;
	size_t i, n = tartan_flannel_registry_n_peers(d->registry), n_programmed;
	int err;

	if (!list || json_object_set_new(r, "leases", list) < 0)
		return -ENOMEM;
	/* the registry does not change while this runs: one kernel dump for every lease */
	err = tartan_dataplane_programmed(d->dataplane, &programmed, &n_programmed, &own);
	if (err < 0)
		return err;
	if (tartan_flannel_registry_lease(d->registry, &subnet, &expiry) &&
	    json_array_append_new(list,
				  lease_json(&subnet, d->public_ip, d->backend.lease_backend_type,
					     expiry ? json_integer(expiry) : json_null(), true,
					     NULL, own)) < 0)
		err = -ENOMEM;
	for (i = 0; i < n && err >= 0; i++) {
		const struct tartan_flannel_peer *p = tartan_flannel_registry_peer(d->registry, i);

		/* peers' expiry is not known: tartan makes no TimeToLive call per lease */
		if (json_array_append_new(
			    list,
			    lease_json(&p->subnet, p->attrs.public_ip, p->attrs.backend_type,
				       p->etcd_lease ? NULL : json_null(), false,
				       p->attrs.has_vtep_mac ? p->attrs.vtep_mac : NULL,
				       i < n_programmed ? programmed[i] :
							  TARTAN_DATAPLANE_NOTHING_TO_PROGRAM)) < 0)
			err = -ENOMEM;
	}
	free(programmed);
	return err;
}

static int control_handler(const char *command, json_t *request, int fd, json_t **ret_result,
			   char **ret_error, void *userdata)
{
	struct daemon *d = userdata;
	json_t *r = json_object();
	int err;

	if (!r)
		return -ENOMEM;
	if (strcmp(command, "status") == 0) {
		err = control_status(d, r);
	} else if (strcmp(command, "leases") == 0 && d->kubenet) {
		json_decref(r);
		if (asprintf(ret_error, "kubenet mode has no subnet leases: the pod CIDR is fixed "
					"(tartanctl status shows it)") < 0)
			*ret_error = NULL;
		return -EINVAL;
	} else if (strcmp(command, "leases") == 0) {
		err = control_leases(d, r);
	} else if (strcmp(command, "routes") == 0) {
		json_decref(r);
		r = NULL;
		err = tartan_dataplane_routes_json(d->dataplane, &r);
	} else if (strcmp(command, "cni") == 0 || strcmp(command, "pods") == 0) {
		json_decref(r);
		r = NULL;
		err = strcmp(command, "pods") == 0 ?
			      tartan_pods_list(d->pods, &r) :
			      tartan_pods_handle(d->pods, json_object_get(request, "cni"), fd, &r);
	} else {
		json_decref(r);
		if (asprintf(ret_error, "unknown command '%.64s'", command) < 0)
			*ret_error = NULL;
		return -EINVAL;
	}
	if (err < 0) {
		json_decref(r);
		return err;
	}
	*ret_result = r;
	return 0;
}

/* --- subsystems -------------------------------------------------------------------------- */

static int find_interface(struct daemon *d)
{
	const struct tartan_options *o = d->opts;
	char ip[TARTAN_IP4_ADDR_STRLEN];
	size_t i;
	int err = -ENODEV;

	if (d->kubenet) /* the cloud routes the pod CIDR: no public IP to announce */
		return 0;
	for (i = 0; i < o->n_ifaces && err < 0; i++)
		err = o->ifaces[i].name ?
			      tartan_iface_by_name(o->ifaces[i].name, &d->iface) :
			      tartan_iface_by_addr(ntohl(o->ifaces[i].addr.s_addr), &d->iface);
	for (i = 0; i < o->n_iface_regexes && err < 0; i++)
		err = tartan_iface_by_regex(o->iface_regexes[i], &d->iface);
	if (o->n_ifaces == 0 && o->n_iface_regexes == 0)
		err = tartan_iface_default(&d->iface);
	if (err < 0)
		return tartan_log_errno(
			TARTAN_LOG_ERROR, -err,
			o->n_ifaces || o->n_iface_regexes ?
				"no interface matches --iface/--iface-regex: %m" :
				"no interface with a default route (use --iface): %m");
	d->public_ip = o->has_public_ip ? ntohl(o->public_ip.s_addr) : d->iface.addr;
	tartan_log_info("using interface %s (MTU %u), public IP %s", d->iface.name, d->iface.mtu,
			tartan_ip4_addr_format(d->public_ip, ip));
	return 0;
}

/* The subnet this node held before, from subnet.env: a restart asks for it again. */
static struct tartan_ip4_net previous_subnet(struct daemon *d)
{
	struct tartan_subnet_env env = { 0 };
	struct tartan_ip4_net none = { 0 };
	char *buf = NULL, *reason = NULL;
	size_t len;
	int err;

	err = tartan_file_read(d->opts->subnet_file, SUBNET_FILE_MAX, &buf, &len);
	if (err == -ENOENT)
		return none;
	if (err >= 0)
		err = tartan_subnet_env_parse(buf, len, &env, &reason);
	free(buf);
	if (err < 0) {
		tartan_log_warning("%s: %s, ignoring", d->opts->subnet_file,
				   reason ? reason : strerror(-err));
		free(reason);
		return none;
	}
	return env.has_subnet ? env.subnet : none;
}

static int start_etcd(struct daemon *d)
{
	const struct tartan_options *o = d->opts;
	struct tartan_etcd_options eo = {
		.endpoints = (const char *const *)o->etcd_endpoints,
		.n_endpoints = o->n_etcd_endpoints,
		.ca_file = o->etcd_cafile,
		.cert_file = o->etcd_certfile,
		.key_file = o->etcd_keyfile,
		.username = o->etcd_username,
		.password = o->etcd_password,
	};
	int err;

	if (d->kubenet)
		return 0;
	err = tartan_etcd_client_new(d->loop, &eo, &d->etcd);
	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err,
					"etcd client: %m (TLS files need https:// endpoints)");
	return 0;
}

static void stop_etcd(struct daemon *d)
{
	tartan_etcd_client_free(d->etcd);
	d->etcd = NULL;
}

/*
 * etcd health. A watch stream stays connected to a member that has lost its quorum (etcd
 * serves watches from its local store, and nothing new arrives), and the lease is renewed
 * only hours apart, so neither notices a cluster without a leader. Every
 * ETCD_PROBE_INTERVAL_S the daemon asks for the config key's count with a linearizable
 * read, which only a member with a leader can answer. tartand is degraded when no such
 * read was answered for ETCD_DEGRADED_AFTER_S, or the watch streams have been down that
 * long: /readyz answers 503 with the reason and status says so. Degraded changes nothing
 * on the node (routes, pods and files stay as they are); it ends by itself with the next
 * answered read and connected watches. The window is longer than a failover to another
 * member (a request's timeout, 5 s, and a watch reconnect) so that losing one member of a
 * healthy cluster does not count.
 */
#define ETCD_PROBE_INTERVAL_S 5.
#define ETCD_DEGRADED_AFTER_S 15.

static void probe_done(int error, const char *errmsg, struct tartan_etcd_result *res,
		       void *userdata)
{
	struct daemon *d = userdata;

	d->probe = NULL;
	if (error < 0) {
		snprintf(d->probe_error, sizeof(d->probe_error), "%s",
			 errmsg ? errmsg : strerror(-error));
		return;
	}
	d->quorum_ok_at = ev_now(d->loop);
	d->probe_error[0] = '\0';
}

static void probe_start(struct daemon *d)
{
	char key[512];
	int n = snprintf(key, sizeof(key), "%s/config", d->opts->etcd_prefix);
	struct tartan_etcd_range_req req = {
		.keys = { .key = key, .key_len = n > 0 ? (size_t)n : 0 },
		.count_only = true,
		.serializable = false, /* linearizable: needs the leader, i.e. a quorum */
	};
	int err;

	if (n <= 0 || (size_t)n >= sizeof(key))
		return;
	d->probe_started = ev_now(d->loop);
	err = tartan_etcd_range(d->etcd, &req, probe_done, d, NULL, &d->probe);
	if (err < 0) {
		d->probe = NULL;
		snprintf(d->probe_error, sizeof(d->probe_error), "cannot send a read: %s",
			 strerror(-err));
	}
}

/* Another writer keeps overwriting our lease key (flannel/rival.h): the reason, naming it */
static bool lease_rival_degraded(struct daemon *d)
{
	const struct tartan_flannel_rival *rv = tartan_flannel_registry_rival(d->registry);
	char ip[TARTAN_IP4_ADDR_STRLEN];

	if (!rv || !rv->fighting)
		return false;
	snprintf(d->degraded_reason, sizeof(d->degraded_reason),
		 "lease key overwritten %llu times by another writer (PublicIP %s); holding it",
		 (unsigned long long)rv->overwrites,
		 rv->parsed ? tartan_ip4_addr_format(rv->attrs.public_ip, ip) : "unknown");
	return true;
}

/* Once a second: start a probe when due, and work out whether tartand is degraded. */
static void etcd_health_update(struct daemon *d, bool watches_up)
{
	ev_tstamp now = ev_now(d->loop);
	bool degraded = false;

	if (!d->probe && now - d->probe_started >= ETCD_PROBE_INTERVAL_S)
		probe_start(d);
	if (watches_up)
		d->watch_down_since = 0;
	else if (d->watch_down_since == 0)
		d->watch_down_since = now;
	if (now - d->quorum_ok_at > ETCD_DEGRADED_AFTER_S) {
		degraded = true;
		snprintf(d->degraded_reason, sizeof(d->degraded_reason),
			 "etcd degraded: no quorum read answered for %.0f s (now trying %s: %s)",
			 now - d->quorum_ok_at, tartan_etcd_client_endpoint(d->etcd),
			 d->probe_error[0] ? d->probe_error : "no answer yet");
	} else if (d->watch_down_since && now - d->watch_down_since > ETCD_DEGRADED_AFTER_S) {
		degraded = true;
		snprintf(d->degraded_reason, sizeof(d->degraded_reason),
			 "etcd degraded: watch streams down for %.0f s (now trying %s)",
			 now - d->watch_down_since, tartan_etcd_client_endpoint(d->etcd));
	}
	if (degraded && !d->etcd_degraded)
		tartan_log_warning("%s; traffic keeps flowing and nothing is deleted, retrying",
				   d->degraded_reason);
	else if (!degraded && d->etcd_degraded)
		tartan_log_info("etcd healthy again: quorum reads answered by %s",
				tartan_etcd_client_endpoint(d->etcd));
	d->etcd_degraded = degraded;
	/* the registry logs the fight's start and end itself */
	if (!degraded)
		degraded = lease_rival_degraded(d);
	d->degraded = degraded;
	if (!degraded)
		d->degraded_reason[0] = '\0';
}

/* The watches say whether etcd is there; an operator wants a line when that changes. */
static void etcd_check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	bool up = tartan_flannel_registry_connected(d->registry);

	etcd_health_update(d, up);
	if (up == d->etcd_up)
		return;
	d->etcd_up = up;
	if (up && d->etcd_seen)
		tartan_log_info("etcd at %s is reachable again",
				tartan_etcd_client_endpoint(d->etcd));
	else if (!up)
		tartan_log_warning(
			"lost the etcd watch stream (now trying %s); traffic keeps flowing, "
			"retrying",
			tartan_etcd_client_endpoint(d->etcd));
	d->etcd_seen |= up;
}

/* For tests only, seconds from the environment: dflt when unset or empty, and when not a
 * whole number up to max (logged). TARTAN_RIVAL_CLEAR_S shortens the time without an
 * overwrite of our lease key after which its writer is forgotten (0: the default, 120 s);
 * TARTAN_GONE_GRACE_S the grace of a pod whose network is gone (pods.h). */
static unsigned test_seconds(const char *name, unsigned max, unsigned dflt)
{
	const char *v = getenv(name);
	unsigned long n;
	char *end;

	if (!v || !*v)
		return dflt;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || *v < '0' || *v > '9' || n > max) {
		tartan_log_warning("%s=%.20s is not 0..%u s, ignoring", name, v, max);
		return dflt;
	}
	return (unsigned)n;
}

static int start_registry(struct daemon *d)
{
	struct tartan_flannel_registry_options ro;
	int err;

	if (d->kubenet)
		return 0;
	ro = (struct tartan_flannel_registry_options){
		.prefix = d->opts->etcd_prefix,
		.public_ip = d->public_ip,
		.previous_subnet = previous_subnet(d),
		.lease_ttl_s = d->opts->subnet_lease_ttl,
		.renew_margin_s = d->opts->subnet_lease_renew_margin * 60,
		.rival_clear_s = test_seconds("TARTAN_RIVAL_CLEAR_S", 86400, 0),
	};
	err = tartan_flannel_registry_new(d->loop, d->etcd, &ro, &registry_ops, d, &d->registry);
	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "lease registry: %m");
	ev_timer_init(&d->etcd_check, etcd_check_cb, 1., 1.);
	d->etcd_check.data = d;
	ev_timer_start(d->loop, &d->etcd_check);
	/* start-up gets one window to reach etcd before it counts as degraded */
	d->quorum_ok_at = ev_now(d->loop);
	d->probe_started = ev_now(d->loop) - ETCD_PROBE_INTERVAL_S;
	return 0;
}

static void stop_registry(struct daemon *d)
{
	if (!d->registry)
		return;
	ev_timer_stop(d->loop, &d->etcd_check);
	tartan_etcd_request_cancel(d->probe);
	d->probe = NULL;
	/* the lease stays in etcd and is renewed by the next start, as flanneld's */
	tartan_flannel_registry_free(d->registry);
	d->registry = NULL;
}

/* The files this mode writes, each kept as written from its first content on, or left to
 * the operator (--skip-files). */
static int start_files(struct daemon *d)
{
	const struct tartan_options *o = d->opts;
	const struct {
		enum tartan_options_file file;
		const char *where, *name; /* the file; its directory when name is set */
	} files[] = {
		{ TARTAN_OPTIONS_FILE_SUBNET_ENV, d->kubenet ? NULL : o->subnet_file, NULL },
		{ TARTAN_OPTIONS_FILE_CONFLIST, o->cni_conf_dir, TARTAN_CNICONF_LIST_FILE },
		{ TARTAN_OPTIONS_FILE_RKT_CONF, o->rkt_net_dir, TARTAN_CNICONF_RKT_FILE },
		{ TARTAN_OPTIONS_FILE_KUBENET_CONF, d->kubenet ? o->cni_conf_dir : NULL,
		  KUBENET_CONF_FILE },
	};
	char *path = NULL;
	int err;

	err = tartan_files_new(d->loop, o->resync_interval, &d->files);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && err >= 0; i++) {
		bool skip = o->skip_files & (1u << files[i].file);

		if (!files[i].where) /* not written in this mode */
			continue;
		if (files[i].name && asprintf(&path, "%s/%s", files[i].where, files[i].name) < 0) {
			path = NULL;
			err = -ENOMEM;
			break;
		}
		err = tartan_files_add(d->files, tartan_options_file_name(files[i].file),
				       path ? path : files[i].where, 0644, skip);
		if (err >= 0 && skip)
			tartan_log_info("%s: left to the operator (--skip-files), never written",
					path ? path : files[i].where);
		free(path);
		path = NULL;
	}
	if (err < 0) {
		tartan_files_free(d->files); /* a subsystem that fails to start is not stopped */
		d->files = NULL;
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "files: %m");
	}
	return 0;
}

static void stop_files(struct daemon *d)
{
	tartan_files_free(d->files);
	d->files = NULL;
}

static int start_dataplane(struct daemon *d)
{
	int err = tartan_dataplane_new(d->loop, d->registry, d->opts->bridge, d->opts->state_dir,
				       d->opts->resync_interval, &d->dataplane);

	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "netlink: %m");
	tartan_dataplane_set_port_hairpin(d->dataplane,
					  d->opts->hairpin_mode == TARTAN_HAIRPIN_VETH);
	return 0;
}

static void stop_dataplane(struct daemon *d)
{
	tartan_dataplane_free(d->dataplane);
	d->dataplane = NULL;
}

/* The turn's answers are sent: now the fsyncs that make its allocations survive a power cut
 * (daemon/ipam.h), one round for all the requests the turn served. */
static void pods_sync_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct daemon *d = w->data;

	(void)loop;
	(void)revents;
	tartan_pods_sync(d->pods);
}

/* level-triggered like the rest: a record missed by the cheap check before requests (an idle
 * node) is applied within a resync interval */
static void pods_pending_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;

	(void)loop;
	(void)revents;
	tartan_pods_apply_pending(d->pods);
	/* after the recorded DELs: what is still gone had none (daemon/pods.h) */
	tartan_pods_sweep_gone(d->pods);
}

static int start_pods(struct daemon *d)
{
	int err = tartan_pods_new(d->opts->state_dir, d->opts->bridge, &d->pods);

	if (err >= 0)
		err = tartan_pods_set_cni_data_dir(d->pods, d->opts->cni_data_dir);
	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "pods: %m");
	tartan_pods_set_hairpin(d->pods, d->opts->hairpin_mode == TARTAN_HAIRPIN_VETH);
	tartan_pods_set_gone_grace(d->pods, test_seconds("TARTAN_GONE_GRACE_S", 86400,
							  TARTAN_PODS_GONE_GRACE_S));
	ev_check_init(&d->pods_sync, pods_sync_cb);
	d->pods_sync.data = d;
	ev_check_start(d->loop, &d->pods_sync);
	ev_timer_init(&d->pods_pending, pods_pending_cb, d->opts->resync_interval,
		      d->opts->resync_interval);
	d->pods_pending.data = d;
	ev_timer_start(d->loop, &d->pods_pending);
	return 0;
}

static void stop_pods(struct daemon *d)
{
	ev_check_stop(d->loop, &d->pods_sync);
	ev_timer_stop(d->loop, &d->pods_pending);
	tartan_pods_sync(d->pods); /* says when it fails; the sync inside _free() cannot */
	tartan_pods_free(d->pods);
	d->pods = NULL;
}

static int start_masq(struct daemon *d)
{
	int err = tartan_masq_new(&d->masq);

	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "nftables: %m");
	ev_timer_init(&d->masq_check, masq_check_cb, d->opts->resync_interval,
		      d->opts->resync_interval);
	d->masq_check.data = d;
	ev_timer_start(d->loop, &d->masq_check);
	/* flannel mode without --ip-masq: a table left by a run with it goes now */
	if (!d->kubenet && !d->opts->ip_masq)
		masq_sync(d);
	return 0;
}

static void stop_masq(struct daemon *d)
{
	ev_timer_stop(d->loop, &d->masq_check);
	/* masquerading off: nothing of tartan's stays in nftables; on: the table stays, so
	 * traffic keeps flowing while tartand restarts */
	if (d->masq && !d->kubenet && !d->opts->ip_masq)
		masq_sync(d);
	tartan_masq_free(d->masq);
	d->masq = NULL;
}

/* kubenet's choice of MTU (daemon/kubenet.h), from the links there are now */
static unsigned kubenet_mtu(struct daemon *d, char *why, size_t size)
{
	const struct tartan_nl_link *from = NULL;
	struct tartan_nl_link *links = NULL;
	struct tartan_nl *nl = NULL;
	int bridge_index = 0, err;
	size_t n = 0;
	unsigned mtu;

	if (d->opts->mtu) {
		snprintf(why, size, "--mtu");
		return d->opts->mtu;
	}
	err = tartan_nl_new(&nl);
	if (err >= 0 && tartan_nl_link_index(nl, d->opts->bridge, &bridge_index) < 0)
		bridge_index = 0;
	if (err >= 0)
		err = tartan_nl_link_list(nl, &links, &n);
	if (err < 0)
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "listing links for the MTU: %m");
	mtu = tartan_kubenet_mtu(links, n, bridge_index, &from);
	if (from)
		snprintf(why, size, "the smallest of the interfaces that are up: %s", from->name);
	else
		snprintf(why, size, "no interface is up: kubenet's default");
	free(links);
	tartan_nl_free(nl);
	return mtu;
}

/*
 * host-local keeps a network's addresses in <dataDir>/<network name>: the kubenet conf's
 * in networks/kubenet, the rkt conf's and the tartan plugin's in networks/rkt.kubernetes.io.
 * All three hand out the same pod CIDR, so kubenet's directory is a link to the shared
 * one: one lock, one set of address files, no address given twice.
 */
static void kubenet_share_store(struct daemon *d)
{
	char *link = NULL, target[64];
	ssize_t n;

	if (asprintf(&link, "%s/networks/" KUBENET_NETWORK, d->opts->state_dir) < 0)
		return;
	n = readlink(link, target, sizeof(target) - 1);
	if (n >= 0) {
		target[n] = '\0';
		if (strcmp(target, TARTAN_PODS_NETWORK) == 0)
			goto out;
		if (unlink(link) < 0)
			goto fail;
	}
	if (n < 0 && errno == EINVAL) {
		tartan_log_warning("%s is not a link to " TARTAN_PODS_NETWORK ": left as it is; "
				   "pods attached through the kubenet conf may be given addresses "
				   "the tartan plugin gives too",
				   link);
		goto out;
	}
	if (symlink(TARTAN_PODS_NETWORK, link) < 0 && errno != EEXIST)
		goto fail;
	goto out;
fail:
	tartan_log_errno(TARTAN_LOG_WARNING, errno, "%s: %m", link);
out:
	free(link);
}

static int start_kubenet(struct daemon *d)
{
	bool promisc = d->opts->hairpin_mode == TARTAN_HAIRPIN_PROMISCUOUS_BRIDGE;
	static const char *const hairpin[] = { "promiscuous-bridge", "hairpin-veth", "none" };
	char cidr[TARTAN_IP4_NET_STRLEN], gw[TARTAN_IP4_ADDR_STRLEN], why[96], what[160];
	int err;

	if (!d->kubenet)
		return 0;
	d->mtu = kubenet_mtu(d, why, sizeof(why));
	tartan_log_info("kubenet mode: pod CIDR %s on %s (gateway %s), MTU %u (%s), hairpin "
			"mode %s",
			tartan_ip4_net_format(&d->pod_cidr, cidr), d->opts->bridge,
			tartan_ip4_addr_format(tartan_ip4_net_first_host(&d->pod_cidr), gw),
			d->mtu, why, hairpin[d->opts->hairpin_mode]);
	if (d->opts->ip_masq)
		tartan_log_info("--ip-masq has no effect in kubenet mode, which masquerades "
				"by --non-masquerade-cidr (%s)",
				masq_describe(&(struct tartan_masq_rules){
						      .kind = TARTAN_MASQ_KUBENET,
						      .non_masq = { ntohl(d->opts->non_masq_addr.s_addr),
								    (uint8_t)d->opts->non_masq_prefixlen } },
					      what, sizeof(what)));
	err = forwarding_enable(d);
	if (err < 0)
		return err;
	/* hairpin-veth: start_dataplane() and start_pods() have it from --hairpin-mode */
	tartan_dataplane_set_kubenet(d->dataplane, &d->pod_cidr, d->mtu, promisc);
	/* a pod CIDR other than the last run's: the old one's addresses are released */
	err = tartan_pods_set_node(d->pods, &d->pod_cidr, d->mtu);
	if (err < 0)
		return err;
	kubenet_share_store(d); /* networks/ exists now: the store is in it */
	write_cni_confs(d);
	d->masq_rules = (struct tartan_masq_rules){
		.kind = TARTAN_MASQ_KUBENET,
		.non_masq = { ntohl(d->opts->non_masq_addr.s_addr),
			      (uint8_t)d->opts->non_masq_prefixlen },
	};
	masq_sync(d);
	return 0;
}

static int start_control(struct daemon *d)
{
	int err =
		tartan_control_new(d->loop, d->opts->socket_path, control_handler, d, &d->control);

	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "control socket %s: %m",
					d->opts->socket_path);
	return 0;
}

static void stop_control(struct daemon *d)
{
	tartan_control_free(d->control);
	d->control = NULL;
}

static int start_http(struct daemon *d)
{
	const struct tartan_http_sources src = {
		.registry = d->registry,
		.dataplane = d->dataplane,
		.etcd = d->etcd,
		.pods = d->pods,
		.not_ready = daemon_not_ready,
		.userdata = d,
	};
	char ip[TARTAN_IP4_ADDR_STRLEN];
	int err;

	if (!d->opts->healthz_port) /* flanneld's default: no health server */
		return 0;
	tartan_ip4_addr_format(ntohl(d->opts->healthz_ip.s_addr), ip);
	err = tartan_http_new(d->loop, d->opts->healthz_ip, d->opts->healthz_port, &src, &d->http);
	if (err < 0)
		return tartan_log_errno(TARTAN_LOG_ERROR, -err, "HTTP on %s:%u: %m", ip,
					d->opts->healthz_port);
	tartan_log_info("serving /healthz, /readyz and /metrics on %s:%u", ip,
			d->opts->healthz_port);
	return 0;
}

static void stop_http(struct daemon *d)
{
	tartan_http_free(d->http);
	d->http = NULL;
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;

	if (w->signum == SIGHUP) {
		/* what can change live: the files we write; rewrite them */
		tartan_log_info("SIGHUP: rewriting %s", d->opts->subnet_file);
		write_subnet_file(d);
		write_cni_confs(d);
		return;
	}
	tartan_log_info("%s: stopping (%s)", w->signum == SIGTERM ? "SIGTERM" : "SIGINT",
			d->kubenet ? "the bridge and the pods stay" : "the lease stays in etcd");
	notify("STOPPING=1");
	ev_break(loop, EVBREAK_ALL);
}

static int start_signals(struct daemon *d)
{
	ev_signal_init(&d->sigterm, signal_cb, SIGTERM);
	ev_signal_init(&d->sigint, signal_cb, SIGINT);
	ev_signal_init(&d->sighup, signal_cb, SIGHUP);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigint);
	ev_signal_start(d->loop, &d->sighup);
	return 0;
}

static void stop_signals(struct daemon *d)
{
	ev_signal_stop(d->loop, &d->sigterm);
	ev_signal_stop(d->loop, &d->sigint);
	ev_signal_stop(d->loop, &d->sighup);
}

static const struct subsystem {
	const char *name;
	int (*start)(struct daemon *d);
	void (*stop)(struct daemon *d);
} subsystems[] = {
	/* clang-format off: one subsystem a line, in start order */
	{ "signals", start_signals, stop_signals },
	{ "interface", find_interface, NULL },
	{ "files", start_files, stop_files },
	{ "etcd", start_etcd, stop_etcd },
	{ "registry", start_registry, stop_registry },
	{ "dataplane", start_dataplane, stop_dataplane },
	{ "pods", start_pods, stop_pods },
	{ "masquerade", start_masq, stop_masq },
	{ "kubenet", start_kubenet, NULL },
	{ "control", start_control, stop_control },
	{ "http", start_http, stop_http },
	/* clang-format on */
};

#define N_SUBSYSTEMS (sizeof(subsystems) / sizeof(subsystems[0]))

extern char **environ;

/*
 * Debian's libcurl pulls in libgnutls (through librtmp and libldap) whose library
 * constructor initialises all of gnutls when the library is loaded, before main: about
 * 0.8 MB of resident memory (its tables, and 100 kB of heap) for a library tartand never
 * calls. gnutls skips that when GNUTLS_NO_IMPLICIT_INIT is set in the environment the
 * process starts with (setting it later is too late), and whoever does use gnutls calls
 * gnutls_global_init() itself (librtmp and libldap do). So the first thing tartand does
 * is to exec itself once more with the variable set; if that fails it just goes on.
 * Tools that follow the process (valgrind without --trace-children) should start it with
 * the variable already set.
 */
static void reexec_without_gnutls_init(char **argv)
{
	if (getenv("GNUTLS_NO_IMPLICIT_INIT"))
		return;
	if (setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 1) < 0)
		return;
	execv("/proc/self/exe", argv);
	(void)unsetenv("GNUTLS_NO_IMPLICIT_INIT");
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	char *error = NULL;
	size_t started = 0;
	int err;

	reexec_without_gnutls_init(argv);
	tartan_log_setup(stderr, getenv("JOURNAL_STREAM"));
	err = tartan_options_parse(argc, argv, environ, &d.opts, &error);
	if (err < 0) {
		fprintf(stderr, "tartand: %s\n", error ? error : strerror(-err));
		free(error);
		return 2;
	}
	if (d.opts->show_help) {
		tartan_options_usage(stdout);
		tartan_options_free(d.opts);
		return 0;
	}
	if (d.opts->show_version) {
		printf("tartand %s\n", TARTAN_VERSION);
		tartan_options_free(d.opts);
		return 0;
	}
	if (d.opts->has_pod_cidr) {
		d.kubenet = true;
		d.pod_cidr = (struct tartan_ip4_net){ ntohl(d.opts->pod_cidr_addr.s_addr),
						      (uint8_t)d.opts->pod_cidr_prefixlen };
	}
	tartan_log_set_level(d.opts->log_level);
	d.loop = ev_default_loop(EVFLAG_AUTO);
	if (!d.loop) {
		fprintf(stderr, "tartand: cannot create the event loop\n");
		tartan_options_free(d.opts);
		return 1;
	}
	tartan_log_info("tartand %s starting", TARTAN_VERSION);
	for (started = 0; started < N_SUBSYSTEMS; started++)
		if (subsystems[started].start(&d) < 0) {
			tartan_log_error("start-up failed at %s; stopping",
					 subsystems[started].name);
			d.exit_code = 1;
			break;
		}
	if (started == N_SUBSYSTEMS)
		ev_run(d.loop, 0);
	while (started-- > 0)
		if (subsystems[started].stop)
			subsystems[started].stop(&d);
	ev_loop_destroy(d.loop);
	tartan_options_free(d.opts);
	return d.exit_code;
}
