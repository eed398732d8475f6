/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for daemon/options.c: flanneld's flag syntax and environment
 * (shared/docs/flannel-compat.md section 6), tartan's flags, and every
 * message a bad value gets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/options.h"

/* argv and envp as NULL-terminated literals; argv[0] is the program */
#define ARGV(...) ((const char *const[]){ "tartand", __VA_ARGS__, NULL })
#define NO_ARGS ((const char *const[]){ "tartand", NULL })
#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_ENV ((const char *const[]){ NULL })

static int count(const char *const *v)
{
	int n = 0;

	while (v[n])
		n++;
	return n;
}

static struct tartan_options *parse_ok(const char *const *argv, const char *const *envp)
{
	struct tartan_options *o = NULL;
	char *error = NULL;
	int r;

	r = tartan_options_parse(count(argv), (char *const *)argv, (char *const *)envp, &o, &error);
	if (r != 0) {
		print_error("parse of");
		for (int i = 1; argv[i]; i++)
			print_error(" [%s]", argv[i]);
		print_error(": expected 0, got %d (%s): %s\n", r, strerror(-r), error ? error : "");
	}
	assert_int_equal(r, 0);
	assert_non_null(o);
	assert_null(error);
	return o;
}

static void expect_error(const char *const *argv, const char *const *envp, const char *message)
{
	struct tartan_options *o = NULL;
	char *error = NULL;
	int r;

	r = tartan_options_parse(count(argv), (char *const *)argv, (char *const *)envp, &o, &error);
	if (r != -EINVAL || !error || strcmp(error, message) != 0) {
		print_error("parse of");
		for (int i = 1; argv[i]; i++)
			print_error(" [%s]", argv[i]);
		for (int i = 0; envp[i]; i++)
			print_error(" env [%s]", envp[i]);
		print_error(":\n  expected -EINVAL and \"%s\"\n  got %d and \"%s\"\n", message, r,
			    error ? error : "(no message)");
	}
	assert_int_equal(r, -EINVAL);
	assert_null(o);
	assert_non_null(error);
	assert_string_equal(error, message);
	free(error);
}

static void assert_addr(struct in_addr a, const char *expected)
{
	char buf[INET_ADDRSTRLEN];

	assert_non_null(inet_ntop(AF_INET, &a, buf, sizeof(buf)));
	assert_string_equal(buf, expected);
}

/* ---------------------------------------------------------------- defaults */

static void test_defaults(void **state)
{
	struct tartan_options *o = parse_ok(NO_ARGS, NO_ENV);

	/* flanneld's */
	assert_int_equal(o->n_etcd_endpoints, 1);
	assert_string_equal(o->etcd_endpoints[0], "http://127.0.0.1:2379");
	assert_string_equal(o->etcd_prefix, "/coreos.com/network");
	assert_null(o->etcd_cafile);
	assert_null(o->etcd_certfile);
	assert_null(o->etcd_keyfile);
	assert_null(o->etcd_username);
	assert_null(o->etcd_password);
	assert_int_equal(o->n_ifaces, 0);
	assert_null(o->ifaces);
	assert_int_equal(o->n_iface_regexes, 0);
	assert_null(o->iface_regexes);
	assert_false(o->has_public_ip);
	assert_string_equal(o->subnet_file, "/run/flannel/subnet.env");
	assert_int_equal(o->subnet_lease_renew_margin, 60);
	assert_false(o->ip_masq);
	assert_addr(o->healthz_ip, "0.0.0.0");
	assert_int_equal(o->healthz_port, 0);
	/* tartan's */
	assert_string_equal(o->state_dir, "/var/lib/tartan");
	assert_string_equal(o->socket_path, "/run/tartan/tartand.sock");
	assert_string_equal(o->bridge, "cni0");
	assert_string_equal(o->cni_conf_dir, "/etc/cni/net.d");
	assert_string_equal(o->rkt_net_dir, "/etc/rkt/net.d");
	assert_false(o->has_pod_cidr);
	assert_int_equal(o->resync_interval, 10);
	assert_int_equal(o->log_level, TARTAN_LOG_INFO);
	assert_int_equal(o->mtu, 0);
	assert_int_equal(o->subnet_lease_ttl, 86400);
	assert_false(o->show_help);
	assert_false(o->show_version);
	tartan_options_free(o);
}

static void test_null_argv_and_envp(void **state)
{
	struct tartan_options *o = NULL;
	int r;

	/* argc 0 (exec with an empty argv) and no environment at all */
	r = tartan_options_parse(0, NULL, NULL, &o, NULL);
	assert_int_equal(r, 0);
	assert_non_null(o);
	assert_string_equal(o->etcd_prefix, "/coreos.com/network");
	tartan_options_free(o);
	tartan_options_free(NULL);
}

/* ------------------------------------------------------------------ syntax */

static void test_syntax_forms(void **state)
{
	const char *const *forms[] = {
		ARGV("--etcd-prefix=/a/b", "--resync-interval=7"),
		ARGV("--etcd-prefix", "/a/b", "--resync-interval", "7"),
		ARGV("-etcd-prefix=/a/b", "-resync-interval=7"),
		ARGV("-etcd-prefix", "/a/b", "-resync-interval", "7"),
		ARGV("--etcd-prefix=/a/b", "-resync-interval", "7"),
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct tartan_options *o = parse_ok(forms[i], NO_ENV);

		assert_string_equal(o->etcd_prefix, "/a/b");
		assert_int_equal(o->resync_interval, 7);
		tartan_options_free(o);
	}
}

static void test_value_may_contain_equals_and_dashes(void **state)
{
	/* only the first '=' splits; a separate value is taken as is, as Go does */
	struct tartan_options *o = parse_ok(
		ARGV("--etcd-password=a=b", "--etcd-username", "--user", "--etcd-prefix", "/x=y"),
		NO_ENV);

	assert_string_equal(o->etcd_password, "a=b");
	assert_string_equal(o->etcd_username, "--user");
	assert_string_equal(o->etcd_prefix, "/x=y");
	tartan_options_free(o);
}

static void test_bool_forms(void **state)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	struct tartan_options *o;
	char arg[32];

	o = parse_ok(ARGV("--ip-masq"), NO_ENV);
	assert_true(o->ip_masq);
	tartan_options_free(o);
	o = parse_ok(ARGV("-ip-masq"), NO_ENV);
	assert_true(o->ip_masq);
	tartan_options_free(o);
	for (size_t i = 0; i < 6; i++) {
		snprintf(arg, sizeof(arg), "--ip-masq=%s", yes[i]);
		o = parse_ok(ARGV(arg), NO_ENV);
		assert_true(o->ip_masq);
		tartan_options_free(o);
		snprintf(arg, sizeof(arg), "-ip-masq=%s", no[i]);
		o = parse_ok(ARGV("--ip-masq", arg), NO_ENV);
		assert_false(o->ip_masq);
		tartan_options_free(o);
	}
}

static void test_bool_errors(void **state)
{
	expect_error(ARGV("--ip-masq=yes"), NO_ENV,
		     "--ip-masq: 'yes' is not a boolean (true or false)");
	expect_error(ARGV("--ip-masq="), NO_ENV, "--ip-masq: '' is not a boolean (true or false)");
	expect_error(ARGV("--ip-masq=tRUE"), NO_ENV,
		     "--ip-masq: 'tRUE' is not a boolean (true or false)");
	/* Go's flag package never takes a boolean's value from the next argument */
	expect_error(ARGV("--ip-masq", "false"), NO_ENV,
		     "unexpected argument 'false' (a boolean flag takes its value as "
		     "--ip-masq=false)");
	expect_error(ARGV("--ip-masq", "eth0"), NO_ENV, "unexpected argument 'eth0'");
}

static void test_last_wins(void **state)
{
	struct tartan_options *o = parse_ok(
		ARGV("--bridge=br0", "--bridge", "br1", "--mtu=1400", "-mtu=1500",
		     "--etcd-endpoints=http://a:1,http://b:2", "--etcd-endpoints=https://c:3"),
		NO_ENV);

	assert_string_equal(o->bridge, "br1");
	assert_int_equal(o->mtu, 1500);
	assert_int_equal(o->n_etcd_endpoints, 1);
	assert_string_equal(o->etcd_endpoints[0], "https://c:3");
	tartan_options_free(o);
}

