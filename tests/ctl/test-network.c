/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for ctl/network.c: a network config checked as tartand checks it (flannel's
 * reasons for a refusal), the object `network get --json` prints, and its text.
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

#include "ctl/network.h"

static void expect_text(const char *what, const char *got, const char *expected)
{
	if (strcmp(got, expected) != 0)
		print_error("%s:\n--- expected\n%s--- got\n%s---\n", what, expected, got);
	assert_string_equal(got, expected);
}

static void expect_summary(const char *config, const char *expected)
{
	json_t *summary = NULL;
	char *error = NULL, *got;

	if (tartan_ctl_network_check(config, strlen(config), &summary, &error) < 0)
		fail_msg("%s refused: %s", config, error);
	got = json_dumps(summary, JSON_COMPACT);
	assert_non_null(got);
	expect_text(config, got, expected);
	free(got);
	json_decref(summary);
}

static void expect_refused(const char *config, const char *reason)
{
	json_t *summary = NULL;
	char *error = NULL;

	assert_int_equal(tartan_ctl_network_check(config, strlen(config), &summary, &error),
			 -EINVAL);
	assert_null(summary);
	assert_non_null(error);
	if (!strstr(error, reason))
		fail_msg("%s: reason \"%s\" does not say \"%s\"", config, error, reason);
	free(error);
}

static void test_check_valid(void **state)
{
	expect_summary("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"host-gw\"}}",
		       "{\"network\":\"10.5.0.0/16\",\"subnet_len\":24,\"subnet_min\":\"10.5.1.0\","
		       "\"subnet_max\":\"10.5.255.0\",\"backend\":{\"type\":\"host-gw\"}}");
	/* flannel's defaults for a small network, host bits cleared, vxlan options */
	expect_summary("{\"network\":\"10.5.3.7/22\",\"Backend\":{\"type\":\"VXLAN\",\"VNI\":9,"
		       "\"Port\":4789,\"DirectRouting\":true}}",
		       "{\"network\":\"10.5.0.0/22\",\"subnet_len\":24,\"subnet_min\":\"10.5.1.0\","
		       "\"subnet_max\":\"10.5.3.0\",\"backend\":{\"type\":\"vxlan\",\"vni\":9,"
		       "\"port\":4789,\"mtu\":0,\"direct_routing\":true,\"learning\":false,"
		       "\"gbp\":false}}");
	expect_summary("{\"Network\":\"10.0.0.0/8\",\"SubnetLen\":20,\"SubnetMin\":\"10.1.0.0\","
		       "\"SubnetMax\":\"10.2.0.0\",\"Backend\":{\"Type\":\"alloc\"}}",
		       "{\"network\":\"10.0.0.0/8\",\"subnet_len\":20,\"subnet_min\":\"10.1.0.0\","
		       "\"subnet_max\":\"10.2.0.0\",\"backend\":{\"type\":\"alloc\"}}");
}

static void test_check_refused(void **state)
{
	/* flannel's words (flannel/config.h) */
	expect_refused("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":31}",
		       "SubnetLen must be less than /31");
	expect_refused("{\"Network\":\"10.5.0.0/16\"}", "backend type udp is not supported");
	expect_refused("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"wireguard\"}}",
		       "wireguard");
	expect_refused("{\"Backend\":{\"Type\":\"host-gw\"}}",
		       "please define a correct Network parameter");
	expect_refused("{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\","
		       "\"VNI\":16777216}}",
		       "VNI");
	expect_refused("{\"Network\":", "invalid JSON");
	expect_refused("", "invalid JSON");
}

static json_t *describe(const char *value, int64_t mod)
{
	json_t *d = NULL;

	assert_int_equal(tartan_ctl_network_describe("/coreos.com/network/config", value,
						     strlen(value), mod, 3, 2, &d),
			 0);
	return d;
}

