/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of cni/request.c: a runtime's environment and stdin in, the line
 * for tartand or the CNI error out. Every refusal gets the spec's code (and
 * skel's words where skel has some); every accepted request gives exactly the
 * line of the protocol, which the daemon's own parser
 * (tartan_control_parse_request) takes.
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

#include "cni/request.h"
#include "daemon/control.h"

#define ENV(...) ((char *const[]){ __VA_ARGS__, NULL })

/* a runtime's ADD environment, and the same for the other commands */
#define ADD_ENV(...)                                                                               \
	ENV(__VA_ARGS__, "CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr-0001",                            \
	    "CNI_NETNS=/var/run/netns/pod1", "CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin")
#define CONF(v) "{\"cniVersion\":\"" v "\",\"name\":\"tartan\",\"type\":\"tartan\"}"

static struct tartan_cni_request *expect_ok(char *const *envp, const char *in)
{
	struct tartan_cni_request *req = NULL;
	struct tartan_cni_error *e = NULL;
	int r;

	r = tartan_cni_request_new(envp, in, in ? strlen(in) : 0, &req, &e);
	if (r != 0)
		fail_msg("expected success for stdin %s, got %d: code %u, %s (%s)",
			 in ? in : "(none)", r, e ? e->code : 0, e ? e->msg : "-",
			 e ? e->details : "-");
	assert_non_null(req);
	assert_null(e);
	return req;
}

static struct tartan_cni_error *expect_error_len(char *const *envp, const char *in, size_t len,
						 unsigned int code, const char *msg)
{
	struct tartan_cni_request *req = NULL;
	struct tartan_cni_error *e = NULL;
	int r;

	r = tartan_cni_request_new(envp, in, len, &req, &e);
	if (r != -EINVAL || !e)
		fail_msg("expected CNI error %u \"%s\", got %d", code, msg, r);
	assert_null(req);
	if (e->code != code || strcmp(e->msg, msg) != 0)
		fail_msg("expected code %u \"%s\", saw code %u \"%s\" (details \"%s\")", code, msg,
			 e->code, e->msg, e->details);
	return e;
}

/* the error must be code and msg (details, if not NULL, too) */
static void expect_error(char *const *envp, const char *in, unsigned int code, const char *msg,
			 const char *details)
{
	struct tartan_cni_error *e = expect_error_len(envp, in, in ? strlen(in) : 0, code, msg);

	if (details)
		assert_string_equal(e->details, details);
	tartan_cni_error_free(e);
}

static void expect_line(char *const *envp, const char *in, const char *line)
{
	struct tartan_cni_request *req = expect_ok(envp, in);
	const char *got, *command;
	json_t *parsed = NULL;
	char *perr = NULL;
	size_t len = 0;

	got = tartan_cni_request_line(req, &len);
	assert_non_null(got);
	assert_int_equal(len, strlen(got));
	assert_true(len > 0 && got[len - 1] == '\n');
	if (strncmp(got, line, len - 1) != 0 || strlen(line) != len - 1)
		fail_msg("line:\nexpected %s\nsaw      %s", line, got);
	/* the daemon's own parser takes it */
	assert_int_equal(tartan_control_parse_request(got, len - 1, &parsed, &command, &perr), 0);
	assert_string_equal(command, "cni");
	json_decref(parsed);
	tartan_cni_request_free(req);
}

/* ---- the environment ------------------------------------------------------------------- */

static void test_command(void **state)
{
	expect_error(ENV("X=1"), CONF("1.0.0"), 4, "required env variables [CNI_COMMAND] missing",
		     "");
	expect_error(ENV("CNI_COMMAND="), CONF("1.0.0"), 4,
		     "required env variables [CNI_COMMAND] missing", "");
	expect_error(NULL, CONF("1.0.0"), 4, "required env variables [CNI_COMMAND] missing", "");
	/* commands are upper case, as skel matches them */
	expect_error(ENV("CNI_COMMAND=add"), CONF("1.0.0"), 4, "unknown CNI_COMMAND: add", "");
	expect_error(ENV("CNI_COMMAND=ADDX"), CONF("1.0.0"), 4, "unknown CNI_COMMAND: ADDX", "");
	/* an unknown command that is not UTF-8 is still reported as JSON can carry it */
	expect_error(ENV("CNI_COMMAND=\xff"), CONF("1.0.0"), 4, "unknown CNI_COMMAND: \xef\xbf\xbd",
		     "");

	struct tartan_cni_request *req;
	static const struct {
		char *env;
		enum tartan_cni_command cmd;
		const char *version;
	} all[] = {
		{ "CNI_COMMAND=ADD", TARTAN_CNI_ADD, "0.3.1" },
		{ "CNI_COMMAND=DEL", TARTAN_CNI_DEL, "0.3.1" },
		{ "CNI_COMMAND=CHECK", TARTAN_CNI_CHECK, "0.4.0" },
		{ "CNI_COMMAND=GC", TARTAN_CNI_GC, "1.1.0" },
		{ "CNI_COMMAND=STATUS", TARTAN_CNI_STATUS, "1.1.0" },
		{ "CNI_COMMAND=VERSION", TARTAN_CNI_VERSION, "1.1.0" },
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		char conf[128];

		snprintf(conf, sizeof(conf), "{\"cniVersion\":\"%s\",\"name\":\"n\"}",
			 all[i].version);
		req = expect_ok(ENV(all[i].env, "CNI_CONTAINERID=c", "CNI_NETNS=/n",
				    "CNI_IFNAME=eth0", "CNI_PATH=/p"),
				conf);
		assert_int_equal(tartan_cni_request_command(req), all[i].cmd);
		assert_string_equal(tartan_cni_request_version(req), all[i].version);
		tartan_cni_request_free(req);
	}
}

