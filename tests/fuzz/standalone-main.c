/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small stand-in for libFuzzer's main(), linked into the fuzz targets when
 * they are not built with -fsanitize=fuzzer (gcc, -Dfuzzing=false), so the
 * test suite still drives every target:
 *
 *   fuzz-target [-runs=N] [-seed=S] [-max_len=L] FILE|DIR...
 *
 * Runs each corpus input once, then N (default 2000) deterministic
 * mutations of them: bit flips, byte changes, inserts, deletes, copies,
 * JSON-ish tokens and splices of two inputs. The same seed gives the same
 * inputs, so a failure reproduces with the same command line. Every input is
 * passed in a buffer of exactly its size, so sanitizers see over-reads. A
 * crash (signal) prints the input in hex and dies by the same signal.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, scandir */
#endif

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	uint8_t *data;
	size_t len;
};

static struct input *inputs;
static size_t n_inputs;

/* the input being run, for the crash handler */
static const uint8_t *volatile current;
static volatile size_t current_len;

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* async-signal-safe: only write() */
static void crash_handler(int sig)
{
	static const char hex[] = "0123456789abcdef";
	static const char head[] = "\nstandalone fuzz driver: crash on this input (hex):\n";
	char line[128];
	size_t n = 0;

	write_all(head, sizeof(head) - 1);
	for (size_t i = 0; current && i < current_len; i++) {
		line[n++] = hex[current[i] >> 4];
		line[n++] = hex[current[i] & 15];
		if (n >= 64 || i + 1 == current_len) {
			line[n++] = '\n';
			write_all(line, n);
			n = 0;
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run_one(const uint8_t *data, size_t len)
{
	/* an exact-size copy so reads past the end are caught */
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if (len)
		memcpy(copy, data, len);
	current = copy;
	current_len = len;
	LLVMFuzzerTestOneInput(copy, len);
	current = NULL;
	free(copy);
}

static int add_input(uint8_t *data, size_t len)
{
	struct input *n = realloc(inputs, (n_inputs + 1) * sizeof(*inputs));

	if (!n)
		return -ENOMEM;
	inputs = n;
	inputs[n_inputs].data = data;
	inputs[n_inputs].len = len;
	n_inputs++;
	return 0;
}

static int load_file(const char *path, size_t max_len)
{
	uint8_t *data = NULL;
	size_t len = 0;
	FILE *f;
	int r = 0;

	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	data = malloc(max_len ? max_len : 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	len = fread(data, 1, max_len, f);
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		r = -EIO;
		goto out;
	}
	r = add_input(data, len);
	if (r == 0)
		data = NULL;
out:
	free(data);
	fclose(f);
	return r;
}

static int load_path(const char *path, size_t max_len)
{
	struct dirent **names;
	struct stat st;
	int n, r = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return load_file(path, max_len);

	/* sorted, so that the run does not depend on directory order */
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		char *sub;

		if (r == 0 && names[i]->d_name[0] != '.') {
			if (asprintf(&sub, "%s/%s", path, names[i]->d_name) < 0) {
				r = -ENOMEM;
			} else {
				r = load_path(sub, max_len);
				free(sub);
			}
		}
		free(names[i]);
	}
	free(names);
	return r;
}

/* splitmix64: small, fast, and the same sequence everywhere */
static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

/* pieces of etcd answers that random bytes rarely make */
static const char *const tokens[] = {
	"{",
	"}",
	"[",
	"]",
	"\"",
	",",
	":",
	"null",
	"true",
	"false",
	"0",
	"-1",
	"\"\"",
	"=",
	"==",
	"\\u0000",
	"\\",
	"{}",
	"[]",
	"\"0\"",
	"\"-1\"",
	"1e3",
	"9223372036854775808",
	"18446744073709551616",
	"\"header\":",
	"\"kvs\":[",
	"\"key\":\"L25sZC9h\"",
	"\"value\":\"djE=\"",
	"\"result\":{",
	"\"error\":{",
	"\"events\":[",
	"\"responses\":[",
	"\"response_txn\":{",
	"\"type\":\"DELETE\"",
	"\"prev_kv\":{",
	"\"TTL\":\"-1\"",
	"\"code\":3",
};

/* make room for n bytes at pos; the caller checked that len + n <= cap */
static void open_gap(uint8_t *buf, size_t len, size_t pos, size_t n)
{
	if (pos < len)
		memmove(buf + pos + n, buf + pos, len - pos);
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
	size_t pos, n;

	switch (rng_below(9)) {
	case 0: /* flip a bit */
		if (len)
			buf[rng_below(len)] ^= (uint8_t)(1u << rng_below(8));
		break;
	case 1: /* replace a byte */
		if (len)
			buf[rng_below(len)] = (uint8_t)rng();
		break;
	case 2: /* insert a byte */
		if (len < cap) {
			pos = rng_below(len + 1);
			open_gap(buf, len, pos, 1);
			buf[pos] = (uint8_t)rng();
			len++;
		}
		break;
	case 3: /* delete a few bytes */
		if (len) {
			pos = rng_below(len);
			n = 1 + rng_below(len - pos < 8 ? len - pos : 8);
			memmove(buf + pos, buf + pos + n, len - pos - n);
			len -= n;
		}
		break;
	case 4: /* copy a chunk of the input into another place */
		if (len) {
			size_t from = rng_below(len);

			n = 1 + rng_below(len - from);
			if (n > cap - len)
				n = cap - len;
			pos = rng_below(len + 1);
			open_gap(buf, len, pos, n);
			memmove(buf + pos, buf + (from >= pos ? from + n : from), n);
			len += n;
		}
		break;
	case 5: { /* insert a token */
		const char *t = tokens[rng_below(sizeof(tokens) / sizeof(tokens[0]))];

		n = strlen(t);
		if (n <= cap - len) {
			pos = rng_below(len + 1);
			open_gap(buf, len, pos, n);
			memcpy(buf + pos, t, n);
			len += n;
		}
		break;
	}
	case 6: { /* splice: our head, another input's tail */
		const struct input *o = &inputs[rng_below(n_inputs)];
		size_t from = rng_below(o->len + 1);

		pos = rng_below(len + 1);
		n = o->len - from;
		if (n > cap - pos)
			n = cap - pos;
		if (n)
			memcpy(buf + pos, o->data + from, n);
		len = pos + n;
		break;
	}
	case 7: /* truncate */
		len = rng_below(len + 1);
		break;
	default: /* a byte becomes a digit, quote or brace */
		if (len)
			buf[rng_below(len)] = (uint8_t) "0123456789\"{}[],:-=A/+"[rng_below(22)];
		break;
	}
	return len;
}

static bool parse_size(const char *arg, const char *name, size_t *ret)
{
	size_t n = strlen(name);
	char *end;

	if (strncmp(arg, name, n) != 0)
		return false;
	errno = 0;
	*ret = (size_t)strtoull(arg + n, &end, 10);
	if (errno || *end || end == arg + n) {
		fprintf(stderr, "bad number in %s\n", arg);
		exit(2);
	}
	return true;
}

int main(int argc, char **argv)
{
	size_t runs = 2000, seed = 1, max_len = 65536, len = 0;
	static const int signals[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
	uint8_t *buf;

	for (int i = 1; i < argc; i++) {
		if (parse_size(argv[i], "-runs=", &runs) || parse_size(argv[i], "-seed=", &seed) ||
		    parse_size(argv[i], "-max_len=", &max_len))
			continue;
		if (argv[i][0] == '-') {
			fprintf(stderr, "ignoring unknown option %s\n", argv[i]);
			continue;
		}
		if (load_path(argv[i], max_len) < 0)
			return 2;
	}
	if (max_len == 0)
		max_len = 1;
	if (n_inputs == 0 && add_input(NULL, 0) < 0)
		return 2;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		signal(signals[i], crash_handler);

	for (size_t i = 0; i < n_inputs; i++)
		run_one(inputs[i].data, inputs[i].len);

	buf = malloc(max_len);
	if (!buf)
		return 2;
	rng_state = seed;
	for (size_t i = 0; i < runs; i++) {
		/* mostly a fresh corpus input, sometimes stack on the last one */
		if (i == 0 || rng_below(4) != 0) {
			const struct input *in = &inputs[rng_below(n_inputs)];

			len = in->len < max_len ? in->len : max_len;
			if (len)
				memcpy(buf, in->data, len);
		}
		for (size_t m = 1 + rng_below(4); m > 0; m--)
			len = mutate(buf, len, max_len);
		run_one(buf, len);
	}
	printf("standalone fuzz driver: %zu corpus inputs and %zu mutations (seed %zu) ran without a "
	       "crash\n",
	       n_inputs, runs, seed);

	free(buf);
	for (size_t i = 0; i < n_inputs; i++)
		free(inputs[i].data);
	free(inputs);
	return 0;
}
