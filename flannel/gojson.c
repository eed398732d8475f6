/* SPDX-License-Identifier: Apache-2.0 */
/* How Go's encoding/json reads an object into a struct, for flannel's JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "flannel/gojson.h"

/*
 * Go's foldName: ASCII letters upper-cased, any other rune r mapped to
 * ToUpper(ToLower(r)). Only four non-ASCII runes fold into ASCII, and field
 * names are ASCII, so only those need handling. Returns the folded ASCII
 * character and the bytes used, or 0 when the rune can't match ASCII.
 */
static char fold_next(const char *s, size_t *used)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[0] < 0x80) {
		*used = 1;
		return (char)(u[0] >= 'a' && u[0] <= 'z' ? u[0] - 'a' + 'A' : u[0]);
	}
	if (u[0] == 0xc5 && u[1] == 0xbf) { /* U+017F LATIN SMALL LETTER LONG S */
		*used = 2;
		return 'S';
	}
	if (u[0] == 0xc4 && (u[1] == 0xb0 || u[1] == 0xb1)) { /* U+0130 İ, U+0131 ı */
		*used = 2;
		return 'I';
	}
	if (u[0] == 0xe2 && u[1] == 0x84 && u[2] == 0xaa) { /* U+212A KELVIN SIGN */
		*used = 3;
		return 'K';
	}
	return 0;
}

bool tartan_flannel_json_key_match(const char *json_key, const char *field)
{
	const char *k = json_key;
	const char *f = field;

	while (*k && *f) {
		size_t used = 1;
		char c = fold_next(k, &used);
		char fc = *f >= 'a' && *f <= 'z' ? (char)(*f - 'a' + 'A') : *f;

		if (c == 0 || c != fc)
			return false;
		k += used;
		f++;
	}
	return *k == '\0' && *f == '\0';
}

/* The value Go would keep in a field it copies whole: the last key that matches. */
json_t *tartan_flannel_json_field(json_t *obj, const char *field)
{
	json_t *found = NULL, *v;
	const char *key;

	json_object_foreach(obj, key, v)
		if (tartan_flannel_json_key_match(key, field))
			found = v;
	return found;
}

/*
 * Go decodes every key that matches a field, in document order: a bad one
 * fails the document even if a later one is good. Walk them with
 * `void *it = NULL; while ((v = tartan_flannel_json_next(obj, field, &it)))`.
 */
json_t *tartan_flannel_json_next(json_t *obj, const char *field, void **iter)
{
	void *it = *iter ? json_object_iter_next(obj, *iter) : json_object_iter(obj);

	for (; it; it = json_object_iter_next(obj, it)) {
		if (tartan_flannel_json_key_match(json_object_iter_key(it), field)) {
			*iter = it;
			return json_object_iter_value(it);
		}
	}
	return NULL;
}

const char *tartan_flannel_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
		break;
	}
	return "null";
}

/* Go's UnmarshalTypeError text; numbers name their value, as Go does. */

int tartan_flannel_fail(char **ret_error, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	if (!ret_error)
		return -EINVAL;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	*ret_error = s;
	return -EINVAL;
}
