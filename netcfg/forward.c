/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg/file.h"
#include "netcfg/forward.h"

/* "0\n" or "1\n"; a little room for whatever else a kernel might print */
#define VALUE_MAX 16

static int ip_forward_read(bool *ret_on)
{
	char *buf = NULL;
	size_t len;
	int err;

	err = tartan_file_read(TARTAN_IP_FORWARD_PATH, VALUE_MAX, &buf, &len);
	if (err < 0)
		return err;
	if (len == 0 || (buf[0] != '0' && buf[0] != '1'))
		err = -EIO;
	else
		*ret_on = buf[0] == '1';
	free(buf);
	return err;
}

int tartan_ip_forward_enable(bool *ret_changed)
{
	bool on = false;
	int err;

	*ret_changed = false;
	err = ip_forward_read(&on);
	if (err < 0 || on)
		return err;
	err = tartan_file_write_in_place(TARTAN_IP_FORWARD_PATH, "1\n", 2);
	if (err < 0)
		return err;
	/* the write can be accepted and ignored (a sysctl locked by a security module):
	 * believe the kernel, not the write */
	err = ip_forward_read(&on);
	if (err < 0)
		return err;
	if (!on)
		return -EPERM;
	*ret_changed = true;
	return 0;
}
