/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "daemon/options.h"
#include "netcfg/ip4.h"

enum kind {
	KIND_ENDPOINTS,	   /* comma list of http(s):// URLs */
	KIND_ETCD_PREFIX,  /* etcd key prefix */
	KIND_STRING,	   /* optional text; empty: unset */
	KIND_FILE,	   /* optional path, may be relative; empty: unset */
	KIND_IFACE,	   /* repeatable: comma list of names or addresses */
	KIND_IFACE_REGEX,  /* repeatable: one regex */
	KIND_PUBLIC_IP,	   /* optional unicast address; empty: unset */
	KIND_IPV4,	   /* an address */
	KIND_PATH,	   /* absolute path */
	KIND_PATH_OR_NONE, /* absolute path; empty: NULL */
	KIND_FILE_PATH,	   /* absolute path of a file (no trailing '/') */
	KIND_SOCKET,	   /* KIND_FILE_PATH that fits in sun_path */
	KIND_IFNAME,	   /* an interface name */
	KIND_UINT,	   /* min..max, or 0 too with OPT_ZERO_OK */
	KIND_BOOL,
	KIND_CIDR,	   /* the pod CIDR */
	KIND_NON_MASQ_CIDR, /* any IPv4 CIDR, /0 included */
	KIND_HAIRPIN_MODE,
	KIND_LOG_LEVEL,
	KIND_RKT_CONF_TYPE,
	KIND_SKIP_FILES, /* comma list of file names */
	KIND_HELP, /* no value */
};

#define OPT_FLANNEL (1u << 0)  /* flanneld's flag: FLANNELD_<NAME> as well */
#define OPT_CLI_ONLY (1u << 1) /* never from the environment */
#define OPT_ZERO_OK (1u << 2)  /* KIND_UINT: 0 is allowed besides min..max */

struct opt_def {
	const char *name;
	enum kind kind;
	unsigned flags;
	size_t offset; /* of the field in struct tartan_options */
	unsigned min, max;
	const char *defval; /* NULL: none */
	const char *arg;    /* in --help: --name=ARG */
	const char *help;
};

#define FIELD(f) offsetof(struct tartan_options, f)

static const char *const file_names[TARTAN_OPTIONS_N_FILES] = {
	[TARTAN_OPTIONS_FILE_SUBNET_ENV] = "subnet-env",
	[TARTAN_OPTIONS_FILE_CONFLIST] = "conflist",
	[TARTAN_OPTIONS_FILE_RKT_CONF] = "rkt-conf",
	[TARTAN_OPTIONS_FILE_KUBENET_CONF] = "kubenet-conf",
};
#define SKIP_FILE_NAMES "subnet-env, conflist, rkt-conf, kubenet-conf"

