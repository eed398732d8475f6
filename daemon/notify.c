/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/notify.h"

int tartan_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n, len = strlen(state);
	socklen_t salen;
	ssize_t sent;
	int fd, err = 0;

	if (!name || !name[0])
		return 1;
	n = strlen(name);
	/* a path (absolute, as systemd gives it) or '@' for the abstract namespace; the
	 * abstract name is the bytes after the '@', without a terminating NUL */
	if ((name[0] != '/' && name[0] != '@') || n >= sizeof(sun.sun_path) || n < 2)
		return -EINVAL;
	memcpy(sun.sun_path, name, n);
	if (name[0] == '@') {
		sun.sun_path[0] = '\0';
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a datagram socket: one message, or nothing (MSG_NOSIGNAL: never SIGPIPE) */
	sent = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sun, salen);
	if (sent < 0)
		err = -errno;
	else if ((size_t)sent != len)
		err = -EMSGSIZE;
	close(fd);
	return err;
}
