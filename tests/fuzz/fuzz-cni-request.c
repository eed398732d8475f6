/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the tartan CNI plugin's parsers with the same bytes:
 *  - tartan_cni_request_new(): the input up to the first empty line is the
 *    environment (one NAME=value a line), the rest is stdin; without an empty
 *    line all of it is the stdin of an ADD. A request it takes must come out
 *    as one line that the daemon's own parser (tartan_control_parse_request)
 *    takes, within the control socket's limit, naming the same command; a
 *    refusal must be a CNI error with one of the codes the parser gives, in
 *    valid UTF-8, that renders as a JSON error object;
 *  - tartan_cni_answer_parse() and tartan_cni_result_render(): what the
 *    plugin makes of the daemon's answer, rendered in every version: one line
 *    of JSON with that cniVersion, or a refusal.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <jansson.h>

#include "cni/request.h"
#include "cni/result.h"
#include "daemon/control.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define ENV_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* text is one JSON line ('\n' last and only there) whose object has this cniVersion */
static json_t *check_line(const char *text, const char *version)
{
	size_t len = strlen(text);
	json_t *v;

	FUZZ_CHECK(len > 0 && text[len - 1] == '\n' && memchr(text, '\n', len) == text + len - 1);
	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(v));
	if (version)
		FUZZ_CHECK(json_is_string(json_object_get(v, "cniVersion")) &&
			   strcmp(json_string_value(json_object_get(v, "cniVersion")), version) ==
				   0);
	return v;
}

static void check_error(const struct tartan_cni_error *e)
{
	static const unsigned int codes[] = { 1, 4, 6, 7 };
	bool known = false;
	char *text = NULL;
	json_t *v;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		known = known || e->code == codes[i];
	FUZZ_CHECK(known);
	FUZZ_CHECK(e->msg[0] && tartan_cni_utf8_valid(e->msg, strlen(e->msg)));
	FUZZ_CHECK(tartan_cni_utf8_valid(e->details, strlen(e->details)));
	FUZZ_CHECK(!e->cni_version || tartan_cni_version_find(e->cni_version) == e->cni_version);
	if (tartan_cni_error_render(e, NULL, &text) < 0)
		return;
	v = check_line(text, e->cni_version ? e->cni_version : TARTAN_CNI_VERSION_LATEST);
	FUZZ_CHECK(json_integer_value(json_object_get(v, "code")) == (json_int_t)e->code);
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(v, "msg")), e->msg) == 0);
	json_decref(v);
	free(text);
}