static const struct opt_def opt_defs[] = {
	/* flanneld's */
	{ "etcd-endpoints", KIND_ENDPOINTS, OPT_FLANNEL, FIELD(etcd_endpoints), 0, 0,
	  "http://127.0.0.1:2379", "URL[,URL...]", "etcd endpoints, http(s)://" },
	{ "etcd-prefix", KIND_ETCD_PREFIX, OPT_FLANNEL, FIELD(etcd_prefix), 0, 0,
	  "/coreos.com/network", "PREFIX", "etcd prefix of the network" },
	{ "etcd-cafile", KIND_FILE, OPT_FLANNEL, FIELD(etcd_cafile), 0, 0, NULL, "FILE",
	  "CA bundle to verify etcd with (https:// only)" },
	{ "etcd-certfile", KIND_FILE, OPT_FLANNEL, FIELD(etcd_certfile), 0, 0, NULL, "FILE",
	  "TLS client certificate (with --etcd-keyfile)" },
	{ "etcd-keyfile", KIND_FILE, OPT_FLANNEL, FIELD(etcd_keyfile), 0, 0, NULL, "FILE",
	  "TLS client key (with --etcd-certfile)" },
	{ "etcd-username", KIND_STRING, OPT_FLANNEL, FIELD(etcd_username), 0, 0, NULL, "NAME",
	  "etcd user (etcd authentication)" },
	{ "etcd-password", KIND_STRING, OPT_FLANNEL, FIELD(etcd_password), 0, 0, NULL, "PASSWORD",
	  "etcd password (with --etcd-username)" },
	{ "iface", KIND_IFACE, OPT_FLANNEL, FIELD(ifaces), 0, 0, NULL, "NAME|ADDR",
	  "external interface: name or IPv4 address; repeatable" },
	{ "iface-regex", KIND_IFACE_REGEX, OPT_FLANNEL, FIELD(iface_regexes), 0, 0, NULL, "REGEX",
	  "external interface whose address or name matches; repeatable" },
	{ "public-ip", KIND_PUBLIC_IP, OPT_FLANNEL, FIELD(public_ip), 0, 0, NULL, "ADDR",
	  "address peers reach this node at (default: the interface's)" },
	{ "subnet-file", KIND_FILE_PATH, OPT_FLANNEL, FIELD(subnet_file), 0, 0,
	  "/run/flannel/subnet.env", "FILE", "where to write flannel's subnet.env" },
	{ "subnet-lease-renew-margin", KIND_UINT, OPT_FLANNEL, FIELD(subnet_lease_renew_margin), 1,
	  1439, "60", "MINUTES", "renew the lease this long before it expires" },
	{ "ip-masq", KIND_BOOL, OPT_FLANNEL, FIELD(ip_masq), 0, 0, "false", NULL,
	  "masquerade traffic leaving the pod network" },
	{ "healthz-ip", KIND_IPV4, OPT_FLANNEL, FIELD(healthz_ip), 0, 0, "0.0.0.0", "ADDR",
	  "address of the /healthz HTTP server" },
	{ "healthz-port", KIND_UINT, OPT_FLANNEL | OPT_ZERO_OK, FIELD(healthz_port), 0, 65535, "0",
	  "PORT", "port of the /healthz HTTP server; 0: none" },

	/* tartan's */
	{ "state-dir", KIND_PATH, 0, FIELD(state_dir), 0, 0, "/var/lib/tartan", "DIR",
	  "pod allocations and other state" },
	{ "socket", KIND_SOCKET, 0, FIELD(socket_path), 0, 0, "/run/tartan/tartand.sock", "PATH",
	  "control socket for tartanctl and the CNI plugin" },
	{ "bridge", KIND_IFNAME, 0, FIELD(bridge), 0, 0, "cni0", "NAME", "pod bridge" },
	{ "cni-conf-dir", KIND_PATH, 0, FIELD(cni_conf_dir), 0, 0, "/etc/cni/net.d", "DIR",
	  "CNI configuration directory" },
	{ "cni-data-dir", KIND_PATH_OR_NONE, 0, FIELD(cni_data_dir), 0, 0, "/var/lib/cni/networks",
	  "DIR", "host-local's dataDir: its addresses are kept out; empty: none" },
	{ "rkt-net-dir", KIND_PATH_OR_NONE, 0, FIELD(rkt_net_dir), 0, 0, "/etc/rkt/net.d", "DIR",
	  "rkt network configuration directory; empty: none" },
	{ "rkt-conf-type", KIND_RKT_CONF_TYPE, 0, FIELD(rkt_conf_flannel), 0, 0, "bridge", "TYPE",
	  "rkt.kubernetes.io conf: bridge, or flannel (subnet.env)" },
	{ "pod-cidr", KIND_CIDR, 0, 0, 0, 0, NULL, "CIDR",
	  "fixed pod subnet of this node (kubenet mode)" },
	/* no default here: it depends on the mode (check_combinations) */
	{ "hairpin-mode", KIND_HAIRPIN_MODE, 0, FIELD(hairpin_mode), 0, 0, NULL, "MODE",
	  "hairpin-veth (default), none, promiscuous-bridge (kubenet's)" },
	{ "non-masquerade-cidr", KIND_NON_MASQ_CIDR, 0, 0, 0, 0, "10.0.0.0/8", "CIDR",
	  "kubenet mode: not masqueraded to there; 0.0.0.0/0: nothing is" },
	{ "resync-interval", KIND_UINT, 0, FIELD(resync_interval), 1, 86400, "10", "SECONDS",
	  "period of the full resync with the kernel and files" },
	{ "skip-files", KIND_SKIP_FILES, 0, FIELD(skip_files), 0, 0, NULL, "NAME[,NAME...]",
	  "left alone: " SKIP_FILE_NAMES },
	{ "log-level", KIND_LOG_LEVEL, 0, FIELD(log_level), 0, 0, "info", "LEVEL",
	  "error, warning, info or debug" },
	{ "mtu", KIND_UINT, OPT_ZERO_OK, FIELD(mtu), 68, 65535, "0", "BYTES",
	  "pod network MTU; 0: the external interface's" },
	{ "subnet-lease-ttl", KIND_UINT, 0, FIELD(subnet_lease_ttl), 1, 86400, "86400", "SECONDS",
	  "TTL of the subnet's etcd lease, for tests only" },
	{ "version", KIND_BOOL, OPT_CLI_ONLY, FIELD(show_version), 0, 0, NULL, NULL,
	  "print the version and exit" },
	{ "help", KIND_HELP, OPT_CLI_ONLY, FIELD(show_help), 0, 0, NULL, NULL,
	  "print this help and exit (also -h)" },
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

/* TARTAN_SUBNET_LEASE_RENEW_MARGIN, FLANNELD_... and --subnet-lease-renew-margin fit */
#define SUBJECT_MAX 64
/* bounds on what people write, so that checks and messages stay small */
#define URL_MAX 511
#define REGEX_MAX 512
/* regex_safe(): about 200 bytes of regcomp() memory per unit */
#define REGEX_SIZE_MAX 4096
#define REGEX_DEPTH_MAX 32

struct parser {
	struct tartan_options *o;
	bool on_cli[N_OPTS];
	bool given[N_OPTS]; /* on the command line or in the environment */
	char subject[N_OPTS][SUBJECT_MAX]; /* where the value came from, for messages */
	char *error;
};

/* Sets the message (the first one wins) and returns -EINVAL, or -ENOMEM. */
static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (p->error)
		return -EINVAL;
	va_start(ap, fmt);
	r = vasprintf(&p->error, fmt, ap);
	va_end(ap);
	if (r < 0) {
		p->error = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}

/* 'value' for a message: control bytes as \xNN, cut after 64 bytes */
#define QUOTE_MAX (2 + 64 * 4 + 3 + 1)

static const char *quote(const char *s, char buf[static QUOTE_MAX])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, i;

	buf[n++] = '\'';
	for (i = 0; s[i] && i < 64; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		} else {
			buf[n++] = (char)c;
		}
	}
	if (s[i]) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

/* --- value parsers: pure predicates, no messages ---------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* strict dotted quad, as netcfg/ip4.h parses it (no leading zeros: Go's net.ParseIP
 * refuses them too, and 010 is octal to inet_aton) */
static bool parse_ipv4(const char *s, size_t len, struct in_addr *ret_addr)
{
	uint32_t addr;

	if (tartan_ip4_addr_parse(s, len, &addr) < 0)
		return false;
	ret_addr->s_addr = htonl(addr);
	return true;
}

/* the kernel's dev_valid_name(), without control characters, and without
 * ',' which separates --iface entries */
static bool ifname_valid(const char *s, size_t len)
{
	if (len == 0 || len >= IFNAMSIZ || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == '/' || c == ':' || c == ',')
			return false;
	}
	return true;
}

/* --- setters: one per kind; subject names the flag or variable ----------- */

static int set_string(char **field, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
	}
	free(*field);
	*field = copy;
	return 0;
}

