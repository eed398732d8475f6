/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for netcfg/cniconf.c: the exact text of every conf kind (keys in
 * their fixed order, 2-space indent, one trailing newline), ipMasq as the
 * negation of --ip-masq in the rkt bridge conf and always false in kubenet's,
 * hairpinMode in every bridge conf (the flannel-type one's delegate too), the
 * conflist's tartan entry with its capabilities ips and mac and pendingDelDir,
 * dataDir only when asked for, the gateway at network + 1 also for a /30,
 * fields a kind does not read being ignored, the same input giving the same
 * bytes, strings escaped so the text parses back to the input, and every
 * refusal (-EINVAL) of a bad bridge name, subnet, MTU, path, non-UTF-8 string
 * or kind, with nothing returned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg/cniconf.h"

static struct tartan_ip4_net net(const char *s)
{
	struct tartan_ip4_net n;

	assert_int_equal(tartan_ip4_net_parse(s, strlen(s), &n), 0);
	return n;
}

/* a node as tartand runs it by default: cni0, a /24 lease, vxlan's MTU, no --ip-masq */
static struct tartan_cniconf_input node(void)
{
	return (struct tartan_cniconf_input){
		.bridge = "cni0",
		.subnet = net("10.5.72.0/24"),
		.mtu = 1450,
		.subnet_file = "/run/flannel/subnet.env",
		.socket_path = "/run/tartan/tartand.sock",
	};
}

static char *render_ok(enum tartan_cniconf_kind kind, const struct tartan_cniconf_input *in)
{
	char *text = NULL;

	assert_int_equal(tartan_cniconf_render(kind, in, &text), 0);
	assert_non_null(text);
	return text;
}

static void expect_text(enum tartan_cniconf_kind kind, const struct tartan_cniconf_input *in,
			const char *want)
{
	char *got = render_ok(kind, in);

	if (strcmp(got, want) != 0)
		print_error("expected:\n%s\nsaw:\n%s\n", want, got);
	assert_string_equal(got, want);
	free(got);
}

static void expect_refused(enum tartan_cniconf_kind kind, const struct tartan_cniconf_input *in)
{
	char *text = (char *)"untouched";

	assert_int_equal(tartan_cniconf_render(kind, in, &text), -EINVAL);
	/* ret_ is written only on success */
	assert_string_equal(text, "untouched");
}

static void test_rkt_bridge_default(void **state)
{
	struct tartan_cniconf_input in = node();

	/* without --ip-masq nothing on the node masquerades: bridge does */
	expect_text(TARTAN_CNICONF_RKT_BRIDGE, &in,
		    "{\n"
		    "  \"cniVersion\": \"0.3.1\",\n"
		    "  \"name\": \"rkt.kubernetes.io\",\n"
		    "  \"type\": \"bridge\",\n"
		    "  \"bridge\": \"cni0\",\n"
		    "  \"mtu\": 1450,\n"
		    "  \"isGateway\": true,\n"
		    "  \"ipMasq\": true,\n"
		    "  \"hairpinMode\": false,\n"
		    "  \"ipam\": {\n"
		    "    \"type\": \"host-local\",\n"
		    "    \"subnet\": \"10.5.72.0/24\",\n"
		    "    \"gateway\": \"10.5.72.1\",\n"
		    "    \"routes\": [\n"
		    "      {\n"
		    "        \"dst\": \"0.0.0.0/0\"\n"
		    "      }\n"
		    "    ]\n"
		    "  }\n"
		    "}\n");
}

static void test_rkt_bridge_ip_masq_data_dir_slash30(void **state)
{
	struct tartan_cniconf_input in = node();

	/* --ip-masq: the node masquerades, so bridge must not (pod-to-pod keeps its source) */
	in.ip_masq = true;
	in.bridge = "tartan0";
	in.subnet = net("10.244.9.4/30");
	in.mtu = 9001;
	in.ipam_data_dir = "/var/lib/tartan/networks";
	in.hairpin_mode = true; /* --hairpin-mode=hairpin-veth, flannel mode's default */
	expect_text(TARTAN_CNICONF_RKT_BRIDGE, &in,
		    "{\n"
		    "  \"cniVersion\": \"0.3.1\",\n"
		    "  \"name\": \"rkt.kubernetes.io\",\n"
		    "  \"type\": \"bridge\",\n"
		    "  \"bridge\": \"tartan0\",\n"
		    "  \"mtu\": 9001,\n"
		    "  \"isGateway\": true,\n"
		    "  \"ipMasq\": false,\n"
		    "  \"hairpinMode\": true,\n"
		    "  \"ipam\": {\n"
		    "    \"type\": \"host-local\",\n"
		    "    \"subnet\": \"10.244.9.4/30\",\n"
		    "    \"gateway\": \"10.244.9.5\",\n"
		    "    \"dataDir\": \"/var/lib/tartan/networks\",\n"
		    "    \"routes\": [\n"
		    "      {\n"
		    "        \"dst\": \"0.0.0.0/0\"\n"
		    "      }\n"
		    "    ]\n"
		    "  }\n"
		    "}\n");
}

static void test_rkt_flannel(void **state)
{
	struct tartan_cniconf_input in = node();

	expect_text(TARTAN_CNICONF_RKT_FLANNEL, &in,
		    "{\n"
		    "  \"cniVersion\": \"0.3.1\",\n"
		    "  \"name\": \"rkt.kubernetes.io\",\n"
		    "  \"type\": \"flannel\",\n"
		    "  \"subnetFile\": \"/run/flannel/subnet.env\",\n"
		    "  \"delegate\": {\n"
		    "    \"bridge\": \"cni0\",\n"
		    "    \"isDefaultGateway\": true,\n"
		    "    \"hairpinMode\": false\n"
		    "  }\n"
		    "}\n");

	/* subnet, mtu and ip_masq come from subnet.env: not read, so not checked either */
	in.subnet = (struct tartan_ip4_net){ .addr = 1, .len = 40 };
	in.mtu = 0;
	in.ip_masq = true;
	in.subnet_file = "/run/tartan/subnet.env";
	in.ipam_data_dir = "/var/lib/tartan/networks";
	in.hairpin_mode = true;
	expect_text(TARTAN_CNICONF_RKT_FLANNEL, &in,
		    "{\n"
		    "  \"cniVersion\": \"0.3.1\",\n"
		    "  \"name\": \"rkt.kubernetes.io\",\n"
		    "  \"type\": \"flannel\",\n"
		    "  \"subnetFile\": \"/run/tartan/subnet.env\",\n"
		    "  \"ipam\": {\n"
		    "    \"dataDir\": \"/var/lib/tartan/networks\"\n"
		    "  },\n"
		    "  \"delegate\": {\n"
		    "    \"bridge\": \"cni0\",\n"
		    "    \"isDefaultGateway\": true,\n"
		    "    \"hairpinMode\": true\n"
		    "  }\n"
		    "}\n");
}

static void test_tartan_list(void **state)
{
	/* only the socket and the pending DEL folder are read: the list can be written before
	 * there is a lease */
	struct tartan_cniconf_input in = { .socket_path = "/run/tartan/tartand.sock",
					   .pending_del_dir = "/var/lib/tartan/pending-del" };
	char *text;

	expect_text(TARTAN_CNICONF_TARTAN_LIST, &in,
		    "{\n"
		    "  \"cniVersion\": \"1.0.0\",\n"
		    "  \"name\": \"tartan\",\n"
		    "  \"plugins\": [\n"
		    "    {\n"
		    "      \"type\": \"tartan\",\n"
		    "      \"socket\": \"/run/tartan/tartand.sock\",\n"
		    "      \"pendingDelDir\": \"/var/lib/tartan/pending-del\",\n"
		    "      \"capabilities\": {\n"
		    "        \"ips\": true,\n"
		    "        \"mac\": true\n"
		    "      }\n"
		    "    },\n"
		    "    {\n"
		    "      \"type\": \"portmap\",\n"
		    "      \"capabilities\": {\n"
		    "        \"portMappings\": true\n"
		    "      }\n"
		    "    }\n"
		    "  ]\n"
		    "}\n");
	/* without a pending DEL folder the key is left out: the plugin's default */
	in.pending_del_dir = NULL;
	text = render_ok(TARTAN_CNICONF_TARTAN_LIST, &in);
	assert_null(strstr(text, "pendingDelDir"));
	assert_non_null(strstr(text, "\"ips\": true"));
	free(text);
}

static void test_kubenet(void **state)
{
	struct tartan_cniconf_input in = node();

	/* kubenet masquerades with its own rule: ipMasq false whatever --ip-masq says */
	in.bridge = "cbr0";
	in.subnet = net("10.64.3.0/24");
	in.mtu = 1460;
	in.hairpin_mode = true;
	expect_text(TARTAN_CNICONF_KUBENET, &in,
		    "{\n"
		    "  \"cniVersion\": \"0.3.1\",\n"
		    "  \"name\": \"kubenet\",\n"
		    "  \"type\": \"bridge\",\n"
		    "  \"bridge\": \"cbr0\",\n"
		    "  \"mtu\": 1460,\n"
		    "  \"isGateway\": true,\n"
		    "  \"ipMasq\": false,\n"
		    "  \"hairpinMode\": true,\n"
		    "  \"ipam\": {\n"
		    "    \"type\": \"host-local\",\n"
		    "    \"subnet\": \"10.64.3.0/24\",\n"
		    "    \"gateway\": \"10.64.3.1\",\n"
		    "    \"routes\": [\n"
		    "      {\n"
		    "        \"dst\": \"0.0.0.0/0\"\n"
		    "      }\n"
		    "    ]\n"
		    "  }\n"
		    "}\n");

	in.ip_masq = true;
	in.hairpin_mode = false;
	in.ipam_data_dir = "/tmp/x";
	expect_text(TARTAN_CNICONF_KUBENET, &in,
		    "{\n"
		    "  \"cniVersion\": \"0.3.1\",\n"
		    "  \"name\": \"kubenet\",\n"
		    "  \"type\": \"bridge\",\n"
		    "  \"bridge\": \"cbr0\",\n"
		    "  \"mtu\": 1460,\n"
		    "  \"isGateway\": true,\n"
		    "  \"ipMasq\": false,\n"
		    "  \"hairpinMode\": false,\n"
		    "  \"ipam\": {\n"
		    "    \"type\": \"host-local\",\n"
		    "    \"subnet\": \"10.64.3.0/24\",\n"
		    "    \"gateway\": \"10.64.3.1\",\n"
		    "    \"dataDir\": \"/tmp/x\",\n"
		    "    \"routes\": [\n"
		    "      {\n"
		    "        \"dst\": \"0.0.0.0/0\"\n"
		    "      }\n"
		    "    ]\n"
		    "  }\n"
		    "}\n");
}

/* the daemon writes only on change: equal inputs, equal bytes; a new lease, new bytes */
static void test_deterministic(void **state)
{
	struct tartan_cniconf_input in = node();
	enum tartan_cniconf_kind k;
	char *a, *b;

	for (k = TARTAN_CNICONF_RKT_BRIDGE; k <= TARTAN_CNICONF_KUBENET; k++) {
		a = render_ok(k, &in);
		b = render_ok(k, &in);
		assert_string_equal(a, b);
		/* one newline at the end, none before it that JSON would not put there */
		assert_true(strlen(a) >= 2 && a[strlen(a) - 1] == '\n' && a[strlen(a) - 2] == '}');
		free(a);
		free(b);
	}

	a = render_ok(TARTAN_CNICONF_RKT_BRIDGE, &in);
	in.subnet = net("10.5.73.0/24");
	b = render_ok(TARTAN_CNICONF_RKT_BRIDGE, &in);
	assert_string_not_equal(a, b);
	assert_non_null(strstr(b, "\"subnet\": \"10.5.73.0/24\""));
	assert_non_null(strstr(b, "\"gateway\": \"10.5.73.1\""));
	free(a);
	free(b);
}

/* paths are free text: quotes, backslashes, controls and UTF-8 survive a round trip */
static void test_escaping(void **state)
{
	static const char odd[] = "/run/a \"b\"\\c\td\xc3\xa9";
	struct tartan_cniconf_input in = node();
	json_error_t jerr;
	json_t *o;
	char *text;

	in.socket_path = odd;
	text = render_ok(TARTAN_CNICONF_TARTAN_LIST, &in);
	o = json_loads(text, 0, &jerr);
	if (!o)
		print_error("does not parse: %s\n%s\n", jerr.text, text);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(o, "plugins"), 0), "socket")),
			    odd);
	json_decref(o);
	free(text);

	in.subnet_file = odd;
	text = render_ok(TARTAN_CNICONF_RKT_FLANNEL, &in);
	o = json_loads(text, 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "subnetFile")), odd);
	json_decref(o);
	free(text);
}

