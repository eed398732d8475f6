/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni/pending.h"
#include "daemon/log.h"
#include "daemon/podrecords.h"
#include "netcfg/file.h"

struct tartan_podrecords {
	char *dir; /* pods' names from CNI_ARGS: host-local's layout has no room for them */
};

/* a metadata file: two names, the id and the interface, with JSON around them */
#define META_FILE_MAX (4 * 1024)

int tartan_podrecords_new(const char *state_dir, struct tartan_podrecords **ret)
{
	struct tartan_podrecords *rec = calloc(1, sizeof(*rec));

	if (!rec)
		return -ENOMEM;
	if (asprintf(&rec->dir, "%s/pods", state_dir) < 0) {
		free(rec);
		return -ENOMEM;
	}
	*ret = rec;
	return 0;
}

void tartan_podrecords_free(struct tartan_podrecords *rec)
{
	if (!rec)
		return;
	free(rec->dir);
	free(rec);
}

/* "veth" and 8 hex digits of FNV-1a over "id/ifname": the same name for the same
 * attachment, so DEL and GC find it with nothing but the id and the interface */
void tartan_podrecords_host_ifname(const char *id, const char *ifname, char ret[IF_NAMESIZE])
{
	uint32_t h = 2166136261u;
	const char *s;

	for (s = id; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (s = ifname; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	snprintf(ret, IF_NAMESIZE, "veth%08x", h);
}

/* The value of KEY in CNI_ARGS ("K=V;K=V"), when it is a plausible Kubernetes name. */
static char *cni_arg(const char *args, const char *key)
{
	size_t klen = strlen(key);
	const char *p = args;

	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t vlen = len - klen - 1;

			if (vlen == 0 || vlen > TARTAN_PODRECORDS_NAME_MAX)
				return NULL;
			for (size_t i = 0; i < vlen; i++)
				if ((uint8_t)v[i] <= ' ' || (uint8_t)v[i] >= 0x7f)
					return NULL;
			return strndup(v, vlen);
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

void tartan_podrecords_label(const char *args, char *buf, size_t size)
{
	char *ns = args ? cni_arg(args, "K8S_POD_NAMESPACE") : NULL;
	char *name = args ? cni_arg(args, "K8S_POD_NAME") : NULL;

	if (name)
		snprintf(buf, size, "%s%s%s", ns ? ns : "", ns ? "/" : "", name);
	else
		snprintf(buf, size, "-");
	free(ns);
	free(name);
}

/* named as the attachment's pending-DEL record is (cni/pending.h): a 64-bit FNV-1a of
 * "id/ifname", since ids are long and may hold any printable byte; the file says whose it is,
 * and is read back only when that matches */
static int meta_path(const struct tartan_podrecords *rec, const char *id, const char *ifname,
		     char **ret)
{
	char name[TARTAN_CNI_PENDING_NAME_SIZE];

	tartan_cni_pending_name(id, ifname, name);
	return asprintf(ret, "%s/%s", rec->dir, name) < 0 ? -ENOMEM : 0;
}

/*
 * A record per attachment made through tartan: it marks the address as ours for GC (the
 * store is shared with the rkt conf's host-local, whose pods a tartan GC must not touch)
 * and keeps the pod's names for tartanctl. Best effort, and not fsync'ed: without it after
 * a power cut the attachment works on and DEL still frees it; only a GC would leave it be.
 */
void tartan_podrecords_write(struct tartan_podrecords *rec, const char *id, const char *ifname,
			     const char *args)
{
	char *ns = args ? cni_arg(args, "K8S_POD_NAMESPACE") : NULL;
	char *name = args ? cni_arg(args, "K8S_POD_NAME") : NULL;
	char *path = NULL, *text = NULL;
	json_t *o = NULL;
	int err = -ENOMEM;

	o = json_pack("{s:s,s:s,s:s?,s:s?}", "containerID", id, "ifName", ifname, "namespace", ns,
		      "name", name);
	if (o)
		text = json_dumps(o, JSON_COMPACT);
	if (text && meta_path(rec, id, ifname, &path) >= 0)
		err = tartan_file_write_hint(path, text, strlen(text), 0644);
	if (err < 0)
		tartan_log_errno(TARTAN_LOG_WARNING, -err, "pod record of %s: %m", id);
	json_decref(o);
	free(text);
	free(path);
	free(ns);
	free(name);
}

void tartan_podrecords_remove(struct tartan_podrecords *rec, const char *id, const char *ifname)
{
	char *path = NULL;

	if (meta_path(rec, id, ifname, &path) >= 0 && unlink(path) < 0 && errno != ENOENT)
		tartan_log_errno(TARTAN_LOG_WARNING, errno, "removing %s: %m", path);
	free(path);
}

/* The pod record in the file at path: a JSON object with string containerID and ifName
 * (*ret_id and *ret_ifname, owned by it), or NULL when it is not one. */
static json_t *record_load(const char *path, const char **ret_id, const char **ret_ifname)
{
	char *buf = NULL;
	json_t *o = NULL;
	size_t len;

	if (tartan_file_read(path, META_FILE_MAX, &buf, &len) >= 0)
		o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	*ret_id = json_string_value(json_object_get(o, "containerID"));
	*ret_ifname = json_string_value(json_object_get(o, "ifName"));
	if (!json_is_object(o) || !*ret_id || !*ret_ifname) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* {"namespace","name"} of the attachment, or NULL */
json_t *tartan_podrecords_read(struct tartan_podrecords *rec, const char *id, const char *ifname)
{
	const char *rid, *rifname;
	char *path = NULL;
	json_t *o = NULL;

	if (meta_path(rec, id, ifname, &path) >= 0)
		o = record_load(path, &rid, &rifname);
	free(path);
	if (o && (strcmp(rid, id) != 0 || strcmp(rifname, ifname) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The pod record at path, if it is one: its attachment, malloc'd. Only a record under its own
 * name (meta_path() of what it says) counts; anything else in the folder is left alone. */
static int record_attachment(struct tartan_podrecords *rec, const char *path, char **ret_id,
			     char **ret_ifname)
{
	const char *id, *ifname;
	json_t *o = record_load(path, &id, &ifname);
	char *own = NULL;
	int err;

	err = o ? meta_path(rec, id, ifname, &own) : -EINVAL;
	if (err >= 0 && strcmp(own, path) != 0)
		err = -EINVAL;
	if (err >= 0) {
		char *i = strdup(id), *f = strdup(ifname);

		if (i && f) {
			*ret_id = i;
			*ret_ifname = f;
		} else {
			free(i);
			free(f);
			err = -ENOMEM;
		}
	}
	json_decref(o);
	free(own);
	return err;
}

int tartan_podrecords_foreach(struct tartan_podrecords *rec, tartan_podrecords_fn fn,
			      void *userdata)
{
	DIR *d = opendir(rec->dir);
	struct dirent *de;
	int err = 0;

	while (d && err >= 0 && (de = readdir(d))) {
		char *path = NULL, *id = NULL, *ifname = NULL;

		if (de->d_name[0] == '.' || !strstr(de->d_name, ".json"))
			continue;
		if (asprintf(&path, "%s/%s", rec->dir, de->d_name) < 0) {
			err = -ENOMEM;
			break;
		}
		/* not a record of ours: left alone */
		if (record_attachment(rec, path, &id, &ifname) >= 0)
			err = fn(id, ifname, userdata);
		free(id);
		free(ifname);
		free(path);
	}
	if (d)
		closedir(d);
	return err;
}
