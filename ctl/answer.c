/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/answer.h"

/* gmtime_r() and "%Y" agree on years 1..9999; beyond, print "-" */
#define TIME_MIN (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TIME_MAX 253402300799LL	  /* 9999-12-31T23:59:59Z */

int tartan_ctl_escape(const char *s, size_t len, char **ret)
{
	static const char hex[] = "0123456789abcdef";
	char *out, *p;

	if (!s || !ret)
		return -EINVAL;
	if (len > (SIZE_MAX - 1) / 4)
		return -ENOMEM;
	out = malloc(len * 4 + 1);
	if (!out)
		return -ENOMEM;
	p = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch < 0x7f) {
			*p++ = (char)ch;
		} else {
			*p++ = '\\';
			*p++ = 'x';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	*ret = out;
	return 0;
}

int tartan_ctl_answer_parse(const char *line, size_t len, json_t **ret_result, char **ret_error)
{
	json_t *answer, *ok, *field;
	json_error_t jerr;
	char *error = NULL;
	int r;

	if ((!line && len > 0) || !ret_result || !ret_error)
		return -EINVAL;
	if (len > TARTAN_CTL_ANSWER_MAX)
		return -EBADMSG;
	answer = json_loadb(line ? line : "", len, 0, &jerr);
	if (!answer)
		return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EBADMSG;
	ok = json_object_get(answer, "ok");
	if (!json_is_object(answer) || !json_is_boolean(ok)) {
		r = -EBADMSG;
		goto out;
	}
	if (json_is_true(ok)) {
		field = json_object_get(answer, "result");
		if (!json_is_object(field)) {
			r = -EBADMSG;
			goto out;
		}
		*ret_result = json_incref(field);
		*ret_error = NULL;
		r = 0;
		goto out;
	}
	field = json_object_get(answer, "error");
	if (json_is_string(field))
		r = tartan_ctl_escape(json_string_value(field), json_string_length(field), &error);
	else
		r = tartan_ctl_escape("no message", 10, &error);
	if (r < 0)
		goto out;
	*ret_result = NULL;
	*ret_error = error;
	r = 0;
out:
	json_decref(answer);
	return r;
}

/* the escaped string, or "-" when v is not a string */
static int string_cell(json_t *v, char **ret)
{
	if (!json_is_string(v))
		return tartan_ctl_escape("-", 1, ret);
	return tartan_ctl_escape(json_string_value(v), json_string_length(v), ret);
}

