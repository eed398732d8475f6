/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netcfg/masq: the rule texts (pure), and the table against the real kernel's nftables
 * inside the namespace nl-suite.sh runs this in: applied in one piece, restored after a
 * hand-made change, replaced when the rules change, removed, other tables untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg/masq.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((c) << 8) | (d))
#define NET(a, b, c, d, l) ((struct tartan_ip4_net){ .addr = IP(a, b, c, d), .len = (l) })

static const struct tartan_masq_rules flannel = {
	.kind = TARTAN_MASQ_FLANNEL,
	.network = NET(10, 5, 0, 0, 16),
	.subnet = NET(10, 5, 72, 0, 24),
};

__attribute__((format(printf, 1, 2))) static char *run(const char *fmt, ...)
{
	char cmd[512], *out = NULL;
	size_t len = 0, cap = 0, got;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		got = fread(out + len, 1, cap - len - 1, p);
		len += got;
	} while (got > 0);
	out[len] = '\0';
	pclose(p);
	return out;
}

static void expect_contains(const char *what, const char *text, const char *needle, bool yes)
{
	if ((strstr(text, needle) != NULL) != yes) {
		print_error("%s: expected %s'%s', saw:\n%s\n", what, yes ? "" : "no ", needle,
			    text);
		fail();
	}
}

/* ---- texts ---- */

static void test_render_flannel(void **state)
{
	char *t = NULL;

	assert_int_equal(tartan_masq_render(&flannel, &t), 0);
	assert_string_equal(
		t, "table ip tartan-ipv4 {\n"
		   "\tchain postrtg {\n"
		   "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		   "\t\tmeta mark & 0x4000 == 0x4000 return\n"
		   "\t\tip saddr 10.5.72.0/24 ip daddr 10.5.0.0/16 return\n"
		   "\t\tip saddr 10.5.0.0/16 ip daddr 10.5.72.0/24 return\n"
		   "\t\tip saddr != 10.5.0.0/16 ip daddr 10.5.72.0/24 return\n"
		   "\t\tip saddr 10.5.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random\n"
		   "\t\tip saddr != 10.5.0.0/16 ip daddr 10.5.0.0/16 masquerade fully-random\n"
		   "\t}\n"
		   "\tchain forward {\n"
		   "\t\ttype filter hook forward priority filter; policy accept;\n"
		   "\t\tip saddr 10.5.0.0/16 accept\n"
		   "\t\tip daddr 10.5.0.0/16 accept\n"
		   "\t}\n"
		   "}\n");
	free(t);
}

static void test_render_kubenet(void **state)
{
	struct tartan_masq_rules r = { .kind = TARTAN_MASQ_KUBENET, .non_masq = NET(10, 0, 0, 0, 8) };
	char *t = NULL;

	assert_int_equal(tartan_masq_render(&r, &t), 0);
	assert_string_equal(t, "table ip tartan-ipv4 {\n"
			       "\tchain postrtg {\n"
			       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
			       "\t\tfib daddr type != local ip daddr != 10.0.0.0/8 masquerade\n"
			       "\t}\n"
			       "}\n");
	free(t);
	/* kubenet: 0.0.0.0/0 means no rule at all */
	r.non_masq = NET(0, 0, 0, 0, 0);
	assert_int_equal(tartan_masq_render(&r, &t), 0);
	assert_string_equal(t, "");
	free(t);
	r.kind = TARTAN_MASQ_NONE;
	assert_int_equal(tartan_masq_render(&r, &t), 0);
	assert_string_equal(t, "");
	free(t);
}

static void test_render_refuses(void **state)
{
	struct tartan_masq_rules r = flannel;
	char *t = NULL;

	r.network = NET(10, 5, 0, 1, 16); /* host bits */
	assert_int_equal(tartan_masq_render(&r, &t), -EINVAL);
	r = flannel;
	r.subnet = NET(10, 6, 1, 0, 24); /* outside the network */
	assert_int_equal(tartan_masq_render(&r, &t), -EINVAL);
	r = flannel;
	r.subnet = NET(10, 0, 0, 0, 8); /* larger than the network */
	assert_int_equal(tartan_masq_render(&r, &t), -EINVAL);
	r = (struct tartan_masq_rules){ .kind = TARTAN_MASQ_KUBENET, .non_masq = NET(10, 0, 0, 1, 8) };
	assert_int_equal(tartan_masq_render(&r, &t), -EINVAL);
	r.kind = (enum tartan_masq_kind)42;
	assert_int_equal(tartan_masq_render(&r, &t), -EINVAL);
	assert_int_equal(tartan_masq_render(NULL, &t), -EINVAL);
	assert_null(t);
}

