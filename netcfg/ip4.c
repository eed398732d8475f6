/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netcfg/ip4.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * One field of a dotted quad, as Go's parser takes it: at least one digit,
 * value at most 255 and no leading zero unless the field is "0". Returns
 * the number of bytes used, 0 when there is no valid field at s.
 */
static size_t parse_octet(const char *s, size_t len, uint32_t *ret)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < len && is_digit(s[i]); i++) {
		/* a fourth digit can only make it > 255 or a leading-zero field */
		if (i == 3)
			return 0;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (i == 0 || v > 255 || (i > 1 && s[0] == '0'))
		return 0;
	*ret = v;
	return i;
}

int tartan_ip4_addr_parse(const char *s, size_t len, uint32_t *ret_addr)
{
	uint32_t addr = 0;
	size_t pos = 0;

	for (int i = 0; i < 4; i++) {
		uint32_t v;
		size_t n;

		if (i > 0) {
			if (pos >= len || s[pos] != '.')
				return -EINVAL;
			pos++;
		}
		n = parse_octet(s + pos, len - pos, &v);
		if (n == 0)
			return -EINVAL;
		pos += n;
		addr = addr << 8 | v;
	}
	if (pos != len)
		return -EINVAL;

	*ret_addr = addr;
	return 0;
}

int tartan_ip4_net_parse(const char *s, size_t len, struct tartan_ip4_net *ret_net)
{
	const char *slash = memchr(s, '/', len);
	uint32_t addr, plen = 0;
	size_t i;
	int r;

	if (!slash)
		return -EINVAL;
	r = tartan_ip4_addr_parse(s, (size_t)(slash - s), &addr);
	if (r < 0)
		return r;

	/* Go's dtoi: one or more digits, leading zeros allowed, then the end */
	i = (size_t)(slash - s) + 1;
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		plen = plen * 10 + (uint32_t)(s[i] - '0');
		if (plen > 32)
			return -EINVAL;
	}

	return tartan_ip4_net_make(addr, plen, ret_net);
}

int tartan_ip4_net_make(uint32_t addr, unsigned len, struct tartan_ip4_net *ret_net)
{
	if (len > 32)
		return -EINVAL;
	*ret_net = (struct tartan_ip4_net){
		.addr = addr & tartan_ip4_mask(len),
		.len = (uint8_t)len,
	};
	return 0;
}

const char *tartan_ip4_addr_format(uint32_t addr, char buf[static TARTAN_IP4_ADDR_STRLEN])
{
	snprintf(buf, TARTAN_IP4_ADDR_STRLEN, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
		 (addr >> 8) & 0xff, addr & 0xff);
	return buf;
}

const char *tartan_ip4_net_format(const struct tartan_ip4_net *net,
				  char buf[static TARTAN_IP4_NET_STRLEN])
{
	uint32_t a = net->addr;

	snprintf(buf, TARTAN_IP4_NET_STRLEN, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 0xff,
		 (a >> 8) & 0xff, a & 0xff, (unsigned)net->len);
	return buf;
}

uint32_t tartan_ip4_mask(unsigned len)
{
	/* a shift by 32 is undefined in C */
	if (len == 0)
		return 0;
	if (len >= 32)
		return UINT32_MAX;
	return UINT32_MAX << (32 - len);
}

bool tartan_ip4_net_is_valid(const struct tartan_ip4_net *net)
{
	return net->len <= 32 && (net->addr & ~tartan_ip4_mask(net->len)) == 0;
}

uint64_t tartan_ip4_net_size(const struct tartan_ip4_net *net)
{
	return net->len >= 32 ? 1 : UINT64_C(1) << (32 - net->len);
}

uint32_t tartan_ip4_net_last(const struct tartan_ip4_net *net)
{
	return (net->addr & tartan_ip4_mask(net->len)) | ~tartan_ip4_mask(net->len);
}

uint32_t tartan_ip4_net_first_host(const struct tartan_ip4_net *net)
{
	uint32_t base = net->addr & tartan_ip4_mask(net->len);

	return net->len >= 31 ? base : base + 1;
}

bool tartan_ip4_net_contains(const struct tartan_ip4_net *net, uint32_t addr)
{
	uint32_t m = tartan_ip4_mask(net->len);

	return (net->addr & m) == (addr & m);
}

bool tartan_ip4_net_contains_net(const struct tartan_ip4_net *outer,
				 const struct tartan_ip4_net *inner)
{
	return outer->len <= inner->len && tartan_ip4_net_contains(outer, inner->addr);
}

bool tartan_ip4_net_overlaps(const struct tartan_ip4_net *a, const struct tartan_ip4_net *b)
{
	/* two prefixes overlap iff they agree on the shorter one's bits */
	uint32_t m = tartan_ip4_mask(a->len < b->len ? a->len : b->len);

	return (a->addr & m) == (b->addr & m);
}

bool tartan_ip4_net_equal(const struct tartan_ip4_net *a, const struct tartan_ip4_net *b)
{
	return a->addr == b->addr && a->len == b->len;
}

int tartan_ip4_net_cmp(const struct tartan_ip4_net *a, const struct tartan_ip4_net *b)
{
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

const char *tartan_ip4_addr_unusable_reason(uint32_t addr)
{
	if (addr == UINT32_MAX)
		return "is the broadcast address";
	if ((addr >> 24) == 0)
		return "is in 0.0.0.0/8 (\"this network\", not a host address)";
	if ((addr >> 24) == 127)
		return "is a loopback address";
	if ((addr >> 28) == 0xe)
		return "is a multicast address";
	return NULL;
}
