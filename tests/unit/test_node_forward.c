/*
 * Forwarded writes: a follower's answer to its client comes only from the
 * ack of the node it forwarded the write to, for the id it gave it in this
 * run of the node (server/node_client.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node_internal.h"

struct answer {
	int calls;
	enum api_status status;
};

static void on_done(void *arg, const struct cmd_result *res, const struct api_meta *meta)
{
	(void)meta;
	struct answer *a = arg;
	a->calls++;
	a->status = res->status;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* FRAME_FORWARD_ACK: [u64 id][u8 status][u64 index][u64 term]. */
static void ack(uint8_t out[25], uint64_t id, enum api_status st, uint64_t index, uint64_t term)
{
	memset(out, 0, 25);
	put_u64(out, id);
	out[8] = (uint8_t)st;
	put_u64(out + 9, index);
	put_u64(out + 17, term);
}

static struct request *forwarded_write(struct node *n, uint64_t id, rc_id to, struct answer *a)
{
	struct request *rq = calloc(1, sizeof(*rq));
	assert_non_null(rq);
	rq->id = id;
	rq->fwd_to = to;
	rq->cdone = on_done;
	rq->arg = a;
	req_list_push(&n->forwarded, rq);
	return rq;
}

static void an_ack_from_another_node_does_not_answer_the_write(void **state)
{
	(void)state;
	struct node *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	struct answer a = {0};
	forwarded_write(n, 37, 2, &a);
	uint8_t p[25];
	/* Node 3 (the leader before a restart of ours) still had an ack for
	 * id 37 queued: it is about another write. */
	ack(p, 37, API_NO_LEADER, 0, 0);
	node_on_forward_ack(n, 3, p, sizeof(p));
	assert_int_equal(a.calls, 0);
	assert_int_equal(n->forwarded.n, 1);
	/* The node it went to answers it. */
	node_on_forward_ack(n, 2, p, sizeof(p));
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, API_NO_LEADER);
	assert_int_equal(n->forwarded.n, 0);
	free(n->forwarded.v);
	free(n);
}

static void an_ok_ack_waits_for_the_entry_to_apply(void **state)
{
	(void)state;
	struct node *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	struct answer a = {0};
	struct request *rq = forwarded_write(n, 9, 2, &a);
	uint8_t p[25];
	ack(p, 9, API_OK, 41, 5);
	node_on_forward_ack(n, 2, p, sizeof(p));
	assert_int_equal(a.calls, 0);
	assert_int_equal(n->proposed.n, 1);
	assert_ptr_equal(n->proposed.v[0], rq);
	assert_int_equal(rq->index, 41);
	assert_int_equal(rq->term, 5);
	req_free(rq);
	free(n->proposed.v);
	free(n->forwarded.v);
	free(n);
}

static void request_ids_start_somewhere_new_on_every_boot(void **state)
{
	(void)state;
	uint64_t a = node_boot_nonce(), b = node_boot_nonce();
	assert_true(a != b);
	assert_true(a >> 63 == 0 && b >> 63 == 0); /* room to count up without wrapping */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(an_ack_from_another_node_does_not_answer_the_write),
	    cmocka_unit_test(an_ok_ack_waits_for_the_entry_to_apply),
	    cmocka_unit_test(request_ids_start_somewhere_new_on_every_boot),
	};
	return cmocka_run_group_tests_name("node_forward", tests, NULL, NULL);
}
