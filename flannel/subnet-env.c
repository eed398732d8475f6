/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flannel/subnet-env.h"

int tartan_subnet_env_format(const struct tartan_ip4_net *network,
			     const struct tartan_ip4_net *subnet, uint32_t mtu, bool ip_masq,
			     char *buf, size_t size, size_t *ret_len)
{
	char n[TARTAN_IP4_NET_STRLEN], s[TARTAN_IP4_NET_STRLEN];
	struct tartan_ip4_net first;
	int r;

	if (!tartan_ip4_net_is_valid(network) || !tartan_ip4_net_is_valid(subnet) ||
	    subnet->len > 30)
		return -EINVAL;

	/* flannel writes the lease's first usable address, not its network address */
	first = (struct tartan_ip4_net){ .addr = tartan_ip4_net_first_host(subnet),
					 .len = subnet->len };
	r = snprintf(buf, size,
		     "FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=%s\nFLANNEL_MTU=%u\nFLANNEL_IPMASQ=%s\n",
		     tartan_ip4_net_format(network, n), tartan_ip4_net_format(&first, s), mtu,
		     ip_masq ? "true" : "false");
	if (r < 0 || (size_t)r >= size)
		return -ENOBUFS;
	*ret_len = (size_t)r;
	return 0;
}

/* ------------------------------------------------------------- godotenv */

/*
 * godotenv v1.5.1 mixes three notions of blank, and which one applies
 * decides whether a file parses, so all three are here:
 *  - unicode.IsSpace on UTF-8 runes, between statements and at the right
 *    end of a key;
 *  - its own isSpace (\t \v \f \r space U+0085 U+00A0) on UTF-8 runes, to
 *    trim keys and values;
 *  - the same isSpace on single bytes taken as Latin-1, inside a key.
 */

/* length of the unicode.IsSpace rune at s (n bytes left), or 0 */
static size_t unicode_space_len(const unsigned char *s, size_t n)
{
	if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')))
		return 1;
	if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2;
	if (n >= 3 && s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) /* U+1680 */
		return 3;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	    (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf) && s[2] >= 0x80)
		return 3; /* U+2000..U+200A, U+2028, U+2029, U+202F */
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) /* U+205F */
		return 3;
	if (n >= 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) /* U+3000 */
		return 3;
	return 0;
}

/* length of godotenv's isSpace rune at s, or 0 */
static size_t dotenv_space_len(const unsigned char *s, size_t n)
{
	if (n >= 1 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\v' || s[0] == '\f' || s[0] == '\r'))
		return 1;
	if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2;
	return 0;
}

/* length of the godotenv isSpace rune that ends at s[end - 1], or 0 */
static size_t dotenv_space_len_before(const unsigned char *s, size_t start, size_t end)
{
	if (end > start && dotenv_space_len(s + end - 1, 1) == 1)
		return 1;
	/* 0xc2 can't be a continuation byte, so the pair is always one rune */
	if (end >= start + 2 && s[end - 2] == 0xc2 && (s[end - 1] == 0x85 || s[end - 1] == 0xa0))
		return 2;
	return 0;
}

/* as above for unicode.IsSpace: the ASCII ones and the 2- and 3-byte ones */
static size_t unicode_space_len_before(const unsigned char *s, size_t start, size_t end)
{
	for (size_t l = 1; l <= 3; l++)
		if (end >= start + l && unicode_space_len(s + end - l, l) == l)
			return l;
	return 0;
}

/* a key byte, taken as a Latin-1 rune: unicode.IsLetter || unicode.IsNumber || '.' || '_' */
static bool is_key_byte(unsigned char b)
{
	if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
	    b == '.' || b == '_')
		return true;
	/* letters ª µ º À..ÿ without × and ÷; numbers ² ³ ¹ ¼ ½ ¾ */
	if (b == 0xaa || b == 0xb5 || b == 0xba || (b >= 0xc0 && b != 0xd7 && b != 0xf7))
		return true;
	return b == 0xb2 || b == 0xb3 || b == 0xb9 || (b >= 0xbc && b <= 0xbe);
}

/* the same byte test godotenv's isSpace makes inside a key */
static bool is_key_space_byte(unsigned char b)
{
	return b == ' ' || b == '\t' || b == '\v' || b == '\f' || b == '\r' || b == 0x85 ||
	       b == 0xa0;
}

/* a value; it may hold NUL bytes, which make it invalid, as in Go */
struct value {
	char *s;
	size_t len;
};