static void test_double_dash_ends_flags(void **state)
{
	struct tartan_options *o = parse_ok(ARGV("--bridge=br0", "--"), NO_ENV);

	assert_string_equal(o->bridge, "br0");
	tartan_options_free(o);
	expect_error(ARGV("--", "--bridge=br0"), NO_ENV, "unexpected argument '--bridge=br0'");
	expect_error(ARGV("extra"), NO_ENV, "unexpected argument 'extra'");
	expect_error(ARGV("-"), NO_ENV, "unexpected argument '-'");
}

static void test_syntax_errors(void **state)
{
	expect_error(ARGV("--foo"), NO_ENV, "unknown flag --foo");
	expect_error(ARGV("-foo=1"), NO_ENV, "unknown flag -foo");
	expect_error(ARGV("--Etcd-prefix=/a"), NO_ENV, "unknown flag --Etcd-prefix");
	expect_error(ARGV("--etcd_prefix=/a"), NO_ENV, "unknown flag --etcd_prefix");
	/* flanneld's flags that tartan does not have are not silently ignored */
	expect_error(ARGV("--kube-subnet-mgr"), NO_ENV, "unknown flag --kube-subnet-mgr");
	expect_error(ARGV("---bridge=x"), NO_ENV, "bad flag syntax: '---bridge=x'");
	expect_error(ARGV("--=x"), NO_ENV, "bad flag syntax: '--=x'");
	expect_error(ARGV("-=x"), NO_ENV, "bad flag syntax: '-=x'");
	expect_error(ARGV("--etcd-prefix"), NO_ENV, "--etcd-prefix: needs a value");
	expect_error(ARGV("--bridge=br0", "-iface"), NO_ENV, "--iface: needs a value");
	expect_error(ARGV("--help=1"), NO_ENV, "--help: takes no value");
	/* the first error is the one reported */
	expect_error(ARGV("--mtu=1", "--bar"), NO_ENV, "--mtu: 1 is out of range 68..65535 (or 0)");
}

/* ------------------------------------------------------------- repeatable */

static void test_iface_repeatable(void **state)
{
	struct tartan_options *o = parse_ok(ARGV("--iface=eth0", "-iface", "10.1.2.3", "--iface",
						 "bond0.100,enp3s0f1", "--iface-regex=^eth[0-9]+$",
						 "-iface-regex", "^10\\.0\\.", "--bridge=x"),
					    NO_ENV);

	assert_int_equal(o->n_ifaces, 4);
	assert_string_equal(o->ifaces[0].name, "eth0");
	assert_null(o->ifaces[1].name);
	assert_addr(o->ifaces[1].addr, "10.1.2.3");
	assert_string_equal(o->ifaces[2].name, "bond0.100");
	assert_string_equal(o->ifaces[3].name, "enp3s0f1");
	assert_int_equal(o->n_iface_regexes, 2);
	assert_string_equal(o->iface_regexes[0], "^eth[0-9]+$");
	assert_string_equal(o->iface_regexes[1], "^10\\.0\\.");
	tartan_options_free(o);
}

static void test_iface_errors(void **state)
{
	expect_error(ARGV("--iface="), NO_ENV, "--iface: empty interface name");
	expect_error(ARGV("--iface=eth0,"), NO_ENV, "--iface: empty interface name");
	expect_error(ARGV("--iface=10.0.0.256"), NO_ENV,
		     "--iface: '10.0.0.256' is not a valid IPv4 address");
	expect_error(ARGV("--iface=10.0.0"), NO_ENV,
		     "--iface: '10.0.0' is not a valid IPv4 address");
	expect_error(ARGV("--iface=10.0.0.01"), NO_ENV,
		     "--iface: '10.0.0.01' is not a valid IPv4 address");
	expect_error(ARGV("--iface=averyveryverylongname"), NO_ENV,
		     "--iface: 'averyveryverylongname' is neither an IPv4 address nor an interface "
		     "name");
	expect_error(ARGV("--iface=fe80::1"), NO_ENV,
		     "--iface: 'fe80::1' is neither an IPv4 address nor an interface name");
	expect_error(ARGV("--iface=a/b"), NO_ENV,
		     "--iface: 'a/b' is neither an IPv4 address nor an interface name");
	expect_error(ARGV("--iface=a b"), NO_ENV,
		     "--iface: 'a b' is neither an IPv4 address nor an interface name");
	expect_error(ARGV("--iface=.."), NO_ENV,
		     "--iface: '..' is neither an IPv4 address nor an interface name");
}

static void test_iface_regex_errors(void **state)
{
	char long_re[600];

	expect_error(ARGV("--iface-regex="), NO_ENV, "--iface-regex: empty regex");
	expect_error(ARGV("--iface-regex=eth(0"), NO_ENV,
		     "--iface-regex: 'eth(0' is not a valid extended regex: Unmatched ( or \\(");
	expect_error(ARGV("--iface-regex=[z-a]"), NO_ENV,
		     "--iface-regex: '[z-a]' is not a valid extended regex: Invalid range end");
	expect_error(ARGV("--iface-regex=^eth\\d+$"), NO_ENV,
		     "--iface-regex: '^eth\\d+$' uses \\d, which POSIX regexes lack; write [0-9] "
		     "or [^0-9]");
	/* glibc's regcomp() copies what x+ and x{m,n} repeat: these would take
	 * gigabytes */
	expect_error(ARGV("--iface-regex=(a{100}){100}"), NO_ENV,
		     "--iface-regex: '(a{100}){100}' nests or repeats too much");
	expect_error(ARGV("--iface-regex=a{5000}"), NO_ENV,
		     "--iface-regex: 'a{5000}' nests or repeats too much");
	expect_error(ARGV("--iface-regex=x{,100}{,100}"), NO_ENV,
		     "--iface-regex: 'x{,100}{,100}' nests or repeats too much");
	/* repeating a repetition, or what can match nothing, goes exponential */
	expect_error(ARGV("--iface-regex=e++"), NO_ENV,
		     "--iface-regex: 'e++' nests or repeats too much");
	expect_error(ARGV("--iface-regex=e*{2}"), NO_ENV,
		     "--iface-regex: 'e*{2}' nests or repeats too much");
	expect_error(ARGV("--iface-regex=((a*)+)+"), NO_ENV,
		     "--iface-regex: '((a*)+)+' nests or repeats too much");
	expect_error(ARGV("--iface-regex=^(eth|)+$"), NO_ENV,
		     "--iface-regex: '^(eth|)+$' nests or repeats too much");
	expect_error(ARGV("--iface-regex=(a?b{0,2})*"), NO_ENV,
		     "--iface-regex: '(a?b{0,2})*' nests or repeats too much");
	expect_error(ARGV("--iface-regex=(^)+"), NO_ENV,
		     "--iface-regex: '(^)+' nests or repeats too much");
	expect_error(
		ARGV("--iface-regex=((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))"),
		NO_ENV,
		"--iface-regex: '((((((((((((((((((((((((((((((((((x)))))))))))))))))))))))))))))...' "
		"nests or repeats too much");
	memset(long_re, 'a', sizeof(long_re) - 1);
	long_re[sizeof(long_re) - 1] = '\0';
	expect_error(ARGV("--iface-regex", long_re), NO_ENV,
		     "--iface-regex: the regex is longer than 512 bytes");
}

static void test_iface_regex_accepted(void **state)
{
	/* '{' inside brackets and escaped is a literal, not a repetition;
	 * \\d (an escaped backslash and a 'd') is not Perl's \d */
	struct tartan_options *o = parse_ok(
		ARGV("--iface-regex=^[{]{1,3}[[:digit:]]{2}\\{$", "--iface-regex=x\\\\d",
		     "--iface-regex=^(eth|en[a-z0-9]{1,12}|bond[0-9]{1,2})$",
		     "--iface-regex=^(10|192)\\.([0-9]{1,3}\\.){2}[0-9]+$",
		     "--iface-regex=e+n+o+s+", "--iface-regex=x{2000}", "--iface-regex=((a+)+)+",
		     "--iface-regex=^(eth|en)?[0-9]*$", "--iface-regex=(a|b?c)+"),
		NO_ENV);

	assert_int_equal(o->n_iface_regexes, 9);
	assert_string_equal(o->iface_regexes[1], "x\\\\d");
	tartan_options_free(o);
}