static void test_missing(void **state)
{
	const char *conf = CONF("1.0.0");

	expect_error(
		ENV("CNI_COMMAND=ADD"), conf, 4,
		"required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing",
		"");
	expect_error(
		ENV("CNI_COMMAND=CHECK"), conf, 4,
		"required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing",
		"");
	/* DEL must work without a netns */
	expect_error(ENV("CNI_COMMAND=DEL"), conf, 4,
		     "required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing", "");
	expect_error(ENV("CNI_COMMAND=GC"), CONF("1.1.0"), 4,
		     "required env variables [CNI_PATH] missing", "");
	expect_error(ENV("CNI_COMMAND=STATUS"), CONF("1.1.0"), 4,
		     "required env variables [CNI_PATH] missing", "");
	/* one at a time; empty is missing, as in skel */
	expect_error(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_NETNS=", "CNI_IFNAME=eth0",
			 "CNI_PATH=/p"),
		     conf, 4, "required env variables [CNI_NETNS] missing", "");
	expect_error(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_NETNS=/n", "CNI_IFNAME=eth0"),
		     conf, 4, "required env variables [CNI_PATH] missing", "");
	expect_error(ENV("CNI_COMMAND=DEL", "CNI_NETNS=/n", "CNI_IFNAME=eth0", "CNI_PATH=/p"), conf,
		     4, "required env variables [CNI_CONTAINERID] missing", "");
	expect_error(ENV("CNI_COMMAND=CHECK", "CNI_CONTAINERID=c", "CNI_NETNS=/n", "CNI_PATH=/p"),
		     conf, 4, "required env variables [CNI_IFNAME] missing", "");
	/* the environment is checked before stdin */
	expect_error(
		ENV("CNI_COMMAND=ADD"), "not json", 4,
		"required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing",
		"");
}

static void test_container_id(void **state)
{
	static const char *const bad[] = { "bad/id", "-lead",	    "_x",  ".x",    "a b",
					   "a\tb",   "caf\xc3\xa9", "a;b", "a\xff", "../../etc" };
	static const char *const good[] = { "a", "0", "A_b.c-d", "ctr-0001",
					    "0123456789abcdef0123456789abcdef" };
	char id[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tartan_cni_error *e;

		snprintf(id, sizeof(id), "CNI_CONTAINERID=%s", bad[i]);
		e = expect_error_len(ENV("CNI_COMMAND=ADD", id, "CNI_NETNS=/n", "CNI_IFNAME=eth0",
					 "CNI_PATH=/p"),
				     CONF("1.0.0"), strlen(CONF("1.0.0")), 4,
				     "invalid characters in containerID");
		/* the id is in details, as valid UTF-8 */
		if (tartan_cni_utf8_valid(bad[i], strlen(bad[i])))
			assert_string_equal(e->details, bad[i]);
		else
			assert_true(tartan_cni_utf8_valid(e->details, strlen(e->details)));
		tartan_cni_error_free(e);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(id, sizeof(id), "CNI_CONTAINERID=%s", good[i]);
		tartan_cni_request_free(
			expect_ok(ENV("CNI_COMMAND=DEL", id, "CNI_IFNAME=eth0", "CNI_PATH=/p"),
				  CONF("1.0.0")));
	}
	/* skel's order: a bad id is told before the missing variables after it */
	expect_error(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=a/b"), CONF("1.0.0"), 4,
		     "invalid characters in containerID", "a/b");
	/* GC and STATUS name no container: a stray one is not looked at */
	tartan_cni_request_free(expect_ok(ENV("CNI_COMMAND=GC", "CNI_CONTAINERID=a/b",
					      "CNI_IFNAME=a/b", "CNI_NETNS=rel", "CNI_PATH=/p"),
					  CONF("1.1.0")));
}

