/*
 * cairnd: parse the settings, refuse bad ones with one line, run the node.
 */
#include <stdio.h>

#include "config.h"
#include "node.h"

int main(int argc, char **argv)
{
	static struct config cfg;
	char err[256];
	if (config_load(&cfg, argc, argv, err) != 0) {
		fprintf(stderr, "cairnd: %s\n", err);
		return 2;
	}
	if (cfg.help) {
		config_usage(stdout);
		return 0;
	}
	return node_main(&cfg);
}
