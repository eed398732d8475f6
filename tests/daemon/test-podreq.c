/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of daemon/podreq.c, a pod's static address and MAC from CNI_ARGS and runtimeConfig:
 * what is taken (IP=, MAC=, ips with and without a length, mac, both places agreeing, the
 * last of a key, empty values asking for nothing), the codes of what is refused (4 for
 * CNI_ARGS, 7 for runtimeConfig and disagreements) with a message naming the key, and the
 * reference plugins' CNI_ARGS rules: pairs of exactly one '=', unknown keys only with
 * IgnoreUnknown 1 or true.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "daemon/podreq.h"

static json_t *conf(const char *text)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;

	if (text)
		assert_non_null(o);
	return o;
}

static struct tartan_podreq take(const char *args, const char *config)
{
	struct tartan_podreq_error e = { 0 };
	struct tartan_podreq req;
	json_t *c = conf(config);
	int r = tartan_podreq_parse(args, c, &req, &e);

	if (r != 0)
		fail_msg("'%s' %s: expected 0, saw %d: %d %s", args ? args : "(null)",
			 config ? config : "(null)", r, e.code, e.msg);
	json_decref(c);
	return req;
}

static void refused(const char *args, const char *config, int code, const char *part)
{
	struct tartan_podreq_error e = { 0 };
	struct tartan_podreq req;
	json_t *c = conf(config);

	assert_int_equal(tartan_podreq_parse(args, c, &req, &e), -EINVAL);
	if (e.code != code || !strstr(e.msg, part))
		fail_msg("'%s' %s: expected code %d with '%s', saw %d '%s'", args ? args : "(null)",
			 config ? config : "(null)", code, part, e.code, e.msg);
	json_decref(c);
}

static void test_nothing_asked(void **state)
{
	struct tartan_podreq r;

	r = take(NULL, NULL);
	assert_false(r.has_addr || r.has_mac);
	r = take("", "{}");
	assert_false(r.has_addr || r.has_mac);
	/* kubelet's and podman's args */
	r = take("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1;"
		 "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u",
		 "{\"runtimeConfig\":{\"portMappings\":[]}}");
	assert_false(r.has_addr || r.has_mac);
	/* an empty IP= or MAC= asks for nothing, as net.IP's UnmarshalText; an empty list too */
	r = take("IP=;MAC=", "{\"runtimeConfig\":{\"ips\":[]}}");
	assert_false(r.has_addr || r.has_mac);
}

static void test_cni_args(void **state)
{
	struct tartan_podreq r;

	r = take("IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.5.3.7;MAC=0A:58:0a:05:03:07", NULL);
	assert_true(r.has_addr && r.has_mac);
	assert_int_equal(r.addr, 0x0a050307);
	assert_int_equal(r.addr_len, 0);
	assert_int_equal(r.addr_code, 4);
	assert_int_equal(r.mac_code, 4);
	assert_memory_equal(r.mac, ((uint8_t[]){ 0x0a, 0x58, 0x0a, 0x05, 0x03, 0x07 }), 6);
	/* only known keys: no IgnoreUnknown needed; the last of a key counts */
	r = take("IP=10.5.3.7;IP=10.5.3.8", NULL);
	assert_int_equal(r.addr, 0x0a050308);
	r = take("IP=10.5.3.7;IP=", NULL);
	assert_false(r.has_addr);
	r = take("IgnoreUnknown=TRUE;FOO=bar;MAC=0a-58-0a-05-03-07", NULL);
	assert_true(r.has_mac);
	r = take("FOO=bar;IgnoreUnknown=1", NULL);
	assert_false(r.has_addr);
}