static int check_url(struct parser *p, const char *subject, const char *url, size_t len)
{
	char q[QUOTE_MAX], buf[URL_MAX + 1];
	const char *host, *end, *port = NULL;
	size_t i;

	if (len > URL_MAX)
		return fail(p, "%s: an endpoint is longer than %d bytes", subject, URL_MAX);
	memcpy(buf, url, len);
	buf[len] = '\0';
	if (strncmp(buf, "http://", 7) == 0)
		host = buf + 7;
	else if (strncmp(buf, "https://", 8) == 0)
		host = buf + 8;
	else
		return fail(p, "%s: %s is not an http:// or https:// URL", subject, quote(buf, q));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c <= ' ' || c == 0x7f)
			return fail(p, "%s: %s has a space or control character", subject,
				    quote(buf, q));
		if (c == '?' || c == '#')
			return fail(p, "%s: %s has a query or fragment", subject, quote(buf, q));
	}
	end = host + strcspn(host, "/");
	/* user:password@ would end up in logs and status output: refuse, and do
	 * not repeat the URL */
	if (memchr(host, '@', (size_t)(end - host)))
		return fail(p,
			    "%s: an endpoint has a user name in it; use --etcd-username and "
			    "--etcd-password",
			    subject);
	if (host == end)
		return fail(p, "%s: %s has no host", subject, quote(buf, q));
	if (*host == '[') {
		/* an IPv6 literal */
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (!close || close == host + 1 || !memchr(host, ':', (size_t)(close - host)))
			return fail(p, "%s: %s has a bad host", subject, quote(buf, q));
		for (const char *c = host + 1; c < close; c++)
			if (!strchr("0123456789abcdefABCDEF:.", *c))
				return fail(p, "%s: %s has a bad host", subject, quote(buf, q));
		if (close + 1 < end && close[1] != ':')
			return fail(p, "%s: %s has a bad host", subject, quote(buf, q));
		if (close + 1 < end)
			port = close + 2;
	} else {
		const char *c;

		for (c = host; c < end && *c != ':'; c++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_",
				    *c))
				return fail(p, "%s: %s has a bad host", subject, quote(buf, q));
		if (c == host)
			return fail(p, "%s: %s has no host", subject, quote(buf, q));
		if (c < end)
			port = c + 1;
	}
	if (port) {
		unsigned v = 0;
		const char *c;

		for (c = port; c < end && is_digit(*c) && v <= 65535; c++)
			v = v * 10 + (unsigned)(*c - '0');
		if (c == port || c != end || v == 0 || v > 65535)
			return fail(p, "%s: %s has a bad port", subject, quote(buf, q));
	}
	return 0;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int set_endpoints(struct parser *p, const char *subject, const char *value)
{
	struct tartan_options *o = p->o;
	char q[QUOTE_MAX], **list = NULL;
	size_t n = 0, cap = 0;
	const char *s = value;
	int r;

	for (;;) {
		size_t len = strcspn(s, ",");
		const char *e = s, *e_end = s + len;
		char **nl;

		/* "a, b": people write lists with spaces */
		while (e < e_end && (*e == ' ' || *e == '\t'))
			e++;
		while (e_end > e && (e_end[-1] == ' ' || e_end[-1] == '\t'))
			e_end--;
		if (e == e_end) {
			r = fail(p, "%s: %s has an empty entry", subject, quote(value, q));
			goto out;
		}
		r = check_url(p, subject, e, (size_t)(e_end - e));
		if (r < 0)
			goto out;
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			nl = realloc(list, cap * sizeof(*list));
			if (!nl) {
				r = -ENOMEM;
				goto out;
			}
			list = nl;
		}
		list[n] = strndup(e, (size_t)(e_end - e));
		if (!list[n]) {
			r = -ENOMEM;
			goto out;
		}
		n++;
		if (!s[len])
			break;
		s += len + 1;
	}
	free_strv(o->etcd_endpoints, o->n_etcd_endpoints);
	o->etcd_endpoints = list;
	o->n_etcd_endpoints = n;
	return 0;
out:
	free_strv(list, n);
	return r;
}

/*
 * flannel joins the prefix with path.Join, which drops a trailing '/' and
 * doubled ones: keys are the same for "/coreos.com/network/" and
 * "/coreos.com//network". Do the same, so that both daemons meet.
 */
static int set_etcd_prefix(struct parser *p, const char *subject, const char *value)
{
	char q[QUOTE_MAX], *clean;
	size_t n = 0;
	const char *s;

	if (value[0] != '/')
		return fail(p, "%s: %s does not start with '/'", subject, quote(value, q));
	if (has_control(value))
		return fail(p, "%s: %s has a control character", subject, quote(value, q));
	clean = malloc(strlen(value) + 1);
	if (!clean)
		return -ENOMEM;
	for (s = value; *s;) {
		size_t len;

		while (*s == '/')
			s++;
		len = strcspn(s, "/");
		if (len == 0)
			break;
		if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
			free(clean);
			return fail(p, "%s: %s has a '.' or '..' component", subject,
				    quote(value, q));
		}
		clean[n++] = '/';
		memcpy(clean + n, s, len);
		n += len;
		s += len;
	}
	clean[n] = '\0';
	if (n == 0) {
		free(clean);
		return fail(p, "%s: the prefix is empty; keys would be /config and /subnets",
			    subject);
	}
	free(p->o->etcd_prefix);
	p->o->etcd_prefix = clean;
	return 0;
}

static int add_iface(struct parser *p, const char *subject, const char *s, size_t len)
{
	struct tartan_options *o = p->o;
	struct tartan_options_iface *n, iface = { 0 };
	char q[QUOTE_MAX], buf[64];
	bool dotted = memchr(s, '.', len) != NULL, digit = false;

	for (size_t i = 0; i < len && dotted; i++) {
		dotted = is_digit(s[i]) || s[i] == '.';
		digit |= is_digit(s[i]);
	}
	dotted &= digit;
	if (!parse_ipv4(s, len, &iface.addr)) {
		/* digits and dots: meant as an address, even if a name could be one */
		if (dotted || !ifname_valid(s, len)) {
			size_t l = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;

			memcpy(buf, s, l);
			buf[l] = '\0';
			if (len == 0)
				return fail(p, "%s: empty interface name", subject);
			if (dotted)
				return fail(p, "%s: %s is not a valid IPv4 address", subject,
					    quote(buf, q));
			return fail(p, "%s: %s is neither an IPv4 address nor an interface name",
				    subject, quote(buf, q));
		}
		iface.name = strndup(s, len);
		if (!iface.name)
			return -ENOMEM;
	}
	n = realloc(o->ifaces, (o->n_ifaces + 1) * sizeof(*n));
	if (!n) {
		free(iface.name);
		return -ENOMEM;
	}
	o->ifaces = n;
	o->ifaces[o->n_ifaces++] = iface;
	return 0;
}

