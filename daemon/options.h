/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartand's command line and environment.
 *
 * flanneld's flags keep flanneld's names and meaning, so a unit file can swap
 * the binary (shared/docs/flannel-compat.md section 6). Syntax, as Go's flag
 * package: --name=value, --name value, -name=value, -name value; a boolean
 * is --name or --name=BOOL (BOOL one of 1 t T TRUE true True 0 f F FALSE
 * false False), never --name BOOL; the last of a repeated flag wins, except
 * the repeatable --iface and --iface-regex, which add up. "--" ends the
 * flags; tartand takes no other arguments.
 *
 * A flag missing from the command line is taken from the environment:
 * TARTAN_<NAME> (NAME upper-case, '-' -> '_'), then, for flanneld's flags
 * only, FLANNELD_<NAME>. Empty values are ignored, as flanneld does. From the
 * environment, --iface is a comma list; --iface-regex is one expression
 * (regexes contain commas). --help and --version come only from the command
 * line.
 *
 * Every value is checked here, from either source, and a bad one is refused
 * with a message naming the flag or the variable it came from. Pure: no I/O,
 * the caller passes the environment in.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/log.h"

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* --hairpin-mode: kubelet's choices for pods reaching themselves through a service */
enum tartan_hairpin_mode {
	TARTAN_HAIRPIN_PROMISCUOUS_BRIDGE, /* kubelet's default: the bridge is promiscuous */
	TARTAN_HAIRPIN_VETH,		   /* hairpin on every pod's bridge port */
	TARTAN_HAIRPIN_NONE,
};

/* the files tartand writes, by the names --skip-files takes (tartan_options_file_name()) */
enum tartan_options_file {
	TARTAN_OPTIONS_FILE_SUBNET_ENV,	  /* "subnet-env": --subnet-file */
	TARTAN_OPTIONS_FILE_CONFLIST,	  /* "conflist": <cni-conf-dir>/10-tartan.conflist */
	TARTAN_OPTIONS_FILE_RKT_CONF,	  /* "rkt-conf": the conf in --rkt-net-dir */
	TARTAN_OPTIONS_FILE_KUBENET_CONF, /* "kubenet-conf": <cni-conf-dir>/20-kubenet.conf */
	TARTAN_OPTIONS_N_FILES,
};

/* one --iface: an interface name or one of its IPv4 addresses */
struct tartan_options_iface {
	char *name;	     /* NULL when given as an address */
	struct in_addr addr; /* when name is NULL */
};

struct tartan_options {
	/* flanneld's */
	char **etcd_endpoints; /* at least one, each http:// or https:// */
	size_t n_etcd_endpoints;
	char *etcd_prefix;   /* starts with '/', no trailing '/': "/coreos.com/network" */
	char *etcd_cafile;   /* NULL: unset (likewise the other optional strings) */
	char *etcd_certfile; /* with etcd_keyfile, or neither */
	char *etcd_keyfile;
	char *etcd_username;
	char *etcd_password;		     /* only with etcd_username */
	struct tartan_options_iface *ifaces; /* in the order given */
	size_t n_ifaces;
	char **iface_regexes; /* POSIX extended regexes, each known to compile */
	size_t n_iface_regexes;
	bool has_public_ip;
	struct in_addr public_ip;	    /* a unicast address */
	char *subnet_file;		    /* absolute */
	unsigned subnet_lease_renew_margin; /* minutes, 1..1439 */
	bool ip_masq;
	struct in_addr healthz_ip;
	uint16_t healthz_port; /* 0: no health server */

	/* tartan's */
	char *state_dir;	      /* absolute */
	char *socket_path;	      /* --socket, absolute, fits in sun_path */
	char *bridge;		      /* an interface name */
	char *cni_conf_dir;	      /* absolute */
	char *cni_data_dir;	      /* absolute; NULL: none (--cni-data-dir=) */
	char *rkt_net_dir;	      /* absolute; NULL: no rkt conf (--rkt-net-dir=) */
	bool rkt_conf_flannel;	      /* --rkt-conf-type=flannel (default bridge) */
	bool has_pod_cidr;	      /* kubenet mode */
	struct in_addr pod_cidr_addr; /* the network address: host bits are zero */
	unsigned pod_cidr_prefixlen;  /* 1..30 */
	/* kubenet mode: the bridge is cbr0 unless --bridge (or TARTAN_BRIDGE) names one */
	enum tartan_hairpin_mode hairpin_mode;
	/* kubenet mode masquerades what leaves for anywhere else; prefixlen 0: nothing */
	struct in_addr non_masq_addr;
	unsigned non_masq_prefixlen; /* 0..32 */
	unsigned resync_interval;     /* seconds, 1..86400 */
	enum tartan_log_level log_level;
	unsigned mtu;		   /* 0: from the external interface; else 68..65535 */
	unsigned subnet_lease_ttl; /* seconds, 1..86400; tests only (flannel: 24 h) */
	/* --skip-files: bit 1u << TARTAN_OPTIONS_FILE_* set for each file the operator owns */
	unsigned skip_files;

	/* --help (-h, -help) or --version was given: the caller prints and exits
	 * 0. Parsing stopped there, without the environment or the checks that
	 * span flags: do not use the other fields. */
	bool show_help;
	bool show_version;
};

/*
 * Parses argv[1..argc-1] and envp (NULL-terminated "NAME=value" entries; the
 * first of a name counts, as getenv; envp may be NULL). On success *ret holds
 * the options. On failure returns -EINVAL with *ret_error a message
 * (malloc'd, the caller frees), or -ENOMEM with *ret_error NULL; ret_error
 * may be NULL. Messages name the flag or variable: "--subnet-lease-renew-margin:
 * 0 is out of range 1..1439", "unknown flag --foo".
 */
int tartan_options_parse(int argc, char *const *argv, char *const *envp,
			 struct tartan_options **ret, char **ret_error) _tartan_wur_;
void tartan_options_free(struct tartan_options *o);

/* "subnet-env", "conflist", "rkt-conf", "kubenet-conf"; NULL out of range */
const char *tartan_options_file_name(enum tartan_options_file file);

/* The --help text. */
void tartan_options_usage(FILE *f);