/* ---- the kernel ---- */

static void test_kernel_apply_restore_remove(void **state)
{
	struct tartan_masq *m = NULL;
	struct tartan_masq_rules moved = flannel;
	bool changed = false;
	char *err = NULL, *out;

	/* someone else's table, which must come through everything unchanged */
	free(run("nft add table ip othertable && nft add chain ip othertable c && "
		 "nft add rule ip othertable c ip saddr 192.0.2.1 drop"));
	assert_int_equal(tartan_masq_new(&m), 0);

	assert_int_equal(tartan_masq_ensure(m, &flannel, &changed, &err), 0);
	assert_null(err);
	assert_true(changed);
	out = run("nft list table ip tartan-ipv4");
	expect_contains("applied", out, "ip saddr 10.5.72.0/24 ip daddr 10.5.0.0/16 return", true);
	expect_contains("applied", out, "masquerade fully-random", true);
	expect_contains("applied", out, "chain forward", true);
	free(out);

	/* as it was left: nothing is sent */
	assert_int_equal(tartan_masq_ensure(m, &flannel, &changed, &err), 0);
	assert_false(changed);

	/* deleted by hand: back; a rule removed by hand: back; a rule added: gone */
	free(run("nft delete table ip tartan-ipv4"));
	assert_int_equal(tartan_masq_ensure(m, &flannel, &changed, &err), 0);
	assert_true(changed);
	free(run("nft flush chain ip tartan-ipv4 forward"));
	assert_int_equal(tartan_masq_ensure(m, &flannel, &changed, &err), 0);
	assert_true(changed);
	out = run("nft list chain ip tartan-ipv4 forward");
	expect_contains("forward restored", out, "ip daddr 10.5.0.0/16 accept", true);
	free(out);
	free(run("nft add rule ip tartan-ipv4 postrtg ip saddr 192.0.2.9 accept"));
	assert_int_equal(tartan_masq_ensure(m, &flannel, &changed, &err), 0);
	assert_true(changed);
	out = run("nft list table ip tartan-ipv4");
	expect_contains("extra rule", out, "192.0.2.9", false);
	free(out);

	/* a new subnet replaces the old rules whole */
	moved.subnet = NET(10, 5, 9, 0, 24);
	assert_int_equal(tartan_masq_ensure(m, &moved, &changed, &err), 0);
	assert_true(changed);
	out = run("nft list table ip tartan-ipv4");
	expect_contains("moved", out, "10.5.9.0/24", true);
	expect_contains("moved", out, "10.5.72.0/24", false);
	free(out);

	/* kubenet's rule in the same table */
	{
		struct tartan_masq_rules k = { .kind = TARTAN_MASQ_KUBENET,
					       .non_masq = NET(10, 0, 0, 0, 8) };

		assert_int_equal(tartan_masq_ensure(m, &k, &changed, &err), 0);
		out = run("nft list table ip tartan-ipv4");
		expect_contains("kubenet", out,
				"fib daddr type != local ip daddr != 10.0.0.0/8 masquerade", true);
		expect_contains("kubenet", out, "chain forward", false);
		free(out);
	}

	/* removed: gone, and removing again is no change */
	assert_int_equal(tartan_masq_remove(m, &changed, &err), 0);
	assert_true(changed);
	assert_int_equal(tartan_masq_remove(m, &changed, &err), 0);
	assert_false(changed);
	out = run("nft list ruleset");
	expect_contains("removed", out, "tartan", false);
	expect_contains("other table", out, "ip saddr 192.0.2.1 drop", true);
	free(out);

	/* no rules wanted: as remove */
	assert_int_equal(tartan_masq_ensure(m, &flannel, &changed, &err), 0);
	{
		struct tartan_masq_rules none = { .kind = TARTAN_MASQ_NONE };

		assert_int_equal(tartan_masq_ensure(m, &none, &changed, &err), 0);
		assert_true(changed);
	}
	out = run("nft list ruleset");
	expect_contains("none", out, "tartan", false);
	free(out);
	tartan_masq_free(m);
	free(run("nft delete table ip othertable"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_flannel),
		cmocka_unit_test(test_render_kubenet),
		cmocka_unit_test(test_render_refuses),
		cmocka_unit_test(test_kernel_apply_restore_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