static int set_iface(struct parser *p, const char *subject, const char *value)
{
	/* a comma list: FLANNELD_IFACE=eth0,eth1 gives two entries (flanneld takes
	 * it as one interface named "eth0,eth1" and fails) */
	for (const char *s = value;;) {
		size_t len = strcspn(s, ",");
		int r = add_iface(p, subject, s, len);

		if (r < 0)
			return r;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

/* regex_safe(): the state of one nesting level */
struct regex_level {
	unsigned long sum;	  /* cost so far */
	unsigned long last;	  /* cost of the last atom, which a repetition multiplies */
	bool has_last;		  /* there is an atom to repeat */
	bool last_nullable;	  /* it can match the empty string */
	bool last_repeated;	  /* it already carries a repetition */
	bool alt_nullable;	  /* the alternative so far can match the empty string... */
	bool alt_nullable_before; /* ...and so could it before the last atom */
	bool nullable;		  /* an earlier alternative can */
};

static void regex_atom(struct regex_level *l, unsigned long cost, bool nullable)
{
	l->sum += cost;
	l->last = cost;
	l->has_last = true;
	l->last_nullable = nullable;
	l->last_repeated = false;
	l->alt_nullable_before = l->alt_nullable;
	l->alt_nullable = l->alt_nullable && nullable;
}

/* a repetition of copies (1: * or ?) that can match nothing when nullable */
static bool regex_repeat(struct regex_level *l, unsigned long copies, bool nullable)
{
	/* a+* or (a*)+: glibc's regcomp() takes minutes and gigabytes on
	 * nested ones, e.g. ((((((((((((a*)+)+)+)+)+)+)+)+)+)+)+)+ */
	if (l->last_repeated || l->last_nullable)
		return false;
	l->sum += l->last * (copies - 1);
	l->last *= copies;
	l->last_repeated = true;
	l->last_nullable = nullable;
	l->alt_nullable = l->alt_nullable_before && nullable;
	return l->sum <= REGEX_SIZE_MAX;
}

/*
 * Whether glibc compiles the regex in small time and memory. Its regcomp()
 * copies the operand of x+ (as xx*) and of x{m,n} (n times), so nested
 * repetitions multiply: (a{1000}){1000} takes 200 MB. Worse, repeating what
 * can match the empty string, or repeating a repetition, goes exponential.
 * Interface regexes need neither: refuse both, and bound the copies (atoms
 * cost 1, a group the sum of its content, a repetition multiplies).
 */
static bool regex_safe(const char *re)
{
	struct regex_level stack[REGEX_DEPTH_MAX + 1], *l = stack;

	*l = (struct regex_level){ .alt_nullable = true };
	for (const char *s = re; *s; s++) {
		switch (*s) {
		case '\\':
			if (!s[1]) {
				regex_atom(l, 1, false);
				break;
			}
			s++;
			/* anchors (\b \B \< \> \` \') and back-references may match
			 * nothing */
			regex_atom(l, 1, strchr("bB<>`'123456789", *s) != NULL);
			break;
		case '[':
			/* a bracket expression is one atom; '{' and '(' in it are literals */
			s++;
			if (*s == '^')
				s++;
			if (*s == ']')
				s++;
			for (; *s && *s != ']'; s++) {
				/* [:alpha:], [.x.], [=x=] hold a ']' of their own */
				if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
					const char *close = s + 2;

					while (*close && !(close[0] == s[1] && close[1] == ']'))
						close++;
					if (!*close)
						return true; /* unterminated: regcomp refuses it */
					s = close + 1;
				}
			}
			if (!*s)
				return true;
			regex_atom(l, 1, false);
			break;
		case '(':
			if (l == stack + REGEX_DEPTH_MAX)
				return false;
			*++l = (struct regex_level){ .alt_nullable = true };
			break;
		case ')': {
			unsigned long cost = l->sum ? l->sum : 1;
			bool nullable = l->nullable || l->alt_nullable;

			if (l == stack) {
				regex_atom(l, 1, false); /* a literal to glibc */
				break;
			}
			l--;
			regex_atom(l, cost, nullable);
			break;
		}
		case '|':
			l->nullable |= l->alt_nullable;
			l->alt_nullable = true;
			l->has_last = false;
			break;
		case '^':
		case '$':
			regex_atom(l, 1, true);
			break;
		case '*':
		case '?':
		case '+':
			if (!l->has_last) {
				regex_atom(l, 1, false); /* a literal to glibc */
				break;
			}
			if (!regex_repeat(l, *s == '+' ? 2 : 1, *s != '+'))
				return false;
			break;
		case '{': {
			unsigned long m = 0, n;
			const char *c = s + 1;

			/* glibc reads {,n} as {0,n}; anything else is a literal '{' */
			if (!l->has_last || (!is_digit(*c) && *c != ','))
				goto literal;
			for (; is_digit(*c) && m <= REGEX_SIZE_MAX; c++)
				m = m * 10 + (unsigned long)(*c - '0');
			n = m;
			if (*c == ',') {
				c++;
				n = m + 1; /* {m,}: m copies and a star */
				if (is_digit(*c))
					for (n = 0; is_digit(*c) && n <= REGEX_SIZE_MAX; c++)
						n = n * 10 + (unsigned long)(*c - '0');
			}
			if (*c != '}')
				goto literal;
			if (n < m)
				n = m;
			if (n > REGEX_SIZE_MAX || !regex_repeat(l, n ? n : 1, m == 0))
				return false;
			s = c;
			break;
		}
		default:
literal:
			regex_atom(l, 1, false);
			break;
		}
		if (l->sum > REGEX_SIZE_MAX)
			return false;
	}
	return true;
}

static int add_iface_regex(struct parser *p, const char *subject, const char *value)
{
	struct tartan_options *o = p->o;
	char q[QUOTE_MAX], err[256], **n, *copy;
	regex_t re;
	int r;

	if (!*value)
		return fail(p, "%s: empty regex", subject);
	if (strlen(value) > REGEX_MAX)
		return fail(p, "%s: the regex is longer than %d bytes", subject, REGEX_MAX);
	/* flanneld's regexes are Go's (RE2), where \d is a digit; glibc reads \d
	 * as a plain 'd' and would match the wrong interfaces without a word */
	for (const char *s = value; *s; s++) {
		if (*s != '\\')
			continue;
		if (s[1] == 'd' || s[1] == 'D')
			return fail(p,
				    "%s: %s uses \\%c, which POSIX regexes lack; write [0-9] or "
				    "[^0-9]",
				    subject, quote(value, q), s[1]);
		if (!*++s)
			break;
	}
	if (!regex_safe(value))
		return fail(p, "%s: %s nests or repeats too much", subject, quote(value, q));
	r = regcomp(&re, value, REG_EXTENDED | REG_NOSUB);
	if (r != 0) {
		regerror(r, &re, err, sizeof(err));
		if (r == REG_ESPACE)
			return -ENOMEM;
		return fail(p, "%s: %s is not a valid extended regex: %s", subject, quote(value, q),
			    err);
	}
	regfree(&re);
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	n = realloc(o->iface_regexes, (o->n_iface_regexes + 1) * sizeof(*n));
	if (!n) {
		free(copy);
		return -ENOMEM;
	}
	o->iface_regexes = n;
	o->iface_regexes[o->n_iface_regexes++] = copy;
	return 0;
}

static int set_public_ip(struct parser *p, const char *subject, const char *value)
{
	struct in_addr addr;
	char q[QUOTE_MAX];
	uint32_t a;

	if (!*value) {
		p->o->has_public_ip = false;
		return 0;
	}
	if (!parse_ipv4(value, strlen(value), &addr))
		return fail(p, "%s: %s is not an IPv4 address", subject, quote(value, q));
	a = ntohl(addr.s_addr);
	/* peers route to it: 0.0.0.0, multicast, class E and broadcast cannot be */
	if (a == 0 || a >= 0xe0000000u)
		return fail(p, "%s: %s is not a unicast address", subject, quote(value, q));
	p->o->has_public_ip = true;
	p->o->public_ip = addr;
	return 0;
}

static int set_ipv4(struct parser *p, const char *subject, struct in_addr *field, const char *value)
{
	char q[QUOTE_MAX];

	if (!parse_ipv4(value, strlen(value), field))
		return fail(p, "%s: %s is not an IPv4 address", subject, quote(value, q));
	return 0;
}

static int set_path(struct parser *p, const struct opt_def *d, const char *subject, char **field,
		    const char *value)
{
	char q[QUOTE_MAX];
	size_t len = strlen(value);

	if (len == 0 && d->kind == KIND_PATH_OR_NONE)
		return set_string(field, NULL);
	if (len == 0)
		return fail(p, "%s: empty path", subject);
	if (value[0] != '/')
		return fail(p, "%s: %s is not an absolute path", subject, quote(value, q));
	if ((d->kind == KIND_FILE_PATH || d->kind == KIND_SOCKET) && value[len - 1] == '/')
		return fail(p, "%s: %s names a directory, not a file", subject, quote(value, q));
	if (d->kind == KIND_SOCKET && len >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return fail(p, "%s: %s is longer than a unix socket path can be (%zu bytes)",
			    subject, quote(value, q),
			    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	return set_string(field, value);
}

static int set_ifname(struct parser *p, const char *subject, char **field, const char *value)
{
	char q[QUOTE_MAX];

	if (!ifname_valid(value, strlen(value)))
		return fail(p, "%s: %s is not a valid interface name", subject, quote(value, q));
	return set_string(field, value);
}

static int set_uint(struct parser *p, const struct opt_def *d, const char *subject,
		    const char *value)
{
	char q[QUOTE_MAX], *field = (char *)p->o + d->offset;
	const char *digits = value[0] == '-' ? value + 1 : value;
	unsigned long long v = 0;
	bool overflow = false;
	size_t i;

	for (i = 0; is_digit(digits[i]); i++) {
		if (v > 99999999999ULL)
			overflow = true;
		else
			v = v * 10 + (unsigned)(digits[i] - '0');
	}
	if (i == 0 || digits[i])
		return fail(p, "%s: %s is not a decimal number", subject, quote(value, q));
	/* Go's flag package reads 010 as octal 8: refuse rather than differ */
	if (digits[0] == '0' && i > 1)
		return fail(p, "%s: %s has a leading zero", subject, quote(value, q));
	if (value[0] == '-' || overflow ||
	    !((v >= d->min && v <= d->max) || (v == 0 && (d->flags & OPT_ZERO_OK)))) {
		if ((d->flags & OPT_ZERO_OK) && d->min > 0)
			return fail(p, "%s: %s is out of range %u..%u (or 0)", subject, value,
				    d->min, d->max);
		return fail(p, "%s: %s is out of range %u..%u", subject, value, d->min, d->max);
	}
	if (d->offset == FIELD(healthz_port))
		*(uint16_t *)(void *)field = (uint16_t)v;
	else
		*(unsigned *)(void *)field = (unsigned)v;
	return 0;
}

/* Go's strconv.ParseBool */
static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int set_bool(struct parser *p, const struct opt_def *d, const char *subject,
		    const char *value)
{
	char q[QUOTE_MAX];
	bool b;

	if (parse_bool(value, &b) < 0)
		return fail(p, "%s: %s is not a boolean (true or false)", subject, quote(value, q));
	*(bool *)(void *)((char *)p->o + d->offset) = b;
	return 0;
}

/* A.B.C.D/N with N in min..max and no host bits; the messages name the subject. */
static int parse_cidr(struct parser *p, const char *subject, const char *value, unsigned min,
		      unsigned max, struct in_addr *ret_addr, unsigned *ret_len)
{
	char q[QUOTE_MAX], net[INET_ADDRSTRLEN];
	const char *slash = strchr(value, '/');
	struct in_addr addr;
	uint32_t a, mask;
	unsigned len = 0;
	const char *c;

	if (!slash || !parse_ipv4(value, (size_t)(slash - value), &addr))
		return fail(p, "%s: %s is not an IPv4 CIDR (A.B.C.D/N)", subject, quote(value, q));
	/* one or two digits, no leading zero */
	for (c = slash + 1; is_digit(*c) && c < slash + 3; c++)
		len = len * 10 + (unsigned)(*c - '0');
	if (c == slash + 1 || *c || len > 32 || (slash[1] == '0' && c == slash + 3))
		return fail(p, "%s: %s is not an IPv4 CIDR (A.B.C.D/N)", subject, quote(value, q));
	if (len < min || len > max)
		return fail(p, "%s: %s: prefix length %u is out of range %u..%u", subject,
			    quote(value, q), len, min, max);
	a = ntohl(addr.s_addr);
	mask = len ? 0xffffffffu << (32 - len) : 0;
	if (a & ~mask) {
		a &= mask;
		snprintf(net, sizeof(net), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
			 a & 255);
		return fail(p, "%s: %s has host bits set; the network is %s/%u", subject,
			    quote(value, q), net, len);
	}
	*ret_addr = addr;
	*ret_len = len;
	return 0;
}

static int set_cidr(struct parser *p, const char *subject, const char *value)
{
	int r;

	if (!*value) {
		p->o->has_pod_cidr = false;
		return 0;
	}
	/* the bridge takes the first address, pods the ones after, and the
	 * last is the broadcast address: /30 is the smallest that works */
	r = parse_cidr(p, subject, value, 1, 30, &p->o->pod_cidr_addr, &p->o->pod_cidr_prefixlen);
	if (r < 0)
		return r;
	p->o->has_pod_cidr = true;
	return 0;
}

static int set_non_masq_cidr(struct parser *p, const char *subject, const char *value)
{
	return parse_cidr(p, subject, value, 0, 32, &p->o->non_masq_addr,
			  &p->o->non_masq_prefixlen);
}

static int set_hairpin_mode(struct parser *p, const char *subject, const char *value)
{
	static const char *const names[] = {
		[TARTAN_HAIRPIN_PROMISCUOUS_BRIDGE] = "promiscuous-bridge",
		[TARTAN_HAIRPIN_VETH] = "hairpin-veth",
		[TARTAN_HAIRPIN_NONE] = "none",
	};
	char q[QUOTE_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(value, names[i]) == 0) {
			p->o->hairpin_mode = (enum tartan_hairpin_mode)i;
			return 0;
		}
	return fail(p, "%s: %s is not one of promiscuous-bridge, hairpin-veth, none", subject,
		    quote(value, q));
}

static int set_log_level(struct parser *p, const char *subject, const char *value)
{
	char q[QUOTE_MAX];

	if (tartan_log_level_from_string(value, &p->o->log_level) < 0)
		return fail(p, "%s: %s is not one of error, warning, info, debug", subject,
			    quote(value, q));
	return 0;
}

static int set_rkt_conf_type(struct parser *p, const char *subject, const char *value)
{
	char q[QUOTE_MAX];

	if (strcmp(value, "bridge") != 0 && strcmp(value, "flannel") != 0)
		return fail(p, "%s: %s is not one of bridge, flannel", subject, quote(value, q));
	p->o->rkt_conf_flannel = strcmp(value, "flannel") == 0;
	return 0;
}

const char *tartan_options_file_name(enum tartan_options_file file)
{
	return (unsigned)file < TARTAN_OPTIONS_N_FILES ? file_names[file] : NULL;
}

/* a comma list of file names; the whole list replaces an earlier one (the last flag wins) */
static int set_skip_files(struct parser *p, const char *subject, const char *value)
{
	unsigned mask = 0;
	char q[QUOTE_MAX], name[QUOTE_MAX];

	/* --skip-files= (a drop-in undoing a unit's list): none */
	for (const char *s = value; *value; s++) {
		size_t len = strcspn(s, ","), i;
		const char *e = s, *e_end = s + len;

		/* "a, b": people write lists with spaces */
		while (e < e_end && (*e == ' ' || *e == '\t'))
			e++;
		while (e_end > e && (e_end[-1] == ' ' || e_end[-1] == '\t'))
			e_end--;
		if (e == e_end)
			return fail(p, "%s: %s has an empty entry", subject, quote(value, q));
		for (i = 0; i < TARTAN_OPTIONS_N_FILES; i++)
			if (strlen(file_names[i]) == (size_t)(e_end - e) &&
			    memcmp(file_names[i], e, (size_t)(e_end - e)) == 0)
				break;
		if (i == TARTAN_OPTIONS_N_FILES) {
			/* one byte past quote()'s cut, so that it adds its "..." */
			snprintf(name, sizeof(name), "%.*s", (int)(e_end - e < 65 ? e_end - e : 65),
				 e);
			return fail(p, "%s: %s is not one of " SKIP_FILE_NAMES, subject,
				    quote(name, q));
		}
		mask |= 1u << i;
		s += len;
		if (!*s)
			break; /* else s is at a comma: an entry follows */
	}
	p->o->skip_files = mask;
	return 0;
}

/* Checks value and stores it in the option d, from subject (flag or variable). */
static int apply(struct parser *p, const struct opt_def *d, const char *subject, const char *value)
{
	char **field = (char **)(void *)((char *)p->o + d->offset);

	switch (d->kind) {
	case KIND_ENDPOINTS:
		return set_endpoints(p, subject, value);
	case KIND_ETCD_PREFIX:
		return set_etcd_prefix(p, subject, value);
	case KIND_STRING:
	case KIND_FILE:
		/* flanneld: an empty value is the default, which is unset */
		return set_string(field, *value ? value : NULL);
	case KIND_IFACE:
		return set_iface(p, subject, value);
	case KIND_IFACE_REGEX:
		return add_iface_regex(p, subject, value);
	case KIND_PUBLIC_IP:
		return set_public_ip(p, subject, value);
	case KIND_IPV4:
		return set_ipv4(p, subject, (struct in_addr *)(void *)field, value);
	case KIND_PATH:
	case KIND_PATH_OR_NONE:
	case KIND_FILE_PATH:
	case KIND_SOCKET:
		return set_path(p, d, subject, field, value);
	case KIND_IFNAME:
		return set_ifname(p, subject, field, value);
	case KIND_UINT:
		return set_uint(p, d, subject, value);
	case KIND_BOOL:
		return set_bool(p, d, subject, value);
	case KIND_CIDR:
		return set_cidr(p, subject, value);
	case KIND_NON_MASQ_CIDR:
		return set_non_masq_cidr(p, subject, value);
	case KIND_HAIRPIN_MODE:
		return set_hairpin_mode(p, subject, value);
	case KIND_LOG_LEVEL:
		return set_log_level(p, subject, value);
	case KIND_RKT_CONF_TYPE:
		return set_rkt_conf_type(p, subject, value);
	case KIND_SKIP_FILES:
		return set_skip_files(p, subject, value);
	case KIND_HELP:
		p->o->show_help = true;
		return 0;
	}
	return -EINVAL;
}

/* --- sources ----------------------------------------------------------------- */

static const struct opt_def *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strlen(opt_defs[i].name) == len && memcmp(opt_defs[i].name, name, len) == 0)
			return &opt_defs[i];
	/* -h, as Go's flag package */
	if (len == 1 && name[0] == 'h')
		return find_opt("help", 4);
	return NULL;
}

static int parse_argv(struct parser *p, int argc, char *const *argv)
{
	const char *bool_flag = NULL; /* the previous argument, if a bare boolean flag */
	char q[QUOTE_MAX];

	for (int i = 1; argv && i < argc && argv[i]; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct opt_def *d;
		size_t idx, name_len;
		bool dummy;
		int r;

		if (strcmp(arg, "--") == 0) {
			if (i + 1 < argc && argv[i + 1])
				return fail(p, "unexpected argument %s", quote(argv[i + 1], q));
			return 0;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			/* Go's flag package never reads "--ip-masq false" as a value */
			if (bool_flag && parse_bool(arg, &dummy) == 0)
				return fail(
					p,
					"unexpected argument %s (a boolean flag takes its value "
					"as --%s=%s)",
					quote(arg, q), bool_flag, arg);
			return fail(p, "unexpected argument %s", quote(arg, q));
		}
		bool_flag = NULL;
		name = arg[1] == '-' ? arg + 2 : arg + 1;
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		if (name_len == 0 || name[0] == '-')
			return fail(p, "bad flag syntax: %s", quote(arg, q));
		d = find_opt(name, name_len);
		if (!d) {
			char buf[64];

			snprintf(buf, sizeof(buf), "%.*s", (int)(name + name_len - arg), arg);
			return fail(p, "unknown flag %s", has_control(buf) ? quote(buf, q) : buf);
		}
		idx = (size_t)(d - opt_defs);
		snprintf(p->subject[idx], SUBJECT_MAX, "--%s", d->name);
		value = eq ? eq + 1 : NULL;
		if (d->kind == KIND_HELP) {
			if (value)
				return fail(p, "--%s: takes no value", d->name);
			p->o->show_help = true;
			return 0;
		}
		if (!value && d->kind == KIND_BOOL) {
			value = "true";
			bool_flag = d->name;
		}
		if (!value) {
			if (i + 1 >= argc || !argv[i + 1])
				return fail(p, "--%s: needs a value", d->name);
			value = argv[++i];
		}
		r = apply(p, d, p->subject[idx], value);
		if (r < 0)
			return r;
		p->on_cli[idx] = p->given[idx] = true;
		/* --version prints and exits, whatever else is wrong (as flanneld) */
		if (p->o->show_version)
			return 0;
	}
	return 0;
}

static const char *env_lookup(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

static void env_name(char buf[static SUBJECT_MAX], const char *prefix, const char *flag)
{
	size_t n = strlen(prefix);

	memcpy(buf, prefix, n);
	for (; *flag && n < SUBJECT_MAX - 1; flag++)
		buf[n++] = *flag == '-' ? '_' :
					  (char)(*flag >= 'a' && *flag <= 'z' ? *flag - 32 : *flag);
	buf[n] = '\0';
}

static int parse_env(struct parser *p, char *const *envp)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *d = &opt_defs[i];
		static const char *const prefixes[] = { "TARTAN_", "FLANNELD_" };

		if (p->on_cli[i] || (d->flags & OPT_CLI_ONLY))
			continue;
		/* TARTAN_ first: it says "for tartan" where a FLANNELD_ variable
		 * may be shared with flanneld's unit */
		for (size_t k = 0; k < 2; k++) {
			char name[SUBJECT_MAX];
			const char *value;
			int r;

			if (k == 1 && !(d->flags & OPT_FLANNEL))
				break;
			env_name(name, prefixes[k], d->name);
			value = env_lookup(envp, name);
			if (!value || !*value)
				continue;
			memcpy(p->subject[i], name, SUBJECT_MAX);
			r = apply(p, d, name, value);
			if (r < 0)
				return r;
			p->given[i] = true;
			break;
		}
	}
	return 0;
}