/* ---------------------------------------------------------------- values */

static void test_endpoints(void **state)
{
	struct tartan_options *o =
		parse_ok(ARGV("--etcd-endpoints=http://10.0.0.1:2379, https://etcd.example.com,"
			      "http://[fd00::1]:2379/,https://etcd-2_x:443/proxy/etcd"),
			 NO_ENV);

	assert_int_equal(o->n_etcd_endpoints, 4);
	assert_string_equal(o->etcd_endpoints[0], "http://10.0.0.1:2379");
	assert_string_equal(o->etcd_endpoints[1], "https://etcd.example.com");
	assert_string_equal(o->etcd_endpoints[2], "http://[fd00::1]:2379/");
	assert_string_equal(o->etcd_endpoints[3], "https://etcd-2_x:443/proxy/etcd");
	tartan_options_free(o);
}

static void test_endpoint_errors(void **state)
{
	char long_url[600];

	expect_error(ARGV("--etcd-endpoints=ftp://x"), NO_ENV,
		     "--etcd-endpoints: 'ftp://x' is not an http:// or https:// URL");
	expect_error(ARGV("--etcd-endpoints=127.0.0.1:2379"), NO_ENV,
		     "--etcd-endpoints: '127.0.0.1:2379' is not an http:// or https:// URL");
	/* the etcd client compares the scheme as written */
	expect_error(ARGV("--etcd-endpoints=HTTP://a"), NO_ENV,
		     "--etcd-endpoints: 'HTTP://a' is not an http:// or https:// URL");
	expect_error(ARGV("--etcd-endpoints="), NO_ENV, "--etcd-endpoints: '' has an empty entry");
	expect_error(ARGV("--etcd-endpoints=http://a,,http://b"), NO_ENV,
		     "--etcd-endpoints: 'http://a,,http://b' has an empty entry");
	expect_error(ARGV("--etcd-endpoints=http://a,"), NO_ENV,
		     "--etcd-endpoints: 'http://a,' has an empty entry");
	expect_error(ARGV("--etcd-endpoints=http://"), NO_ENV,
		     "--etcd-endpoints: 'http://' has no host");
	expect_error(ARGV("--etcd-endpoints=http:///v3"), NO_ENV,
		     "--etcd-endpoints: 'http:///v3' has no host");
	expect_error(ARGV("--etcd-endpoints=http://:2379"), NO_ENV,
		     "--etcd-endpoints: 'http://:2379' has no host");
	expect_error(ARGV("--etcd-endpoints=http://a:0"), NO_ENV,
		     "--etcd-endpoints: 'http://a:0' has a bad port");
	expect_error(ARGV("--etcd-endpoints=http://a:65536"), NO_ENV,
		     "--etcd-endpoints: 'http://a:65536' has a bad port");
	expect_error(ARGV("--etcd-endpoints=http://a:"), NO_ENV,
		     "--etcd-endpoints: 'http://a:' has a bad port");
	expect_error(ARGV("--etcd-endpoints=http://a:23x"), NO_ENV,
		     "--etcd-endpoints: 'http://a:23x' has a bad port");
	expect_error(ARGV("--etcd-endpoints=http://a b"), NO_ENV,
		     "--etcd-endpoints: 'http://a b' has a space or control character");
	expect_error(ARGV("--etcd-endpoints=http://a\nb"), NO_ENV,
		     "--etcd-endpoints: 'http://a\\x0ab' has a space or control character");
	expect_error(ARGV("--etcd-endpoints=http://a/?x=1"), NO_ENV,
		     "--etcd-endpoints: 'http://a/?x=1' has a query or fragment");
	expect_error(ARGV("--etcd-endpoints=http://a#x"), NO_ENV,
		     "--etcd-endpoints: 'http://a#x' has a query or fragment");
	expect_error(ARGV("--etcd-endpoints=http://a%b"), NO_ENV,
		     "--etcd-endpoints: 'http://a%b' has a bad host");
	expect_error(ARGV("--etcd-endpoints=http://[fd00::1"), NO_ENV,
		     "--etcd-endpoints: 'http://[fd00::1' has a bad host");
	expect_error(ARGV("--etcd-endpoints=http://[]:1"), NO_ENV,
		     "--etcd-endpoints: 'http://[]:1' has a bad host");
	expect_error(ARGV("--etcd-endpoints=http://[fd00::1]x"), NO_ENV,
		     "--etcd-endpoints: 'http://[fd00::1]x' has a bad host");
	expect_error(ARGV("--etcd-endpoints=http://[fd00::g]"), NO_ENV,
		     "--etcd-endpoints: 'http://[fd00::g]' has a bad host");
	/* credentials in the URL: refused, and not repeated in the message */
	expect_error(ARGV("--etcd-endpoints=http://root:secret@a:2379"), NO_ENV,
		     "--etcd-endpoints: an endpoint has a user name in it; use --etcd-username and "
		     "--etcd-password");
	memcpy(long_url, "http://", 7);
	memset(long_url + 7, 'a', sizeof(long_url) - 8);
	long_url[sizeof(long_url) - 1] = '\0';
	expect_error(ARGV("--etcd-endpoints", long_url), NO_ENV,
		     "--etcd-endpoints: an endpoint is longer than 511 bytes");
}

static void test_etcd_prefix(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/coreos.com/network", "/coreos.com/network" },
		/* flannel builds keys with path.Join, which cleans these up */
		{ "/coreos.com/network/", "/coreos.com/network" },
		{ "//coreos.com///network//", "/coreos.com/network" },
		{ "/a", "/a" },
		{ "/.hidden/..x", "/.hidden/..x" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char arg[64];
		struct tartan_options *o;

		snprintf(arg, sizeof(arg), "--etcd-prefix=%s", cases[i].in);
		o = parse_ok(ARGV(arg), NO_ENV);
		assert_string_equal(o->etcd_prefix, cases[i].out);
		tartan_options_free(o);
	}
	expect_error(ARGV("--etcd-prefix=coreos.com/network"), NO_ENV,
		     "--etcd-prefix: 'coreos.com/network' does not start with '/'");
	expect_error(ARGV("--etcd-prefix="), NO_ENV, "--etcd-prefix: '' does not start with '/'");
	expect_error(ARGV("--etcd-prefix=/"), NO_ENV,
		     "--etcd-prefix: the prefix is empty; keys would be /config and /subnets");
	expect_error(ARGV("--etcd-prefix=/a/../b"), NO_ENV,
		     "--etcd-prefix: '/a/../b' has a '.' or '..' component");
	expect_error(ARGV("--etcd-prefix=/a/./b"), NO_ENV,
		     "--etcd-prefix: '/a/./b' has a '.' or '..' component");
	expect_error(ARGV("--etcd-prefix=/a\tb"), NO_ENV,
		     "--etcd-prefix: '/a\\x09b' has a control character");
}

static void test_tls_and_auth(void **state)
{
	struct tartan_options *o;

	o = parse_ok(ARGV("--etcd-endpoints=https://a:2379", "--etcd-cafile=ca.pem",
			  "--etcd-certfile=/etc/tartan/cert.pem",
			  "--etcd-keyfile=/etc/tartan/key.pem", "--etcd-username=root",
			  "--etcd-password=s3cret"),
		     NO_ENV);
	/* TLS files may be relative, as flanneld takes them */
	assert_string_equal(o->etcd_cafile, "ca.pem");
	assert_string_equal(o->etcd_certfile, "/etc/tartan/cert.pem");
	assert_string_equal(o->etcd_keyfile, "/etc/tartan/key.pem");
	assert_string_equal(o->etcd_username, "root");
	assert_string_equal(o->etcd_password, "s3cret");
	tartan_options_free(o);

	/* empty is unset, as flanneld (unit files write --etcd-cafile=${CA}) */
	o = parse_ok(ARGV("--etcd-cafile=", "--etcd-certfile=", "--etcd-keyfile=",
			  "--etcd-username=", "--etcd-password="),
		     NO_ENV);
	assert_null(o->etcd_cafile);
	assert_null(o->etcd_certfile);
	assert_null(o->etcd_keyfile);
	assert_null(o->etcd_username);
	assert_null(o->etcd_password);
	tartan_options_free(o);

	/* a username alone: etcd may know the user without a password */
	o = parse_ok(ARGV("--etcd-username=root"), NO_ENV);
	assert_string_equal(o->etcd_username, "root");
	assert_null(o->etcd_password);
	tartan_options_free(o);
}

