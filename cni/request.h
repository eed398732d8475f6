/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tartan CNI plugin's request: the runtime's environment and stdin, as a
 * runtime passes them (CNI spec, cni-etcd-api.md 1.2, 1.3), checked and
 * turned into the one line the plugin sends to tartand's control socket:
 *
 *   {"command":"cni","cni":{"command":"ADD","containerID":"...",
 *    "netns":"/var/run/netns/x","netnsFd":true,"ifName":"eth0","args":"K=V;...",
 *    "path":"/opt/cni/bin","cniVersion":"1.0.0","config":{STDIN OBJECT}}}
 *
 *  - containerID and ifName: ADD, DEL, CHECK only; netns: ADD and CHECK, and
 *    DEL when the runtime gave one; args: ADD, DEL, CHECK when CNI_ARGS is not
 *    empty; path, cniVersion and config: always. GC and STATUS name no
 *    attachment (GC's list of valid ones is in config, as the runtime sent it).
 *  - netnsFd: with netns: the plugin opens CNI_NETNS itself (in the runtime's
 *    mount namespace, where the path means what the runtime meant) and sends
 *    the fd with the line; tartand enters that, and keeps the path for
 *    messages. A DEL whose namespace cannot be opened goes without it
 *    (tartan_cni_request_drop_netns_fd()).
 *  - config is the whole stdin object (prevResult, runtimeConfig,
 *    cni.dev/valid-attachments and unknown keys included), in its order.
 *
 * Checks, in skel's order (containernetworking/cni pkg/skel), each failure a
 * CNI error:
 *  4  CNI_COMMAND unset or not ADD, DEL, CHECK, GC, STATUS or VERSION;
 *     CNI_CONTAINERID not [a-zA-Z0-9][a-zA-Z0-9_.-]*; CNI_IFNAME longer than
 *     15 bytes, "." or "..", holding '/', ':' or whitespace (Unicode's, as Go's
 *     unicode.IsSpace), or not UTF-8; required variables missing or empty
 *     (ADD, CHECK: CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH; DEL: the
 *     same but CNI_NETNS; GC, STATUS: CNI_PATH); CNI_NETNS not an absolute
 *     path (it is kept in records and messages, read in other directories) or
 *     longer than PATH_MAX; CNI_ARGS or CNI_PATH not UTF-8; TARTAN_CNI_WAIT_S or
 *     TARTAN_CNI_TIMEOUT_S not a number of seconds in range;
 *  7  stdin longer than TARTAN_CNI_STDIN_MAX;
 *  6  stdin not a JSON object (syntax, invalid UTF-8, \u0000, an integer out
 *     of range), or a known key of the wrong JSON type: name, cniVersion,
 *     prevResult (an object or null), cni.dev/valid-attachments (for GC: a list
 *     of {"containerID":string,"ifname":string}), socket, daemonWaitSeconds,
 *     pendingDelDir;
 *  7  name missing, empty or not [a-zA-Z0-9][a-zA-Z0-9_.-]*;
 *  1  cniVersion not one of tartan_cni_versions (missing means 0.1.0, as in
 *     libcni); CHECK below 0.4.0; GC and STATUS below 1.1.0;
 *  7  socket empty, relative or too long for a unix socket address;
 *     daemonWaitSeconds outside [0, 3600]; pendingDelDir relative or longer
 *     than PATH_MAX - 65 (room for a record's name); the request line longer than the
 *     control socket takes (TARTAN_CONTROL_LINE_MAX).
 * VERSION needs nothing but CNI_COMMAND and never fails: its stdin is only
 * read for the cniVersion to echo.
 *
 * Pure: no I/O, no getenv; unit tests and the fuzzer call it directly.
 */
#pragma once

#include <stddef.h>

#include "cni/pending.h"
#include "cni/result.h"

/* the most stdin the plugin reads */
#define TARTAN_CNI_STDIN_MAX (1024 * 1024)

#define TARTAN_CNI_DEFAULT_SOCKET "/run/tartan/tartand.sock"
/* how long ADD and CHECK wait for a daemon that is not up yet (socket missing or
 * refusing): env TARTAN_CNI_WAIT_S, else conf "daemonWaitSeconds", else this */
#define TARTAN_CNI_DEFAULT_WAIT_S 10.0
/* how long a connected daemon has to answer: env TARTAN_CNI_TIMEOUT_S, else this */
#define TARTAN_CNI_DEFAULT_TIMEOUT_S 60.0
#define TARTAN_CNI_WAIT_MAX_S 3600.0
/* where a DEL tartand cannot take is recorded (cni/pending.h): conf "pendingDelDir", else
 * this */
#define TARTAN_CNI_DEFAULT_PENDING_DIR "/var/lib/tartan/pending-del"

enum tartan_cni_command {
	TARTAN_CNI_ADD,
	TARTAN_CNI_DEL,
	TARTAN_CNI_CHECK,
	TARTAN_CNI_GC,
	TARTAN_CNI_STATUS,
	TARTAN_CNI_VERSION,
};

struct tartan_cni_request;

/*
 * envp: "NAME=value" strings, NULL-terminated (NULL: none); the first entry
 * of a name counts, as with getenv(). stdin: the bytes the runtime wrote
 * (NULL when len is 0).
 * Returns 0 and *ret; -EINVAL and *ret_error, the CNI error for the runtime;
 * -ENOMEM (nothing set).
 */
_tartan_wur_ int tartan_cni_request_new(char *const *envp, const void *stdin_data, size_t stdin_len,
					struct tartan_cni_request **ret,
					struct tartan_cni_error **ret_error);
void tartan_cni_request_free(struct tartan_cni_request *r);
static inline void tartan_cni_request_freep(struct tartan_cni_request **r)
{
	tartan_cni_request_free(*r);
}

enum tartan_cni_command tartan_cni_request_command(const struct tartan_cni_request *r);

/* the request's cniVersion, one of tartan_cni_versions (static); for VERSION
 * the cniVersion string asked on stdin (owned by r; tartan_cni_version_render
 * echoes it only when it is a version number), else TARTAN_CNI_VERSION_LATEST */
const char *tartan_cni_request_version(const struct tartan_cni_request *r);

/* the line for tartand, '\n' included (NULL for VERSION) */
const char *tartan_cni_request_line(const struct tartan_cni_request *r, size_t *ret_len);

/* conf "socket", else TARTAN_CNI_DEFAULT_SOCKET */
const char *tartan_cni_request_socket(const struct tartan_cni_request *r);

/* conf "pendingDelDir", else TARTAN_CNI_DEFAULT_PENDING_DIR */
const char *tartan_cni_request_pending_dir(const struct tartan_cni_request *r);

/* CNI_NETNS as sent in the line, NULL when there is none */
const char *tartan_cni_request_netns(const struct tartan_cni_request *r);

/* Takes "netnsFd" out of the line (the namespace of a DEL could not be opened). */
_tartan_wur_ int tartan_cni_request_drop_netns_fd(struct tartan_cni_request *r);

/* DEL only: the pending-DEL record of the request (cni/pending.h) and its file name;
 * *ret_text is malloc'ed. -EINVAL for other commands. */
_tartan_wur_ int tartan_cni_request_pending_record(const struct tartan_cni_request *r,
						   char ret_name[TARTAN_CNI_PENDING_NAME_SIZE],
						   char **ret_text);

/* seconds to wait for the daemon to come up, and for its answer */
double tartan_cni_request_wait(const struct tartan_cni_request *r);
double tartan_cni_request_timeout(const struct tartan_cni_request *r);
