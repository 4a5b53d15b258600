/*
 * Internal to raftcore and its tests: the two CRC32C paths behind
 * rc_crc32c(), exposed so that tests can check they agree. Same contract as
 * rc_crc32c: start with crc = 0, feed the result back to continue.
 */
#ifndef CAIRN_RAFTCORE_CRC32C_H
#define CAIRN_RAFTCORE_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The portable table-driven path, whatever the CPU. */
uint32_t rc_crc32c_soft(uint32_t crc, const void *data, size_t len);

/* True when rc_crc32c() uses the CPU's crc32 instruction. */
bool rc_crc32c_hw(void);

#endif