static void test_tls_and_auth_errors(void **state)
{
	expect_error(ARGV("--etcd-endpoints=https://a", "--etcd-certfile=/c"), NO_ENV,
		     "--etcd-certfile is set without --etcd-keyfile (TLS needs both)");
	expect_error(ARGV("--etcd-endpoints=https://a", "--etcd-keyfile=/k"), NO_ENV,
		     "--etcd-keyfile is set without --etcd-certfile (TLS needs both)");
	expect_error(ARGV("--etcd-endpoints=https://a"), ENV("FLANNELD_ETCD_KEYFILE=/k"),
		     "FLANNELD_ETCD_KEYFILE is set without --etcd-certfile (TLS needs both)");
	expect_error(ARGV("--etcd-password=x"), NO_ENV,
		     "--etcd-password is set without --etcd-username");
	expect_error(NO_ARGS, ENV("TARTAN_ETCD_PASSWORD=x"),
		     "TARTAN_ETCD_PASSWORD is set without --etcd-username");
	/* TLS files and a plain-text endpoint: flanneld would send in clear */
	expect_error(ARGV("--etcd-cafile=/ca"), NO_ENV,
		     "--etcd-cafile: TLS needs https:// etcd endpoints, but "
		     "'http://127.0.0.1:2379' (--etcd-endpoints) is not");
	expect_error(ARGV("--etcd-certfile=/c", "--etcd-keyfile=/k",
			  "--etcd-endpoints=https://a,http://b"),
		     NO_ENV,
		     "--etcd-certfile: TLS needs https:// etcd endpoints, but 'http://b' "
		     "(--etcd-endpoints) is not");
	expect_error(NO_ARGS,
		     ENV("FLANNELD_ETCD_ENDPOINTS=http://e:2379", "FLANNELD_ETCD_CAFILE=/ca"),
		     "FLANNELD_ETCD_CAFILE: TLS needs https:// etcd endpoints, but 'http://e:2379' "
		     "(FLANNELD_ETCD_ENDPOINTS) is not");
}

static void test_addresses(void **state)
{
	struct tartan_options *o = parse_ok(
		ARGV("--public-ip=192.168.1.10", "--healthz-ip=127.0.0.1", "--healthz-port=8471"),
		NO_ENV);

	assert_true(o->has_public_ip);
	assert_addr(o->public_ip, "192.168.1.10");
	assert_addr(o->healthz_ip, "127.0.0.1");
	assert_int_equal(o->healthz_port, 8471);
	tartan_options_free(o);

	o = parse_ok(ARGV("--public-ip=1.2.3.4", "--public-ip=", "--healthz-port=65535"), NO_ENV);
	assert_false(o->has_public_ip);
	assert_int_equal(o->healthz_port, 65535);
	tartan_options_free(o);

	expect_error(ARGV("--public-ip=1.2.3"), NO_ENV,
		     "--public-ip: '1.2.3' is not an IPv4 address");
	expect_error(ARGV("--public-ip=1.2.3.4.5"), NO_ENV,
		     "--public-ip: '1.2.3.4.5' is not an IPv4 address");
	expect_error(ARGV("--public-ip=01.2.3.4"), NO_ENV,
		     "--public-ip: '01.2.3.4' is not an IPv4 address");
	expect_error(ARGV("--public-ip=1.2.3.4 "), NO_ENV,
		     "--public-ip: '1.2.3.4 ' is not an IPv4 address");
	expect_error(ARGV("--public-ip=1.2.3.1234"), NO_ENV,
		     "--public-ip: '1.2.3.1234' is not an IPv4 address");
	expect_error(ARGV("--public-ip=0x1.2.3.4"), NO_ENV,
		     "--public-ip: '0x1.2.3.4' is not an IPv4 address");
	expect_error(ARGV("--public-ip=::1"), NO_ENV, "--public-ip: '::1' is not an IPv4 address");
	expect_error(ARGV("--public-ip=0.0.0.0"), NO_ENV,
		     "--public-ip: '0.0.0.0' is not a unicast address");
	expect_error(ARGV("--public-ip=224.0.0.1"), NO_ENV,
		     "--public-ip: '224.0.0.1' is not a unicast address");
	expect_error(ARGV("--public-ip=255.255.255.255"), NO_ENV,
		     "--public-ip: '255.255.255.255' is not a unicast address");
	expect_error(ARGV("--healthz-ip="), NO_ENV, "--healthz-ip: '' is not an IPv4 address");
	expect_error(ARGV("--healthz-ip=localhost"), NO_ENV,
		     "--healthz-ip: 'localhost' is not an IPv4 address");
	expect_error(ARGV("--healthz-port=65536"), NO_ENV,
		     "--healthz-port: 65536 is out of range 0..65535");
	expect_error(ARGV("--healthz-port=-1"), NO_ENV,
		     "--healthz-port: -1 is out of range 0..65535");
}

static void test_numbers(void **state)
{
	struct tartan_options *o =
		parse_ok(ARGV("--subnet-lease-renew-margin=1", "--resync-interval=86400",
			      "--mtu=68", "--subnet-lease-ttl=30"),
			 NO_ENV);

	assert_int_equal(o->subnet_lease_renew_margin, 1);
	assert_int_equal(o->resync_interval, 86400);
	assert_int_equal(o->mtu, 68);
	assert_int_equal(o->subnet_lease_ttl, 30);
	tartan_options_free(o);

	o = parse_ok(ARGV("--subnet-lease-renew-margin=1439", "--mtu=65535", "--mtu", "0"), NO_ENV);
	assert_int_equal(o->subnet_lease_renew_margin, 1439);
	assert_int_equal(o->mtu, 0);
	tartan_options_free(o);
}

static void test_number_errors(void **state)
{
	expect_error(ARGV("--subnet-lease-renew-margin=0"), NO_ENV,
		     "--subnet-lease-renew-margin: 0 is out of range 1..1439");
	expect_error(ARGV("--subnet-lease-renew-margin=1440"), NO_ENV,
		     "--subnet-lease-renew-margin: 1440 is out of range 1..1439");
	expect_error(ARGV("--subnet-lease-renew-margin=-5"), NO_ENV,
		     "--subnet-lease-renew-margin: -5 is out of range 1..1439");
	expect_error(
		ARGV("--subnet-lease-renew-margin=99999999999999999999999"), NO_ENV,
		"--subnet-lease-renew-margin: 99999999999999999999999 is out of range 1..1439");
	expect_error(ARGV("--subnet-lease-renew-margin=60m"), NO_ENV,
		     "--subnet-lease-renew-margin: '60m' is not a decimal number");
	expect_error(ARGV("--subnet-lease-renew-margin="), NO_ENV,
		     "--subnet-lease-renew-margin: '' is not a decimal number");
	expect_error(ARGV("--subnet-lease-renew-margin=+5"), NO_ENV,
		     "--subnet-lease-renew-margin: '+5' is not a decimal number");
	expect_error(ARGV("--subnet-lease-renew-margin=0x3c"), NO_ENV,
		     "--subnet-lease-renew-margin: '0x3c' is not a decimal number");
	expect_error(ARGV("--subnet-lease-renew-margin= 60"), NO_ENV,
		     "--subnet-lease-renew-margin: ' 60' is not a decimal number");
	expect_error(ARGV("--subnet-lease-renew-margin=-"), NO_ENV,
		     "--subnet-lease-renew-margin: '-' is not a decimal number");
	/* Go's flag package would read 060 as octal 48 */
	expect_error(ARGV("--subnet-lease-renew-margin=060"), NO_ENV,
		     "--subnet-lease-renew-margin: '060' has a leading zero");
	expect_error(ARGV("--resync-interval=0"), NO_ENV,
		     "--resync-interval: 0 is out of range 1..86400");
	expect_error(ARGV("--resync-interval=86401"), NO_ENV,
		     "--resync-interval: 86401 is out of range 1..86400");
	expect_error(ARGV("--mtu=67"), NO_ENV, "--mtu: 67 is out of range 68..65535 (or 0)");
	expect_error(ARGV("--mtu=65536"), NO_ENV, "--mtu: 65536 is out of range 68..65535 (or 0)");
	expect_error(ARGV("--subnet-lease-ttl=0"), NO_ENV,
		     "--subnet-lease-ttl: 0 is out of range 1..86400");
	expect_error(ARGV("--subnet-lease-ttl=86401"), NO_ENV,
		     "--subnet-lease-ttl: 86401 is out of range 1..86400");
}

