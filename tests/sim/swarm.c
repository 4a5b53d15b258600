/*
 * Swarm testing: each seed switches features on or off and picks their
 * rates, so that some seeds hammer one fault hard instead of every seed
 * sprinkling a little of everything (Groce et al., "Swarm Testing", 2012).
 * The choices come from their own stream of the seed, so the rest of the run
 * (network, disk, faults, clients) does not depend on how they are drawn.
 */
#include <string.h>

#include "sim.h"

static uint32_t pick(struct rng *r, const uint32_t *v, size_t n)
{
	return v[rng_below(r, n)];
}
#define PICK(r, ...)                               \
	pick((r), (const uint32_t[]){__VA_ARGS__}, \
	     sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

static uint32_t range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return (uint32_t)rng_range(r, lo, hi);
}

void swarm_pick(struct swarm *sw, uint64_t seed)
{
	struct rng rr, *r = &rr;
	rng_seed(r, seed, 1);
	memset(sw, 0, sizeof(*sw));
	sw->n_nodes = PICK(r, 1, 3, 3, 3, 3, 5, 5, 5, 5);

	sw->et = range(r, 60, 250);
	sw->hb = range(r, sw->et / 10, sw->et / 3);
	if (sw->hb < 5)
		sw->hb = 5;
	sw->max_ents = PICK(r, 1, 1, 2, 3, 8, 64);
	sw->max_bytes = PICK(r, 16, 64, 256, 4096, 1u << 20);
	sw->max_inflight = PICK(r, 1, 2, 4, 16);
	sw->chunk = PICK(r, 16, 64, 200, 1024, 65536);
	sw->trailing = PICK(r, 0, 1, 5, 50);
	sw->prevote = rng_below(r, 10) < 7;
	sw->tick_min = range(r, 1, 5);
	sw->tick_max = sw->tick_min + range(r, 0, sw->et / 10);

	sw->loss_ppm = rng_coin(r) ? 0 : range(r, 1000, 200000);
	sw->dup_ppm = rng_coin(r) ? 0 : range(r, 1000, 150000);
	sw->delay_min = range(r, 0, 3);
	sw->delay_max = sw->delay_min + range(r, 0, sw->et / 5);
	sw->long_ppm = rng_coin(r) ? 0 : range(r, 1000, 30000);
	sw->long_max = range(r, sw->et, 8 * sw->et);
	sw->wire = rng_below(r, 4) != 0;

	sw->fsync_min = range(r, 0, 3);
	sw->fsync_max = sw->fsync_min + PICK(r, 0, 2, 10, 40);
	sw->torn = rng_coin(r);
	sw->compact = rng_below(r, 5) != 0;

	sw->partitions = rng_coin(r);
	sw->crashes = rng_coin(r);
	sw->pauses = rng_below(r, 3) == 0;
	sw->membership = rng_coin(r);
	sw->snapshots = rng_below(r, 10) < 7;
	sw->transfers = rng_below(r, 3) == 0;
	sw->churn = rng_below(r, 4) == 0;
	sw->nem_min = range(r, sw->et / 2, 2 * sw->et);
	sw->nem_max = sw->nem_min * range(r, 2, 4);
	sw->fault_min = sw->et / 2;
	sw->fault_max = sw->et * range(r, 4, 12);

	/* Without snapshots a node added late replays the whole log; keep the
	 * log within what a slow configuration replicates in the 30 s the
	 * final convergence allows. */
	sw->write_every = rng_below(r, 10) == 0 ? 0 : range(r, sw->snapshots ? 3 : 10, 50);
	sw->read_every = rng_below(r, 10) == 0 ? 0 : range(r, 2, 50);
	sw->nkeys = range(r, 1, KV_MAX_KEYS);
	sw->pad_max = PICK(r, 0, 8, 64, 300);
	sw->snap_every = range(r, 3, 50);
	sw->snap_pad = PICK(r, 0, 0, 100, 2000);
	sw->chaos_ms = range(r, 4000, 20000);
	/* A 2 KB snapshot in 16-byte chunks takes 140 round trips per transfer,
	 * restarted at every newer snapshot: too slow to converge in 30 s. */
	if (sw->chunk < 200 && sw->snap_pad > 100)
		sw->snap_pad = 100;
}

void swarm_print(const struct swarm *sw, FILE *f)
{
	fprintf(f,
		"swarm: nodes=%u et=%u hb=%u ents=%u bytes=%u inflight=%u chunk=%u trailing=%u "
		"prevote=%d tick=%u..%u\n"
		"swarm: loss=%u dup=%u delay=%u..%u long=%u/%u wire=%d fsync=%u..%u torn=%d "
		"compact=%d\n"
		"swarm: partitions=%d crashes=%d pauses=%d membership=%d snapshots=%d "
		"transfers=%d churn=%d nemesis=%u..%u faults=%u..%u\n"
		"swarm: write_every=%u read_every=%u keys=%u pad=%u snap_every=%u snap_pad=%u "
		"chaos=%ums\n",
		sw->n_nodes, sw->et, sw->hb, sw->max_ents, sw->max_bytes, sw->max_inflight,
		sw->chunk, sw->trailing, sw->prevote, sw->tick_min, sw->tick_max, sw->loss_ppm,
		sw->dup_ppm, sw->delay_min, sw->delay_max, sw->long_ppm, sw->long_max, sw->wire,
		sw->fsync_min, sw->fsync_max, sw->torn, sw->compact, sw->partitions, sw->crashes,
		sw->pauses, sw->membership, sw->snapshots, sw->transfers, sw->churn, sw->nem_min,
		sw->nem_max, sw->fault_min, sw->fault_max, sw->write_every, sw->read_every,
		sw->nkeys, sw->pad_max, sw->snap_every, sw->snap_pad, sw->chaos_ms);
}
