/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <jansson.h>

#include "cni/pending.h"
#include "cni/request.h"
#include "cni/result.h"
#include "daemon/control.h"

struct tartan_cni_request {
	enum tartan_cni_command command;
	const char *version; /* static, or asked (VERSION) */
	char *asked;
	char *line;
	size_t line_len;
	json_t *cni; /* the "cni" object of the line */
	char *socket, *pending_dir;
	double wait, timeout;
};

struct command {
	const char *name;
	enum tartan_cni_command command;
	bool attachment;     /* names one: CNI_CONTAINERID and CNI_IFNAME required */
	bool netns_required; /* DEL must work without a netns (spec: DEL is best effort) */
	const char *min_version;
};

/* clang-format off */
static const struct command commands[] = {
	{ .name = "ADD",     .command = TARTAN_CNI_ADD,    .attachment = true, .netns_required = true },
	{ .name = "DEL",     .command = TARTAN_CNI_DEL,    .attachment = true },
	/* CHECK came with 0.4.0, GC and STATUS with 1.1.0 (skel refuses older configs) */
	{ .name = "CHECK",   .command = TARTAN_CNI_CHECK,  .attachment = true, .netns_required = true,
	  .min_version = "0.4.0" },
	{ .name = "GC",      .command = TARTAN_CNI_GC,     .min_version = "1.1.0" },
	{ .name = "STATUS",  .command = TARTAN_CNI_STATUS, .min_version = "1.1.0" },
	{ .name = "VERSION", .command = TARTAN_CNI_VERSION },
};
/* clang-format on */

static void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))

void tartan_cni_request_free(struct tartan_cni_request *r)
{
	if (!r)
		return;
	free(r->asked);
	free(r->line);
	json_decref(r->cni);
	free(r->socket);
	free(r->pending_dir);
	free(r);
}

enum tartan_cni_command tartan_cni_request_command(const struct tartan_cni_request *r)
{
	return r->command;
}

const char *tartan_cni_request_version(const struct tartan_cni_request *r)
{
	return r->version;
}

const char *tartan_cni_request_line(const struct tartan_cni_request *r, size_t *ret_len)
{
	if (ret_len)
		*ret_len = r->line_len;
	return r->line;
}

const char *tartan_cni_request_socket(const struct tartan_cni_request *r)
{
	return r->socket;
}

const char *tartan_cni_request_pending_dir(const struct tartan_cni_request *r)
{
	return r->pending_dir;
}

const char *tartan_cni_request_netns(const struct tartan_cni_request *r)
{
	return json_string_value(json_object_get(r->cni, "netns"));
}

double tartan_cni_request_wait(const struct tartan_cni_request *r)
{
	return r->wait;
}

double tartan_cni_request_timeout(const struct tartan_cni_request *r)
{
	return r->timeout;
}

/* the value of the first NAME=... in envp, NULL if none or empty (skel treats
 * an empty variable as a missing one) */
static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return (*envp)[n + 1] ? *envp + n + 1 : NULL;
	return NULL;
}

/* [a-zA-Z0-9][a-zA-Z0-9_.-]*: container ids and network names (pkg/utils) */
static bool cni_name_valid(const char *s)
{
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	return *s && strchr(ALNUM, *s) && s[strspn(s, ALNUM "_.-")] == '\0';
#undef ALNUM
}

/* 0 from tartan_cni_error_new (a CNI error was made) becomes -EINVAL */
static int refuse(int r)
{
	return r < 0 ? r : -EINVAL;
}
#define cni_refuse(...) refuse(tartan_cni_error_new(__VA_ARGS__))

/* Go's unicode.IsSpace: Latin-1 spaces and the White_Space property */
static bool unicode_space(uint32_t c)
{
	switch (c) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
		return true;
	}
	return c >= 0x2000 && c <= 0x200a;
}