static void test_paths(void **state)
{
	struct tartan_options *o =
		parse_ok(ARGV("--subnet-file=/tmp/n1/subnet.env", "--state-dir=/tmp/n1/state/",
			      "--socket=/tmp/n1/t.sock", "--cni-conf-dir=/tmp/n1/cni",
			      "--rkt-net-dir=/tmp/n1/rkt"),
			 NO_ENV);

	assert_string_equal(o->subnet_file, "/tmp/n1/subnet.env");
	assert_string_equal(o->state_dir, "/tmp/n1/state/");
	assert_string_equal(o->socket_path, "/tmp/n1/t.sock");
	assert_string_equal(o->cni_conf_dir, "/tmp/n1/cni");
	assert_string_equal(o->rkt_net_dir, "/tmp/n1/rkt");
	tartan_options_free(o);

	/* an empty --rkt-net-dir turns the rkt conf off */
	o = parse_ok(ARGV("--rkt-net-dir="), NO_ENV);
	assert_null(o->rkt_net_dir);
	tartan_options_free(o);
}

static void test_path_errors(void **state)
{
	char sock[120] = "--socket=/";

	expect_error(ARGV("--subnet-file="), NO_ENV, "--subnet-file: empty path");
	expect_error(ARGV("--subnet-file=run/subnet.env"), NO_ENV,
		     "--subnet-file: 'run/subnet.env' is not an absolute path");
	expect_error(ARGV("--subnet-file=/run/flannel/"), NO_ENV,
		     "--subnet-file: '/run/flannel/' names a directory, not a file");
	expect_error(ARGV("--state-dir="), NO_ENV, "--state-dir: empty path");
	expect_error(ARGV("--state-dir=var/lib/tartan"), NO_ENV,
		     "--state-dir: 'var/lib/tartan' is not an absolute path");
	expect_error(ARGV("--cni-conf-dir=."), NO_ENV,
		     "--cni-conf-dir: '.' is not an absolute path");
	expect_error(ARGV("--rkt-net-dir=rkt"), NO_ENV,
		     "--rkt-net-dir: 'rkt' is not an absolute path");
	expect_error(ARGV("--socket="), NO_ENV, "--socket: empty path");
	expect_error(ARGV("--socket=t.sock"), NO_ENV, "--socket: 't.sock' is not an absolute path");
	expect_error(ARGV("--socket=/run/tartan/"), NO_ENV,
		     "--socket: '/run/tartan/' names a directory, not a file");
	/* sun_path holds 107 bytes and a NUL */
	memset(sock + 10, 'a', 107);
	sock[117] = '\0';
	expect_error(
		ARGV(sock), NO_ENV,
		"--socket: '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' "
		"is longer than a unix socket path can be (107 bytes)");
	sock[116] = '\0';
	tartan_options_free(parse_ok(ARGV(sock), NO_ENV));
}

static void test_bridge(void **state)
{
	struct tartan_options *o = parse_ok(ARGV("--bridge=cbr0"), NO_ENV);

	assert_string_equal(o->bridge, "cbr0");
	tartan_options_free(o);
	o = parse_ok(ARGV("--bridge=abcdefghijklmno"), NO_ENV);
	assert_string_equal(o->bridge, "abcdefghijklmno");
	tartan_options_free(o);
	expect_error(ARGV("--bridge="), NO_ENV, "--bridge: '' is not a valid interface name");
	expect_error(ARGV("--bridge=abcdefghijklmnop"), NO_ENV,
		     "--bridge: 'abcdefghijklmnop' is not a valid interface name");
	expect_error(ARGV("--bridge=br:0"), NO_ENV,
		     "--bridge: 'br:0' is not a valid interface name");
	expect_error(ARGV("--bridge=."), NO_ENV, "--bridge: '.' is not a valid interface name");
}

static void test_pod_cidr(void **state)
{
	struct tartan_options *o = parse_ok(ARGV("--pod-cidr=10.244.3.0/24"), NO_ENV);

	assert_true(o->has_pod_cidr);
	assert_addr(o->pod_cidr_addr, "10.244.3.0");
	assert_int_equal(o->pod_cidr_prefixlen, 24);
	tartan_options_free(o);
	o = parse_ok(ARGV("--pod-cidr=10.244.3.4/30", "--pod-cidr=128.0.0.0/1"), NO_ENV);
	assert_addr(o->pod_cidr_addr, "128.0.0.0");
	assert_int_equal(o->pod_cidr_prefixlen, 1);
	tartan_options_free(o);
	o = parse_ok(ARGV("--pod-cidr=10.0.0.0/8", "--pod-cidr="), NO_ENV);
	assert_false(o->has_pod_cidr);
	tartan_options_free(o);

	expect_error(ARGV("--pod-cidr=10.244.3.0"), NO_ENV,
		     "--pod-cidr: '10.244.3.0' is not an IPv4 CIDR (A.B.C.D/N)");
	expect_error(ARGV("--pod-cidr=10.244.3.0/"), NO_ENV,
		     "--pod-cidr: '10.244.3.0/' is not an IPv4 CIDR (A.B.C.D/N)");
	expect_error(ARGV("--pod-cidr=10.244.3/24"), NO_ENV,
		     "--pod-cidr: '10.244.3/24' is not an IPv4 CIDR (A.B.C.D/N)");
	expect_error(ARGV("--pod-cidr=10.244.3.0/33"), NO_ENV,
		     "--pod-cidr: '10.244.3.0/33' is not an IPv4 CIDR (A.B.C.D/N)");
	expect_error(ARGV("--pod-cidr=10.244.3.0/024"), NO_ENV,
		     "--pod-cidr: '10.244.3.0/024' is not an IPv4 CIDR (A.B.C.D/N)");
	expect_error(ARGV("--pod-cidr=10.244.3.0/08"), NO_ENV,
		     "--pod-cidr: '10.244.3.0/08' is not an IPv4 CIDR (A.B.C.D/N)");
	expect_error(ARGV("--pod-cidr=10.244.3.0/24x"), NO_ENV,
		     "--pod-cidr: '10.244.3.0/24x' is not an IPv4 CIDR (A.B.C.D/N)");
	expect_error(ARGV("--pod-cidr=10.244.3.0/31"), NO_ENV,
		     "--pod-cidr: '10.244.3.0/31': prefix length 31 is out of range 1..30");
	expect_error(ARGV("--pod-cidr=0.0.0.0/0"), NO_ENV,
		     "--pod-cidr: '0.0.0.0/0': prefix length 0 is out of range 1..30");
	expect_error(ARGV("--pod-cidr=10.244.3.1/24"), NO_ENV,
		     "--pod-cidr: '10.244.3.1/24' has host bits set; the network is 10.244.3.0/24");
	expect_error(
		ARGV("--pod-cidr=10.255.255.255/9"), NO_ENV,
		"--pod-cidr: '10.255.255.255/9' has host bits set; the network is 10.128.0.0/9");
}