static void test_cni_args_refused(void **state)
{
	refused("FOO=bar", NULL, 4, "unknown args ('FOO=bar')");
	refused("K8S_POD_NAME=x;FOO=bar;BAZ=1", NULL, 4, "'FOO=bar' and more");
	refused("IgnoreUnknown=0;FOO=bar", NULL, 4, "unknown args");
	refused("IgnoreUnknown=yes;FOO=bar", NULL, 4, "IgnoreUnknown='yes'");
	refused("IgnoreUnknown=1;", NULL, 4, "invalid pair ''");
	refused("IgnoreUnknown=1;IP", NULL, 4, "invalid pair 'IP'");
	refused("IP=10.5.3.7=x", NULL, 4, "invalid pair");
	refused("IP=10.5.3.7/24", NULL, 4, "CNI_ARGS IP: '10.5.3.7/24' is not an IPv4 address");
	refused("IP=10.5.3", NULL, 4, "not an IPv4 address");
	refused("IP=2001:db8::1", NULL, 4, "IPv6");
	refused("MAC=01:00:5e:00:00:01", NULL, 4,
		"CNI_ARGS MAC: '01:00:5e:00:00:01' is not a unicast");
	refused("MAC=ff:ff:ff:ff:ff:ff", NULL, 4, "not a unicast");
	refused("MAC=00:00:00:00:00:00", NULL, 4, "not a unicast");
	refused("MAC=0a:58:0a:05:03", NULL, 4, "is not a MAC address");
	/* a control byte is not echoed as it is */
	refused("IP=1\x1b[2J", NULL, 4, "'1?[2J'");
}

static void test_runtime_config(void **state)
{
	struct tartan_podreq r;

	r = take(NULL,
		 "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9/24\"],\"mac\":\"0a:58:0a:05:03:09\"}}");
	assert_true(r.has_addr && r.has_mac);
	assert_int_equal(r.addr, 0x0a050309);
	assert_int_equal(r.addr_len, 24);
	assert_int_equal(r.addr_code, 7);
	assert_int_equal(r.mac_code, 7);
	r = take(NULL, "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9\"]}}");
	assert_int_equal(r.addr_len, 0);
	/* one address listed twice, as podman 4.3's network reload sends a container's --ip */
	r = take(NULL, "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9\",\"10.5.3.9/24\"]}}");
	assert_true(r.has_addr);
	assert_int_equal(r.addr, 0x0a050309);
	assert_int_equal(r.addr_len, 24);
	/* both places, agreeing */
	r = take("IgnoreUnknown=1;IP=10.5.3.9;MAC=0a:58:0a:05:03:09",
		 "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9/24\"],\"mac\":\"0a58.0a05.0309\"}}");
	assert_true(r.has_addr && r.has_mac);
	assert_int_equal(r.addr, 0x0a050309);
}

static void test_runtime_config_refused(void **state)
{
	refused(NULL, "{\"runtimeConfig\":[]}", 7, "runtimeConfig is not an object");
	refused(NULL, "{\"runtimeConfig\":{\"ips\":\"10.5.3.9\"}}", 7, "ips is not a list");
	refused(NULL, "{\"runtimeConfig\":{\"ips\":[9]}}", 7, "ips[0] is not a string");
	refused(NULL, "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9\",\"10.5.3.10\"]}}", 7,
		"ips[1] differs from [0]");
	refused(NULL, "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9/24\",\"10.5.3.9/25\"]}}", 7,
		"more than one address");
	refused(NULL, "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9\",null]}}", 7,
		"ips[1] is not a string");
	refused(NULL, "{\"runtimeConfig\":{\"ips\":[\"2001:db8::9/64\"]}}", 7, "IPv6");
	refused(NULL, "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9/33\"]}}", 7, "not an IPv4");
	refused(NULL, "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9/\"]}}", 7, "not an IPv4");
	refused(NULL, "{\"runtimeConfig\":{\"mac\":7}}", 7, "mac is not a string");
	refused(NULL, "{\"runtimeConfig\":{\"mac\":\"03:00:00:00:00:01\"}}", 7, "not a unicast");
	refused("IP=10.5.3.8", "{\"runtimeConfig\":{\"ips\":[\"10.5.3.9\"]}}", 7,
		"different addresses");
	refused("MAC=0a:58:0a:05:03:08", "{\"runtimeConfig\":{\"mac\":\"0a:58:0a:05:03:09\"}}", 7,
		"different addresses");
	/* CNI_ARGS first: its error wins */
	refused("FOO=1", "{\"runtimeConfig\":{\"mac\":7}}", 4, "unknown args");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_asked),
		cmocka_unit_test(test_cni_args),
		cmocka_unit_test(test_cni_args_refused),
		cmocka_unit_test(test_runtime_config),
		cmocka_unit_test(test_runtime_config_refused),
	};

	return cmocka_run_group_tests_name("daemon-podreq", tests, NULL, NULL);
}