struct parser {
	const unsigned char *s;
	size_t n;
	char **ret_error;
	/* the last value of each key we want, malloc'd */
	struct value network, subnet, mtu, ip_masq;
};

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
{
	char *msg, *s;
	unsigned line = 1;
	va_list ap;
	int r;

	if (!p->ret_error)
		return -EINVAL;
	for (size_t i = 0; i < pos && i < p->n; i++)
		line += p->s[i] == '\n';
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = asprintf(&s, "subnet.env line %u: %s", line, msg);
	free(msg);
	if (r < 0)
		return -ENOMEM;
	*p->ret_error = s;
	return -EINVAL;
}

/* getStatementStart: skip blanks and comment lines; n when the file is done */
static size_t statement_start(const struct parser *p, size_t pos)
{
	for (;;) {
		size_t l;

		while (pos < p->n && (l = unicode_space_len(p->s + pos, p->n - pos)) > 0)
			pos += l;
		if (pos >= p->n || p->s[pos] != '#')
			return pos;
		while (pos < p->n && p->s[pos] != '\n')
			pos++;
	}
}

static size_t skip_dotenv_space(const struct parser *p, size_t pos)
{
	size_t l;

	while (pos < p->n && (l = dotenv_space_len(p->s + pos, p->n - pos)) > 0)
		pos += l;
	return pos;
}

/* locateKeyName: the key in [*ret_key, *ret_key_end), the value's start in *ret_value */
static int locate_key(struct parser *p, size_t pos, size_t *ret_key, size_t *ret_key_end,
		      size_t *ret_value)
{
	size_t start, i, key_end, value;

	start = skip_dotenv_space(p, pos);
	if (p->n - start >= 6 && memcmp(p->s + start, "export", 6) == 0 &&
	    dotenv_space_len(p->s + start + 6, p->n - start - 6) > 0)
		start = skip_dotenv_space(p, start + 6);

	for (i = start; i < p->n; i++) {
		unsigned char b = p->s[i];

		if (is_key_space_byte(b) || is_key_byte(b))
			continue;
		if (b == '=' || b == ':')
			break;
		if (b == '\n')
			return fail(p, i, "no \"=\" or \":\" after the variable name");
		if (b >= 0x20 && b < 0x7f)
			return fail(p, i, "unexpected character '%c' in variable name", b);
		return fail(p, i, "unexpected character 0x%02x in variable name", b);
	}
	if (start == p->n)
		return fail(p, start, "zero length string");

	if (i < p->n) {
		/* key up to "=" or ":", blanks at its end dropped */
		key_end = i;
		while (key_end > start) {
			size_t l = unicode_space_len_before(p->s, start, key_end);

			if (l == 0)
				break;
			key_end -= l;
		}
		value = i + 1;
	} else {
		/* no "=" before the end: godotenv takes an empty key and the text as its value */
		key_end = start;
		value = start;
	}
	*ret_key = start;
	*ret_key_end = key_end;
	*ret_value = skip_dotenv_space(p, value);
	return 0;
}

/* the two regexp passes of godotenv's expandEscapes, in place; returns the new length */
static size_t expand_escapes(char *v, size_t len)
{
	size_t r, w;

	/* `\\.` (any rune but a newline): \n and \r become the characters */
	for (r = w = 0; r < len;) {
		if (v[r] == '\\' && r + 1 < len && v[r + 1] != '\n') {
			if (v[r + 1] == 'n' || v[r + 1] == 'r') {
				v[w++] = v[r + 1] == 'n' ? '\n' : '\r';
			} else {
				v[w++] = v[r];
				v[w++] = v[r + 1];
			}
			r += 2;
		} else {
			v[w++] = v[r++];
		}
	}
	len = w;

	/* `\\([^$])` -> `$1`: a backslash goes, unless a dollar follows */
	for (r = w = 0; r < len;) {
		if (v[r] == '\\' && r + 1 < len && v[r + 1] != '$') {
			v[w++] = v[r + 1];
			r += 2;
		} else {
			v[w++] = v[r++];
		}
	}
	return w;
}

