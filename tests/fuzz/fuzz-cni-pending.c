/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the parser of pending-DEL records (tartan_cni_pending_parse, cni/pending.h), which
 * tartand reads from a directory the plugin, an operator or a crash may have left anything
 * in. The input's first line is the file's name, the rest its content. Beyond "no crash, no
 * leak":
 *  - it answers 0, -EINVAL with a reason, or -ENOMEM, and refuses anything longer than
 *    TARTAN_CNI_PENDING_MAX;
 *  - what it takes is named by its attachment, has a config object, an absolute netns if
 *    any, and an attachment the daemon can store (tartan_ipam_attachment_is_valid()) unless
 *    the id is longer than the store takes, which the daemon refuses on its own;
 *  - the record the plugin would write for those fields parses back to the same.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cni/pending.h"
#include "daemon/ipam.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_taken(const char *name, const struct tartan_cni_pending *p)
{
	char want[TARTAN_CNI_PENDING_NAME_SIZE], *text;
	struct tartan_cni_pending *back = NULL;
	const char *reason = NULL;
	json_t *o;
	int r;

	tartan_cni_pending_name(p->id, p->ifname, want);
	FUZZ_CHECK(strcmp(name, want) == 0);
	FUZZ_CHECK(json_is_object(p->config) && p->cni_version);
	FUZZ_CHECK(!p->netns || p->netns[0] == '/');
	FUZZ_CHECK(tartan_ipam_attachment_is_valid(p->id, p->ifname) ||
		   strlen(p->id) > TARTAN_IPAM_ID_MAX);

	/* as the plugin writes it (cni/request.c) */
	o = json_pack("{s:s,s:s,s:s*,s:s*,s:s,s:O}", "containerID", p->id, "ifName", p->ifname,
		      "netns", p->netns, "args", p->args, "cniVersion", p->cni_version, "config",
		      p->config);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return;
	r = tartan_cni_pending_parse(name, text, strlen(text), &back, &reason);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(strcmp(back->id, p->id) == 0 && strcmp(back->ifname, p->ifname) == 0);
		FUZZ_CHECK(!back->netns == !p->netns && !back->args == !p->args);
		FUZZ_CHECK(json_equal(back->config, p->config));
		tartan_cni_pending_free(back);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	struct tartan_cni_pending *p = NULL;
	const char *reason = NULL, *content;
	size_t name_len = nl ? (size_t)(nl - data) : 0, len;
	char *name;
	int r;

	name = strndup((const char *)data, name_len);
	if (!name)
		return 0;
	content = nl ? (const char *)nl + 1 : (const char *)data;
	len = nl ? size - name_len - 1 : size;
	r = tartan_cni_pending_parse(name, content, len, &p, &reason);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (len > TARTAN_CNI_PENDING_MAX)
		FUZZ_CHECK(r == -EINVAL);
	if (r == -EINVAL)
		FUZZ_CHECK(reason && reason[0]);
	if (r == 0) {
		check_taken(name, p);
		tartan_cni_pending_free(p);
	}
	free(name);
	return 0;
}
