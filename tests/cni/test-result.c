/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of cni/result.c: the neutral result rendered for each CNI
 * version (0.3.1 and 0.4.0 with ips[].version, 1.0.0 without, 1.1.0 with its
 * new interface and route fields), error objects, the VERSION answer, and
 * tartand's answer line, well-formed and not.
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

#include "cni/result.h"

/* what tartand answers for an ADD (the protocol's example) */
#define NEUTRAL                                                                                    \
	"{\"interfaces\":[{\"name\":\"veth1a2b3c4d\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"              \
	"{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:02\",\"sandbox\":\"/var/run/netns/x\"}],"     \
	"\"ips\":[{\"address\":\"10.5.3.7/24\",\"gateway\":\"10.5.3.1\",\"interface\":1}],"        \
	"\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.5.3.1\"}],\"dns\":{}}"

#define IFACES                                                                                     \
	"\"interfaces\":[{\"name\":\"veth1a2b3c4d\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"               \
	"{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:02\",\"sandbox\":\"/var/run/netns/x\"}]"
#define ROUTES "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.5.3.1\"}]"

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &e);

	if (!v)
		fail_msg("test JSON does not parse: %s: %s", e.text, s);
	return v;
}

static void expect_render(const char *neutral, const char *version, const char *expected)
{
	json_t *n = load(neutral);
	char *text = NULL;
	int r = tartan_cni_result_render(n, version, &text);

	if (r != 0)
		fail_msg("render %s for %s: %d", neutral, version, r);
	if (strcmp(text, expected) != 0)
		fail_msg("render for %s:\nexpected %ssaw      %s", version, expected, text);
	free(text);
	json_decref(n);
}

static void expect_bad_result(const char *neutral)
{
	json_t *n = load(neutral);
	char *text = NULL;

	for (size_t i = 0; i < TARTAN_CNI_VERSIONS_N; i++) {
		int r = tartan_cni_result_render(n, tartan_cni_versions[i], &text);

		if (r != -EBADMSG)
			fail_msg("expected -EBADMSG for %s (%s), saw %d", neutral,
				 tartan_cni_versions[i], r);
	}
	assert_null(text);
	json_decref(n);
}

static void test_render_versions(void **state)
{
	expect_render(NEUTRAL, "1.1.0",
		      "{\"cniVersion\":\"1.1.0\"," IFACES ",\"ips\":[{\"address\":\"10.5.3.7/24\","
		      "\"gateway\":\"10.5.3.1\",\"interface\":1}]," ROUTES ",\"dns\":{}}\n");
	expect_render(NEUTRAL, "1.0.0",
		      "{\"cniVersion\":\"1.0.0\"," IFACES ",\"ips\":[{\"address\":\"10.5.3.7/24\","
		      "\"gateway\":\"10.5.3.1\",\"interface\":1}]," ROUTES ",\"dns\":{}}\n");
	/* before 1.0.0 each ip says its family */
	expect_render(
		NEUTRAL, "0.4.0",
		"{\"cniVersion\":\"0.4.0\"," IFACES ",\"ips\":[{\"version\":\"4\","
		"\"address\":\"10.5.3.7/24\",\"gateway\":\"10.5.3.1\",\"interface\":1}]," ROUTES
		",\"dns\":{}}\n");
	expect_render(
		NEUTRAL, "0.3.1",
		"{\"cniVersion\":\"0.3.1\"," IFACES ",\"ips\":[{\"version\":\"4\","
		"\"address\":\"10.5.3.7/24\",\"gateway\":\"10.5.3.1\",\"interface\":1}]," ROUTES
		",\"dns\":{}}\n");
	expect_render(
		"{\"ips\":[{\"address\":\"fd00::5/64\"},{\"address\":\"10.0.0.2/24\"}]}", "0.3.1",
		"{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":\"6\",\"address\":\"fd00::5/64\"},"
		"{\"version\":\"4\",\"address\":\"10.0.0.2/24\"}],\"dns\":{}}\n");
}

