/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for ctl/answer.c: parsing the daemon's answer line and the text
 * tartanctl prints for status, leases, pods and routes, with fields missing, of the
 * wrong type, or holding control characters.
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

#include "ctl/answer.h"

/* 2023-11-14T22:13:20Z */
#define T0 1700000000

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, 0, &e);

	if (!v)
		fail_msg("test JSON does not parse: %s: %s", e.text, s);
	return v;
}

static void expect_text(const char *what, const char *got, const char *expected)
{
	if (strcmp(got, expected) != 0)
		print_error("%s:\n--- expected\n%s--- got\n%s---\n", what, expected, got);
	assert_string_equal(got, expected);
}

static void expect_status(const char *result_json, time_t now, const char *expected)
{
	json_t *result = load(result_json);
	char *text = NULL;

	assert_int_equal(tartan_ctl_render_status(result, now, &text), 0);
	expect_text(result_json, text, expected);
	free(text);
	json_decref(result);
}

static void expect_leases(const char *result_json, const char *expected)
{
	json_t *result = load(result_json);
	char *text = NULL;

	assert_int_equal(tartan_ctl_render_leases(result, &text), 0);
	expect_text(result_json, text, expected);
	free(text);
	json_decref(result);
}

static void expect_pods(const char *result_json, const char *expected)
{
	json_t *result = load(result_json);
	char *text = NULL;

	assert_int_equal(tartan_ctl_render_pods(result, &text), 0);
	expect_text(result_json, text, expected);
	free(text);
	json_decref(result);
}

static void test_parse_ok(void **state)
{
	const char *line = "{\"ok\":true,\"result\":{\"state\":\"running\"},\"extra\":[1]}\n";
	json_t *result = NULL;
	char *error = (char *)"untouched";

	assert_int_equal(tartan_ctl_answer_parse(line, strlen(line), &result, &error), 0);
	assert_null(error);
	assert_string_equal(json_string_value(json_object_get(result, "state")), "running");
	json_decref(result);
}

