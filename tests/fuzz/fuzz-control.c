/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz both ends of the control protocol with the same bytes:
 *  - tartan_control_parse_request(): what the daemon makes of a request
 *    line; a parsed request, sent back as the daemon's answer
 *    (tartan_control_format_answer), must come out of tartanctl's parser as
 *    the same JSON, and an error message the same words;
 *  - tartan_ctl_answer_parse() and the text and JSON renderers: what
 *    tartanctl prints for an answer, which must hold no byte outside
 *    printable ASCII but the line ends, so a socket cannot drive the
 *    terminal.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/answer.h"
#include "daemon/control.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool printable(const char *s, bool newlines)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch < 0x20 || ch >= 0x7f) && !(newlines && ch == '\n'))
			return false;
	}
	return true;
}

/* the answer line is one line, and tartanctl reads back what the daemon meant */
static void check_round_trip(int error, json_t *result, const char *message)
{
	json_t *back = NULL;
	char *line = NULL, *back_error = NULL;
	size_t len = 0;
	int r;

	r = tartan_control_format_answer(error, result, message, &line, &len);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r < 0)
		return;
	FUZZ_CHECK(len > 0 && line[len - 1] == '\n' && memchr(line, '\n', len) == line + len - 1);
	FUZZ_CHECK(strlen(line) == len);
	r = tartan_ctl_answer_parse(line, len, &back, &back_error);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0 && error == 0) {
		FUZZ_CHECK(back && !back_error);
		FUZZ_CHECK(json_equal(back, result));
	} else if (r == 0) {
		FUZZ_CHECK(!back && back_error);
		/* the parser's messages are printable ASCII, so escaping keeps them */
		FUZZ_CHECK(strcmp(back_error, message) == 0);
	}
	json_decref(back);
	free(back_error);
	free(line);
}

static void fuzz_request(const char *line, size_t size)
{
	json_t *req = NULL;
	const char *command = NULL;
	char *error = NULL;
	int r;

	r = tartan_control_parse_request(line, size, &req, &command, &error);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EINVAL || r == -EMSGSIZE || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(json_is_object(req) && !error);
		FUZZ_CHECK(command && *command);
		FUZZ_CHECK(json_string_value(json_object_get(req, "command")) == command);
		FUZZ_CHECK(size <= TARTAN_CONTROL_LINE_MAX);
		check_round_trip(0, req, NULL);
	} else {
		FUZZ_CHECK(!req && !command);
		if (r != -ENOMEM) {
			FUZZ_CHECK(error && *error);
			/* one line of plain text: it goes to the client as it is */
			FUZZ_CHECK(printable(error, false));
			check_round_trip(r, NULL, error);
		}
	}
	json_decref(req);
	free(error);
}

static void fuzz_answer(const char *line, size_t size)
{
	json_t *result = NULL;
	char *error = NULL, *text = NULL;
	int r;

	r = tartan_ctl_answer_parse(line, size, &result, &error);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(!result && !error);
		return;
	}
	FUZZ_CHECK(!result != !error);
	if (error) {
		FUZZ_CHECK(printable(error, false));
		free(error);
		return;
	}
	FUZZ_CHECK(json_is_object(result));
	r = tartan_ctl_render_status(result, 1700000000, &text);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(printable(text, true));
		FUZZ_CHECK(strncmp(text, "State:", 6) == 0);
		free(text);
	}
	r = tartan_ctl_render_leases(result, &text);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	FUZZ_CHECK((r == -EBADMSG) == !json_is_array(json_object_get(result, "leases")));
	if (r == 0) {
		FUZZ_CHECK(printable(text, true));
		FUZZ_CHECK(strncmp(text, "SUBNET", 6) == 0);
		free(text);
	}
	r = tartan_ctl_render_json(result, &text);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(printable(text, true));
		free(text);
	}
	json_decref(result);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request((const char *)data, size);
	fuzz_answer((const char *)data, size);
	return 0;
}