/* fields a version does not define are left out; unknown ones always */
static void test_render_fields(void **state)
{
	const char *full =
		"{\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"m\",\"mtu\":1450,\"sandbox\":\"/n\","
		"\"socketPath\":\"/s\",\"pciID\":\"0000:00:01.0\",\"extra\":1}],"
		"\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":0,\"version\":\"9\"}],"
		"\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\",\"mtu\":1400,\"advmss\":1360,"
		"\"priority\":10,\"table\":100,\"scope\":0,\"x\":\"y\"}],"
		"\"dns\":{\"nameservers\":[\"10.0.0.1\"],\"domain\":\"cluster.local\","
		"\"search\":[\"a\",\"b\"],\"options\":[\"ndots:5\"],\"other\":true},"
		"\"cniVersion\":\"9.9.9\",\"surprise\":[]}";

	expect_render(
		full, "1.1.0",
		"{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"m\","
		"\"mtu\":1450,\"sandbox\":\"/n\",\"socketPath\":\"/s\",\"pciID\":\"0000:00:01.0\"}],"
		"\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":0}],"
		"\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\",\"mtu\":1400,"
		"\"advmss\":1360,\"priority\":10,\"table\":100,\"scope\":0}],"
		"\"dns\":{\"nameservers\":[\"10.0.0.1\"],\"domain\":\"cluster.local\","
		"\"search\":[\"a\",\"b\"],\"options\":[\"ndots:5\"]}}\n");
	expect_render(
		full, "1.0.0",
		"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"m\","
		"\"sandbox\":\"/n\"}],\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":0}],"
		"\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\"}],"
		"\"dns\":{\"nameservers\":[\"10.0.0.1\"],\"domain\":\"cluster.local\","
		"\"search\":[\"a\",\"b\"],\"options\":[\"ndots:5\"]}}\n");
	expect_render(
		full, "0.4.0",
		"{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"m\","
		"\"sandbox\":\"/n\"}],\"ips\":[{\"version\":\"4\",\"address\":\"10.0.0.2/24\","
		"\"interface\":0}],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\"}],"
		"\"dns\":{\"nameservers\":[\"10.0.0.1\"],\"domain\":\"cluster.local\","
		"\"search\":[\"a\",\"b\"],\"options\":[\"ndots:5\"]}}\n");
	/* nothing at all (the daemon's DEL answer, should it reach here): only dns */
	expect_render("{}", "1.0.0", "{\"cniVersion\":\"1.0.0\",\"dns\":{}}\n");
	/* empty lists stay */
	expect_render("{\"interfaces\":[],\"ips\":[],\"routes\":[]}", "0.3.1",
		      "{\"cniVersion\":\"0.3.1\",\"interfaces\":[],\"ips\":[],\"routes\":[],"
		      "\"dns\":{}}\n");
}

static void test_render_bad(void **state)
{
	static const char *const bad[] = {
		"[]",
		"\"x\"",
		"null",
		"{\"interfaces\":{}}",
		"{\"interfaces\":[1]}",
		"{\"interfaces\":[{}]}",
		"{\"interfaces\":[{\"name\":1}]}",
		"{\"interfaces\":[{\"name\":\"a\",\"mac\":1}]}",
		"{\"interfaces\":[{\"name\":\"a\",\"mtu\":-1}]}",
		/* wrong even where the version drops it: the answer is broken */
		"{\"interfaces\":[{\"name\":\"a\",\"pciID\":7}]}",
		"{\"ips\":\"10.0.0.2/24\"}",
		"{\"ips\":[{}]}",
		"{\"ips\":[{\"address\":10}]}",
		"{\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":[]}]}",
		"{\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":-1}]}",
		"{\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":\"1\"}]}",
		/* an index into interfaces[] that is not there */
		"{\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":0}]}",
		"{\"interfaces\":[{\"name\":\"a\"}],\"ips\":[{\"address\":\"1.2.3.4/8\",\"interface\":1}]}",
		"{\"routes\":[{\"gw\":\"10.0.0.1\"}]}",
		"{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"table\":1.5}]}",
		"{\"dns\":[]}",
		"{\"dns\":{\"nameservers\":\"10.0.0.1\"}}",
		"{\"dns\":{\"search\":[\"a\",1]}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_result(bad[i]);

	json_t *n = load(NEUTRAL);
	char *text = NULL;

	assert_int_equal(tartan_cni_result_render(n, "0.3.0", &text), -EINVAL);
	assert_int_equal(tartan_cni_result_render(n, NULL, &text), -EINVAL);
	assert_null(text);
	json_decref(n);
}