static void test_ifname(void **state)
{
	static const struct {
		const char *name, *msg;
	} cases[] = {
		{ "0123456789abcdef", "interface name is too long" },
		{ "a-very-long-interface-name", "interface name is too long" },
		{ ".", "interface name is . or .." },
		{ "..", "interface name is . or .." },
		{ "a/b", "interface name contains / or : or whitespace characters" },
		{ "eth0:1", "interface name contains / or : or whitespace characters" },
		{ "a b", "interface name contains / or : or whitespace characters" },
		{ "a\tb", "interface name contains / or : or whitespace characters" },
		{ "a\nb", "interface name contains / or : or whitespace characters" },
		{ "a\vb", "interface name contains / or : or whitespace characters" },
		/* Unicode's spaces too, as Go's unicode.IsSpace: NEL, NBSP, U+2003, U+3000 */
		{ "a\xc2\x85", "interface name contains / or : or whitespace characters" },
		{ "a\xc2\xa0", "interface name contains / or : or whitespace characters" },
		{ "a\xe2\x80\x83", "interface name contains / or : or whitespace characters" },
		{ "a\xe3\x80\x80", "interface name contains / or : or whitespace characters" },
		{ "eth\xff", "interface name is not valid UTF-8" },
		{ "eth\xc0\xaf", "interface name is not valid UTF-8" }, /* overlong '/' */
	};
	static const char *const
		good[] = { "eth0",     "0123456789abcde", "...",	  "a.b",
			   "net1_x-y", "\xc3\xa9th0",	  "a\xe2\x80\x8b" /* U+200B: no space */ };
	char ifname[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(ifname, sizeof(ifname), "CNI_IFNAME=%s", cases[i].name);
		expect_error(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_NETNS=/n", ifname,
				 "CNI_PATH=/p"),
			     CONF("1.0.0"), 4, cases[i].msg, NULL);
	}
	expect_error(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=0123456789abcdef",
			 "CNI_PATH=/p"),
		     CONF("1.0.0"), 4, "interface name is too long",
		     "interface name should be less than 16 characters");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(ifname, sizeof(ifname), "CNI_IFNAME=%s", good[i]);
		tartan_cni_request_free(expect_ok(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c",
						      "CNI_NETNS=/n", ifname, "CNI_PATH=/p"),
						  CONF("1.0.0")));
	}
}

static void test_other_env(void **state)
{
	static char long_netns[5000];

	expect_error(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_NETNS=run/netns/x",
			 "CNI_IFNAME=eth0", "CNI_PATH=/p"),
		     CONF("1.0.0"), 4, "CNI_NETNS is not an absolute path", "run/netns/x");
	expect_error(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_NETNS=x", "CNI_IFNAME=eth0",
			 "CNI_PATH=/p"),
		     CONF("1.0.0"), 4, "CNI_NETNS is not an absolute path", "x");
	memset(long_netns, 'a', sizeof(long_netns) - 1);
	memcpy(long_netns, "CNI_NETNS=/", 11);
	expect_error(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c", long_netns, "CNI_IFNAME=eth0",
			 "CNI_PATH=/p"),
		     CONF("1.0.0"), 4, "CNI_NETNS is longer than 4095 bytes", "");
	expect_error(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c", "CNI_NETNS=/run/\xfe",
			 "CNI_IFNAME=eth0", "CNI_PATH=/p"),
		     CONF("1.0.0"), 4, "CNI_NETNS is not valid UTF-8", NULL);
	expect_error(ADD_ENV("CNI_ARGS=K8S_POD_NAME=\xe2\x82"), CONF("1.0.0"), 4,
		     "CNI_ARGS is not valid UTF-8", NULL);
	expect_error(ENV("CNI_COMMAND=STATUS", "CNI_PATH=/opt/\xed\xa0\x80"), CONF("1.1.0"), 4,
		     "CNI_PATH is not valid UTF-8", NULL);

	/* the tunables */
	static const char *const bad_wait[] = { "abc", "-1",   "1e3", "3601", " 1", "1.2.3",
						".",   "0x10", "inf", "nan",  "1 " };
	char env[64];

	for (size_t i = 0; i < sizeof(bad_wait) / sizeof(bad_wait[0]); i++) {
		snprintf(env, sizeof(env), "TARTAN_CNI_WAIT_S=%s", bad_wait[i]);
		expect_error(ADD_ENV(env), CONF("1.0.0"), 4,
			     "TARTAN_CNI_WAIT_S is not a number of seconds in [0, 3600]",
			     bad_wait[i]);
	}
	expect_error(ADD_ENV("TARTAN_CNI_TIMEOUT_S=0"), CONF("1.0.0"), 4,
		     "TARTAN_CNI_TIMEOUT_S is not a number of seconds in (0, 3600]", "0");

	struct tartan_cni_request *req = expect_ok(ADD_ENV("TARTAN_CNI_WAIT_S=0"), CONF("1.0.0"));
	assert_true(tartan_cni_request_wait(req) == 0);
	assert_true(tartan_cni_request_timeout(req) == TARTAN_CNI_DEFAULT_TIMEOUT_S);
	tartan_cni_request_free(req);
	req = expect_ok(ADD_ENV("TARTAN_CNI_WAIT_S=1.5", "TARTAN_CNI_TIMEOUT_S=.5"), CONF("1.0.0"));
	assert_true(tartan_cni_request_wait(req) == 1.5);
	assert_true(tartan_cni_request_timeout(req) == 0.5);
	tartan_cni_request_free(req);
	/* empty means unset */
	req = expect_ok(ADD_ENV("TARTAN_CNI_WAIT_S="), CONF("1.0.0"));
	assert_true(tartan_cni_request_wait(req) == TARTAN_CNI_DEFAULT_WAIT_S);
	assert_string_equal(tartan_cni_request_socket(req), TARTAN_CNI_DEFAULT_SOCKET);
	tartan_cni_request_free(req);
}

