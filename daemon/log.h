/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tartand's log: one line per message on stderr (or a stream set up by the
 * caller), filtered by level.
 *
 * Under systemd, stderr is a stream to journald: lines start with "<N>", the
 * syslog priority, which journald strips and stores as PRIORITY=, and which
 * carry no program name (journald records it). Otherwise lines read
 * "tartand: LEVEL: message". Control characters in a message (from etcd keys,
 * peers, pod names) are written as \xNN, so nothing a peer writes can start a
 * line of its own or forge a priority.
 *
 * Repeating failures (etcd down, netlink errors) go through a rate limiter
 * that the caller feeds with monotonic time, so tests drive it without clocks.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifndef _tartan_wur_
#define _tartan_wur_ __attribute__((warn_unused_result))
#endif

/* the syslog priorities (LOG_ERR, LOG_WARNING, ...), so "<N>" is the level itself */
enum tartan_log_level {
	TARTAN_LOG_ERROR = 3,
	TARTAN_LOG_WARNING = 4,
	TARTAN_LOG_INFO = 6,
	TARTAN_LOG_DEBUG = 7,
};

/*
 * Where lines go: stream (NULL: stderr) and whether it is journald's. The
 * journal format is used only when journal_stream (the value of the
 * JOURNAL_STREAM variable, or NULL) is "DEV:INODE" of the stream's file, as
 * systemd.exec(5) asks: a child whose stderr was redirected inherits the
 * variable but not the journal. Until this is called: stderr, plain lines.
 */
void tartan_log_setup(FILE *stream, const char *journal_stream);
/* true when lines get "<N>" priorities */
bool tartan_log_is_journal(void);

/* Messages above level (less severe) are dropped. Default: info. */
void tartan_log_set_level(enum tartan_log_level level);
enum tartan_log_level tartan_log_get_level(void);
bool tartan_log_enabled(enum tartan_log_level level);

/* "error", "warning", "info", "debug" */
int tartan_log_level_from_string(const char *s, enum tartan_log_level *ret_level) _tartan_wur_;
const char *tartan_log_level_to_string(enum tartan_log_level level);

/* printf-style, %m included (the caller's errno); errno is preserved. A
 * trailing newline in fmt is dropped: every call is exactly one line. */
void tartan_log(enum tartan_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tartan_logv(enum tartan_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Logs with errno set to |error| (so %m names it) and returns -|error|:
 *   return tartan_log_errno(TARTAN_LOG_ERROR, r, "bind %s: %m", path); */
int tartan_log_errno(enum tartan_log_level level, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define tartan_log_error(...) tartan_log(TARTAN_LOG_ERROR, __VA_ARGS__)
#define tartan_log_warning(...) tartan_log(TARTAN_LOG_WARNING, __VA_ARGS__)
#define tartan_log_info(...) tartan_log(TARTAN_LOG_INFO, __VA_ARGS__)
#define tartan_log_debug(...) tartan_log(TARTAN_LOG_DEBUG, __VA_ARGS__)

/*
 * At most burst events per interval: the first event opens a window of
 * interval_usec; the burst events after it pass, the rest are counted as
 * suppressed until the window ends. interval_usec 0 or burst 0: no limit.
 * Set interval_usec and burst (TARTAN_RATELIMIT_INIT); the rest is private
 * and starts zeroed.
 */
struct tartan_ratelimit {
	uint64_t interval_usec;
	unsigned burst;
	/* private */
	uint64_t begin_usec;
	unsigned num;	     /* events passed in the current window */
	unsigned suppressed; /* events refused since the last one that passed */
};

#define TARTAN_RATELIMIT_INIT(interval, n)                                                         \
	(struct tartan_ratelimit)                                                                  \
	{                                                                                          \
		.interval_usec = (interval), .burst = (n)                                          \
	}

/* now_usec: the caller's monotonic clock (ev_now() * 1e6 in the daemon) */
bool tartan_ratelimit_ok(struct tartan_ratelimit *rl, uint64_t now_usec);
/* How many events were refused since the last call; resets the count. */
unsigned tartan_ratelimit_take_suppressed(struct tartan_ratelimit *rl);

/*
 * tartan_log() through rl: dropped when rl refuses; the first line that
 * passes after refusals ends with " (N similar messages suppressed)".
 * Messages below the log level neither log nor use up rl.
 */
void tartan_log_ratelimited(struct tartan_ratelimit *rl, uint64_t now_usec,
			    enum tartan_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