/* the code point at s, valid UTF-8, and its length in *ret_n */
static uint32_t utf8_decode(const unsigned char *s, size_t *ret_n)
{
	if (s[0] < 0x80) {
		*ret_n = 1;
		return s[0];
	}
	if (s[0] < 0xe0) {
		*ret_n = 2;
		return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	}
	if (s[0] < 0xf0) {
		*ret_n = 3;
		return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	}
	*ret_n = 4;
	return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	       (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* pkg/utils ValidateInterfaceName, in its order and words; the kernel's
 * dev_valid_name() is the reason for each rule */
static int check_ifname(const char *name, struct tartan_cni_error **ret_error)
{
	size_t len = strlen(name);

	if (len > 15)
		return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV,
				  "interface name should be less than 16 characters", ret_error,
				  "interface name is too long");
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, NULL, ret_error,
				  "interface name is . or ..");
	/* the request to tartand is JSON, which carries only UTF-8 */
	if (!tartan_cni_utf8_valid(name, len))
		return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, NULL, ret_error,
				  "interface name is not valid UTF-8");
	for (const unsigned char *p = (const unsigned char *)name; *p;) {
		size_t n;
		uint32_t c = utf8_decode(p, &n);

		if (c == '/' || c == ':' || unicode_space(c))
			return cni_refuse(
				TARTAN_CNI_ERR_INVALID_ENV, NULL, ret_error,
				"interface name contains / or : or whitespace characters");
		p += n;
	}
	return 0;
}

/* a number of seconds: digits with at most one '.', in [min, max]; min_open
 * excludes min itself */
static bool parse_seconds(const char *s, double min, bool min_open, double max, double *ret)
{
	size_t digits = strspn(s, "0123456789.");
	const char *dot = strchr(s, '.');
	char *end;
	double v;

	if (!*s || s[digits] || (dot && strchr(dot + 1, '.')) || strcmp(s, ".") == 0)
		return false;
	v = strtod(s, &end);
	if (*end || v < min || (min_open && v == min) || v > max)
		return false;
	*ret = v;
	return true;
}

static int env_seconds(char *const *envp, const char *name, double min, bool min_open,
		       double *value, struct tartan_cni_error **ret_error)
{
	const char *s = env_get(envp, name);

	if (!s || parse_seconds(s, min, min_open, TARTAN_CNI_WAIT_MAX_S, value))
		return 0;
	return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, s, ret_error,
			  "%s is not a number of seconds in %c%g, %g]", name, min_open ? '(' : '[',
			  min, TARTAN_CNI_WAIT_MAX_S);
}

/* the environment, in skel's order: each variable the command needs is
 * checked as it comes, the missing ones are reported together */
static int check_env(char *const *envp, const struct command *cmd,
		     struct tartan_cni_error **ret_error)
{
	const char *id = env_get(envp, "CNI_CONTAINERID"), *netns = env_get(envp, "CNI_NETNS"),
		   *ifname = env_get(envp, "CNI_IFNAME"), *args = env_get(envp, "CNI_ARGS"),
		   *path = env_get(envp, "CNI_PATH");
	char missing[128] = "";
	int r;

	if (cmd->attachment) {
		if (!id)
			strcat(missing, ",CNI_CONTAINERID");
		else if (!cni_name_valid(id))
			return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, id, ret_error,
					  "invalid characters in containerID");
		if (!netns && cmd->netns_required)
			strcat(missing, ",CNI_NETNS");
		if (!ifname)
			strcat(missing, ",CNI_IFNAME");
		else if ((r = check_ifname(ifname, ret_error)) < 0)
			return r;
	}
	if (!path)
		strcat(missing, ",CNI_PATH");
	if (missing[0])
		return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, NULL, ret_error,
				  "required env variables [%s] missing", missing + 1);

	if (cmd->attachment && netns) {
		/* tartand opens the path, from its own working directory */
		if (netns[0] != '/')
			return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, netns, ret_error,
					  "CNI_NETNS is not an absolute path");
		if (strlen(netns) >= PATH_MAX)
			return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, NULL, ret_error,
					  "CNI_NETNS is longer than %d bytes", PATH_MAX - 1);
		if (!tartan_cni_utf8_valid(netns, strlen(netns)))
			return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, netns, ret_error,
					  "CNI_NETNS is not valid UTF-8");
	}
	if (cmd->attachment && args && !tartan_cni_utf8_valid(args, strlen(args)))
		return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, args, ret_error,
				  "CNI_ARGS is not valid UTF-8");
	if (!tartan_cni_utf8_valid(path, strlen(path)))
		return cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, path, ret_error,
				  "CNI_PATH is not valid UTF-8");
	return 0;
}