static size_t opt_index(const char *name)
{
	return (size_t)(find_opt(name, strlen(name)) - opt_defs);
}

/* What one flag alone cannot say. */
static int check_combinations(struct parser *p)
{
	struct tartan_options *o = p->o;
	char q[QUOTE_MAX];

	if (!!o->etcd_certfile != !!o->etcd_keyfile) {
		bool cert = o->etcd_certfile;

		return fail(p, "%s is set without --etcd-%s (TLS needs both)",
			    p->subject[opt_index(cert ? "etcd-certfile" : "etcd-keyfile")],
			    cert ? "keyfile" : "certfile");
	}
	if (o->has_pod_cidr && o->rkt_conf_flannel)
		return fail(p,
			    "%s: the flannel-type conf reads subnet.env, which kubenet mode (%s) "
			    "does not write; use --rkt-conf-type=bridge",
			    p->subject[opt_index("rkt-conf-type")], p->subject[opt_index("pod-cidr")]);
	if (o->etcd_password && !o->etcd_username)
		return fail(p, "%s is set without --etcd-username",
			    p->subject[opt_index("etcd-password")]);
	/* kube-flannel's conf turns hairpin on for every pod; kubenet keeps kubelet's default,
	 * and only kubenet has a promiscuous bridge to offer */
	if (!p->given[opt_index("hairpin-mode")])
		o->hairpin_mode =
			o->has_pod_cidr ? TARTAN_HAIRPIN_PROMISCUOUS_BRIDGE : TARTAN_HAIRPIN_VETH;
	else if (!o->has_pod_cidr && o->hairpin_mode == TARTAN_HAIRPIN_PROMISCUOUS_BRIDGE)
		return fail(p,
			    "%s: promiscuous-bridge is kubenet mode's (--pod-cidr); flannel mode "
			    "takes hairpin-veth or none",
			    p->subject[opt_index("hairpin-mode")]);
	/* kubenet's bridge, where kubelet's kubenet made it */
	if (o->has_pod_cidr && !p->given[opt_index("bridge")]) {
		free(o->bridge);
		o->bridge = strdup("cbr0");
		if (!o->bridge)
			return -ENOMEM;
	}
	/* TLS files with an http:// endpoint would go unencrypted without a
	 * word (flanneld does that); the etcd client refuses it as well */
	if (o->etcd_cafile || o->etcd_certfile) {
		const char *tls =
			p->subject[opt_index(o->etcd_cafile ? "etcd-cafile" : "etcd-certfile")];

		for (size_t i = 0; i < o->n_etcd_endpoints; i++)
			if (strncmp(o->etcd_endpoints[i], "http://", 7) == 0)
				return fail(p,
					    "%s: TLS needs https:// etcd endpoints, but %s (%s) is "
					    "not",
					    tls, quote(o->etcd_endpoints[i], q),
					    p->subject[opt_index("etcd-endpoints")]);
	}
	return 0;
}