static void test_kubenet_flags(void **state)
{
	struct tartan_options *o = parse_ok(NO_ARGS, NO_ENV);

	/* defaults: flannel mode keeps cni0 and hairpin on every pod port (kube-flannel's);
	 * kubenet's CIDR */
	assert_string_equal(o->bridge, "cni0");
	assert_int_equal(o->hairpin_mode, TARTAN_HAIRPIN_VETH);
	assert_addr(o->non_masq_addr, "10.0.0.0");
	assert_int_equal(o->non_masq_prefixlen, 8);
	tartan_options_free(o);

	/* kubenet mode: cbr0 unless a bridge is named, on the command line or in the env */
	o = parse_ok(ARGV("--pod-cidr=10.244.3.0/24"), NO_ENV);
	assert_string_equal(o->bridge, "cbr0");
	/* and kubelet's hairpin default */
	assert_int_equal(o->hairpin_mode, TARTAN_HAIRPIN_PROMISCUOUS_BRIDGE);
	tartan_options_free(o);
	o = parse_ok(ARGV("--pod-cidr=10.244.3.0/24", "--hairpin-mode=none"), NO_ENV);
	assert_int_equal(o->hairpin_mode, TARTAN_HAIRPIN_NONE);
	tartan_options_free(o);
	o = parse_ok(ARGV("--hairpin-mode=none"), NO_ENV);
	assert_int_equal(o->hairpin_mode, TARTAN_HAIRPIN_NONE);
	tartan_options_free(o);
	expect_error(ARGV("--hairpin-mode=promiscuous-bridge"), NO_ENV,
		     "--hairpin-mode: promiscuous-bridge is kubenet mode's (--pod-cidr); flannel "
		     "mode takes hairpin-veth or none");
	expect_error(NO_ARGS, ENV("TARTAN_HAIRPIN_MODE=promiscuous-bridge"),
		     "TARTAN_HAIRPIN_MODE: promiscuous-bridge is kubenet mode's (--pod-cidr); "
		     "flannel mode takes hairpin-veth or none");
	o = parse_ok(NO_ARGS, ENV("TARTAN_POD_CIDR=10.244.3.0/24", "TARTAN_BRIDGE=kbr"));
	assert_string_equal(o->bridge, "kbr");
	tartan_options_free(o);
	o = parse_ok(ARGV("--pod-cidr=10.244.3.0/24", "--bridge=cni0"), NO_ENV);
	assert_string_equal(o->bridge, "cni0");
	tartan_options_free(o);

	o = parse_ok(ARGV("--hairpin-mode=hairpin-veth", "--non-masquerade-cidr=0.0.0.0/0"),
		     NO_ENV);
	assert_int_equal(o->hairpin_mode, TARTAN_HAIRPIN_VETH);
	assert_int_equal(o->non_masq_prefixlen, 0);
	tartan_options_free(o);
	o = parse_ok(NO_ARGS, ENV("TARTAN_HAIRPIN_MODE=none",
				  "TARTAN_NON_MASQUERADE_CIDR=192.0.2.4/32"));
	assert_int_equal(o->hairpin_mode, TARTAN_HAIRPIN_NONE);
	assert_addr(o->non_masq_addr, "192.0.2.4");
	assert_int_equal(o->non_masq_prefixlen, 32);
	tartan_options_free(o);

	expect_error(ARGV("--hairpin-mode=promiscuous"), NO_ENV,
		     "--hairpin-mode: 'promiscuous' is not one of promiscuous-bridge, "
		     "hairpin-veth, none");
	expect_error(ARGV("--non-masquerade-cidr=10.0.0.1/8"), NO_ENV,
		     "--non-masquerade-cidr: '10.0.0.1/8' has host bits set; the network is "
		     "10.0.0.0/8");
	expect_error(NO_ARGS, ENV("TARTAN_NON_MASQUERADE_CIDR=10.0.0.0"),
		     "TARTAN_NON_MASQUERADE_CIDR: '10.0.0.0' is not an IPv4 CIDR (A.B.C.D/N)");
	expect_error(ARGV("--pod-cidr=10.244.3.0/24", "--rkt-conf-type=flannel"), NO_ENV,
		     "--rkt-conf-type: the flannel-type conf reads subnet.env, which kubenet mode "
		     "(--pod-cidr) does not write; use --rkt-conf-type=bridge");
}

static void test_skip_files(void **state)
{
	struct tartan_options *o = parse_ok(NO_ARGS, NO_ENV);

	assert_int_equal(o->skip_files, 0);
	tartan_options_free(o);
	o = parse_ok(ARGV("--skip-files=conflist, rkt-conf"), NO_ENV);
	assert_int_equal(o->skip_files, (1u << TARTAN_OPTIONS_FILE_CONFLIST) |
						(1u << TARTAN_OPTIONS_FILE_RKT_CONF));
	tartan_options_free(o);
	/* the last flag wins; the environment only when the flag is not given */
	o = parse_ok(ARGV("--skip-files", "subnet-env,conflist", "--skip-files=kubenet-conf"),
		     ENV("TARTAN_SKIP_FILES=conflist"));
	assert_int_equal(o->skip_files, 1u << TARTAN_OPTIONS_FILE_KUBENET_CONF);
	tartan_options_free(o);
	o = parse_ok(NO_ARGS, ENV("TARTAN_SKIP_FILES=subnet-env,subnet-env"));
	assert_int_equal(o->skip_files, 1u << TARTAN_OPTIONS_FILE_SUBNET_ENV);
	tartan_options_free(o);
	/* an empty flag clears the list, as --skip-files= in a drop-in would */
	o = parse_ok(ARGV("--skip-files=conflist", "--skip-files="), NO_ENV);
	assert_int_equal(o->skip_files, 0);
	tartan_options_free(o);
	assert_string_equal(tartan_options_file_name(TARTAN_OPTIONS_FILE_SUBNET_ENV), "subnet-env");
	assert_string_equal(tartan_options_file_name(TARTAN_OPTIONS_FILE_CONFLIST), "conflist");
	assert_string_equal(tartan_options_file_name(TARTAN_OPTIONS_FILE_RKT_CONF), "rkt-conf");
	assert_string_equal(tartan_options_file_name(TARTAN_OPTIONS_FILE_KUBENET_CONF),
			    "kubenet-conf");
	assert_null(tartan_options_file_name(TARTAN_OPTIONS_N_FILES));

	expect_error(ARGV("--skip-files=cni-conf"), NO_ENV,
		     "--skip-files: 'cni-conf' is not one of subnet-env, conflist, rkt-conf, "
		     "kubenet-conf");
	expect_error(
		NO_ARGS, ENV("TARTAN_SKIP_FILES=conflist,Subnet-Env"),
		"TARTAN_SKIP_FILES: 'Subnet-Env' is not one of subnet-env, conflist, rkt-conf, "
		"kubenet-conf");
	expect_error(ARGV("--skip-files=conflist,,rkt-conf"), NO_ENV,
		     "--skip-files: 'conflist,,rkt-conf' has an empty entry");
	expect_error(ARGV("--skip-files=conflist,"), NO_ENV,
		     "--skip-files: 'conflist,' has an empty entry");
	expect_error(ARGV("--skip-files=a\x1b[b"), NO_ENV,
		     "--skip-files: 'a\\x1b[b' is not one of subnet-env, conflist, rkt-conf, "
		     "kubenet-conf");
}