static void test_error_new(void **state)
{
	struct tartan_cni_error *e = NULL;
	char long_text[3000];

	assert_int_equal(tartan_cni_error_new(4, NULL, &e, "bad %s %d", "thing", 7), 0);
	assert_int_equal(e->code, 4);
	assert_string_equal(e->msg, "bad thing 7");
	assert_string_equal(e->details, "");
	assert_null(e->cni_version);
	tartan_cni_error_free(e);

	/* bytes that are not UTF-8 become U+FFFD, in msg and details */
	assert_int_equal(tartan_cni_error_new(4, "id\xff\xc0\xaf", &e, "x\xed\xa0\x80y"), 0);
	assert_string_equal(e->details, "id\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(e->msg, "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy");
	tartan_cni_error_free(e);

	/* long text is cut at a character, with "..." */
	memset(long_text, 'a', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	memcpy(long_text + TARTAN_CNI_ERROR_TEXT_MAX - 1, "\xc3\xa9", 2);
	assert_int_equal(tartan_cni_error_new(5, long_text, &e, "%s", long_text), 0);
	assert_int_equal(strlen(e->details), TARTAN_CNI_ERROR_TEXT_MAX - 1 + 3);
	assert_string_equal(e->details + TARTAN_CNI_ERROR_TEXT_MAX - 1, "...");
	assert_true(tartan_cni_utf8_valid(e->details, strlen(e->details)));
	assert_string_equal(e->msg, e->details);
	tartan_cni_error_free(e);
	tartan_cni_error_free(NULL);
}

static void test_error_render(void **state)
{
	struct tartan_cni_error *e = NULL;
	char *text = NULL;

	assert_int_equal(tartan_cni_error_new(7, "the \"name\"", &e, "invalid \\ config"), 0);
	assert_int_equal(tartan_cni_error_render(e, NULL, &text), 0);
	assert_string_equal(text, "{\"cniVersion\":\"1.1.0\",\"code\":7,\"msg\":\"invalid \\\\ "
				  "config\",\"details\":\"the \\\"name\\\"\"}\n");
	free(text);
	e->cni_version = "0.3.1";
	assert_int_equal(tartan_cni_error_render(e, NULL, &text), 0);
	assert_string_equal(text, "{\"cniVersion\":\"0.3.1\",\"code\":7,\"msg\":\"invalid \\\\ "
				  "config\",\"details\":\"the \\\"name\\\"\"}\n");
	free(text);
	/* the caller's version wins */
	assert_int_equal(tartan_cni_error_render(e, "1.0.0", &text), 0);
	assert_string_equal(text, "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"invalid \\\\ "
				  "config\",\"details\":\"the \\\"name\\\"\"}\n");
	free(text);
	tartan_cni_error_free(e);

	/* control characters are escaped: one line */
	assert_int_equal(tartan_cni_error_new(999, "a\nb", &e, "c\rd"), 0);
	assert_int_equal(tartan_cni_error_render(e, NULL, &text), 0);
	assert_string_equal(text, "{\"cniVersion\":\"1.1.0\",\"code\":999,\"msg\":\"c\\rd\","
				  "\"details\":\"a\\nb\"}\n");
	free(text);
	tartan_cni_error_free(e);
}

static void test_version_render(void **state)
{
	static const struct {
		const char *asked, *echoed;
	} cases[] = {
		{ NULL, "1.1.0" },     { "0.4.0", "0.4.0" },	   { "1.0.0", "1.0.0" },
		{ "0.2.0", "0.2.0" },  { "10.20.30", "10.20.30" }, { "", "1.1.0" },
		{ "1.0", "1.1.0" },    { "1.0.0.0", "1.1.0" },	   { "v1.0.0", "1.1.0" },
		{ "1.0.0 ", "1.1.0" }, { "12345.0.0", "1.1.0" },   { "\"}", "1.1.0" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = NULL, expected[256];

		snprintf(expected, sizeof(expected),
			 "{\"cniVersion\":\"%s\",\"supportedVersions\":"
			 "[\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n",
			 cases[i].echoed);
		assert_int_equal(tartan_cni_version_render(cases[i].asked, &text), 0);
		assert_string_equal(text, expected);
		free(text);
	}
}

static void test_versions(void **state)
{
	assert_ptr_equal(tartan_cni_version_find("1.0.0"), tartan_cni_versions[2]);
	assert_string_equal(tartan_cni_versions[TARTAN_CNI_VERSIONS_N - 1],
			    TARTAN_CNI_VERSION_LATEST);
	assert_null(tartan_cni_version_find("1.0"));
	assert_null(tartan_cni_version_find("0.3.0"));
	assert_null(tartan_cni_version_find(NULL));
}

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
		{ "", true },
		{ "plain", true },
		{ "\xc3\xa9", true },
		{ "\xe2\x82\xac", true },
		{ "\xf0\x9f\x98\x80", true },
		{ "\xf4\x8f\xbf\xbf", true }, /* U+10FFFF */
		{ "\x80", false },
		{ "\xc0\xaf", false },	   /* overlong */
		{ "\xc1\xbf", false },	   /* overlong */
		{ "\xe0\x80\xaf", false }, /* overlong */
		{ "\xf0\x80\x80\xaf", false },
		{ "\xed\xa0\x80", false }, /* surrogate */
		{ "\xf4\x90\x80\x80", false },
		{ "\xf5\x80\x80\x80", false },
		{ "\xff", false },
		{ "\xc3", false }, /* cut short */
		{ "\xe2\x82", false },
		{ "\xe2\x28\xa1", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (tartan_cni_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].valid)
			fail_msg("case %zu: expected %s", i, cases[i].valid ? "valid" : "invalid");
	/* NUL is not carried */
	assert_false(tartan_cni_utf8_valid("a\0b", 3));
}

/* ---- tartand's answer ------------------------------------------------------------------- */

static void test_answer_result(void **state)
{
	const char *line = "{\"ok\":true,\"result\":{\"result\":" NEUTRAL "}}\n";
	struct tartan_cni_error *e = NULL;
	json_t *result = NULL, *expected = load(NEUTRAL);

	assert_int_equal(tartan_cni_answer_parse(line, strlen(line), &result, &e), 0);
	assert_null(e);
	assert_true(json_equal(result, expected));
	json_decref(result);
	result = NULL;
	/* "\r\n", no line end, and the empty result of DEL */
	line = "{\"ok\":true,\"result\":{\"result\":{}}}\r\n";
	assert_int_equal(tartan_cni_answer_parse(line, strlen(line), &result, &e), 0);
	assert_int_equal(json_object_size(result), 0);
	json_decref(result);
	result = NULL;
	line = "{\"ok\":true,\"result\":{\"result\":{}},\"extra\":1}";
	assert_int_equal(tartan_cni_answer_parse(line, strlen(line), &result, &e), 0);
	assert_null(e);
	json_decref(result);
	json_decref(expected);
}

static void test_answer_errors(void **state)
{
	struct tartan_cni_error *e = NULL;
	json_t *result = NULL;
	const char *line;

	line = "{\"ok\":true,\"result\":{\"error\":{\"code\":50,\"msg\":\"no lease yet\","
	       "\"details\":\"waiting for etcd\"}}}\n";
	assert_int_equal(tartan_cni_answer_parse(line, strlen(line), &result, &e), 0);
	assert_null(result);
	assert_int_equal(e->code, 50);
	assert_string_equal(e->msg, "no lease yet");
	assert_string_equal(e->details, "waiting for etcd");
	tartan_cni_error_free(e);
	e = NULL;

	line = "{\"ok\":true,\"result\":{\"error\":{\"code\":7}}}";
	assert_int_equal(tartan_cni_answer_parse(line, strlen(line), &result, &e), 0);
	assert_int_equal(e->code, 7);
	assert_string_equal(e->msg, "");
	assert_string_equal(e->details, "");
	tartan_cni_error_free(e);
	e = NULL;

	/* the daemon could not take it: try again later, its words in details */
	line = "{\"ok\":false,\"error\":\"too many clients\"}\n";
	assert_int_equal(tartan_cni_answer_parse(line, strlen(line), &result, &e), 0);
	assert_null(result);
	assert_int_equal(e->code, 11);
	assert_string_equal(e->msg, "tartand could not take the request");
	assert_string_equal(e->details, "too many clients");
	tartan_cni_error_free(e);
	e = NULL;
	line = "{\"ok\":false}";
	assert_int_equal(tartan_cni_answer_parse(line, strlen(line), &result, &e), 0);
	assert_int_equal(e->code, 11);
	assert_string_equal(e->details, "no message");
	tartan_cni_error_free(e);
}

static void test_answer_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"x",
		"[]",
		"{}",
		"{\"ok\":1}",
		"{\"ok\":\"true\"}",
		"{\"ok\":true}",
		"{\"ok\":true,\"result\":[]}",
		"{\"ok\":true,\"result\":{}}",
		"{\"ok\":true,\"result\":{\"result\":{},\"error\":{\"code\":1}}}",
		"{\"ok\":true,\"result\":{\"result\":[]}}",
		"{\"ok\":true,\"result\":{\"result\":null}}",
		"{\"ok\":true,\"result\":{\"error\":\"x\"}}",
		"{\"ok\":true,\"result\":{\"error\":{}}}",
		"{\"ok\":true,\"result\":{\"error\":{\"code\":-1}}}",
		"{\"ok\":true,\"result\":{\"error\":{\"code\":4294967296}}}",
		"{\"ok\":true,\"result\":{\"error\":{\"code\":1.0}}}",
		"{\"ok\":true,\"result\":{\"error\":{\"code\":\"7\"}}}",
		"{\"ok\":true,\"result\":{\"error\":{\"code\":7,\"msg\":1}}}",
		"{\"ok\":true,\"result\":{\"error\":{\"code\":7,\"details\":[]}}}",
		"{\"ok\":false,\"error\":{}}",
		"{\"ok\":true,\"ok\":false}",
		"{\"ok\":true,\"result\":{\"result\":{}}} {}",
		"{\"ok\":true,\"result\":{\"result\":{\"a\":\"\xff\"}}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tartan_cni_error *e = NULL;
		json_t *result = NULL;
		int r = tartan_cni_answer_parse(bad[i], strlen(bad[i]), &result, &e);

		if (r != -EBADMSG)
			fail_msg("answer %s: expected -EBADMSG, saw %d", bad[i], r);
		assert_null(result);
		assert_null(e);
	}
	/* the largest answer taken */
	size_t len = TARTAN_CNI_ANSWER_MAX + 1;
	char *big = malloc(len);
	struct tartan_cni_error *e = NULL;
	json_t *result = NULL;

	assert_non_null(big);
	memset(big, ' ', len);
	memcpy(big, "{\"ok\":false}", 12);
	assert_int_equal(tartan_cni_answer_parse(big, len, &result, &e), -EBADMSG);
	assert_int_equal(tartan_cni_answer_parse(big, len - 1, &result, &e), 0);
	assert_int_equal(e->code, 11);
	tartan_cni_error_free(e);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_versions), cmocka_unit_test(test_render_fields),
		cmocka_unit_test(test_render_bad),	cmocka_unit_test(test_error_new),
		cmocka_unit_test(test_error_render),	cmocka_unit_test(test_version_render),
		cmocka_unit_test(test_versions),	cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_answer_result),	cmocka_unit_test(test_answer_errors),
		cmocka_unit_test(test_answer_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
