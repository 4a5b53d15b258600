/*
 * cairnd's settings: one table (config.c) gives every setting its name,
 * kind, default and help, so the flags, the config file and `--help` can
 * never disagree. Precedence: defaults < config file < command line.
 */
#ifndef CAIRN_SERVER_CONFIG_H
#define CAIRN_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ADDR_MAX 96
#define CONFIG_MAX_MEMBERS 16

struct config_member {
	uint64_t id;
	char peer[CONFIG_ADDR_MAX];
};

struct config {
	uint64_t id;
	char api[CONFIG_ADDR_MAX];
	char peer[CONFIG_ADDR_MAX];
	char data[512];
	char members_text[2048];
	struct config_member members[CONFIG_MAX_MEMBERS];
	size_t n_members;
	char log_level[16];
	uint64_t election_timeout_ms;
	uint64_t heartbeat_ms;
	uint64_t request_timeout_ms;
	uint64_t max_value;
	uint64_t snapshot_entries;
	uint64_t max_connections;
	uint64_t segment_bytes;
	bool help;
	char config_file[512];
};

/* Fills *c from defaults, then the --config file (if given), then argv.
 * Returns 0, or -1 with a one-line reason in err (256 bytes). */
int config_load(struct config *c, int argc, char **argv, char *err);
/* Writes the --help text (every setting with its default) to f. */
void config_usage(void *file);

#endif
