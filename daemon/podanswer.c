/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cni/result.h"
#include "daemon/ipam.h"
#include "daemon/log.h"
#include "daemon/podanswer.h"
#include "daemon/podrecords.h"
#include "daemon/pods.h"

json_t *tartan_podanswer_error(int code, const char *details, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:{s:i,s:s,s:s}}", "error", "code", code, "msg", msg, "details",
			 details ? details : "");
}

json_t *tartan_podanswer_ok(json_t *result)
{
	return result ? json_pack("{s:o}", "result", result) : NULL;
}

json_t *tartan_podanswer_netlink_error(struct tartan_nl *nl, int err, const char *what)
{
	return tartan_podanswer_error(TARTAN_PODS_ERR_NETLINK, tartan_nl_last_error(nl), "%s: %s",
				      what, strerror(-err));
}

json_t *tartan_podanswer_netns_error(const char *path, int err)
{
	if (err == -EBADF)
		return tartan_podanswer_error(TARTAN_CNI_ERR_INVALID_ENV, path,
					      "the request says the network namespace %s comes as "
					      "a file descriptor, but none came with it",
					      path);
	if (err == -ENOENT)
		return tartan_podanswer_error(TARTAN_CNI_ERR_UNKNOWN_CONTAINER, path,
					      "the network namespace %s does not exist", path);
	if (err == -EINVAL)
		return tartan_podanswer_error(TARTAN_CNI_ERR_INVALID_ENV, path,
					      "CNI_NETNS %s is not a network namespace", path);
	return tartan_podanswer_error(TARTAN_CNI_ERR_IO, path,
				      "cannot open the network namespace %s: %s", path,
				      strerror(-err));
}

json_t *tartan_podanswer_ipam_error(int err, const char *dir, const struct tartan_ip4_net *subnet)
{
	char net[TARTAN_IP4_NET_STRLEN];

	if (err == -ENOSPC)
		return tartan_podanswer_error(TARTAN_PODS_ERR_NO_ADDRESS, dir,
					      "no free address left in %s",
					      tartan_ip4_net_format(subnet, net));
	if (err == -EAGAIN)
		return tartan_podanswer_error(TARTAN_CNI_ERR_TRY_AGAIN_LATER, dir,
					      "the IPAM store is locked by another process");
	return tartan_podanswer_error(TARTAN_CNI_ERR_IO, dir, "IPAM store: %s", strerror(-err));
}

/* ADD's static address held by someone else: who, as far as the store can tell */
json_t *tartan_podanswer_in_use_error(struct tartan_ipam *ipam, uint32_t addr, const char *dir,
				      const char *foreign_root)
{
	struct tartan_ipam_entry *e = NULL;
	char ip[TARTAN_IP4_ADDR_STRLEN];
	json_t *answer = NULL;
	size_t n = 0, i;

	tartan_ip4_addr_format(addr, ip);
	if (tartan_ipam_list(ipam, &e, &n) < 0)
		n = 0;
	for (i = 0; i < n && e[i].addr != addr; i++)
		;
	if (i < n && e[i].id)
		answer = tartan_podanswer_error(
			TARTAN_PODS_ERR_ADDRESS_IN_USE, ip,
			"the requested address %s is held by container %s (%s)", ip, e[i].id,
			e[i].ifname ? e[i].ifname : "-");
	else if (i < n)
		answer = tartan_podanswer_error(
			TARTAN_PODS_ERR_ADDRESS_IN_USE, ip,
			"the requested address %s is taken: its file in %s is unreadable", ip, dir);
	else
		answer = tartan_podanswer_error(
			TARTAN_PODS_ERR_ADDRESS_IN_USE, ip,
			"the requested address %s is held in another host-local store "
			"under %s",
			ip, foreign_root ? foreign_root : "-");
	tartan_ipam_entries_free(e, n);
	return answer;
}

/*
 * One line per request: "pod ADD <12 of the id> <ns/name> <ifname> <address> ok <ms> ms",
 * at warning with "failed (code N): msg" instead of "ok". ADD's address comes from its
 * result; the others' is r->addr.
 */
void tartan_podanswer_log(const struct tartan_podanswer_request *r, json_t *answer,
			  const struct timespec *t0)
{
	json_t *error = json_object_get(answer, "error");
	const char *cidr = json_string_value(json_object_get(
		json_array_get(json_object_get(json_object_get(answer, "result"), "ips"), 0),
		"address"));
	char what[TARTAN_IP4_ADDR_STRLEN + 2 * TARTAN_PODRECORDS_NAME_MAX + 96],
		ip[TARTAN_IP4_ADDR_STRLEN];
	char label[TARTAN_PODRECORDS_LABEL_MAX], outcome[64];
	const char *msg, *details;
	struct timespec t1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
	if (cidr)
		snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(cidr, "/"), cidr);
	else if (r->addr)
		tartan_ip4_addr_format(r->addr, ip);
	else
		snprintf(ip, sizeof(ip), "-");
	if (!r->command || strcmp(r->command, "GC") == 0 || strcmp(r->command, "STATUS") == 0) {
		snprintf(what, sizeof(what), "%.16s", r->command ? r->command : "-");
		if (r->command && strcmp(r->command, "GC") == 0 && !error)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), " released %zu",
				 r->gc_released);
	} else {
		bool valid =
			r->id && r->ifname && tartan_ipam_attachment_is_valid(r->id, r->ifname);

		tartan_podrecords_label(r->args, label, sizeof(label));
		snprintf(what, sizeof(what), "%.16s %.12s %s %s %s", r->command,
			 valid ? r->id : "-", label, valid ? r->ifname : "-", ip);
	}
	if (!error) {
		snprintf(outcome, sizeof(outcome), "ok %.1f ms", ms);
		tartan_log_info("pod %s %s", what, outcome);
		return;
	}
	msg = json_string_value(json_object_get(error, "msg"));
	details = json_string_value(json_object_get(error, "details"));
	tartan_log_warning("pod %s failed (code %d): %s%s%s", what,
			   (int)json_integer_value(json_object_get(error, "code")), msg ? msg : "",
			   details && *details ? ": " : "", details && *details ? details : "");
}
