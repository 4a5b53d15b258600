/*
 * cairnd's node: everything between the command line and the event loop.
 * node_main runs until SIGINT/SIGTERM and returns the process exit code.
 */
#ifndef CAIRN_SERVER_NODE_H
#define CAIRN_SERVER_NODE_H

#include "config.h"

int node_main(const struct config *cfg);

#endif
