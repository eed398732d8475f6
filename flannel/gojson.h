/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading JSON objects the way Go's encoding/json fills a struct, so that
 * flannel's config and lease values mean to tartan what they mean to
 * flanneld: keys match field names case-insensitively (with Go's folding),
 * every matching key is decoded in document order, and a field copied whole
 * (json.RawMessage) takes the last matching key.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/*
 * Go encoding/json's key matching: json_key (UTF-8) names the struct field
 * field (ASCII) when equal under Go's folding, in which "ſ" (U+017F) is "s",
 * the Kelvin sign (U+212A) is "k" and "İ"/"ı" (U+0130/U+0131) are "i".
 */
bool tartan_flannel_json_key_match(const char *json_key, const char *field);

/* The value Go would keep in a field it copies whole: the last matching key. */
json_t *tartan_flannel_json_field(json_t *obj, const char *field);

/* The next key matching field, in document order: walk them with
 * `void *it = NULL; while ((v = tartan_flannel_json_next(obj, field, &it)))`. */
json_t *tartan_flannel_json_next(json_t *obj, const char *field, void **iter);

/* Go's name for a JSON value's kind, for error messages as flanneld words them. */
const char *tartan_flannel_json_kind(const json_t *v);

/* For the parsers' refusals: sets *ret_error (if not NULL) to the formatted
 * reason and returns -EINVAL, or -ENOMEM when the reason can't be built. */
int tartan_flannel_fail(char **ret_error, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
