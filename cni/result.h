/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the tartan CNI plugin prints, and what it makes of tartand's answer.
 *
 * CNI spec (cni-etcd-api.md 1.5, 1.6): a plugin answers in the cniVersion of
 * the request; results of 0.3.x and 0.4.0 carry "version" ("4" or "6") in
 * each ips[] entry, 1.0.0 dropped it, 1.1.0 added interface mtu, socketPath
 * and pciID and route mtu, advmss, priority, table and scope. A failure is an
 * error object {"cniVersion","code","msg","details"} on stdout, exit status 1.
 *
 * The daemon answers in one version-neutral form (the 1.1.0 shape, without
 * cniVersion, see tartan-cni-protocol); this module turns it into the text of
 * one version, keeping only the fields that version defines, so a runtime
 * never sees a key its version does not know. Pure: buffers in, text out.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* CNI error codes (SPEC.md "Error", libcni pkg/types) */
enum {
	TARTAN_CNI_ERR_INCOMPATIBLE_VERSION = 1,
	TARTAN_CNI_ERR_UNSUPPORTED_FIELD = 2,
	TARTAN_CNI_ERR_UNKNOWN_CONTAINER = 3,
	TARTAN_CNI_ERR_INVALID_ENV = 4,
	TARTAN_CNI_ERR_IO = 5,
	TARTAN_CNI_ERR_DECODING = 6,
	TARTAN_CNI_ERR_INVALID_CONFIG = 7,
	TARTAN_CNI_ERR_TRY_AGAIN_LATER = 11,
	TARTAN_CNI_ERR_NOT_AVAILABLE = 50, /* STATUS (1.1.0): cannot take pods now */
	TARTAN_CNI_ERR_INTERNAL = 999,
};

/* the versions the plugin speaks, oldest first; the last is its own */
#define TARTAN_CNI_VERSIONS_N 4
extern const char *const tartan_cni_versions[TARTAN_CNI_VERSIONS_N];
#define TARTAN_CNI_VERSION_LATEST "1.1.0"

/* the longest msg and details kept (longer ones are cut at a character) */
#define TARTAN_CNI_ERROR_TEXT_MAX 1024

/* the longest answer line the plugin reads from tartand */
#define TARTAN_CNI_ANSWER_MAX (1024 * 1024)

/*
 * A CNI error. msg and details are valid UTF-8 (anything else was replaced
 * by U+FFFD); details is "" when there are none. cni_version is the
 * request's version when it was known and supported (one of
 * tartan_cni_versions, static), else NULL.
 */
struct tartan_cni_error {
	unsigned int code;
	char *msg;
	char *details;
	const char *cni_version;
};

/* msg from a printf format; details may be NULL. -ENOMEM. */
_tartan_wur_ __attribute__((format(printf, 4, 5))) int
tartan_cni_error_new(unsigned int code, const char *details, struct tartan_cni_error **ret,
		     const char *fmt, ...);
void tartan_cni_error_free(struct tartan_cni_error *e);
static inline void tartan_cni_error_freep(struct tartan_cni_error **e)
{
	tartan_cni_error_free(*e);
}

/* the static entry of tartan_cni_versions equal to v, or NULL */
const char *tartan_cni_version_find(const char *v);

/* true if s[0..len) is UTF-8 as JSON carries it: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no NUL */
bool tartan_cni_utf8_valid(const char *s, size_t len);

/*
 * The result of an ADD, '\n'-terminated, for cni_version (one of
 * tartan_cni_versions, else -EINVAL): {"cniVersion", "interfaces", "ips",
 * "routes", "dns"} with each field the version defines copied from the
 * neutral result; "dns" is {} when the daemon gave none. -EBADMSG when the
 * neutral result is not of the neutral form (not an object, a list that is
 * not a list, an interface without a name, an ip without an address, an
 * interface index out of range, a field of the wrong type). -ENOMEM.
 */
_tartan_wur_ int tartan_cni_result_render(json_t *neutral, const char *cni_version,
					  char **ret_text);

/* The error object, '\n'-terminated, with cniVersion = cni_version, else
 * e->cni_version, else TARTAN_CNI_VERSION_LATEST. -ENOMEM. */
_tartan_wur_ int tartan_cni_error_render(const struct tartan_cni_error *e, const char *cni_version,
					 char **ret_text);

/*
 * The answer to VERSION, '\n'-terminated:
 * {"cniVersion":V,"supportedVersions":["0.3.1","0.4.0","1.0.0","1.1.0"]}
 * with V = asked when it is a version number ("1.0.0"; the spec: the output
 * echoes the version on input), else TARTAN_CNI_VERSION_LATEST. -ENOMEM.
 */
_tartan_wur_ int tartan_cni_version_render(const char *asked, char **ret_text);

/*
 * tartand's answer line (its '\n' or "\r\n" may be there or not):
 *  {"ok":true,"result":{"result":{NEUTRAL}}}  0, *ret_result = NEUTRAL (new
 *                                              reference), *ret_error NULL;
 *  {"ok":true,"result":{"error":{"code":N,"msg":M,"details":D}}}
 *                                              0, *ret_error = that error;
 *  {"ok":false,"error":"..."}                  0, *ret_error = code 11 (try
 *                                              again later) with the daemon's
 *                                              message in details;
 * anything else -EBADMSG (not JSON, duplicate keys, both or neither of
 * result and error, a code that is not an integer in [0, 2^32), ...);
 * -ENOMEM. Nothing is trusted: the line comes from a socket.
 */
_tartan_wur_ int tartan_cni_answer_parse(const char *line, size_t len, json_t **ret_result,
					 struct tartan_cni_error **ret_error);
