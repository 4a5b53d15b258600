/*
 * cairnd's log: one line per event on stderr,
 *   2026-11-27T18:40:01.123Z INFO  node=2 became leader in term 5
 * Thread-safe (one write(2) per line). Levels below the configured one are
 * dropped; elections, leader changes, peer connects and disconnects,
 * snapshots and errors are logged at info or above so they always show.
 */
#ifndef CAIRN_SERVER_LOG_H
#define CAIRN_SERVER_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(uint64_t node_id, enum log_level min_level);
/* "debug", "info", "warn", "error" -> level; -1 when unknown. */
int log_level_parse(const char *name);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