/* ---- stdin ------------------------------------------------------------------------------ */

static void test_stdin_json(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{",
		"{\"name\":\"n\",}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\"} trailing",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"caf\xe9\"}",   /* Latin-1, not UTF-8 */
		"{\"cniVersion\":\"1.0.0\",\"name\":\"a\\u0000b\"}", /* NUL */
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":99999999999999999999999}",
	};
	struct tartan_cni_error *e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tartan_cni_request *req = NULL;
		int r;

		e = NULL;
		r = tartan_cni_request_new(ADD_ENV("X=1"), bad[i], strlen(bad[i]), &req, &e);
		assert_int_equal(r, -EINVAL);
		if (e->code != 6 || strncmp(e->msg, "error decoding network config: ", 31) != 0)
			fail_msg("stdin %s: expected code 6, saw %u %s", bad[i], e->code, e->msg);
		assert_true(tartan_cni_utf8_valid(e->msg, strlen(e->msg)));
		tartan_cni_error_free(e);
	}
	expect_error(ADD_ENV("X=1"), "42", 6, "error decoding network config: not a JSON object",
		     "");
	expect_error(ADD_ENV("X=1"), "[{\"name\":\"n\"}]", 6,
		     "error decoding network config: not a JSON object", "");
	expect_error(ADD_ENV("X=1"), "null", 6, "error decoding network config: not a JSON object",
		     "");
	/* a NUL byte inside stdin ends nothing: the length counts */
	e = expect_error_len(ADD_ENV("X=1"), "{\"name\":\"n\"}\0{}", 14, 6,
			     "error decoding network config: end of file expected near end of file "
			     "(line 1, column 13)");
	tartan_cni_error_free(e);
}

static void test_stdin_too_long(void **state)
{
	size_t len = TARTAN_CNI_STDIN_MAX + 1;
	char *big = malloc(len);
	struct tartan_cni_error *e;

	assert_non_null(big);
	memset(big, ' ', len);
	memcpy(big, CONF("1.0.0"), strlen(CONF("1.0.0")));
	e = expect_error_len(ADD_ENV("X=1"), big, len, 7,
			     "network config is longer than 1048576 bytes");
	tartan_cni_error_free(e);
	/* exactly the limit is read (trailing blanks are JSON's whitespace) */
	big[len - 1] = '\0';
	tartan_cni_request_free(expect_ok(ADD_ENV("X=1"), big));
	free(big);
}

static void test_name(void **state)
{
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\"}", 7, "missing network name", "");
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"\"}", 7,
		     "missing network name", "");
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":null}", 7,
		     "missing network name", "");
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":42}", 6,
		     "error decoding network config: name is not a string", "");
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"my net\"}", 7,
		     "invalid characters found in network name", "my net");
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"../x\"}", 7,
		     "invalid characters found in network name", "../x");
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"a\\u00e9\"}", 7,
		     "invalid characters found in network name", "a\xc3\xa9");
	/* the name is checked before the version, as in skel */
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"9.9.9\",\"name\":\"a/b\"}", 7,
		     "invalid characters found in network name", "a/b");
	tartan_cni_request_free(expect_ok(
		ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"rkt.kubernetes.io\"}"));
}

