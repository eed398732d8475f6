/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tartanctl binary (path in $TARTANCTL) against a real control server
 * (daemon/control.c on a private libev loop, socket in a mktemp directory)
 * whose handler answers as tartand will, and against hand-made servers that
 * misbehave (never answer, answer garbage, hang up). Checks stdout, stderr
 * and the exit status of each run.
 *
 * The control server admits root only, so these tests need root (as here
 * and in CI); elsewhere they are reported as skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/control.h"

/* 2023-11-14T22:13:20Z */
#define T0 1700000000

struct ctx {
	char dir[64];
	char path[160];
	struct ev_loop *loop;
	struct tartan_control *ctl;
	char *status;	    /* the result JSON the handler answers "status" with */
	const char *leases; /* and "leases" */
	const char *pods;   /* and "pods" */
	const char *routes; /* and "routes" */
	const char *error;  /* if set, every command is answered with this error */
	unsigned handled;

	/* a hand-made server instead of the control server */
	int raw_fd;
	const char *raw_reply; /* sent to each client; NULL: never answer */
	bool raw_hangup;       /* close the client right after the reply */
	int raw_clients[8];
	size_t n_raw_clients;
};

struct run {
	int status; /* exit status, or -1 when killed */
	char *out, *err;
	double seconds;
};

static const char *tartanctl;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int handler(const char *command, json_t *request, int fd, json_t **ret_result,
		   char **ret_error, void *userdata)
{
	struct ctx *c = userdata;
	const char *json = NULL;

	c->handled++;
	if (c->error) {
		*ret_error = strdup(c->error);
		return -EAGAIN;
	}
	if (strcmp(command, "status") == 0)
		json = c->status;
	else if (strcmp(command, "leases") == 0)
		json = c->leases;
	else if (strcmp(command, "pods") == 0)
		json = c->pods;
	else if (strcmp(command, "routes") == 0)
		json = c->routes;
	if (!json) {
		if (asprintf(ret_error, "unknown command \"%s\"", command) < 0)
			return -ENOMEM;
		return -EOPNOTSUPP;
	}
	*ret_result = json_loads(json, 0, NULL);
	return *ret_result ? 0 : -EINVAL;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? -1 : 0;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/tartan-test-tartanctl.XXXXXX");
	if (!mkdtemp(c->dir)) {
		free(c);
		return -1;
	}
	snprintf(c->path, sizeof(c->path), "%s/tartand.sock", c->dir);
	c->raw_fd = -1;
	c->loop = ev_loop_new(EVFLAG_AUTO);
	if (!c->loop)
		return -1;
	*state = c;
	return 0;
}

