/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the parser of host-local's address files (tartan_ipam_content_parse,
 * daemon/ipam.h), which reads what host-local, an operator or a crash left in
 * the IPAM directory. Beyond "no crash, no leak":
 *  - it answers 0, -EBADMSG or -ENOMEM, and refuses anything longer than
 *    TARTAN_IPAM_FILE_MAX;
 *  - what it takes is exactly the input with white space trimmed: the id, or
 *    the id, "\r\n" and the interface name; both fields are what
 *    tartan_ipam_attachment_is_valid() accepts (an id alone with any valid
 *    interface), so the daemon can store them again and print them safely;
 *  - the file tartan would write for them parses back to the same fields;
 *  - what it refuses (short enough, no NUL) is empty once trimmed, or
 *    split at its first "\r\n" has a field tartan_ipam_attachment_is_valid()
 *    refuses: the parser and the validity rule never disagree.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ipam.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* an interface name the rules take, to ask about an id alone */
#define ANY_IFNAME "eth0"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Go's unicode.IsSpace for ASCII (strings.TrimSpace), as host-local trims */
static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* the bytes the parser looks at once white space is trimmed: [*ret_from, *ret_to) */
static void trim(const uint8_t *data, size_t size, size_t *ret_from, size_t *ret_to)
{
	size_t from = 0, to = size;

	while (from < to && is_space(data[from]))
		from++;
	while (to > from && is_space(data[to - 1]))
		to--;
	*ret_from = from;
	*ret_to = to;
}

/* the content tartan writes for the fields (tartan_ipam_allocate) */
static char *serialize(const char *id, const char *ifname)
{
	char *s = NULL;
	int n = ifname ? asprintf(&s, "%s\r\n%s", id, ifname) : asprintf(&s, "%s", id);

	return n < 0 ? NULL : s;
}

static void check_taken(const uint8_t *data, size_t from, size_t to, const char *id,
			const char *ifname)
{
	char *text, *id2 = NULL, *ifname2 = NULL;
	int r;

	FUZZ_CHECK(id && id[0]);
	FUZZ_CHECK(tartan_ipam_attachment_is_valid(id, ifname ? ifname : ANY_IFNAME));
	FUZZ_CHECK(strlen(id) <= TARTAN_IPAM_ID_MAX);
	FUZZ_CHECK(!ifname || strlen(ifname) <= TARTAN_IPAM_IFNAME_MAX);

	text = serialize(id, ifname);
	if (!text)
		return;
	/* nothing dropped, nothing added but the trimmed white space */
	FUZZ_CHECK(strlen(text) == to - from && memcmp(text, data + from, to - from) == 0);

	/* what tartan would write for them reads back the same */
	r = tartan_ipam_content_parse(text, strlen(text), &id2, &ifname2);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(strcmp(id2, id) == 0);
		FUZZ_CHECK(!ifname2 == !ifname && (!ifname || strcmp(ifname2, ifname) == 0));
		free(id2);
		free(ifname2);
	}
	free(text);
}

static void check_refused(const uint8_t *data, size_t from, size_t to)
{
	const uint8_t *crlf = NULL;
	char *id, *ifname = NULL;

	if (from == to)
		return; /* empty once trimmed */
	/* the validity rule reads C strings: a NUL would hide the rest */
	if (memchr(data + from, '\0', to - from))
		return;
	for (size_t i = from; i + 1 < to; i++)
		if (data[i] == '\r' && data[i + 1] == '\n') {
			crlf = data + i;
			break;
		}
	if (crlf) {
		id = strndup((const char *)data + from, (size_t)(crlf - data) - from);
		ifname = strndup((const char *)crlf + 2, (size_t)(data + to - crlf - 2));
	} else {
		id = strndup((const char *)data + from, to - from);
	}
	if (id && (!crlf || ifname))
		FUZZ_CHECK(!tartan_ipam_attachment_is_valid(id, crlf ? ifname : ANY_IFNAME));
	free(id);
	free(ifname);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *id = NULL, *ifname = NULL;
	size_t from, to;
	int r;

	r = tartan_ipam_content_parse((const char *)data, size, &id, &ifname);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (size > TARTAN_IPAM_FILE_MAX)
		FUZZ_CHECK(r == -EBADMSG);
	if (r == -ENOMEM)
		return 0;
	trim(data, size, &from, &to);
	if (r == 0) {
		check_taken(data, from, to, id, ifname);
		free(id);
		free(ifname);
	} else if (size <= TARTAN_IPAM_FILE_MAX) {
		check_refused(data, from, to);
	}
	return 0;
}