static void fuzz_request(char *const *envp, const char *command, const uint8_t *in, size_t len)
{
	struct tartan_cni_request *req = NULL;
	struct tartan_cni_error *e = NULL;
	const char *line, *parsed_command;
	json_t *parsed = NULL, *cni;
	char *perr = NULL, *text = NULL;
	size_t line_len = 0;
	int r;

	r = tartan_cni_request_new(envp, in, len, &req, &e);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL) {
		FUZZ_CHECK(e && !req);
		check_error(e);
		tartan_cni_error_free(e);
		return;
	}
	if (r < 0)
		return;
	FUZZ_CHECK(req && !e);
	line = tartan_cni_request_line(req, &line_len);
	if (tartan_cni_request_command(req) == TARTAN_CNI_VERSION) {
		FUZZ_CHECK(!line && command && strcmp(command, "VERSION") == 0);
		if (tartan_cni_version_render(tartan_cni_request_version(req), &text) == 0) {
			json_decref(check_line(text, NULL));
			free(text);
		}
		tartan_cni_request_free(req);
		return;
	}
	FUZZ_CHECK(tartan_cni_version_find(tartan_cni_request_version(req)) ==
		   tartan_cni_request_version(req));
	FUZZ_CHECK(tartan_cni_request_socket(req)[0] == '/' &&
		   strlen(tartan_cni_request_socket(req)) <
			   sizeof(((struct sockaddr_un *)0)->sun_path));
	FUZZ_CHECK(tartan_cni_request_wait(req) >= 0 &&
		   tartan_cni_request_wait(req) <= TARTAN_CNI_WAIT_MAX_S);
	FUZZ_CHECK(tartan_cni_request_timeout(req) > 0 &&
		   tartan_cni_request_timeout(req) <= TARTAN_CNI_WAIT_MAX_S);

	/* one line, which the daemon takes as the same request */
	FUZZ_CHECK(line && line_len == strlen(line) && line[line_len - 1] == '\n');
	FUZZ_CHECK(memchr(line, '\n', line_len) == line + line_len - 1);
	FUZZ_CHECK(line_len - 1 <= TARTAN_CONTROL_LINE_MAX);
	r = tartan_control_parse_request(line, line_len - 1, &parsed, &parsed_command, &perr);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(strcmp(parsed_command, "cni") == 0);
		cni = json_object_get(parsed, "cni");
		FUZZ_CHECK(json_is_object(json_object_get(cni, "config")));
		/* the namespace goes as an fd whenever there is one (main.c sends it) */
		FUZZ_CHECK(!json_object_get(cni, "netns") ==
			   !json_is_true(json_object_get(cni, "netnsFd")));
		FUZZ_CHECK(command && strcmp(json_string_value(json_object_get(cni, "command")),
					     command) == 0);
		FUZZ_CHECK(strcmp(json_string_value(json_object_get(cni, "cniVersion")),
				  tartan_cni_request_version(req)) == 0);
		json_decref(parsed);
	}
	free(perr);
	tartan_cni_request_free(req);
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
	struct tartan_cni_error *e = NULL;
	json_t *result = NULL;
	int r;

	r = tartan_cni_answer_parse((const char *)data, size, &result, &e);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(!result && !e);
		return;
	}
	FUZZ_CHECK(!result != !e);
	if (e) {
		char *text = NULL;

		FUZZ_CHECK(tartan_cni_utf8_valid(e->msg, strlen(e->msg)));
		FUZZ_CHECK(tartan_cni_utf8_valid(e->details, strlen(e->details)));
		if (tartan_cni_error_render(e, "0.4.0", &text) == 0) {
			json_decref(check_line(text, "0.4.0"));
			free(text);
		}
		tartan_cni_error_free(e);
		return;
	}
	for (size_t i = 0; i < TARTAN_CNI_VERSIONS_N; i++) {
		char *text = NULL;

		r = tartan_cni_result_render(result, tartan_cni_versions[i], &text);
		FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
		if (r == 0) {
			json_t *v = check_line(text, tartan_cni_versions[i]);

			FUZZ_CHECK(json_is_object(json_object_get(v, "dns")));
			json_decref(v);
			free(text);
		}
	}
	json_decref(result);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const add_env[] = {
		"CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr-0001", "CNI_NETNS=/var/run/netns/pod",
		"CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin",    NULL,
	};
	const uint8_t *sep = memmem(data, size, "\n\n", 2);
	char *envbuf = NULL, *envp[ENV_MAX + 1];
	const char *command = "ADD";

	if (sep) {
		size_t env_len = (size_t)(sep - data), n = 0;
		char *p, *entry;

		envbuf = malloc(env_len + 1);
		if (!envbuf)
			return 0;
		memcpy(envbuf, data, env_len);
		envbuf[env_len] = '\0';
		p = envbuf;
		command = NULL;
		while (n < ENV_MAX && (entry = strsep(&p, "\n"))) {
			/* the first one counts, as in the parser */
			if (!command && strncmp(entry, "CNI_COMMAND=", 12) == 0)
				command = entry + 12;
			envp[n++] = entry;
		}
		envp[n] = NULL;
		fuzz_request(envp, command, sep + 2, size - env_len - 2);
	} else {
		fuzz_request(add_env, command, data, size);
	}
	fuzz_answer(data, size);
	free(envbuf);
	return 0;
}