static int setup_server(void **state)
{
	struct ctx *c;

	if (setup(state) < 0)
		return -1;
	c = *state;
	return tartan_control_new(c->loop, c->path, handler, c, &c->ctl) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	tartan_control_free(c->ctl);
	for (size_t i = 0; i < c->n_raw_clients; i++)
		close(c->raw_clients[i]);
	if (c->raw_fd >= 0)
		close(c->raw_fd);
	ev_loop_destroy(c->loop);
	free(c->status);
	if (nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		print_error("cannot remove %s: %s\n", c->dir, strerror(errno));
	free(c);
	return 0;
}

/* a copy of tartanctl in the test's directory: the build dir may be in a
 * home that uid 65534 cannot enter */
static void copy_tartanctl(struct ctx *c, char *ret_path, size_t size)
{
	char *data = NULL;
	size_t len = 0;
	FILE *in, *out;

	snprintf(ret_path, size, "%s/tartanctl", c->dir);
	in = fopen(tartanctl, "rb");
	assert_non_null(in);
	for (;;) {
		char buf[65536];
		size_t n = fread(buf, 1, sizeof(buf), in);

		if (n == 0)
			break;
		data = realloc(data, len + n);
		assert_non_null(data);
		memcpy(data + len, buf, n);
		len += n;
	}
	fclose(in);
	out = fopen(ret_path, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(data, 1, len, out), len);
	assert_int_equal(fclose(out), 0);
	free(data);
	assert_int_equal(chmod(ret_path, 0755), 0);
}

static void need_root(void)
{
	if (geteuid() != 0) {
		print_message("the control socket admits root only: run this test as root\n");
		skip();
	}
}

/* a listening socket at c->path that is not a control server */
static void raw_listen(struct ctx *c, int backlog, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, c->path);
	c->raw_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(c->raw_fd >= 0);
	assert_int_equal(bind(c->raw_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (listening)
		assert_int_equal(listen(c->raw_fd, backlog), 0);
}

static void raw_serve(struct ctx *c)
{
	int fd;

	if (c->raw_fd < 0 || c->n_raw_clients >= 8)
		return;
	fd = accept4(c->raw_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (c->raw_reply)
		(void)!send(fd, c->raw_reply, strlen(c->raw_reply), MSG_NOSIGNAL);
	if (c->raw_hangup)
		close(fd);
	else
		c->raw_clients[c->n_raw_clients++] = fd;
}

/* appends what fd has now to *buf; false at EOF */
static bool drain(int fd, char **buf, size_t *len)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	*buf = realloc(*buf, *len + (size_t)n + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return true;
}

/*
 * Runs tartanctl with args (NULL-terminated, without argv[0]) and
 * TARTAN_SOCKET set to env_socket (NULL: unset), the loop serving meanwhile;
 * as root, or with nobody_binary set, that copy as uid 65534.
 */
static void run_ctl_as(struct ctx *c, struct run *ret, const char *nobody_binary,
		       const char *env_socket, const char *const *args)
{
	const char *argv[16] = { "tartanctl" };
	int out[2], err[2], wstatus;
	size_t out_len = 0, err_len = 0, n = 1;
	bool out_open = true, err_open = true;
	double start = now();
	pid_t pid;

	for (; args[n - 1]; n++) {
		assert_true(n < 15);
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	memset(ret, 0, sizeof(*ret));
	ret->out = strdup("");
	ret->err = strdup("");
	assert_int_equal(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC | O_NONBLOCK), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		if (env_socket)
			setenv("TARTAN_SOCKET", env_socket, 1);
		else
			unsetenv("TARTAN_SOCKET");
		if (nobody_binary &&
		    (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		     setresuid(65534, 65534, 65534) < 0)) {
			fprintf(stderr, "cannot drop root: %s\n", strerror(errno));
			_exit(126);
		}
		execv(nobody_binary ? nobody_binary : tartanctl, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	for (;;) {
		ev_run(c->loop, EVRUN_NOWAIT);
		raw_serve(c);
		if (out_open)
			out_open = drain(out[0], &ret->out, &out_len);
		if (err_open)
			err_open = drain(err[0], &ret->err, &err_len);
		if (!out_open && !err_open && waitpid(pid, &wstatus, WNOHANG) == pid)
			break;
		if (now() - start > 20) {
			kill(pid, SIGKILL);
			waitpid(pid, &wstatus, 0);
			fail_msg("tartanctl ran for 20 s; stderr so far: %s", ret->err);
		}
		usleep(500);
	}
	close(out[0]);
	close(err[0]);
	ret->seconds = now() - start;
	ret->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
}

static void run_ctl(struct ctx *c, struct run *ret, const char *env_socket, const char *const *args)
{
	run_ctl_as(c, ret, NULL, env_socket, args);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void expect_run(struct run *r, int status, const char *out, const char *err)
{
	bool same = r->status == status && strcmp(r->out, out) == 0 && strcmp(r->err, err) == 0;

	if (!same)
		print_error("tartanctl:\n  expected exit %d, stdout:\n%s\n  stderr:\n%s\n"
			    "  got exit %d, stdout:\n%s\n  stderr:\n%s\n",
			    status, out, err, r->status, r->out, r->err);
	assert_int_equal(r->status, status);
	assert_string_equal(r->out, out);
	assert_string_equal(r->err, err);
}

static void check(struct ctx *c, const char *env_socket, const char *const *args, int status,
		  const char *out, const char *err)
{
	struct run r;

	run_ctl(c, &r, env_socket, args);
	expect_run(&r, status, out, err);
	run_free(&r);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_status_text(void **state)
{
	struct ctx *c = *state;
	time_t expiry = time(NULL) + 86400 + 3 * 3600 + 1800;
	char iso[32], expected[1024];
	struct tm tm;

	need_root();
	assert_true(asprintf(&c->status,
			     "{\"state\":\"running\",\"network\":\"10.5.0.0/16\",\"subnet\":"
			     "\"10.5.72.0/24\",\"public_ip\":\"192.0.2.1\",\"interface\":\"eth0\","
			     "\"backend\":\"vxlan\",\"lease_expiry\":%lld,\"peers\":2,"
			     "\"etcd_endpoint\":\"http://127.0.0.1:2379\",\"etcd_connected\":true,"
			     "\"mtu\":1450,\"subnet_file\":\"/run/flannel/subnet.env\","
			     "\"subnet_file_written\":true}",
			     (long long)expiry) > 0);
	gmtime_r(&expiry, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(expected, sizeof(expected),
		 "State:        running\n"
		 "Network:      10.5.0.0/16\n"
		 "Subnet:       10.5.72.0/24\n"
		 "Public IP:    192.0.2.1\n"
		 "Interface:    eth0\n"
		 "Backend:      vxlan\n"
		 "MTU:          1450\n"
		 "Lease expiry: %s (in 1d 3h)\n"
		 "Peers:        2\n"
		 "etcd:         http://127.0.0.1:2379 (connected)\n"
		 "Subnet file:  /run/flannel/subnet.env (written)\n",
		 iso);
	check(c, NULL, ARGS("--socket", c->path, "status"), 0, expected, "");
	/* the socket from the environment, and options after the command */
	check(c, c->path, ARGS("status"), 0, expected, "");
	check(c, c->path, ARGS("status", "--timeout=2"), 0, expected, "");
	assert_int_equal(c->handled, 3);
}

static void test_status_json(void **state)
{
	struct ctx *c = *state;

	need_root();
	c->status = strdup("{\"state\":\"waiting-for-config\",\"lease_expiry\":null,"
			   "\"etcd_endpoint\":\"http://127.0.0.1:2379\",\"etcd_connected\":false}");
	check(c, NULL, ARGS("--json", "--socket", c->path, "status"), 0,
	      "{\n"
	      "  \"state\": \"waiting-for-config\",\n"
	      "  \"lease_expiry\": null,\n"
	      "  \"etcd_endpoint\": \"http://127.0.0.1:2379\",\n"
	      "  \"etcd_connected\": false\n"
	      "}\n",
	      "");
	check(c, NULL, ARGS("--socket", c->path, "status"), 0,
	      "State:        waiting-for-config\n"
	      "Network:      -\n"
	      "Subnet:       -\n"
	      "Public IP:    -\n"
	      "Interface:    -\n"
	      "Backend:      -\n"
	      "MTU:          -\n"
	      "Lease expiry: never (a reservation)\n"
	      "Peers:        -\n"
	      "etcd:         http://127.0.0.1:2379 (not connected)\n"
	      "Subnet file:  -\n",
	      "");
}

/* the files tartand writes: a "Files:" section in text, the array as is in JSON */
static void test_status_files(void **state)
{
	struct ctx *c = *state;

	need_root();
	c->status =
		strdup("{\"state\":\"running\",\"mode\":\"kubenet\",\"subnet\":\"10.244.1.0/24\","
		       "\"mtu\":1460,\"files\":[{\"kind\":\"conflist\",\"path\":\"/etc/cni/net.d/"
		       "10-tartan.conflist\",\"state\":\"ok\",\"restored\":1,\"error\":null},"
		       "{\"kind\":\"rkt-conf\",\"path\":\"/r/k.conf\",\"state\":\"skipped\","
		       "\"restored\":0,\"error\":null}]}");
	check(c, NULL, ARGS("--socket", c->path, "status"), 0,
	      "State:        running\n"
	      "Mode:         kubenet\n"
	      "Subnet:       10.244.1.0/24\n"
	      "MTU:          1460\n"
	      "Files:\n"
	      "  /etc/cni/net.d/10-tartan.conflist  restored 1 times\n"
	      "  /r/k.conf                          skipped\n",
	      "");
	check(c, NULL, ARGS("--json", "--socket", c->path, "status"), 0,
	      "{\n"
	      "  \"state\": \"running\",\n"
	      "  \"mode\": \"kubenet\",\n"
	      "  \"subnet\": \"10.244.1.0/24\",\n"
	      "  \"mtu\": 1460,\n"
	      "  \"files\": [\n"
	      "    {\n"
	      "      \"kind\": \"conflist\",\n"
	      "      \"path\": \"/etc/cni/net.d/10-tartan.conflist\",\n"
	      "      \"state\": \"ok\",\n"
	      "      \"restored\": 1,\n"
	      "      \"error\": null\n"
	      "    },\n"
	      "    {\n"
	      "      \"kind\": \"rkt-conf\",\n"
	      "      \"path\": \"/r/k.conf\",\n"
	      "      \"state\": \"skipped\",\n"
	      "      \"restored\": 0,\n"
	      "      \"error\": null\n"
	      "    }\n"
	      "  ]\n"
	      "}\n",
	      "");
}

static void test_leases(void **state)
{
	struct ctx *c = *state;

	need_root();
	c->leases =
		"{\"leases\":["
		"{\"subnet\":\"10.5.72.0/24\",\"public_ip\":\"192.0.2.1\",\"backend\":\"vxlan\","
		"\"expiry\":1700000000,\"own\":true,\"programmed\":true,"
		"\"vtep_mac\":\"aa:bb:cc:dd:ee:ff\"},"
		"{\"subnet\":\"10.5.3.0/24\",\"public_ip\":\"192.0.2.10\",\"backend\":\"vxlan\","
		"\"expiry\":null,\"own\":false,\"programmed\":false}]}";
	check(c, NULL, ARGS("--socket", c->path, "leases"), 0,
	      "SUBNET        PUBLIC-IP   BACKEND  EXPIRES               OWN  PROGRAMMED\n"
	      "10.5.72.0/24  192.0.2.1   vxlan    2023-11-14T22:13:20Z  yes  yes\n"
	      "10.5.3.0/24   192.0.2.10  vxlan    never                 no   no\n",
	      "");
	check(c, c->path, ARGS("leases", "--json"), 0,
	      "{\n"
	      "  \"leases\": [\n"
	      "    {\n"
	      "      \"subnet\": \"10.5.72.0/24\",\n"
	      "      \"public_ip\": \"192.0.2.1\",\n"
	      "      \"backend\": \"vxlan\",\n"
	      "      \"expiry\": 1700000000,\n"
	      "      \"own\": true,\n"
	      "      \"programmed\": true,\n"
	      "      \"vtep_mac\": \"aa:bb:cc:dd:ee:ff\"\n"
	      "    },\n"
	      "    {\n"
	      "      \"subnet\": \"10.5.3.0/24\",\n"
	      "      \"public_ip\": \"192.0.2.10\",\n"
	      "      \"backend\": \"vxlan\",\n"
	      "      \"expiry\": null,\n"
	      "      \"own\": false,\n"
	      "      \"programmed\": false\n"
	      "    }\n"
	      "  ]\n"
	      "}\n",
	      "");

	/* a result without the leases array is a malformed answer */
	c->leases = "{\"peers\":[]}";
	check(c, NULL, ARGS("--socket", c->path, "leases"), 1, "",
	      "tartanctl: leases: malformed answer from tartand\n");
	/* with --json it is printed as it is */
	check(c, NULL, ARGS("--socket", c->path, "leases", "--json"), 0, "{\n  \"peers\": []\n}\n",
	      "");
}

static void test_pods(void **state)
{
	struct ctx *c = *state;

	need_root();
	/* as tartand answers: one pod with its names, one without, one left
	 * outside the node's subnet by a subnet change */
	c->pods =
		"{\"pods\":["
		"{\"address\":\"10.5.3.2\",\"containerID\":"
		"\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
		"\"ifName\":\"eth0\",\"hostIf\":\"veth1a2b3c4d\",\"inSubnet\":true,"
		"\"state\":\"attached\",\"namespace\":\"default\",\"name\":\"web-1\"},"
		"{\"address\":\"10.5.3.3\",\"containerID\":\"ctr-0002\",\"ifName\":\"eth0\","
		"\"hostIf\":\"veth0000beef\",\"inSubnet\":true,\"state\":\"gone\"},"
		"{\"address\":\"10.5.9.7\",\"containerID\":\"fedcba9876543210\",\"ifName\":\"eth0\","
		"\"hostIf\":\"vethcafe0001\",\"inSubnet\":false,\"state\":\"attached\"}]}";
	check(c, NULL, ARGS("--socket", c->path, "pods"), 0,
	      "ADDRESS   POD            CONTAINER     IFNAME  HOST-IF       STATE     NOTE\n"
	      "10.5.3.2  default/web-1  0123456789ab  eth0    veth1a2b3c4d  attached\n"
	      "10.5.3.3  -              ctr-0002      eth0    veth0000beef  gone\n"
	      "10.5.9.7  -              fedcba987654  eth0    vethcafe0001  attached  outside subnet\n",
	      "");
	/* --json: the daemon's object as it is, the whole container id */
	check(c, c->path, ARGS("pods", "--json"), 0,
	      "{\n"
	      "  \"pods\": [\n"
	      "    {\n"
	      "      \"address\": \"10.5.3.2\",\n"
	      "      \"containerID\": "
	      "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\n"
	      "      \"ifName\": \"eth0\",\n"
	      "      \"hostIf\": \"veth1a2b3c4d\",\n"
	      "      \"inSubnet\": true,\n"
	      "      \"state\": \"attached\",\n"
	      "      \"namespace\": \"default\",\n"
	      "      \"name\": \"web-1\"\n"
	      "    },\n"
	      "    {\n"
	      "      \"address\": \"10.5.3.3\",\n"
	      "      \"containerID\": \"ctr-0002\",\n"
	      "      \"ifName\": \"eth0\",\n"
	      "      \"hostIf\": \"veth0000beef\",\n"
	      "      \"inSubnet\": true,\n"
	      "      \"state\": \"gone\"\n"
	      "    },\n"
	      "    {\n"
	      "      \"address\": \"10.5.9.7\",\n"
	      "      \"containerID\": \"fedcba9876543210\",\n"
	      "      \"ifName\": \"eth0\",\n"
	      "      \"hostIf\": \"vethcafe0001\",\n"
	      "      \"inSubnet\": false,\n"
	      "      \"state\": \"attached\"\n"
	      "    }\n"
	      "  ]\n"
	      "}\n",
	      "");

	/* no pod attached: the header alone */
	c->pods = "{\"pods\":[]}";
	check(c, NULL, ARGS("--socket", c->path, "pods"), 0,
	      "ADDRESS  POD  CONTAINER  IFNAME  HOST-IF  STATE  NOTE\n", "");
	/* a result without the pods array is a malformed answer, but not for --json */
	c->pods = "{\"leases\":[]}";
	check(c, NULL, ARGS("--socket", c->path, "pods"), 1, "",
	      "tartanctl: pods: malformed answer from tartand\n");
	check(c, NULL, ARGS("--socket", c->path, "--json", "pods"), 0, "{\n  \"leases\": []\n}\n",
	      "");
	check(c, NULL, ARGS("--socket", c->path, "pods", "extra"), 2, "",
	      "tartanctl: pods: unexpected argument \"extra\"\nTry 'tartanctl --help'.\n");
	assert_int_equal(c->handled, 5);
}

static void test_daemon_error(void **state)
{
	struct ctx *c = *state;

	need_root();
	c->error = "no lease yet: waiting for the network config \x1b[2J";
	check(c, NULL, ARGS("--socket", c->path, "status"), 1, "",
	      "tartanctl: status: no lease yet: waiting for the network config \\x1b[2J\n");
	check(c, NULL, ARGS("--socket", c->path, "--json", "leases"), 1, "",
	      "tartanctl: leases: no lease yet: waiting for the network config \\x1b[2J\n");
	check(c, NULL, ARGS("--socket", c->path, "pods"), 1, "",
	      "tartanctl: pods: no lease yet: waiting for the network config \\x1b[2J\n");
}

static void test_not_root(void **state)
{
	struct ctx *c = *state;
	char msg[512], copy[200];
	struct run r;

	need_root();
	/* nobody may walk to the socket, but not use it: 0600 */
	assert_int_equal(chmod(c->dir, 0755), 0);
	copy_tartanctl(c, copy, sizeof(copy));
	snprintf(msg, sizeof(msg),
		 "tartanctl: cannot reach tartand at %s: Permission denied; is it running?\n",
		 c->path);
	run_ctl_as(c, &r, copy, NULL, ARGS("--socket", c->path, "status"));
	expect_run(&r, 3, "", msg);
	run_free(&r);

	/* with the mode opened by hand, SO_PEERCRED refuses, and tartanctl
	 * shows the daemon's words even though it hung up on the request */
	assert_int_equal(chmod(c->path, 0666), 0);
	run_ctl_as(c, &r, copy, NULL, ARGS("--socket", c->path, "status"));
	expect_run(&r, 1, "",
		   "tartanctl: status: permission denied: the control socket is for root only\n");
	run_free(&r);
	assert_int_equal(c->handled, 0);
}

static void test_not_reachable(void **state)
{
	struct ctx *c = *state;
	char msg[512];

	/* no socket file */
	snprintf(msg, sizeof(msg),
		 "tartanctl: cannot reach tartand at %s: No such file or directory; is it "
		 "running?\n",
		 c->path);
	check(c, NULL, ARGS("--socket", c->path, "status"), 3, "", msg);
	check(c, c->path, ARGS("leases"), 3, "", msg);

	/* a socket file nobody listens on (the daemon died) */
	raw_listen(c, 0, false);
	snprintf(msg, sizeof(msg),
		 "tartanctl: cannot reach tartand at %s: Connection refused; is it running?\n",
		 c->path);
	check(c, NULL, ARGS("--socket", c->path, "status"), 3, "", msg);

	/* the default path when nothing says otherwise (no daemon runs in this
	 * test's view of the default; if one did, this would be skipped) */
	if (access("/run/tartan/tartand.sock", F_OK) != 0)
		check(c, NULL, ARGS("status"), 3, "",
		      "tartanctl: cannot reach tartand at /run/tartan/tartand.sock: No such file or "
		      "directory; is it running?\n");
}

static void test_no_answer_in_time(void **state)
{
	struct ctx *c = *state;
	char msg[512];
	struct run r;

	/* accepts, reads nothing, answers nothing */
	raw_listen(c, 8, true);
	snprintf(msg, sizeof(msg), "tartanctl: status: no answer from tartand at %s within 0.3 s\n",
		 c->path);
	run_ctl(c, &r, NULL, ARGS("--timeout", "0.3", "--socket", c->path, "status"));
	expect_run(&r, 3, "", msg);
	if (r.seconds < 0.25 || r.seconds > 3)
		fail_msg("tartanctl --timeout 0.3 took %.2f s", r.seconds);
	run_free(&r);
}

static void test_bad_answers(void **state)
{
	struct ctx *c = *state;
	char msg[512];

	raw_listen(c, 8, true);
	c->raw_hangup = true;
	/* garbage, then the line end */
	c->raw_reply = "HTTP/1.1 400 Bad Request\r\n";
	check(c, NULL, ARGS("--socket", c->path, "status"), 1, "",
	      "tartanctl: status: malformed answer from tartand\n");
	/* valid JSON, not an answer */
	c->raw_reply = "{\"ok\":\"yes\",\"result\":{}}\n";
	check(c, NULL, ARGS("--socket", c->path, "status"), 1, "",
	      "tartanctl: status: malformed answer from tartand\n");
	/* wrong types inside a good answer: printed as "-" */
	c->raw_reply = "{\"ok\":true,\"result\":{\"state\":[],\"peers\":\"2\",\"x\":{}}}\n";
	check(c, NULL, ARGS("--socket", c->path, "status"), 0,
	      "State:        -\nNetwork:      -\nSubnet:       -\nPublic IP:    -\n"
	      "Interface:    -\nBackend:      -\nMTU:          -\nLease expiry: -\nPeers:        -\n"
	      "etcd:         -\nSubnet file:  -\n",
	      "");
	/* the daemon hangs up half way through a line */
	c->raw_reply = "{\"ok\":true,\"res";
	snprintf(msg, sizeof(msg),
		 "tartanctl: status: talking to tartand at %s: the connection closed before an "
		 "answer\n",
		 c->path);
	check(c, NULL, ARGS("--socket", c->path, "status"), 3, "", msg);
}

static void test_usage(void **state)
{
	struct ctx *c = *state;
	const char *usage = "Usage: tartanctl [OPTION]... COMMAND [ARG]...\n";
	struct run r;

	check(c, NULL, ARGS("--json"), 2, "",
	      "tartanctl: no command given\nTry 'tartanctl --help'.\n");
	check(c, NULL, ARGS("frobnicate"), 2, "",
	      "tartanctl: unknown command \"frobnicate\"\nTry 'tartanctl --help'.\n");
	check(c, NULL, ARGS("status", "extra"), 2, "",
	      "tartanctl: status: unexpected argument \"extra\"\nTry 'tartanctl --help'.\n");
	check(c, NULL, ARGS("--timeout", "-1", "status"), 2, "",
	      "tartanctl: --timeout: \"-1\" is not a number of seconds in (0, 86400]\n"
	      "Try 'tartanctl --help'.\n");
	check(c, NULL, ARGS("--timeout", "nan", "status"), 2, "",
	      "tartanctl: --timeout: \"nan\" is not a number of seconds in (0, 86400]\n"
	      "Try 'tartanctl --help'.\n");
	check(c, NULL, ARGS("status", "--socket"), 2, "",
	      "tartanctl: --socket needs a value\nTry 'tartanctl --help'.\n");
	check(c, NULL, ARGS("--frob", "status"), 2, "",
	      "tartanctl: unknown option --frob\nTry 'tartanctl --help'.\n");
	check(c, NULL, ARGS("--socket", "", "status"), 2, "",
	      "tartanctl: --socket needs a path\nTry 'tartanctl --help'.\n");
	run_ctl(c, &r, NULL, ARGS("--help"));
	assert_int_equal(r.status, 0);
	assert_true(strncmp(r.out, usage, strlen(usage)) == 0);
	/* every command is listed */
	assert_non_null(strstr(r.out, "\n  status    "));
	assert_non_null(strstr(r.out, "\n  leases    "));
	assert_non_null(strstr(r.out, "\n  pods      "));
	assert_non_null(strstr(r.out, "\n  routes    "));
	assert_non_null(strstr(r.out, "\n  network get "));
	assert_non_null(strstr(r.out, "\n  network set FILE|-\n"));
	assert_non_null(strstr(r.out, "\n  version   "));
	/* and tartand's etcd flags, the exit statuses */
	for (const char *const *f =
		     ARGS("--etcd-endpoints", "--etcd-prefix", "--etcd-cafile", "--etcd-certfile",
			  "--etcd-keyfile", "--etcd-username", "--etcd-password", "--if-revision",
			  "FLANNELD_ETCD_ENDPOINTS", "4 etcd not reachable",
			  "5 the\nconfig in etcd changed");
	     *f; f++)
		if (!strstr(r.out, *f))
			fail_msg("--help does not mention %s", *f);
	assert_string_equal(r.err, "");
	run_free(&r);

	/* network's own usage errors */
	check(c, NULL, ARGS("network"), 2, "",
	      "tartanctl: network: needs a subcommand \"\"; use network get, or network set "
	      "FILE|-\n");
	check(c, NULL, ARGS("network", "put"), 2, "",
	      "tartanctl: network: unknown subcommand \"put\"; use network get, or network set "
	      "FILE|-\n");
	check(c, NULL, ARGS("network", "set"), 2, "",
	      "tartanctl: network set: needs FILE, or - for standard input\n");
	check(c, NULL, ARGS("network", "get", "x"), 2, "",
	      "tartanctl: network get: unexpected argument \"x\"\n");
	check(c, NULL, ARGS("network", "set", "a", "b"), 2, "",
	      "tartanctl: network: unexpected argument \"b\"\nTry 'tartanctl --help'.\n");
	check(c, NULL, ARGS("--if-revision", "-3", "network", "set", "-"), 2, "",
	      "tartanctl: --if-revision: \"-3\" is not a revision (0 or more)\n"
	      "Try 'tartanctl --help'.\n");
	/* the etcd flags are checked by tartand's parser, with its messages */
	check(c, NULL, ARGS("--etcd-endpoints", "ftp://x", "network", "get"), 2, "",
	      "tartanctl: --etcd-endpoints: 'ftp://x' is not an http:// or https:// URL\n");
	check(c, NULL, ARGS("--etcd-prefix", "a/b", "network", "get"), 2, "",
	      "tartanctl: --etcd-prefix: 'a/b' does not start with '/'\n");
	check(c, NULL, ARGS("--etcd-certfile", "/c.pem", "network", "get"), 2, "",
	      "tartanctl: --etcd-certfile is set without --etcd-keyfile (TLS needs both)\n");
	/* and the environment, as tartand reads it */
	setenv("FLANNELD_ETCD_ENDPOINTS", "http://[::1", 1);
	check(c, NULL, ARGS("network", "get"), 2, "",
	      "tartanctl: FLANNELD_ETCD_ENDPOINTS: 'http://[::1' has a bad host\n");
	/* the flag wins over the variable */
	setenv("TARTAN_ETCD_PASSWORD", "secret", 1);
	check(c, NULL, ARGS("--etcd-endpoints", "http://127.0.0.1:9", "network", "get"), 2, "",
	      "tartanctl: TARTAN_ETCD_PASSWORD is set without --etcd-username\n");
	unsetenv("TARTAN_ETCD_PASSWORD");
	unsetenv("FLANNELD_ETCD_ENDPOINTS");
	/* other commands do not read them */
	setenv("FLANNELD_ETCD_PREFIX", "bad", 1);
	check(c, NULL, ARGS("version"), 0, "tartanctl " TARTAN_VERSION "\n", "");
	unsetenv("FLANNELD_ETCD_PREFIX");
}

/* writes text to <dir>/name; the path in ret */
static void write_file(struct ctx *c, const char *name, const char *text, char *ret, size_t size)
{
	FILE *f;

	snprintf(ret, size, "%s/%s", c->dir, name);
	f = fopen(ret, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* network set checks the config before any etcd is asked; a dead etcd is exit 4 */
static void test_network_offline(void **state)
{
	struct ctx *c = *state;
	char path[256], msg[512];
	struct run r;

	/* port 9 (discard) on loopback: nothing listens, connecting is refused */
	write_file(c, "bad.json", "{\"Network\":\"10.5.0.0/16\",\"SubnetLen\":31}", path,
		   sizeof(path));
	snprintf(msg, sizeof(msg),
		 "tartanctl: network set: %s: invalid network config: SubnetLen must be less "
		 "than /31 (SubnetLen 31)\n",
		 path);
	check(c, NULL, ARGS("--etcd-endpoints", "http://127.0.0.1:9", "network", "set", path), 1,
	      "", msg);
	write_file(c, "udp.json", "{\"Network\":\"10.5.0.0/16\"}", path, sizeof(path));
	run_ctl(c, &r, NULL,
		ARGS("--etcd-endpoints", "http://127.0.0.1:9", "network", "set", path));
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "invalid network config: backend type udp is not "
				      "supported by tartan"));
	run_free(&r);
	snprintf(path, sizeof(path), "%s/nonexistent.json", c->dir);
	snprintf(msg, sizeof(msg), "tartanctl: network set: %s: No such file or directory\n", path);
	check(c, NULL, ARGS("network", "set", path), 1, "", msg);

	/* a valid config, and no etcd */
	write_file(c, "good.json", "{\"Network\":\"10.5.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}",
		   path, sizeof(path));
	run_ctl(c, &r, NULL,
		ARGS("--etcd-endpoints", "http://127.0.0.1:9", "--timeout", "2", "network", "set",
		     path));
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.err, "tartanctl: network set: etcd http://127.0.0.1:9"));
	assert_non_null(strstr(r.err, "; is etcd running? (see --etcd-endpoints)\n"));
	assert_string_equal(r.out, "");
	run_free(&r);
	run_ctl(c, &r, NULL,
		ARGS("--etcd-endpoints", "http://127.0.0.1:9", "--timeout", "2", "network", "get",
		     "--json"));
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.err, "; is etcd running? (see --etcd-endpoints)\n"));
	run_free(&r);
}

static void test_routes(void **state)
{
	struct ctx *c = *state;

	need_root();
	/* as tartand answers for vxlan, with one route changed by hand and an extra one */
	c->routes = "{\"routes\":["
		    "{\"dst\":\"10.5.3.0/24\",\"gateway\":\"10.5.3.0\",\"dev\":\"flannel.1\","
		    "\"onlink\":true,\"state\":\"ok\"},"
		    "{\"dst\":\"10.5.4.0/24\",\"gateway\":\"10.5.4.0\",\"dev\":\"flannel.1\","
		    "\"onlink\":true,\"kernel\":{\"gateway\":\"192.0.2.9\",\"dev\":\"eth0\","
		    "\"onlink\":false},\"state\":\"different\"},"
		    "{\"dst\":\"10.5.9.0/24\",\"gateway\":\"192.0.2.99\",\"dev\":\"eth0\","
		    "\"onlink\":false,\"state\":\"extra\"}],"
		    "\"active\":true,"
		    "\"neighbours\":[{\"ip\":\"10.5.3.0\",\"mac\":\"0a:00:00:00:00:03\","
		    "\"state\":\"ok\"}],"
		    "\"fdb\":[{\"mac\":\"0a:00:00:00:00:03\",\"dst\":\"192.0.2.3\","
		    "\"state\":\"missing\"}]}";
	check(c, NULL, ARGS("--socket", c->path, "routes"), 0,
	      "DESTINATION  GATEWAY     DEV        ONLINK  STATE      KERNEL\n"
	      "10.5.3.0/24  10.5.3.0    flannel.1  yes     ok\n"
	      "10.5.4.0/24  10.5.4.0    flannel.1  yes     different  via 192.0.2.9 dev eth0\n"
	      "10.5.9.0/24  192.0.2.99  eth0       no      extra\n"
	      "\n"
	      "Neighbours on the vxlan device:\n"
	      "IP        MAC                STATE  KERNEL\n"
	      "10.5.3.0  0a:00:00:00:00:03  ok\n"
	      "\n"
	      "FDB entries on the vxlan device:\n"
	      "MAC                DST        STATE    KERNEL\n"
	      "0a:00:00:00:00:03  192.0.2.3  missing\n"
	      "\n"
	      "Drift: 3 of 5 entries differ from what tartand keeps; it repairs them at its next "
	      "sync\n",
	      "");
	check(c, c->path, ARGS("routes", "--json"), 0,
	      "{\n"
	      "  \"routes\": [\n"
	      "    {\n"
	      "      \"dst\": \"10.5.3.0/24\",\n"
	      "      \"gateway\": \"10.5.3.0\",\n"
	      "      \"dev\": \"flannel.1\",\n"
	      "      \"onlink\": true,\n"
	      "      \"state\": \"ok\"\n"
	      "    },\n"
	      "    {\n"
	      "      \"dst\": \"10.5.4.0/24\",\n"
	      "      \"gateway\": \"10.5.4.0\",\n"
	      "      \"dev\": \"flannel.1\",\n"
	      "      \"onlink\": true,\n"
	      "      \"kernel\": {\n"
	      "        \"gateway\": \"192.0.2.9\",\n"
	      "        \"dev\": \"eth0\",\n"
	      "        \"onlink\": false\n"
	      "      },\n"
	      "      \"state\": \"different\"\n"
	      "    },\n"
	      "    {\n"
	      "      \"dst\": \"10.5.9.0/24\",\n"
	      "      \"gateway\": \"192.0.2.99\",\n"
	      "      \"dev\": \"eth0\",\n"
	      "      \"onlink\": false,\n"
	      "      \"state\": \"extra\"\n"
	      "    }\n"
	      "  ],\n"
	      "  \"active\": true,\n"
	      "  \"neighbours\": [\n"
	      "    {\n"
	      "      \"ip\": \"10.5.3.0\",\n"
	      "      \"mac\": \"0a:00:00:00:00:03\",\n"
	      "      \"state\": \"ok\"\n"
	      "    }\n"
	      "  ],\n"
	      "  \"fdb\": [\n"
	      "    {\n"
	      "      \"mac\": \"0a:00:00:00:00:03\",\n"
	      "      \"dst\": \"192.0.2.3\",\n"
	      "      \"state\": \"missing\"\n"
	      "    }\n"
	      "  ]\n"
	      "}\n",
	      "");
	/* host-gw, all in place */
	c->routes = "{\"routes\":[{\"dst\":\"10.5.3.0/24\",\"gateway\":\"192.0.2.3\","
		    "\"dev\":\"eth0\",\"onlink\":false,\"state\":\"ok\"}],\"active\":true}";
	check(c, NULL, ARGS("--socket", c->path, "routes"), 0,
	      "DESTINATION  GATEWAY    DEV   ONLINK  STATE  KERNEL\n"
	      "10.5.3.0/24  192.0.2.3  eth0  no      ok\n"
	      "\n"
	      "No drift: the kernel holds exactly what tartand keeps (1 entry)\n",
	      "");
	/* before the lease */
	c->routes = "{\"routes\":[],\"active\":false}";
	check(c, NULL, ARGS("--socket", c->path, "routes"), 0,
	      "tartand keeps no routes (yet): no lease held, or the alloc backend\n", "");
	c->routes = "{\"leases\":[]}";
	check(c, NULL, ARGS("--socket", c->path, "routes"), 1, "",
	      "tartanctl: routes: malformed answer from tartand\n");
	c->error = "unknown command 'routes'";
	check(c, NULL, ARGS("--socket", c->path, "routes"), 1, "",
	      "tartanctl: routes: unknown command 'routes'\n");
}

static void test_version(void **state)
{
	struct ctx *c = *state;

	/* no daemon needed */
	check(c, NULL, ARGS("version"), 0, "tartanctl " TARTAN_VERSION "\n", "");
	check(c, NULL, ARGS("--version"), 0, "tartanctl " TARTAN_VERSION "\n", "");
	check(c, NULL, ARGS("version", "--json"), 0,
	      "{\n  \"tartanctl\": \"" TARTAN_VERSION "\"\n}\n", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_text, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_status_json, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_status_files, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_leases, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_pods, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_error, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_not_root, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_not_reachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_answer_in_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes, setup_server, teardown),
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network_offline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
	};

	tartanctl = getenv("TARTANCTL");
	if (!tartanctl || access(tartanctl, X_OK) != 0) {
		fprintf(stderr, "test-tartanctl: set TARTANCTL to the tartanctl binary (got %s)\n",
			tartanctl ? tartanctl : "nothing");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