static void test_describe_and_render(void **state)
{
	const char *value = "{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\","
			    "\"VNI\":7,\"MTU\":1400}}\n";
	json_t *d = describe(value, 12);
	char *text = NULL, *dump;

	dump = json_dumps(d, JSON_COMPACT);
	expect_text("describe", dump,
		    "{\"key\":\"/coreos.com/network/config\",\"value\":\"{\\\"Network\\\":"
		    "\\\"10.5.0.0/16\\\",\\\"Backend\\\":{\\\"Type\\\":\\\"vxlan\\\",\\\"VNI\\\":7,"
		    "\\\"MTU\\\":1400}}\\n\",\"mod_revision\":12,\"create_revision\":3,"
		    "\"version\":2,\"valid\":true,\"config\":{\"network\":\"10.5.0.0/16\","
		    "\"subnet_len\":24,\"subnet_min\":\"10.5.1.0\",\"subnet_max\":\"10.5.255.0\","
		    "\"backend\":{\"type\":\"vxlan\",\"vni\":7,\"port\":8472,\"mtu\":1400,"
		    "\"direct_routing\":false,\"learning\":false,\"gbp\":false}}}");
	free(dump);
	assert_int_equal(tartan_ctl_render_network(d, &text), 0);
	expect_text("render", text,
		    "Key:          /coreos.com/network/config\n"
		    "Revision:     12 (created at 3, version 2)\n"
		    "Network:      10.5.0.0/16\n"
		    "Subnets:      /24, from 10.5.1.0 to 10.5.255.0\n"
		    "Backend:      vxlan (VNI 7, port 8472, MTU 1400)\n"
		    "Config:\n"
		    "{\n"
		    "  \"Network\": \"10.5.0.0/16\",\n"
		    "  \"Backend\": {\n"
		    "    \"Type\": \"vxlan\",\n"
		    "    \"VNI\": 7,\n"
		    "    \"MTU\": 1400\n"
		    "  }\n"
		    "}\n");
	free(text);
	json_decref(d);
}

static void test_describe_invalid(void **state)
{
	/* not JSON, with a control sequence: shown escaped, with the reason */
	json_t *d = describe("{\"Network\":\x1b[2J", 5);
	char *text = NULL;

	assert_true(json_is_false(json_object_get(d, "valid")));
	assert_non_null(strstr(json_string_value(json_object_get(d, "error")), "invalid JSON"));
	assert_null(json_object_get(d, "config"));
	assert_int_equal(tartan_ctl_render_network(d, &text), 0);
	assert_non_null(strstr(text, "Revision:     5 (created at 3, version 2)\n"
				     "Invalid:      invalid JSON in network config"));
	assert_non_null(strstr(text, " (tartand and flanneld refuse this config)\n"
				     "Config:\n{\"Network\":\\x1b[2J\n"));
	free(text);
	json_decref(d);

	/* valid JSON, refused by flannel's checks: the reason, the text indented */
	d = describe("{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":31}", 6);
	assert_int_equal(tartan_ctl_render_network(d, &text), 0);
	expect_text("invalid", text,
		    "Key:          /coreos.com/network/config\n"
		    "Revision:     6 (created at 3, version 2)\n"
		    "Invalid:      SubnetLen must be less than /31 (SubnetLen 31) (tartand and "
		    "flanneld refuse this config)\n"
		    "Config:\n"
		    "{\n"
		    "  \"Network\": \"10.5.0.0/16\",\n"
		    "  \"SubnetLen\": 31\n"
		    "}\n");
	free(text);
	json_decref(d);

	/* not UTF-8: the value is null in JSON, and the text says so */
	d = describe("{\"Network\":\"\xff\"}", 7);
	assert_true(json_is_null(json_object_get(d, "value")));
	assert_true(json_is_false(json_object_get(d, "valid")));
	assert_int_equal(tartan_ctl_render_network(d, &text), 0);
	assert_non_null(strstr(text, "Config:\n-\n"));
	free(text);
	json_decref(d);

	/* not the object describe makes */
	d = json_pack("{s:i}", "key", 1);
	assert_int_equal(tartan_ctl_render_network(d, &text), -EBADMSG);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_valid),
		cmocka_unit_test(test_check_refused),
		cmocka_unit_test(test_describe_and_render),
		cmocka_unit_test(test_describe_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
