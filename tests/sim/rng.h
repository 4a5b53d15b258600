/*
 * Deterministic randomness for the simulator: splitmix64 to expand a seed,
 * xoshiro256** for the streams. Never rand() or time(): a run is a pure
 * function of its 64-bit seed.
 *
 * The simulator keeps one stream per concern (swarm config, network, disk,
 * faults, clients), so switching one feature on or off in a seed does not
 * reshuffle the choices of the others.
 */
#ifndef CAIRN_SIM_RNG_H
#define CAIRN_SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct rng {
	uint64_t s[4];
};

static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* stream separates several generators drawn from one seed. */
static inline void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n); n > 0. The modulo bias is irrelevant here. */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

/* Uniform in [lo, hi], inclusive. */
static inline uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + rng_below(r, hi - lo + 1);
}

/* True with probability ppm / 1,000,000 (integers keep it exact). */
static inline bool rng_ppm(struct rng *r, uint32_t ppm)
{
	return ppm && rng_below(r, 1000000) < ppm;
}

/* True with probability 1/2. */
static inline bool rng_coin(struct rng *r)
{
	return (rng_next(r) >> 63) != 0;
}

#endif
