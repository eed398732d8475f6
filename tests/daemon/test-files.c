/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for daemon/files.c on a temporary directory with a real libev loop and real
 * inotify: a file deleted, edited, chmod'ed, its directory removed or moved is written
 * again; tartand's own writes do not loop; other files are never touched; a skipped file is
 * never written; a failed write is an error state until it works.
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
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/files.h"
#include "daemon/log.h"
#include "netcfg/file.h"

#define CONTENT "{\"cniVersion\":\"1.0.0\"}\n"
#define OTHER "FLANNEL_SUBNET=10.5.7.1/24\n"

struct fixture {
	char dir[64];	 /* the temp dir */
	char confs[128]; /* dir/net.d */
	char conflist[160], kubenet[160], env[160];
	struct ev_loop *loop;
	struct tartan_files *f;
};

static int setup(void **state)
{
	struct fixture *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/tartan-test-files-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->confs, sizeof(t->confs), "%s/net.d", t->dir);
	snprintf(t->conflist, sizeof(t->conflist), "%s/10-tartan.conflist", t->confs);
	snprintf(t->kubenet, sizeof(t->kubenet), "%s/20-kubenet.conf", t->confs);
	snprintf(t->env, sizeof(t->env), "%s/subnet.env", t->dir);
	t->loop = ev_loop_new(EVFLAG_AUTO);
	if (!t->loop || tartan_files_new(t->loop, 3600, &t->f) < 0)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *t = *state;
	char cmd[128];

	tartan_files_free(t->f);
	ev_loop_destroy(t->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

/* --- helpers ------------------------------------------------------------------------- */

struct wait {
	bool (*done)(void *arg);
	void *arg;
	bool ok;
};

static void poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct wait *wt = w->data;

	if (wt->done && wt->done(wt->arg)) {
		wt->ok = true;
		ev_break(loop, EVBREAK_ONE);
	}
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ONE);
}

/* runs the loop until done(arg) holds (true) or seconds pass (false); done NULL: just runs */
static bool run_until(struct fixture *t, bool (*done)(void *), void *arg, double seconds)
{
	struct wait wt = { .done = done, .arg = arg };
	ev_timer poll, deadline;

	ev_timer_init(&poll, poll_cb, 0.01, 0.01);
	poll.data = &wt;
	ev_timer_init(&deadline, deadline_cb, seconds, 0.);
	ev_timer_start(t->loop, &poll);
	ev_timer_start(t->loop, &deadline);
	ev_now_update(t->loop);
	ev_run(t->loop, 0);
	ev_timer_stop(t->loop, &poll);
	ev_timer_stop(t->loop, &deadline);
	return wt.ok;
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len;

	return tartan_file_read(path, 65536, &buf, &len) < 0 ? NULL : buf;
}

static bool holds(const char *path, const char *want)
{
	char *got = slurp(path);
	struct stat st;
	bool same = got && strcmp(got, want) == 0 && stat(path, &st) == 0 &&
		    (st.st_mode & 07777) == 0644;

	free(got);
	return same;
}

struct want_file {
	const char *path, *content;
};

static bool file_is_back(void *arg)
{
	const struct want_file *w = arg;

	return holds(w->path, w->content);
}

static ino_t inode(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_ino : 0;
}