static int set_defaults(struct parser *p)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *d = &opt_defs[i];
		int r;

		snprintf(p->subject[i], SUBJECT_MAX, "--%s", d->name);
		if (!d->defval)
			continue;
		r = apply(p, d, p->subject[i], d->defval);
		if (r < 0)
			return r;
	}
	return 0;
}

void tartan_options_free(struct tartan_options *o)
{
	if (!o)
		return;
	free_strv(o->etcd_endpoints, o->n_etcd_endpoints);
	free(o->etcd_prefix);
	free(o->etcd_cafile);
	free(o->etcd_certfile);
	free(o->etcd_keyfile);
	free(o->etcd_username);
	free(o->etcd_password);
	for (size_t i = 0; i < o->n_ifaces; i++)
		free(o->ifaces[i].name);
	free(o->ifaces);
	free_strv(o->iface_regexes, o->n_iface_regexes);
	free(o->subnet_file);
	free(o->state_dir);
	free(o->socket_path);
	free(o->bridge);
	free(o->cni_conf_dir);
	free(o->cni_data_dir);
	free(o->rkt_net_dir);
	free(o);
}

int tartan_options_parse(int argc, char *const *argv, char *const *envp,
			 struct tartan_options **ret, char **ret_error)
{
	struct parser p = { 0 };
	int r;