static void test_parse_error(void **state)
{
	static const struct {
		const char *line, *error;
	} cases[] = {
		{ "{\"ok\":false,\"error\":\"no lease yet\"}", "no lease yet" },
		/* a terminal escape from the socket is shown, not executed */
		{ "{\"ok\":false,\"error\":\"bad \\u001b[2J\\n\"}", "bad \\x1b[2J\\x0a" },
		{ "{\"ok\":false,\"error\":\"caf\\u00e9\"}", "caf\\xc3\\xa9" },
		{ "{\"ok\":false}", "no message" },
		{ "{\"ok\":false,\"error\":42}", "no message" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *result = (json_t *)1;
		char *error = NULL;

		assert_int_equal(tartan_ctl_answer_parse(cases[i].line, strlen(cases[i].line),
							 &result, &error),
				 0);
		assert_null(result);
		expect_text(cases[i].line, error, cases[i].error);
		free(error);
	}
}

static void test_parse_malformed(void **state)
{
	static const char *const lines[] = {
		"",
		"garbage\n",
		"[true]",
		"{\"ok\":1,\"result\":{}}",
		"{\"result\":{}}",
		"{\"ok\":true}",
		"{\"ok\":true,\"result\":[]}",
		"{\"ok\":true,\"result\":\"running\"}",
		"{\"ok\":true,\"result\":{}} {}",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		json_t *result = NULL;
		char *error = NULL;
		int r = tartan_ctl_answer_parse(lines[i], strlen(lines[i]), &result, &error);

		if (r != -EBADMSG)
			print_error("answer \"%s\": expected -EBADMSG, got %d\n", lines[i], r);
		assert_int_equal(r, -EBADMSG);
		assert_null(result);
		assert_null(error);
	}
}

static void test_status_full(void **state)
{
	expect_status(
		"{\"state\":\"running\",\"network\":\"10.5.0.0/16\",\"subnet\":\"10.5.72.0/24\","
		"\"public_ip\":\"192.0.2.1\",\"interface\":\"eth0\",\"backend\":\"vxlan\","
		"\"lease_expiry\":1700000000,\"peers\":2,\"etcd_endpoint\":\"http://127.0.0.1:2379\","
		"\"etcd_connected\":true,\"mtu\":1450,\"subnet_file\":\"/run/flannel/subnet.env\","
		"\"subnet_file_written\":true,\"future_field\":{\"x\":1}}",
		T0 - 86400 - 3 * 3600 - 59,
		"State:        running\n"
		"Network:      10.5.0.0/16\n"
		"Subnet:       10.5.72.0/24\n"
		"Public IP:    192.0.2.1\n"
		"Interface:    eth0\n"
		"Backend:      vxlan\n"
		"MTU:          1450\n"
		"Lease expiry: 2023-11-14T22:13:20Z (in 1d 3h)\n"
		"Peers:        2\n"
		"etcd:         http://127.0.0.1:2379 (connected)\n"
		"Subnet file:  /run/flannel/subnet.env (written)\n");
}

static void test_status_partial_and_wrong_types(void **state)
{
	/* waiting for the config: most fields not known yet */
	expect_status(
		"{\"state\":\"waiting-for-config\",\"etcd_endpoint\":\"http://10.0.0.1:2379\","
		"\"etcd_connected\":false,\"subnet_file\":\"/tmp/s.env\",\"subnet_file_written\":false}",
		T0,
		"State:        waiting-for-config\n"
		"Network:      -\n"
		"Subnet:       -\n"
		"Public IP:    -\n"
		"Interface:    -\n"
		"Backend:      -\n"
		"MTU:          -\n"
		"Lease expiry: -\n"
		"Peers:        -\n"
		"etcd:         http://10.0.0.1:2379 (not connected)\n"
		"Subnet file:  /tmp/s.env (not written yet)\n");
	/* wrong types print "-", and never crash */
	expect_status(
		"{\"state\":7,\"network\":null,\"subnet\":[\"10.5.72.0/24\"],\"public_ip\":{},"
		"\"backend\":true,\"mtu\":\"1450\",\"lease_expiry\":\"soon\",\"peers\":2.5,"
		"\"etcd_endpoint\":1,\"etcd_connected\":\"yes\",\"subnet_file\":false,\"interface\":0,"
		"\"subnet_file_written\":1}",
		T0,
		"State:        -\n"
		"Network:      -\n"
		"Subnet:       -\n"
		"Public IP:    -\n"
		"Interface:    -\n"
		"Backend:      -\n"
		"MTU:          -\n"
		"Lease expiry: -\n"
		"Peers:        -\n"
		"etcd:         -\n"
		"Subnet file:  -\n");
	/* a reservation, and an expiry in the past */
	expect_status(
		"{\"lease_expiry\":null}", T0,
		"State:        -\nNetwork:      -\nSubnet:       -\nPublic IP:    -\n"
		"Interface:    -\nBackend:      -\nMTU:          -\nLease expiry: never (a reservation)\n"
		"Peers:        -\netcd:         -\nSubnet file:  -\n");
	expect_status("{\"lease_expiry\":1700000000,\"state\":\"acquiring\\u001b]0;x\\u0007\"}",
		      T0 + 125,
		      "State:        acquiring\\x1b]0;x\\x07\n"
		      "Network:      -\nSubnet:       -\nPublic IP:    -\n"
		      "Interface:    -\nBackend:      -\nMTU:          -\n"
		      "Lease expiry: 2023-11-14T22:13:20Z (expired 2m 5s ago)\n"
		      "Peers:        -\netcd:         -\nSubnet file:  -\n");
	/* times beyond what a calendar prints */
	expect_status("{\"lease_expiry\":9223372036854775807}", T0,
		      "State:        -\nNetwork:      -\nSubnet:       -\nPublic IP:    -\n"
		      "Interface:    -\nBackend:      -\nMTU:          -\nLease expiry: -\n"
		      "Peers:        -\netcd:         -\nSubnet file:  -\n");
	expect_status("{\"lease_expiry\":-9223372036854775807}", T0,
		      "State:        -\nNetwork:      -\nSubnet:       -\nPublic IP:    -\n"
		      "Interface:    -\nBackend:      -\nMTU:          -\nLease expiry: -\n"
		      "Peers:        -\netcd:         -\nSubnet file:  -\n");
}

/* the "Files" section: one line per file, path and state, paths padded to one width */
static void test_status_files(void **state)
{
	expect_status(
		"{\"mode\":\"kubenet\",\"state\":\"running\",\"subnet\":\"10.244.3.0/24\","
		"\"mtu\":1500,\"files\":["
		"{\"kind\":\"conflist\",\"path\":\"/etc/cni/net.d/10-tartan.conflist\","
		"\"state\":\"ok\",\"restored\":0,\"error\":null},"
		"{\"kind\":\"kubenet-conf\",\"path\":\"/etc/cni/net.d/20-kubenet.conf\","
		"\"state\":\"ok\",\"restored\":3,\"error\":null},"
		"{\"kind\":\"rkt-conf\",\"path\":\"/etc/rkt/net.d/k.conf\",\"state\":\"skipped\","
		"\"restored\":0,\"error\":null},"
		"{\"kind\":\"subnet-env\",\"path\":\"/run/x\",\"state\":\"error\","
		"\"restored\":1,\"error\":\"Permission denied\"},"
		"{\"kind\":\"later\",\"path\":\"/run/y\",\"state\":\"pending\",\"restored\":0}]}",
		T0,
		"State:        running\n"
		"Mode:         kubenet\n"
		"Subnet:       10.244.3.0/24\n"
		"MTU:          1500\n"
		"Files:\n"
		"  /etc/cni/net.d/10-tartan.conflist  ok\n"
		"  /etc/cni/net.d/20-kubenet.conf     restored 3 times\n"
		"  /etc/rkt/net.d/k.conf              skipped\n"
		"  /run/x                             error: Permission denied\n"
		"  /run/y                             pending\n");
	/* from a socket: wrong types print "-", escapes, no section for an empty list */
	expect_status("{\"mode\":\"kubenet\",\"files\":[{\"path\":\"/a\\u001b[2J\","
		      "\"state\":\"ok\",\"restored\":\"3\"},{\"path\":5,\"state\":\"error\","
		      "\"error\":{}},7,{\"state\":\"x\\n\"}]}",
		      T0,
		      "State:        -\nMode:         kubenet\nSubnet:       -\nMTU:          -\n"
		      "Files:\n"
		      "  /a\\x1b[2J  ok\n"
		      "  -          error: -\n"
		      "  -          -\n"
		      "  -          x\\x0a\n");
	expect_status("{\"mode\":\"kubenet\",\"files\":[]}", T0,
		      "State:        -\nMode:         kubenet\nSubnet:       -\nMTU:          -\n");
	expect_status("{\"mode\":\"kubenet\",\"files\":{\"path\":\"/a\"}}", T0,
		      "State:        -\nMode:         kubenet\nSubnet:       -\nMTU:          -\n");
}

/* "leaseRival": one line naming the rival's PublicIP and its count; escaped, "-" for junk */
static void test_status_lease_rival(void **state)
{
	static const char *head = "State:        running\nMode:         kubenet\nSubnet:       -\n"
				  "MTU:          -\n";
	char want[512];

	snprintf(want, sizeof(want),
		 "%sLease rival:  PublicIP 192.0.2.99 overwrote our lease key 17 times\n", head);
	expect_status("{\"mode\":\"kubenet\",\"state\":\"running\",\"leaseRival\":"
		      "{\"publicIP\":\"192.0.2.99\",\"overwrites\":17}}",
		      T0, want);
	snprintf(want, sizeof(want),
		 "%sLease rival:  PublicIP unknown overwrote our lease key 1 time\n", head);
	expect_status("{\"mode\":\"kubenet\",\"state\":\"running\",\"leaseRival\":"
		      "{\"publicIP\":\"unknown\",\"overwrites\":1}}",
		      T0, want);
	snprintf(want, sizeof(want),
		 "%sLease rival:  PublicIP 1.2.3.4\\x1b[2J overwrote our lease key\n", head);
	expect_status("{\"mode\":\"kubenet\",\"state\":\"running\",\"leaseRival\":"
		      "{\"publicIP\":\"1.2.3.4\\u001b[2J\",\"overwrites\":\"2\"}}",
		      T0, want);
	snprintf(want, sizeof(want), "%sLease rival:  PublicIP - overwrote our lease key\n", head);
	expect_status("{\"mode\":\"kubenet\",\"state\":\"running\",\"leaseRival\":7}", T0, want);
}

static void test_status_not_an_object(void **state)
{
	json_t *v = json_array();
	char *text = NULL;

	assert_int_equal(tartan_ctl_render_status(v, T0, &text), 0);
	assert_non_null(strstr(text, "State:        -\n"));
	free(text);
	json_decref(v);
}

static void test_leases_table(void **state)
{
	expect_leases(
		"{\"leases\":["
		"{\"subnet\":\"10.5.72.0/24\",\"public_ip\":\"192.0.2.1\",\"backend\":\"vxlan\","
		"\"expiry\":1700000000,\"own\":true,\"programmed\":true,"
		"\"vtep_mac\":\"aa:bb:cc:dd:ee:ff\"},"
		"{\"subnet\":\"10.5.3.0/24\",\"public_ip\":\"192.0.2.10\",\"backend\":\"host-gw\","
		"\"expiry\":null,\"own\":false,\"programmed\":false},"
		"{\"subnet\":\"10.5.100.0/24\",\"public_ip\":\"198.51.100.200\","
		"\"backend\":\"vxlan\",\"programmed\":null}"
		"]}",
		"SUBNET         PUBLIC-IP       BACKEND  EXPIRES               OWN  PROGRAMMED\n"
		"10.5.72.0/24   192.0.2.1       vxlan    2023-11-14T22:13:20Z  yes  yes\n"
		"10.5.3.0/24    192.0.2.10      host-gw  never                 no   no\n"
		"10.5.100.0/24  198.51.100.200  vxlan    -                     -    -\n");
	/* no leases: the header alone */
	expect_leases("{\"leases\":[]}", "SUBNET  PUBLIC-IP  BACKEND  EXPIRES  OWN  PROGRAMMED\n");
}

static void test_leases_hostile(void **state)
{
	/* entries of the wrong type are rows of "-"; strings are escaped */
	expect_leases("{\"leases\":[42,null,"
		      "{\"subnet\":\"\\u001b[31m10.5.1.0/24\",\"public_ip\":5,\"backend\":[],"
		      "\"expiry\":\"x\",\"own\":1,\"programmed\":\"yes\"}]}",
		      "SUBNET               PUBLIC-IP  BACKEND  EXPIRES  OWN  PROGRAMMED\n"
		      "-                    -          -        -        -    -\n"
		      "-                    -          -        -        -    -\n"
		      "\\x1b[31m10.5.1.0/24  -          -        -        -    -\n");

	{
		static const char *const bad[] = {
			"{}",
			"{\"leases\":{}}",
			"{\"leases\":null}",
			"[]",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			json_t *v = load(bad[i]);
			char *text = NULL;

			assert_int_equal(tartan_ctl_render_leases(v, &text), -EBADMSG);
			assert_null(text);
			json_decref(v);
		}
	}
}

static void test_pods_table(void **state)
{
	/* as tartand answers: a pod with its names, one attached by a runtime that
	 * passed no K8S_* args whose network is gone, one from host-local before v0.8 (the
	 * id alone: no interface, so no host end), one left outside the node's subnet (from a
	 * daemon that says no state: "-") */
	expect_pods(
		"{\"pods\":["
		"{\"address\":\"10.5.3.2\",\"containerID\":"
		"\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
		"\"ifName\":\"eth0\",\"hostIf\":\"veth1a2b3c4d\",\"inSubnet\":true,"
		"\"state\":\"attached\",\"namespace\":\"default\",\"name\":\"web-1\"},"
		"{\"address\":\"10.5.3.3\",\"containerID\":\"ctr-0002\",\"ifName\":\"net1\","
		"\"hostIf\":\"veth0000beef\",\"inSubnet\":true,\"state\":\"gone\"},"
		"{\"address\":\"10.5.3.10\",\"containerID\":\"ctr1\",\"ifName\":null,"
		"\"hostIf\":\"\",\"inSubnet\":true,\"state\":\"attached\"},"
		"{\"address\":\"10.5.7.9\",\"containerID\":\"fedcba9876543210\","
		"\"ifName\":\"eth0\",\"hostIf\":\"vethcafe0001\",\"inSubnet\":false,"
		"\"namespace\":\"kube-system\",\"name\":\"coredns-5d78c9869d-x2x4q\","
		"\"future\":{\"x\":1}}"
		"]}",
		"ADDRESS    POD                                   CONTAINER     IFNAME  HOST-IF       "
		"STATE     NOTE\n"
		"10.5.3.2   default/web-1                         0123456789ab  eth0    veth1a2b3c4d  "
		"attached\n"
		"10.5.3.3   -                                     ctr-0002      net1    veth0000beef  "
		"gone\n"
		"10.5.3.10  -                                     ctr1          -       -             "
		"attached\n"
		"10.5.7.9   kube-system/coredns-5d78c9869d-x2x4q  fedcba987654  eth0    vethcafe0001  "
		"-         outside subnet\n");
	/* no pods: the header alone */
	expect_pods("{\"pods\":[]}", "ADDRESS  POD  CONTAINER  IFNAME  HOST-IF  STATE  NOTE\n");
	/* one of the two names: the other is "-" */
	expect_pods(
		"{\"pods\":[{\"address\":\"10.5.3.2\",\"containerID\":\"c\",\"ifName\":\"eth0\","
		"\"hostIf\":\"veth00000001\",\"inSubnet\":true,\"state\":\"attached\","
		"\"namespace\":\"default\"},"
		"{\"address\":\"10.5.3.4\",\"containerID\":\"d\",\"ifName\":\"eth0\","
		"\"hostIf\":\"veth00000002\",\"inSubnet\":true,\"state\":\"attached\","
		"\"name\":\"db\",\"namespace\":\"\"}]}",
		"ADDRESS   POD        CONTAINER  IFNAME  HOST-IF       STATE     NOTE\n"
		"10.5.3.2  default/-  c          eth0    veth00000001  attached\n"
		"10.5.3.4  -/db       d          eth0    veth00000002  attached\n");
}

static void test_pods_hostile(void **state)
{
	/* entries of the wrong type are rows of "-"; strings are escaped, the
	 * container id cut before escaping (12 bytes, then \xNN each) */
	expect_pods(
		"{\"pods\":[7,null,"
		"{\"address\":\"\\u001b[31m10.5.3.2\",\"containerID\":\"\\u001b]0;pwned\\u0007xyzxyz\","
		"\"ifName\":3,\"hostIf\":[],\"inSubnet\":\"no\",\"namespace\":\"a\\nb\","
		"\"name\":{},\"state\":\"\\u001b[2Jgone\"}]}",
		"ADDRESS           POD       CONTAINER           IFNAME  HOST-IF  STATE        NOTE\n"
		"-                 -         -                   -       -        -            -\n"
		"-                 -         -                   -       -        -            -\n"
		"\\x1b[31m10.5.3.2  a\\x0ab/-  \\x1b]0;pwned\\x07xy  -       -        \\x1b[2Jgone  -\n");

	{
		static const char *const bad[] = {
			"{}", "{\"pods\":{}}", "{\"pods\":null}", "{\"leases\":[]}", "[]",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			json_t *v = load(bad[i]);
			char *text = NULL;

			assert_int_equal(tartan_ctl_render_pods(v, &text), -EBADMSG);
			assert_null(text);
			json_decref(v);
		}
	}
}

static void test_render_json(void **state)
{
	json_t *v = load("{\"state\":\"caf\\u00e9\",\"peers\":2,\"x\":\"\\u001b\"}");
	char *text = NULL;

	assert_int_equal(tartan_ctl_render_json(v, &text), 0);
	expect_text("--json", text,
		    "{\n  \"state\": \"caf\\u00E9\",\n  \"peers\": 2,\n  \"x\": \"\\u001B\"\n}\n");
	free(text);
	json_decref(v);

	/* DEL, which jansson does not escape */
	v = load("{\"k\\u007f\":\"\\u007f\"}");
	assert_int_equal(tartan_ctl_render_json(v, &text), 0);
	expect_text("--json", text, "{\n  \"k\\u007f\": \"\\u007f\"\n}\n");
	free(text);
	json_decref(v);
}

static void expect_routes(const char *result_json, const char *expected)
{
	json_t *result = load(result_json);
	char *text = NULL;

	assert_int_equal(tartan_ctl_render_routes(result, &text), 0);
	expect_text(result_json, text, expected);
	free(text);
	json_decref(result);
}

static void test_routes_table(void **state)
{
	/* every state, and what the kernel has instead of a different route */
	expect_routes(
		"{\"active\":true,\"routes\":["
		"{\"dst\":\"10.5.1.0/24\",\"gateway\":\"192.0.2.1\",\"dev\":\"eth0\","
		"\"onlink\":false,\"state\":\"ok\"},"
		"{\"dst\":\"10.5.2.0/24\",\"gateway\":\"192.0.2.2\",\"dev\":\"eth0\","
		"\"onlink\":false,\"state\":\"missing\"},"
		"{\"dst\":\"10.5.3.0/24\",\"gateway\":\"192.0.2.3\",\"dev\":\"eth0\","
		"\"onlink\":false,\"state\":\"different\",\"kernel\":{\"gateway\":"
		"\"10.5.3.0\",\"dev\":\"flannel.1\",\"onlink\":true}},"
		"{\"dst\":\"10.5.4.0/24\",\"gateway\":null,\"dev\":\"eth0\","
		"\"onlink\":false,\"state\":\"extra\"}]}",
		"DESTINATION  GATEWAY    DEV   ONLINK  STATE      KERNEL\n"
		"10.5.1.0/24  192.0.2.1  eth0  no      ok\n"
		"10.5.2.0/24  192.0.2.2  eth0  no      missing\n"
		"10.5.3.0/24  192.0.2.3  eth0  no      different  via 10.5.3.0 dev flannel.1 "
		"onlink\n"
		"10.5.4.0/24  -          eth0  no      extra\n"
		"\n"
		"Drift: 3 of 4 entries differ from what tartand keeps; it repairs them at its "
		"next sync\n");
	/* no peers: the header and no drift */
	expect_routes("{\"active\":true,\"routes\":[]}",
		      "DESTINATION  GATEWAY  DEV  ONLINK  STATE  KERNEL\n"
		      "\n"
		      "No drift: the kernel holds exactly what tartand keeps (0 entries)\n");
	expect_routes("{\"active\":false,\"routes\":[]}",
		      "tartand keeps no routes (yet): no lease held, or the alloc backend\n");
}

static void test_routes_hostile(void **state)
{
	json_t *v;
	char *text = NULL;

	/* escapes, wrong types as "-", a neighbour whose kernel MAC differs */
	expect_routes(
		"{\"routes\":[{\"dst\":\"\\u001b[2J\",\"gateway\":5,\"onlink\":\"x\","
		"\"state\":[]},7],"
		"\"neighbours\":[{\"ip\":\"10.5.1.0\",\"mac\":\"aa:aa:aa:aa:aa:aa\","
		"\"state\":\"different\",\"kernel\":{\"mac\":\"bb:bb:bb:bb:bb:bb\"}}],"
		"\"fdb\":\"nope\"}",
		"DESTINATION  GATEWAY  DEV  ONLINK  STATE  KERNEL\n"
		"\\x1b[2J      -        -    -       -\n"
		"-            -        -    -       -\n"
		"\n"
		"Neighbours on the vxlan device:\n"
		"IP        MAC                STATE      KERNEL\n"
		"10.5.1.0  aa:aa:aa:aa:aa:aa  different  mac bb:bb:bb:bb:bb:bb\n"
		"\n"
		"Drift: 3 of 3 entries differ from what tartand keeps; it repairs them at its "
		"next sync\n");
	/* no routes array: malformed */
	v = load("{\"leases\":[]}");
	assert_int_equal(tartan_ctl_render_routes(v, &text), -EBADMSG);
	json_decref(v);
	v = load("[]");
	assert_int_equal(tartan_ctl_render_routes(v, &text), -EBADMSG);
	json_decref(v);
	assert_null(text);
}

static void test_escape(void **state)
{
	char *out = NULL;

	assert_int_equal(tartan_ctl_escape("a\0b\x7f~ \\", 7, &out), 0);
	assert_string_equal(out, "a\\x00b\\x7f~ \\");
	free(out);
	assert_int_equal(tartan_ctl_escape("", 0, &out), 0);
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_status_full),
		cmocka_unit_test(test_status_partial_and_wrong_types),
		cmocka_unit_test(test_status_files),
		cmocka_unit_test(test_status_lease_rival),
		cmocka_unit_test(test_status_not_an_object),
		cmocka_unit_test(test_leases_table),
		cmocka_unit_test(test_leases_hostile),
		cmocka_unit_test(test_pods_table),
		cmocka_unit_test(test_pods_hostile),
		cmocka_unit_test(test_render_json),
		cmocka_unit_test(test_routes_table),
		cmocka_unit_test(test_routes_hostile),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
