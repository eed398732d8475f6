/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netcfg/iface.h"

/* MTU and index through an ioctl: answers for the caller's network namespace
 * (sysfs may be mounted for another one). */
static int iface_fill(const char *name, uint32_t addr, struct tartan_iface *ret)
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	if (strlen(name) >= sizeof(ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, name);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		err = -errno;
	close(fd);
	if (err < 0)
		return err;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	ret->index = if_nametoindex(name);
	ret->addr = addr;
	ret->mtu = (unsigned)ifr.ifr_mtu;
	return ret->index ? 0 : -ENODEV;
}

typedef bool (*iface_match_fn)(const char *name, uint32_t addr, const void *arg);

static int iface_find(iface_match_fn match, const void *arg, struct tartan_iface *ret)
{
	struct ifaddrs *list, *i;
	int err = -ENODEV;

	if (getifaddrs(&list) < 0)
		return -errno;
	for (i = list; i; i = i->ifa_next) {
		uint32_t addr;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		addr = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		if (match(i->ifa_name, addr, arg)) {
			err = iface_fill(i->ifa_name, addr, ret);
			break;
		}
	}
	freeifaddrs(list);
	return err;
}

static bool match_name(const char *name, uint32_t addr, const void *arg)
{
	return strcmp(name, arg) == 0;
}

static bool match_addr(const char *name, uint32_t addr, const void *arg)
{
	return addr == *(const uint32_t *)arg;
}

static bool match_regex(const char *name, uint32_t addr, const void *arg)
{
	char text[INET_ADDRSTRLEN];
	struct in_addr a = { htonl(addr) };

	if (regexec(arg, name, 0, NULL, 0) == 0)
		return true;
	return inet_ntop(AF_INET, &a, text, sizeof(text)) && regexec(arg, text, 0, NULL, 0) == 0;
}

int tartan_iface_by_name(const char *name, struct tartan_iface *ret)
{
	return iface_find(match_name, name, ret);
}

int tartan_iface_by_addr(uint32_t addr, struct tartan_iface *ret)
{
	return iface_find(match_addr, &addr, ret);
}

int tartan_iface_by_regex(const char *regex, struct tartan_iface *ret)
{
	regex_t re;
	int err;

	if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	err = iface_find(match_regex, &re, ret);
	regfree(&re);
	return err;
}

/* /proc/net/route is per network namespace and lists the main table. */
int tartan_iface_default(struct tartan_iface *ret)
{
	char line[512], best[IF_NAMESIZE] = "";
	unsigned long best_metric = ULONG_MAX;
	FILE *f = fopen("/proc/net/route", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		unsigned long dest, gw, flags, refcnt, use, metric, mask;

		if (sscanf(line, "%63s %lx %lx %lx %lu %lu %lu %lx", name, &dest, &gw, &flags,
			   &refcnt, &use, &metric, &mask) != 8)
			continue;
		/* RTF_UP (1); destination and mask 0: a default route */
		if (dest != 0 || mask != 0 || !(flags & 1) || metric >= best_metric ||
		    strlen(name) >= sizeof(best))
			continue;
		best_metric = metric;
		snprintf(best, sizeof(best), "%s", name);
	}
	fclose(f);
	if (!best[0])
		return -ENETUNREACH;
	return tartan_iface_by_name(best, ret);
}
