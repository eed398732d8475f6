/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg/masq.h"

#define TABLE TARTAN_MASQ_FAMILY " " TARTAN_MASQ_TABLE

struct tartan_masq {
	struct nft_ctx *nft;
	char *applied_script;  /* what tartan last applied ... */
	char *applied_listing; /* ... and how the kernel listed it right after; NULL: none */
};

/* ---- the rules, as text ---- */

static bool net_is_valid(const struct tartan_ip4_net *n)
{
	return n->len <= 32 && (n->addr & ~tartan_ip4_mask(n->len)) == 0;
}

static int render_flannel(const struct tartan_masq_rules *r, char **ret)
{
	char n[TARTAN_IP4_NET_STRLEN], s[TARTAN_IP4_NET_STRLEN];

	if (!net_is_valid(&r->network) || !net_is_valid(&r->subnet) ||
	    r->subnet.len < r->network.len || !tartan_ip4_net_contains(&r->network, r->subnet.addr))
		return -EINVAL;
	tartan_ip4_net_format(&r->network, n);
	tartan_ip4_net_format(&r->subnet, s);
	if (asprintf(ret,
		     "table " TABLE " {\n"
		     "\tchain postrtg {\n"
		     "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		     "\t\tmeta mark & 0x4000 == 0x4000 return\n"
		     "\t\tip saddr %s ip daddr %s return\n"
		     "\t\tip saddr %s ip daddr %s return\n"
		     "\t\tip saddr != %s ip daddr %s return\n"
		     "\t\tip saddr %s ip daddr != 224.0.0.0/4 masquerade fully-random\n"
		     "\t\tip saddr != %s ip daddr %s masquerade fully-random\n"
		     "\t}\n"
		     "\tchain forward {\n"
		     "\t\ttype filter hook forward priority filter; policy accept;\n"
		     "\t\tip saddr %s accept\n"
		     "\t\tip daddr %s accept\n"
		     "\t}\n"
		     "}\n",
		     s, n, n, s, n, s, n, n, n, n, n) < 0)
		return -ENOMEM;
	return 0;
}

static int render_kubenet(const struct tartan_masq_rules *r, char **ret)
{
	char c[TARTAN_IP4_NET_STRLEN];

	if (!net_is_valid(&r->non_masq))
		return -EINVAL;
	/* kubenet skips its rule for 0.0.0.0/0: nothing is masqueraded */
	if (r->non_masq.len == 0) {
		*ret = strdup("");
		return *ret ? 0 : -ENOMEM;
	}
	if (asprintf(ret,
		     "table " TABLE " {\n"
		     "\tchain postrtg {\n"
		     "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		     "\t\tfib daddr type != local ip daddr != %s masquerade\n"
		     "\t}\n"
		     "}\n",
		     tartan_ip4_net_format(&r->non_masq, c)) < 0)
		return -ENOMEM;
	return 0;
}

int tartan_masq_render(const struct tartan_masq_rules *r, char **ret)
{
	if (!r || !ret)
		return -EINVAL;
	switch (r->kind) {
	case TARTAN_MASQ_NONE:
		*ret = strdup("");
		return *ret ? 0 : -ENOMEM;
	case TARTAN_MASQ_FLANNEL:
		return render_flannel(r, ret);
	case TARTAN_MASQ_KUBENET:
		return render_kubenet(r, ret);
	}
	return -EINVAL;
}

/* ---- the kernel ---- */

int tartan_masq_new(struct tartan_masq **ret)
{
	struct tartan_masq *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!m->nft || nft_ctx_buffer_output(m->nft) < 0 || nft_ctx_buffer_error(m->nft) < 0) {
		tartan_masq_free(m);
		return -ENOMEM;
	}
	/* no counters or quotas in the listing: it is compared, and they would change */
	nft_ctx_output_set_flags(m->nft, NFT_CTX_OUTPUT_STATELESS);
	*ret = m;
	return 0;
}

void tartan_masq_free(struct tartan_masq *m)
{
	if (!m)
		return;
	if (m->nft)
		nft_ctx_free(m->nft);
	free(m->applied_script);
	free(m->applied_listing);
	free(m);
}

static void forget_applied(struct tartan_masq *m)
{
	free(m->applied_script);
	free(m->applied_listing);
	m->applied_script = m->applied_listing = NULL;
}