static void test_version(void **state)
{
	expect_error(
		ADD_ENV("X=1"), "{\"name\":\"n\"}", 1, "incompatible CNI versions",
		"config is \"0.1.0\", plugin supports [\"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]");
	expect_error(
		ADD_ENV("X=1"), "{\"name\":\"n\",\"cniVersion\":\"\"}", 1,
		"incompatible CNI versions",
		"config is \"0.1.0\", plugin supports [\"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]");
	expect_error(
		ADD_ENV("X=1"), CONF("0.3.0"), 1, "incompatible CNI versions",
		"config is \"0.3.0\", plugin supports [\"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]");
	expect_error(
		ADD_ENV("X=1"), CONF("1.2.0"), 1, "incompatible CNI versions",
		"config is \"1.2.0\", plugin supports [\"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]");
	expect_error(ADD_ENV("X=1"), "{\"name\":\"n\",\"cniVersion\":1.0}", 6,
		     "error decoding network config: cniVersion is not a string", "");

	/* per-command minimums, as skel */
	char check[] = "CNI_COMMAND=CHECK";
	expect_error(
		ENV(check, "CNI_CONTAINERID=c", "CNI_NETNS=/n", "CNI_IFNAME=eth0", "CNI_PATH=/p"),
		CONF("0.3.1"), 1, "config version does not allow CHECK", "");
	expect_error(ENV("CNI_COMMAND=GC", "CNI_PATH=/p"), CONF("1.0.0"), 1,
		     "config version does not allow GC", "");
	expect_error(ENV("CNI_COMMAND=GC", "CNI_PATH=/p"), CONF("0.4.0"), 1,
		     "config version does not allow GC", "");
	expect_error(ENV("CNI_COMMAND=STATUS", "CNI_PATH=/p"), CONF("1.0.0"), 1,
		     "config version does not allow STATUS", "");

	/* each supported version is taken for ADD, DEL and the ones it allows */
	for (size_t i = 0; i < TARTAN_CNI_VERSIONS_N; i++) {
		char conf[128];
		struct tartan_cni_request *req;

		snprintf(conf, sizeof(conf), "{\"cniVersion\":\"%s\",\"name\":\"n\"}",
			 tartan_cni_versions[i]);
		req = expect_ok(ADD_ENV("X=1"), conf);
		assert_ptr_equal(tartan_cni_request_version(req), tartan_cni_versions[i]);
		tartan_cni_request_free(req);
	}
}

/* the error carries the request's version once it is known */
static void test_error_version(void **state)
{
	struct tartan_cni_error *e;

	e = expect_error_len(ADD_ENV("X=1"),
			     "{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"socket\":1}",
			     strlen("{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"socket\":1}"), 6,
			     "error decoding network config: socket is not a string");
	assert_non_null(e->cni_version);
	assert_string_equal(e->cni_version, "0.4.0");
	tartan_cni_error_free(e);
	e = expect_error_len(
		ADD_ENV("X=1"), "{", 1, 6,
		"error decoding network config: string or '}' expected near end of file "
		"(line 1, column 1)");
	assert_null(e->cni_version);
	tartan_cni_error_free(e);
}

static void test_config_keys(void **state)
{
	struct tartan_cni_request *req;
	char gc[] = "CNI_COMMAND=GC";

	expect_error(ADD_ENV("X=1"),
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":\"x\"}", 6,
		     "error decoding network config: prevResult is not an object", "");
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":[]}",
		     6, "error decoding network config: prevResult is not an object", "");
	tartan_cni_request_free(expect_ok(
		ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"prevResult\":null}"));

	expect_error(ENV(gc, "CNI_PATH=/p"),
		     "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":{}}",
		     6,
		     "error decoding network config: cni.dev/valid-attachments is not a list of "
		     "{\"containerID\":string,\"ifname\":string}",
		     "");
	expect_error(
		ENV(gc, "CNI_PATH=/p"),
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":"
		"[{\"containerID\":\"a\",\"ifname\":\"eth0\"},{\"containerID\":1,\"ifname\":\"e\"}]}",
		6,
		"error decoding network config: cni.dev/valid-attachments is not a list of "
		"{\"containerID\":string,\"ifname\":string}",
		"");
	expect_error(ENV(gc, "CNI_PATH=/p"),
		     "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":[1]}",
		     6,
		     "error decoding network config: cni.dev/valid-attachments is not a list of "
		     "{\"containerID\":string,\"ifname\":string}",
		     "");
	tartan_cni_request_free(
		expect_ok(ENV(gc, "CNI_PATH=/p"),
			  "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":"
			  "[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}"));
	tartan_cni_request_free(expect_ok(
		ENV(gc, "CNI_PATH=/p"),
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":[]}"));
	/* only GC reads the list */
	tartan_cni_request_free(expect_ok(
		ADD_ENV("X=1"),
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":7}"));

	/* socket */
	expect_error(ADD_ENV("X=1"), "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"socket\":\"\"}", 7,
		     "socket is not an absolute path of at most 107 bytes", "");
	expect_error(ADD_ENV("X=1"),
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"socket\":\"t.sock\"}", 7,
		     "socket is not an absolute path of at most 107 bytes", "t.sock");
	expect_error(
		ADD_ENV("X=1"),
		"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"socket\":\"/"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		7, "socket is not an absolute path of at most 107 bytes", NULL);
	req = expect_ok(ADD_ENV("X=1"),
			"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"socket\":\"/run/t/x.sock\"}");
	assert_string_equal(tartan_cni_request_socket(req), "/run/t/x.sock");
	tartan_cni_request_free(req);

	/* daemonWaitSeconds, and the environment over it */
	expect_error(ADD_ENV("X=1"),
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"daemonWaitSeconds\":\"5\"}", 6,
		     "error decoding network config: daemonWaitSeconds is not a number", "");
	expect_error(ADD_ENV("X=1"),
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"daemonWaitSeconds\":-1}", 7,
		     "daemonWaitSeconds is not in [0, 3600]", "");
	expect_error(ADD_ENV("X=1"),
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"daemonWaitSeconds\":3600.5}", 7,
		     "daemonWaitSeconds is not in [0, 3600]", "");
	req = expect_ok(ADD_ENV("X=1"),
			"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"daemonWaitSeconds\":2.5}");
	assert_true(tartan_cni_request_wait(req) == 2.5);
	tartan_cni_request_free(req);
	req = expect_ok(ADD_ENV("TARTAN_CNI_WAIT_S=1"),
			"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"daemonWaitSeconds\":7}");
	assert_true(tartan_cni_request_wait(req) == 1);
	tartan_cni_request_free(req);
}