static void test_log_level(void **state)
{
	static const struct {
		const char *name;
		enum tartan_log_level level;
	} cases[] = {
		{ "error", TARTAN_LOG_ERROR },
		{ "warning", TARTAN_LOG_WARNING },
		{ "info", TARTAN_LOG_INFO },
		{ "debug", TARTAN_LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tartan_options *o = parse_ok(ARGV("--log-level", cases[i].name), NO_ENV);

		assert_int_equal(o->log_level, cases[i].level);
		tartan_options_free(o);
	}
	expect_error(ARGV("--log-level=warn"), NO_ENV,
		     "--log-level: 'warn' is not one of error, warning, info, debug");
	expect_error(ARGV("--log-level=DEBUG"), NO_ENV,
		     "--log-level: 'DEBUG' is not one of error, warning, info, debug");
}

static void test_message_escapes_and_cuts(void **state)
{
	char arg[200] = "--bridge=";

	expect_error(ARGV("--bridge=a\x1b[2Jb"), NO_ENV,
		     "--bridge: 'a\\x1b[2Jb' is not a valid interface name");
	memset(arg + 9, 'x', 100);
	arg[109] = '\0';
	expect_error(
		ARGV(arg), NO_ENV,
		"--bridge: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is "
		"not a valid interface name");
	expect_error(ARGV("--fo\no"), NO_ENV, "unknown flag '--fo\\x0ao'");
}

/* ---------------------------------------------------------- environment */

static void test_env_flanneld(void **state)
{
	struct tartan_options *o = parse_ok(
		NO_ARGS,
		ENV("PATH=/usr/bin", "FLANNELD_ETCD_ENDPOINTS=http://e1:2379,http://e2:2379",
		    "FLANNELD_ETCD_PREFIX=/my/net", "FLANNELD_SUBNET_LEASE_RENEW_MARGIN=30",
		    "FLANNELD_IP_MASQ=true", "FLANNELD_PUBLIC_IP=10.0.0.5",
		    "FLANNELD_IFACE=eth1,10.0.0.5", "FLANNELD_IFACE_REGEX=^e(th|n){1,2}",
		    "FLANNELD_HEALTHZ_PORT=8080", "FLANNELD_SUBNET_FILE=/tmp/s.env"));

	assert_int_equal(o->n_etcd_endpoints, 2);
	assert_string_equal(o->etcd_endpoints[1], "http://e2:2379");
	assert_string_equal(o->etcd_prefix, "/my/net");
	assert_int_equal(o->subnet_lease_renew_margin, 30);
	assert_true(o->ip_masq);
	assert_addr(o->public_ip, "10.0.0.5");
	/* from the environment, --iface is a comma list; a regex is one regex */
	assert_int_equal(o->n_ifaces, 2);
	assert_string_equal(o->ifaces[0].name, "eth1");
	assert_addr(o->ifaces[1].addr, "10.0.0.5");
	assert_int_equal(o->n_iface_regexes, 1);
	assert_string_equal(o->iface_regexes[0], "^e(th|n){1,2}");
	assert_int_equal(o->healthz_port, 8080);
	assert_string_equal(o->subnet_file, "/tmp/s.env");
	tartan_options_free(o);
}

static void test_env_tartan(void **state)
{
	struct tartan_options *o =
		parse_ok(NO_ARGS, ENV("TARTAN_STATE_DIR=/tmp/st", "TARTAN_SOCKET=/tmp/t.sock",
				      "TARTAN_BRIDGE=br9", "TARTAN_CNI_CONF_DIR=/tmp/cni",
				      "TARTAN_RKT_NET_DIR=/tmp/rkt", "TARTAN_POD_CIDR=10.1.0.0/16",
				      "TARTAN_RESYNC_INTERVAL=3", "TARTAN_LOG_LEVEL=debug",
				      "TARTAN_MTU=1450", "TARTAN_SUBNET_LEASE_TTL=20",
				      "TARTAN_ETCD_PREFIX=/t/net", "TARTAN_HEALTHZ_IP=127.0.0.2"));

	assert_string_equal(o->state_dir, "/tmp/st");
	assert_string_equal(o->socket_path, "/tmp/t.sock");
	assert_string_equal(o->bridge, "br9");
	assert_string_equal(o->cni_conf_dir, "/tmp/cni");
	assert_string_equal(o->rkt_net_dir, "/tmp/rkt");
	assert_true(o->has_pod_cidr);
	assert_int_equal(o->pod_cidr_prefixlen, 16);
	assert_int_equal(o->resync_interval, 3);
	assert_int_equal(o->log_level, TARTAN_LOG_DEBUG);
	assert_int_equal(o->mtu, 1450);
	assert_int_equal(o->subnet_lease_ttl, 20);
	/* TARTAN_ works for flanneld's names too */
	assert_string_equal(o->etcd_prefix, "/t/net");
	assert_addr(o->healthz_ip, "127.0.0.2");
	tartan_options_free(o);
}

static void test_env_precedence(void **state)
{
	struct tartan_options *o;

	/* the command line beats both variables */
	o = parse_ok(ARGV("--etcd-prefix=/cli"),
		     ENV("FLANNELD_ETCD_PREFIX=/flanneld", "TARTAN_ETCD_PREFIX=/tartan"));
	assert_string_equal(o->etcd_prefix, "/cli");
	tartan_options_free(o);

	/* TARTAN_ beats FLANNELD_, in either order in the environment */
	o = parse_ok(NO_ARGS, ENV("FLANNELD_ETCD_PREFIX=/flanneld", "TARTAN_ETCD_PREFIX=/tartan"));
	assert_string_equal(o->etcd_prefix, "/tartan");
	tartan_options_free(o);
	o = parse_ok(NO_ARGS, ENV("TARTAN_ETCD_PREFIX=/tartan", "FLANNELD_ETCD_PREFIX=/flanneld"));
	assert_string_equal(o->etcd_prefix, "/tartan");
	tartan_options_free(o);

	/* an empty variable is ignored (flanneld's rule): the next one counts */
	o = parse_ok(NO_ARGS, ENV("TARTAN_ETCD_PREFIX=", "FLANNELD_ETCD_PREFIX=/flanneld",
				  "FLANNELD_SUBNET_LEASE_RENEW_MARGIN=", "TARTAN_BRIDGE=",
				  "TARTAN_RKT_NET_DIR="));
	assert_string_equal(o->etcd_prefix, "/flanneld");
	assert_int_equal(o->subnet_lease_renew_margin, 60);
	assert_string_equal(o->bridge, "cni0");
	/* so an empty TARTAN_RKT_NET_DIR does not turn rkt off; --rkt-net-dir= does */
	assert_string_equal(o->rkt_net_dir, "/etc/rkt/net.d");
	tartan_options_free(o);

	/* a repeatable flag on the command line replaces the variable, not adds */
	o = parse_ok(ARGV("--iface=eth0"), ENV("FLANNELD_IFACE=eth1,eth2"));
	assert_int_equal(o->n_ifaces, 1);
	assert_string_equal(o->ifaces[0].name, "eth0");
	tartan_options_free(o);

	/* a variable for a flag given on the command line is not even checked */
	o = parse_ok(ARGV("--mtu=1400"), ENV("TARTAN_MTU=bogus"));
	assert_int_equal(o->mtu, 1400);
	tartan_options_free(o);

	/* the first of two entries of one name counts, as getenv() */
	o = parse_ok(NO_ARGS, ENV("TARTAN_BRIDGE=br1", "TARTAN_BRIDGE=br2"));
	assert_string_equal(o->bridge, "br1");
	tartan_options_free(o);
}

static void test_env_ignored(void **state)
{
	/* FLANNELD_ only for flanneld's names; no --help/--version from the
	 * environment; names are exact; entries without '=' and unknown ones
	 * are not flags */
	struct tartan_options *o = parse_ok(
		NO_ARGS,
		ENV("FLANNELD_STATE_DIR=/nope", "FLANNELD_BRIDGE=nope", "TARTAN_HELP=1",
		    "FLANNELD_VERSION=true", "TARTAN_VERSION=true", "flanneld_etcd_prefix=/x",
		    "TARTAN_ETCD_PREFIX", "TARTAN_ETCD_PREFIXX=/y", "FLANNELD_KUBE_SUBNET_MGR=true",
		    "TARTAN_FOO=bar", "TARTAN_IFACE_REGEX_=x", "FLANNELD_IFACE_=x"));

	assert_string_equal(o->state_dir, "/var/lib/tartan");
	assert_string_equal(o->bridge, "cni0");
	assert_false(o->show_help);
	assert_false(o->show_version);
	assert_string_equal(o->etcd_prefix, "/coreos.com/network");
	assert_int_equal(o->n_ifaces, 0);
	assert_int_equal(o->n_iface_regexes, 0);
	tartan_options_free(o);
}

static void test_env_errors(void **state)
{
	/* checked as flags are, and the message names the variable */
	expect_error(NO_ARGS, ENV("FLANNELD_SUBNET_LEASE_RENEW_MARGIN=0"),
		     "FLANNELD_SUBNET_LEASE_RENEW_MARGIN: 0 is out of range 1..1439");
	expect_error(NO_ARGS, ENV("TARTAN_SUBNET_LEASE_RENEW_MARGIN=2000"),
		     "TARTAN_SUBNET_LEASE_RENEW_MARGIN: 2000 is out of range 1..1439");
	expect_error(NO_ARGS, ENV("FLANNELD_ETCD_ENDPOINTS=ftp://x"),
		     "FLANNELD_ETCD_ENDPOINTS: 'ftp://x' is not an http:// or https:// URL");
	expect_error(NO_ARGS, ENV("FLANNELD_IP_MASQ=yes"),
		     "FLANNELD_IP_MASQ: 'yes' is not a boolean (true or false)");
	expect_error(NO_ARGS, ENV("FLANNELD_IFACE=eth0,,eth1"),
		     "FLANNELD_IFACE: empty interface name");
	expect_error(
		NO_ARGS, ENV("FLANNELD_IFACE_REGEX=(x"),
		"FLANNELD_IFACE_REGEX: '(x' is not a valid extended regex: Unmatched ( or \\(");
	expect_error(NO_ARGS, ENV("TARTAN_STATE_DIR=relative"),
		     "TARTAN_STATE_DIR: 'relative' is not an absolute path");
	expect_error(NO_ARGS, ENV("TARTAN_POD_CIDR=10.0.0.1/8"),
		     "TARTAN_POD_CIDR: '10.0.0.1/8' has host bits set; the network is 10.0.0.0/8");
	expect_error(NO_ARGS, ENV("TARTAN_LOG_LEVEL=loud"),
		     "TARTAN_LOG_LEVEL: 'loud' is not one of error, warning, info, debug");
	/* a bad TARTAN_ value is refused, not passed over for FLANNELD_ */
	expect_error(NO_ARGS, ENV("TARTAN_HEALTHZ_PORT=x", "FLANNELD_HEALTHZ_PORT=80"),
		     "TARTAN_HEALTHZ_PORT: 'x' is not a decimal number");
}

/* -------------------------------------------------------- help, version */

static void test_help(void **state)
{
	const char *const *forms[] = {
		ARGV("--help"),
		ARGV("-help"),
		ARGV("-h"),
		ARGV("--h"),
		/* parsing stops at --help: what follows is not looked at */
		ARGV("--bridge=br0", "--help", "--no-such-flag", "stray"),
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct tartan_options *o = parse_ok(forms[i], ENV("FLANNELD_IP_MASQ=bogus"));

		assert_true(o->show_help);
		assert_false(o->show_version);
		tartan_options_free(o);
	}
	/* what comes before it still is */
	expect_error(ARGV("--no-such-flag", "--help"), NO_ENV, "unknown flag --no-such-flag");
}

static void test_version(void **state)
{
	const char *const *forms[] = {
		ARGV("--version"),
		ARGV("-version"),
		ARGV("--version=true"),
		ARGV("--version=1", "--no-such-flag"),
	};
	struct tartan_options *o;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		/* works whatever the environment holds, as flanneld's */
		o = parse_ok(forms[i], ENV("FLANNELD_SUBNET_LEASE_RENEW_MARGIN=0"));
		assert_true(o->show_version);
		assert_false(o->show_help);
		tartan_options_free(o);
	}
	o = parse_ok(ARGV("--version=false"), NO_ENV);
	assert_false(o->show_version);
	tartan_options_free(o);
	expect_error(ARGV("--version=maybe"), NO_ENV,
		     "--version: 'maybe' is not a boolean (true or false)");
}

