/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of daemon/podrecords.c, the pod records under <state-dir>/pods: a record written is
 * read back with the pod's names from CNI_ARGS (implausible names left out), removed, and
 * walked; the walk skips what is not a record under its own name; the host end's name and
 * the pod's label are what the log lines, tartanctl and tests/lib/churn.py expect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/podrecords.h"

/* FNV-1a 64 of "ctr-1/eth0", as python computes it */
#define CTR1_FILE "b6b15623ac90703e.json"

struct fixture {
	char dir[64];
	char pods[96];
	struct tartan_podrecords *rec;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-podrecords.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->pods, sizeof(f->pods), "%s/pods", f->dir);
	assert_int_equal(tartan_podrecords_new(f->dir, &f->rec), 0);
	*state = f;
	return 0;
}

static void rm_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char p[512];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (unlink(p) < 0)
			rm_dir(p);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tartan_podrecords_free(f->rec);
	rm_dir(f->dir);
	free(f);
	return 0;
}

static void put(const struct fixture *f, const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->pods, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_write_read_remove(void **state)
{
	struct fixture *f = *state;
	char path[256];
	json_t *o;

	tartan_podrecords_write(f->rec, "ctr-1", "eth0",
				"IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns-1");
	snprintf(path, sizeof(path), "%s/" CTR1_FILE, f->pods);
	if (access(path, F_OK) < 0)
		fail_msg("expected the record at %s: %s", path, strerror(errno));
	o = tartan_podrecords_read(f->rec, "ctr-1", "eth0");
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "containerID")), "ctr-1");
	assert_string_equal(json_string_value(json_object_get(o, "ifName")), "eth0");
	assert_string_equal(json_string_value(json_object_get(o, "namespace")), "kube-system");
	assert_string_equal(json_string_value(json_object_get(o, "name")), "dns-1");
	json_decref(o);
	/* another attachment of the same container has no record */
	assert_null(tartan_podrecords_read(f->rec, "ctr-1", "eth1"));
	tartan_podrecords_remove(f->rec, "ctr-1", "eth0");
	assert_null(tartan_podrecords_read(f->rec, "ctr-1", "eth0"));
	/* removing what is not there is fine */
	tartan_podrecords_remove(f->rec, "ctr-1", "eth0");
}

static void test_names_not_kept(void **state)
{
	struct fixture *f = *state;
	json_t *o;

	/* a name with a space, and no args at all: the record is there, without names */
	tartan_podrecords_write(f->rec, "ctr-2", "eth0", "K8S_POD_NAME=a b;K8S_POD_NAMESPACE=");
	tartan_podrecords_write(f->rec, "ctr-3", "eth0", NULL);
	o = tartan_podrecords_read(f->rec, "ctr-2", "eth0");
	assert_non_null(o);
	assert_null(json_string_value(json_object_get(o, "name")));
	assert_null(json_string_value(json_object_get(o, "namespace")));
	json_decref(o);
	o = tartan_podrecords_read(f->rec, "ctr-3", "eth0");
	assert_non_null(o);
	assert_null(json_string_value(json_object_get(o, "name")));
	json_decref(o);
}

static int collect(const char *id, const char *ifname, void *userdata)
{
	char *seen = userdata;

	snprintf(seen + strlen(seen), 256 - strlen(seen), "%s/%s;", id, ifname);
	return 0;
}

static int stop(const char *id, const char *ifname, void *userdata)
{
	(void)id;
	(void)ifname;
	(*(int *)userdata)++;
	return -EIO;
}

static void test_foreach(void **state)
{
	struct fixture *f = *state;
	char seen[256] = "";
	int calls = 0;

	/* no folder yet: nothing to walk */
	assert_int_equal(tartan_podrecords_foreach(f->rec, collect, seen), 0);
	assert_string_equal(seen, "");
	tartan_podrecords_write(f->rec, "ctr-1", "eth0", NULL);
	/* a record under another name, a file that is no record, a temp file: left alone */
	put(f, "0000000000000000.json", "{\"containerID\":\"ctr-9\",\"ifName\":\"eth0\"}");
	put(f, "1111111111111111.json", "not json");
	put(f, ".tmp.json", "{\"containerID\":\"ctr-8\",\"ifName\":\"eth0\"}");
	assert_int_equal(tartan_podrecords_foreach(f->rec, collect, seen), 0);
	assert_string_equal(seen, "ctr-1/eth0;");
	/* the callback's error stops the walk and is returned */
	tartan_podrecords_write(f->rec, "ctr-2", "eth0", NULL);
	assert_int_equal(tartan_podrecords_foreach(f->rec, stop, &calls), -EIO);
	assert_int_equal(calls, 1);
}

static void test_host_ifname(void **state)
{
	char host[IF_NAMESIZE];

	(void)state;
	/* veth + FNV-1a 32 of "id/ifname" (tests/lib/churn.py computes the same) */
	tartan_podrecords_host_ifname("ctr-1", "eth0", host);
	assert_string_equal(host, "veth4706565e");
}

static void test_label(void **state)
{
	char label[TARTAN_PODRECORDS_LABEL_MAX];

	(void)state;
	tartan_podrecords_label("K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0", label,
				sizeof(label));
	assert_string_equal(label, "default/web-0");
	tartan_podrecords_label("K8S_POD_NAME=web-0", label, sizeof(label));
	assert_string_equal(label, "web-0");
	tartan_podrecords_label("K8S_POD_NAMESPACE=default", label, sizeof(label));
	assert_string_equal(label, "-");
	tartan_podrecords_label(NULL, label, sizeof(label));
	assert_string_equal(label, "-");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_not_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test(test_host_ifname),
		cmocka_unit_test(test_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