/* a config that fits stdin but not tartand's request line */
static void test_line_too_long(void **state)
{
	size_t n = TARTAN_CONTROL_LINE_MAX;
	char *conf = malloc(n + 64);
	int len;

	assert_non_null(conf);
	len = snprintf(conf, n + 64, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":\"%*s\"}",
		       (int)n - 100, "");
	assert_true(len > 0);
	expect_error(ADD_ENV("X=1"), conf, 7,
		     "network config too large for tartand's control socket", NULL);
	/* the same with room to spare goes through */
	snprintf(conf, n + 64, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"x\":\"%*s\"}",
		 (int)n - 400, "");
	tartan_cni_request_free(expect_ok(ADD_ENV("X=1"), conf));
	free(conf);
}

/* ---- the line --------------------------------------------------------------------------- */

static void test_lines(void **state)
{
	/* ADD with CNI_ARGS; the config as it came, in its order, prevResult and unknown keys kept */
	expect_line(
		ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr-0001", "CNI_NETNS=/var/run/netns/x",
		    "CNI_IFNAME=eth0", "CNI_ARGS=K8S_POD_NAMESPACE=a;K8S_POD_NAME=b",
		    "CNI_PATH=/opt/cni/bin", "HOME=/root"),
		"{ \"cniVersion\": \"1.0.0\", \"name\": \"tartan\", \"type\": \"tartan\",\n"
		"  \"zeta\": [1, 2.5, true, null], \"prevResult\": {\"ips\": []}, \"a\": \"/\" }",
		"{\"command\":\"cni\",\"cni\":{\"command\":\"ADD\",\"containerID\":\"ctr-0001\","
		"\"netns\":\"/var/run/netns/x\",\"netnsFd\":true,\"ifName\":\"eth0\","
		"\"args\":\"K8S_POD_NAMESPACE=a;K8S_POD_NAME=b\",\"path\":\"/opt/cni/bin\","
		"\"cniVersion\":\"1.0.0\",\"config\":{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\","
		"\"type\":\"tartan\",\"zeta\":[1,2.5,true,null],\"prevResult\":{\"ips\":[]},"
		"\"a\":\"/\"}}}");
	/* DEL without a netns: no "netns"; no CNI_ARGS: no "args" */
	expect_line(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=eth0", "CNI_PATH=/p"),
		    CONF("0.3.1"),
		    "{\"command\":\"cni\",\"cni\":{\"command\":\"DEL\",\"containerID\":\"c\","
		    "\"ifName\":\"eth0\",\"path\":\"/p\",\"cniVersion\":\"0.3.1\",\"config\":"
		    "{\"cniVersion\":\"0.3.1\",\"name\":\"tartan\",\"type\":\"tartan\"}}}");
	expect_line(
		ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_NETNS=/gone", "CNI_IFNAME=eth0",
		    "CNI_PATH=/p", "CNI_ARGS="),
		CONF("0.4.0"),
		"{\"command\":\"cni\",\"cni\":{\"command\":\"DEL\",\"containerID\":\"c\","
		"\"netns\":\"/gone\",\"netnsFd\":true,\"ifName\":\"eth0\",\"path\":\"/p\",\"cniVersion\":\"0.4.0\","
		"\"config\":{\"cniVersion\":\"0.4.0\",\"name\":\"tartan\",\"type\":\"tartan\"}}}");
	expect_line(
		ENV("CNI_COMMAND=CHECK", "CNI_CONTAINERID=c", "CNI_NETNS=/n", "CNI_IFNAME=eth0",
		    "CNI_PATH=/p"),
		CONF("1.1.0"),
		"{\"command\":\"cni\",\"cni\":{\"command\":\"CHECK\",\"containerID\":\"c\","
		"\"netns\":\"/n\",\"netnsFd\":true,\"ifName\":\"eth0\",\"path\":\"/p\",\"cniVersion\":\"1.1.0\","
		"\"config\":{\"cniVersion\":\"1.1.0\",\"name\":\"tartan\",\"type\":\"tartan\"}}}");
	/* GC and STATUS: no attachment, even when the variables are there */
	expect_line(
		ENV("CNI_COMMAND=GC", "CNI_CONTAINERID=c", "CNI_NETNS=/n", "CNI_IFNAME=eth0",
		    "CNI_ARGS=A=1", "CNI_PATH=/p"),
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":"
		"[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}",
		"{\"command\":\"cni\",\"cni\":{\"command\":\"GC\",\"path\":\"/p\","
		"\"cniVersion\":\"1.1.0\",\"config\":{\"cniVersion\":\"1.1.0\",\"name\":\"n\","
		"\"cni.dev/valid-attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}}}");
	expect_line(
		ENV("CNI_COMMAND=STATUS", "CNI_PATH=/p"), CONF("1.1.0"),
		"{\"command\":\"cni\",\"cni\":{\"command\":\"STATUS\",\"path\":\"/p\","
		"\"cniVersion\":\"1.1.0\",\"config\":{\"cniVersion\":\"1.1.0\",\"name\":\"tartan\","
		"\"type\":\"tartan\"}}}");
	/* the first of two entries counts, as with getenv(); a control character
	 * in a value is escaped, so the line stays one line */
	expect_line(
		ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=first", "CNI_CONTAINERID=second",
		    "CNI_IFNAME=eth0", "CNI_PATH=/p\n/q", "CNI_NETNS=/n\xc3\xa9"),
		CONF("1.0.0"),
		"{\"command\":\"cni\",\"cni\":{\"command\":\"DEL\",\"containerID\":\"first\","
		"\"netns\":\"/n\xc3\xa9\",\"netnsFd\":true,\"ifName\":\"eth0\",\"path\":\"/p\\n/q\","
		"\"cniVersion\":\"1.0.0\",\"config\":{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\","
		"\"type\":\"tartan\"}}}");
}

