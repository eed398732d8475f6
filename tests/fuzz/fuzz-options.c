/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz tartan_options_parse(). The input is NUL-separated strings: the
 * arguments after argv[0], then, after an empty string (two NULs in a row),
 * the environment entries. Beyond "no crash, no leak", the options must keep
 * the promises of daemon/options.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/options.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_options(const struct tartan_options *o)
{
	if (o->show_help || o->show_version)
		return;
	FUZZ_CHECK(o->n_etcd_endpoints >= 1);
	for (size_t i = 0; i < o->n_etcd_endpoints; i++)
		FUZZ_CHECK(strncmp(o->etcd_endpoints[i], "http://", 7) == 0 ||
			   strncmp(o->etcd_endpoints[i], "https://", 8) == 0);
	FUZZ_CHECK(o->etcd_prefix[0] == '/' && o->etcd_prefix[1] != '\0');
	FUZZ_CHECK(o->etcd_prefix[strlen(o->etcd_prefix) - 1] != '/');
	FUZZ_CHECK(!o->etcd_certfile == !o->etcd_keyfile);
	FUZZ_CHECK(!o->etcd_password || o->etcd_username);
	FUZZ_CHECK((o->n_ifaces == 0) == (o->ifaces == NULL));
	for (size_t i = 0; i < o->n_ifaces; i++)
		FUZZ_CHECK(!o->ifaces[i].name ||
			   (o->ifaces[i].name[0] && strlen(o->ifaces[i].name) < 16));
	FUZZ_CHECK((o->n_iface_regexes == 0) == (o->iface_regexes == NULL));
	for (size_t i = 0; i < o->n_iface_regexes; i++)
		FUZZ_CHECK(o->iface_regexes[i][0] != '\0');
	FUZZ_CHECK(!o->has_public_ip || o->public_ip.s_addr != 0);
	FUZZ_CHECK(o->subnet_file[0] == '/');
	FUZZ_CHECK(o->subnet_lease_renew_margin >= 1 && o->subnet_lease_renew_margin <= 1439);
	FUZZ_CHECK(o->state_dir[0] == '/' && o->socket_path[0] == '/');
	FUZZ_CHECK(strlen(o->socket_path) < 108);
	FUZZ_CHECK(o->bridge[0] && strlen(o->bridge) < 16);
	FUZZ_CHECK(o->cni_conf_dir[0] == '/');
	FUZZ_CHECK(!o->rkt_net_dir || o->rkt_net_dir[0] == '/');
	if (o->has_pod_cidr) {
		uint32_t a = ntohl(o->pod_cidr_addr.s_addr);

		FUZZ_CHECK(o->pod_cidr_prefixlen >= 1 && o->pod_cidr_prefixlen <= 30);
		FUZZ_CHECK((a & ~(0xffffffffu << (32 - o->pod_cidr_prefixlen))) == 0);
		FUZZ_CHECK(!o->rkt_conf_flannel);
	}
	FUZZ_CHECK(o->hairpin_mode == TARTAN_HAIRPIN_PROMISCUOUS_BRIDGE ||
		   o->hairpin_mode == TARTAN_HAIRPIN_VETH || o->hairpin_mode == TARTAN_HAIRPIN_NONE);
	FUZZ_CHECK(o->non_masq_prefixlen <= 32);
	FUZZ_CHECK(o->non_masq_prefixlen == 0 ?
			   o->non_masq_addr.s_addr == 0 :
			   (ntohl(o->non_masq_addr.s_addr) &
			    ~(0xffffffffu << (32 - o->non_masq_prefixlen))) == 0);
	FUZZ_CHECK(o->resync_interval >= 1 && o->resync_interval <= 86400);
	FUZZ_CHECK(o->log_level == TARTAN_LOG_ERROR || o->log_level == TARTAN_LOG_WARNING ||
		   o->log_level == TARTAN_LOG_INFO || o->log_level == TARTAN_LOG_DEBUG);
	FUZZ_CHECK(o->mtu == 0 || (o->mtu >= 68 && o->mtu <= 65535));
	FUZZ_CHECK(o->subnet_lease_ttl >= 1 && o->subnet_lease_ttl <= 86400);
	FUZZ_CHECK(o->skip_files < (1u << TARTAN_OPTIONS_N_FILES));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tartan_options *o = NULL;
	char *buf, **argv = NULL, **envp = NULL, *error = NULL;
	size_t n_strings = 0, argc = 1, n_env = 0;
	bool in_env = false;
	int r;

	/* a copy with a NUL at the end, so the last string is terminated */
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i <= size; i++)
		n_strings += buf[i] == '\0';
	argv = calloc(n_strings + 2, sizeof(char *));
	envp = calloc(n_strings + 1, sizeof(char *));
	if (!argv || !envp)
		goto out;
	argv[0] = (char *)"tartand";
	for (char *s = buf; s <= buf + size; s += strlen(s) + 1) {
		if (!in_env && *s == '\0' && s < buf + size) {
			in_env = true;
			continue;
		}
		if (s == buf + size)
			break;
		if (in_env)
			envp[n_env++] = s;
		else
			argv[argc++] = s;
	}

	r = tartan_options_parse((int)argc, argv, envp, &o, &error);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(o != NULL && error == NULL);
		check_options(o);
	} else if (r == -EINVAL) {
		FUZZ_CHECK(o == NULL && error != NULL && error[0] != '\0');
		/* one line, no control characters: it goes to the log as is */
		for (const char *c = error; *c; c++)
			FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	}
	tartan_options_free(o);
	free(error);
out:
	free(argv);
	free(envp);
	free(buf);
	return 0;
}