static int decode_error(struct tartan_cni_error **ret_error, const char *what)
{
	return cni_refuse(TARTAN_CNI_ERR_DECODING, NULL, ret_error,
			  "error decoding network config: %s", what);
}

/* the list GC keeps: [{"containerID":string,"ifname":string}, ...] */
static bool attachments_valid(json_t *list)
{
	json_t *a;
	size_t i;

	if (!json_is_array(list))
		return false;
	json_array_foreach(list, i, a)
		if (!json_is_string(json_object_get(a, "containerID")) ||
		    !json_is_string(json_object_get(a, "ifname")))
			return false;
	return true;
}

/* the keys of the config this plugin reads itself; everything else is tartand's */
static int check_config_keys(struct tartan_cni_request *req, json_t *config,
			     const struct command *cmd, struct tartan_cni_error **ret_error)
{
	json_t *prev = json_object_get(config, "prevResult"),
	       *attachments = json_object_get(config, "cni.dev/valid-attachments"),
	       *sock = json_object_get(config, "socket"),
	       *wait = json_object_get(config, "daemonWaitSeconds"),
	       *pending = json_object_get(config, "pendingDelDir");
	struct sockaddr_un sa;

	if (prev && !json_is_null(prev) && !json_is_object(prev))
		return decode_error(ret_error, "prevResult is not an object");
	if (cmd->command == TARTAN_CNI_GC && attachments && !json_is_null(attachments) &&
	    !attachments_valid(attachments))
		return decode_error(ret_error, "cni.dev/valid-attachments is not a list of "
					       "{\"containerID\":string,\"ifname\":string}");
	if (sock && !json_is_null(sock)) {
		const char *s = json_string_value(sock);

		if (!json_is_string(sock))
			return decode_error(ret_error, "socket is not a string");
		if (s[0] != '/' || json_string_length(sock) >= sizeof(sa.sun_path) ||
		    strlen(s) != json_string_length(sock))
			return cni_refuse(TARTAN_CNI_ERR_INVALID_CONFIG, s, ret_error,
					  "socket is not an absolute path of at most %zu bytes",
					  sizeof(sa.sun_path) - 1);
		free(req->socket);
		req->socket = strdup(s);
		if (!req->socket)
			return -ENOMEM;
	}
	if (wait && !json_is_null(wait)) {
		double v = json_number_value(wait);

		if (!json_is_number(wait))
			return decode_error(ret_error, "daemonWaitSeconds is not a number");
		if (!(v >= 0 && v <= TARTAN_CNI_WAIT_MAX_S))
			return cni_refuse(TARTAN_CNI_ERR_INVALID_CONFIG, NULL, ret_error,
					  "daemonWaitSeconds is not in [0, %g]",
					  TARTAN_CNI_WAIT_MAX_S);
		req->wait = v;
	}
	if (pending && !json_is_null(pending)) {
		const char *s = json_string_value(pending);

		if (!json_is_string(pending))
			return decode_error(ret_error, "pendingDelDir is not a string");
		if (s[0] != '/' || json_string_length(pending) >= PATH_MAX - 64 ||
		    strlen(s) != json_string_length(pending))
			return cni_refuse(
				TARTAN_CNI_ERR_INVALID_CONFIG, s, ret_error,
				"pendingDelDir is not an absolute path of at most %d bytes",
				PATH_MAX - 65);
		free(req->pending_dir);
		req->pending_dir = strdup(s);
		if (!req->pending_dir)
			return -ENOMEM;
	}
	return 0;
}

