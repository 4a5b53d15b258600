/*
 * st_faultio: a sysio that passes every call to another one, except that
 * it fails the Nth call of chosen kinds (SQLite's I/O-error loop): with an
 * errno of the test's choosing, or as a short write followed by that
 * error. Tests step N upwards until the operation completes without the
 * fault firing. One global instance.
 */
#ifndef CAIRN_ST_FAULTIO_H
#define CAIRN_ST_FAULTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "sysio.h"

enum {
	FAULT_WRITE = 1 << 0,
	FAULT_FSYNC = 1 << 1, /* fsync and fdatasync */
	FAULT_RENAME = 1 << 2,
	FAULT_FTRUNCATE = 1 << 3,
	FAULT_FALLOCATE = 1 << 4,
	FAULT_UNLINK = 1 << 5,
	FAULT_OPEN = 1 << 6,
	FAULT_ALL = (1 << 7) - 1,
};

/* Wraps under (borrowed). Disarmed. */
const struct sysio *faultio_wrap(const struct sysio *under);
/* Fails the nth (1-based) call among kinds from now on with err; with
 * short_write a write first writes half its bytes and returns that. */
void faultio_arm(unsigned kinds, uint64_t nth, int err, bool short_write);
/* No more faults; faultio_fired and faultio_seen keep their values. */
void faultio_disarm(void);
/* Whether the armed fault happened since faultio_arm. */
bool faultio_fired(void);
/* Calls among the armed kinds seen since faultio_arm. */
uint64_t faultio_seen(void);

#endif
