/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/log.h"

/* A longer message is cut and ends with "...". The escaped line has its own
 * bound (escaping can make it four times longer), under PIPE_BUF so that one
 * write(2) to a pipe or the journal stream is never split. */
#define MSG_MAX 1024
#define LINE_MAX_BYTES 4000

static FILE *log_stream; /* NULL: stderr, looked up at each write */
static bool log_journal;
static enum tartan_log_level log_level = TARTAN_LOG_INFO;

static const char *const level_names[] = {
	"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug",
};

/* JOURNAL_STREAM is "DEV:INODE" in decimal, as systemd writes it */
static bool parse_journal_stream(const char *s, unsigned long long *ret_dev,
				 unsigned long long *ret_ino)
{
	unsigned long long dev, ino;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	dev = strtoull(s, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	ino = strtoull(end + 1, &end, 10);
	if (errno || *end)
		return false;
	*ret_dev = dev;
	*ret_ino = ino;
	return true;
}

void tartan_log_setup(FILE *stream, const char *journal_stream)
{
	unsigned long long dev, ino;
	int saved_errno = errno;
	struct stat st;
	int fd;

	log_stream = stream;
	log_journal = false;
	if (!parse_journal_stream(journal_stream, &dev, &ino))
		goto out;
	fd = fileno(stream ? stream : stderr);
	/* a memory stream has no file and so is never the journal */
	if (fd < 0 || fstat(fd, &st) < 0)
		goto out;
	log_journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
out:
	errno = saved_errno;
}

bool tartan_log_is_journal(void)
{
	return log_journal;
}

void tartan_log_set_level(enum tartan_log_level level)
{
	log_level = level;
}

enum tartan_log_level tartan_log_get_level(void)
{
	return log_level;
}

bool tartan_log_enabled(enum tartan_log_level level)
{
	return level <= log_level;
}

int tartan_log_level_from_string(const char *s, enum tartan_log_level *ret_level)
{
	static const enum tartan_log_level levels[] = {
		TARTAN_LOG_ERROR,
		TARTAN_LOG_WARNING,
		TARTAN_LOG_INFO,
		TARTAN_LOG_DEBUG,
	};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(s, level_names[levels[i]]) == 0) {
			*ret_level = levels[i];
			return 0;
		}
	}
	return -EINVAL;
}

const char *tartan_log_level_to_string(enum tartan_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[level];
}

/* Appends s to line (at *n, bounded by LINE_MAX_BYTES), control characters as \xNN. */
static void append_escaped(char *line, size_t *n, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f) {
			if (*n + 4 > LINE_MAX_BYTES)
				return;
			line[(*n)++] = '\\';
			line[(*n)++] = 'x';
			line[(*n)++] = hex[c >> 4];
			line[(*n)++] = hex[c & 15];
		} else {
			if (*n + 1 > LINE_MAX_BYTES)
				return;
			line[(*n)++] = (char)c;
		}
	}
}

static void log_write(enum tartan_log_level level, const char *msg, const char *suffix)
{
	FILE *f = log_stream ? log_stream : stderr;
	char line[LINE_MAX_BYTES + 2];
	size_t n;
	int r;

	if (log_journal)
		r = snprintf(line, sizeof(line), "<%d>", (int)level & 7);
	else
		r = snprintf(line, sizeof(line),
			     "tartand: %s: ", tartan_log_level_to_string(level));
	if (r < 0)
		return;
	n = (size_t)r;
	append_escaped(line, &n, msg);
	append_escaped(line, &n, suffix);
	line[n++] = '\n';
	/* one fwrite: one write(2) on unbuffered stderr, so lines do not interleave */
	fwrite(line, 1, n, f);
	fflush(f);
}

/* Formats fmt into msg; errno must still be the caller's for %m. */
static void format_message(char *msg, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void format_message(char *msg, size_t size, const char *fmt, va_list ap)
{
	int r = vsnprintf(msg, size, fmt, ap);
	size_t len;

	if (r < 0) {
		snprintf(msg, size, "(log format error: %s)", fmt);
		return;
	}
	len = strlen(msg);
	if ((size_t)r >= size && size > 4) {
		memcpy(msg + size - 4, "...", 4);
		return;
	}
	if (len > 0 && msg[len - 1] == '\n')
		msg[len - 1] = '\0';
}

void tartan_logv(enum tartan_log_level level, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	char msg[MSG_MAX];

	if (!tartan_log_enabled(level))
		return;
	format_message(msg, sizeof(msg), fmt, ap);
	log_write(level, msg, "");
	errno = saved_errno;
}

void tartan_log(enum tartan_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tartan_logv(level, fmt, ap);
	va_end(ap);
}

int tartan_log_errno(enum tartan_log_level level, int error, const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	/* INT_MIN has no positive counterpart; no errno is that large anyway */
	if (error == INT_MIN)
		error = EINVAL;
	else if (error < 0)
		error = -error;
	errno = error;
	va_start(ap, fmt);
	tartan_logv(level, fmt, ap);
	va_end(ap);
	errno = saved_errno;
	return -error;
}

bool tartan_ratelimit_ok(struct tartan_ratelimit *rl, uint64_t now_usec)
{
	if (rl->interval_usec == 0 || rl->burst == 0)
		return true;
	/* a new window after the old one ended; also if the caller's clock
	 * stepped back, which a monotonic clock never does, rather than stall */
	if (rl->num == 0 || now_usec < rl->begin_usec ||
	    now_usec - rl->begin_usec >= rl->interval_usec) {
		rl->begin_usec = now_usec;
		rl->num = 0;
	}
	if (rl->num < rl->burst) {
		rl->num++;
		return true;
	}
	if (rl->suppressed < UINT_MAX)
		rl->suppressed++;
	return false;
}

unsigned tartan_ratelimit_take_suppressed(struct tartan_ratelimit *rl)
{
	unsigned n = rl->suppressed;

	rl->suppressed = 0;
	return n;
}

void tartan_log_ratelimited(struct tartan_ratelimit *rl, uint64_t now_usec,
			    enum tartan_log_level level, const char *fmt, ...)
{
	int saved_errno = errno;
	char msg[MSG_MAX], suffix[64] = "";
	unsigned suppressed;
	va_list ap;

	if (!tartan_log_enabled(level) || !tartan_ratelimit_ok(rl, now_usec))
		return;
	suppressed = tartan_ratelimit_take_suppressed(rl);
	if (suppressed == 1)
		snprintf(suffix, sizeof(suffix), " (1 similar message suppressed)");
	else if (suppressed > 1)
		snprintf(suffix, sizeof(suffix), " (%u similar messages suppressed)", suppressed);
	va_start(ap, fmt);
	format_message(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(level, msg, suffix);
	errno = saved_errno;
}
