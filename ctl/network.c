/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/answer.h"
#include "ctl/network.h"
#include "flannel/config.h"

static json_t *backend_summary(const struct tartan_flannel_backend *b)
{
	const struct tartan_flannel_vxlan_options *o = &b->vxlan;

	if (b->kind != TARTAN_FLANNEL_BACKEND_VXLAN)
		return json_pack("{s:s}", "type", b->type);
	return json_pack("{s:s,s:I,s:I,s:I,s:b,s:b,s:b}", "type", b->type, "vni",
			 (json_int_t)o->vni, "port", (json_int_t)o->port, "mtu", (json_int_t)o->mtu,
			 "direct_routing", o->direct_routing, "learning", o->learning, "gbp",
			 o->gbp);
}

int tartan_ctl_network_check(const char *buf, size_t len, json_t **ret_summary, char **ret_error)
{
	struct tartan_flannel_config *config = NULL;
	struct tartan_flannel_backend backend;
	char net[TARTAN_IP4_NET_STRLEN], min[TARTAN_IP4_ADDR_STRLEN], max[TARTAN_IP4_ADDR_STRLEN];
	json_t *summary;
	int r;

	*ret_error = NULL;
	r = tartan_flannel_config_parse(buf, len, &config, ret_error);
	if (r < 0)
		return r;
	r = tartan_flannel_backend_parse(config, &backend, ret_error);
	if (r < 0) {
		tartan_flannel_config_free(config);
		return r;
	}
	summary = json_pack("{s:s,s:i,s:s,s:s,s:o}", "network",
			    tartan_ip4_net_format(&config->network, net), "subnet_len",
			    (int)config->subnet_len, "subnet_min",
			    tartan_ip4_addr_format(config->subnet_min, min), "subnet_max",
			    tartan_ip4_addr_format(config->subnet_max, max), "backend",
			    backend_summary(&backend));
	tartan_flannel_config_free(config);
	if (!summary)
		return -ENOMEM;
	*ret_summary = summary;
	return 0;
}

int tartan_ctl_network_describe(const char *key, const char *value, size_t len,
				int64_t mod_revision, int64_t create_revision, int64_t version,
				json_t **ret)
{
	json_t *d, *summary = NULL;
	char *error = NULL;
	int r, err = 0;

	/* jansson strings are UTF-8: a value that is not is refused by the parser below as
	 * well, and is shown by the text form, escaped */
	d = json_pack("{s:s,s:s%,s:I,s:I,s:I}", "key", key, "value", value, len, "mod_revision",
		      (json_int_t)mod_revision, "create_revision", (json_int_t)create_revision,
		      "version", (json_int_t)version);
	if (!d) {
		d = json_pack("{s:s,s:n,s:I,s:I,s:I}", "key", key, "value", "mod_revision",
			      (json_int_t)mod_revision, "create_revision",
			      (json_int_t)create_revision, "version", (json_int_t)version);
		if (!d)
			return -ENOMEM;
	}
	r = tartan_ctl_network_check(value, len, &summary, &error);
	if (r == -ENOMEM) {
		json_decref(d);
		return r;
	}
	err |= json_object_set_new(d, "valid", json_boolean(r >= 0));
	if (r >= 0)
		err |= json_object_set_new(d, "config", summary);
	else
		err |= json_object_set_new(d, "error", json_string(error ? error : "invalid"));
	free(error);
	if (err) {
		json_decref(d);
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

/* the escaped string v, or "-" */
static void put_string(FILE *f, json_t *v)
{
	char *s = NULL;

	if (json_is_string(v) &&
	    tartan_ctl_escape(json_string_value(v), json_string_length(v), &s) >= 0) {
		fputs(s, f);
		free(s);
	} else {
		fputs("-", f);
	}
}

static void put_backend(FILE *f, json_t *b)
{
	json_t *type = json_object_get(b, "type");

	put_string(f, type);
	if (json_is_integer(json_object_get(b, "vni"))) {
		fprintf(f, " (VNI %" JSON_INTEGER_FORMAT ", port %" JSON_INTEGER_FORMAT,
			json_integer_value(json_object_get(b, "vni")),
			json_integer_value(json_object_get(b, "port")));
		if (json_integer_value(json_object_get(b, "mtu")))
			fprintf(f, ", MTU %" JSON_INTEGER_FORMAT,
				json_integer_value(json_object_get(b, "mtu")));
		if (json_is_true(json_object_get(b, "direct_routing")))
			fputs(", direct routing", f);
		if (json_is_true(json_object_get(b, "learning")))
			fputs(", learning", f);
		fputs(")", f);
	}
	fputs("\n", f);
}

int tartan_ctl_render_network(json_t *d, char **ret_text)
{
	json_t *key = json_object_get(d, "key"), *value = json_object_get(d, "value");
	json_t *config = json_object_get(d, "config"), *parsed;
	char *buf = NULL, *text = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	if (!ret_text)
		return -EINVAL;
	if (!json_is_string(key) || !(json_is_string(value) || json_is_null(value)))
		return -EBADMSG;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	fputs("Key:          ", f);
	put_string(f, key);
	fprintf(f,
		"\nRevision:     %" JSON_INTEGER_FORMAT " (created at %" JSON_INTEGER_FORMAT
		", version %" JSON_INTEGER_FORMAT ")\n",
		json_integer_value(json_object_get(d, "mod_revision")),
		json_integer_value(json_object_get(d, "create_revision")),
		json_integer_value(json_object_get(d, "version")));
	if (json_is_true(json_object_get(d, "valid")) && json_is_object(config)) {
		fputs("Network:      ", f);
		put_string(f, json_object_get(config, "network"));
		fprintf(f, "\nSubnets:      /%" JSON_INTEGER_FORMAT ", from ",
			json_integer_value(json_object_get(config, "subnet_len")));
		put_string(f, json_object_get(config, "subnet_min"));
		fputs(" to ", f);
		put_string(f, json_object_get(config, "subnet_max"));
		fputs("\nBackend:      ", f);
		put_backend(f, json_object_get(config, "backend"));
	} else {
		fputs("Invalid:      ", f);
		put_string(f, json_object_get(d, "error"));
		fputs(" (tartand and flanneld refuse this config)\n", f);
	}
	fputs("Config:\n", f);
	parsed = json_is_string(value) ?
			 json_loadb(json_string_value(value), json_string_length(value), 0, NULL) :
			 NULL;
	if (parsed && tartan_ctl_render_json(parsed, &text) >= 0) {
		fputs(text, f);
	} else {
		put_string(f, value);
		fputs("\n", f);
	}
	free(text);
	json_decref(parsed);
	{
		bool failed = ferror(f) != 0;

		r = fclose(f);
		if (r != 0 || failed || !buf) {
			free(buf);
			return -ENOMEM;
		}
	}
	*ret_text = buf;
	return 0;
}