static void test_limits_accepted(void **state)
{
	struct tartan_cniconf_input in = node();
	char *text;

	in.bridge = "abcdefghijklmno"; /* 15 bytes: IFNAMSIZ - 1 */
	in.mtu = 68;
	in.subnet = net("10.0.0.0/8");
	text = render_ok(TARTAN_CNICONF_RKT_BRIDGE, &in);
	assert_non_null(strstr(text, "\"bridge\": \"abcdefghijklmno\""));
	assert_non_null(strstr(text, "\"mtu\": 68,"));
	assert_non_null(strstr(text, "\"gateway\": \"10.0.0.1\""));
	free(text);

	in.mtu = 65535;
	text = render_ok(TARTAN_CNICONF_KUBENET, &in);
	assert_non_null(strstr(text, "\"mtu\": 65535,"));
	free(text);
}

static void test_refusals(void **state)
{
	static const char *const bad_bridges[] = {
		"", ".", "..", "abcdefghijklmnop" /* 16 */, "a/b", "a:b", "a b", "a\tb", "a\nb",
	};
	static const enum tartan_cniconf_kind bridge_kinds[] = {
		TARTAN_CNICONF_RKT_BRIDGE,
		TARTAN_CNICONF_RKT_FLANNEL,
		TARTAN_CNICONF_KUBENET,
	};
	struct tartan_cniconf_input in;
	int negative = -1;
	size_t i, j;

	for (j = 0; j < sizeof(bridge_kinds) / sizeof(bridge_kinds[0]); j++) {
		for (i = 0; i < sizeof(bad_bridges) / sizeof(bad_bridges[0]); i++) {
			in = node();
			in.bridge = bad_bridges[i];
			expect_refused(bridge_kinds[j], &in);
		}
		in = node();
		in.bridge = NULL;
		expect_refused(bridge_kinds[j], &in);
		in = node();
		in.bridge = "br\xff";
		expect_refused(bridge_kinds[j], &in); /* not UTF-8 */
		in = node();
		in.ipam_data_dir = "var/lib/cni";
		expect_refused(bridge_kinds[j], &in);
	}

	/* the two bridge confs: subnet and MTU */
	for (j = 0; j < 2; j++) {
		enum tartan_cniconf_kind k = j ? TARTAN_CNICONF_KUBENET : TARTAN_CNICONF_RKT_BRIDGE;

		in = node();
		/* 10.5.72.1/24: host bits */
		in.subnet = (struct tartan_ip4_net){ .addr = 0x0a054801, .len = 24 };
		expect_refused(k, &in);
		in.subnet = (struct tartan_ip4_net){ .addr = 0x0a054800, .len = 33 };
		expect_refused(k, &in);
		in.subnet = net("10.5.72.0/31"); /* host-local: too small to allocate from */
		expect_refused(k, &in);
		in.subnet = net("10.5.72.1/32");
		expect_refused(k, &in);
		in = node();
		in.mtu = 0;
		expect_refused(k, &in);
		in.mtu = 67;
		expect_refused(k, &in);
		in.mtu = 65536;
		expect_refused(k, &in);
	}

	in = node();
	in.subnet_file = NULL;
	expect_refused(TARTAN_CNICONF_RKT_FLANNEL, &in);
	in.subnet_file = "run/flannel/subnet.env";
	expect_refused(TARTAN_CNICONF_RKT_FLANNEL, &in);
	in.subnet_file = "/run/\xc3";
	expect_refused(TARTAN_CNICONF_RKT_FLANNEL, &in);

	in = node();
	in.socket_path = NULL;
	expect_refused(TARTAN_CNICONF_TARTAN_LIST, &in);
	in.socket_path = "";
	expect_refused(TARTAN_CNICONF_TARTAN_LIST, &in);
	in.socket_path = "tartand.sock";
	expect_refused(TARTAN_CNICONF_TARTAN_LIST, &in);
	in.socket_path = "/run/\x80.sock";
	expect_refused(TARTAN_CNICONF_TARTAN_LIST, &in);
	in = node();
	in.pending_del_dir = "pending-del";
	expect_refused(TARTAN_CNICONF_TARTAN_LIST, &in);
	in.pending_del_dir = "/var/\xff";
	expect_refused(TARTAN_CNICONF_TARTAN_LIST, &in);

	in = node();
	expect_refused((enum tartan_cniconf_kind)4, &in);
	expect_refused((enum tartan_cniconf_kind)negative, &in);
	expect_refused(TARTAN_CNICONF_RKT_BRIDGE, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rkt_bridge_default),
		cmocka_unit_test(test_rkt_bridge_ip_masq_data_dir_slash30),
		cmocka_unit_test(test_rkt_flannel),
		cmocka_unit_test(test_tartan_list),
		cmocka_unit_test(test_kubenet),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("netcfg-cniconf", tests, NULL, NULL);
}