/* "2023-11-14T22:13:20Z", or "-" when out of range */
static void format_time(json_int_t t, char buf[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < TIME_MIN || t > TIME_MAX || !gmtime_r(&tt, &tm) ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(buf, "-");
}

/* a lease expiry: unix seconds, null for a reservation (no etcd lease) */
static void format_expiry(json_t *v, char buf[static 32])
{
	if (json_is_null(v))
		strcpy(buf, "never");
	else if (json_is_integer(v))
		format_time(json_integer_value(v), buf);
	else
		strcpy(buf, "-");
}

/* "2d 3h", "23h 59m", "5m 3s", "42s" */
static void format_duration(long long s, char buf[static 48])
{
	if (s >= 86400)
		snprintf(buf, 48, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, 48, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, 48, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, 48, "%llds", s);
}

/* closes f; the text on success, -ENOMEM when a write to it failed */
static int memstream_finish(FILE *f, char **buf, char **ret_text)
{
	bool failed = ferror(f) != 0;

	if (fclose(f) != 0 || failed || !*buf) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	*ret_text = *buf;
	*buf = NULL;
	return 0;
}

enum field_kind {
	FIELD_STRING,
	FIELD_INTEGER,
	FIELD_EXPIRY,
};

/* a string field may have a boolean next to it ("flag"), said after it when known */
static const struct {
	const char *label;
	const char *key;
	enum field_kind kind;
	const char *flag, *if_true, *if_false;
	bool optional; /* left out when the daemon does not send it (a backend's own) */
	bool etcd_only; /* left out in kubenet mode ("mode":"kubenet"), which has no etcd */
} status_fields[] = {
	{ .label = "State", .key = "state", .kind = FIELD_STRING },
	{ .label = "Mode", .key = "mode", .kind = FIELD_STRING, .optional = true },
	{ .label = "Network", .key = "network", .kind = FIELD_STRING, .etcd_only = true },
	{ .label = "Subnet", .key = "subnet", .kind = FIELD_STRING },
	{ .label = "Public IP", .key = "public_ip", .kind = FIELD_STRING, .etcd_only = true },
	{ .label = "Interface", .key = "interface", .kind = FIELD_STRING, .etcd_only = true },
	{ .label = "Backend", .key = "backend", .kind = FIELD_STRING, .etcd_only = true },
	{ .label = "Bridge", .key = "bridge", .kind = FIELD_STRING, .optional = true },
	{ .label = "MTU", .key = "mtu", .kind = FIELD_INTEGER },
	{ .label = "Masquerade", .key = "masquerade", .kind = FIELD_STRING, .optional = true },
	{ .label = "Lease expiry", .key = "lease_expiry", .kind = FIELD_EXPIRY, .etcd_only = true },
	{ .label = "Peers", .key = "peers", .kind = FIELD_INTEGER, .etcd_only = true },
	{ .label = "Routes", .key = "routes", .kind = FIELD_INTEGER, .optional = true },
	{ .label = "VXLAN device", .key = "vxlan_device", .kind = FIELD_STRING, .optional = true },
	{ .label = "VTEP MAC", .key = "vtep_mac", .kind = FIELD_STRING, .optional = true },
	{ .label = "Neighbours", .key = "neighbours", .kind = FIELD_INTEGER, .optional = true },
	{ .label = "FDB entries", .key = "fdb_entries", .kind = FIELD_INTEGER, .optional = true },
	{ .label = "Repairs", .key = "repairs", .kind = FIELD_INTEGER, .optional = true },
	{ .label = "etcd",
	  .key = "etcd_endpoint",
	  .kind = FIELD_STRING,
	  .etcd_only = true,
	  .flag = "etcd_connected",
	  .if_true = " (connected)",
	  .if_false = " (not connected)" },
	/* "ok" or "degraded": etcd has lost its quorum or cannot be reached (see tartand(8)) */
	{ .label = "Health", .key = "health", .kind = FIELD_STRING, .optional = true },
	{ .label = "Why", .key = "degraded_reason", .kind = FIELD_STRING, .optional = true },
	{ .label = "Subnet file",
	  .key = "subnet_file",
	  .kind = FIELD_STRING,
	  .etcd_only = true,
	  .flag = "subnet_file_written",
	  .if_true = " (written)",
	  .if_false = " (not written yet)" },
};

/* one file's state: "ok", "restored N times", "skipped", "error: why", or the state as sent */
static int file_state(json_t *file, char **ret)
{
	const char *state = json_string_value(json_object_get(file, "state"));
	json_t *restored = json_object_get(file, "restored"), *why = json_object_get(file, "error");
	char *text = NULL, *cell = NULL;
	int r;

	if (state && strcmp(state, "ok") == 0 && json_is_integer(restored) &&
	    json_integer_value(restored) > 0)
		return asprintf(ret, "restored %" JSON_INTEGER_FORMAT " times",
				json_integer_value(restored)) < 0 ?
			       -ENOMEM :
			       0;
	if (!state || strcmp(state, "error") != 0)
		return string_cell(json_object_get(file, "state"), ret);
	r = string_cell(why, &cell);
	if (r >= 0 && asprintf(&text, "error: %s", cell) < 0)
		r = -ENOMEM;
	free(cell);
	if (r >= 0)
		*ret = text;
	return r;
}

/* "Files:", then "  PATH  STATE" per file of the "files" array, paths padded to one width */
static int render_files(json_t *result, FILE *f)
{
	json_t *files = json_object_get(result, "files"), *file;
	size_t i, n = json_array_size(files), width = 0;
	char **cells;
	int r = 0;

	if (n == 0)
		return 0;
	cells = calloc(2 * n, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	json_array_foreach(files, i, file) {
		r = string_cell(json_object_get(file, "path"), &cells[2 * i]);
		if (r >= 0)
			r = file_state(file, &cells[2 * i + 1]);
		if (r < 0)
			goto out;
		if (strlen(cells[2 * i]) > width)
			width = strlen(cells[2 * i]);
	}
	fputs("Files:\n", f);
	for (i = 0; i < n; i++)
		fprintf(f, "  %-*s  %s\n", (int)width, cells[2 * i], cells[2 * i + 1]);
out:
	for (i = 0; i < 2 * n; i++)
		free(cells[i]);
	free(cells);
	return r;
}

/* "Lease rival:  PublicIP X overwrote our lease key N times", when "leaseRival" is there */
static int render_lease_rival(json_t *result, FILE *f)
{
	json_t *rival = json_object_get(result, "leaseRival");
	json_t *n = json_object_get(rival, "overwrites");
	char *ip = NULL;
	int r;

	if (!rival)
		return 0;
	r = string_cell(json_object_get(rival, "publicIP"), &ip);
	if (r < 0)
		return r;
	fprintf(f, "%-14sPublicIP %s overwrote our lease key", "Lease rival:", ip);
	if (json_is_integer(n))
		fprintf(f, " %" JSON_INTEGER_FORMAT " time%s", json_integer_value(n),
			json_integer_value(n) == 1 ? "" : "s");
	fputc('\n', f);
	free(ip);
	return 0;
}

int tartan_ctl_render_status(json_t *result, time_t now, char **ret_text)
{
	char *buf = NULL, *cell = NULL;
	size_t size = 0;
	const char *mode = json_string_value(json_object_get(result, "mode"));
	bool kubenet = mode && strcmp(mode, "kubenet") == 0;
	FILE *f;
	int r = 0;

	if (!ret_text)
		return -EINVAL;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(status_fields) / sizeof(status_fields[0]); i++) {
		/* json_object_get() of a non-object is NULL: every field "-" */
		json_t *v = json_object_get(result, status_fields[i].key);
		char label[32], tbuf[32], dbuf[48];

		if ((!v && status_fields[i].optional) || (kubenet && status_fields[i].etcd_only))
			continue;
		snprintf(label, sizeof(label), "%s:", status_fields[i].label);
		switch (status_fields[i].kind) {
		case FIELD_STRING: {
			json_t *flag = status_fields[i].flag ?
					       json_object_get(result, status_fields[i].flag) :
					       NULL;

			r = string_cell(v, &cell);
			if (r < 0)
				goto fail;
			fprintf(f, "%-14s%s%s\n", label, cell,
				json_is_true(flag)  ? status_fields[i].if_true :
				json_is_false(flag) ? status_fields[i].if_false :
						      "");
			free(cell);
			cell = NULL;
			break;
		}
		case FIELD_INTEGER:
			if (json_is_integer(v))
				fprintf(f, "%-14s%" JSON_INTEGER_FORMAT "\n", label,
					json_integer_value(v));
			else
				fprintf(f, "%-14s-\n", label);
			break;
		case FIELD_EXPIRY:
			if (json_is_null(v)) {
				fprintf(f, "%-14snever (a reservation)\n", label);
				break;
			}
			format_expiry(v, tbuf);
			if (strcmp(tbuf, "-") == 0) {
				fprintf(f, "%-14s-\n", label);
				break;
			}
			/* json_is_integer(v) and in range here */
			if (json_integer_value(v) > (json_int_t)now) {
				format_duration((long long)(json_integer_value(v) - now), dbuf);
				fprintf(f, "%-14s%s (in %s)\n", label, tbuf, dbuf);
			} else {
				format_duration((long long)(now - json_integer_value(v)), dbuf);
				fprintf(f, "%-14s%s (expired %s ago)\n", label, tbuf, dbuf);
			}
			break;
		}
	}
	r = render_lease_rival(result, f);
	if (r < 0)
		goto fail;
	r = render_files(result, f);
	if (r < 0)
		goto fail;
	return memstream_finish(f, &buf, ret_text);
fail:
	free(cell);
	fclose(f);
	free(buf);
	return r;
}

/*
 * Prints a table: the header row and n rows of ncols cells (cells[row * ncols
 * + col], row 0 the headers), columns as wide as their widest cell, two
 * spaces between columns, no blanks at the end of a line (a last column may
 * be empty).
 */
static int render_table(char **cells, size_t n, size_t ncols, char **ret_text)
{
	size_t size = 0, *width;
	char *buf = NULL;
	FILE *f;

	width = calloc(ncols, sizeof(*width));
	if (!width)
		return -ENOMEM;
	for (size_t c = 0; c < ncols; c++)
		for (size_t i = 0; i <= n; i++) {
			size_t l = strlen(cells[i * ncols + c]);

			if (l > width[c])
				width[c] = l;
		}
	f = open_memstream(&buf, &size);
	if (!f) {
		free(width);
		return -ENOMEM;
	}
	for (size_t i = 0; i <= n; i++) {
		size_t last = ncols - 1;

		/* the cells after the last non-empty one print as nothing */
		while (last > 0 && !cells[i * ncols + last][0])
			last--;
		for (size_t c = 0; c <= last; c++) {
			const char *cell = cells[i * ncols + c];

			if (c < last)
				fprintf(f, "%-*s  ", (int)width[c], cell);
			else
				fprintf(f, "%s\n", cell);
		}
	}
	free(width);
	return memstream_finish(f, &buf, ret_text);
}

/*
 * A table of one row per element of the array under key in result: the
 * header row, then row() for each element. -EBADMSG when result has no such
 * array.
 */
static int render_list(json_t *result, const char *key, const char *const *headers, size_t ncols,
		       int (*row)(json_t *item, char **cells), char **ret_text)
{
	json_t *items = json_object_get(result, key);
	char **cells = NULL;
	size_t n;
	int r;

	if (!ret_text)
		return -EINVAL;
	if (!json_is_array(items))
		return -EBADMSG;
	n = json_array_size(items);
	cells = calloc((n + 1) * ncols, sizeof(char *));
	if (!cells)
		return -ENOMEM;
	for (size_t c = 0; c < ncols; c++) {
		cells[c] = strdup(headers[c]);
		if (!cells[c]) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		r = row(json_array_get(items, i), &cells[(i + 1) * ncols]);
		if (r < 0)
			goto out;
	}
	r = render_table(cells, n, ncols, ret_text);
out:
	for (size_t i = 0; i < (n + 1) * ncols; i++)
		free(cells[i]);
	free(cells);
	return r;
}

#define LEASE_COLUMNS 6

static const char *const lease_headers[LEASE_COLUMNS] = {
	"SUBNET", "PUBLIC-IP", "BACKEND", "EXPIRES", "OWN", "PROGRAMMED",
};

/* true "yes", false "no", anything else (null: nothing to program here, absent) "-" */
static char *yes_no_cell(json_t *v)
{
	return strdup(json_is_true(v) ? "yes" : json_is_false(v) ? "no" : "-");
}

/* the cells of one lease; anything not an object is a row of "-" */
static int lease_row(json_t *lease, char **cells)
{
	json_t *own = json_object_get(lease, "own");
	char tbuf[32];
	int r;

	r = string_cell(json_object_get(lease, "subnet"), &cells[0]);
	if (r >= 0)
		r = string_cell(json_object_get(lease, "public_ip"), &cells[1]);
	if (r >= 0)
		r = string_cell(json_object_get(lease, "backend"), &cells[2]);
	if (r < 0)
		return r;
	/* "expiry" absent is unknown; present and null is a reservation */
	if (json_is_object(lease) && json_object_get(lease, "expiry"))
		format_expiry(json_object_get(lease, "expiry"), tbuf);
	else
		strcpy(tbuf, "-");
	cells[3] = strdup(tbuf);
	cells[4] = yes_no_cell(own);
	cells[5] = yes_no_cell(json_object_get(lease, "programmed"));
	return cells[3] && cells[4] && cells[5] ? 0 : -ENOMEM;
}

int tartan_ctl_render_leases(json_t *result, char **ret_text)
{
	return render_list(result, "leases", lease_headers, LEASE_COLUMNS, lease_row, ret_text);
}

#define POD_COLUMNS 7

static const char *const pod_headers[POD_COLUMNS] = {
	"ADDRESS", "POD", "CONTAINER", "IFNAME", "HOST-IF", "STATE", "NOTE",
};

/* docker's short form of a container id */
#define CONTAINER_SHORT 12

/* as string_cell(), but an empty string is "-" too, and at most max bytes of it */
static int pod_cell(json_t *v, size_t max, char **ret)
{
	size_t len;

	if (!json_is_string(v) || json_string_length(v) == 0)
		return tartan_ctl_escape("-", 1, ret);
	len = json_string_length(v);
	return tartan_ctl_escape(json_string_value(v), len < max ? len : max, ret);
}

/* "namespace/name" (a part the daemon does not know as "-"), "-" when neither */
static int pod_name_cell(json_t *pod, char **ret)
{
	json_t *ns = json_object_get(pod, "namespace"), *name = json_object_get(pod, "name");
	char *a = NULL, *b = NULL;
	int r;

	if ((!json_is_string(ns) || json_string_length(ns) == 0) &&
	    (!json_is_string(name) || json_string_length(name) == 0))
		return tartan_ctl_escape("-", 1, ret);
	r = pod_cell(ns, SIZE_MAX, &a);
	if (r >= 0)
		r = pod_cell(name, SIZE_MAX, &b);
	if (r >= 0 && asprintf(ret, "%s/%s", a, b) < 0)
		r = -ENOMEM;
	free(a);
	free(b);
	return r < 0 ? r : 0;
}

/* the cells of one pod; anything not an object is a row of "-" */
static int pod_row(json_t *pod, char **cells)
{
	json_t *in = json_object_get(pod, "inSubnet");
	int r;

	r = pod_cell(json_object_get(pod, "address"), SIZE_MAX, &cells[0]);
	if (r >= 0)
		r = pod_name_cell(pod, &cells[1]);
	if (r >= 0)
		r = pod_cell(json_object_get(pod, "containerID"), CONTAINER_SHORT, &cells[2]);
	if (r >= 0)
		r = pod_cell(json_object_get(pod, "ifName"), SIZE_MAX, &cells[3]);
	if (r >= 0)
		r = pod_cell(json_object_get(pod, "hostIf"), SIZE_MAX, &cells[4]);
	/* "attached" or "gone" (the pod's network is gone without a DEL) */
	if (r >= 0)
		r = pod_cell(json_object_get(pod, "state"), SIZE_MAX, &cells[5]);
	if (r < 0)
		return r;
	cells[6] = strdup(json_is_true(in) ? "" : json_is_false(in) ? "outside subnet" : "-");
	return cells[6] ? 0 : -ENOMEM;
}

int tartan_ctl_render_pods(json_t *result, char **ret_text)
{
	return render_list(result, "pods", pod_headers, POD_COLUMNS, pod_row, ret_text);
}

#define ROUTE_COLUMNS 6

static const char *const route_headers[ROUTE_COLUMNS] = {
	"DESTINATION", "GATEWAY", "DEV", "ONLINK", "STATE", "KERNEL",
};

/* "yes", "no", "-" */
static const char *bool_cell(json_t *v)
{
	return json_is_true(v) ? "yes" : json_is_false(v) ? "no" : "-";
}

/* what the kernel has instead, for a "different" entry: "via 192.0.2.1 dev eth0 onlink" */
static int kernel_route_cell(json_t *kernel, char **ret)
{
	char *gw = NULL, *dev = NULL;
	int r;

	if (!json_is_object(kernel))
		return tartan_ctl_escape("", 0, ret);
	r = string_cell(json_object_get(kernel, "gateway"), &gw);
	if (r >= 0)
		r = string_cell(json_object_get(kernel, "dev"), &dev);
	if (r >= 0 &&
	    asprintf(ret, "via %s dev %s%s", gw, dev,
		     json_is_true(json_object_get(kernel, "onlink")) ? " onlink" : "") < 0)
		r = -ENOMEM;
	free(gw);
	free(dev);
	return r < 0 ? r : 0;
}

static int route_row(json_t *route, char **cells)
{
	int r;

	r = string_cell(json_object_get(route, "dst"), &cells[0]);
	if (r >= 0)
		r = string_cell(json_object_get(route, "gateway"), &cells[1]);
	if (r >= 0)
		r = string_cell(json_object_get(route, "dev"), &cells[2]);
	if (r >= 0)
		r = tartan_ctl_escape(bool_cell(json_object_get(route, "onlink")),
				      strlen(bool_cell(json_object_get(route, "onlink"))),
				      &cells[3]);
	if (r >= 0)
		r = string_cell(json_object_get(route, "state"), &cells[4]);
	if (r >= 0)
		r = kernel_route_cell(json_object_get(route, "kernel"), &cells[5]);
	return r;
}

#define NEIGH_COLUMNS 4

static const char *const neigh_headers[NEIGH_COLUMNS] = { "IP", "MAC", "STATE", "KERNEL" };
static const char *const fdb_headers[NEIGH_COLUMNS] = { "MAC", "DST", "STATE", "KERNEL" };

/* one neighbour or FDB entry: first and second are its two keys */
static int pair_row(json_t *e, const char *first, const char *second, char **cells)
{
	json_t *kernel = json_object_get(e, "kernel");
	char *k = NULL;
	int r;

	r = string_cell(json_object_get(e, first), &cells[0]);
	if (r >= 0)
		r = string_cell(json_object_get(e, second), &cells[1]);
	if (r >= 0)
		r = string_cell(json_object_get(e, "state"), &cells[2]);
	if (r < 0)
		return r;
	if (!json_is_object(kernel))
		return tartan_ctl_escape("", 0, &cells[3]);
	r = string_cell(json_object_get(kernel, second), &k);
	if (r >= 0 && asprintf(&cells[3], "%s %s", second, k) < 0) {
		cells[3] = NULL;
		r = -ENOMEM;
	}
	free(k);
	return r < 0 ? r : 0;
}

static int neigh_row(json_t *e, char **cells)
{
	return pair_row(e, "ip", "mac", cells);
}

static int fdb_row(json_t *e, char **cells)
{
	return pair_row(e, "mac", "dst", cells);
}

/* how many entries of the array under key in result are not "ok" */
static size_t count_drift(json_t *result, const char *key)
{
	json_t *items = json_object_get(result, key), *e;
	size_t i, n = 0;

	json_array_foreach(items, i, e)
		if (!json_is_string(json_object_get(e, "state")) ||
		    strcmp(json_string_value(json_object_get(e, "state")), "ok") != 0)
			n++;
	return n;
}

int tartan_ctl_render_routes(json_t *result, char **ret_text)
{
	static const struct {
		const char *key, *title;
		const char *const *headers;
		size_t ncols;
		int (*row)(json_t *item, char **cells);
	} parts[] = {
		{ "routes", NULL, route_headers, ROUTE_COLUMNS, route_row },
		{ "neighbours", "Neighbours on the vxlan device:", neigh_headers, NEIGH_COLUMNS,
		  neigh_row },
		{ "fdb", "FDB entries on the vxlan device:", fdb_headers, NEIGH_COLUMNS, fdb_row },
	};
	char *buf = NULL, *part = NULL;
	size_t size = 0, drifted = 0, total = 0;
	FILE *f;
	int r = 0;

	if (!ret_text)
		return -EINVAL;
	if (!json_is_array(json_object_get(result, "routes")))
		return -EBADMSG;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	if (json_is_false(json_object_get(result, "active"))) {
		fputs("tartand keeps no routes (yet): no lease held, or the alloc backend\n", f);
		return memstream_finish(f, &buf, ret_text);
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		json_t *items = json_object_get(result, parts[i].key);

		if (!json_is_array(items))
			continue;
		r = render_list(result, parts[i].key, parts[i].headers, parts[i].ncols,
				parts[i].row, &part);
		if (r < 0)
			goto fail;
		if (parts[i].title)
			fprintf(f, "\n%s\n", parts[i].title);
		fputs(part, f);
		free(part);
		part = NULL;
		drifted += count_drift(result, parts[i].key);
		total += json_array_size(items);
	}
	if (drifted)
		fprintf(f,
			"\nDrift: %zu of %zu entries differ from what tartand keeps; it repairs "
			"them at its next sync\n",
			drifted, total);
	else
		fprintf(f, "\nNo drift: the kernel holds exactly what tartand keeps (%zu entr%s)\n",
			total, total == 1 ? "y" : "ies");
	return memstream_finish(f, &buf, ret_text);
fail:
	fclose(f);
	free(buf);
	return r;
}

int tartan_ctl_render_json(json_t *value, char **ret_text)
{
	char *s, *text;
	size_t n;

	if (!value || !ret_text)
		return -EINVAL;
	/* ENSURE_ASCII: no byte from the socket reaches the terminal raw */
	s = json_dumps(value, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
	if (!s)
		return -ENOMEM;
	/* jansson leaves DEL (0x7f) as it is; it can only be inside a string,
	 * where \u007f means the same */
	n = strlen(s);
	for (const char *p = s; *p; p++)
		if (*p == 0x7f)
			n += 5;
	text = malloc(n + 2);
	if (!text) {
		free(s);
		return -ENOMEM;
	}
	n = 0;
	for (const char *p = s; *p; p++) {
		if (*p == 0x7f) {
			memcpy(text + n, "\\u007f", 6);
			n += 6;
		} else {
			text[n++] = *p;
		}
	}
	free(s);
	text[n] = '\n';
	text[n + 1] = '\0';
	*ret_text = text;
	return 0;
}