/* a DEL whose namespace cannot be opened goes without "netnsFd"; its pending record */
static void test_drop_fd_and_record(void **state)
{
	struct tartan_cni_request *req =
		expect_ok(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_NETNS=/gone",
			      "CNI_IFNAME=eth0", "CNI_ARGS=A=1", "CNI_PATH=/p"),
			  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"pendingDelDir\":\"/x/y\"}");
	char name[TARTAN_CNI_PENDING_NAME_SIZE], *text = NULL;
	struct tartan_cni_pending *rec = NULL;
	const char *reason = NULL;

	assert_string_equal(tartan_cni_request_pending_dir(req), "/x/y");
	assert_string_equal(tartan_cni_request_netns(req), "/gone");
	assert_int_equal(tartan_cni_request_drop_netns_fd(req), 0);
	assert_string_equal(
		tartan_cni_request_line(req, NULL),
		"{\"command\":\"cni\",\"cni\":{\"command\":\"DEL\",\"containerID\":\"c\","
		"\"netns\":\"/gone\",\"ifName\":\"eth0\",\"args\":\"A=1\",\"path\":\"/p\","
		"\"cniVersion\":\"1.0.0\",\"config\":{\"cniVersion\":\"1.0.0\","
		"\"name\":\"n\",\"pendingDelDir\":\"/x/y\"}}}\n");
	assert_int_equal(tartan_cni_request_pending_record(req, name, &text), 0);
	assert_string_equal(text,
			    "{\"containerID\":\"c\",\"ifName\":\"eth0\",\"netns\":\"/gone\","
			    "\"args\":\"A=1\",\"cniVersion\":\"1.0.0\",\"config\":{"
			    "\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"pendingDelDir\":\"/x/y\"}}");
	/* what the plugin writes, tartand reads back, under that name only */
	assert_int_equal(tartan_cni_pending_parse(name, text, strlen(text), &rec, &reason), 0);
	assert_string_equal(rec->id, "c");
	assert_string_equal(rec->ifname, "eth0");
	assert_string_equal(rec->netns, "/gone");
	assert_string_equal(rec->args, "A=1");
	assert_string_equal(rec->cni_version, "1.0.0");
	assert_true(json_is_object(rec->config));
	tartan_cni_pending_free(rec);
	assert_int_equal(tartan_cni_pending_parse("0000000000000000.json", text, strlen(text), &rec,
						  &reason),
			 -EINVAL);
	assert_string_equal(reason, "its file name is not the one of its attachment");
	/* a whole object, but no ifName: refused for that, not as a syntax error */
	assert_int_equal(tartan_cni_pending_parse(name, "{\"containerID\":\"c\"}",
						  strlen("{\"containerID\":\"c\"}"), &rec, &reason),
			 -EINVAL);
	assert_string_equal(reason,
			    "containerID, ifName, cniVersion (strings) or config (an object) "
			    "missing or of the wrong type");
	free(text);
	tartan_cni_request_free(req);

	/* the default, and a relative one refused */
	req = expect_ok(
		ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=eth0", "CNI_PATH=/p"),
		CONF("1.0.0"));
	assert_string_equal(tartan_cni_request_pending_dir(req), TARTAN_CNI_DEFAULT_PENDING_DIR);
	assert_int_equal(tartan_cni_request_pending_record(req, name, &text), 0);
	/* no netns, no args: no keys for them (not nulls) */
	assert_string_equal(text, "{\"containerID\":\"c\",\"ifName\":\"eth0\",\"cniVersion\":"
				  "\"1.0.0\",\"config\":{\"cniVersion\":\"1.0.0\",\"name\":"
				  "\"tartan\",\"type\":\"tartan\"}}");
	free(text);
	tartan_cni_request_free(req);
	expect_error(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=eth0", "CNI_PATH=/p"),
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"pendingDelDir\":\"rel\"}", 7,
		     "pendingDelDir is not an absolute path of at most 4031 bytes", "rel");
	expect_error(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c", "CNI_IFNAME=eth0", "CNI_PATH=/p"),
		     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"pendingDelDir\":5}", 6,
		     "error decoding network config: pendingDelDir is not a string", "");
}

