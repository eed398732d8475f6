/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/pending.h"

void tartan_cni_pending_name(const char *id, const char *ifname,
			     char ret[TARTAN_CNI_PENDING_NAME_SIZE])
{
	uint64_t h = 14695981039346656037ull;
	const char *c;

	for (c = id; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	h = (h ^ '/') * 1099511628211ull;
	for (c = ifname; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	snprintf(ret, TARTAN_CNI_PENDING_NAME_SIZE, "%016llx.json", (unsigned long long)h);
}

void tartan_cni_pending_free(struct tartan_cni_pending *p)
{
	if (!p)
		return;
	free(p->id);
	free(p->ifname);
	free(p->netns);
	free(p->args);
	free(p->cni_version);
	json_decref(p->config);
	free(p);
}

/* the string at key, with no NUL inside; NULL when absent or null (as Go reads it), *ret_bad
 * when something else */
static const char *string_at(json_t *o, const char *key, bool *ret_bad)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		*ret_bad = true;
		return NULL;
	}
	return json_string_value(v);
}

static bool id_valid(const char *s)
{
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	return *s && strchr(ALNUM, *s) && s[strspn(s, ALNUM "_.-")] == '\0';
#undef ALNUM
}

static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if ((uint8_t)*s <= ' ' || (uint8_t)*s >= 0x7f || *s == '/' || *s == ':')
			return false;
	return true;
}

static char *dup_or_null(const char *s, bool *ret_oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ret_oom = true;
	return d;
}

int tartan_cni_pending_parse(const char *name, const char *buf, size_t len,
			     struct tartan_cni_pending **ret, const char **ret_reason)
{
	char want[TARTAN_CNI_PENDING_NAME_SIZE];
	const char *id, *ifname, *netns, *args, *version;
	struct tartan_cni_pending *p;
	json_auto_t *o = NULL;
	json_error_t jerr;
	bool bad = false, oom = false;

	if (!name || (!buf && len > 0) || !ret || !ret_reason)
		return -EINVAL;
	if (len > TARTAN_CNI_PENDING_MAX) {
		*ret_reason = "longer than a record can be";
		return -EINVAL;
	}
	o = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o && json_error_code(&jerr) == json_error_out_of_memory)
		return -ENOMEM;
	if (!json_is_object(o)) {
		*ret_reason = "not a JSON object";
		return -EINVAL;
	}
	id = string_at(o, "containerID", &bad);
	ifname = string_at(o, "ifName", &bad);
	netns = string_at(o, "netns", &bad);
	args = string_at(o, "args", &bad);
	version = string_at(o, "cniVersion", &bad);
	if (bad || !id || !ifname || !version || !json_is_object(json_object_get(o, "config"))) {
		*ret_reason = "containerID, ifName, cniVersion (strings) or config (an object) "
			      "missing or of the wrong type";
		return -EINVAL;
	}
	if (!id_valid(id) || !ifname_valid(ifname)) {
		*ret_reason = "containerID or ifName is not valid";
		return -EINVAL;
	}
	if (netns && netns[0] != '/') {
		*ret_reason = "netns is not an absolute path";
		return -EINVAL;
	}
	tartan_cni_pending_name(id, ifname, want);
	if (strcmp(name, want) != 0) {
		*ret_reason = "its file name is not the one of its attachment";
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->id = dup_or_null(id, &oom);
	p->ifname = dup_or_null(ifname, &oom);
	p->netns = dup_or_null(netns, &oom);
	p->args = dup_or_null(args, &oom);
	p->cni_version = dup_or_null(version, &oom);
	p->config = json_incref(json_object_get(o, "config"));
	if (oom) {
		tartan_cni_pending_free(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}