/* index of v in tartan_cni_versions (v is one of them) */
static size_t version_index(const char *v)
{
	size_t i = 0;

	while (i + 1 < TARTAN_CNI_VERSIONS_N && strcmp(tartan_cni_versions[i], v) != 0)
		i++;
	return i;
}

static int check_version(const char *asked, const struct command *cmd, const char **ret_version,
			 struct tartan_cni_error **ret_error)
{
	const char *v = tartan_cni_version_find(asked);
	char details[TARTAN_CNI_ERROR_TEXT_MAX + 128];

	if (!v) {
		/* libcni's words; details cut long junk at the end of the list */
		size_t n = (size_t)snprintf(details, sizeof(details),
					    "config is \"%.*s\", plugin supports [", 200, asked);

		for (size_t i = 0; i < TARTAN_CNI_VERSIONS_N && n < sizeof(details); i++)
			n += (size_t)snprintf(details + n, sizeof(details) - n, "%s\"%s\"",
					      i ? " " : "", tartan_cni_versions[i]);
		if (n < sizeof(details))
			snprintf(details + n, sizeof(details) - n, "]");
		return cni_refuse(TARTAN_CNI_ERR_INCOMPATIBLE_VERSION, details, ret_error,
				  "incompatible CNI versions");
	}
	if (cmd->min_version && version_index(v) < version_index(cmd->min_version))
		return cni_refuse(TARTAN_CNI_ERR_INCOMPATIBLE_VERSION, NULL, ret_error,
				  "config version does not allow %s", cmd->name);
	*ret_version = v;
	return 0;
}

/* VERSION: only the asked cniVersion matters; bad input is no error (skel
 * ignores stdin for VERSION altogether) */