static void test_version_command(void **state)
{
	static const struct {
		const char *in, *version;
	} cases[] = {
		{ NULL, "1.1.0" },
		{ "{\"cniVersion\":\"0.4.0\"}", "0.4.0" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"x\"}", "1.0.0" },
		/* the spec: echo what was asked; VERSION answers everything */
		{ "{\"cniVersion\":\"0.2.0\"}", "0.2.0" },
		{ "not json at all", "1.1.0" },
		{ "{\"cniVersion\":4}", "1.1.0" },
		{ "[]", "1.1.0" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* nothing else is needed, and nothing else is looked at */
		struct tartan_cni_request *req =
			expect_ok(ENV("CNI_COMMAND=VERSION", "CNI_CONTAINERID=a/b", "CNI_IFNAME=.",
				      "TARTAN_CNI_WAIT_S=x"),
				  cases[i].in);

		assert_int_equal(tartan_cni_request_command(req), TARTAN_CNI_VERSION);
		assert_string_equal(tartan_cni_request_version(req), cases[i].version);
		assert_null(tartan_cni_request_line(req, NULL));
		tartan_cni_request_free(req);
	}
	/* a VERSION stdin over the limit is not read at all */
	size_t len = TARTAN_CNI_STDIN_MAX + 1;
	char *big = malloc(len);
	struct tartan_cni_request *req = NULL;
	struct tartan_cni_error *e = NULL;

	assert_non_null(big);
	memset(big, ' ', len);
	memcpy(big, "{\"cniVersion\":\"0.4.0\"}", 22);
	assert_int_equal(tartan_cni_request_new(ENV("CNI_COMMAND=VERSION"), big, len, &req, &e), 0);
	assert_string_equal(tartan_cni_request_version(req), "1.1.0");
	tartan_cni_request_free(req);
	free(big);
}

static void test_bad_args(void **state)
{
	struct tartan_cni_request *req = NULL;
	struct tartan_cni_error *e = NULL;

	assert_int_equal(tartan_cni_request_new(ENV("CNI_COMMAND=VERSION"), NULL, 5, &req, &e),
			 -EINVAL);
	assert_null(req);
	assert_null(e);
	tartan_cni_request_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command),		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_container_id),	cmocka_unit_test(test_ifname),
		cmocka_unit_test(test_other_env),	cmocka_unit_test(test_stdin_json),
		cmocka_unit_test(test_stdin_too_long),	cmocka_unit_test(test_name),
		cmocka_unit_test(test_version),		cmocka_unit_test(test_error_version),
		cmocka_unit_test(test_config_keys),	cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_lines),		cmocka_unit_test(test_drop_fd_and_record),
		cmocka_unit_test(test_version_command), cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