	if (!ret)
		return -EINVAL;
	p.o = calloc(1, sizeof(*p.o));
	if (!p.o) {
		r = -ENOMEM;
		goto out;
	}
	r = set_defaults(&p);
	if (r < 0)
		goto out;
	r = parse_argv(&p, argc, argv);
	if (r < 0 || p.o->show_help || p.o->show_version)
		goto out;
	r = parse_env(&p, envp);
	if (r < 0)
		goto out;
	r = check_combinations(&p);
out:
	if (r < 0) {
		tartan_options_free(p.o);
		if (ret_error)
			*ret_error = r == -EINVAL ? p.error : NULL;
		if (!ret_error || r != -EINVAL)
			free(p.error);
		return r;
	}
	free(p.error);
	*ret = p.o;
	return 0;
}

void tartan_options_usage(FILE *f)
{
	fputs("Usage: tartand [FLAG]...\n"
	      "Node network daemon: flannel-compatible subnet leases in etcd, the pod bridge,\n"
	      "routes to the other nodes, and the CNI configuration that matches them.\n"
	      "\n"
	      "Flags take --name=VALUE, --name VALUE or -name=VALUE; booleans --name or\n"
	      "--name=false. A flag not given is read from the environment: TARTAN_<NAME>, then\n"
	      "FLANNELD_<NAME> for flanneld's flags (--etcd-endpoints: FLANNELD_ETCD_ENDPOINTS).\n",
	      f);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *d = &opt_defs[i];
		char left[64];
		int col;

		if (i == 0)
			fputs("\nflanneld's flags:\n", f);
		else if (!(d->flags & OPT_FLANNEL) && (opt_defs[i - 1].flags & OPT_FLANNEL))
			fputs("\ntartan's flags:\n", f);
		snprintf(left, sizeof(left), "--%s%s%s", d->name, d->arg ? "=" : "",
			 d->arg ? d->arg : "");
		col = fprintf(f, "  %-36s %s", left, d->help);
		if (d->defval && d->kind != KIND_BOOL) {
			/* a default that would pass 100 columns goes under the text */
			if (col + (int)strlen(" (default )") + (int)strlen(d->defval) > 100)
				fprintf(f, "\n  %-36s", "");
			fprintf(f, " (default %s)", d->defval);
		}
		fputc('\n', f);
	}
}