static int version_request(struct tartan_cni_request *req, const void *data, size_t len)
{
	json_auto_t *config = NULL;
	json_t *v;

	req->version = TARTAN_CNI_VERSION_LATEST;
	if (len == 0 || len > TARTAN_CNI_STDIN_MAX)
		return 0;
	config = json_loadb(data, len, 0, NULL);
	v = json_object_get(config, "cniVersion");
	if (!json_is_string(v) || json_string_length(v) > 32 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return 0;
	req->asked = strdup(json_string_value(v));
	if (!req->asked)
		return -ENOMEM;
	req->version = req->asked;
	return 0;
}

/* req->line from req->cni; -EMSGSIZE when it is longer than the control socket takes */
static int render_line(struct tartan_cni_request *req, size_t *ret_len)
{
	json_auto_t *line = NULL;
	_cleanup_free_ char *s = NULL;
	size_t len;

	line = json_pack("{s:s,s:O}", "command", "cni", "cni", req->cni);
	if (!line)
		return -ENOMEM;
	/* compact: control characters are escaped, so it is one line */
	s = json_dumps(line, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	len = strlen(s);
	*ret_len = len;
	if (len > TARTAN_CONTROL_LINE_MAX)
		return -EMSGSIZE;
	free(req->line);
	req->line = malloc(len + 2);
	if (!req->line)
		return -ENOMEM;
	memcpy(req->line, s, len);
	req->line[len] = '\n';
	req->line[len + 1] = '\0';
	req->line_len = len + 1;
	return 0;
}

int tartan_cni_request_drop_netns_fd(struct tartan_cni_request *r)
{
	size_t len;

	if (!r->cni || !json_object_get(r->cni, "netnsFd"))
		return 0;
	json_object_del(r->cni, "netnsFd");
	/* shorter than before, so it fits */
	return render_line(r, &len);
}

int tartan_cni_request_pending_record(const struct tartan_cni_request *r,
				      char ret_name[TARTAN_CNI_PENDING_NAME_SIZE], char **ret_text)
{
	const char *id = json_string_value(json_object_get(r->cni, "containerID")),
		   *ifname = json_string_value(json_object_get(r->cni, "ifName"));
	json_auto_t *o = NULL;
	char *text;

	if (r->command != TARTAN_CNI_DEL || !id || !ifname)
		return -EINVAL;
	o = json_pack("{s:s,s:s,s:O*,s:O*,s:O,s:O}", "containerID", id, "ifName", ifname, "netns",
		      json_object_get(r->cni, "netns"), "args", json_object_get(r->cni, "args"),
		      "cniVersion", json_object_get(r->cni, "cniVersion"), "config",
		      json_object_get(r->cni, "config"));
	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	tartan_cni_pending_name(id, ifname, ret_name);
	*ret_text = text;
	return 0;
}

static int build_line(struct tartan_cni_request *req, char *const *envp, const struct command *cmd,
		      json_t *config, struct tartan_cni_error **ret_error)
{
	json_auto_t *cni = NULL;
	const char *netns = env_get(envp, "CNI_NETNS"), *args = env_get(envp, "CNI_ARGS");
	size_t len;
	int r;

	cni = json_pack("{s:s}", "command", cmd->name);
	if (!cni)
		return -ENOMEM;
	/* every string was checked to be UTF-8, so json_string() fails only
	 * for want of memory */
	if (cmd->attachment) {
		/* the plugin sends the namespace it opened with the line (main.c); a DEL whose
		 * namespace is gone goes without (tartan_cni_request_drop_netns_fd()) */
		if (json_object_set_new(cni, "containerID",
					json_string(env_get(envp, "CNI_CONTAINERID"))) < 0 ||
		    (netns && json_object_set_new(cni, "netns", json_string(netns)) < 0) ||
		    (netns && json_object_set_new(cni, "netnsFd", json_true()) < 0) ||
		    json_object_set_new(cni, "ifName", json_string(env_get(envp, "CNI_IFNAME"))) <
			    0 ||
		    (args && json_object_set_new(cni, "args", json_string(args)) < 0))
			return -ENOMEM;
	}
	if (json_object_set_new(cni, "path", json_string(env_get(envp, "CNI_PATH"))) < 0 ||
	    json_object_set_new(cni, "cniVersion", json_string(req->version)) < 0 ||
	    json_object_set(cni, "config", config) < 0)
		return -ENOMEM;
	req->cni = json_incref(cni);
	r = render_line(req, &len);
	if (r == -EMSGSIZE) {
		char details[128];

		snprintf(details, sizeof(details),
			 "the request is %zu bytes, tartand takes at most %d", len,
			 TARTAN_CONTROL_LINE_MAX);
		return cni_refuse(TARTAN_CNI_ERR_INVALID_CONFIG, details, ret_error,
				  "network config too large for tartand's control socket");
	}
	return r;
}

/* the CNI request on stdin: a JSON object with a valid name and version */
static int parse_config(const void *data, size_t len, const struct command *cmd,
			const char **ret_version, json_t **ret_config,
			struct tartan_cni_error **ret_error)
{
	json_auto_t *config = NULL;
	json_t *name, *version;
	json_error_t jerr;
	int r;

	if (len > TARTAN_CNI_STDIN_MAX)
		return cni_refuse(TARTAN_CNI_ERR_INVALID_CONFIG, NULL, ret_error,
				  "network config is longer than %d bytes", TARTAN_CNI_STDIN_MAX);
	/* DECODE_ANY, so that "42" is told "not an object" rather than a syntax error */
	config = json_loadb(data ? data : "", len, JSON_DECODE_ANY, &jerr);
	if (!config) {
		char what[sizeof(jerr.text) + 64];

		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		snprintf(what, sizeof(what), "%s (line %d, column %d)", jerr.text, jerr.line,
			 jerr.column);
		return decode_error(ret_error, what);
	}
	if (!json_is_object(config))
		return decode_error(ret_error, "not a JSON object");

	/* skel validateConfig(): a JSON null is an absent key, as in Go */
	name = json_object_get(config, "name");
	if (name && !json_is_null(name) && !json_is_string(name))
		return decode_error(ret_error, "name is not a string");
	if (!json_is_string(name) || json_string_length(name) == 0)
		return cni_refuse(TARTAN_CNI_ERR_INVALID_CONFIG, NULL, ret_error,
				  "missing network name");
	if (strlen(json_string_value(name)) != json_string_length(name) ||
	    !cni_name_valid(json_string_value(name)))
		return cni_refuse(TARTAN_CNI_ERR_INVALID_CONFIG, json_string_value(name), ret_error,
				  "invalid characters found in network name");

	/* version.ConfigDecoder: no cniVersion means 0.1.0 */
	version = json_object_get(config, "cniVersion");
	if (version && !json_is_null(version) && !json_is_string(version))
		return decode_error(ret_error, "cniVersion is not a string");
	r = check_version(json_is_string(version) && json_string_length(version) > 0 ?
				  json_string_value(version) :
				  "0.1.0",
			  cmd, ret_version, ret_error);
	if (r < 0)
		return r;
	*ret_config = json_incref(config);
	return 0;
}

int tartan_cni_request_new(char *const *envp, const void *stdin_data, size_t stdin_len,
			   struct tartan_cni_request **ret, struct tartan_cni_error **ret_error)
{
	json_auto_t *config = NULL;
	struct tartan_cni_error *error = NULL;
	struct tartan_cni_request *req;
	const struct command *cmd = NULL;
	const char *name;
	int r;

	if (!ret || !ret_error || (!stdin_data && stdin_len > 0))
		return -EINVAL;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->wait = TARTAN_CNI_DEFAULT_WAIT_S;
	req->timeout = TARTAN_CNI_DEFAULT_TIMEOUT_S;
	req->socket = strdup(TARTAN_CNI_DEFAULT_SOCKET);
	req->pending_dir = strdup(TARTAN_CNI_DEFAULT_PENDING_DIR);
	if (!req->socket || !req->pending_dir) {
		r = -ENOMEM;
		goto fail;
	}

	name = env_get(envp, "CNI_COMMAND");
	if (!name) {
		r = cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, NULL, &error,
			       "required env variables [CNI_COMMAND] missing");
		goto fail;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		r = cni_refuse(TARTAN_CNI_ERR_INVALID_ENV, NULL, &error,
			       "unknown CNI_COMMAND: %.64s", name);
		goto fail;
	}
	req->command = cmd->command;
	if (cmd->command == TARTAN_CNI_VERSION) {
		r = version_request(req, stdin_data, stdin_len);
		if (r < 0)
			goto fail;
		*ret = req;
		return 0;
	}

	r = check_env(envp, cmd, &error);
	if (r < 0)
		goto fail;
	/* checked with the other variables, before stdin; TARTAN_CNI_WAIT_S is set again
	 * after the conf below, since the environment overrides "daemonWaitSeconds" */
	r = env_seconds(envp, "TARTAN_CNI_WAIT_S", 0, false, &req->wait, &error);
	if (r < 0)
		goto fail;
	r = env_seconds(envp, "TARTAN_CNI_TIMEOUT_S", 0, true, &req->timeout, &error);
	if (r < 0)
		goto fail;
	r = parse_config(stdin_data, stdin_len, cmd, &req->version, &config, &error);
	if (r < 0)
		goto fail;
	r = check_config_keys(req, config, cmd, &error);
	if (r < 0)
		goto fail;
	r = env_seconds(envp, "TARTAN_CNI_WAIT_S", 0, false, &req->wait, &error);
	if (r < 0)
		goto fail;
	r = build_line(req, envp, cmd, config, &error);
	if (r < 0)
		goto fail;
	*ret = req;
	return 0;

fail:
	if (error) {
		/* answer in the request's version when it was one we speak */
		error->cni_version = req->version;
		*ret_error = error;
	}
	tartan_cni_request_free(req);
	return r;
}