static void test_usage(void **state)
{
	static const char *const flags[] = {
		"--etcd-endpoints=",
		"--etcd-prefix=",
		"--etcd-cafile=",
		"--etcd-certfile=",
		"--etcd-keyfile=",
		"--etcd-username=",
		"--etcd-password=",
		"--iface=",
		"--iface-regex=",
		"--public-ip=",
		"--subnet-file=",
		"--subnet-lease-renew-margin=",
		"--ip-masq ",
		"--healthz-ip=",
		"--healthz-port=",
		"--state-dir=",
		"--socket=",
		"--bridge=",
		"--cni-conf-dir=",
		"--rkt-net-dir=",
		"--pod-cidr=",
		"--resync-interval=",
		"--log-level=",
		"--mtu=",
		"--subnet-lease-ttl=",
		"--skip-files=NAME[,NAME...]",
		"subnet-env, conflist, rkt-conf, kubenet-conf",
		"--version ",
		"--help ",
		"(default http://127.0.0.1:2379)",
		"(default /run/flannel/subnet.env)",
		"for tests only",
		"FLANNELD_ETCD_ENDPOINTS",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	tartan_options_usage(f);
	assert_int_equal(fclose(f), 0);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (!strstr(text, flags[i]))
			print_error("usage lacks \"%s\":\n%s", flags[i], text);
		assert_non_null(strstr(text, flags[i]));
	}
	/* lines fit in 100 columns */
	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");

		if (n > 100)
			print_error("usage line of %zu columns: %.*s\n", n, (int)n, line);
		assert_true(n <= 100);
		line += n + (line[n] ? 1 : 0);
	}
	free(text);
}

/* ------------------------------------------------------------ the API */

static void test_out_params(void **state)
{
	struct tartan_options *o = (struct tartan_options *)0x1;
	char *error = (char *)0x1;
	const char *const *argv = ARGV("--mtu=1");
	int r;

	/* on failure *ret is left alone; on success *ret_error is */
	r = tartan_options_parse(count(argv), (char *const *)argv, NULL, &o, &error);
	assert_int_equal(r, -EINVAL);
	assert_ptr_equal(o, (struct tartan_options *)0x1);
	assert_string_equal(error, "--mtu: 1 is out of range 68..65535 (or 0)");
	free(error);

	error = (char *)0x1;
	o = NULL;
	r = tartan_options_parse(1, (char *const *)NO_ARGS, NULL, &o, &error);
	assert_int_equal(r, 0);
	assert_ptr_equal(error, (char *)0x1);
	tartan_options_free(o);

	/* no message wanted */
	o = (struct tartan_options *)0x1;
	r = tartan_options_parse(count(argv), (char *const *)argv, NULL, &o, NULL);
	assert_int_equal(r, -EINVAL);
	assert_ptr_equal(o, (struct tartan_options *)0x1);
}

static void test_argc_bounds_argv(void **state)
{
	/* argc says how many: what lies beyond it is not read */
	const char *const *argv = ARGV("--bridge=br0", "--no-such-flag");
	struct tartan_options *o = NULL;
	int r;

	r = tartan_options_parse(2, (char *const *)argv, NULL, &o, NULL);
	assert_int_equal(r, 0);
	assert_string_equal(o->bridge, "br0");
	tartan_options_free(o);
	/* a value may not come from beyond argc either */
	argv = ARGV("--bridge", "br0");
	r = tartan_options_parse(2, (char *const *)argv, NULL, &o, NULL);
	assert_int_equal(r, -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_null_argv_and_envp),
		cmocka_unit_test(test_syntax_forms),
		cmocka_unit_test(test_value_may_contain_equals_and_dashes),
		cmocka_unit_test(test_bool_forms),
		cmocka_unit_test(test_bool_errors),
		cmocka_unit_test(test_last_wins),
		cmocka_unit_test(test_double_dash_ends_flags),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_iface_repeatable),
		cmocka_unit_test(test_iface_errors),
		cmocka_unit_test(test_iface_regex_errors),
		cmocka_unit_test(test_iface_regex_accepted),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_endpoint_errors),
		cmocka_unit_test(test_etcd_prefix),
		cmocka_unit_test(test_tls_and_auth),
		cmocka_unit_test(test_tls_and_auth_errors),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_number_errors),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_path_errors),
		cmocka_unit_test(test_bridge),
		cmocka_unit_test(test_pod_cidr),
		cmocka_unit_test(test_kubenet_flags),
		cmocka_unit_test(test_skip_files),
		cmocka_unit_test(test_log_level),
		cmocka_unit_test(test_message_escapes_and_cuts),
		cmocka_unit_test(test_env_flanneld),
		cmocka_unit_test(test_env_tartan),
		cmocka_unit_test(test_env_precedence),
		cmocka_unit_test(test_env_ignored),
		cmocka_unit_test(test_env_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_out_params),
		cmocka_unit_test(test_argc_bounds_argv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