/* nft's message, without its trailing newline, as the caller's *ret_error */
static int nft_failed(struct tartan_masq *m, const char *what, char **ret_error)
{
	const char *e = nft_ctx_get_error_buffer(m->nft);
	size_t n = e ? strlen(e) : 0;

	while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
		n--;
	if (ret_error && asprintf(ret_error, "%s: %.*s", what, (int)n, n ? e : "failed") < 0)
		*ret_error = NULL;
	/* nft says why in words only; the kernel's errno is not passed on */
	return -EIO;
}

/* Runs cmd; its output (malloc'd) in *ret_output when that is not NULL. */
static int nft_run(struct tartan_masq *m, const char *cmd, const char *what, char **ret_output,
		   char **ret_error)
{
	const char *out;

	if (nft_run_cmd_from_buffer(m->nft, cmd) != 0) {
		(void)nft_ctx_get_output_buffer(m->nft); /* drop what it printed */
		return nft_failed(m, what, ret_error);
	}
	(void)nft_ctx_get_error_buffer(m->nft); /* warnings: not errors */
	out = nft_ctx_get_output_buffer(m->nft);
	if (ret_output) {
		*ret_output = strdup(out ? out : "");
		if (!*ret_output)
			return -ENOMEM;
	}
	return 0;
}

/* Whether tartan's table exists: from the list of the family's tables, so that a missing
 * table is told from a failing nft. */
static int table_exists(struct tartan_masq *m, bool *ret, char **ret_error)
{
	static const char line[] = "table " TABLE "\n";
	char *tables = NULL;
	int err;

	err = nft_run(m, "list tables " TARTAN_MASQ_FAMILY, "listing the nftables tables",
		      &tables, ret_error);
	if (err < 0)
		return err;
	*ret = strncmp(tables, line, sizeof(line) - 1) == 0 ||
	       strstr(tables, "\n" "table " TABLE "\n") != NULL;
	free(tables);
	return 0;
}

static int list_table(struct tartan_masq *m, char **ret, char **ret_error)
{
	bool exists;
	int err;

	*ret = NULL;
	err = table_exists(m, &exists, ret_error);
	if (err < 0 || !exists)
		return err;
	return nft_run(m, "list table " TABLE, "listing table " TABLE, ret, ret_error);
}

int tartan_masq_remove(struct tartan_masq *m, bool *ret_changed, char **ret_error)
{
	bool exists;
	int err;

	if (ret_changed)
		*ret_changed = false;
	if (ret_error)
		*ret_error = NULL;
	forget_applied(m);
	err = table_exists(m, &exists, ret_error);
	if (err < 0 || !exists)
		return err;
	err = nft_run(m, "delete table " TABLE "\n", "deleting table " TABLE, NULL, ret_error);
	if (err >= 0 && ret_changed)
		*ret_changed = true;
	return err;
}

int tartan_masq_ensure(struct tartan_masq *m, const struct tartan_masq_rules *r,
		       bool *ret_changed, char **ret_error)
{
	char *script = NULL, *batch = NULL, *listing = NULL;
	int err;

	if (ret_changed)
		*ret_changed = false;
	if (ret_error)
		*ret_error = NULL;
	err = tartan_masq_render(r, &script);
	if (err < 0) {
		if (ret_error && asprintf(ret_error, "masquerade rules: %s", strerror(-err)) < 0)
			*ret_error = NULL;
		return err;
	}
	if (!*script) {
		free(script);
		return tartan_masq_remove(m, ret_changed, ret_error);
	}
	err = list_table(m, &listing, ret_error);
	if (err < 0)
		goto out;
	if (listing && m->applied_script && strcmp(m->applied_script, script) == 0 &&
	    m->applied_listing && strcmp(m->applied_listing, listing) == 0)
		goto out; /* as tartan left it */
	free(listing);
	listing = NULL;
	forget_applied(m);
	/* add (a no-op when it is there) then delete, then the new table: one batch, so the
	 * kernel swaps the whole table at once and an error leaves the old one */
	if (asprintf(&batch, "add table " TABLE "\ndelete table " TABLE "\n%s", script) < 0) {
		batch = NULL;
		err = -ENOMEM;
		goto out;
	}
	err = nft_run(m, batch, "applying table " TABLE, NULL, ret_error);
	if (err < 0)
		goto out;
	if (ret_changed)
		*ret_changed = true;
	err = list_table(m, &listing, ret_error);
	if (err < 0)
		goto out;
	if (!listing) { /* deleted in between: the next check applies it again */
		err = 0;
		goto out;
	}
	m->applied_script = script;
	m->applied_listing = listing;
	script = listing = NULL;
out:
	free(script);
	free(batch);
	free(listing);
	return err;
}
