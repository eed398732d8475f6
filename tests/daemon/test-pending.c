/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of daemon/pending.c, the pending-DEL directory: a record is applied once and
 * removed; one whose DEL fails is kept and reported (-EAGAIN), so that an ADD of the same
 * attachment is not answered before it, and it does not hold up the other records; a file
 * under an attachment's name that is no record is moved aside, never applied; a directory
 * that does not exist holds nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/pending.h"

struct fixture {
	char dir[64];
	struct tartan_pending *pd;
	int calls;     /* apply() calls */
	int answer;    /* what apply() returns */
	char last[32]; /* the id of the last record applied */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-pending.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(tartan_pending_new(f->dir, &f->pd), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	tartan_pending_free(f->pd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int apply(const struct tartan_cni_pending *rec, const char *path, void *userdata)
{
	struct fixture *f = userdata;

	f->calls++;
	snprintf(f->last, sizeof(f->last), "%s", rec->id);
	return f->answer;
}

/* the path of the file named name in the fixture's directory */
static const char *at(const struct fixture *f, const char *name)
{
	static char path[160];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return path;
}

/* a record as the plugin writes it, under its attachment's name; that name in ret_name */
static void put_record(const struct fixture *f, const char *id, const char *text,
		       char ret_name[TARTAN_CNI_PENDING_NAME_SIZE])
{
	char json[512];
	FILE *fp;

	tartan_cni_pending_name(id, "eth0", ret_name);
	if (!text) {
		snprintf(json, sizeof(json),
			 "{\"containerID\":\"%s\",\"ifName\":\"eth0\",\"cniVersion\":\"1.0.0\","
			 "\"config\":{\"cniVersion\":\"1.0.0\",\"name\":\"tartan\",\"type\":"
			 "\"tartan\"}}",
			 id);
		text = json;
	}
	fp = fopen(at(f, ret_name), "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void test_apply_one(void **state)
{
	struct fixture *f = *state;
	char name[TARTAN_CNI_PENDING_NAME_SIZE];

	/* none: nothing applied */
	assert_int_equal(tartan_pending_apply_one(f->pd, "c1", "eth0", apply, f), 0);
	assert_int_equal(f->calls, 0);

	/* its DEL fails: kept, and said so, so that the ADD waits for it */
	put_record(f, "c1", NULL, name);
	f->answer = -EIO;
	assert_int_equal(tartan_pending_apply_one(f->pd, "c1", "eth0", apply, f), -EAGAIN);
	assert_int_equal(f->calls, 1);
	assert_int_equal(access(at(f, name), F_OK), 0);

	/* it works now: applied once, removed */
	f->answer = 0;
	assert_int_equal(tartan_pending_apply_one(f->pd, "c1", "eth0", apply, f), 1);
	assert_int_equal(f->calls, 2);
	assert_string_equal(f->last, "c1");
	assert_int_equal(access(at(f, name), F_OK), -1);
	assert_int_equal(tartan_pending_apply_one(f->pd, "c1", "eth0", apply, f), 0);
	assert_int_equal(f->calls, 2);
}

static void test_not_a_record(void **state)
{
	struct fixture *f = *state;
	char name[TARTAN_CNI_PENDING_NAME_SIZE], bad[64];

	/* under the attachment's name, but no record: moved aside, never applied */
	put_record(f, "c2", "{\"containerID\":\"c2\"", name);
	assert_int_equal(tartan_pending_apply_one(f->pd, "c2", "eth0", apply, f), 0);
	assert_int_equal(f->calls, 0);
	assert_int_equal(access(at(f, name), F_OK), -1);
	snprintf(bad, sizeof(bad), "%s.bad", name);
	assert_int_equal(access(at(f, bad), F_OK), 0);

	/* the apply function refuses the attachment: moved aside too */
	put_record(f, "c3", NULL, name);
	f->answer = -EINVAL;
	assert_int_equal(tartan_pending_apply_one(f->pd, "c3", "eth0", apply, f), 0);
	snprintf(bad, sizeof(bad), "%s.bad", name);
	assert_int_equal(access(at(f, bad), F_OK), 0);
}

static void test_apply_all(void **state)
{
	struct fixture *f = *state;
	char a[TARTAN_CNI_PENDING_NAME_SIZE], b[TARTAN_CNI_PENDING_NAME_SIZE];

	put_record(f, "ca", NULL, a);
	put_record(f, "cb", NULL, b);
	/* every DEL fails: both tried, both kept, the directory read whole */
	f->answer = -EIO;
	assert_int_equal(tartan_pending_apply_all(f->pd, apply, f), 0);
	assert_int_equal(f->calls, 2);
	assert_int_equal(access(at(f, a), F_OK), 0);
	assert_int_equal(access(at(f, b), F_OK), 0);
	f->answer = 0;
	assert_int_equal(tartan_pending_apply_all(f->pd, apply, f), 2);
	assert_int_equal(access(at(f, a), F_OK), -1);
	assert_int_equal(access(at(f, b), F_OK), -1);
}

static void test_no_directory(void **state)
{
	struct tartan_pending *pd = NULL;

	assert_int_equal(tartan_pending_new("/nonexistent/tartan-pending", &pd), 0);
	assert_int_equal(tartan_pending_apply_all(pd, apply, NULL), 0);
	assert_int_equal(tartan_pending_apply_one(pd, "c1", "eth0", apply, NULL), 0);
	tartan_pending_free(pd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_all, setup, teardown),
		cmocka_unit_test(test_no_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
