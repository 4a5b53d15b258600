/*
 * Messages for raftcore's error codes and names for its roles. The messages
 * come from the RC_ERRORS table in raftcore.h, so codes and messages cannot
 * drift apart. Returned strings are static: never freed, never changed.
 */
#include "raftcore.h"

static const char *const messages[RC_ERROR_COUNT] = {
#define RC_ERR_MSG(code, msg) [code] = msg,
    RC_ERRORS(RC_ERR_MSG)
#undef RC_ERR_MSG
};

/* rv is 0 or a negated code, as raftcore functions return them. */
const char *rc_strerror(int rv)
{
	if (rv > 0 || rv <= -RC_ERROR_COUNT)
		return "unknown error";
	return messages[-rv];
}

const char *rc_role_name(enum rc_role role)
{
	switch (role) {
	case RC_FOLLOWER:
		return "follower";
	case RC_PRECANDIDATE:
		return "precandidate";
	case RC_CANDIDATE:
		return "candidate";
	case RC_LEADER:
		return "leader";
	}
	return "unknown";
}