static void put(const char *path, const char *content)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(content, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* "state restored error" of kind in the status JSON, e.g. "ok 1 -" */
static void expect_state(struct fixture *t, const char *kind, const char *want)
{
	json_t *list = NULL, *e;
	char got[160] = "(none)";
	size_t i;

	assert_int_equal(tartan_files_json(t->f, &list), 0);
	json_array_foreach(list, i, e)
		if (strcmp(json_string_value(json_object_get(e, "kind")), kind) == 0)
			snprintf(got, sizeof(got), "%s %" JSON_INTEGER_FORMAT " %s",
				 json_string_value(json_object_get(e, "state")),
				 json_integer_value(json_object_get(e, "restored")),
				 json_is_string(json_object_get(e, "error")) ?
					 json_string_value(json_object_get(e, "error")) :
					 "-");
	json_decref(list);
	if (strcmp(got, want) != 0)
		print_error("%s: expected \"%s\", got \"%s\"\n", kind, want, got);
	assert_string_equal(got, want);
}

static void add_and_set(struct fixture *t)
{
	bool changed = false;

	assert_int_equal(tartan_files_add(t->f, "conflist", t->conflist, 0644, false), 0);
	assert_int_equal(tartan_files_add(t->f, "subnet-env", t->env, 0644, false), 0);
	assert_int_equal(tartan_files_set(t->f, "conflist", CONTENT, strlen(CONTENT), &changed), 0);
	assert_true(changed);
	assert_int_equal(tartan_files_set(t->f, "subnet-env", OTHER, strlen(OTHER), &changed), 0);
	assert_true(changed);
	assert_true(holds(t->conflist, CONTENT));
	assert_true(holds(t->env, OTHER));
}

/* --- tests --------------------------------------------------------------------------- */

static void test_pending_then_written(void **state)
{
	struct fixture *t = *state;
	bool changed = true;
	ino_t ino;

	assert_int_equal(tartan_files_add(t->f, "conflist", t->conflist, 0644, false), 0);
	expect_state(t, "conflist", "pending 0 -");
	/* nothing known, nothing written: the conf dir is not even made */
	tartan_files_check(t->f);
	assert_int_equal(access(t->confs, F_OK), -1);
	assert_int_equal(tartan_files_set(t->f, "conflist", CONTENT, strlen(CONTENT), &changed), 0);
	assert_true(changed);
	assert_true(holds(t->conflist, CONTENT));
	expect_state(t, "conflist", "ok 0 -");
	assert_string_equal(tartan_files_path(t->f, "conflist"), t->conflist);
	/* the same content again: nothing written, the inode stays */
	ino = inode(t->conflist);
	assert_int_equal(tartan_files_set(t->f, "conflist", CONTENT, strlen(CONTENT), &changed), 0);
	assert_false(changed);
	assert_int_equal(inode(t->conflist), ino);
	/* new content is tartand's own change, not a restoration */
	assert_int_equal(tartan_files_set(t->f, "conflist", OTHER, strlen(OTHER), &changed), 0);
	assert_true(changed);
	assert_true(holds(t->conflist, OTHER));
	expect_state(t, "conflist", "ok 0 -");
}

static void test_own_writes_do_not_loop(void **state)
{
	struct fixture *t = *state;
	ino_t a, b;

	add_and_set(t);
	a = inode(t->conflist);
	b = inode(t->env);
	/* the watch reports our renames: a check finds them in place and stops there */
	run_until(t, NULL, NULL, 0.5);
	assert_int_equal(inode(t->conflist), a);
	assert_int_equal(inode(t->env), b);
	expect_state(t, "conflist", "ok 0 -");
	expect_state(t, "subnet-env", "ok 0 -");
}

static void test_deleted_edited_chmoded(void **state)
{
	struct fixture *t = *state;
	struct want_file w = { t->conflist, CONTENT }, e = { t->env, OTHER };

	add_and_set(t);
	assert_int_equal(unlink(t->conflist), 0);
	assert_true(run_until(t, file_is_back, &w, 2.));
	expect_state(t, "conflist", "ok 1 -");
	/* edited in place */
	put(t->conflist, "{}\n");
	assert_true(run_until(t, file_is_back, &w, 2.));
	expect_state(t, "conflist", "ok 2 -");
	/* replaced by a rename, as editors and runtimes write */
	put(t->kubenet, "{\"other\":1}\n");
	assert_int_equal(rename(t->kubenet, t->conflist), 0);
	assert_true(run_until(t, file_is_back, &w, 2.));
	expect_state(t, "conflist", "ok 3 -");
	/* the mode alone */
	assert_int_equal(chmod(t->env, 0600), 0);
	assert_true(run_until(t, file_is_back, &e, 2.));
	expect_state(t, "subnet-env", "ok 1 -");
	/* a symlink in its place is replaced by the file */
	assert_int_equal(unlink(t->env), 0);
	assert_int_equal(symlink(t->conflist, t->env), 0);
	assert_true(run_until(t, file_is_back, &e, 2.));
	assert_int_equal(inode(t->env) != inode(t->conflist), 1);
	expect_state(t, "subnet-env", "ok 2 -");
	expect_state(t, "conflist", "ok 3 -");
}

static bool both_back(void *arg)
{
	struct fixture *t = arg;

	return holds(t->conflist, CONTENT) && holds(t->kubenet, OTHER);
}

static void test_dir_removed_and_moved(void **state)
{
	struct fixture *t = *state;
	char moved[160], cmd[256];

	assert_int_equal(tartan_files_add(t->f, "conflist", t->conflist, 0644, false), 0);
	assert_int_equal(tartan_files_add(t->f, "kubenet-conf", t->kubenet, 0644, false), 0);
	assert_int_equal(tartan_files_set(t->f, "conflist", CONTENT, strlen(CONTENT), NULL), 0);
	assert_int_equal(tartan_files_set(t->f, "kubenet-conf", OTHER, strlen(OTHER), NULL), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->confs);
	assert_int_equal(system(cmd), 0);
	assert_true(run_until(t, both_back, t, 2.));
	expect_state(t, "conflist", "ok 1 -");
	expect_state(t, "kubenet-conf", "ok 1 -");
	/* the watch is on the new directory: a deletion there is seen */
	assert_int_equal(unlink(t->kubenet), 0);
	assert_true(run_until(t, both_back, t, 2.));
	expect_state(t, "kubenet-conf", "ok 2 -");
	/* moved away: the watch follows the old directory, which is no longer ours */
	snprintf(moved, sizeof(moved), "%s/net.d.old", t->dir);
	assert_int_equal(rename(t->confs, moved), 0);
	assert_true(run_until(t, both_back, t, 2.));
	expect_state(t, "conflist", "ok 2 -");
	/* what was moved away is left as it is */
	snprintf(cmd, sizeof(cmd), "%s/10-tartan.conflist", moved);
	assert_int_equal(unlink(cmd), 0);
	run_until(t, NULL, NULL, 0.3);
	assert_int_equal(access(cmd, F_OK), -1);
	expect_state(t, "conflist", "ok 2 -");
	assert_true(both_back(t));
}

static void test_foreign_files_untouched(void **state)
{
	struct fixture *t = *state;
	char lock[160], other[160], backup[160];
	ino_t ino;

	add_and_set(t);
	snprintf(lock, sizeof(lock), "%s/cni.lock", t->confs);
	snprintf(other, sizeof(other), "%s/99-other.conflist", t->confs);
	snprintf(backup, sizeof(backup), "%s/subnet.env.bak", t->dir);
	ino = inode(t->conflist);
	put(lock, "");
	put(other, "{\"name\":\"other\"}\n");
	assert_int_equal(chmod(other, 0600), 0);
	put(backup, "FLANNEL_SUBNET=10.5.9.1/24\n");
	assert_int_equal(unlink(lock), 0);
	put(lock, "held\n");
	run_until(t, NULL, NULL, 0.4);
	assert_true(holds(t->conflist, CONTENT));
	assert_int_equal(inode(t->conflist), ino);
	expect_state(t, "conflist", "ok 0 -");
	{
		char *a = slurp(lock), *b = slurp(other);
		struct stat st;

		assert_string_equal(a, "held\n");
		assert_string_equal(b, "{\"name\":\"other\"}\n");
		assert_int_equal(stat(other, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		free(a);
		free(b);
	}
}

static void test_skipped(void **state)
{
	struct fixture *t = *state;
	bool changed = true;

	assert_int_equal(tartan_files_add(t->f, "conflist", t->conflist, 0644, true), 0);
	assert_int_equal(tartan_files_add(t->f, "subnet-env", t->env, 0644, false), 0);
	expect_state(t, "conflist", "skipped 0 -");
	assert_int_equal(tartan_files_set(t->f, "conflist", CONTENT, strlen(CONTENT), &changed), 0);
	assert_false(changed);
	assert_int_equal(access(t->conflist, F_OK), -1);
	assert_int_equal(tartan_files_set(t->f, "subnet-env", OTHER, strlen(OTHER), NULL), 0);
	/* the operator's own file stays as written, and so does its deletion */
	assert_int_equal(mkdir(t->confs, 0700), 0);
	put(t->conflist, "mine\n");
	run_until(t, NULL, NULL, 0.3);
	tartan_files_check(t->f);
	{
		char *got = slurp(t->conflist);

		assert_string_equal(got, "mine\n");
		free(got);
	}
	assert_int_equal(unlink(t->conflist), 0);
	run_until(t, NULL, NULL, 0.3);
	tartan_files_check(t->f);
	assert_int_equal(access(t->conflist, F_OK), -1);
	expect_state(t, "conflist", "skipped 0 -");
	expect_state(t, "subnet-env", "ok 0 -");
}

static void test_error_until_it_works(void **state)
{
	struct fixture *t = *state;
	char blocker[160], env[200], want[256];
	bool changed = true;

	/* a file where the directory should be: ENOTDIR, whoever runs the test */
	snprintf(blocker, sizeof(blocker), "%s/run", t->dir);
	snprintf(env, sizeof(env), "%s/flannel/subnet.env", blocker);
	put(blocker, "");
	assert_int_equal(tartan_files_add(t->f, "subnet-env", env, 0644, false), 0);
	assert_null(tartan_files_error(t->f));
	/* the content is held all the same, and the failure is the file's state */
	assert_int_equal(tartan_files_set(t->f, "subnet-env", OTHER, strlen(OTHER), &changed), 0);
	assert_false(changed);
	expect_state(t, "subnet-env", "error 0 Not a directory");
	snprintf(want, sizeof(want), "%s: Not a directory", env);
	assert_non_null(tartan_files_error(t->f));
	assert_string_equal(tartan_files_error(t->f), want);
	assert_int_equal(unlink(blocker), 0);
	tartan_files_check(t->f);
	assert_true(holds(env, OTHER));
	expect_state(t, "subnet-env", "ok 0 -");
	assert_null(tartan_files_error(t->f));
}

/* an ancestor renamed: no event reaches the watch, the resync puts the file back */
static void test_resync(void **state)
{
	struct fixture *t = *state;
	struct tartan_files *f = NULL;
	char parent[160], moved[160], env[200];
	struct want_file w = { env, OTHER };

	tartan_files_free(t->f);
	assert_int_equal(tartan_files_new(t->loop, 1, &f), 0);
	t->f = f;
	snprintf(parent, sizeof(parent), "%s/run", t->dir);
	snprintf(moved, sizeof(moved), "%s/run.old", t->dir);
	snprintf(env, sizeof(env), "%s/flannel/subnet.env", parent);
	assert_int_equal(tartan_files_add(t->f, "subnet-env", env, 0644, false), 0);
	assert_int_equal(tartan_files_set(t->f, "subnet-env", OTHER, strlen(OTHER), NULL), 0);
	assert_int_equal(rename(parent, moved), 0);
	assert_true(run_until(t, file_is_back, &w, 3.));
	expect_state(t, "subnet-env", "ok 1 -");
	/* and watched again, on the new directory */
	assert_int_equal(unlink(env), 0);
	assert_true(run_until(t, file_is_back, &w, 3.));
	expect_state(t, "subnet-env", "ok 2 -");
}

static void test_api_errors(void **state)
{
	struct fixture *t = *state;
	bool changed = true;

	assert_int_equal(tartan_files_add(t->f, "conflist", "relative/x", 0644, false), -EINVAL);
	assert_int_equal(tartan_files_add(t->f, "conflist", "/tmp/", 0644, false), -EINVAL);
	assert_int_equal(tartan_files_add(t->f, "conflist", "/tmp/..", 0644, false), -EINVAL);
	assert_int_equal(tartan_files_add(t->f, "conflist", t->conflist, 010000, false), -EINVAL);
	assert_int_equal(tartan_files_add(t->f, "conflist", t->conflist, 0644, false), 0);
	assert_int_equal(tartan_files_add(t->f, "conflist", t->env, 0644, false), -EEXIST);
	assert_int_equal(tartan_files_set(t->f, "rkt-conf", "x", 1, &changed), -ENOENT);
	assert_true(changed); /* untouched on error */
	assert_int_equal(tartan_files_set(t->f, "conflist", NULL, 1, NULL), -EINVAL);
	for (int i = 1; i < TARTAN_FILES_MAX; i++) {
		char kind[16];

		snprintf(kind, sizeof(kind), "k%d", i);
		assert_int_equal(tartan_files_add(t->f, kind, t->env, 0644, false), 0);
	}
	assert_int_equal(tartan_files_add(t->f, "one-more", t->env, 0644, false), -ENOSPC);
	assert_null(tartan_files_path(t->f, "none"));
	tartan_files_free(NULL);
	tartan_files_check(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pending_then_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_writes_do_not_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_edited_chmoded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_removed_and_moved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_files_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_until_it_works, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_errors, setup, teardown),
	};

	/* the module's log lines would interleave with TAP: only errors, to stderr */
	tartan_log_set_level(TARTAN_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