/* extractVarValue: a malloc'd value; *ret_next is where the next statement may start */
static int extract_value(struct parser *p, size_t pos, struct value *ret_value, size_t *ret_next)
{
	size_t vstart, vend, next, l;
	bool unescape = false;
	char *v;

	if (pos < p->n && (p->s[pos] == '"' || p->s[pos] == '\'')) {
		unsigned char q = p->s[pos];
		size_t i;

		for (i = pos + 1; i < p->n; i++)
			if (p->s[i] == q && p->s[i - 1] != '\\')
				break;
		if (i >= p->n)
			return fail(p, pos, "unterminated quoted value");
		/* TrimLeft and TrimRight of the quote character */
		vstart = pos;
		vend = i;
		while (vend > vstart && p->s[vend - 1] == q)
			vend--;
		while (vstart < vend && p->s[vstart] == q)
			vstart++;
		unescape = q == '"';
		next = i + 1;
	} else {
		size_t eol = pos;

		while (eol < p->n && p->s[eol] != '\n' && p->s[eol] != '\r')
			eol++;
		vstart = pos;
		vend = eol;
		/* the last '#' after a blank (and not first) starts a comment */
		for (size_t i = eol; i > pos + 1; i--) {
			if (p->s[i - 1] == '#' && dotenv_space_len_before(p->s, pos, i - 1) > 0) {
				vend = i - 1;
				break;
			}
		}
		while (vstart < vend && (l = dotenv_space_len(p->s + vstart, vend - vstart)) > 0)
			vstart += l;
		while (vend > vstart && (l = dotenv_space_len_before(p->s, vstart, vend)) > 0)
			vend -= l;
		next = eol;
	}

	v = malloc(vend - vstart + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, p->s + vstart, vend - vstart);
	l = vend - vstart;
	if (unescape)
		l = expand_escapes(v, l);
	v[l] = '\0';
	*ret_value = (struct value){ .s = v, .len = l };
	*ret_next = next;
	return 0;
}

static bool key_is(const struct parser *p, size_t start, size_t end, const char *name)
{
	return end - start == strlen(name) && memcmp(p->s + start, name, end - start) == 0;
}

static int parse_statements(struct parser *p)
{
	size_t pos = 0;

	for (;;) {
		size_t key = 0, key_end = 0, value_pos = 0;
		struct value value = { 0 }, *slot = NULL;
		int r;

		pos = statement_start(p, pos);
		if (pos >= p->n)
			return 0;
		r = locate_key(p, pos, &key, &key_end, &value_pos);
		if (r < 0)
			return r;
		r = extract_value(p, value_pos, &value, &pos);
		if (r < 0)
			return r;

		if (key_is(p, key, key_end, "FLANNEL_NETWORK"))
			slot = &p->network;
		else if (key_is(p, key, key_end, "FLANNEL_SUBNET"))
			slot = &p->subnet;
		else if (key_is(p, key, key_end, "FLANNEL_MTU"))
			slot = &p->mtu;
		else if (key_is(p, key, key_end, "FLANNEL_IPMASQ"))
			slot = &p->ip_masq;
		if (slot) {
			free(slot->s);
			*slot = value;
		} else {
			free(value.s);
		}
	}
}

/* flanneld: split on ",", skip entries that are no CIDR, use the value only if one is left */
static bool one_cidr(const struct value *v, struct tartan_ip4_net *ret)
{
	struct tartan_ip4_net net, found = { 0 };
	unsigned n_found = 0;
	const char *s, *end;

	if (!v->s)
		return false;
	s = v->s;
	end = v->s + v->len;
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		size_t len = (size_t)((comma ? comma : end) - s);

		if (tartan_ip4_net_parse(s, len, &net) == 0) {
			found = net;
			n_found++;
		}
		if (!comma)
			break;
		s = comma + 1;
	}
	if (n_found != 1)
		return false;
	*ret = found;
	return true;
}

static bool parse_mtu(const struct value *v, uint32_t *ret)
{
	uint64_t mtu = 0;

	if (!v->s || v->len == 0)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return false;
		mtu = mtu * 10 + (uint64_t)(v->s[i] - '0');
		if (mtu > UINT32_MAX)
			return false;
	}
	*ret = (uint32_t)mtu;
	return true;
}

static bool value_is(const struct value *v, const char *text)
{
	return v->s && v->len == strlen(text) && memcmp(v->s, text, v->len) == 0;
}

int tartan_subnet_env_parse(const char *buf, size_t len, struct tartan_subnet_env *ret_env,
			    char **ret_error)
{
	struct tartan_subnet_env env = { 0 };
	struct parser p = { .ret_error = ret_error };
	unsigned char *text;
	size_t n = 0;
	int r;

	/* godotenv first turns every CRLF into LF */
	text = malloc(len + 1);
	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
			continue;
		text[n++] = (unsigned char)buf[i];
	}
	p.s = text;
	p.n = n;

	r = parse_statements(&p);
	if (r < 0)
		goto out;

	env.has_network = one_cidr(&p.network, &env.network);
	env.has_subnet = one_cidr(&p.subnet, &env.subnet);
	env.has_mtu = parse_mtu(&p.mtu, &env.mtu);
	/* the CNI plugin's test is == "true"; anything but the two words is no answer */
	if (value_is(&p.ip_masq, "true") || value_is(&p.ip_masq, "false")) {
		env.has_ip_masq = true;
		env.ip_masq = value_is(&p.ip_masq, "true");
	}
	*ret_env = env;
	r = 0;
out:
	free(p.network.s);
	free(p.subnet.s);
	free(p.mtu.s);
	free(p.ip_masq.s);
	free(text);
	return r;
}
