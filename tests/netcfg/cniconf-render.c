/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cniconf-render KIND [OPTIONS]: print the CNI conf netcfg/cniconf renders,
 * for tests/netcfg/cniconf-plugins.sh, which hands it to the real plugins.
 *
 * KIND: rkt-bridge, rkt-flannel, tartan-list, kubenet.
 * OPTIONS: --bridge NAME, --subnet CIDR, --mtu N, --ip-masq, --hairpin,
 * --subnet-file PATH, --socket PATH, --ipam-data-dir PATH.
 * Exit status 0, or 1 with a message on stderr (also when the renderer
 * refuses the input).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg/cniconf.h"

static const char *const kinds[] = {
	[TARTAN_CNICONF_RKT_BRIDGE] = "rkt-bridge",
	[TARTAN_CNICONF_RKT_FLANNEL] = "rkt-flannel",
	[TARTAN_CNICONF_TARTAN_LIST] = "tartan-list",
	[TARTAN_CNICONF_KUBENET] = "kubenet",
};

static int usage(void)
{
	fprintf(stderr, "usage: cniconf-render rkt-bridge|rkt-flannel|tartan-list|kubenet "
			"[--bridge NAME] [--subnet CIDR] [--mtu N] [--ip-masq] [--hairpin] "
			"[--subnet-file PATH] [--socket PATH] [--ipam-data-dir PATH]\n");
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bridge", required_argument, NULL, 'b' },
		{ "subnet", required_argument, NULL, 'n' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "ip-masq", no_argument, NULL, 'q' },
		{ "hairpin", no_argument, NULL, 'H' },
		{ "subnet-file", required_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "ipam-data-dir", required_argument, NULL, 'd' },
		{ 0 },
	};
	struct tartan_cniconf_input in = { .bridge = "cni0", .mtu = 1500 };
	size_t k, nkinds = sizeof(kinds) / sizeof(kinds[0]);
	char *text = NULL, *end;
	unsigned long mtu;
	int c, r;

	if (argc < 2)
		return usage();
	for (k = 0; k < nkinds; k++)
		if (strcmp(argv[1], kinds[k]) == 0)
			break;
	if (k == nkinds)
		return usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			in.bridge = optarg;
			break;
		case 'n':
			if (tartan_ip4_net_parse(optarg, strlen(optarg), &in.subnet) < 0) {
				fprintf(stderr, "cniconf-render: bad --subnet '%s'\n", optarg);
				return 1;
			}
			break;
		case 'm':
			errno = 0;
			mtu = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || mtu > 1000000) {
				fprintf(stderr, "cniconf-render: bad --mtu '%s'\n", optarg);
				return 1;
			}
			in.mtu = (unsigned)mtu;
			break;
		case 'q':
			in.ip_masq = true;
			break;
		case 'H':
			in.hairpin_mode = true;
			break;
		case 'f':
			in.subnet_file = optarg;
			break;
		case 's':
			in.socket_path = optarg;
			break;
		case 'd':
			in.ipam_data_dir = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc)
		return usage();

	r = tartan_cniconf_render((enum tartan_cniconf_kind)k, &in, &text);
	if (r < 0) {
		fprintf(stderr, "cniconf-render: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return fflush(stdout) == 0 ? 0 : 1;
}
