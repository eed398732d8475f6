/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "netcfg/netns.h"

int tartan_netns_check(int fd)
{
	/* ENOTTY: not an nsfs file at all */
	return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET ? 0 : -EINVAL;
}

int tartan_netns_open(const char *path, int *ret_fd)
{
	int fd;

	/* O_NONBLOCK: a FIFO named as a namespace must not hang the open */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (tartan_netns_check(fd) < 0) {
		close(fd);
		return -EINVAL;
	}
	*ret_fd = fd;
	return 0;
}

int tartan_nl_new_in_netns(int netns_fd, struct tartan_nl **ret)
{
	int home, err, back;

	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		err = -errno;
		close(home);
		return err;
	}
	err = tartan_nl_new(ret);
	/* Stepping back cannot fail for a namespace we were in, short of the fd being bad; if it
	 * did, every later socket would open in the pod's namespace: stop rather than go on. */
	back = setns(home, CLONE_NEWNET);
	close(home);
	if (back < 0)
		abort();
	return err;
}
